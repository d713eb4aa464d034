// calib/statistics.hpp: exact counts, both histogram modes against plain references,
// order/batch/thread independence (pitfall §10.2), merge, range-only tensors, the streaming
// collector (SIMD and portable loops) against TensorStats, and -dump_dist serialisation.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <vector>

#include "octet/calib/statistics.hpp"

using namespace octet::calib;

namespace {

std::vector<float> sample(std::size_t n, std::uint64_t seed, bool relu = false, bool specials = false) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.5f);
  std::vector<float> v(n);
  for (auto& x : v) {
    x = g(rng);
    if (relu && x < 0) x = 0.0f;
  }
  if (specials && n > 10) {
    v[1] = std::numeric_limits<float>::quiet_NaN();
    v[3] = std::numeric_limits<float>::infinity();
    v[5] = -std::numeric_limits<float>::infinity();
    v[7] = -0.0f;
    v[9] = 0.0f;
  }
  return v;
}

// Mode A reference: min(floor(fl(a * fl(N/absmax))), N-1), written plainly.
std::vector<std::uint64_t> ref_two_pass(const std::vector<float>& x, int N, float absmax) {
  std::vector<std::uint64_t> h(static_cast<std::size_t>(N), 0);
  const float m = static_cast<float>(static_cast<double>(N) / absmax);
  for (float v : x) {
    if (!std::isfinite(v) || v == 0.0f) continue;
    const float p = std::fabs(v) * m;
    long long k = static_cast<long long>(std::floor(p));
    if (k > N - 1) k = N - 1;
    ++h[static_cast<std::size_t>(k)];
  }
  return h;
}

// Mode B reference on the final grid: e = smallest with all a < 2^e; k = floor(a * M / 2^e).
std::pair<int, std::vector<std::uint64_t>> ref_dyadic(const std::vector<float>& x, int binnum) {
  const int M = 2 * binnum;
  int e = std::numeric_limits<int>::min();
  for (float v : x)
    if (std::isfinite(v) && v != 0.0f) {
      int ex;
      std::frexp(std::fabs(v), &ex);
      e = std::max(e, ex);
    }
  std::vector<std::uint64_t> h(static_cast<std::size_t>(M), 0);
  if (e == std::numeric_limits<int>::min()) return {e, h};
  for (float v : x)
    if (std::isfinite(v) && v != 0.0f) {
      const long double y = std::ldexp(static_cast<long double>(std::fabs(v)) * M, -e);
      ++h[static_cast<std::size_t>(std::floor(y))];
    }
  return {e, h};
}

TensorStats run_two_pass(const std::vector<float>& x, int binnum, std::size_t batch) {
  auto t = TensorStats::two_pass(binnum);
  for (std::size_t b = 0; b < x.size(); b += batch)
    t.pass1(std::span<const float>(x).subspan(b, std::min(batch, x.size() - b)));
  t.begin_pass2();
  for (std::size_t b = 0; b < x.size(); b += batch)
    t.pass2(std::span<const float>(x).subspan(b, std::min(batch, x.size() - b)));
  return t;
}
TensorStats run_dyadic(const std::vector<float>& x, int binnum, std::size_t batch) {
  auto t = TensorStats::dyadic(binnum);
  for (std::size_t b = 0; b < x.size(); b += batch)
    t.update(std::span<const float>(x).subspan(b, std::min(batch, x.size() - b)));
  return t;
}

TensorStats run_streaming(const std::vector<float>& x, int binnum, std::size_t batch, bool histogram = true,
                          bool simd = true) {
  StreamingStats s(binnum, histogram, simd);
  for (std::size_t b = 0; b < x.size(); b += batch)
    s.update(std::span<const float>(x).subspan(b, std::min(batch, x.size() - b)));
  return s.finish();
}

}  // namespace

TEST_CASE("RangeStats: counts, specials, signed zeros") {
  RangeStats r;
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {1.0f, -3.0f, 0.0f, -0.0f, nan, inf, -inf, 2.5f};
  r.update(x);
  REQUIRE(r.n == 5);
  REQUIRE(r.zeros == 2);
  REQUIRE(r.nonfinite == 3);
  REQUIRE(r.min == -3.0f);
  REQUIRE(r.max == 2.5f);
  REQUIRE(r.absmax == 3.0f);
  RangeStats neg, z;
  neg.update(std::vector<float>{-0.0f, -1.0f});
  REQUIRE(neg.max == 0.0f);
  REQUIRE(!std::signbit(neg.max));  // -0 canonicalised, so max is +0 whatever the order
  z.update(std::vector<float>{-0.0f});
  REQUIRE(!std::signbit(z.min));
  RangeStats empty;
  REQUIRE(empty.n == 0);
  REQUIRE(std::isinf(empty.min));
}

TEST_CASE("Mode A: hand-built bins follow the ncnn index rule") {
  auto h = Histogram::two_pass(4, 4.0f);
  h.update(std::vector<float>{0.5f, 1.0f, 3.99f, 4.0f, -2.0f, 0.0f, -0.0f,
                              std::numeric_limits<float>::quiet_NaN(), 100.0f});
  // 0.5->0, 1->1, 3.99->3, 4->min(4,3)=3, |-2|->2, 100 (beyond absmax)->3; zeros/NaN skipped
  REQUIRE(std::vector<std::uint64_t>(h.counts().begin(), h.counts().end()) == std::vector<std::uint64_t>{1, 1, 1, 3});
  REQUIRE(h.bin_width() == 1.0);
}

TEST_CASE("Mode A: subnormal absmax (N/absmax overflows float) still bins by value, zeros excluded") {
  auto h = Histogram::two_pass(4, 1e-39f);
  h.update(std::vector<float>{1e-39f, -2.6e-40f, 0.0f, -0.0f, std::numeric_limits<float>::quiet_NaN()});
  // 1e-39 -> min(4, 3) = 3; 2.6e-40 * 4/1e-39 = 1.04 -> 1
  REQUIRE(std::vector<std::uint64_t>(h.counts().begin(), h.counts().end()) == std::vector<std::uint64_t>{0, 1, 0, 1});
}

TEST_CASE("Mode A: equals the plain reference for many sizes, with specials") {
  for (std::size_t n : {1u, 3u, 1023u, 1024u, 1025u, 5000u, 300000u}) {
    for (int N : {512, 2048, 4096, 7}) {
      auto x = sample(n, n * 31 + static_cast<std::uint64_t>(N), n % 2 == 0, true);
      auto t = run_two_pass(x, N, 777);
      auto ref = ref_two_pass(x, N, t.range.absmax);
      REQUIRE(std::vector<std::uint64_t>(t.hist.counts().begin(), t.hist.counts().end()) == ref);
      REQUIRE(t.hist.total() + t.range.zeros == t.range.n);  // every finite value accounted for
    }
  }
}

TEST_CASE("Mode A: large batch crosses the 32-bit sub-counter flush several times") {
  // 3.1M values concentrated in few bins: each sub-counter flushes after 1024 chunks
  std::vector<float> x(3100000);
  std::mt19937_64 rng(17);
  for (auto& v : x) v = static_cast<float>(rng() % 3) + 0.5f;
  x[5] = 0.0f;
  x[7] = std::numeric_limits<float>::infinity();
  auto t = run_two_pass(x, 512, x.size());
  REQUIRE(std::vector<std::uint64_t>(t.hist.counts().begin(), t.hist.counts().end()) == ref_two_pass(x, 512, t.range.absmax));
  REQUIRE(t.hist.total() == x.size() - 2);
}

TEST_CASE("Mode B: streaming equals a direct histogram on the final grid") {
  for (int binnum : {512, 2048, 4096}) {
    for (std::uint64_t seed : {1u, 2u, 3u}) {
      // growing range: later batches are larger, so coarsening happens many times
      std::vector<float> x;
      std::mt19937_64 rng(seed);
      std::normal_distribution<float> g(0.0f, 1.0f);
      for (int b = 0; b < 40; ++b)
        for (int i = 0; i < 997; ++i) x.push_back(g(rng) * std::ldexp(1.0f, b / 3 - 5));
      x.push_back(0.0f);
      x.push_back(std::numeric_limits<float>::quiet_NaN());
      auto t = run_dyadic(x, binnum, 997);
      auto [e, ref] = ref_dyadic(x, binnum);
      REQUIRE(t.hist.exponent() == e);
      REQUIRE(std::vector<std::uint64_t>(t.hist.counts().begin(), t.hist.counts().end()) == ref);
      // the occupied range always exceeds binnum bins
      REQUIRE(t.hist.used_bins() > static_cast<std::size_t>(binnum));
      REQUIRE(t.hist.total() + t.range.zeros == t.range.n);
    }
  }
}

TEST_CASE("Mode B: extreme magnitudes (subnormal and near FLT_MAX)") {
  std::vector<float> x = {std::numeric_limits<float>::denorm_min(), 3 * std::numeric_limits<float>::denorm_min(),
                          1e-40f, 1e-38f};
  auto t = run_dyadic(x, 512, 2);
  auto [e, ref] = ref_dyadic(x, 512);
  REQUIRE(t.hist.exponent() == e);
  REQUIRE(std::vector<std::uint64_t>(t.hist.counts().begin(), t.hist.counts().end()) == ref);
  x.push_back(FLT_MAX);
  x.push_back(-1e30f);
  t = run_dyadic(x, 512, 3);
  auto r2 = ref_dyadic(x, 512);
  REQUIRE(t.hist.exponent() == 128);
  REQUIRE(std::vector<std::uint64_t>(t.hist.counts().begin(), t.hist.counts().end()) == r2.second);
}

TEST_CASE("Order, batch size, split and thread count never change the statistics (§10.2)") {
  auto x = sample(1u << 20, 99, true, true);
  auto xs = x;
  std::shuffle(xs.begin(), xs.end(), std::mt19937_64(5));
  for (bool dyadic : {false, true}) {
    auto run = [&](const std::vector<float>& d, std::size_t batch) {
      return dyadic ? run_dyadic(d, 2048, batch) : run_two_pass(d, 2048, batch);
    };
    octet::set_num_threads(1);
    const auto whole = run(x, x.size());
    REQUIRE(run(x, 1000) == whole);
    REQUIRE(run(x, 4096) == whole);
    REQUIRE(run(xs, 333) == whole);
    REQUIRE(run(xs, xs.size()) == whole);
    for (int th : {2, 3, 4}) {
      octet::set_num_threads(th);
      REQUIRE(run(x, x.size()) == whole);
      REQUIRE(run(xs, 1u << 19) == whole);
    }
    octet::set_num_threads(1);
    // merge of two halves (Mode A halves share pass 1: absmax is a global property)
    const std::size_t half = x.size() / 3;
    std::vector<float> a(xs.begin(), xs.begin() + static_cast<std::ptrdiff_t>(half)), b(xs.begin() + static_cast<std::ptrdiff_t>(half), xs.end());
    if (dyadic) {
      auto ta = run_dyadic(a, 2048, 1000), tb = run_dyadic(b, 2048, 777);
      auto m1 = ta, m2 = tb;
      m1.merge(tb);
      m2.merge(ta);
      REQUIRE(m1 == whole);
      REQUIRE(m2 == whole);
    } else {
      auto ta = TensorStats::two_pass(2048), tb = TensorStats::two_pass(2048);
      ta.pass1(a);
      tb.pass1(b);
      RangeStats r = ta.range;
      r.merge(tb.range);
      REQUIRE(r == whole.range);
      ta.range = r;
      tb.range = r;
      ta.begin_pass2();
      tb.begin_pass2();
      ta.pass2(a);
      tb.pass2(b);
      auto m = ta;
      m.hist.merge(tb.hist);
      REQUIRE(m.hist == whole.hist);
    }
  }
}

TEST_CASE("Mode B: merge handles empty sides and very different ranges") {
  auto tiny = run_dyadic(std::vector<float>{1e-6f, 2e-6f}, 512, 10);
  auto big = run_dyadic(std::vector<float>{1e6f, -3e5f}, 512, 10);
  auto empty = TensorStats::dyadic(512);
  auto zeros = run_dyadic(std::vector<float>{0.0f, 0.0f}, 512, 10);
  std::vector<float> all = {1e-6f, 2e-6f, 1e6f, -3e5f, 0.0f, 0.0f};
  auto whole = run_dyadic(all, 512, all.size());
  auto m = empty;
  m.merge(tiny);
  m.merge(zeros);
  m.merge(big);
  REQUIRE(m == whole);
  auto m2 = big;
  m2.merge(zeros);
  m2.merge(tiny);
  m2.merge(empty);
  REQUIRE(m2 == whole);
  // tiny values collapse into bin 0 on the coarse grid: that is the exact answer there
  REQUIRE(m.hist.counts()[0] == 2);
}

TEST_CASE("Merging incompatible statistics is refused") {
  auto a = TensorStats::dyadic(512), b = TensorStats::dyadic(1024);
  REQUIRE_THROWS_AS(a.merge(b), octet::UsageError);
  auto ha = Histogram::two_pass(8, 1.0f), hb = Histogram::two_pass(8, 2.0f);
  ha.update(std::vector<float>{0.5f});
  hb.update(std::vector<float>{0.5f});
  REQUIRE_THROWS_AS(ha.merge(hb), octet::UsageError);
  REQUIRE_THROWS_AS(TensorStats::two_pass(512).update(std::vector<float>{1.0f}), octet::UsageError);
  REQUIRE_THROWS_AS(validate_binnum(1000), octet::UsageError);
  REQUIRE_THROWS_AS(validate_binnum(8192), octet::UsageError);
  REQUIRE_NOTHROW(validate_binnum(2048));
}

TEST_CASE("view(): Mode B is truncated to the occupied bins, Mode A keeps N") {
  auto x = sample(10000, 4);
  auto b = run_dyadic(x, 512, 1000);
  auto vb = view(b);
  REQUIRE(vb.h.size() == b.hist.used_bins());
  REQUIRE(vb.h.size() > 512);
  REQUIRE(vb.h.size() <= 1024);
  REQUIRE(vb.w * static_cast<double>(vb.h.size()) >= vb.absmax);
  auto a = run_two_pass(x, 512, 1000);
  auto va = view(a);
  REQUIRE(va.h.size() == 512);
  REQUIRE(va.n == 10000);
  REQUIRE(va.nonzero() == 10000);
}

TEST_CASE("Serialisation round-trips exactly; corrupt files raise IoError naming the file") {
  std::vector<NamedStats> all;
  all.emplace_back("conv1/relu", run_two_pass(sample(5000, 7, true, true), 512, 100));
  all.emplace_back("fc 2", run_dyadic(sample(5000, 8), 1024, 333));
  all.emplace_back("dead", run_dyadic(std::vector<float>(10, 0.0f), 512, 5));
  all.emplace_back("pass1only", [] {
    auto t = TensorStats::two_pass(2048);
    t.pass1(std::vector<float>{1.0f, -2.0f});
    return t;
  }());
  const std::string text = serialize_stats(all);
  auto back = parse_stats(text, "mem");
  REQUIRE(back.size() == all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    REQUIRE(back[i].first == all[i].first);
    REQUIRE(back[i].second == all[i].second);
  }
  REQUIRE(serialize_stats(back) == text);

  const auto dir = std::filesystem::temp_directory_path() / ("octet_calib_stats_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "dist.txt").string();
  save_stats(path, all);
  REQUIRE(load_stats(path).size() == all.size());

  auto expect_io = [&](const std::string& bad, const std::string& what) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bad;
    try {
      load_stats(path);
      FAIL("no exception for " << what);
    } catch (const octet::IoError& e) {
      INFO(e.what());
      REQUIRE(std::string(e.what()).find(path) != std::string::npos);
    }
  };
  expect_io(text.substr(0, text.size() / 2), "truncated");
  expect_io(text.substr(0, text.size() - 1), "missing final newline");
  expect_io("octet-calib-stats 3\n", "future version");
  expect_io("garbage", "garbage");
  expect_io("", "empty");
  std::string t2 = text;
  t2.replace(t2.find("range "), 7, "range x");
  expect_io(t2, "bad integer");
  std::string t3 = text;
  t3.replace(t3.find("mode dyadic"), 11, "mode cubic ");
  expect_io(t3, "bad mode");
  expect_io(text + "extra\n", "trailing data");
  REQUIRE_THROWS_AS(load_stats((dir / "missing.txt").string()), octet::IoError);
  std::filesystem::remove_all(dir);
}

TEST_CASE("StreamingStats equals TensorStats::update for any batch size, order, grid growth and specials") {
  std::vector<std::vector<float>> sets;
  sets.push_back(sample(50000, 11, true, true));  // ReLU-like: half zeros, NaN/Inf, -0
  sets.push_back(sample(30001, 12));
  {
    // range grows in steps (coarsening inside one batch, between chunks), then shrinks
    std::vector<float> x;
    std::mt19937_64 rng(13);
    std::normal_distribution<float> g(0.0f, 1.0f);
    for (int b = 0; b < 60; ++b)
      for (int i = 0; i < 701; ++i) x.push_back(g(rng) * std::ldexp(1.0f, (b < 40 ? b : 60 - b) / 3 - 5));
    sets.push_back(x);
  }
  // extremes: subnormals (the exact double path), then near FLT_MAX; all zeros; empty-ish
  sets.push_back({std::numeric_limits<float>::denorm_min(), 1e-40f, 0.0f, -1e-38f, 1e-39f, FLT_MAX, -1e30f, 2.0f});
  sets.push_back(std::vector<float>(3000, 0.0f));
  sets.push_back({std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()});
  // signed zeros as min / max without NaN (the fast SIMD loop): +0 whatever the order
  sets.push_back({-0.0f, 1.0f, -0.0f, 2.0f, 0.0f});
  sets.push_back({-0.0f, -1.0f, 0.0f, -0.0f});
  octet::set_num_threads(1);
  for (const auto& x : sets) {
    for (int binnum : {512, 2048, 4096}) {
      const auto ref = run_dyadic(x, binnum, x.size());
      auto xs = x;
      std::shuffle(xs.begin(), xs.end(), std::mt19937_64(static_cast<std::uint64_t>(binnum)));
      for (bool simd : {true, false}) {
        INFO("n=" << x.size() << " binnum=" << binnum << " simd=" << simd);
        for (std::size_t batch : {std::size_t{1}, std::size_t{3}, std::size_t{17}, std::size_t{1000},
                                  std::size_t{1024}, std::size_t{4099}, x.size()}) {
          REQUIRE(run_streaming(x, binnum, batch, true, simd) == ref);
          // bit-exact too (== does not tell -0 from +0; the file does)
          REQUIRE(serialize_stats({{"t", run_streaming(xs, binnum, batch, true, simd)}}) ==
                  serialize_stats({{"t", ref}}));
          REQUIRE(serialize_stats({{"t", run_streaming(xs, binnum, batch, false, simd)}}) ==
                  serialize_stats({{"t", [&] {
                                     auto t = TensorStats::range_only(binnum);
                                     t.update(x);
                                     return t;
                                   }()}}));
          REQUIRE(run_streaming(xs, binnum, batch, true, simd) == ref);
        }
      }
    }
  }
  // large batches take the threaded Histogram path: same counts
  const auto big = sample(1u << 20, 14, true, true);
  const auto ref = run_dyadic(big, 2048, big.size());
  for (int th : {1, 2, 3}) {
    octet::set_num_threads(th);
    REQUIRE(run_streaming(big, 2048, big.size()) == ref);
    REQUIRE(run_streaming(big, 2048, 5000) == ref);
  }
  octet::set_num_threads(1);
  // the collector stays usable after finish()
  StreamingStats s(512, true);
  s.update(std::span<const float>(sets[1]).first(1000));
  (void)s.finish();
  s.update(std::span<const float>(sets[1]).subspan(1000, 1000));
  REQUIRE(s.finish() == run_dyadic(std::vector<float>(sets[1].begin(), sets[1].begin() + 2000), 512, 2000));
  // release() (collect_statistics' end) moves out what finish() copies
  s.update(std::span<const float>(sets[1]).subspan(2000, 1000));
  const auto copy = s.finish();
  REQUIRE(std::move(s).release() == copy);
  REQUIRE(std::move(StreamingStats(512, false)).release() == TensorStats::range_only(512));
}

TEST_CASE("Range-only statistics: exact range, no histogram, order-free, and merge keeps them range-only") {
  const auto x = sample(20000, 21, true, true);
  auto xs = x;
  std::shuffle(xs.begin(), xs.end(), std::mt19937_64(3));
  const auto full = run_dyadic(x, 2048, x.size());
  const auto ro = run_streaming(x, 2048, 333, false);
  REQUIRE(ro.is_range_only());
  REQUIRE_FALSE(ro.has_histogram());
  REQUIRE_FALSE(full.is_range_only());
  REQUIRE(ro.range == full.range);
  REQUIRE(ro.binnum == 2048);
  REQUIRE(run_streaming(xs, 2048, 1, false) == ro);
  REQUIRE(run_streaming(xs, 2048, xs.size(), false) == ro);
  auto t = TensorStats::range_only(2048);
  t.update(x);
  REQUIRE(t == ro);
  // merge: halves of either kind; any range-only side gives the range-only whole, both orders
  const std::size_t h = x.size() / 3;
  const std::vector<float> a(xs.begin(), xs.begin() + static_cast<std::ptrdiff_t>(h)), b(xs.begin() + static_cast<std::ptrdiff_t>(h), xs.end());
  const auto ra = run_streaming(a, 2048, 100, false), rb = run_streaming(b, 2048, 77, false);
  const auto fa = run_dyadic(a, 2048, 100), fb = run_dyadic(b, 2048, 77);
  for (const auto& [l, r] : std::vector<std::pair<TensorStats, TensorStats>>{{ra, rb}, {rb, ra}, {ra, fb}, {fb, ra}, {fa, rb}, {rb, fa}}) {
    auto m = l;
    m.merge(r);
    REQUIRE(m == ro);
  }
  auto m = fa;
  m.merge(fb);
  REQUIRE(m == full);
  auto e = TensorStats::range_only(2048);
  e.merge(TensorStats::range_only(2048));
  REQUIRE(e.is_range_only());
  REQUIRE_THROWS_AS(e.merge(TensorStats::range_only(1024)), octet::UsageError);
}

TEST_CASE("Serialisation: range-only tensors round-trip; version 1 files still load") {
  std::vector<NamedStats> all;
  all.emplace_back("pre_relu", run_streaming(sample(5000, 31, false, true), 2048, 700, false));
  all.emplace_back("relu", run_streaming(sample(5000, 32, true, true), 2048, 700));
  all.emplace_back("never_fed", TensorStats::range_only(2048));
  const std::string text = serialize_stats(all);
  REQUIRE(text.rfind("octet-calib-stats 2\n", 0) == 0);
  REQUIRE(text.find("hist range_only 0\n") != std::string::npos);
  const auto back = parse_stats(text, "mem");
  REQUIRE(back.size() == all.size());
  for (std::size_t i = 0; i < all.size(); ++i) REQUIRE(back[i] == all[i]);
  REQUIRE(back[0].second.is_range_only());
  REQUIRE(back[2].second.is_range_only());
  REQUIRE_FALSE(back[1].second.is_range_only());
  // a version-1 file (every tensor with a histogram) reads the same
  std::vector<NamedStats> full(all.begin() + 1, all.begin() + 2);
  std::string v1 = serialize_stats(full);
  v1.replace(0, std::string("octet-calib-stats 2").size(), "octet-calib-stats 1");
  REQUIRE(parse_stats(v1, "v1") == full);
  // range_only is a dyadic form without bins
  std::string bad = text;
  bad.replace(bad.find("hist range_only 0"), 17, "hist range_only 3");
  REQUIRE_THROWS_AS(parse_stats(bad, "mem"), octet::IoError);
  std::vector<NamedStats> tp;
  tp.emplace_back("a", TensorStats::two_pass(512));
  std::string bad2 = serialize_stats(tp);
  bad2.replace(bad2.find("hist none 0"), 11, "hist range_only 0");
  REQUIRE_THROWS_AS(parse_stats(bad2, "mem"), octet::IoError);
}

// The SIMD scan takes a zero-free shortcut (integer min/max of the raw bits, no zero count, no
// compress) for chunks without ±0 and falls back when a chunk has one, and for good once such
// chunks are common. Blocks of at most one chunk, each with one property the shortcut must get
// right, in an order that turns it off and exercises both paths on the same stream.
static std::vector<std::vector<float>> zero_free_blocks() {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  std::mt19937_64 rng(77);
  std::normal_distribution<float> g(0.0f, 1.0f);
  auto normal = [&](std::size_t n, float scale, int sign) {
    std::vector<float> v(n);
    for (auto& x : v) {
      x = g(rng) * scale;
      if (x == 0.0f) x = scale;
      if (sign > 0) x = std::fabs(x);
      if (sign < 0) x = -std::fabs(x);
    }
    return v;
  };
  std::vector<std::vector<float>> b;
  b.push_back(normal(1024, 1.0f, 0));  // both signs, full chunk
  b.push_back(normal(1000, 2.0f, -1));  // all negative: max is the least negative
  b.push_back(normal(37, 0.5f, 1));     // all positive, masked tail
  for (std::size_t n : {1, 15, 16, 17, 31, 32, 33}) b.push_back(normal(n, 1.0f, 0));
  {
    auto v = normal(50, 1.0f, 0);  // subnormals and tiny values among normal ones
    v[3] = std::numeric_limits<float>::denorm_min(), v[4] = -1e-40f, v[5] = 1e-39f;
    b.push_back(v);
  }
  for (float z : {0.0f, -0.0f}) {  // one zero among normals, among negatives, among positives
    for (int sign : {0, -1, 1}) {
      auto v = normal(300, 1.0f, sign);
      v[150] = z;
      b.push_back(v);
    }
  }
  for (float s : {nan, -nan, inf, -inf}) {  // NaN/Inf without zeros
    auto v = normal(200, 1.0f, 0);
    v[17] = s;
    b.push_back(v);
  }
  b.push_back(normal(1024, 1e5f, 0));  // the range grows: coarsening
  b.push_back(normal(700, 1e-3f, -1));
  for (int k = 0; k < 40; ++k) {  // zeros in every chunk: the shortcut turns off
    auto v = normal(128, 1.0f, 0);
    v[k] = k % 2 ? 0.0f : -0.0f;
    b.push_back(v);
  }
  b.push_back(normal(1024, 3.0f, 0));
  b.push_back(normal(64, 1.0f, -1));
  return b;
}

// A value beyond every finite |x| of the block (at least 1): as the first chunk it sets a grid
// that holds the whole block, and it decides one end of the range (+a the max, -a the min).
static float beyond(const std::vector<float>& block) {
  float a = 1.0f;
  for (float v : block)
    if (std::isfinite(v)) a = std::max(a, 2.0f * std::fabs(v));
  return a;
}

TEST_CASE("StreamingStats: the zero-free SIMD shortcut equals the reference chunk by chunk") {
  const auto blocks = zero_free_blocks();
  for (int binnum : {512, 2048}) {
    for (bool histogram : {true, false}) {
      // Each block alone, after one value that sets the grid (the first chunk takes the slow
      // path): +A > every |x| leaves the block's min to the scan, -A its max.
      for (std::size_t k = 0; k < blocks.size(); ++k) {
        const float a = beyond(blocks[k]);
        for (float primer : {a, -a}) {
          INFO("binnum=" << binnum << " histogram=" << histogram << " block " << k << " primer " << primer);
          StreamingStats s(binnum, histogram);
          auto ref = histogram ? TensorStats::dyadic(binnum) : TensorStats::range_only(binnum);
          for (const std::vector<float>& v : {std::vector<float>{primer}, blocks[k]}) {
            s.update(v);
            ref.update(v);
          }
          const auto got = s.finish();
          REQUIRE(got == ref);
          REQUIRE(serialize_stats({{"t", got}}) == serialize_stats({{"t", ref}}));
        }
      }
      // All blocks in one stream: the shortcut turns off in the run of zero chunks.
      StreamingStats s(binnum, histogram);
      auto ref = histogram ? TensorStats::dyadic(binnum) : TensorStats::range_only(binnum);
      for (std::size_t k = 0; k < blocks.size(); ++k) {
        INFO("binnum=" << binnum << " histogram=" << histogram << " stream, block " << k);
        s.update(blocks[k]);
        ref.update(blocks[k]);
        const auto got = s.finish();
        REQUIRE(got == ref);
        REQUIRE(serialize_stats({{"t", got}}) == serialize_stats({{"t", ref}}));
      }
    }
  }
}

TEST_CASE("StreamingStats::update_relu: the zero-free shortcut equals two separate updates") {
  const auto blocks = zero_free_blocks();
  auto relu = [](const std::vector<float>& x) {
    std::vector<float> y(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) y[i] = x[i] > 0 ? x[i] : (x[i] != x[i] ? x[i] : 0.0f);
    return y;
  };
  auto check = [&](const std::vector<std::vector<float>>& stream) {
    StreamingStats xs(2048, false), ys(2048, true), xr(2048, false), yr(2048, true);
    for (std::size_t k = 0; k < stream.size(); ++k) {
      INFO("block " << k << " of " << stream.size());
      const auto y = relu(stream[k]);
      StreamingStats::update_relu(xs, ys, stream[k], y);
      xr.update(stream[k]);
      yr.update(y);
      const auto gx = xs.finish(), gy = ys.finish(), wx = xr.finish(), wy = yr.finish();
      REQUIRE(gx == wx);
      REQUIRE(gy == wy);
      REQUIRE(serialize_stats({{"x", gx}, {"y", gy}}) == serialize_stats({{"x", wx}, {"y", wy}}));
    }
  };
  for (const auto& b : blocks) {
    const float a = beyond(b);
    check({{a}, b});
    check({{-a, a}, b});  // y's grid set by a, x's max left to the scan
  }
  check(blocks);
}
