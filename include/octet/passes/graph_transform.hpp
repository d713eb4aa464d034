// graph_transform: float-graph rewrites that calibration runs before statistics (NNTC's
// `calibration_use_pb graph_transform`): unique tops (no in-place blobs, so every value can be
// named, measured and compared), BatchNorm/Scale folded into the preceding Convolution /
// InnerProduct / Deconvolution, linear Data-layer preprocessing (mean/scale) folded into the
// first convolution, and inference no-ops removed (Dropout, Split, identity Reshape/Flatten).
// Every pass keeps blob names: a blob of the optimised net has the name (and, up to float
// rounding, the value) of a blob of the unique-top original, so verify() compares by name.
// Operates on NetParameter with weights merged; depends on core/, ir/ and engine/net.hpp
// (shapes, verification); never on calib/ or tools.
#pragma once
#include <algorithm>
#include <cmath>
#include <map>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "octet/core/error.hpp"
#include "octet/engine/net.hpp"
#include "octet/ir/blob.hpp"
#include "octet/ir/graph.hpp"
#include "octet/proto/umodel.pb.h"

namespace octet::passes {

struct TransformOptions {
  bool merge_bn_scale = true;
  bool remove_noops = true;
  bool fuse_preprocess = false;
  std::set<std::string> notmerge;  // -notmerge_conv_layer: convs left unmerged
};

struct TransformReport {
  std::vector<std::string> merged;   // "conv <- bn, scale"
  std::vector<std::string> removed;  // "layer (type)"
  std::vector<std::string> notes;    // fusions refused and why
};

inline bool is_data_layer(const ufw::LayerParameter& l) { return l.type() == "Data" || l.type() == "AnnotatedData"; }
inline bool is_weighted_linear(const std::string& t) {
  return t == "Convolution" || t == "InnerProduct" || t == "Deconvolution";
}

// Consumers of every blob: layer indices reading it, in layer order.
inline std::map<std::string, std::vector<int>> consumers(const ufw::NetParameter& net) {
  std::map<std::string, std::vector<int>> c;
  for (int i = 0; i < net.layer_size(); ++i)
    for (const auto& b : net.layer(i).bottom()) c[b].push_back(i);
  return c;
}

// Renames in-place tops so every blob has exactly one producer. A rewritten top is named
// "<top>_<layer name>" (made unique), and later readers follow the newest version.
inline ufw::NetParameter unique_tops(const ufw::NetParameter& in) {
  ufw::NetParameter net = in;
  std::set<std::string> used;
  for (const auto& l : net.layer())
    for (const auto& t : l.top()) used.insert(t);
  for (const auto& i : net.input()) used.insert(i);
  std::map<std::string, std::string> current;
  std::set<std::string> produced;
  for (const auto& i : net.input()) produced.insert(i);
  for (auto& l : *net.mutable_layer()) {
    const std::vector<std::string> orig_bottoms(l.bottom().begin(), l.bottom().end());
    for (auto& b : *l.mutable_bottom())
      if (auto it = current.find(b); it != current.end()) b = it->second;
    for (auto& t : *l.mutable_top()) {
      const bool clash = produced.count(t) != 0 ||
                         std::find(orig_bottoms.begin(), orig_bottoms.end(), t) != orig_bottoms.end();
      std::string name = t;
      if (clash) {
        name = t + "_" + l.name();
        for (int k = 2; used.count(name); ++k) name = t + "_" + l.name() + "_" + std::to_string(k);
        used.insert(name);
      }
      produced.insert(t);
      current[t] = name;
      t = name;
    }
  }
  return net;
}

namespace detail {
inline std::vector<float> blob_values(const ufw::BlobProto& b) { return {b.data().begin(), b.data().end()}; }
inline void set_values(ufw::BlobProto& b, const std::vector<double>& v) {
  b.clear_data();
  for (double x : v) b.add_data(static_cast<float>(x));
}

// Output channels of a weighted layer and, per weight element, its output channel.
struct ChannelMap {
  int64_t channels = 0;
  std::vector<int64_t> of;  // of[i] = output channel of weight element i
};
inline ChannelMap channel_map(const ufw::LayerParameter& l) {
  ChannelMap m;
  const Shape s = ir::blob_shape(l.blobs(0));
  const int64_t n = shape_count(s);
  m.of.resize(static_cast<size_t>(n));
  if (l.type() == "Convolution") {
    m.channels = s.at(0);
    const int64_t per = n / m.channels;
    for (int64_t i = 0; i < n; ++i) m.of[i] = i / per;
  } else if (l.type() == "InnerProduct") {
    const bool tr = l.inner_product_param().transpose();
    m.channels = tr ? s.at(1) : s.at(0);
    const int64_t per = n / s.at(0);
    for (int64_t i = 0; i < n; ++i) m.of[i] = tr ? i % per : i / per;
  } else {  // Deconvolution: [Cin, Cout/g, k...]
    const int64_t g = std::max<int64_t>(1, l.convolution_param().group());
    const int64_t cin = s.at(0), cpg = s.at(1);
    const int64_t k = n / (cin * cpg);
    m.channels = cpg * g;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t ci = i / (cpg * k), j = (i / k) % cpg;
      m.of[i] = (ci / (cin / g)) * cpg + j;
    }
  }
  return m;
}

inline void set_bias_term(ufw::LayerParameter& l, bool on) {
  if (l.type() == "InnerProduct") l.mutable_inner_product_param()->set_bias_term(on);
  else l.mutable_convolution_param()->set_bias_term(on);
}
inline bool has_bias(const ufw::LayerParameter& l) { return l.blobs_size() >= 2; }

// Per-channel affine y -> a*y + c of a BatchNorm or single-bottom Scale layer, if it has one
// value per channel of `channels`; empty otherwise.
inline bool affine_of(const ufw::LayerParameter& l, int64_t channels, std::vector<double>& a, std::vector<double>& c) {
  if (l.type() == "BatchNorm") {
    if (l.blobs_size() < 3 || l.blobs(0).data_size() != channels || l.blobs(1).data_size() != channels ||
        l.blobs(2).data_size() < 1)
      return false;
    const double f = l.blobs(2).data(0);
    const double sf = f == 0 ? 0.0 : 1.0 / f;
    const double eps = l.batch_norm_param().eps();
    a.resize(channels), c.resize(channels);
    for (int64_t k = 0; k < channels; ++k) {
      const double mean = l.blobs(0).data(k) * sf, var = l.blobs(1).data(k) * sf;
      a[k] = 1.0 / std::sqrt(var + eps);
      c[k] = -mean * a[k];
    }
    return true;
  }
  if (l.type() == "Scale" && l.bottom_size() == 1) {
    const auto& sp = l.scale_param();
    if (sp.axis() != 1 || sp.num_axes() != 1 || l.blobs_size() < 1 || l.blobs(0).data_size() != channels) return false;
    if (sp.bias_term() && (l.blobs_size() < 2 || l.blobs(1).data_size() != channels)) return false;
    a.resize(channels), c.assign(channels, 0.0);
    for (int64_t k = 0; k < channels; ++k) {
      a[k] = l.blobs(0).data(k);
      if (sp.bias_term()) c[k] = l.blobs(1).data(k);
    }
    return true;
  }
  return false;
}

// W_o *= a_o, b_o = a_o*b_o + c_o (a bias blob is added when the layer had none).
inline void fold_affine(ufw::LayerParameter& l, const std::vector<double>& a, const std::vector<double>& c) {
  const ChannelMap m = channel_map(l);
  auto* w = l.mutable_blobs(0);
  for (size_t i = 0; i < m.of.size(); ++i) w->set_data(static_cast<int>(i), static_cast<float>(w->data(i) * a[m.of[i]]));
  std::vector<double> b(m.channels, 0.0);
  if (has_bias(l))
    for (int64_t k = 0; k < m.channels; ++k) b[k] = l.blobs(1).data(k);
  for (int64_t k = 0; k < m.channels; ++k) b[k] = a[k] * b[k] + c[k];
  if (!has_bias(l)) {
    auto* nb = l.add_blobs();
    ir::set_blob_shape(*nb, {m.channels});
    set_bias_term(l, true);
  }
  set_values(*l.mutable_blobs(1), b);
}
}  // namespace detail

// Folds BatchNorm and Scale layers that are the only reader of a Convolution / InnerProduct /
// Deconvolution output into its weights and bias; the conv takes over the last folded top.
// Expects unique tops.
inline void merge_bn_scale(ufw::NetParameter& net, const TransformOptions& o, TransformReport& rep) {
  std::vector<bool> drop(net.layer_size(), false);
  auto cons = consumers(net);
  for (int i = 0; i < net.layer_size(); ++i) {
    auto* l = net.mutable_layer(i);
    if (!is_weighted_linear(l->type()) || l->top_size() != 1 || l->blobs_size() < 1 || o.notmerge.count(l->name()))
      continue;
    std::string what;
    for (;;) {
      const auto it = cons.find(l->top(0));
      if (it == cons.end() || it->second.size() != 1) break;
      const int j = it->second[0];
      const auto& nx = net.layer(j);
      if (nx.bottom_size() != 1 || nx.top_size() != 1 || drop[j]) break;
      std::vector<double> a, c;
      if (!detail::affine_of(nx, detail::channel_map(*l).channels, a, c)) break;
      detail::fold_affine(*l, a, c);
      l->set_top(0, nx.top(0));
      drop[j] = true;
      what += (what.empty() ? "" : ", ") + nx.name();
    }
    if (!what.empty()) rep.merged.push_back(l->name() + " <- " + what);
  }
  ufw::NetParameter out = net;
  out.clear_layer();
  for (int i = 0; i < net.layer_size(); ++i)
    if (!drop[i]) *out.add_layer() = net.layer(i);
  net = std::move(out);
}

// Removes a single-bottom layer whose tops are all equal to its bottom in value: readers of
// its tops read the bottom instead. Layers whose top is a net output are kept (the output
// name is part of the net's interface).
inline void remove_noops(ufw::NetParameter& net, const std::map<std::string, Shape>& shapes, TransformReport& rep) {
  for (bool changed = true; changed;) {
    changed = false;
    const auto cons = consumers(net);
    for (int i = 0; i < net.layer_size(); ++i) {
      const auto& l = net.layer(i);
      if (l.bottom_size() != 1 || l.top_size() < 1) continue;
      bool identity = l.type() == "Dropout" || l.type() == "Split";
      if (l.type() == "Reshape" || l.type() == "Flatten") {
        const auto bi = shapes.find(l.bottom(0)), ti = shapes.find(l.top(0));
        identity = bi != shapes.end() && ti != shapes.end() && bi->second == ti->second;
      }
      if (!identity) continue;
      bool all_consumed = true;
      for (const auto& t : l.top()) all_consumed = all_consumed && cons.count(t) && !cons.at(t).empty();
      if (!all_consumed) continue;
      const std::string src = l.bottom(0);
      const std::set<std::string> tops(l.top().begin(), l.top().end());
      rep.removed.push_back(l.name() + " (" + l.type() + ")");
      ufw::NetParameter out = net;
      out.clear_layer();
      for (int k = 0; k < net.layer_size(); ++k) {
        if (k == i) continue;
        auto* d = out.add_layer();
        *d = net.layer(k);
        for (auto& b : *d->mutable_bottom())
          if (tops.count(b)) b = src;
      }
      net = std::move(out);
      changed = true;
      break;
    }
  }
}

// Folds the Data layer's Caffe-style transform (x - mean_c) * scale into the first
// convolution: W' = W*scale, b' = b - scale * sum W*mean. Exact only without padding (a
// padded zero of the normalised input is the mean of the raw one), so padded convs are left
// alone with a note.
inline void fuse_preprocess(ufw::NetParameter& net, TransformReport& rep) {
  const auto cons = consumers(net);
  for (auto& d : *net.mutable_layer()) {
    if (!is_data_layer(d) || d.top_size() < 1) continue;
    auto* tp = d.mutable_transform_param();
    if (tp->transform_op_size() > 0 || !tp->mean_file().empty()) {
      rep.notes.push_back("fuse_preprocess: " + d.name() + ": only scale/mean_value transforms can be fused");
      continue;
    }
    if (tp->mean_value_size() == 0 && tp->scale() == 1.0f) continue;
    const auto it = cons.find(d.top(0));
    if (it == cons.end() || it->second.size() != 1) {
      rep.notes.push_back("fuse_preprocess: " + d.name() + ": the input has several readers");
      continue;
    }
    auto* c = net.mutable_layer(it->second[0]);
    const auto& cp = c->convolution_param();
    bool padded = cp.pad_h() || cp.pad_w();
    for (auto p : cp.pad()) padded = padded || p;
    if (c->type() != "Convolution" || cp.group() != 1 || padded || c->blobs_size() < 1) {
      rep.notes.push_back("fuse_preprocess: " + d.name() + ": first layer " + c->name() +
                          " is not an unpadded, ungrouped Convolution");
      continue;
    }
    const Shape s = ir::blob_shape(c->blobs(0));  // [O, C, kh, kw]
    const int64_t O = s.at(0), C = s.at(1), K = shape_count(s) / (O * C);
    if (tp->mean_value_size() != 0 && tp->mean_value_size() != 1 && tp->mean_value_size() != C) {
      rep.notes.push_back("fuse_preprocess: " + d.name() + ": mean_value count does not match the channels");
      continue;
    }
    const double scale = tp->scale();
    auto mean = [&](int64_t ch) -> double {
      if (tp->mean_value_size() == 0) return 0.0;
      return tp->mean_value(tp->mean_value_size() == 1 ? 0 : static_cast<int>(ch));
    };
    std::vector<double> bias(O, 0.0);
    if (detail::has_bias(*c))
      for (int64_t o = 0; o < O; ++o) bias[o] = c->blobs(1).data(o);
    auto* w = c->mutable_blobs(0);
    for (int64_t o = 0; o < O; ++o)
      for (int64_t ch = 0; ch < C; ++ch)
        for (int64_t k = 0; k < K; ++k) {
          const int idx = static_cast<int>((o * C + ch) * K + k);
          bias[o] -= scale * w->data(idx) * mean(ch);
          w->set_data(idx, static_cast<float>(w->data(idx) * scale));
        }
    if (!detail::has_bias(*c)) {
      ir::set_blob_shape(*c->add_blobs(), {O});
      detail::set_bias_term(*c, true);
    }
    detail::set_values(*c->mutable_blobs(1), bias);
    tp->clear_mean_value();
    tp->clear_scale();
    if (tp->ByteSizeLong() == 0) d.clear_transform_param();
    rep.merged.push_back(c->name() + " <- " + d.name() + " preprocessing");
  }
}

// Blob shapes of a net (the Data layer opens its LMDB for the first record). Layers the
// runtime does not implement (Accuracy, losses) and everything reading their tops are left
// out: their blobs get no shape.
inline std::map<std::string, Shape> blob_shapes(const ufw::NetParameter& net) {
  const auto& reg = engine::default_registry();
  ufw::NetParameter known = net;
  known.clear_layer();
  std::set<std::string> missing;
  for (const auto& l : net.layer()) {
    bool ok = l.type() == "Input" || reg.has(l.type());
    for (const auto& b : l.bottom()) ok = ok && !missing.count(b);
    if (!ok) {
      for (const auto& t : l.top()) missing.insert(t);
      continue;
    }
    *known.add_layer() = l;
  }
  engine::Net n(known);
  std::map<std::string, Shape> out;
  for (const auto& b : n.blob_names()) out[b] = n.blob_shape(b);
  return out;
}

// The whole graph_transform on a phase-filtered, weights-merged net.
inline ufw::NetParameter graph_transform(const ufw::NetParameter& in, const TransformOptions& o, TransformReport& rep) {
  ufw::NetParameter net = unique_tops(in);
  if (o.fuse_preprocess) fuse_preprocess(net, rep);
  if (o.merge_bn_scale) merge_bn_scale(net, o, rep);
  if (o.remove_noops) remove_noops(net, blob_shapes(net), rep);
  return net;
}

// ---- verification ------------------------------------------------------------------------

struct VerifyResult {
  bool ok = true;
  int samples = 0;
  std::string worst_blob;
  double worst_rel = 0.0;   // max |a-b| / max |a| over the blob (first failing blob, else the largest)
  double worst_abs = 0.0;   // max |a-b|
  double ref_absmax = 0.0;  // max |a| of that blob
  size_t compared = 0;
};

// Replaces Data layers by Input layers of the same top shapes (label tops dropped), for
// deploy nets and random-input checks.
inline ufw::NetParameter data_to_input(const ufw::NetParameter& net, const std::map<std::string, Shape>& shapes) {
  ufw::NetParameter out = net;
  out.clear_layer();
  for (const auto& l : net.layer()) {
    if (!is_data_layer(l)) {
      *out.add_layer() = l;
      continue;
    }
    ufw::LayerParameter in;
    in.set_name(l.name());
    in.set_type("Input");
    in.add_top(l.top(0));
    auto* sh = in.mutable_input_param()->add_shape();
    for (auto d : shapes.at(l.top(0))) sh->add_dim(d);
    *in.mutable_top_quant() = l.top_quant();
    if (in.top_quant_size() > 1) in.mutable_top_quant()->DeleteSubrange(1, in.top_quant_size() - 1);
    *out.add_layer() = in;
  }
  return out;
}

// Runs `ref` and `opt` on `samples` records of their Data layers (or seeded random inputs
// when random_input) and compares every blob they both have, except the data tops (fused
// preprocessing changes them by design). Fails when a blob's max |diff| / max |ref| > tol.
inline VerifyResult verify(const ufw::NetParameter& ref, const ufw::NetParameter& opt, int samples, double tol,
                           bool random_input) {
  VerifyResult r;
  std::set<std::string> skip;
  for (const auto& l : ref.layer())
    if (is_data_layer(l) || l.type() == "Input")
      for (const auto& t : l.top()) skip.insert(t);
  std::unique_ptr<engine::Net> a, b;
  if (random_input) {
    const auto shapes = blob_shapes(ref);
    a = std::make_unique<engine::Net>(data_to_input(ref, shapes));
    b = std::make_unique<engine::Net>(data_to_input(opt, shapes));
  } else {
    a = std::make_unique<engine::Net>(ref);
    b = std::make_unique<engine::Net>(opt);
  }
  std::vector<std::string> names;
  for (const auto& n : b->blob_names())
    if (a->has_blob(n) && !skip.count(n) && a->blob_shape(n) == b->blob_shape(n)) names.push_back(n);
  r.compared = names.size();
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<double> rel(names.size(), 0.0), dif(names.size(), 0.0), refmax(names.size(), 0.0);
  for (int s = 0; s < samples; ++s) {
    if (random_input) {
      for (const auto& in : a->input_names()) {
        auto& ta = a->input(in);
        for (int64_t i = 0; i < ta.size(); ++i) ta.data()[i] = nd(rng);
        b->set_input(in, ta);
      }
    }
    a->forward();
    b->forward();
    for (size_t k = 0; k < names.size(); ++k) {
      const auto& x = a->blob(names[k]);
      const auto& y = b->blob(names[k]);
      double mx = 0, md = 0;
      for (int64_t i = 0; i < x.size(); ++i) {
        mx = std::max(mx, static_cast<double>(std::fabs(x.data()[i])));
        md = std::max(md, static_cast<double>(std::fabs(x.data()[i] - y.data()[i])));
      }
      const double rr = mx > 1e-12 ? md / mx : md;
      if (rr >= rel[k]) rel[k] = rr, dif[k] = md, refmax[k] = mx;
    }
    ++r.samples;
  }
  // Report where the error starts: the first blob (execution order) over the tolerance, else
  // the largest relative difference.
  size_t pick = names.size();
  for (size_t k = 0; k < names.size() && pick == names.size(); ++k)
    if (rel[k] > tol) pick = k;
  if (pick == names.size())
    for (size_t k = 0; k < names.size(); ++k)
      if (pick == names.size() || rel[k] > rel[pick]) pick = k;
  if (pick < names.size()) r.worst_blob = names[pick], r.worst_rel = rel[pick], r.worst_abs = dif[pick], r.ref_absmax = refmax[pick];
  r.ok = !(r.worst_rel > tol);
  return r;
}

inline void print_report(const TransformReport& rep, std::ostream& os) {
  for (const auto& m : rep.merged) os << "graph_transform: merged " << m << "\n";
  for (const auto& m : rep.removed) os << "graph_transform: removed " << m << "\n";
  for (const auto& m : rep.notes) os << "graph_transform: " << m << "\n";
}

}  // namespace octet::passes
