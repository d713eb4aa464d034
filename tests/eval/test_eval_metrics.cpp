#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "octet/eval/metrics.hpp"

using octet::eval::PairStats;

TEST_CASE("metrics: hand-computed cosine, COS, MAPE, SQNR, max-abs") {
  // a = [3, 4, 0], b = [3, 3, 1]: Σab = 21, Σa² = 25, Σb² = 19, Σe² = 0 + 1 + 1 = 2.
  const std::vector<float> a{3, 4, 0}, b{3, 3, 1};
  PairStats s;
  s.add(a, b);
  REQUIRE(s.n == 3);
  CHECK(*s.cosine() == Approx(21.0 / std::sqrt(25.0 * 19.0)).epsilon(1e-15));
  CHECK(*s.cos_nntc() == Approx(0.5 + 0.5 * 21.0 / std::sqrt(475.0)).epsilon(1e-15));
  // Zero rule: the a == 0 element is skipped, so MAPE = 100 * (0/3 + 1/4) / 2 = 12.5.
  CHECK(*s.mape() == Approx(12.5).epsilon(1e-15));
  CHECK(*s.sqnr_db() == Approx(10.0 * std::log10(25.0 / 2.0)).epsilon(1e-15));
  CHECK(*s.max_abs() == 1.0);
  CHECK(s.ref_absmax == 4.0);
  CHECK(s.test_absmax == 3.0);
}

TEST_CASE("metrics: streaming over several spans equals one pass, merge equals add") {
  const std::vector<float> a{1, -2, 3, 0.5f, -7}, b{1.5f, -2, 2, 0.25f, -6};
  PairStats whole, parts, merged, other;
  whole.add(a, b);
  parts.add(std::span(a).first(2), std::span(b).first(2));
  parts.add(std::span(a).subspan(2), std::span(b).subspan(2));
  merged.add(std::span(a).first(3), std::span(b).first(3));
  other.add(std::span(a).subspan(3), std::span(b).subspan(3));
  merged.merge(other);
  for (const PairStats* p : {&parts, &merged}) {
    CHECK(p->n == whole.n);
    CHECK(*p->cosine() == Approx(*whole.cosine()).epsilon(1e-14));
    CHECK(*p->mape() == Approx(*whole.mape()).epsilon(1e-14));
    CHECK(*p->sqnr_db() == Approx(*whole.sqnr_db()).epsilon(1e-14));
    CHECK(*p->max_abs() == *whole.max_abs());
  }
}

TEST_CASE("metrics: identical tensors give cosine 1, MAPE 0, SQNR +inf") {
  const std::vector<float> a{1, 2, -3};
  PairStats s;
  s.add(a, a);
  CHECK(*s.cosine() == Approx(1.0).epsilon(1e-15));
  CHECK(*s.cos_nntc() == Approx(1.0).epsilon(1e-15));
  CHECK(*s.mape() == 0.0);
  CHECK(std::isinf(*s.sqnr_db()));
  CHECK(*s.max_abs() == 0.0);
}

TEST_CASE("metrics: opposite sign gives cosine -1 and COS 0") {
  const std::vector<float> a{1, 2}, b{-1, -2};
  PairStats s;
  s.add(a, b);
  CHECK(*s.cosine() == Approx(-1.0));
  CHECK(*s.cos_nntc() == Approx(0.0).margin(1e-15));
}

TEST_CASE("metrics: an all-zero reference leaves metrics undefined, never NaN") {
  const std::vector<float> zero{0, 0, 0}, b{0, 1, 0};
  PairStats s;
  s.add(zero, b);
  CHECK_FALSE(s.cosine().has_value());
  CHECK_FALSE(s.cos_nntc().has_value());
  CHECK_FALSE(s.mape().has_value());
  CHECK_FALSE(s.sqnr_db().has_value());
  CHECK(*s.max_abs() == 1.0);  // still defined: the int8 net produced a 1 where fp32 has 0
  PairStats empty;
  CHECK_FALSE(empty.max_abs().has_value());
  // An all-zero test tensor against a live reference: cosine undefined, SQNR 0 dB.
  PairStats t;
  t.add(b, zero);
  CHECK_FALSE(t.cosine().has_value());
  CHECK(*t.sqnr_db() == 0.0);
  CHECK(*t.mape() == 100.0);
}

TEST_CASE("metrics: saturation counts |x| > T only") {
  const std::vector<float> a{-2, -1, 0, 1, 1.5f, 2, 3};
  CHECK(octet::eval::count_saturated(a, 1.0) == 4);   // -2, 1.5, 2, 3
  CHECK(octet::eval::count_saturated(a, 2.0) == 1);   // 3 (|-2| == T is not clipped)
  CHECK(octet::eval::count_saturated(a, 3.0) == 0);
}

TEST_CASE("metrics: top-k with ties in the label's favour") {
  const std::vector<float> s{0.1f, 0.5f, 0.3f, 0.5f, 0.05f};
  CHECK(octet::eval::top_k_correct(s, 1, 1));   // tie with class 3: nobody strictly higher
  CHECK(octet::eval::top_k_correct(s, 3, 1));
  CHECK_FALSE(octet::eval::top_k_correct(s, 2, 1));  // two higher
  CHECK_FALSE(octet::eval::top_k_correct(s, 2, 2));
  CHECK(octet::eval::top_k_correct(s, 2, 3));
  CHECK_FALSE(octet::eval::top_k_correct(s, 4, 4));
  CHECK(octet::eval::top_k_correct(s, 4, 5));
  CHECK_FALSE(octet::eval::top_k_correct(s, 5, 5));   // label out of range
  CHECK_FALSE(octet::eval::top_k_correct(s, -1, 5));
}
