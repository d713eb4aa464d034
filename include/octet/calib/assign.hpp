// Calibration plan: which layers run in float (-fpfwd_*, forward_with_float, -accuracy_opt,
// layers without an int8 kernel), how every blob is stored (INT8 / UINT8 / FP32, see
// docs/int8-umodel.md) and its threshold: -th_method on the blob's statistics, the producing
// layer's th_strategy / th_scale / threshold overrides (calibration-algorithms.md §7
// precedence), then propagation through range-preserving layers (codes pass through, so their
// output shares the input's threshold; an activation's range is pushed back onto its sole
// input; concat inputs are aligned to the output).
// Depends on calib/{statistics,threshold}.hpp, ir/ and the proto; never on the runtime.
#pragma once
#include <exception>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "octet/calib/statistics.hpp"
#include "octet/calib/threshold.hpp"
#include "octet/core/error.hpp"
#include "octet/core/parallel.hpp"
#include "octet/core/tensor.hpp"
#include "octet/proto/umodel.pb.h"

namespace octet::calib {

using BlobDtype = ufw::BlobProto::Dtype;

struct PlanOptions {
  ThMethod method = ThMethod::KL;
  std::vector<std::string> fpfwd_inputs, fpfwd_outputs, fpfwd_blocks;
  bool accuracy_opt = false;
  bool input_max = true;  // net inputs use MAX unless their layer says otherwise
};

struct BlobPlan {
  float threshold = 1.0f;
  BlobDtype dtype = ufw::BlobProto::INT8;
  std::string method;  // how the threshold was chosen
  double absmax = 0, min = 0, max = 0;
  bool guarded = false;
  std::string producer;
};

struct Plan {
  std::map<std::string, BlobPlan> blobs;
  std::vector<std::string> order;         // blobs in production order
  std::set<std::string> float_layers;     // layer names that run in float
  std::vector<std::string> float_reasons;  // "layer: why", for the log
  std::vector<std::string> warnings;
};

inline bool is_compute(const std::string& t) {
  return t == "Convolution" || t == "InnerProduct" || t == "Deconvolution" || t == "MatMul";
}
// Layers whose int8 kernel passes codes through: output BlobQuant = input BlobQuant.
inline bool is_passthrough(const ufw::LayerParameter& l) {
  const std::string& t = l.type();
  if (t == "Reshape" || t == "Flatten" || t == "Permute" || t == "Transpose" || t == "Slice" || t == "Split" ||
      t == "Upsample" || t == "Dropout")
    return true;
  if (t == "Pooling") return l.pooling_param().pool() == ufw::PoolingParameter::MAX;
  if (t == "Interp") return l.interp_param().mode() == ufw::InterpParameter::NEAREST;
  if (t == "Pad") return l.pad_param().mode() == ufw::PadParameter::CONSTANT && l.pad_param().value() == 0.0f;
  return false;
}
inline bool is_lut_op(const std::string& t) {
  return t == "Sigmoid" || t == "TanH" || t == "HardSwish" || t == "HardSigmoid" || t == "Exp" || t == "ELU" ||
         t == "Swish";
}
// Whether docs/int8-umodel.md gives the layer an int8 kernel.
inline bool has_int8_kernel(const ufw::LayerParameter& l) {
  const std::string& t = l.type();
  if (t == "Data" || t == "AnnotatedData" || t == "Input") return true;
  if (t == "Convolution" || t == "Deconvolution" || t == "InnerProduct") return l.blobs_size() >= 1;
  if (t == "ReLU") return l.relu_param().negative_slope() == 0.0f;
  if (t == "ReLU6") return true;
  if (t == "Pooling") return l.pooling_param().pool() != ufw::PoolingParameter::STOCHASTIC;
  if (t == "Eltwise") {
    if (l.eltwise_param().operation() == ufw::EltwiseParameter::PROD) return l.bottom_size() == 2;
    return true;
  }
  if (t == "BinaryOp") return l.binary_op_param().operation() == ufw::BinaryOpParameter::ADD && l.bottom_size() == 2;
  if (t == "Concat") return true;
  if (is_lut_op(t)) return l.bottom_size() == 1;
  return is_passthrough(l);
}
// Outputs that are non-negative by construction (stored UINT8).
inline bool nonnegative_op(const ufw::LayerParameter& l) {
  return (l.type() == "ReLU" && l.relu_param().negative_slope() == 0.0f) || l.type() == "ReLU6" ||
         l.type() == "Sigmoid";
}

namespace detail {
inline std::set<std::string> closure(const ufw::NetParameter& net, const std::string& start, bool forward) {
  std::set<std::string> seen{start};
  std::vector<std::string> todo{start};
  std::map<std::string, int> by_name;
  for (int i = 0; i < net.layer_size(); ++i) by_name[net.layer(i).name()] = i;
  std::map<std::string, std::vector<int>> producer, consumer;
  for (int i = 0; i < net.layer_size(); ++i) {
    for (const auto& t : net.layer(i).top()) producer[t].push_back(i);
    for (const auto& b : net.layer(i).bottom()) consumer[b].push_back(i);
  }
  while (!todo.empty()) {
    const auto& l = net.layer(by_name.at(todo.back()));
    todo.pop_back();
    const auto& blobs = forward ? l.top() : l.bottom();
    for (const auto& b : blobs)
      for (int j : (forward ? consumer[b] : producer[b]))
        if (seen.insert(net.layer(j).name()).second) todo.push_back(net.layer(j).name());
  }
  return seen;
}
}  // namespace detail

// Layers that run in float, with reasons. Unknown names in -fpfwd_* are a UsageError.
inline void plan_float_layers(const ufw::NetParameter& net, const PlanOptions& o,
                              const std::map<std::string, Shape>& shapes, Plan& p) {
  std::map<std::string, int> by_name;
  for (int i = 0; i < net.layer_size(); ++i) by_name[net.layer(i).name()] = i;
  auto check = [&](const std::vector<std::string>& names, const char* flag) {
    for (const auto& n : names)
      if (!by_name.count(n)) throw UsageError(std::string("-") + flag + ": unknown layer '" + n + "'");
  };
  check(o.fpfwd_inputs, "fpfwd_inputs");
  check(o.fpfwd_outputs, "fpfwd_outputs");
  check(o.fpfwd_blocks, "fpfwd_blocks");
  auto mark = [&](const std::string& n, const std::string& why) {
    if (p.float_layers.insert(n).second) p.float_reasons.push_back(n + ": " + why);
  };
  for (const auto& n : o.fpfwd_inputs)
    for (const auto& x : detail::closure(net, n, false)) mark(x, "-fpfwd_inputs " + n);
  for (const auto& n : o.fpfwd_outputs)
    for (const auto& x : detail::closure(net, n, true)) mark(x, "-fpfwd_outputs " + n);
  std::map<std::string, std::vector<int>> consumer;
  for (int i = 0; i < net.layer_size(); ++i)
    for (const auto& b : net.layer(i).bottom()) consumer[b].push_back(i);
  for (const auto& n : o.fpfwd_blocks) {
    std::vector<int> todo{by_name.at(n)};
    std::set<int> seen{by_name.at(n)};
    while (!todo.empty()) {
      const int i = todo.back();
      todo.pop_back();
      mark(net.layer(i).name(), "-fpfwd_blocks " + n);
      for (const auto& t : net.layer(i).top())
        for (int j : consumer[t])
          if (!is_compute(net.layer(j).type()) && seen.insert(j).second) todo.push_back(j);
    }
  }
  for (const auto& l : net.layer()) {
    if (l.forward_with_float()) mark(l.name(), "forward_with_float");
    if (o.accuracy_opt && l.type() == "Convolution") {
      const auto& cp = l.convolution_param();
      const auto it = l.bottom_size() ? shapes.find(l.bottom(0)) : shapes.end();
      const int64_t cin = it != shapes.end() && it->second.size() > 1 ? it->second[1] : -1;
      if (cp.group() > 1 && cp.group() == cp.num_output() && static_cast<int64_t>(cp.group()) == cin)
        mark(l.name(), "-accuracy_opt (depthwise)");
    }
    if (!has_int8_kernel(l)) mark(l.name(), "no int8 kernel for " + l.type());
  }
}

namespace detail {
// Blobs whose threshold comes from another blob (no method is run for them). Depends only on
// the net, the float layers and which blobs are calibrated, never on statistics values, so it
// is known before the statistics pass (histogram_free_blobs).
struct Propagation {
  std::vector<std::pair<std::string, std::string>> backward, forward;  // (blob, source blob)
  std::map<std::string, std::string> backward_by;                      // blob -> layer name
  std::set<std::string> derived;
};
inline Propagation propagation(const ufw::NetParameter& net, const std::set<std::string>& float_layers,
                               const std::set<std::string>& calibrated) {
  std::map<std::string, int> producer;
  std::map<std::string, std::vector<int>> consumer;
  for (int i = 0; i < net.layer_size(); ++i) {
    for (const auto& t : net.layer(i).top()) producer[t] = i;
    for (const auto& b : net.layer(i).bottom()) consumer[b].push_back(i);
  }
  auto explicit_th = [&](const std::string& blob) { return net.layer(producer.at(blob)).has_threshold(); };
  Propagation r;
  for (int i = net.layer_size() - 1; i >= 0; --i) {
    const auto& l = net.layer(i);
    if (float_layers.count(l.name()) || l.top_size() != 1 || !calibrated.count(l.top(0))) continue;
    const bool relu = nonnegative_op(l) && l.type() != "Sigmoid";
    if (!relu && l.type() != "Concat") continue;
    for (const auto& b : l.bottom()) {
      if (!calibrated.count(b) || consumer[b].size() != 1 || explicit_th(b) || r.backward_by.count(b)) continue;
      const auto& pl = net.layer(producer.at(b));
      if (float_layers.count(pl.name()) || is_passthrough(pl) || pl.type() == "Data" || pl.type() == "Input") continue;
      r.backward.emplace_back(b, l.top(0));
      r.backward_by[b] = l.name();
    }
  }
  for (const auto& l : net.layer()) {
    if (float_layers.count(l.name()) || !is_passthrough(l) || l.bottom_size() < 1 || !calibrated.count(l.bottom(0)))
      continue;
    for (const auto& t : l.top())
      if (calibrated.count(t)) r.forward.emplace_back(t, l.bottom(0));
  }
  for (const auto& [b, src] : r.backward) r.derived.insert(b);
  for (const auto& [b, src] : r.forward) r.derived.insert(b);
  return r;
}
// The method make_plan computes the threshold of a top of layer l with (th_scale applies on
// top of it), and the tag the per-layer table shows for it.
inline std::pair<ThMethod, std::string> blob_method(const ufw::LayerParameter& l, const PlanOptions& o) {
  ThMethod m = o.method;
  std::string tag = std::string(to_string(m));
  // USE_DEFAULT rule: a net input keeps its whole range (MAX). Its values are set by the
  // preprocessing, often a few discrete levels (a normalised background), which the KL
  // family would clip to the most frequent level.
  if (o.input_max && (l.type() == "Data" || l.type() == "AnnotatedData" || l.type() == "Input") &&
      l.th_strategy() == ufw::LayerParameter::USE_DEFAULT)
    m = ThMethod::MAX, tag = "MAX(input)";
  if (l.th_strategy() == ufw::LayerParameter::USE_MAX) m = ThMethod::MAX, tag = "MAX(th_strategy)";
  if (l.th_strategy() == ufw::LayerParameter::USE_KL) {
    if (m != ThMethod::KL && m != ThMethod::SYMKL && m != ThMethod::JSD) m = ThMethod::KL;
    tag = std::string(to_string(m)) + "(th_strategy)";
  }
  return {m, tag};
}

// The blobs of `stats` that make_plan calibrates: tops of the net's layers.
inline std::set<std::string> calibrated_tops(const ufw::NetParameter& net, const std::set<std::string>& have) {
  std::set<std::string> s;
  for (const auto& l : net.layer())
    for (const auto& t : l.top())
      if (have.count(t)) s.insert(t);
  return s;
}
}  // namespace detail

// Blobs (of `blobs`) whose threshold make_plan never computes from a histogram: propagated ones,
// those with an explicit `threshold:` on their layer, and those whose method is MAX (the net
// input by default, th_strategy USE_MAX, or -th_method=MAX). Their statistics may be range-only
// (min/max/absmax are still reported). The one rule both the statistics pass and -load_dist use.
inline std::set<std::string> histogram_free_blobs(const ufw::NetParameter& net, const PlanOptions& o,
                                                  const std::map<std::string, Shape>& shapes,
                                                  const std::set<std::string>& blobs) {
  Plan p;
  plan_float_layers(net, o, shapes, p);
  const std::set<std::string> calibrated = detail::calibrated_tops(net, blobs);
  std::set<std::string> out = detail::propagation(net, p.float_layers, calibrated).derived;
  for (const auto& l : net.layer())
    if (l.has_threshold() || detail::blob_method(l, o).first == ThMethod::MAX)
      for (const auto& t : l.top())
        if (calibrated.count(t)) out.insert(t);
  return out;
}

// The full plan: float layers, dtypes and thresholds of every blob in `stats`. A blob outside
// histogram_free_blobs needs a histogram: range-only statistics for it are a ModelError.
inline Plan make_plan(const ufw::NetParameter& net, const std::vector<NamedStats>& stats, const PlanOptions& o,
                      const std::map<std::string, Shape>& shapes) {
  Plan p;
  plan_float_layers(net, o, shapes, p);
  std::map<std::string, const TensorStats*> by_blob;
  for (const auto& [n, t] : stats) by_blob[n] = &t;
  std::map<std::string, int> producer;
  for (int i = 0; i < net.layer_size(); ++i)
    for (const auto& t : net.layer(i).top()) producer[t] = i;

  // 1. dtypes, in production order.
  for (const auto& l : net.layer()) {
    const bool fl = p.float_layers.count(l.name()) != 0;
    for (const auto& t : l.top()) {
      if (!by_blob.count(t)) continue;
      BlobPlan b;
      b.producer = l.name();
      auto in_dtype = [&](int k) {
        const auto it = p.blobs.find(l.bottom(k));
        return it == p.blobs.end() ? ufw::BlobProto::INT8 : it->second.dtype;
      };
      if (fl) {
        b.dtype = ufw::BlobProto::FP32;
      } else if (nonnegative_op(l)) {
        b.dtype = ufw::BlobProto::UINT8;
      } else if ((is_passthrough(l) || l.type() == "Pooling") && l.bottom_size() >= 1) {
        b.dtype = in_dtype(0) == ufw::BlobProto::UINT8 ? ufw::BlobProto::UINT8 : ufw::BlobProto::INT8;
      } else if (l.type() == "Concat" || (l.type() == "Eltwise" && l.eltwise_param().operation() == ufw::EltwiseParameter::MAX)) {
        bool all_u = l.bottom_size() > 0;
        for (int k = 0; k < l.bottom_size(); ++k) all_u = all_u && in_dtype(k) == ufw::BlobProto::UINT8;
        b.dtype = all_u ? ufw::BlobProto::UINT8 : ufw::BlobProto::INT8;
      }
      p.blobs[t] = b;
      p.order.push_back(t);
    }
  }

  std::set<std::string> calibrated;
  for (const auto& [n, b] : p.blobs) calibrated.insert(n);
  const detail::Propagation prop = detail::propagation(net, p.float_layers, calibrated);
  const auto& backward = prop.backward;
  const auto& forward = prop.forward;
  const auto& backward_by = prop.backward_by;
  const auto& derived = prop.derived;
  for (const auto& n : p.order)
    if (const auto& l = net.layer(producer.at(n));
        by_blob.at(n)->is_range_only() && !derived.count(n) && !l.has_threshold() &&
        detail::blob_method(l, o).first != ThMethod::MAX)
      throw ModelError(error_text("statistics", "blob '" + n + "'",
                                  "range-only (no histogram) but its threshold is computed from one"));

  // 2. thresholds from statistics (blobs are independent: one task each).
  std::vector<std::string> names = p.order;
  std::vector<ThresholdResult> res(names.size());
  std::vector<std::string> how(names.size());
  auto search = [&](std::size_t k) {
    const auto& bp = p.blobs.at(names[k]);
    const auto& l = net.layer(producer.at(names[k]));
    const TensorStats& ts = *by_blob.at(names[k]);
    const HistogramView v = view(ts);
    ThresholdOptions to;
    to.unsigned_storage = bp.dtype == ufw::BlobProto::UINT8;
    if (l.has_threshold()) {
      res[k].threshold = l.threshold();
      how[k] = "threshold";
      return;
    }
    if (derived.count(names[k])) {
      how[k] = "derived";
      return;
    }
    auto [m, tag] = detail::blob_method(l, o);
    res[k] = ts.range.n == 0 || ts.hist.total() == 0 ? compute_threshold(ThMethod::MAX, v, to) : compute_threshold(m, v, to);
    if (l.th_scale() != 1.0f) {
      res[k].threshold *= l.th_scale();
      tag += "*" + std::to_string(l.th_scale()).substr(0, 6);
    }
    how[k] = tag;
  };
  // One blob at a time to whichever thread is free, not a fixed share each: blobs differ in
  // cost (derived and explicit ones have none), and on a busy machine a thread that shares its
  // CPU with another process should take fewer (a fixed half took up to 1.8x the serial time).
  // An exception must not leave an OpenMP region (std::terminate): the first one is rethrown.
  const auto count = static_cast<std::ptrdiff_t>(names.size());
  const int threads = num_threads();
  if (threads <= 1 || count <= 1) {
    for (std::size_t k = 0; k < names.size(); ++k) search(k);
  } else {
    std::exception_ptr failed;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (std::ptrdiff_t k = 0; k < count; ++k) {
      try {
        search(static_cast<std::size_t>(k));
      } catch (...) {
#pragma omp critical(octet_make_plan_error)
        if (!failed) failed = std::current_exception();
      }
    }
    if (failed) std::rethrow_exception(failed);
  }
  for (size_t k = 0; k < names.size(); ++k) {
    auto& b = p.blobs.at(names[k]);
    const auto& ts = *by_blob.at(names[k]);
    b.absmax = ts.range.absmax;
    b.min = ts.range.n ? ts.range.min : 0.0;
    b.max = ts.range.n ? ts.range.max : 0.0;
    double t = res[k].threshold;
    b.guarded = res[k].guarded;
    if (!(t >= 1e-30) || !std::isfinite(t)) t = 1.0, b.guarded = true;
    if (b.guarded && how[k] != "threshold" && how[k] != "derived")
      p.warnings.push_back("blob " + names[k] + ": all zero or constant (absmax " + std::to_string(b.absmax) +
                           "); threshold set to " + std::to_string(t));
    if (ts.range.nonfinite)
      p.warnings.push_back("blob " + names[k] + ": " + std::to_string(ts.range.nonfinite) +
                           " NaN/Inf values ignored");
    b.threshold = static_cast<float>(t);
    b.method = how[k];
  }
  // 3. backward: an activation's sole input and concat inputs take the output's threshold.
  for (const auto& [b, src] : backward) {
    auto& bp = p.blobs.at(b);
    bp.threshold = p.blobs.at(src).threshold;
    bp.method = "from " + backward_by.at(b);
  }
  // 4. forward: codes pass through range-preserving layers unchanged.
  for (const auto& [b, src] : forward) {
    auto& bp = p.blobs.at(b);
    bp.threshold = p.blobs.at(src).threshold;
    bp.method = "= " + src;
  }
  return p;
}

}  // namespace octet::calib
