#include <catch2/catch.hpp>

#include "octet/core/parallel.hpp"
#include "octet/core/tensor.hpp"

using namespace octet;

TEST_CASE("owned tensor has shape, count and fill") {
  Tensor<float> t({2, 3, 4}, 1.5f);
  CHECK(t.size() == 24);
  CHECK(t.rank() == 3);
  CHECK(t.dim(-1) == 4);
  CHECK(t[23] == 1.5f);
  CHECK(t.owns());
}

TEST_CASE("view shares memory and copies of views stay views") {
  std::vector<int> buf(6, 0);
  auto v = Tensor<int>::view(buf.data(), {2, 3});
  v[4] = 7;
  CHECK(buf[4] == 7);
  Tensor<int> c = v;
  CHECK(c.data() == buf.data());
  CHECK_FALSE(c.owns());
  CHECK_THROWS_AS(v.reshape({4, 4}), ShapeError);
}

TEST_CASE("copy of an owned tensor is deep, move keeps the buffer") {
  Tensor<float> a({3}, 2.f);
  Tensor<float> b = a;
  b[0] = 9.f;
  CHECK(a[0] == 2.f);
  const float* p = b.data();
  Tensor<float> m = std::move(b);
  CHECK(m.data() == p);
  CHECK(m[0] == 9.f);
}

TEST_CASE("reinterpret keeps count, canonical_axis resolves negatives") {
  Tensor<float> t({2, 6});
  t.reinterpret({3, 4});
  CHECK(t.shape() == Shape{3, 4});
  CHECK_THROWS_AS(t.reinterpret({5}), ShapeError);
  CHECK(canonical_axis(-1, 4) == 3);
  CHECK_THROWS_AS(canonical_axis(4, 4), ShapeError);
}

TEST_CASE("parallel_for visits every index once with several threads") {
  set_num_threads(2);
  std::vector<int> hits(1000, 0);
  parallel_for(0, 1000, [&](int64_t i) { hits[static_cast<size_t>(i)] += 1; });
  set_num_threads(1);
  for (int h : hits) CHECK(h == 1);
}
