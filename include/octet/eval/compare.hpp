// fp32-vs-int8 layer-by-layer comparison: runs an fp32 net and an int8 net on the same
// Data-layer records and fills a Report (report.hpp) with per-blob metrics, the error each
// int8 layer adds on its own, top-k when the data has labels, and an optional greedy
// mixed-precision search measured on the real output.
//
// The nets are reached through BlobSource ("run the next record, give me blob b as float"),
// built by a NetFactory from a NetParameter, so the driver works with the fp32 Net and with
// any int8 runtime. Variants of the int8 net (a layer's own error: every other layer in float;
// search: chosen layers in float) are built by editing the int8 NetParameter the way
// calibration would have written it: the layer gets `forward_with_float: true` and the fp32
// model's blobs, its top_quant stays (docs/int8-umodel.md: borders convert with it).
//
// Accuracy / SoftmaxWithLoss layers are removed before building (top-k is computed here from
// the Accuracy layer's scores blob and the Data layer's label).
//
// Depends on core/, engine/net.hpp, ir/, eval/metrics.hpp + report.hpp; no tool code.
#pragma once
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "octet/core/error.hpp"
#include "octet/core/tensor.hpp"
#include "octet/engine/net.hpp"
#include "octet/eval/int8_weights.hpp"
#include "octet/eval/metrics.hpp"
#include "octet/eval/report.hpp"
#include "octet/ir/graph.hpp"
#include "octet/proto/umodel.pb.h"

namespace octet::eval {

using engine::FloatTensor;

// One net that advances through its Data layer's records and hands out blobs as float
// (int8 blobs dequantised).
class BlobSource {
 public:
  virtual ~BlobSource() = default;
  virtual void forward() = 0;  // the next record (batch) of the Data layer
  virtual const FloatTensor& blob(const std::string& name) = 0;
};

using NetFactory = std::function<std::unique_ptr<BlobSource>(const ufw::NetParameter&)>;
// Fills a net's inputs for record `i` (nets fed by an Input layer instead of a Data layer).
using Feeder = std::function<void(engine::Net&, int64_t i)>;

class Fp32Source : public BlobSource {
 public:
  explicit Fp32Source(const ufw::NetParameter& p, engine::NetOptions o = {}, Feeder feed = {})
      : net_(p, std::move(o)), feed_(std::move(feed)) {}
  void forward() override {
    if (feed_) feed_(net_, record_++);
    net_.forward();
  }
  const FloatTensor& blob(const std::string& name) override { return net_.blob(name); }
  engine::Net& net() { return net_; }

 private:
  engine::Net net_;
  Feeder feed_;
  int64_t record_ = 0;
};

inline bool is_compute_type(const std::string& t) {
  return t == "Convolution" || t == "InnerProduct" || t == "Deconvolution" || t == "MatMul" || t == "Gemm";
}
inline bool is_source_type(const std::string& t) { return t == "Data" || t == "AnnotatedData" || t == "Input"; }
inline bool is_metric_type(const std::string& t) {
  return t == "Accuracy" || t == "SoftmaxWithLoss" || t == "Silence";
}

// The net without metric layers, phase-filtered. `scores`/`top_k` report the first Accuracy
// layer's input, if any.
inline ufw::NetParameter strip_metric_layers(const ufw::NetParameter& in, std::string* scores = nullptr) {
  ufw::NetParameter net = ir::filter_phase(in, ufw::TEST);
  ufw::NetParameter out = net;
  out.clear_layer();
  for (const auto& l : net.layer()) {
    if (is_metric_type(l.type())) {
      if (scores && scores->empty() && l.type() == "Accuracy" && l.bottom_size() > 0) *scores = l.bottom(0);
      continue;
    }
    *out.add_layer() = l;
  }
  return out;
}

// Throws ModelError naming the first difference between the two nets' layer lists
// (names, types, tops, bottoms), in file order.
inline void check_same_structure(const ufw::NetParameter& fp, const ufw::NetParameter& q, const std::string& fp_file,
                                 const std::string& q_file) {
  const std::string pre = "fp32 net " + fp_file + " and int8 net " + q_file + " differ: ";
  const int n = std::min(fp.layer_size(), q.layer_size());
  for (int i = 0; i < n; ++i) {
    const auto &a = fp.layer(i), &b = q.layer(i);
    if (a.name() != b.name())
      throw ModelError(pre + "layer " + std::to_string(i) + " is '" + a.name() + "' in fp32, '" + b.name() + "' in int8");
    if (a.type() != b.type())
      throw ModelError(pre + "layer " + a.name() + " is " + a.type() + " in fp32, " + b.type() + " in int8");
    auto list = [](const auto& r) {
      std::string s;
      for (const auto& x : r) s += (s.empty() ? "" : ",") + x;
      return "[" + s + "]";
    };
    if (list(a.top()) != list(b.top()))
      throw ModelError(pre + "layer " + a.name() + " tops " + list(a.top()) + " in fp32, " + list(b.top()) + " in int8");
    if (list(a.bottom()) != list(b.bottom()))
      throw ModelError(pre + "layer " + a.name() + " bottoms " + list(a.bottom()) + " in fp32, " + list(b.bottom()) +
                       " in int8");
  }
  if (fp.layer_size() != q.layer_size()) {
    const bool fp_longer = fp.layer_size() > q.layer_size();
    const auto& extra = fp_longer ? fp.layer(n) : q.layer(n);
    throw ModelError(pre + "layer " + extra.name() + " exists only in " + (fp_longer ? "fp32" : "int8") + " (" +
                     std::to_string(fp.layer_size()) + " vs " + std::to_string(q.layer_size()) + " layers)");
  }
}

inline std::string dtype_name(ufw::BlobProto::Dtype d) {
  switch (d) {
    case ufw::BlobProto::INT8: return "INT8";
    case ufw::BlobProto::UINT8: return "UINT8";
    case ufw::BlobProto::FP32: return "FP32";
    default: return "other";
  }
}

// Per-channel weight abs-max spread of an fp32 weight blob (axis 0 = output channel for
// Convolution/InnerProduct): max / median over channels; nullopt for a single channel.
inline std::optional<double> weight_channel_ratio(const ufw::BlobProto& w, int64_t channels) {
  if (channels < 2 || w.data_size() == 0 || w.data_size() % channels) return std::nullopt;
  const int64_t per = w.data_size() / channels;
  std::vector<double> m(static_cast<size_t>(channels), 0.0);
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t k = 0; k < per; ++k) m[c] = std::max(m[c], std::abs(static_cast<double>(w.data(static_cast<int>(c * per + k)))));
  std::vector<double> s = m;
  std::nth_element(s.begin(), s.begin() + channels / 2, s.end());
  const double med = s[static_cast<size_t>(channels / 2)];
  if (med <= 0) return std::nullopt;
  return *std::max_element(m.begin(), m.end()) / med;
}

struct CompareOptions {
  int iterations = 10;
  double cos_bar = 0.99;
  bool own_error = true;          // run one variant per int8 layer
  int search_fp_layers = 0;       // 0: no search
  double target_cos = 0.99;
  std::string output_blob;        // empty: the Accuracy layer's scores, else the first net output
  int hist_bins = 64;
  int scatter_points = 300;
  std::string fp32_model, fp32_weights, int8_model, int8_weights;  // names for the report
};

class Comparison {
 public:
  // Both parameters already merged with their weights. Throws ModelError on the first
  // structural difference.
  Comparison(const ufw::NetParameter& fp32, const ufw::NetParameter& int8, NetFactory fp32_factory,
             NetFactory int8_factory, CompareOptions opts)
      : opts_(std::move(opts)), make_fp_(std::move(fp32_factory)), make_q_(std::move(int8_factory)) {
    fp_ = strip_metric_layers(fp32, &scores_);
    std::string q_scores;
    q_ = strip_metric_layers(int8, &q_scores);
    for (int i = 0; i < fp_.layer_size(); ++i) {
      index_[fp_.layer(i).name()] = i;
      for (const auto& t : fp_.layer(i).top()) fp_blobs_.insert(t);
    }
    try {
      check_same_structure(fp_, q_, opts_.fp32_model, opts_.int8_model);
      same_layers_ = true;
    } catch (const ModelError& e) {
      // An optimised int8 net (BatchNorm/Scale merged into convolutions, no-ops removed) against
      // the original fp32 test net: compare by blob name when every int8 layer exists in fp32
      // by name and type and every int8 blob exists in fp32; else report the first difference.
      check_blob_subset(e.what());
    }
    const ir::Graph g(q_, opts_.int8_model);
    for (int i : g.order()) order_.push_back(i);
    for (int i = 0; i < q_.layer_size(); ++i)
      for (const auto& t : q_.layer(i).top()) producer_[t] = i;
    for (int i = 0; i < q_.layer_size(); ++i) {
      const auto& l = q_.layer(i);
      if (is_source_type(l.type()) && l.top_size() > 1 && label_.empty()) label_ = l.top(1);
    }
    if (opts_.output_blob.empty()) {
      if (!scores_.empty()) {
        opts_.output_blob = scores_;
      } else {
        const auto outs = g.outputs();
        for (const auto& o : outs)
          if (o != label_) {
            opts_.output_blob = o;
            break;
          }
      }
    }
    if (!producer_.count(opts_.output_blob))
      throw UsageError("compare: output blob '" + opts_.output_blob + "' is not in the net");
  }

  bool runs_int8(int i) const {
    const auto& l = q_.layer(i);
    return !is_source_type(l.type()) && !l.forward_with_float() && !(l.top_quant_size() > 0 && l.top_quant(0).dtype() == ufw::BlobProto::FP32);
  }

  // The int8 parameter with the layers in `fl` switched to float (fp32 blobs, int8_param
  // dropped, forward_with_float set); top_quant is kept so the borders convert as calibrated.
  // Without an fp32 twin of the layer (a convolution with merged BatchNorm), its int8
  // weights are dequantised instead (weight rounding stays; the report notes it).
  // Layers in `keep_grid` compute in float but keep their tops' int8/uint8 storage, so a
  // consumer reads their float result on the grid it has in the int8 net.
  ufw::NetParameter with_float_layers(const std::set<int>& fl, const std::set<int>& keep_grid = {}) const {
    ufw::NetParameter p = q_;
    for (int i : fl) {
      auto* l = p.mutable_layer(i);
      if (const auto* twin = fp32_twin(i)) {
        l->clear_blobs();
        for (const auto& b : twin->blobs()) *l->add_blobs() = b;
      } else {
        float s_in = 1;
        if (l->bottom_size() > 0) {
          auto it = producer_.find(l->bottom(0));
          if (it != producer_.end()) {
            const auto& pl = q_.layer(it->second);
            for (int t = 0; t < pl.top_size() && t < pl.top_quant_size(); ++t)
              if (pl.top(t) == l->bottom(0)) s_in = blob_quant_scale(pl.top_quant(t));
          }
        }
        dequantize_int8_weights(*l, s_in);
      }
      l->clear_int8_param();
      l->set_forward_with_float(true);
      // Float storage for its tops (docs/int8-umodel.md: FP32 = runs in float); the threshold
      // stays, so an int8 consumer quantises at the border as calibrated.
      if (!keep_grid.count(i))
        for (auto& tq : *l->mutable_top_quant()) tq.set_dtype(ufw::BlobProto::FP32);
    }
    return p;
  }

  // The fp32 layer with the same name, type and blob sizes as int8 layer i, if any.
  const ufw::LayerParameter* fp32_twin(int i) const {
    if (same_layers_) return &fp_.layer(i);
    const auto& l = q_.layer(i);
    auto it = index_.find(l.name());
    if (it == index_.end()) return nullptr;
    const auto& f = fp_.layer(it->second);
    // Same tops too: a convolution that absorbed a BatchNorm writes the BatchNorm's blob, so its
    // fp32 namesake (which writes the raw convolution output) has different weights.
    if (f.type() != l.type() || f.blobs_size() != l.blobs_size() || f.top_size() != l.top_size()) return nullptr;
    for (int t = 0; t < f.top_size(); ++t)
      if (f.top(t) != l.top(t)) return nullptr;
    for (int b = 0; b < f.blobs_size(); ++b)
      if (ir::blob_value_count(f.blobs(b)) != ir::blob_value_count(l.blobs(b))) return nullptr;
    return &f;
  }
  bool same_layers() const { return same_layers_; }

  // -fpfwd_blocks semantics: the layer and the non-compute layers after it that read the
  // block's blobs, up to (excluding) the next compute layer.
  std::set<int> block_of(int start) const {
    std::set<int> blk{start};
    std::set<std::string> blobs(q_.layer(start).top().begin(), q_.layer(start).top().end());
    bool started = false;
    for (int i : order_) {
      if (i == start) {
        started = true;
        continue;
      }
      if (!started) continue;
      const auto& l = q_.layer(i);
      if (is_compute_type(l.type())) continue;
      bool reads = false;
      for (const auto& b : l.bottom()) reads = reads || blobs.count(b);
      if (!reads) continue;
      blk.insert(i);
      for (const auto& t : l.top()) blobs.insert(t);
    }
    return blk;
  }

  Report run(std::ostream* progress = nullptr) {
    Report r;
    r.fp32_model = opts_.fp32_model;
    r.fp32_weights = opts_.fp32_weights;
    r.int8_model = opts_.int8_model;
    r.int8_weights = opts_.int8_weights;
    r.iterations = opts_.iterations;
    r.cos_bar = opts_.cos_bar;
    r.output_blob = opts_.output_blob;

    if (!same_layers_)
      r.notes.push_back("the nets differ in layers (optimised int8 net against the original fp32 net): blobs compared by "
                        "name; float variants of int8 layers without an fp32 twin use their dequantised int8 weights");
    auto fp = make_fp_(fp_);
    auto q = make_q_(q_);
    // Compared blobs: every top of every non-source layer, in execution order.
    std::map<std::string, size_t> slot;
    std::map<std::string, std::string> bq_dtype;
    for (int i : order_) {
      const auto& l = q_.layer(i);
      if (is_source_type(l.type())) continue;
      for (int t = 0; t < l.top_size(); ++t) {
        LayerReport L;
        L.depth = static_cast<int>(r.layers.size());
        L.layer = l.name();
        L.type = l.type();
        L.blob = l.top(t);
        L.runs_int8 = runs_int8(i);
        L.bottoms.assign(l.bottom().begin(), l.bottom().end());
        if (t < l.top_quant_size()) {
          L.threshold = l.top_quant(t).threshold();
          L.dtype = L.runs_int8 ? dtype_name(l.top_quant(t).dtype()) : "FP32";
        } else {
          L.dtype = L.runs_int8 ? "INT8" : "FP32";
        }
        const auto* twin = index_.count(l.name()) ? &fp_.layer(index_.at(l.name())) : nullptr;
        L.weighted = is_compute_type(l.type()) && twin && twin->blobs_size() > 0;
        if (L.weighted) {
          L.per_channel = l.blobs_size() > 0 && l.blobs(0).per_channel_en();
          const auto& w = twin->blobs(0);
          int64_t ch = 0;
          if (w.has_shape() && w.shape().dim_size() > 0) ch = w.shape().dim(0);
          else ch = w.num();
          if (l.type() == "Deconvolution" && w.has_shape() && w.shape().dim_size() > 1) ch = 0;  // [in, out/g, ...]
          L.weight_channel_ratio = weight_channel_ratio(w, ch);
        }
        slot[L.blob] = r.layers.size();
        layer_of_slot_.push_back(i);
        r.layers.push_back(std::move(L));
      }
    }

    std::vector<std::pair<int, std::unique_ptr<BlobSource>>> own, ref;
    AccuracySummary acc;
    acc.blob = opts_.output_blob;
    PairStats out_stats;
    for (int it = 0; it < opts_.iterations; ++it) {
      fp->forward();
      q->forward();
      if (it == 0) {
        check_shapes(*fp, *q, r);
        // Own-error variants (every other layer in float, this one int8 on fp32 inputs), built
        // once the main nets are known to agree; they start at the first record too.
        if (opts_.own_error) {
          std::set<int> all_int8;
          for (int i : order_)
            if (runs_int8(i)) all_int8.insert(i);
          for (int i : order_) {
            if (!runs_int8(i)) continue;
            std::set<int> others = all_int8, producers;
            others.erase(i);
            // Its inputs: fp32 results on the producers' real grids (an int8 layer never
            // reads anything else), so a uint8 input keeps its 255 steps.
            for (const auto& b : q_.layer(i).bottom())
              if (auto p = producer_.find(b); p != producer_.end() && runs_int8(p->second)) producers.insert(p->second);
            own.emplace_back(i, make_q_(with_float_layers(others, producers)));
            own.back().second->forward();
            // Its reference: the same inputs through its fp32 layer, so the error it adds is
            // measured apart from what its input grid already cost.
            std::set<int> all_but_grid = all_int8;
            ref.emplace_back(i, make_q_(with_float_layers(all_but_grid, producers)));
            ref.back().second->forward();
          }
          r.own_measured = true;
        }
      } else {
        for (auto& [i, src] : own) src->forward();
        for (auto& [i, src] : ref) src->forward();
      }
      for (auto& L : r.layers) {
        const FloatTensor& a = fp->blob(L.blob);
        const FloatTensor& b = q->blob(L.blob);
        L.acc.add(a.span(), b.span());
        if (L.threshold) {
          L.saturated += count_saturated(a.span(), *L.threshold);
          L.total += a.size();
        }
        if (L.hist.counts.empty()) {
          double mn = 0, mx = 0;
          for (float v : a.span()) {
            mn = std::min<double>(mn, v);
            mx = std::max<double>(mx, std::abs(v));
          }
          // Later records reach further than the first: leave headroom beyond both the first
          // record's abs-max and the threshold, whose marker must stay visible.
          const double R = std::max(L.threshold.value_or(0.0) * 1.3, mx * 1.5);
          L.hist.init(mn >= 0 ? 0.0 : -R, R > 0 ? R : 1.0, opts_.hist_bins);
        }
        L.hist.add(a.span());
        if (it == 0 && opts_.scatter_points > 0) {
          const int64_t stride = std::max<int64_t>(1, a.size() / opts_.scatter_points);
          for (int64_t k = 0; k < a.size() && static_cast<int>(L.scatter.size()) < opts_.scatter_points; k += stride)
            L.scatter.push_back({a[k], b[k]});
        }
      }
      for (size_t k = 0; k < own.size(); ++k) {
        const int i = own[k].first;
        for (const auto& t : q_.layer(i).top()) {
          auto& L = r.layers[slot.at(t)];
          if (!L.own) L.own = PairStats{};
          if (!L.added) L.added = PairStats{};
          const auto& mine = own[k].second->blob(t);
          L.own->add(fp->blob(t).span(), mine.span());
          L.added->add(ref[k].second->blob(t).span(), mine.span());
        }
      }
      out_stats.add(fp->blob(opts_.output_blob).span(), q->blob(opts_.output_blob).span());
      if (!label_.empty()) add_topk(acc, fp->blob(opts_.output_blob), q->blob(opts_.output_blob), fp->blob(label_));
      if (progress) *progress << "\rcompare: record " << (it + 1) << "/" << opts_.iterations << std::flush;
    }
    if (progress) *progress << "\n";
    r.output_cos = out_stats.cosine();
    if (acc.count) r.accuracy = acc;

    if (opts_.search_fp_layers > 0) r.search = search(progress);
    finalize(r);
    return r;
  }

  // Greedy: at each step, try each remaining int8 compute block in float and keep the one
  // whose measured output cosine is highest; stop at the target or after K layers.
  SearchReport search(std::ostream* progress = nullptr) {
    SearchReport s;
    s.output_blob = opts_.output_blob;
    s.max_layers = opts_.search_fp_layers;
    s.target_cos = opts_.target_cos;
    std::set<int> chosen;
    s.base_cos = output_cos(chosen);
    double cur = s.base_cos;
    std::vector<int> cands;
    for (int i : order_)
      if (runs_int8(i) && (is_compute_type(q_.layer(i).type()) || !has_compute_before(i))) cands.push_back(i);
    std::vector<int> picked;
    while (static_cast<int>(picked.size()) < opts_.search_fp_layers && cur < opts_.target_cos) {
      int best = -1;
      double best_cos = -2;
      for (int c : cands) {
        if (std::find(picked.begin(), picked.end(), c) != picked.end()) continue;
        std::set<int> trial = chosen;
        for (int b : block_of(c)) trial.insert(b);
        const double v = output_cos(trial);
        if (v > best_cos) {
          best_cos = v;
          best = c;
        }
      }
      if (best < 0 || best_cos <= cur) break;  // nothing helps any more
      picked.push_back(best);
      for (int b : block_of(best)) chosen.insert(b);
      cur = best_cos;
      s.steps.push_back({q_.layer(best).name(), best_cos});
      if (progress) *progress << "search: +" << q_.layer(best).name() << " -> output cosine " << best_cos << "\n";
    }
    s.reached = cur >= opts_.target_cos;
    return s;
  }

  double output_cos(const std::set<int>& float_layers) {
    auto fp = make_fp_(fp_);
    auto q = make_q_(with_float_layers(float_layers));
    PairStats st;
    for (int it = 0; it < opts_.iterations; ++it) {
      fp->forward();
      q->forward();
      st.add(fp->blob(opts_.output_blob).span(), q->blob(opts_.output_blob).span());
    }
    return st.cosine().value_or(-1.0);
  }

  const ufw::NetParameter& fp32_param() const { return fp_; }
  const ufw::NetParameter& int8_param() const { return q_; }
  const CompareOptions& options() const { return opts_; }

 private:
  // The first blob whose shapes differ between the nets is a one-line error.
  static void check_shapes(BlobSource& fp, BlobSource& q, const Report& r) {
    for (const auto& L : r.layers) {
      const auto &a = fp.blob(L.blob).shape(), &b = q.blob(L.blob).shape();
      if (a != b)
        throw ShapeError("fp32 net " + r.fp32_model + " and int8 net " + r.int8_model + " differ: blob '" + L.blob +
                         "' has shape " + shape_str(a) + " in fp32, " + shape_str(b) + " in int8");
    }
  }

  void check_blob_subset(const std::string& layer_difference) const {
    const std::string pre = "fp32 net " + opts_.fp32_model + " and int8 net " + opts_.int8_model + " differ: ";
    for (const auto& l : q_.layer()) {
      auto it = index_.find(l.name());
      if (it == index_.end())
        throw ModelError(pre + "int8 layer '" + l.name() + "' (" + l.type() + ") is not in the fp32 net");
      if (fp_.layer(it->second).type() != l.type())
        throw ModelError(pre + "layer " + l.name() + " is " + fp_.layer(it->second).type() + " in fp32, " + l.type() +
                         " in int8");
      for (const auto& t : l.top())
        if (!fp_blobs_.count(t)) throw ModelError(pre + "int8 blob '" + t + "' (layer " + l.name() + ") is not in the fp32 net");
    }
    (void)layer_difference;
  }

  bool has_compute_before(int i) const {
    for (int j : order_) {
      if (j == i) return false;
      if (is_compute_type(q_.layer(j).type())) return true;
    }
    return false;
  }

  static void add_topk(AccuracySummary& acc, const FloatTensor& fs, const FloatTensor& qs, const FloatTensor& labels) {
    const int64_t n = labels.size();
    if (n == 0 || fs.size() % n) return;
    const int64_t classes = fs.size() / n;
    for (int64_t r = 0; r < n; ++r) {
      const auto lab = static_cast<int64_t>(std::lround(labels[r]));
      std::span<const float> a(fs.data() + r * classes, static_cast<size_t>(classes));
      std::span<const float> b(qs.data() + r * classes, static_cast<size_t>(classes));
      acc.fp32_top1 += top_k_correct(a, lab, 1);
      acc.fp32_top5 += top_k_correct(a, lab, 5);
      acc.int8_top1 += top_k_correct(b, lab, 1);
      acc.int8_top5 += top_k_correct(b, lab, 5);
      ++acc.count;
    }
  }

  CompareOptions opts_;
  NetFactory make_fp_, make_q_;
  ufw::NetParameter fp_, q_;
  std::string scores_, label_;
  std::vector<int> order_;
  std::map<std::string, int> index_, producer_;
  std::set<std::string> fp_blobs_;
  bool same_layers_ = false;
  std::vector<int> layer_of_slot_;
};

}  // namespace octet::eval
