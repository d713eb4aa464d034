// The fp32-vs-int8 comparison report as plain data: one LayerReport per compared blob (in
// execution order), the net-level summary, and the mixed-precision search result. It knows how
// to rank layers by damage, flag them against a cosine bar, suggest a calibration change per
// layer, print itself as a text table and serialise itself as JSON. Filling it (running nets)
// is compare.hpp's job; drawing it is report_html.hpp's, so both are testable on synthetic data.
//
// JSON numbers: an undefined metric (see metrics.hpp) is null; an infinite SQNR (int8 equals
// fp32 exactly) is the string "inf". No NaN ever reaches the output.
//
// Depends on eval/metrics.hpp and the standard library only.
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "octet/eval/metrics.hpp"

namespace octet::eval {

// Fixed-range histogram of the fp32 values; the range is set by the first values seen
// (symmetric, or [0, R] for a non-negative blob) and later values outside it are counted apart.
struct Histogram {
  double lo = 0, hi = 0;
  std::vector<int64_t> counts;
  int64_t below = 0, above = 0;

  void init(double lo_, double hi_, int bins) {
    lo = lo_;
    hi = hi_ > lo_ ? hi_ : lo_ + 1;
    counts.assign(static_cast<size_t>(bins), 0);
  }
  void add(std::span<const float> v) {
    if (counts.empty()) return;
    const double w = (hi - lo) / static_cast<double>(counts.size());
    for (float x : v) {
      if (x < lo) ++below;
      else if (x > hi) ++above;
      else counts[std::min(counts.size() - 1, static_cast<size_t>((x - lo) / w))]++;
    }
  }
};

struct LayerReport {
  int depth = 0;             // position in execution order
  std::string layer, type, blob;
  bool runs_int8 = true;     // false: float fallback in the int8 net
  std::string dtype;         // INT8 / UINT8 / FP32 (the blob's storage in the int8 net)
  std::optional<double> threshold;
  PairStats acc;                 // int8 net vs fp32 net (error accumulated from the input)
  std::optional<PairStats> own;  // this int8 layer fed with fp32 inputs vs fp32 (its own error)
  // this int8 layer vs its fp32 layer on the same (grid) inputs: the error it adds itself
  std::optional<PairStats> added;
  std::vector<std::string> bottoms;  // blobs the layer reads (for input_cos / damage)
  std::optional<double> input_cos;      // lowest accumulated cosine among the bottoms (finalize)
  std::optional<double> input_own_cos;  // lowest own cosine among the bottoms' producers (finalize)
  int64_t saturated = 0, total = 0;  // fp32 values with |x| > threshold
  Histogram hist;
  std::vector<std::array<float, 2>> scatter;  // (fp32, int8) samples
  bool weighted = false;
  bool per_channel = false;                   // int8 weights per output channel
  std::optional<double> weight_channel_ratio;  // max / median of per-channel weight abs-max
  // Derived by finalize():
  double damage = 0;
  bool flagged = false;
  std::string suggestion;

  std::optional<double> saturation() const {
    if (!threshold || total == 0) return std::nullopt;
    return static_cast<double>(saturated) / static_cast<double>(total);
  }
  // The cosine that decides flags and damage: own error when measured, else accumulated.
  std::optional<double> judged_cos() const { return own ? own->cosine() : acc.cosine(); }
};

struct AccuracySummary {
  std::string blob;  // the scores blob top-k was taken from
  int64_t count = 0;
  int64_t fp32_top1 = 0, fp32_top5 = 0, int8_top1 = 0, int8_top5 = 0;
};

struct SearchStep {
  std::string layer;
  double cos = 0;  // output cosine with this and all earlier steps in float
};

struct SearchReport {
  std::string output_blob;
  int max_layers = 0;
  double target_cos = 0;
  double base_cos = 0;
  std::vector<SearchStep> steps;
  bool reached = false;
  std::string fpfwd_blocks() const {
    std::string s;
    for (const auto& st : steps) s += (s.empty() ? "" : ",") + st.layer;
    return s;
  }
};

struct Report {
  std::string fp32_model, fp32_weights, int8_model, int8_weights;
  int iterations = 0;
  double cos_bar = 0.99;
  std::string output_blob;
  std::optional<double> output_cos;
  bool own_measured = false;
  std::vector<LayerReport> layers;
  std::optional<AccuracySummary> accuracy;
  std::optional<SearchReport> search;
  std::vector<std::string> notes;

  // Layer indices, most damaging first (ties: earlier layer first).
  std::vector<size_t> damage_order() const {
    std::vector<size_t> idx(layers.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return layers[a].damage > layers[b].damage; });
    return idx;
  }
};

namespace detail {
inline std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}
}  // namespace detail

// The calibration change most likely to help one layer, from its statistics:
//  - the threshold clips more than 0.1% of values  -> a method that keeps the range
//  - the threshold sits at an outlier abs-max far above the bulk (abs-max > 20 x RMS)
//                                                   -> a clipping method (KL/ACIQ/MSE)
//  - per-tensor int8 weights whose channel ranges differ > 4x -> -per_channel
//  - otherwise (or additionally) keep the layer in float with -fpfwd_blocks.
inline std::string suggest(const LayerReport& L) {
  if (!L.runs_int8) return "runs in float already";
  std::string s;
  const auto sat = L.saturation();
  const double rms = L.acc.n ? std::sqrt(L.acc.ref2 / static_cast<double>(L.acc.n)) : 0.0;
  if (sat && *sat > 1e-3) {
    s = "threshold " + detail::fmt("%.4g", *L.threshold) + " clips " + detail::fmt("%.2f", 100 * *sat) +
        "% of values (abs-max " + detail::fmt("%.4g", L.acc.ref_absmax) +
        "): -th_method=PERCENTILE9999 or MAX, or raise this layer's threshold/th_scale; ";
  } else if (L.threshold && rms > 0 && *L.threshold >= 0.9 * L.acc.ref_absmax && L.acc.ref_absmax > 20 * rms) {
    s = "outliers set the threshold (abs-max " + detail::fmt("%.4g", L.acc.ref_absmax) + " = " +
        detail::fmt("%.0f", L.acc.ref_absmax / rms) + " x RMS): -th_method=KL, ACIQ or MSE clips them; ";
  }
  if (L.weighted && !L.per_channel && L.weight_channel_ratio && *L.weight_channel_ratio > 4)
    s += "weight ranges differ " + detail::fmt("%.0f", *L.weight_channel_ratio) + "x across channels: -per_channel=true; ";
  s += "or keep it in float: -fpfwd_blocks=" + L.layer;
  return s;
}

// Damage, flags and suggestions. Damage is the cosine a layer loses by itself:
//  - added error measured (int8 layer vs its fp32 layer on the same grid inputs): 1 - its cosine;
//  - own error measured: own cosine of the inputs' producers (1 when they run in float or
//    are not compared) minus the layer's own cosine. An int8 layer reads its input on the
//    producer's grid, so its own run inherits the producer's rounding/clipping; subtracting
//    it ranks the layer that breaks things above its consumers.
//  - otherwise: the drop of accumulated cosine from the layer's inputs to its output.
// A layer is flagged when its damage exceeds 1 - cos_bar (it alone takes the cosine below
// the bar). Undefined cosines (all-zero fp32 blobs) give no damage and no flag.
inline void finalize(Report& r) {
  std::map<std::string, size_t> by_blob;
  for (size_t i = 0; i < r.layers.size(); ++i) by_blob[r.layers[i].blob] = i;
  for (auto& L : r.layers) {
    L.input_cos.reset();
    L.input_own_cos.reset();
    for (const auto& b : L.bottoms) {
      auto it = by_blob.find(b);
      if (it == by_blob.end()) continue;
      const auto& P = r.layers[it->second];
      const auto c = P.acc.cosine();
      if (c && (!L.input_cos || *c < *L.input_cos)) L.input_cos = c;
      if (P.own && P.runs_int8) {
        const auto o = P.own->cosine();
        if (o && (!L.input_own_cos || *o < *L.input_own_cos)) L.input_own_cos = o;
      }
    }
  }
  for (auto& L : r.layers) {
    std::optional<double> c;
    if (L.added) {
      c = L.added->cosine();
      L.damage = c ? std::max(0.0, 1.0 - *c) : 0.0;
    } else if (L.own) {
      c = L.own->cosine();
      L.damage = c ? std::max(0.0, L.input_own_cos.value_or(1.0) - *c) : 0.0;
    } else {
      c = L.acc.cosine();
      L.damage = c ? std::max(0.0, L.input_cos.value_or(1.0) - *c) : 0.0;
    }
    L.flagged = L.runs_int8 && c && L.damage > 1.0 - r.cos_bar;
    L.suggestion = L.flagged ? suggest(L) : std::string();
  }
}

// ---- text table ----------------------------------------------------------------------------
inline std::string opt_str(const std::optional<double>& v, const char* f) {
  if (!v) return "undef";
  if (std::isinf(*v)) return "inf";
  return detail::fmt(f, *v);
}

inline std::string format_table(const Report& r, size_t max_rows = 0) {
  std::ostringstream o;
  char line[512];
  std::snprintf(line, sizeof line, "%-4s %-24s %-14s %8s %9s %9s %8s %8s %10s %8s %10s %10s %9s %9s\n", "#", "layer", "type",
                "damage", "own_cos", "cos", "COS", "MAPE%", "SQNR_dB", "maxabs", "sat%", "threshold", "absmax", "flag");
  o << line;
  size_t rows = 0;
  for (size_t i : r.damage_order()) {
    if (max_rows && rows++ >= max_rows) break;
    const auto& L = r.layers[i];
    const auto sat = L.saturation();
    std::snprintf(line, sizeof line, "%-4d %-24s %-14s %8.5f %9s %9s %8s %8s %10s %8s %10s %10s %9.4g %9s\n", L.depth,
                  (L.layer.size() > 24 ? "~" + L.layer.substr(L.layer.size() - 23) : L.layer).c_str(), (L.type + (L.runs_int8 ? "" : "(fp)")).substr(0, 14).c_str(), L.damage,
                  L.own ? opt_str(L.own->cosine(), "%.6f").c_str() : "-", opt_str(L.acc.cosine(), "%.6f").c_str(),
                  opt_str(L.acc.cos_nntc(), "%.5f").c_str(), opt_str(L.acc.mape(), "%.2f").c_str(),
                  opt_str(L.acc.sqnr_db(), "%.2f").c_str(), opt_str(L.acc.max_abs(), "%.4g").c_str(),
                  sat ? detail::fmt("%.3f", 100 * *sat).c_str() : "-",
                  L.threshold ? detail::fmt("%.4g", *L.threshold).c_str() : "-", L.acc.ref_absmax,
                  L.flagged ? "<< LOW" : "");
    o << line;
  }
  if (max_rows && r.layers.size() > max_rows) o << "... " << (r.layers.size() - max_rows) << " more layers in the report\n";
  bool any = false;
  for (size_t i : r.damage_order()) {
    const auto& L = r.layers[i];
    if (!L.flagged) continue;
    if (!any)
      o << "flagged (the layer alone costs more than 1 - " << detail::fmt("%g", r.cos_bar) << " of cosine"
        << (r.own_measured ? ", own error" : ", accumulated") << "), most damaging first:\n";
    any = true;
    o << "  " << L.layer << ": " << L.suggestion << "\n";
  }
  if (!any) o << "no layer flagged (none alone costs more than 1 - " << detail::fmt("%g", r.cos_bar) << " of cosine)\n";
  return o.str();
}

inline std::string format_summary(const Report& r) {
  std::ostringstream o;
  o << "compared " << r.layers.size() << " blobs over " << r.iterations << " records; output " << r.output_blob
    << " cosine " << opt_str(r.output_cos, "%.6f");
  if (r.accuracy && r.accuracy->count) {
    const auto& a = *r.accuracy;
    const double n = static_cast<double>(a.count);
    o << "; top-1 fp32 " << detail::fmt("%.4f", a.fp32_top1 / n) << " int8 " << detail::fmt("%.4f", a.int8_top1 / n)
      << ", top-5 fp32 " << detail::fmt("%.4f", a.fp32_top5 / n) << " int8 " << detail::fmt("%.4f", a.int8_top5 / n);
  }
  o << "\n";
  if (r.search) {
    const auto& s = *r.search;
    if (s.steps.empty() && s.reached) {
      o << "mixed precision: output cosine " << detail::fmt("%.6f", s.base_cos) << " already meets the target "
        << detail::fmt("%g", s.target_cos) << ": no float layers needed\n";
      return o.str();
    }
    o << "mixed precision: output cosine " << detail::fmt("%.6f", s.base_cos);
    for (const auto& st : s.steps) o << " -> " << detail::fmt("%.6f", st.cos) << " (+" << st.layer << ")";
    o << (s.reached ? "; target " : "; target NOT reached: ") << detail::fmt("%g", s.target_cos) << "\n";
    o << "-fpfwd_blocks=" << s.fpfwd_blocks() << "\n";
  }
  return o.str();
}

// ---- JSON ---------------------------------------------------------------------------------
namespace json {
inline std::string str(const std::string& s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\t': o += "\\t"; break;
      case '<': o += "\\u003c"; break;  // safe inside an HTML <script> block
      case '>': o += "\\u003e"; break;
      case '&': o += "\\u0026"; break;
      default:
        if (c < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", c);
          o += b;
        } else {
          o += static_cast<char>(c);
        }
    }
  }
  return o + "\"";
}
inline std::string num(double v) {
  if (std::isnan(v)) return "null";
  if (std::isinf(v)) return v > 0 ? "\"inf\"" : "\"-inf\"";
  char b[40];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}
inline std::string num(const std::optional<double>& v) { return v ? num(*v) : "null"; }

inline std::string metrics(const PairStats& s) {
  return "{\"cos\":" + num(s.cosine()) + ",\"COS\":" + num(s.cos_nntc()) + ",\"mape\":" + num(s.mape()) +
         ",\"sqnr_db\":" + num(s.sqnr_db()) + ",\"max_abs\":" + num(s.max_abs()) + ",\"n\":" + std::to_string(s.n) + "}";
}
}  // namespace json

inline std::string to_json(const Report& r) {
  using namespace json;
  std::ostringstream o;
  o << "{\"fp32_model\":" << str(r.fp32_model) << ",\"fp32_weights\":" << str(r.fp32_weights)
    << ",\"int8_model\":" << str(r.int8_model) << ",\"int8_weights\":" << str(r.int8_weights)
    << ",\"iterations\":" << r.iterations << ",\"cos_bar\":" << num(r.cos_bar)
    << ",\"output_blob\":" << str(r.output_blob) << ",\"output_cos\":" << num(r.output_cos)
    << ",\"own_measured\":" << (r.own_measured ? "true" : "false") << ",\"damage_order\":[";
  const auto order = r.damage_order();
  for (size_t i = 0; i < order.size(); ++i) o << (i ? "," : "") << order[i];
  o << "],\"layers\":[";
  for (size_t i = 0; i < r.layers.size(); ++i) {
    const auto& L = r.layers[i];
    o << (i ? "," : "") << "{\"depth\":" << L.depth << ",\"layer\":" << str(L.layer) << ",\"type\":" << str(L.type)
      << ",\"blob\":" << str(L.blob) << ",\"runs_int8\":" << (L.runs_int8 ? "true" : "false")
      << ",\"dtype\":" << str(L.dtype) << ",\"threshold\":" << num(L.threshold)
      << ",\"absmax\":" << num(L.acc.n ? std::optional<double>(L.acc.ref_absmax) : std::nullopt)
      << ",\"int8_absmax\":" << num(L.acc.n ? std::optional<double>(L.acc.test_absmax) : std::nullopt)
      << ",\"saturation\":" << num(L.saturation()) << ",\"acc\":" << metrics(L.acc)
      << ",\"own\":" << (L.own ? metrics(*L.own) : "null") << ",\"added\":" << (L.added ? metrics(*L.added) : "null") << ",\"input_cos\":" << num(L.input_cos) << ",\"input_own_cos\":" << num(L.input_own_cos)
      << ",\"damage\":" << num(L.damage) << ",\"flagged\":" << (L.flagged ? "true" : "false")
      << ",\"suggestion\":" << str(L.suggestion) << ",\"per_channel\":" << (L.per_channel ? "true" : "false")
      << ",\"weight_channel_ratio\":" << num(L.weight_channel_ratio) << ",\"hist\":{\"lo\":" << num(L.hist.lo)
      << ",\"hi\":" << num(L.hist.hi) << ",\"below\":" << L.hist.below << ",\"above\":" << L.hist.above << ",\"counts\":[";
    for (size_t k = 0; k < L.hist.counts.size(); ++k) o << (k ? "," : "") << L.hist.counts[k];
    o << "]},\"scatter\":[";
    for (size_t k = 0; k < L.scatter.size(); ++k)
      o << (k ? "," : "") << "[" << num(L.scatter[k][0]) << "," << num(L.scatter[k][1]) << "]";
    o << "]}";
  }
  o << "],\"accuracy\":";
  if (r.accuracy) {
    const auto& a = *r.accuracy;
    o << "{\"blob\":" << str(a.blob) << ",\"count\":" << a.count << ",\"fp32_top1\":" << a.fp32_top1
      << ",\"fp32_top5\":" << a.fp32_top5 << ",\"int8_top1\":" << a.int8_top1 << ",\"int8_top5\":" << a.int8_top5 << "}";
  } else {
    o << "null";
  }
  o << ",\"search\":";
  if (r.search) {
    const auto& s = *r.search;
    o << "{\"output_blob\":" << str(s.output_blob) << ",\"max_layers\":" << s.max_layers
      << ",\"target_cos\":" << num(s.target_cos) << ",\"base_cos\":" << num(s.base_cos)
      << ",\"reached\":" << (s.reached ? "true" : "false") << ",\"fpfwd_blocks\":" << str(s.fpfwd_blocks())
      << ",\"steps\":[";
    for (size_t k = 0; k < s.steps.size(); ++k)
      o << (k ? "," : "") << "{\"layer\":" << str(s.steps[k].layer) << ",\"cos\":" << num(s.steps[k].cos) << "}";
    o << "]}";
  } else {
    o << "null";
  }
  o << ",\"notes\":[";
  for (size_t k = 0; k < r.notes.size(); ++k) o << (k ? "," : "") << str(r.notes[k]);
  o << "]}";
  return o.str();
}

}  // namespace octet::eval
