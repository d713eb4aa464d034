#include <catch2/catch.hpp>

#include <cmath>

#include "octet/core/parallel.hpp"
#include "octet/kernels/gemm.hpp"
#include "spatial_test_util.hpp"

using namespace octet;
using namespace octet::kernels;
using octet::test::random_vec;
using octet::test::require_close;

TEST_CASE("gemm hand-computed 2x3 x 3x2 with alpha, beta and transposes") {
  const std::vector<float> a{1, 2, 3, 4, 5, 6};      // [2,3]
  const std::vector<float> b{7, 8, 9, 10, 11, 12};   // [3,2]
  std::vector<float> c{1, 1, 1, 1};
  gemm(false, false, 2, 2, 3, 1.f, a.data(), 3, b.data(), 2, 0.f, c.data(), 2);
  CHECK(c == std::vector<float>{58, 64, 139, 154});
  gemm(false, false, 2, 2, 3, 2.f, a.data(), 3, b.data(), 2, 1.f, c.data(), 2);
  CHECK(c == std::vector<float>{174, 192, 417, 462});
  const std::vector<float> at{1, 4, 2, 5, 3, 6};     // a^T stored [3,2]
  const std::vector<float> bt{7, 9, 11, 8, 10, 12};  // b^T stored [2,3]
  gemm(true, true, 2, 2, 3, 1.f, at.data(), 2, bt.data(), 3, 0.f, c.data(), 2);
  CHECK(c == std::vector<float>{58, 64, 139, 154});
  // beta = 0 never reads C, even when it holds NaN.
  c.assign(4, std::nanf(""));
  gemm(false, true, 2, 2, 3, 1.f, a.data(), 3, bt.data(), 3, 0.f, c.data(), 2);
  CHECK(c == std::vector<float>{58, 64, 139, 154});
  // K == 0: C = beta * C.
  c = {1, 2, 3, 4};
  gemm(false, false, 2, 2, 0, 1.f, a.data(), 3, b.data(), 2, 0.5f, c.data(), 2);
  CHECK(c == std::vector<float>{0.5f, 1, 1.5f, 2});
}

TEST_CASE("gemm and gemm_parallel match the reference with strides and transposes") {
  std::mt19937 gen(1);
  auto r = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen); };
  for (int iter = 0; iter < 60; ++iter) {
    const int64_t M = r(1, 70), N = r(1, 90), K = r(1, 50);
    const bool ta = r(0, 1), tb = r(0, 1);
    const int64_t lda = (ta ? M : K) + r(0, 3), ldb = (tb ? K : N) + r(0, 3), ldc = N + r(0, 3);
    auto a = random_vec((ta ? K : M) * lda, 10 + iter), b = random_vec((tb ? N : K) * ldb, 20 + iter);
    auto c0 = random_vec(M * ldc, 30 + iter);
    const float alpha = r(0, 1) ? 1.f : 0.7f, beta = static_cast<float>(r(0, 2)) * 0.5f;
    auto want = c0, got = c0;
    reference::gemm(ta, tb, M, N, K, alpha, a.data(), lda, b.data(), ldb, beta, want.data(), ldc);
    set_num_threads(r(1, 2));
    if (r(0, 1)) gemm(ta, tb, M, N, K, alpha, a.data(), lda, b.data(), ldb, beta, got.data(), ldc);
    else gemm_parallel(ta, tb, M, N, K, alpha, a.data(), lda, b.data(), ldb, beta, got.data(), ldc);
    set_num_threads(1);
    INFO("M" << M << " N" << N << " K" << K << " ta" << ta << " tb" << tb);
    require_close(got, want, 1e-4f);
  }
  // Single row / single column (the GEMV paths), every transpose and beta.
  for (auto [M, N] : {std::pair<int64_t, int64_t>{1, 37}, {29, 1}, {1, 1}})
    for (int t = 0; t < 4; ++t)
      for (float beta : {0.f, 1.f, 0.5f}) {
        const bool ta = t & 1, tb = t & 2;
        const int64_t K = 23, lda = (ta ? M : K) + 2, ldb = (tb ? K : N) + 1, ldc = N + 3;
        auto a = random_vec((ta ? K : M) * lda, 3), b = random_vec((tb ? N : K) * ldb, 4);
        auto want = random_vec(M * ldc, 5), got = want;
        reference::gemm(ta, tb, M, N, K, 0.5f, a.data(), lda, b.data(), ldb, beta, want.data(), ldc);
        gemm(ta, tb, M, N, K, 0.5f, a.data(), lda, b.data(), ldb, beta, got.data(), ldc);
        INFO("M" << M << " N" << N << " ta" << ta << " tb" << tb << " beta " << beta);
        require_close(got, want, 1e-5f);
      }
  // Big enough that gemm_parallel really splits (rows, then columns).
  for (auto [M, N] : {std::pair<int64_t, int64_t>{256, 64}, {3, 2000}}) {
    const int64_t K = 300;
    auto a = random_vec(M * K, 1), b = random_vec(K * N, 2);
    std::vector<float> want(M * N), got(M * N);
    reference::gemm(false, false, M, N, K, 1.f, a.data(), K, b.data(), N, 0.f, want.data(), N);
    set_num_threads(2);
    gemm_parallel(false, false, M, N, K, 1.f, a.data(), K, b.data(), N, 0.f, got.data(), N);
    set_num_threads(1);
    require_close(got, want, 1e-4f);
  }
}
