// calib/threshold.hpp: every -th_method on hand-built and sampled histograms with known
// answers; the O(N*L) KL against a plain per-bin reference; determinism; §10 pitfalls.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "octet/calib/threshold.hpp"
#include "kl_reference.hpp"

using namespace octet::calib;

namespace {

struct Owned {
  std::vector<std::uint64_t> h;
  HistogramView v;
};

Owned make(std::vector<std::uint64_t> h, double w, std::uint64_t z = 0, double absmax = -1) {
  Owned o{std::move(h), {}};
  o.v.h = o.h;
  o.v.w = w;
  o.v.z = z;
  std::uint64_t s = 0;
  std::size_t last = 0;
  for (std::size_t k = 0; k < o.h.size(); ++k) {
    s += o.h[k];
    if (o.h[k]) last = k;
  }
  o.v.n = s + z;
  o.v.absmax = absmax >= 0 ? absmax : (s ? static_cast<double>(last + 1) * w : 0.0);
  o.v.max = o.v.absmax;
  o.v.min = -o.v.absmax;
  return o;
}

TensorStats collect(const std::vector<float>& x, int binnum = 2048) {
  auto t = TensorStats::two_pass(binnum);
  t.pass1(x);
  t.begin_pass2();
  t.pass2(x);
  return t;
}

std::vector<float> gaussian(std::size_t n, float sigma, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.0f, sigma);
  std::vector<float> x(n);
  for (auto& v : x) v = g(rng);
  return x;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

}  // namespace

TEST_CASE("ThMethod: NNTC names parse; unknown names list the valid ones") {
  const char* names[] = {"KL", "SYMKL", "JSD", "ADMM", "ACIQ", "MAX", "PERCENTILE9999", "MSE"};
  for (int i = 0; i < 8; ++i) {
    REQUIRE(parse_th_method(names[i]) == static_cast<ThMethod>(i));
    REQUIRE(to_string(static_cast<ThMethod>(i)) == names[i]);
  }
  try {
    parse_th_method("kl");
    FAIL("accepted lower case");
  } catch (const octet::UsageError& e) {
    const std::string w = e.what();
    REQUIRE(w.find("-th_method") != std::string::npos);
    REQUIRE(w.find("'kl'") != std::string::npos);
    for (auto n : names) REQUIRE(w.find(n) != std::string::npos);
  }
  REQUIRE_THROWS_AS(parse_th_method("ENTROPY"), octet::UsageError);
}

TEST_CASE("KL: the O(N*L) prefix-sum search equals the plain per-bin reference") {
  std::mt19937_64 rng(3);
  for (int N : {128, 200, 300, 512}) {
    for (int trial = 0; trial < 3; ++trial) {
      std::vector<std::uint64_t> h(static_cast<std::size_t>(N));
      std::exponential_distribution<double> ex(1.0);
      for (int k = 0; k < N; ++k) {
        // decaying density with holes (empty bins) and a sparse tail
        const double lam = 5000.0 * std::exp(-6.0 * k / N);
        h[static_cast<std::size_t>(k)] = (rng() % 7 == 0) ? 0 : static_cast<std::uint64_t>(lam * ex(rng));
      }
      if (trial == 1) h[static_cast<std::size_t>(N - 1)] = 0;  // folded last bin masked only by P
      if (trial == 2) h[0] = 1000000;                           // spike in the first bin
      auto o = make(h, 0.01);
      for (ThMethod m : {ThMethod::KL, ThMethod::SYMKL, ThMethod::JSD}) {
        INFO("N=" << N << " trial=" << trial << " method=" << to_string(m));
        const auto fast = kl_family_curve(m, o.v);
        const auto ref = ref_curve(m, h, 128, 128);
        REQUIRE(fast.size() == ref.size());
        REQUIRE(fast.size() == static_cast<std::size_t>(N - 128 + 1));  // i = 128..N inclusive (§10.4)
        std::size_t fa = 0, ra = 0;
        for (std::size_t i = 0; i < fast.size(); ++i) {
          if (std::isinf(ref[i])) {
            REQUIRE(std::isinf(fast[i]));
          } else {
            REQUIRE(fast[i] == Approx(ref[i]).epsilon(1e-9).margin(1e-12));
          }
          if (fast[i] < fast[fa]) fa = i;
          if (ref[i] < ref[ra]) ra = i;
        }
        REQUIRE(fa == ra);
        const auto r = threshold_kl_family(m, o.v);
        REQUIRE(r.bin == 128 + fa);
        REQUIRE(r.threshold == Approx(std::min(static_cast<double>(r.bin) * 0.01, o.v.absmax)).epsilon(1e-15));
      }
    }
  }
}

TEST_CASE("KL: a candidate with P > 0 = Q is +inf and skipped") {
  // 256 bins: mass only in bins 0..9 and one outlier far out; for i where the last group has
  // no in-range mass but the folded bin i-1 has P > 0, the divergence is infinite.
  std::vector<std::uint64_t> h(256, 0);
  for (int k = 0; k < 10; ++k) h[static_cast<std::size_t>(k)] = 100;
  h[255] = 1;
  auto o = make(h, 1.0);
  const auto c = kl_family_curve(ThMethod::KL, o.v);
  REQUIRE(std::isinf(c[0]));  // i = 128: outlier folded into empty bin 127, group 127 has no mass
  const auto r = threshold_kl(o.v);
  REQUIRE(std::isfinite(r.score));
  REQUIRE(r.bin == 256);  // only the no-clip candidate is finite
}

TEST_CASE("KL: uniform data keeps (nearly) the whole range; exact uniform picks i = N") {
  std::vector<std::uint64_t> h(2048, 1000);
  auto o = make(h, 1.0 / 512);  // absmax 4
  auto r = threshold_kl(o.v);
  REQUIRE(r.bin == 2048);  // D = 0 only for the no-clip candidate
  REQUIRE(r.threshold == 4.0);
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<float> u(-3.0f, 3.0f);
  std::vector<float> x(2000000);
  for (auto& v : x) v = u(rng);
  auto t = collect(x);
  auto rk = threshold_kl(view(t));
  REQUIRE(rk.threshold >= 0.95 * t.range.absmax);
  REQUIRE(rk.threshold <= t.range.absmax);
}

TEST_CASE("Gaussian samples: KL, ACIQ, MSE, ADMM, PERCENTILE land in the expected ranges") {
  const float sigma = 2.0f;
  auto x = gaussian(2000000, sigma, 1);
  auto t = collect(x);
  auto v = view(t);
  const double absmax = t.range.absmax;  // ~5.3 sigma for 2e6 samples
  REQUIRE(absmax / sigma > 4.5);
  auto kl = threshold_kl(v);
  INFO("KL T/sigma = " << kl.threshold / sigma << ", T/absmax = " << kl.threshold / absmax);
  // Octet KL (no epsilon, P-mask, no-clip candidate) keeps most of a sampled gaussian's range:
  // the sparse tail costs little KL. Measured 0.83-0.96 of absmax for 1e5..1e7 samples.
  REQUIRE(kl.threshold / absmax > 0.75);
  REQUIRE(kl.threshold / absmax < 0.99);
  REQUIRE(kl.threshold / sigma > 3.5);
  ThresholdOptions og;
  og.aciq_force = AciqDist::gaussian;
  auto ag = threshold_aciq(v, og);
  INFO("ACIQ gauss T/sigma = " << ag.threshold / sigma);
  // sigma from the range formula with n = 2e6 is close to the true sigma
  REQUIRE(ag.threshold / sigma > 3.4);
  REQUIRE(ag.threshold / sigma < 4.4);
  auto a = threshold_aciq(v);
  INFO(a.note);
  REQUIRE(a.aciq == AciqDist::gaussian);  // gaussian data: gaussian predicts the lower error
  auto mse = threshold_mse(v);
  INFO("MSE T/sigma = " << mse.threshold / sigma);
  REQUIRE(mse.threshold / sigma > 3.0);
  REQUIRE(mse.threshold / sigma < 5.0);
  REQUIRE(grid_mse(v, mse.threshold) <= grid_mse(v, absmax));
  auto admm = threshold_admm(v);
  INFO("ADMM T/sigma = " << admm.threshold / sigma << " after " << admm.iterations);
  REQUIRE(admm.threshold / sigma > 2.0);
  REQUIRE(admm.threshold <= absmax);
  auto pc = threshold_percentile(v);
  // 99.99th percentile of |N(0,1)| is 3.89 sigma
  REQUIRE(pc.threshold / sigma == Approx(3.8906).epsilon(0.01));
  auto mx = threshold_max(v);
  REQUIRE(mx.threshold == absmax);
}

TEST_CASE("ACIQ constants: alpha*/sigma and alpha*/b for 2..8 bits") {
  REQUIRE(aciq_gauss_k(8) == Approx(3.92404).margin(2e-5));
  REQUIRE(aciq_laplace_k(8) == Approx(9.89676).margin(2e-5));
  const double g[] = {1.71, 2.15, 2.56, 2.94, 3.29, 3.62};
  const double l[] = {2.83, 3.90, 5.03, 6.20, 7.41, 8.65};
  for (int bits = 2; bits <= 7; ++bits) {
    REQUIRE(aciq_gauss_k(bits) == Approx(g[bits - 2]).margin(0.006));
    REQUIRE(aciq_laplace_k(bits) == Approx(l[bits - 2]).margin(0.006));
  }
  // fed the exact sigma (here via max-min chosen to give sigma = 1.5), 8-bit alpha = 3.924 sigma
  const double n = 1e6;
  const double range = 1.5 * std::sqrt(2 * std::log(n)) / (0.5 * 0.35 * (1 + std::sqrt(M_PI * std::log(4.0))));
  REQUIRE(aciq_gauss_sigma(-range / 2, range / 2, n) == Approx(1.5).epsilon(1e-12));
  std::vector<std::uint64_t> h(2048, 1);
  auto o = make(h, range / 2 / 2048);
  o.v.n = static_cast<std::uint64_t>(n);
  ThresholdOptions opt;
  opt.aciq_force = AciqDist::gaussian;
  REQUIRE(threshold_aciq(o.v, opt).threshold == Approx(3.92404 * 1.5).margin(1e-4));
  // Laplace b from the histogram: mean |x| over n (zeros included), bin centres
  auto lb = make({0, 4, 0, 4}, 1.0, 8);  // centres 1.5 and 3.5, 4 each, 8 zeros: b = 20/16
  REQUIRE(aciq_laplace_b(lb.v) == 1.25);
  opt.aciq_force = AciqDist::laplace;
  lb.v.absmax = 100;  // so the cap does not bite
  REQUIRE(threshold_aciq(lb.v, opt).threshold == Approx(9.89676 * 1.25).margin(1e-4));
  // per-sample n (ncnn) gives a larger sigma than the whole-set n
  opt.aciq_force = AciqDist::gaussian;
  auto whole = threshold_aciq(o.v, opt);
  opt.aciq_gauss_n = 1000;
  o.v.absmax = 1e9;
  REQUIRE(threshold_aciq(o.v, opt).threshold > whole.threshold);
}

TEST_CASE("Laplace samples: ACIQ laplace T ~ 9.9 b") {
  std::mt19937_64 rng(4);
  std::exponential_distribution<float> e(1.0f);
  std::vector<float> x(1000000);
  for (auto& v : x) v = (rng() & 1 ? 1.0f : -1.0f) * 0.5f * e(rng);  // b = 0.5
  auto t = collect(x);
  ThresholdOptions o;
  o.aciq_force = AciqDist::laplace;
  auto r = threshold_aciq(view(t), o);
  REQUIRE(r.threshold / 0.5 == Approx(9.897).epsilon(0.02));
}

TEST_CASE("Spike + long tail: PERCENTILE cuts the tail, MAX keeps it, KL clips it") {
  std::vector<float> x;
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<float> spike(0.9f, 1.1f), tail(2.0f, 100.0f);
  for (int i = 0; i < 1000000; ++i) x.push_back(spike(rng));
  for (int i = 0; i < 50; ++i) x.push_back(tail(rng));
  x.push_back(100.0f);
  auto t = collect(x);
  auto v = view(t);
  REQUIRE(threshold_max(v).threshold == 100.0);
  const double pc = threshold_percentile(v).threshold;
  REQUIRE(pc < 1.2);
  REQUIRE(pc > 1.0);
  REQUIRE(threshold_kl(v).threshold < 50.0);
}

TEST_CASE("PERCENTILE: hand-built answers with interpolation, zeros in n, cap at absmax") {
  auto o = make({0, 10, 0, 10}, 1.0);
  REQUIRE(threshold_percentile(o.v, 0.5).threshold == 2.0);    // C_1 = 10 >= 10: 1 + 10/10
  REQUIRE(threshold_percentile(o.v, 0.25).threshold == 1.5);   // 1 + 5/10
  REQUIRE(threshold_percentile(o.v, 0.75).threshold == 3.5);   // 3 + 5/10
  REQUIRE(threshold_percentile(o.v, 1.0).threshold == 4.0);
  auto z = make({0, 10, 0, 10}, 1.0, 20);  // 20 zeros: n = 40
  REQUIRE(threshold_percentile(z.v, 0.75).threshold == 2.0);  // target 30 = 20 + 10
  auto r = threshold_percentile(z.v, 0.25);  // inside the zeros: first occupied bin's edge
  REQUIRE(r.threshold == 2.0);
  REQUIRE(!r.note.empty());
  auto capped = make({0, 10, 0, 10}, 1.0, 0, 3.2);
  REQUIRE(threshold_percentile(capped.v, 1.0).threshold == 3.2);
}

TEST_CASE("ADMM: a single-bin histogram converges to its centre") {
  auto o = make({0, 0, 0, 7}, 1.0);  // centre 3.5, absmax 4
  auto r = threshold_admm(o.v);
  REQUIRE(r.threshold == Approx(3.5).epsilon(1e-14));
  REQUIRE(r.iterations <= 3);
}

TEST_CASE("MSE: grid optimum is a local minimum; unsigned uses the /12 noise term") {
  auto x = gaussian(500000, 1.0f, 6);
  auto t = collect(x);
  auto v = view(t);
  auto r = threshold_mse(v);
  REQUIRE(r.bin >= 1);
  REQUIRE(grid_mse(v, r.threshold) <= grid_mse(v, r.threshold + v.w));
  REQUIRE(grid_mse(v, r.threshold) <= grid_mse(v, r.threshold - v.w));
  REQUIRE(r.iterations <= 20);
  ThresholdOptions u;
  u.unsigned_storage = true;
  auto ru = threshold_mse(v, u);  // finer steps -> less noise -> clip later
  REQUIRE(ru.threshold >= r.threshold);
}

TEST_CASE("Dead tensors: every method gives a finite, flagged threshold (§10.3)") {
  auto zero = make(std::vector<std::uint64_t>(2048, 0), 0.0, 1000, 0.0);
  HistogramView empty;
  for (int m = 0; m < 8; ++m) {
    for (const HistogramView* v : {&zero.v, &empty}) {
      auto r = compute_threshold(static_cast<ThMethod>(m), *v);
      INFO(to_string(static_cast<ThMethod>(m)));
      REQUIRE(r.guarded);
      REQUIRE(r.threshold == 1.0);
      REQUIRE(!r.note.empty());
    }
  }
  auto t = collect(std::vector<float>(1000, 0.0f));
  for (int m = 0; m < 8; ++m) REQUIRE(compute_threshold(static_cast<ThMethod>(m), view(t)).guarded);
  // a live tensor without a histogram (pass 2 never ran) is a usage error, not a dead tensor
  auto p1 = TensorStats::two_pass(2048);
  p1.pass1(std::vector<float>{1.0f, -2.0f});
  REQUIRE_THROWS_AS(compute_threshold(ThMethod::KL, view(p1)), octet::UsageError);
  REQUIRE(compute_threshold(ThMethod::MAX, view(p1)).threshold == 2.0);
  // subnormal absmax also counts as dead for the threshold (1/T would overflow)
  auto tiny = make({5}, 1e-45, 0, 1e-45);
  REQUIRE(threshold_max(tiny.v).guarded);
}

TEST_CASE("Determinism: same histogram -> bit-identical T for every method, both modes") {
  auto x = gaussian(300000, 1.3f, 8);
  for (int i = 0; i < 3000; ++i) x[static_cast<std::size_t>(i)] = 0.0f;  // zero spike
  auto ta = collect(x);
  auto tb = TensorStats::dyadic(2048);
  tb.update(x);
  for (const TensorStats* t : {&ta, &tb}) {
    for (int m = 0; m < 8; ++m) {
      const auto r1 = compute_threshold(static_cast<ThMethod>(m), view(*t));
      const auto r2 = compute_threshold(static_cast<ThMethod>(m), view(*t));
      REQUIRE(same_bits(r1.threshold, r2.threshold));
      REQUIRE(!r1.guarded);
      REQUIRE(std::isfinite(r1.threshold));
      REQUIRE(r1.threshold > 0);
      REQUIRE(r1.threshold <= t->range.absmax);
    }
  }
  // shuffled data gives the same statistics, hence the same thresholds (§10.2)
  auto xs = x;
  std::shuffle(xs.begin(), xs.end(), std::mt19937_64(1));
  auto tc = TensorStats::dyadic(2048);
  for (std::size_t b = 0; b < xs.size(); b += 1000) tc.update(std::span<const float>(xs).subspan(b, std::min<std::size_t>(1000, xs.size() - b)));
  for (int m = 0; m < 8; ++m)
    REQUIRE(same_bits(compute_threshold(static_cast<ThMethod>(m), view(tb)).threshold,
                      compute_threshold(static_cast<ThMethod>(m), view(tc)).threshold));
}

TEST_CASE("KL options: first_bin policies and threshold modes") {
  // post-ReLU-like: a huge first bin of near-zero values
  auto x = gaussian(400000, 1.0f, 10);
  for (auto& v : x) v = v < 0 ? 1e-6f : v;
  auto t = collect(x);
  auto v = view(t);
  REQUIRE(v.h[0] > 100000);
  ThresholdOptions d;
  d.first_bin = FirstBin::discard;
  std::vector<std::uint64_t> h0(v.h.begin(), v.h.end());
  h0[0] = 0;
  HistogramView vd = v;
  vd.h = h0;
  REQUIRE(threshold_kl(v, d).bin == threshold_kl(vd).bin);
  ThresholdOptions c;
  c.first_bin = FirstBin::copy_next;
  std::vector<std::uint64_t> h1(v.h.begin(), v.h.end());
  h1[0] = h1[1];
  HistogramView vc = v;
  vc.h = h1;
  REQUIRE(threshold_kl(v, c).bin == threshold_kl(vc).bin);
  auto e = threshold_kl(v);
  ThresholdOptions nc;
  nc.threshold_mode = ThresholdMode::next_centre;
  auto rc = threshold_kl(v, nc);
  REQUIRE(rc.bin == e.bin);
  if (e.bin < v.h.size()) REQUIRE(rc.threshold == Approx((e.bin + 0.5) * v.w));
  ThresholdOptions tm;
  tm.threshold_mode = ThresholdMode::tpu_mlir;
  REQUIRE(threshold_kl(v, tm).threshold == Approx(e.bin * v.absmax / 2047.0));
}

TEST_CASE("Fewer bins than levels: only the no-clip candidate") {
  auto o = make({3, 0, 5, 2}, 0.5);
  auto r = threshold_kl(o.v);
  REQUIRE(r.bin == 4);
  REQUIRE(r.threshold == 2.0);
  REQUIRE(r.score == Approx(0.0).margin(1e-15));
}

TEST_CASE("log_positive: within a few ulp of std::log over the whole positive normal range") {
  std::mt19937_64 rng(12);
  for (int i = 0; i < 1000000; ++i) {
    const double x = std::ldexp(1.0 + static_cast<double>(rng() >> 11) * 0x1p-53, static_cast<int>(rng() % 2000) - 1000);
    const double a = octet::calib::detail::log_positive(x), b = std::log(x);
    REQUIRE(std::fabs(a - b) <= 4e-16 * std::max(1.0, std::fabs(b)));
  }
  for (double x : {1.0, 2.0, 0.5, std::sqrt(2.0), std::nextafter(std::sqrt(2.0), 2.0), 1e300, 1e-300, 3.0})
    REQUIRE(octet::calib::detail::log_positive(x) == Approx(std::log(x)).epsilon(1e-15).margin(1e-16));
  REQUIRE(octet::calib::detail::log_positive(1.0) == 0.0);
}

TEST_CASE("KL: the per-bin O(N^2) search picks the same candidate as the prefix-sum search") {
  std::mt19937_64 rng(13);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> x(100000);
  for (auto& v : x) v = g(rng) * (rng() % 10 == 0 ? 4.0f : 1.0f);
  auto t = collect(x, 512);
  for (ThMethod m : {ThMethod::KL, ThMethod::SYMKL, ThMethod::JSD})
    REQUIRE(kl_family_direct_argmin(m, view(t)) == threshold_kl_family(m, view(t)).bin);
}

TEST_CASE("Two-pass and dyadic statistics give consistent thresholds on the same data") {
  auto x = gaussian(1000000, 0.7f, 14);
  auto a = collect(x);
  auto b = TensorStats::dyadic(2048);
  b.update(x);
  const auto va = view(a), vb = view(b);
  const double tol = va.w + vb.w;  // the two grids differ by up to one bin each
  REQUIRE(threshold_max(vb).threshold == threshold_max(va).threshold);
  REQUIRE(std::fabs(threshold_percentile(vb).threshold - threshold_percentile(va).threshold) <= tol);
  REQUIRE(threshold_mse(vb).threshold == Approx(threshold_mse(va).threshold).epsilon(0.02));
  // ADMM stops at a local fixed point, which moves with the bin grid
  REQUIRE(threshold_admm(vb).threshold == Approx(threshold_admm(va).threshold).epsilon(0.06));
  REQUIRE(threshold_aciq(vb).threshold == Approx(threshold_aciq(va).threshold).epsilon(0.01));
  REQUIRE(threshold_kl(vb).threshold == Approx(threshold_kl(va).threshold).epsilon(0.1));
}

TEST_CASE("Threshold options are validated") {
  auto o = make({1, 2, 3}, 1.0);
  ThresholdOptions bad;
  bad.percentile = 1.5;
  REQUIRE_THROWS_AS(compute_threshold(ThMethod::PERCENTILE9999, o.v, bad), octet::UsageError);
  bad = {};
  bad.bits = 1;
  REQUIRE_THROWS_AS(compute_threshold(ThMethod::ACIQ, o.v, bad), octet::UsageError);
  bad = {};
  bad.levels = 0;
  REQUIRE_THROWS_AS(compute_threshold(ThMethod::KL, o.v, bad), octet::UsageError);
}
