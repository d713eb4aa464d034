#include <catch2/catch.hpp>

#include "octet/core/parallel.hpp"
#include "octet/kernels/inner_product.hpp"
#include "spatial_test_util.hpp"

using namespace octet;
using namespace octet::kernels;
using octet::test::random_vec;
using octet::test::require_close;

TEST_CASE("inner_product hand-computed, both weight layouts, fused ReLU") {
  const std::vector<float> x{1, 2, 3, -1, 0, 1};          // M=2, K=3
  const std::vector<float> w{1, 0, -1, 2, 2, 2};          // N=2 rows of K
  const std::vector<float> wt{1, 2, 0, 2, -1, 2};         // the same, [K, N]
  const std::vector<float> b{0.5f, -20.f};
  std::vector<float> y(4);
  InnerProductParams p;
  inner_product(p, {2, 3, 2}, x.data(), w.data(), b.data(), y.data());
  CHECK(y == std::vector<float>{-1.5f, -8, -1.5f, -20});
  p.transpose = true;
  inner_product(p, {2, 3, 2}, x.data(), wt.data(), b.data(), y.data());
  CHECK(y == std::vector<float>{-1.5f, -8, -1.5f, -20});
  p.activation = FusedActivation::relu();
  inner_product(p, {2, 3, 2}, x.data(), wt.data(), static_cast<const float*>(nullptr), y.data());
  CHECK(y == std::vector<float>{0, 12, 0, 0});
  CHECK(inner_product_flops({2, 3, 2}) == 24);
}

TEST_CASE("inner_product matches reference") {
  const std::vector<InnerProductShape> shapes = {{1, 1, 1}, {1, 512, 1000}, {64, 37, 5}, {3, 100, 77}, {17, 1, 9}};
  uint32_t seed = 1;
  for (const auto& s : shapes)
    for (bool t : {false, true})
      for (int threads : {1, 2}) {
        InnerProductParams p;
        p.transpose = t;
        p.activation = seed % 3 == 0 ? FusedActivation::relu6() : FusedActivation::none();
        auto x = random_vec(s.M * s.K, seed), w = random_vec(s.N * s.K, seed + 1), b = random_vec(s.N, seed + 2);
        std::vector<float> want(s.M * s.N), got(want.size());
        const float* bias = seed % 2 ? b.data() : nullptr;
        reference::inner_product(p, s, x.data(), w.data(), bias, want.data());
        set_num_threads(threads);
        inner_product(p, s, x.data(), w.data(), bias, got.data());
        set_num_threads(1);
        INFO("M" << s.M << " K" << s.K << " N" << s.N << " transpose " << t);
        require_close(got, want, 1e-4f);
        ++seed;
      }
}
