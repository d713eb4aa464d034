// Per-tensor calibration statistics, streamed over batches (docs/calibration-math.md §2):
// counts n (finite elements, zeros included), z (exact zeros), non-finite count, min, max,
// absmax, and a histogram of the finite non-zero |x| in one of two deterministic modes:
//   Mode A two_pass: pass 1 finds absmax (RangeStats), pass 2 fills N = th_binnum bins over
//     [0, absmax] with the ncnn index rule min(floor(a * (N/absmax)), N-1).
//   Mode B dyadic:   one pass; range R = 2^e with every a < R, M = 2*th_binnum bins of width
//     R/M; the index is an exact power-of-two scaling; growth coarsens by exact bin pairing.
// Both depend only on the multiset of values: batch order, batch size and thread count do not
// change a single count, and merge(a, b) equals accumulating everything into one.
// Counts are integers; no float is ever accumulated. A tensor may also be range-only (no
// histogram: its threshold is propagated from another blob, so only n/min/max/absmax are read).
// StreamingStats is the Mode B collector for many small batches (one per forward). Also:
// serialisation for -dump_dist / -load_dist. Depends on core/ (error, atomic_file, parallel) and the standard library only;
// must not depend on the network runtime, proto or ir/.
#pragma once
#include <algorithm>
#include <bit>
#include <cfloat>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif
#include <limits>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "octet/core/atomic_file.hpp"
#include "octet/core/error.hpp"
#include "octet/core/parallel.hpp"

namespace octet::calib {

enum class HistMode : std::uint8_t { two_pass = 0, dyadic = 1 };

inline const char* to_string(HistMode m) { return m == HistMode::two_pass ? "two_pass" : "dyadic"; }

// -th_binnum: a power of two in [512, 4096] (NNTC's accepted values).
inline void validate_binnum(int binnum) {
  if (binnum < 512 || binnum > 4096 || !std::has_single_bit(static_cast<unsigned>(binnum)))
    throw UsageError(error_text("-th_binnum", std::to_string(binnum),
                                "must be a power of two in [512, 4096]"));
}

// ---- pass-1 statistics --------------------------------------------------------------------

struct RangeStats {
  std::uint64_t n = 0;          // finite elements, zeros included
  std::uint64_t zeros = 0;      // exact zeros (+0 and -0)
  std::uint64_t nonfinite = 0;  // NaN and +-Inf: excluded from everything else, reported
  // Over finite values; zeros are canonicalised to +0 so the sign of a zero min/max never
  // depends on order. +inf / -inf while n == 0.
  float min = std::numeric_limits<float>::infinity();
  float max = -std::numeric_limits<float>::infinity();
  float absmax = 0.0f;

  void update(std::span<const float> x) noexcept {
    // Branch-free body so the compiler vectorises it; the chunked inner counters are 32-bit.
    constexpr std::size_t kChunk = 4096;
    const float inf = std::numeric_limits<float>::infinity();
    for (std::size_t b = 0; b < x.size(); b += kChunk) {
      const std::size_t e = std::min(x.size(), b + kChunk);
      std::uint32_t z = 0, bad = 0;
      float mn = inf, mx = -inf, am = 0.0f;
      // NaN never reaches the reductions and zeros are +0, so min/max are order-free and the
      // SIMD reduction order cannot change the result.
#pragma omp simd reduction(+ : z, bad) reduction(min : mn) reduction(max : mx, am)
      for (std::size_t i = b; i < e; ++i) {
        const float v = x[i];
        const float a = std::fabs(v);
        const bool fin = a <= FLT_MAX;  // false for NaN and Inf
        bad += !fin;
        z += (v == 0.0f);
        const float vz = v + 0.0f;  // -0 -> +0
        const float lo = fin ? vz : inf, hi = fin ? vz : -inf, aa = fin ? a : 0.0f;
        mn = lo < mn ? lo : mn;
        mx = hi > mx ? hi : mx;
        am = aa > am ? aa : am;
      }
      zeros += z;
      nonfinite += bad;
      n += (e - b) - bad;
      min = mn < min ? mn : min;
      max = mx > max ? mx : max;
      absmax = am > absmax ? am : absmax;
    }
  }

  void merge(const RangeStats& o) noexcept {
    n += o.n;
    zeros += o.zeros;
    nonfinite += o.nonfinite;
    min = o.min < min ? o.min : min;
    max = o.max > max ? o.max : max;
    absmax = o.absmax > absmax ? o.absmax : absmax;
  }

  bool operator==(const RangeStats&) const = default;
};

// ---- histogram of non-zero |x| ------------------------------------------------------------

class StreamingStats;

class Histogram {
 public:
  static constexpr int kNoRange = std::numeric_limits<int>::min();

  Histogram() = default;

  // Mode A: N = bins over [0, absmax]. bins >= 1 (th_binnum validation is the caller's).
  static Histogram two_pass(int bins, float absmax) {
    if (bins < 1) throw UsageError(error_text("histogram", "bin count must be >= 1"));
    if (!(absmax >= 0.0f) || !(absmax <= FLT_MAX))
      throw UsageError(error_text("histogram", "absmax must be finite and >= 0"));
    Histogram h;
    h.mode_ = HistMode::two_pass;
    h.binnum_ = bins;
    h.absmax_ = absmax;
    // The one multiplier every element is scaled by (no per-element division). Rounded to
    // float once, so the index rule is exactly min(floor(a * fl(N/absmax)), N-1).
    h.mult_ = absmax > 0.0f ? static_cast<float>(static_cast<double>(bins) / absmax) : 0.0f;
    h.h_.assign(static_cast<std::size_t>(bins), 0);
    return h;
  }

  // Mode B: M = 2 * binnum bins; binnum must be a power of two (so M/R is a power of two).
  static Histogram dyadic(int binnum) {
    if (binnum < 1 || !std::has_single_bit(static_cast<unsigned>(binnum)) || binnum > (1 << 20))
      throw UsageError(error_text("histogram", "dyadic bin count must be a power of two"));
    Histogram h;
    h.mode_ = HistMode::dyadic;
    h.binnum_ = binnum;
    h.h_.assign(static_cast<std::size_t>(2 * binnum), 0);
    return h;
  }

  HistMode mode() const noexcept { return mode_; }
  int binnum() const noexcept { return binnum_; }
  std::span<const std::uint64_t> counts() const noexcept { return h_; }
  std::size_t size() const noexcept { return h_.size(); }
  float range_absmax() const noexcept { return absmax_; }  // Mode A
  int exponent() const noexcept { return e_; }             // Mode B, kNoRange while empty
  bool has_range() const noexcept { return mode_ == HistMode::two_pass || e_ != kNoRange; }

  // Bin width w: bin k covers [k*w, (k+1)*w). Mode A: absmax/N. Mode B: 2^e / M (0 while empty).
  double bin_width() const noexcept {
    if (mode_ == HistMode::two_pass) return static_cast<double>(absmax_) / binnum_;
    if (e_ == kNoRange) return 0.0;
    return std::ldexp(1.0, e_ - log2_bins());
  }

  std::uint64_t total() const noexcept {
    std::uint64_t s = 0;
    for (auto c : h_) s += c;
    return s;
  }
  // Index of the last non-empty bin + 1 (0 when empty).
  std::size_t used_bins() const noexcept {
    std::size_t k = h_.size();
    while (k > 0 && h_[k - 1] == 0) --k;
    return k;
  }

  // Adds the finite non-zero |x| of a batch. Uses octet::num_threads() threads for large
  // batches; per-thread integer histograms are summed, so the result is thread-count free.
  void update(std::span<const float> x) {
    if (h_.empty()) throw UsageError(error_text("histogram", "update on an unconfigured histogram"));
    if (mode_ == HistMode::dyadic) {
      const float am = finite_absmax(x);
      if (am == 0.0f) return;  // only zeros / non-finite: nothing to bin
      int ex = 0;
      std::frexp(am, &ex);  // am < 2^ex, am >= 2^(ex-1): the smallest e with all a < 2^e
      if (e_ == kNoRange)
        e_ = ex;
      else if (ex > e_)
        coarsen(ex - e_);
      const int k = log2_bins() - e_;  // index = a * 2^k, exact
      if (k > 127) {                   // 2^k not a float: tiny data, rare; exact in double
        const double m = std::ldexp(1.0, k);
        for (float v : x) {
          const float a = std::fabs(v);
          if (a > 0.0f && a <= FLT_MAX) ++h_[static_cast<std::size_t>(static_cast<double>(a) * m)];
        }
        return;
      }
      accumulate(x, std::ldexp(1.0f, k));
      return;
    }
    if (mult_ == 0.0f) {  // absmax 0 announced: any non-zero value goes to the last bin
      for (float v : x) {
        const float a = std::fabs(v);
        if (a > 0.0f && a <= FLT_MAX) ++h_.back();
      }
      return;
    }
    if (!(mult_ <= FLT_MAX)) {  // tiny (subnormal) absmax: N/absmax is not a float; use double
      const double m = static_cast<double>(binnum_) / static_cast<double>(absmax_);
      const double top = static_cast<double>(binnum_ - 1);
      for (float v : x) {
        const float a = std::fabs(v);
        if (a > 0.0f && a <= FLT_MAX) ++h_[static_cast<std::size_t>(std::min(std::floor(static_cast<double>(a) * m), top))];
      }
      return;
    }
    accumulate(x, mult_);
  }

  // Order- and split-independent: merge(a, b) == histogram of the concatenated data.
  void merge(const Histogram& o) {
    if (o.h_.empty()) return;
    if (h_.empty()) {
      *this = o;
      return;
    }
    if (mode_ != o.mode_ || binnum_ != o.binnum_)
      throw UsageError(error_text("histogram", "cannot merge histograms of different mode or bin count"));
    if (mode_ == HistMode::two_pass) {
      if (std::bit_cast<std::uint32_t>(absmax_) != std::bit_cast<std::uint32_t>(o.absmax_))
        throw UsageError(error_text("histogram", "cannot merge two-pass histograms over different absmax"));
      for (std::size_t k = 0; k < h_.size(); ++k) h_[k] += o.h_[k];
      return;
    }
    if (o.e_ == kNoRange) return;
    if (e_ == kNoRange) {
      *this = o;
      return;
    }
    if (o.e_ > e_) {
      coarsen(o.e_ - e_);
      for (std::size_t k = 0; k < h_.size(); ++k) h_[k] += o.h_[k];
    } else {
      Histogram c = o;
      c.coarsen(e_ - o.e_);
      for (std::size_t k = 0; k < h_.size(); ++k) h_[k] += c.h_[k];
    }
  }

  bool operator==(const Histogram& o) const noexcept {
    return mode_ == o.mode_ && binnum_ == o.binnum_ &&
           std::bit_cast<std::uint32_t>(absmax_) == std::bit_cast<std::uint32_t>(o.absmax_) &&
           e_ == o.e_ && h_ == o.h_;
  }

  // Rebuilds a histogram from stored fields (deserialisation); validates sizes.
  static Histogram restore(HistMode mode, int binnum, float absmax, int e,
                           std::vector<std::uint64_t> counts) {
    Histogram h = mode == HistMode::two_pass ? two_pass(binnum, absmax) : dyadic(binnum);
    if (counts.size() != h.h_.size())
      throw UsageError(error_text("histogram", "stored bin count does not match the mode"));
    h.e_ = mode == HistMode::dyadic ? e : kNoRange;
    h.h_ = std::move(counts);
    return h;
  }

  // h'[k] = sum_{j < 2^d} h[k*2^d + j]: the histogram on the grid of exponent e + d. Exact,
  // because floor(floor(y) / 2^d) = floor(y / 2^d).
  void coarsen(int d) {
    if (mode_ != HistMode::dyadic || d <= 0) return;
    const int lb = log2_bins() + 1;  // log2 M
    if (d >= lb) {
      std::uint64_t s = total();
      std::fill(h_.begin(), h_.end(), 0);
      h_[0] = s;
    } else {
      const std::size_t step = std::size_t{1} << d, m = h_.size();
      for (std::size_t k = 0; k < m / step; ++k) {
        std::uint64_t s = 0;
        for (std::size_t j = 0; j < step; ++j) s += h_[k * step + j];
        h_[k] = s;
      }
      std::fill(h_.begin() + static_cast<std::ptrdiff_t>(m / step), h_.end(), 0);
    }
    e_ += d;
  }

 private:
  friend class StreamingStats;
  int log2_bins() const noexcept {  // log2 of the bins per range unit: Mode B, M = 2*binnum
    return std::countr_zero(static_cast<unsigned>(h_.size()));
  }

  static float finite_absmax(std::span<const float> x) noexcept {
    float am = 0.0f;
    const float* p = x.data();
    const std::size_t n = x.size();
#pragma omp simd reduction(max : am)
    for (std::size_t i = 0; i < n; ++i) {
      const float a = std::fabs(p[i]);
      const float aa = a <= FLT_MAX ? a : 0.0f;
      am = aa > am ? aa : am;
    }
    return am;
  }

  // Index = min(a * mult, N-1) truncated. NaN and Inf land in the last bin and zeros in bin 0;
  // both are counted on the side and subtracted, so the hot loop has no branch and vectorises
  // up to the scatter. The scatter goes to 4 interleaved sub-histograms (32-bit, chunk-bounded)
  // so repeated bins do not serialise on one counter.
  void accumulate(std::span<const float> x, float mult) {
    const std::size_t nb = h_.size();
    const int threads = octet::num_threads();
    constexpr std::size_t kPerThreadMin = std::size_t{1} << 18;
    const std::size_t parts =
        threads <= 1 ? 1 : std::min<std::size_t>(static_cast<std::size_t>(threads), x.size() / kPerThreadMin);
    if (parts <= 1) {
      accumulate_serial(x.data(), x.size(), mult, h_.data(), nb);
      return;
    }
    std::vector<std::vector<std::uint64_t>> local(parts, std::vector<std::uint64_t>(nb, 0));
    const std::size_t per = (x.size() + parts - 1) / parts;
#pragma omp parallel for num_threads(static_cast<int>(parts)) schedule(static)
    for (std::ptrdiff_t p = 0; p < static_cast<std::ptrdiff_t>(parts); ++p) {
      const std::size_t b = static_cast<std::size_t>(p) * per;
      const std::size_t e = std::min(x.size(), b + per);
      if (b < e) accumulate_serial(x.data() + b, e - b, mult, local[static_cast<std::size_t>(p)].data(), nb);
    }
    for (const auto& l : local)
      for (std::size_t k = 0; k < nb; ++k) h_[k] += l[k];
  }

  static void accumulate_serial(const float* x, std::size_t n, float mult, std::uint64_t* h,
                                std::size_t nb) {
    constexpr std::size_t kChunk = 1024;
    alignas(64) std::uint32_t idx[kChunk];
    std::vector<std::uint32_t> sub(4 * nb, 0);
    const float top = static_cast<float>(nb - 1);
    std::uint64_t zeros = 0, bad_total = 0;  // landed in bin 0 / bin nb-1, taken out at flush
    for (std::size_t b = 0; b < n; b += kChunk) {
      const std::size_t len = std::min(kChunk, n - b);
      const float* xb = x + b;
      std::uint32_t z = 0, bad = 0;
#pragma omp simd reduction(+ : z, bad)
      for (std::size_t i = 0; i < len; ++i) {
        const float a = std::fabs(xb[i]);
        float f = a * mult;
        f = f < top ? f : top;  // NaN/Inf -> top
        idx[i] = static_cast<std::uint32_t>(static_cast<std::int32_t>(f));
        z += (a == 0.0f);
        bad += !(a <= FLT_MAX);
      }
      zeros += z;
      bad_total += bad;
      std::size_t i = 0;
      for (; i + 4 <= len; i += 4) {
        ++sub[idx[i] * 4 + 0];
        ++sub[idx[i + 1] * 4 + 1];
        ++sub[idx[i + 2] * 4 + 2];
        ++sub[idx[i + 3] * 4 + 3];
      }
      for (; i < len; ++i) ++sub[idx[i] * 4];
      // 32-bit lanes: flush long before 2^32 (a chunk adds at most kChunk to one lane).
      if ((b / kChunk) % 1024 == 1023 || b + kChunk >= n) {
        for (std::size_t k = 0; k < nb; ++k)
          h[k] += static_cast<std::uint64_t>(sub[4 * k]) + sub[4 * k + 1] + sub[4 * k + 2] + sub[4 * k + 3];
        h[0] -= zeros;
        h[nb - 1] -= bad_total;
        zeros = bad_total = 0;
        std::fill(sub.begin(), sub.end(), 0);
      }
    }
  }

  HistMode mode_ = HistMode::two_pass;
  int binnum_ = 0;
  float absmax_ = 0.0f;  // Mode A range
  float mult_ = 0.0f;    // Mode A: fl(N / absmax)
  int e_ = kNoRange;     // Mode B exponent
  std::vector<std::uint64_t> h_;
};

// ---- one tensor -----------------------------------------------------------------------------

// Mode A: pass1() over all batches, begin_pass2(), pass2() over all batches again.
// Mode B: update() once per batch. Range-only (Mode B without a histogram): update() keeps the
// RangeStats alone; for blobs whose threshold is propagated from another blob.
struct TensorStats {
  HistMode mode = HistMode::two_pass;
  int binnum = 2048;
  RangeStats range;
  Histogram hist;  // Mode A: empty until begin_pass2(); Mode B: empty = range-only

  static TensorStats two_pass(int binnum) {
    TensorStats t;
    t.mode = HistMode::two_pass;
    t.binnum = binnum;
    return t;
  }
  static TensorStats dyadic(int binnum) {
    TensorStats t;
    t.mode = HistMode::dyadic;
    t.binnum = binnum;
    t.hist = Histogram::dyadic(binnum);
    return t;
  }
  // binnum is kept (and checked against -th_binnum on load) so a file stays one bin setting.
  static TensorStats range_only(int binnum) {
    TensorStats t;
    t.mode = HistMode::dyadic;
    t.binnum = binnum;
    return t;
  }
  bool has_histogram() const noexcept { return hist.size() != 0; }
  bool is_range_only() const noexcept { return mode == HistMode::dyadic && !has_histogram(); }

  void pass1(std::span<const float> x) noexcept { range.update(x); }
  void begin_pass2() { hist = Histogram::two_pass(binnum, range.absmax); }
  void pass2(std::span<const float> x) { hist.update(x); }
  void update(std::span<const float> x) {
    if (mode != HistMode::dyadic)
      throw UsageError(error_text("statistics", "update() is the single-pass (dyadic) entry; use pass1/pass2"));
    range.update(x);
    if (has_histogram()) hist.update(x);
  }
  // A range-only side makes the result range-only: a histogram that saw only part of the
  // values would be wrong, and dropping it keeps merge commutative and split-independent.
  void merge(const TensorStats& o) {
    if (mode != o.mode || binnum != o.binnum)
      throw UsageError(error_text("statistics", "cannot merge statistics of different mode or bin count"));
    range.merge(o.range);
    if (mode == HistMode::dyadic && (is_range_only() || o.is_range_only())) {
      hist = Histogram();
      return;
    }
    hist.merge(o.hist);
  }
  bool operator==(const TensorStats&) const = default;
};

// Mode B for a stream of small batches, equal to TensorStats::update over the same batches
// (same multiset, same final grid). TensorStats::update pays per call an absmax pass of its own
// and a scratch lane histogram allocated, zeroed and folded over all 2·binnum bins; on a small
// net's activations (a few thousand values per blob per forward) that fixed cost dominated.
// Here the 32-bit lane histogram lives across calls (folded into the 64-bit counts only before
// the grid coarsens, before a lane could overflow, and at finish()), and each chunk of 1024
// values is read once for range and bin index together, binned on the current grid; a chunk
// that does not fit the grid (rare: the range only grows) is redone after coarsening. Binning
// a chunk on an older, finer grid and coarsening later is exact (floor(floor(y)/2^d) =
// floor(y/2^d)), so the counts do not depend on chunking, batch size or order.
// With AVX-512 the index loop also drops zeros and NaN/Inf (mask compress), so the scatter
// skips the zeros of ReLU outputs; the portable loop bins them to the first / last bin and
// takes them out at the fold with the range scan's exact counts. `simd = false` forces the
// portable loop (tests compare the two).
class StreamingStats {
 public:
  StreamingStats(int binnum, bool histogram, bool simd = true)
      : t_(histogram ? TensorStats::dyadic(binnum) : TensorStats::range_only(binnum)), simd_(simd) {
    if (histogram) lanes_.assign(kLanes * t_.hist.size(), 0);
  }

  void update(std::span<const float> x) {
    if (!t_.has_histogram()) {
#if defined(__AVX512F__)
      if (simd_) {
        for (std::size_t b = 0; b < x.size(); b += kChunk) {
          RangeStats r;
          scan_avx512<false>(x.data() + b, std::min(kChunk, x.size() - b), 0.0f, r);
          t_.range.merge(r);
        }
        return;
      }
#endif
      t_.range.update(x);
      return;
    }
    if (threaded(x.size())) {
      fold();  // large batches: the Histogram's threaded path
      t_.update(x);
      return;
    }
    for (std::size_t b = 0; b < x.size(); b += kChunk) chunk(x.data() + b, std::min(kChunk, x.size() - b));
  }

  // xs.update(x) and ys.update(y) for y = ReLU(x) (negative slope 0: y = x where x > 0, a zero
  // elsewhere), with xs range-only and ys histogrammed, from one read of x: y's range, zeros and
  // bin indices follow from x's positive values. Exact for every finite x whatever the sign of
  // the zeros the kernel writes (zeros are counted, never binned, and min/max canonicalise
  // them). A chunk the fast path cannot take (NaN/Inf in x, y's grid not set or too small) is
  // collected from x and y as the two updates would, so y must hold ReLU(x) already.
  static void update_relu(StreamingStats& xs, StreamingStats& ys, std::span<const float> x, std::span<const float> y) {
    if (x.size() != y.size() || xs.t_.has_histogram() || !ys.t_.has_histogram())
      throw UsageError(error_text("statistics", "update_relu needs a range-only x and a histogram y of one size"));
#if defined(__AVX512F__)
    if (xs.simd_ && ys.simd_ && !ys.threaded(x.size())) {
      Histogram& h = ys.t_.hist;
      for (std::size_t b = 0; b < x.size(); b += kChunk) {
        const std::size_t n = std::min(kChunk, x.size() - b);
        if (ys.pending_ + n > kFoldAt) ys.fold();
        if (h.e_ != Histogram::kNoRange && h.log2_bins() - h.e_ <= 127) {
          RangeStats rx, ry;
          const std::size_t m = ys.scan_relu_avx512(x.data() + b, n, pow2f(h.log2_bins() - h.e_), rx, ry);
          if (m != kNoFast && ry.absmax < pow2f(h.e_)) {
            xs.t_.range.merge(rx);
            ys.t_.range.merge(ry);
            ys.scatter(m);
            ys.pending_ += m;
            continue;
          }
        }
        xs.update(x.subspan(b, n));
        ys.chunk(y.data() + b, n);
      }
      return;
    }
#endif
    xs.update(x);
    ys.update(y);
  }

  const RangeStats& range() const noexcept { return t_.range; }

  // Off: never the Histogram's threaded path, whatever octet::num_threads() says (for a
  // collector fed from a thread of its own while the owner's kernels use the other cores).
  void set_threaded(bool on) noexcept { threaded_ = on; }

  // The statistics so far (the collector stays usable).
  TensorStats finish() {
    fold();
    return t_;
  }
  // The statistics, moved out: the collector is spent. Saves finish()'s copy of the histogram
  // and the zeroing of the lanes, which a calibration pays once per blob.
  TensorStats release() && {
    fold(false);
    return std::move(t_);
  }

 private:
  // Real activations repeat bins a lot (a normalised input's background level, near-zero
  // conv outputs): with one counter per bin the scatter serialised on them (2.5x slower on
  // resnet8 than 4 lanes, though equal on synthetic normal data). Two lanes scatter as fast as
  // four (replaying resnet8's bin streams: 1.15 vs 1.16-1.18 TSC ticks per value) in half the
  // memory, which every calibration allocates, zeroes and folds once per blob.
  static constexpr std::size_t kLanes = 2;
  // A lane gains at most one count per value: fold long before 2^32.
  static constexpr std::uint64_t kFoldAt = std::uint64_t{1} << 31;
  static constexpr std::size_t kChunk = 1024;

  // Large batches take the Histogram's threaded path (the lanes are folded first).
  bool threaded(std::size_t n) const noexcept {
    return threaded_ && n >= (std::size_t{1} << 19) && octet::num_threads() > 1;
  }

  void chunk(const float* x, std::size_t n) {
    Histogram& h = t_.hist;
    if (pending_ + n > kFoldAt) fold();
    if (h.e_ != Histogram::kNoRange && h.log2_bins() - h.e_ <= 127) {
      const float mult = pow2f(h.log2_bins() - h.e_);
      const float limit = pow2f(h.e_);  // every binned |x| must be below (inf for e = 128)
#if defined(__AVX512F__)
      if (simd_) {
        RangeStats r;
        const std::size_t m = scan_avx512<true>(x, n, mult, r);
        if (r.absmax < limit) {
          t_.range.merge(r);
          scatter(m);
          pending_ += m;
          return;
        }
      } else
#endif
      {
        RangeStats r;
        r.update(std::span<const float>(x, n));
        if (r.absmax < limit) {
          t_.range.merge(r);
          index_portable(x, n, mult);
          scatter(n);
          pending_ += n;
          zeros_ += r.zeros;
          bad_ += r.nonfinite;
          return;
        }
      }
    }
    // First values, or a chunk beyond the grid: set or coarsen the grid, then bin.
    RangeStats r;
    r.update(std::span<const float>(x, n));
    t_.range.merge(r);
    if (r.absmax == 0.0f) return;  // only zeros / NaN / Inf: nothing to bin
    int ex = 0;
    std::frexp(r.absmax, &ex);  // the smallest e with every finite |x| < 2^e
    if (h.e_ == Histogram::kNoRange) {
      h.e_ = ex;
    } else if (ex > h.e_) {
      fold();
      h.coarsen(ex - h.e_);
    }
    const int k = h.log2_bins() - h.e_;
    if (k > 127) {  // tiny values: 2^k is not a float; the Histogram's exact double path
      fold();
      h.update(std::span<const float>(x, n));
      return;
    }
    index_portable(x, n, std::ldexp(1.0f, k));
    scatter(n);
    pending_ += n;
    zeros_ += r.zeros;
    bad_ += r.nonfinite;
  }

  // 2^k exactly, as std::ldexp(1.0f, k) gives it; built from the bits in the normal range
  // because the libm call per 1024-value chunk showed in profiles.
  static float pow2f(int k) noexcept {
    return k >= -126 && k <= 127 ? std::bit_cast<float>(static_cast<std::uint32_t>(k + 127) << 23)
                                 : std::ldexp(1.0f, k);
  }

  // idx_[i] = min(|x| * mult, M-1) truncated; NaN/Inf reach M-1, zeros 0.
  void index_portable(const float* x, std::size_t n, float mult) {
    const float top = static_cast<float>(t_.hist.size() - 1);
    std::uint32_t* idx = idx_;
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) {
      float f = std::fabs(x[i]) * mult;
      f = f < top ? f : top;
      idx[i] = static_cast<std::uint32_t>(static_cast<std::int32_t>(f));
    }
  }

#if defined(__AVX512F__)
  static constexpr std::size_t kNoFast = ~std::size_t{0};

  // Which values of a chunk scan_fast writes bin indices for.
  enum class Bins { None, NonZero, Positive };

  // One read of the chunk (n <= kChunk): its RangeStats into r and the bin indices (|x| * mult,
  // truncated) of its non-zero (or positive: a ReLU's output) values compressed into idx_;
  // returns how many, or kNoFast when x has NaN/Inf (r is then not set). The indices are valid
  // only when r.absmax < 2^e (checked by the caller). No masks for NaN/Inf: |x| as integers is
  // order-preserving, so one integer max gives absmax and detects them (exponent all ones).
  template <Bins kBins>
  std::size_t scan_fast(const float* x, std::size_t n, float mult, RangeStats& r) {
    // Two accumulator sets over alternate vectors: min/max have a 4-cycle latency, and with one
    // set their chains, not the ports, bounded the loop (positive scan 7.3 -> 4.9 TSC ticks per
    // 16 values in a standalone loop). Full vectors run unmasked; the tail is masked.
    ScanAcc a0, a1;
    std::uint32_t* out = idx_;
    for_each_vector(x, n, a0, a1,
                    [&](__m512 v, __mmask16 live, ScanAcc& a) { out = scan_step<kBins>(v, live, mult, a, out); });
    const std::uint32_t amax = _mm512_reduce_max_epu32(_mm512_max_epu32(a0.am, a1.am));
    if (amax >= 0x7f800000u) return kNoFast;
    const auto m = static_cast<std::size_t>(out - idx_);
    r.n = n;
    r.nonfinite = 0;
    r.zeros = kBins == Bins::NonZero ? n - m
                                     : static_cast<std::uint64_t>(_mm512_reduce_add_epi32(_mm512_add_epi32(a0.cz, a1.cz)));
    // zeros are canonicalised to +0 (a -0 min/max would depend on the order)
    r.min = _mm512_reduce_min_ps(_mm512_min_ps(a0.mn, a1.mn)) + 0.0f;
    r.max = _mm512_reduce_max_ps(_mm512_max_ps(a0.mx, a1.mx)) + 0.0f;
    r.absmax = n ? std::bit_cast<float>(amax) : 0.0f;
    if (n == 0) r.min = std::numeric_limits<float>::infinity(), r.max = -r.min;
    return m;
  }

  // step(v, live, acc) over x[0, n): full vectors alternately on a0 and a1 (two chains through
  // the accumulators, see scan_fast), then the tail masked on a0 (lanes outside `live` are +0).
  template <class Acc, class Step>
  static void for_each_vector(const float* x, std::size_t n, Acc& a0, Acc& a1, Step&& step) {
    std::size_t i = 0;
    for (; i + 32 <= n; i += 32) {
      step(_mm512_loadu_ps(x + i), __mmask16(0xffff), a0);
      step(_mm512_loadu_ps(x + i + 16), __mmask16(0xffff), a1);
    }
    for (; i < n; i += 16) {
      const __mmask16 live = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
      step(_mm512_maskz_loadu_ps(live, x + i), live, a0);
    }
  }

  struct ScanAcc {
    __m512 mn = _mm512_set1_ps(std::numeric_limits<float>::infinity());
    __m512 mx = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
    __m512i am = _mm512_setzero_si512(), cz = _mm512_setzero_si512();
  };

  // scan_fast's work on one vector v (lanes outside `live` are +0 and ignored); appends the
  // kept indices at out and returns the new end.
  template <Bins kBins>
  static std::uint32_t* scan_step(__m512 v, __mmask16 live, float mult, ScanAcc& a, std::uint32_t* out) {
    const __m512i ai = _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(0x7fffffff));
    a.am = _mm512_max_epu32(a.am, ai);
    a.mn = _mm512_mask_min_ps(a.mn, live, a.mn, v);
    a.mx = _mm512_mask_max_ps(a.mx, live, a.mx, v);
    // Indexing every non-zero value gives the zeros as n - m; otherwise count them.
    if constexpr (kBins != Bins::NonZero)
      a.cz = _mm512_mask_add_epi32(a.cz, _mm512_mask_testn_epi32_mask(live, ai, ai), a.cz, _mm512_set1_epi32(1));
    if constexpr (kBins != Bins::None) {
      // No clamp to M-1: with every |x| < 2^e the index is < M, and a chunk where that
      // fails (or with NaN/Inf) is not scattered but redone. Masked-off lanes are +0.
      const __mmask16 keep = kBins == Bins::NonZero ? _mm512_test_epi32_mask(ai, ai)
                                                    : _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ);
      const __m512i k = _mm512_cvttps_epi32(_mm512_mul_ps(_mm512_castsi512_ps(ai), _mm512_set1_ps(mult)));
      _mm512_storeu_si512(out, _mm512_maskz_compress_epi32(keep, k));
      out += std::popcount(static_cast<unsigned>(keep));
    }
    return out;
  }

  // A chunk with no ±0 (no exact zeros: the common case for a conv output or a ReLU's input)
  // needs neither a zero count nor, for Bins::NonZero, a compress. Four integer min/max over the
  // raw bits give min, max and NaN/Inf in place of scan_fast's |x| mask, integer absmax, float
  // min/max and zero count: for sign-clear values float order is signed-integer order, for
  // sign-set ones unsigned order is magnitude order, +0 is the unsigned minimum and -0 the
  // signed minimum. Returns how many indices it wrote, kNoFast on NaN/Inf, kHasZero when the
  // chunk has a ±0 (r is then not set; the caller rescans with scan_fast). About 10 of
  // scan_fast's 12 vector ops per 16 values for a ReLU pair, 7 of 10 for NonZero: BM_ReluPair
  // one_read 21.5-23.0 -> 18.7-18.8 us; the whole statistics pass on resnet8 ~0.8% faster.
  static constexpr std::size_t kHasZero = kNoFast - 1;
  struct BitsAcc {
    __m512i smax = _mm512_set1_epi32(std::numeric_limits<std::int32_t>::min());
    __m512i smin = _mm512_set1_epi32(std::numeric_limits<std::int32_t>::max());
    __m512i umax = _mm512_setzero_si512(), umin = _mm512_set1_epi32(-1);
  };
  template <Bins kBins>
  std::size_t scan_zero_free(const float* x, std::size_t n, float mult, RangeStats& r) {
    static_assert(kBins != Bins::None);
    BitsAcc a0, a1;
    std::uint32_t* out = idx_;
    const __m512 vmult = _mm512_set1_ps(mult);
    for_each_vector(x, n, a0, a1, [&](__m512 v, __mmask16 live, BitsAcc& a) {
      const __m512i b = _mm512_castps_si512(v);
      a.smax = _mm512_mask_max_epi32(a.smax, live, a.smax, b);
      a.smin = _mm512_mask_min_epi32(a.smin, live, a.smin, b);
      a.umax = _mm512_mask_max_epu32(a.umax, live, a.umax, b);
      a.umin = _mm512_mask_min_epu32(a.umin, live, a.umin, b);
      if constexpr (kBins == Bins::NonZero) {
        // every live value is non-zero: store all 16, keep the live ones
        _mm512_storeu_si512(out, _mm512_cvttps_epi32(_mm512_mul_ps(_mm512_abs_ps(v), vmult)));
        out += std::popcount(static_cast<unsigned>(live));
      } else {
        const __mmask16 keep = _mm512_mask_cmp_ps_mask(live, v, _mm512_setzero_ps(), _CMP_GT_OQ);
        _mm512_storeu_si512(out, _mm512_maskz_compress_epi32(keep, _mm512_cvttps_epi32(_mm512_mul_ps(v, vmult))));
        out += std::popcount(static_cast<unsigned>(keep));
      }
    });
    // Masked forms with a full mask, reduced through memory: GCC 12 raises -Wuninitialized on
    // the _mm512_undefined_epi32() inside the unmasked integer min/max and the reductions here.
    constexpr __mmask16 all = 0xffff;
    alignas(64) std::int32_t s_max[16], s_min[16];
    alignas(64) std::uint32_t u_max[16], u_min[16];
    _mm512_store_si512(s_max, _mm512_mask_max_epi32(a0.smax, all, a0.smax, a1.smax));
    _mm512_store_si512(s_min, _mm512_mask_min_epi32(a0.smin, all, a0.smin, a1.smin));
    _mm512_store_si512(u_max, _mm512_mask_max_epu32(a0.umax, all, a0.umax, a1.umax));
    _mm512_store_si512(u_min, _mm512_mask_min_epu32(a0.umin, all, a0.umin, a1.umin));
    const std::int32_t smax = *std::max_element(s_max, s_max + 16), smin = *std::min_element(s_min, s_min + 16);
    const std::uint32_t umax = *std::max_element(u_max, u_max + 16), umin = *std::min_element(u_min, u_min + 16);
    if (smax >= 0x7f800000 || umax >= 0xff800000u) return kNoFast;  // +-NaN / +-Inf
    if (umin == 0 || smin == std::numeric_limits<std::int32_t>::min()) return kHasZero;
    const bool any_clear = smax >= 0, any_set = umax >= 0x80000000u;
    r.n = n;
    r.zeros = 0;
    r.nonfinite = 0;
    r.max = std::bit_cast<float>(any_clear ? static_cast<std::uint32_t>(smax) : umin);
    r.min = std::bit_cast<float>(any_set ? umax : umin);
    r.absmax = std::max(r.max, -r.min);
    return static_cast<std::size_t>(out - idx_);
  }

  // scan_zero_free while chunks with a ±0 stay rare (at most about 1 in 8 of those tried; each
  // costs a second scan), scan_fast after that. On resnet8 about 1 chunk in 2600 of a ReLU's
  // input has an exact zero; a ReLU output read directly has zeros in every chunk.
  template <Bins kBins>
  std::size_t scan_adaptive(const float* x, std::size_t n, float mult, RangeStats& r) {
    if (n > 0 && zero_chunks_ * 8 <= tried_chunks_ + 8) {
      ++tried_chunks_;
      const std::size_t m = scan_zero_free<kBins>(x, n, mult, r);
      if (m != kHasZero) return m;
      ++zero_chunks_;
    }
    return scan_fast<kBins>(x, n, mult, r);
  }

  // scan_fast, with the masked rescan for a chunk that has NaN/Inf; with kIndex the bin
  // indices of the finite non-zero values.
  template <bool kIndex>
  std::size_t scan_avx512(const float* x, std::size_t n, float mult, RangeStats& r) {
    const std::size_t m = kIndex ? scan_adaptive<Bins::NonZero>(x, n, mult, r) : scan_fast<Bins::None>(x, n, mult, r);
    return m == kNoFast ? scan_masked_avx512<kIndex>(x, n, mult, r) : m;
  }

  // update_relu's read of x (n <= kChunk): x's RangeStats into rx, y = ReLU(x)'s into ry, and
  // the indices of x's positive values (y's non-zero ones) into idx_; returns how many, or
  // kNoFast when x has NaN/Inf or is empty (the caller then reads the chunk of y).
  std::size_t scan_relu_avx512(const float* x, std::size_t n, float mult, RangeStats& rx, RangeStats& ry) {
    if (n == 0) return kNoFast;
    const std::size_t m = scan_adaptive<Bins::Positive>(x, n, mult, rx);
    if (m == kNoFast) return kNoFast;
    ry.n = n;
    ry.nonfinite = 0;
    ry.zeros = n - m;
    ry.min = m == n ? rx.min : 0.0f;
    ry.max = m > 0 ? rx.max : 0.0f;
    ry.absmax = ry.max;
    return m;
  }

  // The same with NaN/Inf: they are counted and left out of everything else.
  template <bool kIndex>
  std::size_t scan_masked_avx512(const float* x, std::size_t n, float mult, RangeStats& r) {
    const __m512 sign = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
    const __m512 vmult = _mm512_set1_ps(mult), vtop = _mm512_set1_ps(static_cast<float>(t_.hist.size() - 1));
    const __m512 fmax = _mm512_set1_ps(FLT_MAX), zero = _mm512_setzero_ps();
    const __m512i one = _mm512_set1_epi32(1);
    __m512 mn = _mm512_set1_ps(std::numeric_limits<float>::infinity());
    __m512 mx = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
    __m512i cz = _mm512_setzero_si512(), cb = _mm512_setzero_si512();
    std::size_t m = 0;
    for (std::size_t i = 0; i < n; i += 16) {
      const __mmask16 live = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
      const __m512 v = _mm512_maskz_loadu_ps(live, x + i);
      const __m512 a = _mm512_and_ps(v, sign);
      const __mmask16 fin = _mm512_mask_cmp_ps_mask(live, a, fmax, _CMP_LE_OQ);  // not NaN / Inf
      const __mmask16 zm = _mm512_mask_cmp_ps_mask(fin, a, zero, _CMP_EQ_OQ);    // +0 and -0
      cb = _mm512_mask_add_epi32(cb, _kandn_mask16(fin, live), cb, one);
      cz = _mm512_mask_add_epi32(cz, zm, cz, one);
      mn = _mm512_mask_min_ps(mn, fin, mn, v);
      mx = _mm512_mask_max_ps(mx, fin, mx, v);
      if constexpr (kIndex) {
        const __mmask16 nz = _kandn_mask16(zm, fin);
        const __m512 f = _mm512_min_ps(_mm512_mul_ps(a, vmult), vtop);
        const __m512i k = _mm512_cvttps_epi32(f);
        _mm512_storeu_si512(idx_ + m, _mm512_maskz_compress_epi32(nz, k));
        m += static_cast<std::size_t>(std::popcount(static_cast<unsigned>(nz)));
      }
    }
    const auto bad = static_cast<std::uint64_t>(_mm512_reduce_add_epi32(cb));
    r.n = n - bad;
    r.zeros = static_cast<std::uint64_t>(_mm512_reduce_add_epi32(cz));
    r.nonfinite = bad;
    r.min = _mm512_reduce_min_ps(mn);
    r.max = _mm512_reduce_max_ps(mx);
    if (r.n) r.min += 0.0f, r.max += 0.0f;
    r.absmax = r.n ? std::max(std::fabs(r.min), std::fabs(r.max)) : 0.0f;
    return m;
  }
#endif

  // kLanes counters per bin, side by side (bin k, lane j at k·kLanes + j), element i going to
  // lane i % kLanes: runs of one bin do not serialise on one counter. Side by side rather than
  // one array per lane, so a bin met in both lanes costs one cache line, not two: the lanes'
  // lines mostly come from L2 (replaying resnet8's bin streams: 0.90 TSC ticks per value with
  // the lanes in L1, 1.03-1.15 without; side by side 1.05-1.10). In-process A/B on resnet8:
  // -0.4% for the whole statistics pass (median of 6 runs).
  void scatter(std::size_t n) {
    static_assert(kLanes == 2);
    std::uint32_t* l0 = lanes_.data();
    std::uint32_t* l1 = l0 + 1;
    const std::uint32_t* idx = idx_;
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      ++l0[std::size_t{idx[i]} * kLanes];
      ++l1[std::size_t{idx[i + 1]} * kLanes];
      ++l0[std::size_t{idx[i + 2]} * kLanes];
      ++l1[std::size_t{idx[i + 3]} * kLanes];
      ++l0[std::size_t{idx[i + 4]} * kLanes];
      ++l1[std::size_t{idx[i + 5]} * kLanes];
      ++l0[std::size_t{idx[i + 6]} * kLanes];
      ++l1[std::size_t{idx[i + 7]} * kLanes];
    }
    for (; i < n; ++i) ++l0[std::size_t{idx[i]} * kLanes];
  }

  void fold(bool reuse = true) {
    if (pending_ == 0) return;
    std::vector<std::uint64_t>& h = t_.hist.h_;
    const std::size_t nb = h.size();
    for (std::size_t k = 0; k < nb; ++k) {
      std::uint64_t s = 0;
      for (std::size_t j = 0; j < kLanes; ++j) s += lanes_[k * kLanes + j];
      h[k] += s;
    }
    h[0] -= zeros_;
    h[nb - 1] -= bad_;
    if (reuse) std::fill(lanes_.begin(), lanes_.end(), 0);
    pending_ = zeros_ = bad_ = 0;
  }

  TensorStats t_;
  bool simd_ = true;
  bool threaded_ = true;
  std::vector<std::uint32_t> lanes_;   // kLanes counters per bin, side by side
  std::uint64_t pending_ = 0;          // values scattered since the last fold
  std::uint64_t zeros_ = 0, bad_ = 0;  // of those, exact zeros (bin 0) and NaN/Inf (last bin)
  std::uint64_t tried_chunks_ = 0, zero_chunks_ = 0;  // scan_adaptive's zero-free tries, and those with a ±0
  alignas(64) std::uint32_t idx_[kChunk + 16];
};

// What the threshold methods read. h covers non-zero finite |x|; bin k is [k*w, (k+1)*w).
struct HistogramView {
  std::span<const std::uint64_t> h;
  double w = 0.0;
  std::uint64_t n = 0;  // finite elements, zeros included
  std::uint64_t z = 0;  // exact zeros
  double absmax = 0.0;
  double min = 0.0, max = 0.0;
  std::uint64_t nonzero() const noexcept {
    std::uint64_t s = 0;
    for (auto c : h) s += c;
    return s;
  }
};

// Mode A: all N bins. Mode B: truncated after the last non-empty bin (at least binnum + 1
// bins, since absmax >= R/2), so methods see only the occupied range.
inline HistogramView view(const TensorStats& t) {
  HistogramView v;
  const auto c = t.hist.counts();
  v.h = t.hist.mode() == HistMode::dyadic ? c.first(t.hist.used_bins()) : c;
  v.w = t.hist.bin_width();
  v.n = t.range.n;
  v.z = t.range.zeros;
  v.absmax = t.range.absmax;
  v.min = t.range.n ? t.range.min : 0.0;
  v.max = t.range.n ? t.range.max : 0.0;
  return v;
}

// ---- serialisation (-dump_dist / -load_dist) -----------------------------------------------
// Text, versioned, exact (floats as C99 hex floats), sparse bins:
//   octet-calib-stats 2
//   tensors <count>
//   tensor <name>                        (name = rest of the line)
//   mode <two_pass|dyadic> binnum <B>
//   range <n> <zeros> <nonfinite> <min> <max> <absmax>
//   hist <absmax|exponent|none|range_only> <nonzero bin count>
//   <bin> <count>                        (one line per non-empty bin, ascending)
//   end
// A final "eof <count>" line catches truncation. Version 2 added `hist range_only 0` (a dyadic
// tensor collected without histogram); version 1 files (every tensor with one) still load.

using NamedStats = std::pair<std::string, TensorStats>;

namespace detail {
inline std::string hexfloat(float f) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a", static_cast<double>(f));
  return buf;
}
}  // namespace detail

inline std::string serialize_stats(const std::vector<NamedStats>& all) {
  std::string out = "octet-calib-stats 2\ntensors " + std::to_string(all.size()) + "\n";
  for (const auto& [name, t] : all) {
    if (name.empty() || name.find('\n') != std::string::npos)
      throw UsageError(error_text("statistics", "tensor name '" + name + "' cannot be serialised"));
    out += "tensor " + name + "\n";
    out += std::string("mode ") + to_string(t.mode) + " binnum " + std::to_string(t.binnum) + "\n";
    out += "range " + std::to_string(t.range.n) + " " + std::to_string(t.range.zeros) + " " +
           std::to_string(t.range.nonfinite) + " " + detail::hexfloat(t.range.min) + " " +
           detail::hexfloat(t.range.max) + " " + detail::hexfloat(t.range.absmax) + "\n";
    const auto c = t.hist.counts();
    std::size_t nz = 0;
    for (auto v : c) nz += v != 0;
    std::string head;
    if (t.is_range_only())
      head = "range_only";
    else if (c.empty())
      head = "none";
    else if (t.hist.mode() == HistMode::two_pass)
      head = detail::hexfloat(t.hist.range_absmax());
    else
      head = t.hist.exponent() == Histogram::kNoRange ? "none" : std::to_string(t.hist.exponent());
    out += "hist " + head + " " + std::to_string(nz) + "\n";
    for (std::size_t k = 0; k < c.size(); ++k)
      if (c[k]) out += std::to_string(k) + " " + std::to_string(c[k]) + "\n";
    out += "end\n";
  }
  out += "eof " + std::to_string(all.size()) + "\n";
  return out;
}

inline std::vector<NamedStats> parse_stats(std::string_view text, const std::string& filename) {
  std::size_t pos = 0, line_no = 0;
  std::string line;
  auto fail = [&](const std::string& what) -> void {
    throw IoError(error_text(filename, "line " + std::to_string(line_no), what));
  };
  auto next = [&]() -> std::string_view {
    if (pos >= text.size()) {
      ++line_no;
      fail("unexpected end of file");
    }
    const std::size_t e = text.find('\n', pos);
    if (e == std::string_view::npos) {
      ++line_no;
      fail("unterminated last line (truncated file?)");
    }
    std::string_view l = text.substr(pos, e - pos);
    pos = e + 1;
    ++line_no;
    return l;
  };
  auto words = [](std::string_view l) {
    std::vector<std::string_view> w;
    std::size_t i = 0;
    while (i < l.size()) {
      while (i < l.size() && l[i] == ' ') ++i;
      std::size_t j = i;
      while (j < l.size() && l[j] != ' ') ++j;
      if (j > i) w.push_back(l.substr(i, j - i));
      i = j;
    }
    return w;
  };
  auto to_u64 = [&](std::string_view s) {
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) fail("bad integer '" + std::string(s) + "'");
    return v;
  };
  auto to_int = [&](std::string_view s) {
    long long v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v < -100000 || v > 100000)
      fail("bad integer '" + std::string(s) + "'");
    return static_cast<int>(v);
  };
  auto to_float = [&](std::string_view s) {
    std::string tmp(s);
    char* end = nullptr;
    const float v = std::strtof(tmp.c_str(), &end);
    if (tmp.empty() || end != tmp.c_str() + tmp.size()) fail("bad float '" + tmp + "'");
    return v;
  };
  auto expect = [&](std::string_view l, std::string_view key, std::size_t count) {
    auto w = words(l);
    if (w.size() != count || w[0] != key)
      fail("expected '" + std::string(key) + "' with " + std::to_string(count - 1) + " fields");
    return w;
  };

  const std::string_view head = next();
  if (head != "octet-calib-stats 1" && head != "octet-calib-stats 2")
    fail("not an octet statistics file (version 1 or 2 header missing)");
  const std::uint64_t count = to_u64(expect(next(), "tensors", 2)[1]);
  std::vector<NamedStats> all;
  for (std::uint64_t t = 0; t < count; ++t) {
    std::string_view l = next();
    if (l.substr(0, 7) != "tensor " || l.size() == 7) fail("expected 'tensor <name>'");
    std::string name(l.substr(7));
    auto m = expect(next(), "mode", 4);
    if (m[2] != "binnum") fail("expected 'binnum'");
    HistMode mode{};
    if (m[1] == "two_pass")
      mode = HistMode::two_pass;
    else if (m[1] == "dyadic")
      mode = HistMode::dyadic;
    else
      fail("unknown histogram mode '" + std::string(m[1]) + "'");
    const int binnum = to_int(m[3]);
    if (binnum < 1 || binnum > (1 << 20)) fail("bad binnum");
    auto r = expect(next(), "range", 7);
    TensorStats ts;
    ts.mode = mode;
    ts.binnum = binnum;
    ts.range.n = to_u64(r[1]);
    ts.range.zeros = to_u64(r[2]);
    ts.range.nonfinite = to_u64(r[3]);
    ts.range.min = to_float(r[4]);
    ts.range.max = to_float(r[5]);
    ts.range.absmax = to_float(r[6]);
    if (ts.range.zeros > ts.range.n) fail("more zeros than elements");
    auto h = expect(next(), "hist", 3);
    const std::uint64_t nz = to_u64(h[2]);
    const bool none = h[1] == "none";
    std::vector<std::uint64_t> counts;
    if (h[1] == "range_only") {
      if (mode != HistMode::dyadic || nz) fail("range_only is a dyadic tensor without bins");
    } else if (!(mode == HistMode::two_pass && none)) {
      const std::size_t size = static_cast<std::size_t>(mode == HistMode::two_pass ? binnum : 2 * binnum);
      counts.assign(size, 0);
      if (nz > size) fail("more non-empty bins than bins");
      std::uint64_t sum = 0;
      std::size_t prev = 0;
      for (std::uint64_t i = 0; i < nz; ++i) {
        auto b = words(next());
        if (b.size() != 2) fail("expected '<bin> <count>'");
        const std::uint64_t k = to_u64(b[0]);
        const std::uint64_t c = to_u64(b[1]);
        if (k >= size || (i > 0 && k <= prev) || c == 0) fail("bins out of range or order");
        prev = static_cast<std::size_t>(k);
        counts[k] = c;
        sum += c;
      }
      if (sum > ts.range.n - ts.range.zeros) fail("histogram holds more values than non-zero elements");
      try {
        if (mode == HistMode::two_pass) {
          ts.hist = Histogram::restore(mode, binnum, to_float(h[1]), 0, std::move(counts));
        } else {
          const int e = none ? Histogram::kNoRange : to_int(h[1]);
          if (none && nz) fail("dyadic histogram without a range has counts");
          ts.hist = Histogram::restore(mode, binnum, 0.0f, e, std::move(counts));
        }
      } catch (const UsageError& ex) {
        fail(ex.what());
      }
    } else if (nz) {
      fail("empty histogram lists bins");
    }
    if (next() != "end") fail("expected 'end'");
    all.emplace_back(std::move(name), std::move(ts));
  }
  auto eof = expect(next(), "eof", 2);
  if (to_u64(eof[1]) != count) fail("tensor count mismatch at eof");
  if (pos != text.size()) {
    ++line_no;
    fail("trailing data after eof");
  }
  return all;
}

inline void save_stats(const std::string& path, const std::vector<NamedStats>& all) {
  octet::atomic_write(path, serialize_stats(all));
}

inline std::vector<NamedStats> load_stats(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw IoError(error_text(path, "cannot open statistics file"));
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_stats(ss.str(), path);
}

}  // namespace octet::calib
