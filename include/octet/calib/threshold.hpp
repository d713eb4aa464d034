// Threshold (clip value T) selection on a calibration histogram: every NNTC -th_method
// (KL default, SYMKL, JSD, ADMM, ACIQ, MAX, PERCENTILE9999, MSE). Definitions, and the choices
// where peers differ, are in docs/calibration-math.md; they follow
// calibration-algorithms.md §3 ("Octet KL settings" etc.). Pure functions of a HistogramView:
// deterministic (same view -> bit-identical T). Every result is finite and > 0: a dead tensor
// gets the zero guard (T = 1, flagged). Depends on calib/statistics.hpp (HistogramView) and
// core/error.hpp; must not depend on the network runtime, proto or ir/.
#pragma once
#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "octet/calib/statistics.hpp"
#include "octet/core/error.hpp"

namespace octet::calib {

enum class ThMethod : std::uint8_t { KL, SYMKL, JSD, ADMM, ACIQ, MAX, PERCENTILE9999, MSE };

inline constexpr std::string_view kThMethodNames[] = {"KL",  "SYMKL", "JSD",           "ADMM",
                                                      "ACIQ", "MAX",   "PERCENTILE9999", "MSE"};

inline std::string_view to_string(ThMethod m) { return kThMethodNames[static_cast<int>(m)]; }

// Exact NNTC spelling (case-sensitive, as NNTC users type it).
inline ThMethod parse_th_method(std::string_view s) {
  for (int i = 0; i < 8; ++i)
    if (kThMethodNames[i] == s) return static_cast<ThMethod>(i);
  std::string valid;
  for (auto n : kThMethodNames) valid += (valid.empty() ? "" : ", ") + std::string(n);
  throw UsageError(error_text("-th_method", "unknown method '" + std::string(s) + "'", "valid: " + valid));
}

// KL-family parity switches (calibration-algorithms.md §3.3).
enum class FirstBin : std::uint8_t { keep, discard, copy_next };
enum class ThresholdMode : std::uint8_t { edge, next_centre, tpu_mlir };

enum class AciqDist : std::uint8_t { none, laplace, gaussian };

struct ThresholdOptions {
  int levels = 128;       // L: int8 magnitude levels for the KL family
  int start_bin = 128;    // first KL candidate i (clamped to [1, N])
  FirstBin first_bin = FirstBin::keep;
  ThresholdMode threshold_mode = ThresholdMode::edge;
  double symkl_eps = 1e-10;
  int admm_max_iters = 300;
  int bits = 8;                // ACIQ and OCTAV
  bool unsigned_storage = false;  // MSE/ADMM quantiser [0, 255] and OCTAV /12 noise term
  double percentile = 0.9999;
  std::uint64_t aciq_gauss_n = 0;  // n in the range->sigma formula; 0: the view's n (whole set)
  AciqDist aciq_force = AciqDist::none;  // none: pick by lower predicted error (ACIQ "mix")
};

struct ThresholdResult {
  double threshold = 1.0;  // always finite and > 0
  bool guarded = false;    // zero guard applied (dead tensor or degenerate result)
  std::size_t bin = 0;     // KL family: kept bins i*; PERCENTILE: bin k; MSE: grid bin
  double score = std::numeric_limits<double>::quiet_NaN();  // divergence / error at the pick
  AciqDist aciq = AciqDist::none;
  int iterations = 0;      // ADMM / OCTAV iterations run
  std::string note;        // why a fallback or choice was made (logged by the tool)
};

namespace detail {

inline double xlogx(double v) { return v > 0 ? v * std::log(v) : 0.0; }

// Applies the zero guard to anything not finite and > 0 (subnormal counts as zero).
inline ThresholdResult finish(ThresholdResult r, double absmax) {
  if (absmax > 0 && r.threshold > absmax) r.threshold = absmax;  // never beyond the data
  if (!(r.threshold >= static_cast<double>(FLT_MIN)) || !std::isfinite(r.threshold)) {
    r.threshold = 1.0;
    r.guarded = true;
    if (r.note.empty()) r.note = "zero guard: degenerate threshold";
  }
  return r;
}

inline ThresholdResult dead(std::string why) {
  ThresholdResult r;
  r.threshold = 1.0;
  r.guarded = true;
  r.note = std::move(why);
  return r;
}

// A histogram method on a live tensor whose histogram was never filled (Mode A pass 2 not run,
// or a -load_dist file without bins) is a usage error, not a dead tensor.
inline void require_histogram(const HistogramView& v, std::string_view method) {
  if (v.absmax > 0 && (v.h.empty() || v.nonzero() == 0) && v.n > v.z)
    throw UsageError(error_text("-th_method " + std::string(method),
                                "tensor has non-zero values but no histogram (pass 2 not run?)"));
}

inline bool is_dead(const HistogramView& v) {
  return !(v.absmax > 0) || !(v.w > 0) || v.h.empty() || v.nonzero() == 0;
}

// First-bin policy applied to a copy (keep = unchanged).
inline std::vector<std::uint64_t> kl_bins(const HistogramView& v, FirstBin fb) {
  std::vector<std::uint64_t> h(v.h.begin(), v.h.end());
  if (fb == FirstBin::discard && !h.empty()) h[0] = 0;
  if (fb == FirstBin::copy_next && h.size() > 1) h[0] = h[1];
  return h;
}

inline double kl_threshold_from(std::size_t i, const HistogramView& v, ThresholdMode m) {
  switch (m) {
    case ThresholdMode::edge: return static_cast<double>(i) * v.w;
    case ThresholdMode::next_centre: return (static_cast<double>(i) + 0.5) * v.w;
    case ThresholdMode::tpu_mlir:
      return v.h.size() > 1 ? static_cast<double>(i) * v.absmax / static_cast<double>(v.h.size() - 1)
                            : v.absmax;
  }
  return static_cast<double>(i) * v.w;
}

// Geometry of candidate i with L groups: group j covers [j*i, (j+1)*i) in units of 1/L bin.
// Computes the per-group density q_j = m_j / c_j (mass over masked width, both scaled by L).
// mask[k] = P[k] > 0 (P = h with the outliers folded into bin i-1).
struct KlCandidate {
  std::vector<double> q;  // size L
  std::uint64_t outliers = 0, p_last = 0, in_range = 0;
};

inline void kl_groups(const std::vector<std::uint64_t>& h, const std::vector<std::uint64_t>& H,
                      const std::vector<std::uint64_t>& C, std::size_t i, std::size_t L,
                      KlCandidate& c) {
  const std::uint64_t S = H.back();
  c.in_range = H[i];
  c.outliers = S - H[i];
  c.p_last = h[i - 1] + c.outliers;
  const bool last_extra = h[i - 1] == 0 && c.outliers > 0;  // bin i-1 masked only through folding
  auto mask = [&](std::size_t k) -> std::uint64_t { return k == i - 1 ? (c.p_last > 0) : (h[k] > 0); };
  c.q.assign(L, 0.0);
  for (std::size_t j = 0; j < L; ++j) {
    const std::size_t b0 = j * i, b1 = (j + 1) * i;
    const std::size_t fs = (b0 + L - 1) / L, fe = b1 / L;  // fully covered bins [fs, fe)
    std::uint64_t m = L * (H[fe] - H[fs]);
    std::uint64_t cnt = L * (C[fe] - C[fs]);
    if (last_extra && fs <= i - 1 && i - 1 < fe) cnt += L;
    if (b0 % L) {
      const std::size_t k = b0 / L, ov = L - b0 % L;
      m += ov * h[k];
      cnt += ov * mask(k);
    }
    if (b1 % L) {
      const std::size_t k = b1 / L, ov = b1 % L;
      m += ov * h[k];
      cnt += ov * mask(k);
    }
    c.q[j] = cnt ? static_cast<double>(m) / static_cast<double>(cnt) : 0.0;
  }
}

// Unnormalised Q[k] for k < i from the group densities (O(i)); P likewise.
inline void kl_expand(const std::vector<std::uint64_t>& h, std::size_t i, std::size_t L,
                      const KlCandidate& c, std::vector<double>& P, std::vector<double>& Q) {
  P.assign(i, 0.0);
  Q.assign(i, 0.0);
  for (std::size_t k = 0; k < i; ++k) P[k] = static_cast<double>(k == i - 1 ? c.p_last : h[k]);
  // Walk group edges incrementally (no division): group j0 ends at `edge` (units of 1/L bin).
  std::size_t j0 = 0, edge = i;
  for (std::size_t k = 0; k < i; ++k) {
    const std::size_t a = k * L, b = a + L;
    while (edge <= a) {
      ++j0;
      edge += i;
    }
    if (P[k] == 0) continue;  // mask
    if (edge >= b) {
      Q[k] = c.q[j0];
    } else {  // bin k straddles the edge between groups j0 and j0 + 1
      Q[k] = (static_cast<double>(edge - a) * c.q[j0] + static_cast<double>(b - edge) * c.q[j0 + 1]) /
             static_cast<double>(L);
    }
  }
}

struct KlPrep {
  std::vector<std::uint64_t> h, H, C;
  std::vector<double> HL;
  std::size_t N = 0, L = 128, first = 128;
};

inline KlPrep kl_prepare(const HistogramView& v, const ThresholdOptions& o) {
  KlPrep p;
  p.h = kl_bins(v, o.first_bin);
  // Group masses are exact integers scaled by L: keep L * total well inside uint64.
  if (v.nonzero() > (std::uint64_t{1} << 52))
    throw UsageError(error_text("KL", "more than 2^52 histogram counts; merge fewer samples"));
  p.N = p.h.size();
  p.L = static_cast<std::size_t>(std::max(1, o.levels));
  p.H.assign(p.N + 1, 0);
  p.C.assign(p.N + 1, 0);
  p.HL.assign(p.N + 1, 0.0);
  for (std::size_t k = 0; k < p.N; ++k) {
    p.H[k + 1] = p.H[k] + p.h[k];
    p.C[k + 1] = p.C[k] + (p.h[k] > 0);
    p.HL[k + 1] = p.HL[k] + xlogx(static_cast<double>(p.h[k]));  // ascending k
  }
  // Candidates need i >= L (at most two groups per bin); fewer bins than levels: no-clip only.
  p.first = std::clamp<std::size_t>(static_cast<std::size_t>(std::max(1, o.start_bin)), p.L, std::max(p.L, p.N));
  if (p.N < p.L) p.first = p.N;
  return p;
}

// Natural log of a positive normal double, pure arithmetic so that loops over arrays of it
// vectorise (glibc's log does not without -ffast-math). ln x = e ln2 + 2 atanh(s),
// s = (m-1)/(m+1), m in [sqrt(1/2), sqrt(2)); the series to s^23 is below 1e-16 relative.
// Always inlined: called out of line, it keeps the loops over it scalar. GCC 12 did not inline
// it into kl_candidate in bench_calib's translation unit (calibration_use_pb's it did), which
// made BM_Threshold about 1.5x slower than the code the tool runs.
[[gnu::always_inline]] inline double log_positive(double x) noexcept {
  const std::uint64_t b = std::bit_cast<std::uint64_t>(x);
  // exponent as a double without int64->double conversion: 2^52 + (b >> 52), minus the bias
  const double e0 = std::bit_cast<double>(0x4330000000000000ull | (b >> 52)) - (4503599627370496.0 + 1023.0);
  double m = std::bit_cast<double>((b & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull);
  const bool big = m > 1.4142135623730951;
  m = big ? m * 0.5 : m;
  const double e = big ? e0 + 1.0 : e0;
  const double t = (m - 1.0) / (m + 1.0);
  const double t2 = t * t;
  double p = 1.0 / 23;
  p = p * t2 + 1.0 / 21;
  p = p * t2 + 1.0 / 19;
  p = p * t2 + 1.0 / 17;
  p = p * t2 + 1.0 / 15;
  p = p * t2 + 1.0 / 13;
  p = p * t2 + 1.0 / 11;
  p = p * t2 + 1.0 / 9;
  p = p * t2 + 1.0 / 7;
  p = p * t2 + 1.0 / 5;
  p = p * t2 + 1.0 / 3;
  p = p * t2;
  return e * 0.69314718055994530942 + (2.0 * t + 2.0 * t * p);
}

// Scratch for kl_candidate, reused across candidates.
struct KlScratch {
  std::vector<double> q, val, wt, lg;
};

// KL(P||Q) for candidate i in O(L) with prefix sums: inside a group Q is the constant q_j,
// so sum P ln Q over the group's full bins = ln q_j * (their P mass); a bin with a group edge
// strictly inside (a "split" bin) gets its own term. Group edges are walked incrementally
// (b_j = j*i in units of 1/L bin), so there is no division in the loop. +inf when P > 0 = Q.
inline double kl_candidate(const KlPrep& p, std::size_t i, KlScratch& s) {
  const std::size_t G = std::min(i, p.L);
  const std::uint64_t S = p.H.back();
  const std::uint64_t in_range = p.H[i], outliers = S - in_range;
  if (in_range == 0) return std::numeric_limits<double>::infinity();
  const std::uint64_t p_last = p.h[i - 1] + outliers;
  const bool last_extra = p.h[i - 1] == 0 && outliers > 0;  // bin i-1 masked only via folding
  auto mask = [&](std::size_t k) -> std::uint64_t { return k == i - 1 ? (p_last > 0) : (p.h[k] > 0); };
  auto pmass = [&](std::size_t k) -> std::uint64_t { return k == i - 1 ? p_last : p.h[k]; };
  s.q.resize(G);
  s.val.resize(2 * G);
  s.wt.resize(2 * G);
  s.lg.resize(2 * G);
  const std::size_t qd = i / G, rd = i % G;
  std::size_t bin = 0, off = 0, n = 0;
  for (std::size_t j = 0; j < G; ++j) {
    std::size_t nbin = bin + qd, noff = off + rd;
    if (noff >= G) {
      noff -= G;
      ++nbin;
    }
    const std::size_t fs = off ? bin + 1 : bin, fe = nbin;  // full bins [fs, fe)
    std::uint64_t m = G * (p.H[fe] - p.H[fs]);
    std::uint64_t c = G * (p.C[fe] - p.C[fs]);
    std::uint64_t full_p = p.H[fe] - p.H[fs];
    if (fs <= i - 1 && i - 1 < fe) {
      full_p += outliers;
      if (last_extra) c += G;
    }
    if (off) {
      m += (G - off) * p.h[bin];
      c += (G - off) * mask(bin);
    }
    if (noff) {
      m += noff * p.h[nbin];
      c += noff * mask(nbin);
    }
    const double qj = c ? static_cast<double>(m) / static_cast<double>(c) : 0.0;
    s.q[j] = qj;
    if (j > 0 && off) {  // split bin `bin`: [.., b_j) in group j-1, [b_j, ..) in group j
      const std::uint64_t pk = pmass(bin);
      if (pk) {
        const double qk = (static_cast<double>(off) * s.q[j - 1] + static_cast<double>(G - off) * qj) /
                          static_cast<double>(G);
        if (!(qk > 0)) return std::numeric_limits<double>::infinity();
        s.val[n] = qk;
        s.wt[n++] = static_cast<double>(pk);
      }
    }
    if (full_p) {
      if (!(qj > 0)) return std::numeric_limits<double>::infinity();
      s.val[n] = qj;
      s.wt[n++] = static_cast<double>(full_p);
    }
    bin = nbin;
    off = noff;
  }
  const double* val = s.val.data();
  double* lg = s.lg.data();
  for (std::size_t k = 0; k < n; ++k) lg[k] = log_positive(val[k]);  // vectorised
  // Fixed 4-lane summation in index order: deterministic whatever the compiler does.
  double acc[4] = {0, 0, 0, 0};
  std::size_t k = 0;
  for (; k + 4 <= n; k += 4)
    for (int l = 0; l < 4; ++l) acc[l] += s.wt[k + static_cast<std::size_t>(l)] * lg[k + static_cast<std::size_t>(l)];
  for (; k < n; ++k) acc[0] += s.wt[k] * lg[k];
  const double plnq = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  const double plnp = p.HL[i - 1] + xlogx(static_cast<double>(p_last));
  // p = P/S, q = Q/S_Q (sum Q == in-range mass): D = (sum P ln P - sum P ln Q)/S - ln S + ln S_Q
  const double Sd = static_cast<double>(S);
  return (plnp - plnq) / Sd - std::log(Sd) + std::log(static_cast<double>(in_range));
}

// SYMKL / JSD need every bin of the window: O(i) per candidate.
inline double divergence_direct(ThMethod m, const KlPrep& p, std::size_t i, KlCandidate& c,
                                std::vector<double>& P, std::vector<double>& Q, double eps) {
  const std::size_t G = std::min(i, p.L);
  kl_groups(p.h, p.H, p.C, i, G, c);
  if (c.in_range == 0) return std::numeric_limits<double>::infinity();
  kl_expand(p.h, i, G, c, P, Q);
  const double S = static_cast<double>(p.H.back()), SQ = static_cast<double>(c.in_range);
  const double* Pp = P.data();
  const double* Qp = Q.data();
  double acc[4] = {0, 0, 0, 0};
  // Branch-free per-bin terms with log_positive so the loops vectorise; fixed 4-lane sums.
  if (m == ThMethod::KL) {  // per-bin KL: the O(N^2) peer of kl_candidate (benchmarks, tests)
    for (std::size_t k = 0; k < i; ++k)
      if (Pp[k] > 0 && !(Qp[k] > 0)) return std::numeric_limits<double>::infinity();
    std::size_t k = 0;
    auto term = [&](std::size_t t) {
      const double pk = Pp[t] / S, qk = Qp[t] / SQ;
      return pk * log_positive(pk > 0 ? pk / qk : 1.0);
    };
    for (; k + 4 <= i; k += 4)
      for (std::size_t l = 0; l < 4; ++l) acc[l] += term(k + l);
    for (; k < i; ++k) acc[0] += term(k);
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
  }
  if (m == ThMethod::JSD) {
    std::size_t k = 0;
    auto term = [&](std::size_t t) {
      const double pk = Pp[t] / S, qk = Qp[t] / SQ, mk = 0.5 * (pk + qk);
      const double ms = mk > 0 ? mk : 1.0;
      const double lp = log_positive(pk > 0 ? pk / ms : 1.0), lq = log_positive(qk > 0 ? qk / ms : 1.0);
      return 0.5 * pk * lp + 0.5 * qk * lq;
    };
    for (; k + 4 <= i; k += 4)
      for (std::size_t l = 0; l < 4; ++l) acc[l] += term(k + l);
    for (; k < i; ++k) acc[0] += term(k);
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
  }
  // SYMKL: empty bins get eps on each side, then both are renormalised.
  double zp = 0.0, zq = 0.0;
  for (std::size_t k = 0; k < i; ++k) {
    zp += Pp[k] > 0 ? Pp[k] / S : eps;
    zq += Qp[k] > 0 ? Qp[k] / SQ : eps;
  }
  auto term = [&](std::size_t t) {
    const double pk = (Pp[t] > 0 ? Pp[t] / S : eps) / zp;
    const double qk = (Qp[t] > 0 ? Qp[t] / SQ : eps) / zq;
    return (pk - qk) * log_positive(pk / qk);
  };
  std::size_t k = 0;
  for (; k + 4 <= i; k += 4)
    for (std::size_t l = 0; l < 4; ++l) acc[l] += term(k + l);
  for (; k < i; ++k) acc[0] += term(k);
  return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

}  // namespace detail

// Divergence of every KL-family candidate i = first..N (index i - first), +inf where skipped.
// Exposed for tests, plots and the -dump of search curves.
inline std::vector<double> kl_family_curve(ThMethod m, const HistogramView& v, const ThresholdOptions& o = {}) {
  std::vector<double> out;
  if (detail::is_dead(v)) return out;
  const auto p = detail::kl_prepare(v, o);
  detail::KlCandidate c;
  detail::KlScratch ks;
  std::vector<double> P, Q;
  for (std::size_t i = p.first; i <= p.N; ++i)
    out.push_back(m == ThMethod::KL ? detail::kl_candidate(p, i, ks)
                                    : detail::divergence_direct(m, p, i, c, P, Q, o.symkl_eps));
  return out;
}

// The same KL-family search evaluated bin by bin, O(N^2): a peer for benchmarks and a second
// implementation for tests. Returns the winning i (0 when dead).
inline std::size_t kl_family_direct_argmin(ThMethod m, const HistogramView& v, const ThresholdOptions& o = {}) {
  if (detail::is_dead(v)) return 0;
  const auto p = detail::kl_prepare(v, o);
  detail::KlCandidate c;
  std::vector<double> P, Q;
  double best = std::numeric_limits<double>::infinity();
  std::size_t best_i = p.N;
  for (std::size_t i = p.first; i <= p.N; ++i) {
    const double d = detail::divergence_direct(m, p, i, c, P, Q, o.symkl_eps);
    if (d < best) {
      best = d;
      best_i = i;
    }
  }
  return best_i;
}

inline ThresholdResult threshold_kl_family(ThMethod m, const HistogramView& v, const ThresholdOptions& o = {}) {
  if (detail::is_dead(v)) return detail::dead("zero guard: dead tensor (absmax 0 or empty histogram)");
  const auto p = detail::kl_prepare(v, o);
  if (p.H.back() == 0) return detail::dead("zero guard: histogram empty after first-bin policy");
  detail::KlCandidate c;
  detail::KlScratch ks;
  std::vector<double> P, Q;
  double best = std::numeric_limits<double>::infinity();
  std::size_t best_i = p.N;
  for (std::size_t i = p.first; i <= p.N; ++i) {
    const double d = m == ThMethod::KL ? detail::kl_candidate(p, i, ks)
                                       : detail::divergence_direct(m, p, i, c, P, Q, o.symkl_eps);
    if (d < best) {  // strict: first minimum wins; +inf and NaN never win
      best = d;
      best_i = i;
    }
  }
  ThresholdResult r;
  r.bin = best_i;
  r.score = best;
  r.threshold = detail::kl_threshold_from(best_i, v, o.threshold_mode);
  return detail::finish(r, v.absmax);
}

inline ThresholdResult threshold_kl(const HistogramView& v, const ThresholdOptions& o = {}) {
  return threshold_kl_family(ThMethod::KL, v, o);
}

// ---- MAX / PERCENTILE -------------------------------------------------------------------------

inline ThresholdResult threshold_max(const HistogramView& v) {
  if (!(v.absmax > 0)) return detail::dead("zero guard: dead tensor (absmax 0)");
  ThresholdResult r;
  r.threshold = v.absmax;
  return detail::finish(r, v.absmax);
}

// Pooled percentile of |x| with zeros in n; linear inside the bin; capped at absmax.
inline ThresholdResult threshold_percentile(const HistogramView& v, double p = 0.9999) {
  if (detail::is_dead(v)) return detail::dead("zero guard: dead tensor (absmax 0 or empty histogram)");
  const double target = p * static_cast<double>(v.n);
  double cum = static_cast<double>(v.z);
  ThresholdResult r;
  std::size_t k = 0;
  if (target <= cum) {  // the percentile is an exact zero: use the first occupied bin's edge
    while (v.h[k] == 0) ++k;
    r.threshold = static_cast<double>(k + 1) * v.w;
    r.bin = k;
    r.note = "percentile falls in the exact zeros; upper edge of the first occupied bin";
    return detail::finish(r, v.absmax);
  }
  for (k = 0; k < v.h.size(); ++k) {
    const double next = cum + static_cast<double>(v.h[k]);
    if (next >= target) break;
    cum = next;
  }
  if (k == v.h.size()) {  // n larger than the histogram holds (inconsistent view): top edge
    r.threshold = v.absmax;
    r.bin = v.h.size() - 1;
    r.note = "percentile beyond the histogram";
    return detail::finish(r, v.absmax);
  }
  r.bin = k;
  r.threshold = v.w * (static_cast<double>(k) + (target - cum) / static_cast<double>(v.h[k]));
  return detail::finish(r, v.absmax);
}

// ---- ADMM (alternating least squares on bin centres) ------------------------------------------

inline ThresholdResult threshold_admm(const HistogramView& v, const ThresholdOptions& o = {}) {
  if (detail::is_dead(v)) return detail::dead("zero guard: dead tensor (absmax 0 or empty histogram)");
  const double qmax = o.unsigned_storage ? 255.0 : 127.0;
  double alpha = v.absmax / (qmax * 2.5);
  ThresholdResult r;
  for (int it = 0; it < o.admm_max_iters; ++it) {
    double num = 0.0, den = 0.0;
    for (std::size_t k = 0; k < v.h.size(); ++k) {
      if (!v.h[k]) continue;
      const double ck = (static_cast<double>(k) + 0.5) * v.w;
      const double q = std::min(std::round(ck / alpha), qmax);
      const double hk = static_cast<double>(v.h[k]);
      num += hk * q * ck;
      den += hk * q * q;
    }
    r.iterations = it + 1;
    if (!(den > 0)) break;
    const double next = num / den;
    if (next == alpha) break;
    alpha = next;
  }
  r.threshold = qmax * alpha;
  return detail::finish(r, v.absmax);
}

// ---- ACIQ ------------------------------------------------------------------------------------

inline double aciq_laplace_error(double alpha, double b, int bits) {
  return 2 * b * b * std::exp(-alpha / b) + alpha * alpha / (3 * std::ldexp(1.0, 2 * bits));
}
inline double aciq_gauss_error(double alpha, double sigma, int bits) {
  const double s2 = sigma * sigma;
  return (s2 + alpha * alpha) * (1 - std::erf(alpha / (sigma * std::sqrt(2.0)))) -
         std::sqrt(2.0 / M_PI) * alpha * sigma * std::exp(-alpha * alpha / (2 * s2)) +
         alpha * alpha / (3 * std::ldexp(1.0, 2 * bits));
}

namespace detail {
// Golden-section minimum of a unimodal f on [lo, hi], to ~1e-12 relative.
template <typename F>
double golden_min(F f, double lo, double hi) {
  const double g = (std::sqrt(5.0) - 1) / 2;
  double a = lo, b = hi, c = b - g * (b - a), d = a + g * (b - a);
  double fc = f(c), fd = f(d);
  for (int it = 0; it < 200 && b - a > 1e-13 * b; ++it) {
    if (fc < fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - g * (b - a);
      fc = f(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + g * (b - a);
      fd = f(d);
    }
  }
  return 0.5 * (a + b);
}
}  // namespace detail

// alpha*/sigma and alpha*/b for M bits, by minimising the error formulas (8 bits: 3.92404, 9.89676).
inline double aciq_gauss_k(int bits) {
  return detail::golden_min([&](double a) { return aciq_gauss_error(a, 1.0, bits); }, 0.1, 20.0);
}
inline double aciq_laplace_k(int bits) {
  return detail::golden_min([&](double a) { return aciq_laplace_error(a, 1.0, bits); }, 0.1, 40.0);
}

// sigma from the range by extreme-value theory, n elements: (max-min)*0.5*0.35*(1+sqrt(pi ln4)) / sqrt(2 ln n).
inline double aciq_gauss_sigma(double min, double max, double n) {
  return (max - min) * 0.5 * 0.35 * (1 + std::sqrt(M_PI * std::log(4.0))) / std::sqrt(2 * std::log(n));
}
// Laplace b = mean |x| over all n finite elements (zeros included), from bin centres. The
// histogram holds |x| only, so the mean is taken as 0 (b = E|x - mean| with mean 0).
inline double aciq_laplace_b(const HistogramView& v) {
  double s = 0.0;
  for (std::size_t k = 0; k < v.h.size(); ++k) s += static_cast<double>(v.h[k]) * (static_cast<double>(k) + 0.5) * v.w;
  return v.n ? s / static_cast<double>(v.n) : 0.0;
}

inline ThresholdResult threshold_aciq(const HistogramView& v, const ThresholdOptions& o = {}) {
  if (detail::is_dead(v)) return detail::dead("zero guard: dead tensor (absmax 0 or empty histogram)");
  ThresholdResult r;
  const double b = aciq_laplace_b(v);
  const double aL = aciq_laplace_k(o.bits) * b;
  const double eL = aciq_laplace_error(aL, b, o.bits);
  const double n = static_cast<double>(o.aciq_gauss_n ? o.aciq_gauss_n : v.n);
  const bool gauss_ok = n >= 3 && v.max > v.min;
  const double sigma = gauss_ok ? aciq_gauss_sigma(v.min, v.max, n) : 0.0;
  const double aG = aciq_gauss_k(o.bits) * sigma;
  const double eG = gauss_ok ? aciq_gauss_error(aG, sigma, o.bits) : std::numeric_limits<double>::infinity();
  AciqDist pick = o.aciq_force;
  if (pick == AciqDist::gaussian && !gauss_ok) pick = AciqDist::laplace;
  if (pick == AciqDist::none) pick = eG < eL ? AciqDist::gaussian : AciqDist::laplace;
  r.aciq = pick;
  r.threshold = pick == AciqDist::gaussian ? aG : aL;
  r.score = pick == AciqDist::gaussian ? eG : eL;
  r.note = std::string(pick == AciqDist::gaussian ? "gaussian" : "laplace") +
           " (predicted error laplace " + std::to_string(eL) + ", gaussian " + std::to_string(eG) + ")";
  return detail::finish(r, v.absmax);
}

// ---- MSE = OCTAV + grid refinement -----------------------------------------------------------

// Quantisation + clipping squared error of the histogram at threshold T (bin centres).
inline double grid_mse(const HistogramView& v, double T, bool unsigned_storage = false) {
  const double qmax = unsigned_storage ? 255.0 : 127.0;
  const double s = T / qmax;
  double e = 0.0;
  for (std::size_t k = 0; k < v.h.size(); ++k) {
    if (!v.h[k]) continue;
    const double ck = (static_cast<double>(k) + 0.5) * v.w;
    const double d = ck - s * std::min(std::round(ck / s), qmax);
    e += static_cast<double>(v.h[k]) * d * d;
  }
  return e;
}

inline ThresholdResult threshold_mse(const HistogramView& v, const ThresholdOptions& o = {}) {
  if (detail::is_dead(v)) return detail::dead("zero guard: dead tensor (absmax 0 or empty histogram)");
  const std::size_t N = v.h.size();
  std::vector<std::uint64_t> H(N + 1, 0);
  std::vector<double> SC(N + 1, 0.0);
  for (std::size_t k = 0; k < N; ++k) {
    H[k + 1] = H[k] + v.h[k];
    SC[k + 1] = SC[k] + static_cast<double>(v.h[k]) * (static_cast<double>(k) + 0.5) * v.w;
  }
  const double coef = std::ldexp(1.0, -2 * o.bits) / (o.unsigned_storage ? 12.0 : 3.0);
  double T = SC[N] / static_cast<double>(H[N]);  // mean of the non-zero |x|
  ThresholdResult r;
  for (int it = 0; it < 20; ++it) {
    // bins whose centre is <= T are "in" (exact zeros are excluded: they carry no noise)
    const double kf = std::floor(T / v.w - 0.5) + 1;
    const std::size_t kin = kf <= 0 ? 0 : std::min<std::size_t>(N, static_cast<std::size_t>(kf));
    const double n_in = static_cast<double>(H[kin]), n_out = static_cast<double>(H[N] - H[kin]);
    const double s_out = SC[N] - SC[kin];
    r.iterations = it + 1;
    if (n_out == 0) break;  // T above the data: the fixed point is below; keep T
    const double next = s_out / (coef * n_in + n_out);
    const double dT = std::fabs(next - T);
    T = next;
    if (dT <= v.w / 16) break;
  }
  // grid refinement over +-8 bin edges around the OCTAV value
  const long k0 = std::lround(T / v.w);
  const long lo = std::max(1L, k0 - 8), hi = std::min(static_cast<long>(N), k0 + 8);
  double best = std::numeric_limits<double>::infinity();
  long best_k = std::clamp(k0, 1L, static_cast<long>(N));
  for (long k = lo; k <= hi; ++k) {
    const double e = grid_mse(v, static_cast<double>(k) * v.w, o.unsigned_storage);
    if (e < best) {
      best = e;
      best_k = k;
    }
  }
  r.bin = static_cast<std::size_t>(best_k);
  r.score = best;
  r.threshold = static_cast<double>(best_k) * v.w;
  return detail::finish(r, v.absmax);
}

// ---- dispatcher -------------------------------------------------------------------------------

// Rejects option values no method can honour (UsageError naming the option).
inline void validate(const ThresholdOptions& o) {
  if (o.levels < 1 || o.levels > 65536) throw UsageError(error_text("threshold options", "levels must be in [1, 65536]"));
  if (o.bits < 2 || o.bits > 16) throw UsageError(error_text("threshold options", "bits must be in [2, 16]"));
  if (!(o.percentile > 0 && o.percentile <= 1))
    throw UsageError(error_text("threshold options", "percentile must be in (0, 1]"));
  if (!(o.symkl_eps > 0 && o.symkl_eps < 1e-3))
    throw UsageError(error_text("threshold options", "symkl_eps must be in (0, 1e-3)"));
  if (o.admm_max_iters < 1) throw UsageError(error_text("threshold options", "admm_max_iters must be >= 1"));
}

inline ThresholdResult compute_threshold(ThMethod m, const HistogramView& v, const ThresholdOptions& o = {}) {
  validate(o);
  if (m != ThMethod::MAX) detail::require_histogram(v, to_string(m));
  switch (m) {
    case ThMethod::KL:
    case ThMethod::SYMKL:
    case ThMethod::JSD: return threshold_kl_family(m, v, o);
    case ThMethod::ADMM: return threshold_admm(v, o);
    case ThMethod::ACIQ: return threshold_aciq(v, o);
    case ThMethod::MAX: return threshold_max(v);
    case ThMethod::PERCENTILE9999: return threshold_percentile(v, o.percentile);
    case ThMethod::MSE: return threshold_mse(v, o);
  }
  return detail::dead("unknown method");
}

}  // namespace octet::calib
