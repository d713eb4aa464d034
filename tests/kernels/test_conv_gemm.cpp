// conv_gemm (packed-weight GEMM with bias + activation epilogue) against the reference GEMM, on
// shapes that hit every edge: M and N not multiples of the micro-tile, K spanning several
// K slices, threads splitting N tiles or M blocks.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "octet/core/parallel.hpp"
#include "octet/kernels/conv_gemm.hpp"
#include "octet/kernels/gemm.hpp"

using namespace octet;
using namespace octet::kernels;

namespace {
std::vector<float> rand_vec(size_t n, uint32_t seed) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}
}  // namespace

TEST_CASE("conv_gemm matches the reference GEMM with bias and activation") {
  if (!conv_gemm::kAvailable) SUCCEED("no AVX2/AVX-512 on this machine: conv uses gemm.hpp");
  if (!conv_gemm::kAvailable) return;
  struct Case {
    int64_t M, N, K;
  };
  const Case cases[] = {{1, 1, 1}, {8, 32, 9}, {7, 33, 27}, {17, 100, 300}, {64, 49, 600}, {3, 5, 513}, {24, 1000, 40}, {9, 80, 130},
                        {40, 700, 200}, {96, 49, 1200}};
  const FusedActivation acts[] = {FusedActivation::none(), FusedActivation::relu(), FusedActivation::relu(0.1f),
                                  FusedActivation::relu6(), FusedActivation::clip(-0.3f, 0.4f)};
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    for (const auto& c : cases)
      for (const auto& act : acts)
        for (bool with_bias : {false, true}) {
          INFO("M=" << c.M << " N=" << c.N << " K=" << c.K << " threads=" << threads << " act="
                    << static_cast<int>(act.kind) << " bias=" << with_bias);
          const auto A = rand_vec(static_cast<size_t>(c.M * c.K), 1);
          const auto B = rand_vec(static_cast<size_t>(c.K * c.N), 2);
          const auto bias = rand_vec(static_cast<size_t>(c.M), 3);
          std::vector<float> Ap(static_cast<size_t>(conv_gemm::packed_a_size(c.M, c.K)));
          conv_gemm::pack_a(c.M, c.K, A.data(), c.K, Ap.data());
          std::vector<float> C(static_cast<size_t>(c.M * c.N), NAN), R(C.size());
          conv_gemm::run(c.M, c.N, c.K, Ap.data(), B.data(), c.N, with_bias ? bias.data() : nullptr, C.data(), c.N,
                         act, true);
          reference::gemm(false, false, c.M, c.N, c.K, 1.f, A.data(), c.K, B.data(), c.N, 0.f, R.data(), c.N);
          for (int64_t m = 0; m < c.M; ++m)
            for (int64_t n = 0; n < c.N; ++n) {
              const float want = act(R[static_cast<size_t>(m * c.N + n)] + (with_bias ? bias[static_cast<size_t>(m)] : 0.f));
              const float got = C[static_cast<size_t>(m * c.N + n)];
              REQUIRE(std::abs(got - want) <= 1e-4f * (1.f + std::sqrt(static_cast<float>(c.K))));
            }
        }
  }
  set_num_threads(1);
}
