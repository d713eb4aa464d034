// Full-size (2048 / dyadic 4096-bin) KL-family curves against the plain O(N^2 L) reference on
// sampled gaussian and post-ReLU data: the fast prefix-sum KL must agree candidate by candidate.
#include <catch2/catch.hpp>

#include <random>
#include <vector>

#include "kl_reference.hpp"
#include "octet/calib/threshold.hpp"

using namespace octet::calib;

TEST_CASE("KL family at full size equals the reference, Mode A and Mode B views") {
  std::mt19937_64 rng(21);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> x(200000);
  for (auto& v : x) v = g(rng);
  std::vector<float> relu = x;
  for (auto& v : relu) v = v < 0 ? 0.0f : v;
  for (const auto* data : {&x, &relu}) {
    auto a = TensorStats::two_pass(2048);
    a.pass1(*data);
    a.begin_pass2();
    a.pass2(*data);
    auto b = TensorStats::dyadic(1024);  // up to 2048 occupied bins
    b.update(*data);
    for (const TensorStats* t : {&a, &b}) {
      const auto v = view(*t);
      const std::vector<std::uint64_t> h(v.h.begin(), v.h.end());
      for (ThMethod m : {ThMethod::KL, ThMethod::JSD}) {
        const auto fast = kl_family_curve(m, v);
        const auto ref = ref_curve(m, h, 128, 128);
        REQUIRE(fast.size() == ref.size());
        std::size_t fa = 0, ra = 0;
        for (std::size_t i = 0; i < fast.size(); ++i) {
          if (std::isinf(ref[i])) {
            REQUIRE(std::isinf(fast[i]));
          } else {
            REQUIRE(fast[i] == Approx(ref[i]).epsilon(1e-8).margin(1e-12));
          }
          if (fast[i] < fast[fa]) fa = i;
          if (ref[i] < ref[ra]) ra = i;
        }
        REQUIRE(fa == ra);
      }
    }
  }
}
