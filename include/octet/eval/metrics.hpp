// Error metrics between a reference tensor (fp32) and a test tensor (int8 dequantised), and
// top-k accuracy. Streaming: PairStats accumulates over any number of element spans (all
// records of a comparison), so every metric is over the concatenation of what was added.
//
// Definitions (a = reference, b = test, n elements, all sums in double):
//   cosine     = Σab / sqrt(Σa² · Σb²)             undefined when Σa² = 0 or Σb² = 0
//   COS (NNTC) = 0.5 + 0.5 · cosine                  in [0, 1], 1 = identical
//   MAPE       = 100 / m · Σ |a − b| / |a|           over the m elements with a ≠ 0 (the zero
//                                                    rule: elements where fp32 == 0 are skipped);
//                                                    undefined when m = 0
//   SQNR (dB)  = 10 · log10(Σa² / Σ(a − b)²)         undefined when Σa² = 0; +inf when b == a
//   max-abs    = max |a − b|                         undefined when n = 0
//   saturation = share of reference elements with |a| > T (the values the quantiser clips at
//                threshold T; |a| == T maps to the full-scale code and is not clipped)
// "Undefined" is std::nullopt, never NaN, so reports can say so in words.
//
// top-k: the label is correct when fewer than k classes score strictly higher than it (ties
// count in the label's favour, as Caffe's Accuracy layer does).
//
// Depends only on the standard library.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>

namespace octet::eval {

struct PairStats {
  int64_t n = 0;
  double dot = 0, ref2 = 0, test2 = 0, err2 = 0;
  double ape_sum = 0;   // Σ |a − b| / |a| over a ≠ 0
  int64_t ape_n = 0;
  double max_abs_err = 0;
  double ref_absmax = 0, test_absmax = 0;

  void add(std::span<const float> ref, std::span<const float> test) {
    const size_t m = std::min(ref.size(), test.size());
    for (size_t i = 0; i < m; ++i) {
      const double a = ref[i], b = test[i], e = a - b;
      dot += a * b;
      ref2 += a * a;
      test2 += b * b;
      err2 += e * e;
      if (a != 0) {
        ape_sum += std::abs(e) / std::abs(a);
        ++ape_n;
      }
      max_abs_err = std::max(max_abs_err, std::abs(e));
      ref_absmax = std::max(ref_absmax, std::abs(a));
      test_absmax = std::max(test_absmax, std::abs(b));
    }
    n += static_cast<int64_t>(m);
  }
  void merge(const PairStats& o) {
    n += o.n;
    dot += o.dot;
    ref2 += o.ref2;
    test2 += o.test2;
    err2 += o.err2;
    ape_sum += o.ape_sum;
    ape_n += o.ape_n;
    max_abs_err = std::max(max_abs_err, o.max_abs_err);
    ref_absmax = std::max(ref_absmax, o.ref_absmax);
    test_absmax = std::max(test_absmax, o.test_absmax);
  }

  std::optional<double> cosine() const {
    if (ref2 <= 0 || test2 <= 0) return std::nullopt;
    return std::clamp(dot / std::sqrt(ref2 * test2), -1.0, 1.0);
  }
  std::optional<double> cos_nntc() const {
    auto c = cosine();
    if (!c) return std::nullopt;
    return 0.5 + 0.5 * *c;
  }
  std::optional<double> mape() const {
    if (ape_n == 0) return std::nullopt;
    return 100.0 * ape_sum / static_cast<double>(ape_n);
  }
  std::optional<double> sqnr_db() const {
    if (ref2 <= 0) return std::nullopt;
    if (err2 <= 0) return std::numeric_limits<double>::infinity();
    return 10.0 * std::log10(ref2 / err2);
  }
  std::optional<double> max_abs() const {
    if (n == 0) return std::nullopt;
    return max_abs_err;
  }
};

// Share of `ref` clipped by a quantiser with threshold T (|x| > T). Counts, so callers can
// stream: saturated / total.
inline int64_t count_saturated(std::span<const float> ref, double threshold) {
  int64_t c = 0;
  for (float v : ref) c += std::abs(static_cast<double>(v)) > threshold;
  return c;
}

// Rank rule above: correct when fewer than k scores are strictly greater than scores[label].
inline bool top_k_correct(std::span<const float> scores, int64_t label, int k) {
  if (label < 0 || label >= static_cast<int64_t>(scores.size())) return false;
  const float s = scores[static_cast<size_t>(label)];
  int higher = 0;
  for (float v : scores) higher += v > s;
  return higher < k;
}

}  // namespace octet::eval
