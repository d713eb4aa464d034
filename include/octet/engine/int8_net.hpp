// The int8 runtime: executes an int8 umodel (docs/int8-umodel.md) with the integer arithmetic
// of the target (fixed/): int8 x int8 -> int32, bias, requantise, round, saturate; float only
// where a layer falls back.
//
// How it is built: an fp32 Net ("shadow") is built from the same NetParameter with the int8
// weights dequantised. It provides graph validation, execution order, shape inference and the
// fp32 Layer objects that float-fallback layers (and data sources) run, so both runtimes share
// one implementation of all of that. On top of it the Int8Net keeps its own typed blobs
// (QBlob: INT8 / UINT8 / FP32 per the top's BlobQuant) and runs int8 layers (int8_layers.hpp)
// where make_int8_layer accepts them. A top named like a bottom (Caffe in-place) gets its own
// storage here, because the two may differ in dtype (int8 ReLU input, uint8 output); the name
// then shows the last value, as in the fp32 Net.
//
// Border conversions (docs/int8-umodel.md): a float layer reading an int8/uint8 blob gets it
// dequantised; an int8 layer reading a float blob gets it quantised to INT8 with the blob's
// recorded threshold; a float layer writing an int8/uint8 top has its output quantised with that
// top's BlobQuant. Net inputs are quantised on entry (set_input), data-source layers' outputs
// likewise.
//
// Depends on core/, ir/, fixed/, kernels/ and engine/; never on tools or frontends.
#pragma once
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "octet/core/error.hpp"
#include "octet/core/tensor.hpp"
#include "octet/engine/int8_layers.hpp"
#include "octet/engine/net.hpp"
#include "octet/ir/blob.hpp"
#include "octet/ir/graph.hpp"
#include "octet/proto/umodel.pb.h"

namespace octet::engine {

struct Int8NetOptions {
  const LayerRegistry* registry = nullptr;  // fp32 layers for fallback; null: default_registry()
  ufw::Phase phase = ufw::TEST;
  std::map<std::string, Shape> input_shapes;  // overrides the prototxt's input shapes
  std::string model_file;                     // names the prototxt in errors
  std::string weights_file;                   // names the weights in errors
};

// How one layer runs.
struct Int8LayerInfo {
  std::string name, type;
  bool int8 = false;  // int8 kernel (Input: every top stored as codes); false: float (fp32 layer, border conversions)
  std::vector<DType> top_dtypes;
};

namespace int8_net_detail {

// The BlobQuant of top i: top_quant(i), or top_quant(0) for every top when only one is given.
inline const ufw::BlobQuant* top_quant(const ufw::LayerParameter& l, int i) {
  if (i < l.top_quant_size()) return &l.top_quant(i);
  if (l.top_quant_size() == 1) return &l.top_quant(0);
  return nullptr;
}

// Output channel of element `idx` of a weight blob, for per-channel scales.
inline int64_t weight_channel(const ufw::LayerParameter& l, const Shape& ws, int64_t idx) {
  const int64_t total = shape_count(ws);
  if (l.type() == "InnerProduct") {
    if (l.inner_product_param().transpose()) return idx % ws.back();
    return idx / (total / ws[0]);
  }
  if (l.type() == "Deconvolution" && ws.size() >= 2) {
    const int64_t group = std::max<int64_t>(1, l.convolution_param().group());
    const int64_t spatial = shape_count(ws, 2), og = ws[1], cin_g = ws[0] / group;
    const int64_t cin = idx / (og * spatial), j = (idx / spatial) % og;
    return (cin / cin_g) * og + j;
  }
  return idx / (total / ws[0]);
}

// Replaces int8 weights (blobs[0] INT8) and int32 bias (blobs[1] INT32) by their float values
// (q * s_w,c and q * s_in * s_w,c) so the fp32 layer can be built (shapes, fallback).
inline void dequantize_weight_blobs(ufw::LayerParameter& l, float s_in, const std::string& ctx) {
  if (l.blobs_size() == 0 || l.blobs(0).dtype() != ufw::BlobProto::INT8) return;
  auto* w = l.mutable_blobs(0);
  const Shape ws = ir::blob_shape(*w);
  const std::string& q = w->int8_data();
  if (static_cast<int64_t>(q.size()) != shape_count(ws))
    throw ModelError(ctx + ": weight blob has " + std::to_string(q.size()) + " int8 values for shape " + shape_str(ws));
  std::vector<float> sc;
  if (w->per_channel_en() || w->scaletofloatperchannel_size() > 0) sc.assign(w->scaletofloatperchannel().begin(), w->scaletofloatperchannel().end());
  if (sc.empty()) sc.push_back(w->scaletofloat());
  auto scale_of = [&](int64_t idx) {
    if (sc.size() == 1) return sc[0];
    const int64_t c = weight_channel(l, ws, idx);
    if (c < 0 || c >= static_cast<int64_t>(sc.size()))
      throw ModelError(ctx + ": " + std::to_string(sc.size()) + " per-channel weight scales do not cover channel " +
                       std::to_string(c));
    return sc[static_cast<size_t>(c)];
  };
  std::vector<float> f(q.size());
  for (size_t i = 0; i < q.size(); ++i)
    f[i] = static_cast<float>(static_cast<std::int8_t>(q[i])) * scale_of(static_cast<int64_t>(i));
  w->clear_int8_data();
  w->mutable_data()->Assign(f.begin(), f.end());
  w->set_dtype(ufw::BlobProto::FP32);
  if (l.blobs_size() > 1 && l.blobs(1).dtype() == ufw::BlobProto::INT32) {
    auto* b = l.mutable_blobs(1);
    if (!(s_in > 0))
      throw ModelError(ctx + ": int32 bias but the bottom has no threshold to give its scale");
    std::vector<float> bf(static_cast<size_t>(b->int32_data_size()));
    for (int c = 0; c < b->int32_data_size(); ++c) {
      const double sw = sc.size() == 1 ? sc[0] : sc.at(static_cast<size_t>(c));
      bf[static_cast<size_t>(c)] = static_cast<float>(b->int32_data(c) * static_cast<double>(s_in) * sw);
    }
    b->clear_int32_data();
    b->mutable_data()->Assign(bf.begin(), bf.end());
    b->set_dtype(ufw::BlobProto::FP32);
  }
}

}  // namespace int8_net_detail

class Int8Net {
 public:
  explicit Int8Net(const ufw::NetParameter& param, Int8NetOptions opts = {}) : opts_(std::move(opts)), param_(param) {
    build(param_);
  }
  Int8Net(const Int8Net&) = delete;
  Int8Net& operator=(const Int8Net&) = delete;

  const std::string& name() const { return shadow_->name(); }
  const std::vector<std::string>& input_names() const { return shadow_->input_names(); }
  const std::vector<std::string>& output_names() const { return shadow_->output_names(); }
  const std::vector<std::string>& blob_names() const { return shadow_->blob_names(); }
  bool has_blob(const std::string& b) const { return current_.count(b) != 0; }
  const Shape& blob_shape(const std::string& b) const { return slot(b).shape; }
  const QuantInfo& blob_quant(const std::string& b) const { return slot(b).q; }

  // Quantises `t` into input `name` with the input's BlobQuant (copies it for an FP32 input).
  void set_input(const std::string& name, const FloatTensor& t) {
    if (std::find(input_names().begin(), input_names().end(), name) == input_names().end())
      throw ModelError("'" + name + "' is not a net input");
    QBlob& dst = blobs_[current_.at(name)];
    if (t.shape() != dst.shape)
      throw ShapeError("net input '" + name + "': got shape " + shape_str(t.shape()) + ", net expects " +
                       shape_str(dst.shape));
    dst.from_float(t.data());
  }

  // Changes input shapes (e.g. the batch) and rebuilds every layer; blob contents are lost.
  void reshape_inputs(const std::map<std::string, Shape>& shapes) {
    for (const auto& [n, sh] : shapes) opts_.input_shapes[n] = sh;
    steps_.clear();
    infos_.clear();
    blobs_.clear();
    current_.clear();
    shadow_.reset();
    build(param_);
  }
  void reshape_input(const std::string& name, const Shape& shape) { reshape_inputs({{name, shape}}); }

  void forward() {
    for (auto& st : steps_) {
      if (st.skip) continue;
      try {
        if (st.int8) {
          for (auto& [src, dst] : st.quantize_in) dst->from_float(blobs_[src].f.data());
          st.int8->forward(st.qbottoms, st.qtops);
        } else {
          for (auto& [src, dst] : st.dequantize_in) blobs_[src].to_float(dst->data());
          st.fp32->forward(st.fbottoms, st.ftops);
          for (auto& [src, dst] : st.quantize_out) blobs_[dst].from_float(src->data());
        }
      } catch (...) {
        detail::rethrow_with("layer " + st.name + " (" + st.type + ")");
      }
    }
  }

  // Dequantised copy of a blob (its last value when the name is written in place).
  FloatTensor blob_float(const std::string& b) const {
    const QBlob& s = slot(b);
    FloatTensor t(s.shape);
    s.to_float(t.data());
    return t;
  }
  // The blob as stored: dtype, codes (s8 / u8) or floats (f), shape and QuantInfo.
  const QBlob& blob_raw(const std::string& b) const { return slot(b); }

  const std::vector<Int8LayerInfo>& layers() const { return infos_; }
  // The fp32 net the int8 net is built on (dequantised weights): shapes, fp32 layers.
  const Net& fp32_net() const { return *shadow_; }

 private:
  struct Step {
    std::string name, type;
    bool skip = false;  // Input layers: set_input fills their tops
    Layer* fp32 = nullptr;
    std::unique_ptr<Int8Layer> int8;
    // int8 step
    std::vector<const QBlob*> qbottoms;
    std::vector<QBlob*> qtops;
    std::vector<std::pair<size_t, QBlob*>> quantize_in;  // float blob -> int8 scratch
    std::vector<std::unique_ptr<QBlob>> qscratch;
    // float step
    std::vector<const FloatTensor*> fbottoms;
    std::vector<FloatTensor*> ftops;
    std::vector<std::pair<size_t, FloatTensor*>> dequantize_in;
    std::vector<std::pair<FloatTensor*, size_t>> quantize_out;
    std::vector<std::unique_ptr<FloatTensor>> fscratch;
  };

  const QBlob& slot(const std::string& b) const {
    auto it = current_.find(b);
    if (it == current_.end()) throw ModelError("int8 net " + name() + ": unknown blob '" + b + "'");
    return blobs_[it->second];
  }
  std::string where() const { return opts_.model_file.empty() ? std::string() : opts_.model_file + ": "; }

  void build(const ufw::NetParameter& full) {
    const ufw::NetParameter net = ir::filter_phase(full, opts_.phase);
    const ir::Graph graph(net, opts_.model_file);
    const auto& order = graph.order();

    // Quantisation of every blob version in execution order (a name written in place gets a
    // new version), and the shadow fp32 parameter with dequantised weights.
    ufw::NetParameter shadow = net;
    std::map<std::string, QuantInfo> q_now;
    std::vector<std::vector<QuantInfo>> bq(order.size()), tq(order.size());
    for (size_t k = 0; k < order.size(); ++k) {
      const auto& l = net.layer(order[k]);
      const std::string ctx = where() + "layer " + l.name() + " (" + l.type() + ")";
      for (const auto& b : l.bottom()) bq[k].push_back(q_now.count(b) ? q_now[b] : QuantInfo{});
      for (int t = 0; t < l.top_size(); ++t) {
        QuantInfo q;
        try {
          q = quant_info(int8_net_detail::top_quant(l, t));
        } catch (...) {
          detail::rethrow_with(ctx + ": top " + l.top(t));
        }
        tq[k].push_back(q);
        q_now[l.top(t)] = q;
      }
      int8_net_detail::dequantize_weight_blobs(*shadow.mutable_layer(order[k]), bq[k].empty() ? 0.f : bq[k][0].scale, ctx);
    }
    NetOptions no;
    no.registry = opts_.registry;
    no.phase = opts_.phase;
    no.input_shapes = opts_.input_shapes;
    no.model_file = opts_.model_file;
    no.weights_file = opts_.weights_file;
    shadow_ = std::make_unique<Net>(shadow, no);
    const auto& infos = shadow_->layers();
    if (infos.size() != order.size()) throw ModelError(where() + "int8 net: layer count mismatch with the fp32 net");

    // Net inputs: one slot each, quantised as their Input layer's top_quant says.
    for (const auto& in : shadow_->input_names()) new_slot(in, shadow_->blob_shape(in), q_now.count(in) ? q_now[in] : QuantInfo{});
    std::map<std::string, size_t> input_slot = current_;

    steps_.resize(order.size());
    for (size_t k = 0; k < order.size(); ++k) {
      const auto& l = net.layer(order[k]);
      const auto& info = infos[k];
      if (info.name != l.name()) throw ModelError(where() + "int8 net: execution order differs from the fp32 net at " + l.name());
      Step& st = steps_[k];
      st.name = l.name();
      st.type = l.type();
      st.fp32 = &shadow_->layer(k);
      Int8LayerInfo li{l.name(), l.type(), false, {}};
      if (l.type() == "Input") {
        st.skip = true;
        li.int8 = true;  // "produces int8": every top is stored as codes
        for (const auto& t : l.top()) {
          li.top_dtypes.push_back(blobs_[input_slot.at(t)].dtype());
          li.int8 = li.int8 && li.top_dtypes.back() != DType::F32;
        }
        infos_.push_back(std::move(li));
        continue;
      }
      std::vector<size_t> bslots;
      std::vector<QDesc> bd, td;
      for (int i = 0; i < l.bottom_size(); ++i) {
        bslots.push_back(current_.at(l.bottom(i)));
        bd.push_back({info.bottom_shapes[static_cast<size_t>(i)], blobs_[bslots.back()].q});
      }
      for (int t = 0; t < l.top_size(); ++t) td.push_back({info.top_shapes[static_cast<size_t>(t)], tq[k][static_cast<size_t>(t)]});
      const std::string ctx = where() + "layer " + l.name() + " (" + l.type() + ")";
      if (!st.fp32->is_data_source()) {
        try {
          st.int8 = make_int8_layer(l, bd, td, st.fp32);
          if (st.int8) st.int8->setup(bd, td);
        } catch (...) {
          detail::rethrow_with(ctx);
        }
      }
      std::vector<size_t> tslots;
      for (int t = 0; t < l.top_size(); ++t) tslots.push_back(new_slot(l.top(t), td[static_cast<size_t>(t)].shape, td[static_cast<size_t>(t)].q));
      if (st.int8) {
        li.int8 = true;
        for (size_t i = 0; i < bslots.size(); ++i) {
          QBlob& b = blobs_[bslots[i]];
          if (b.dtype() != DType::F32 || !st.int8->int8_bottom(i)) {
            st.qbottoms.push_back(&b);
            continue;
          }
          auto sc = std::make_unique<QBlob>();
          sc->q = b.q;
          sc->q.dtype = DType::I8;
          sc->q.range = fixed::QRange::int8_sym;
          sc->shape = b.shape;
          sc->allocate();
          st.quantize_in.emplace_back(bslots[i], sc.get());
          st.qbottoms.push_back(sc.get());
          st.qscratch.push_back(std::move(sc));
        }
        for (size_t t : tslots) st.qtops.push_back(&blobs_[t]);
      } else {
        for (size_t s : bslots) {
          QBlob& b = blobs_[s];
          if (b.dtype() == DType::F32) {
            st.fbottoms.push_back(&b.f);
            continue;
          }
          auto sc = std::make_unique<FloatTensor>(b.shape);
          st.dequantize_in.emplace_back(s, sc.get());
          st.fbottoms.push_back(sc.get());
          st.fscratch.push_back(std::move(sc));
        }
        for (size_t t : tslots) {
          QBlob& b = blobs_[t];
          if (b.dtype() == DType::F32) {
            st.ftops.push_back(&b.f);
            continue;
          }
          auto sc = std::make_unique<FloatTensor>(b.shape);
          st.quantize_out.emplace_back(sc.get(), t);
          st.ftops.push_back(sc.get());
          st.fscratch.push_back(std::move(sc));
        }
      }
      for (size_t t : tslots) li.top_dtypes.push_back(blobs_[t].dtype());
      infos_.push_back(std::move(li));
    }
  }

  size_t new_slot(const std::string& name, const Shape& shape, const QuantInfo& q) {
    blobs_.emplace_back();
    QBlob& b = blobs_.back();
    b.q = q;
    b.shape = shape;
    b.allocate();
    current_[name] = blobs_.size() - 1;
    return blobs_.size() - 1;
  }

  Int8NetOptions opts_;
  ufw::NetParameter param_;  // as given, for reshape_inputs
  std::unique_ptr<Net> shadow_;
  std::deque<QBlob> blobs_;  // stable addresses
  std::map<std::string, size_t> current_;
  std::vector<Step> steps_;
  std::vector<Int8LayerInfo> infos_;
};

}  // namespace octet::engine
