#include <catch2/catch.hpp>

#include "octet/core/parallel.hpp"
#include "octet/kernels/matmul.hpp"
#include "spatial_test_util.hpp"

using namespace octet;
using namespace octet::kernels;
using octet::test::random_vec;
using octet::test::require_close;

TEST_CASE("matmul shapes follow numpy, including 1-D promotion and broadcasting") {
  const MatMulParams p;
  CHECK(matmul_shape(p, {2, 3}, {3, 4}) == Shape{2, 4});
  CHECK(matmul_shape(p, {3}, {3, 4}) == Shape{4});
  CHECK(matmul_shape(p, {2, 3}, {3}) == Shape{2});
  CHECK(matmul_shape(p, {3}, {3}) == Shape{});
  CHECK(matmul_shape(p, {5, 1, 2, 3}, {4, 3, 6}) == Shape{5, 4, 2, 6});
  CHECK(matmul_shape(p, {3}, {7, 3, 2}) == Shape{7, 2});
  CHECK(matmul_shape(p, {7, 2, 3}, {3}) == Shape{7, 2});
  CHECK(matmul_shape({true, false}, {3, 2}, {3, 4}) == Shape{2, 4});
  CHECK(matmul_shape({false, true}, {2, 3}, {4, 3}) == Shape{2, 4});
  CHECK_THROWS_AS(matmul_shape(p, {2, 3}, {4, 5}), ShapeError);
  CHECK_THROWS_AS(matmul_shape(p, {2, 2, 3}, {3, 3, 4}), ShapeError);
  CHECK_THROWS_AS(matmul_shape(p, {}, {3}), ShapeError);
}

TEST_CASE("matmul hand-computed batch broadcast and vector cases") {
  const MatMulParams p;
  // a: [2,1,2] two 1x2 rows; b: [2,2] shared -> out [2,1,2]
  const std::vector<float> a{1, 2, 3, 4}, b{1, 0, 1, 1};
  std::vector<float> out(4);
  matmul(p, {2, 1, 2}, a.data(), {2, 2}, b.data(), out.data());
  CHECK(out == std::vector<float>{3, 2, 7, 4});
  // dot product of two vectors
  std::vector<float> dot(1);
  matmul(p, {4}, a.data(), {4}, a.data(), dot.data());
  CHECK(dot[0] == 30);
  // matrix x vector
  std::vector<float> mv(2);
  matmul(p, {2, 2}, b.data(), {2}, a.data(), mv.data());
  CHECK(mv == std::vector<float>{1, 3});
  // transpose_a: [[1,3],[2,4]] x b
  matmul({true, false}, {2, 2}, a.data(), {2, 2}, b.data(), out.data());
  CHECK(out == std::vector<float>{4, 3, 6, 4});
}

TEST_CASE("matmul matches reference on random broadcast shapes") {
  std::mt19937 gen(5);
  auto r = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen); };
  for (int iter = 0; iter < 120; ++iter) {
    const MatMulParams p{r(0, 1) == 1, r(0, 1) == 1};
    const int64_t M = r(1, 9), N = r(1, 9), K = r(1, 12);
    Shape a, b;
    const int ra = r(1, 4), rb = r(1, 4);
    const int nb = std::max(ra, rb) - 2;
    Shape batch;
    for (int i = 0; i < std::max(nb, 0); ++i) batch.push_back(r(1, 3));
    auto batch_of = [&](int rank) {
      Shape s;
      for (int i = 0; i < rank - 2; ++i) {
        const int64_t d = batch[static_cast<size_t>(nb - (rank - 2) + i)];
        s.push_back(r(0, 2) == 0 ? 1 : d);
      }
      return s;
    };
    if (ra == 1) a = {K};
    else { a = batch_of(ra); a.push_back(p.transpose_a ? K : M); a.push_back(p.transpose_a ? M : K); }
    if (rb == 1) b = {K};
    else { b = batch_of(rb); b.push_back(p.transpose_b ? N : K); b.push_back(p.transpose_b ? K : N); }
    const Shape os = matmul_shape(p, a, b);
    auto av = random_vec(shape_count(a), 10 + iter), bv = random_vec(shape_count(b), 20 + iter);
    std::vector<float> want(static_cast<size_t>(shape_count(os))), got(want.size(), -9.f);
    reference::matmul(p, a, av.data(), b, bv.data(), want.data());
    set_num_threads(r(1, 2));
    matmul(p, a, av.data(), b, bv.data(), got.data());
    set_num_threads(1);
    INFO(shape_str(a) << " x " << shape_str(b) << " ta " << p.transpose_a << " tb " << p.transpose_b);
    require_close(got, want, 1e-4f);
  }
}
