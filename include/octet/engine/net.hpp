// The fp32 runtime: a Net built from a NetParameter (weights already merged) and a layer
// registry. Build = phase filter, graph validation (ir::Graph), layer creation in execution
// order, shape inference through Layer::reshape, and one allocation per blob. forward() then
// runs the layers with no allocation.
//
// In-place layers (a top named like a bottom, Caffe style) share the blob's buffer when the
// layer says supports_in_place(); otherwise the Net runs the layer into a scratch tensor and
// copies back, so in-place semantics hold for every layer. Either way one tensor exists per
// blob name, so after forward() a blob written in place shows its final value (as in Caffe);
// use a *_unique_top prototxt to see every intermediate value.
//
// Depends on core/, ir/ and engine/layer.hpp + registry.hpp; never on tools or frontends.
#pragma once
#include <algorithm>
#include <chrono>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "octet/core/error.hpp"
#include "octet/core/tensor.hpp"
#include "octet/engine/layer.hpp"
#include "octet/engine/layers/elementwise.hpp"
#include "octet/engine/layers/input.hpp"
#include "octet/engine/layers/spatial.hpp"
#include "octet/engine/registry.hpp"
#include "octet/ir/blob.hpp"
#include "octet/ir/graph.hpp"
#include "octet/proto/umodel.pb.h"

namespace octet::engine {

struct NetOptions {
  const LayerRegistry* registry = nullptr;   // null: default_registry()
  ufw::Phase phase = ufw::TEST;
  std::map<std::string, Shape> input_shapes;  // overrides the prototxt's input shapes
  std::string model_file;                     // names the prototxt in graph errors
  std::string weights_file;                   // names the weights in blob errors
  // Called once per layer in execution order with its bottom shapes, before the layer is
  // created; may edit the parameter (init_weights fills missing blobs here).
  std::function<void(ufw::LayerParameter&, const std::vector<Shape>&)> prepare_layer;
  // Inference fusion at build: a Convolution followed by BatchNorm / Scale (folded into the
  // conv's own weight copy) and then ReLU / ReLU6 / Clip (applied as the conv writes) runs as
  // one layer. The blobs between the conv and the chain's last top are then never written, so
  // only callers that read net outputs (bench, plain forward) should turn this on; calibration
  // and layer-by-layer comparison need every blob.
  bool fuse = false;
};

struct LayerInfo {
  std::string name;
  std::string type;
  std::vector<std::string> bottoms;
  std::vector<std::string> tops;
  std::vector<Shape> bottom_shapes;
  std::vector<Shape> top_shapes;
  int64_t flops = 0;
  int64_t params = 0;           // parameter values in the layer's blobs
  bool in_place = false;        // a top reuses a bottom's name
  bool shares_buffer = false;   // ...and runs in that buffer (supports_in_place)
};

namespace detail {
// Rethrows the exception in flight with `prefix: ` prepended, keeping its category.
[[noreturn]] inline void rethrow_with(const std::string& prefix) {
  try {
    throw;
  } catch (const ShapeError& e) {
    throw ShapeError(prefix + ": " + e.what());
  } catch (const UnsupportedError& e) {
    throw UnsupportedError(prefix + ": " + e.what());
  } catch (const IoError& e) {
    throw IoError(prefix + ": " + e.what());
  } catch (const std::exception& e) {
    throw ModelError(prefix + ": " + e.what());
  }
}
}  // namespace detail

class Net {
 public:
  explicit Net(const ufw::NetParameter& param, NetOptions opts = {}) : opts_(std::move(opts)) { build(param); }
  Net(const ufw::NetParameter& param, const LayerRegistry& registry) {
    opts_.registry = &registry;
    build(param);
  }
  Net(const Net&) = delete;
  Net& operator=(const Net&) = delete;

  const std::string& name() const { return name_; }
  const std::vector<std::string>& input_names() const { return input_names_; }
  // Blobs produced and never consumed, in prototxt order.
  const std::vector<std::string>& output_names() const { return output_names_; }
  const std::vector<std::string>& blob_names() const { return blob_names_; }
  bool has_blob(const std::string& b) const { return blob_index_.count(b) != 0; }

  const FloatTensor& blob(const std::string& b) const { return blobs_[blob_id(b)]; }
  const Shape& blob_shape(const std::string& b) const { return shapes_[blob_id(b)]; }

  // Copies `t` into input `name`; its shape must equal the input's (see reshape_input).
  void set_input(const std::string& name, const FloatTensor& t) {
    FloatTensor& dst = input(name);
    if (t.shape() != dst.shape())
      throw ShapeError("net input '" + name + "': got shape " + shape_str(t.shape()) + ", net expects " +
                       shape_str(dst.shape()) + " (reshape_input first)");
    std::copy(t.data(), t.data() + t.size(), dst.data());
  }
  // Writable input tensor, for filling in place without a copy.
  FloatTensor& input(const std::string& name) {
    const auto it = input_index_.find(name);
    if (it == input_index_.end()) throw ModelError("'" + name + "' is not a net input (inputs: " + join(input_names_) + ")");
    return blobs_[inputs_[it->second].blob];
  }
  // Changes an input's shape and re-infers every shape (layers are kept, blobs resized).
  void reshape_input(const std::string& name, const Shape& shape) { reshape_inputs({{name, shape}}); }
  void reshape_inputs(const std::map<std::string, Shape>& shapes) {
    for (const auto& [n, s] : shapes) set_input_shape(n, s);
    infer_shapes();
  }

  void forward() {
    for (auto& st : steps_) run_step(st);
  }
  // forward() that calls after_layer(k) as soon as layer k (indexed like layers()) has run,
  // so a caller can read the blobs it wrote while they are still in cache (calibration
  // statistics). Layers fused away (NetOptions::fuse) do not run and are not reported. A
  // template, not a std::function: the call inlines, and plain forward() stays as it was.
  template <class AfterLayer>
  void forward(AfterLayer&& after_layer) {
    for (size_t k = 0; k < steps_.size(); ++k) {
      if (steps_[k].fused_away) continue;
      run_step(steps_[k]);
      after_layer(k);
    }
  }
  // Per blob (blob_names() order): the layer after which the blob holds the value it has at
  // the end of a forward, i.e. the last layer that writes it (an in-place layer overwrites its
  // bottom; a fused chain's head writes the chain's last blob), or nullopt when no layer
  // writes it during a forward (`input:` fields, blobs inside a fused chain): those keep,
  // during the whole forward, what they held before it.
  std::vector<std::optional<size_t>> final_writers() const {
    std::vector<std::optional<size_t>> w(blobs_.size());
    for (size_t k = 0; k < steps_.size(); ++k) {
      const Step& st = steps_[k];
      if (st.fused_away) continue;
      for (size_t t = 0; t < st.tops.size(); ++t) w[t == 0 && st.redirect ? *st.redirect : st.tops[t]] = k;
    }
    return w;
  }
  // forward() that adds each layer's wall time in ms to layer_ms[k] (indexed like layers();
  // layers fused into a convolution add nothing). For `ufw bench -profile`.
  void forward_timed(std::vector<double>& layer_ms) {
    layer_ms.resize(steps_.size(), 0.0);
    for (size_t k = 0; k < steps_.size(); ++k) {
      const auto t0 = std::chrono::steady_clock::now();
      run_step(steps_[k]);
      layer_ms[k] += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    }
  }

  // Names of the layers folded into a preceding convolution by NetOptions::fuse.
  std::vector<std::string> fused_layers() const {
    std::vector<std::string> out;
    for (const auto& st : steps_)
      if (st.fused_away) out.push_back(st.layer->name());
    return out;
  }

  // Layers in execution order, with their shapes, FLOPs and parameter counts.
  const std::vector<LayerInfo>& layers() const { return infos_; }
  Layer& layer(size_t i) { return *steps_.at(i).layer; }
  int64_t param_count() const {
    int64_t n = 0;
    for (const auto& l : infos_) n += l.params;
    return n;
  }
  int64_t flops() const {
    int64_t n = 0;
    for (const auto& l : infos_) n += l.flops;
    return n;
  }

  // The phase-filtered net as the layers hold it (blobs included, after prepare_layer and
  // legacy-shape normalisation), in prototxt order.
  ufw::NetParameter net_param() const {
    ufw::NetParameter out = header_;
    std::vector<const Layer*> by_file(steps_.size());
    for (const auto& st : steps_) by_file[st.file_index] = st.layer.get();
    for (const Layer* l : by_file) *out.add_layer() = l->param();
    return out;
  }

 private:
  struct Input {
    std::string name;
    size_t blob = 0;
    Shape shape;
    InputLayer* layer = nullptr;  // null for `input:` fields
    size_t top = 0;
  };
  struct Step {
    std::unique_ptr<Layer> layer;
    size_t file_index = 0;
    ufw::LayerParameter pending;  // the parameter until the layer is created
    std::vector<size_t> bottoms, tops;
    std::vector<bool> top_in_place;                 // top name is also a bottom name
    std::vector<bool> top_shared;                   // ...and runs in the shared buffer
    std::vector<std::unique_ptr<FloatTensor>> scratch;  // per top: scratch for in-place-by-copy
    std::vector<const FloatTensor*> bottom_ptrs;
    std::vector<FloatTensor*> top_ptrs;
    std::vector<std::pair<FloatTensor*, size_t>> copy_back;
    bool fused_away = false;       // folded into an earlier conv: not run
    std::optional<size_t> redirect;  // conv heading a fused chain: writes this blob instead of tops[0]
  };

  void run_step(Step& st) {
    if (st.fused_away) return;
    try {
      st.layer->forward(st.bottom_ptrs, st.top_ptrs);
    } catch (...) {
      detail::rethrow_with("layer " + st.layer->name() + " (" + st.layer->type() + ")");
    }
    for (const auto& [scratch, blob] : st.copy_back) {
      FloatTensor& dst = blobs_[blob];
      std::copy(scratch->data(), scratch->data() + scratch->size(), dst.data());
    }
  }

  static std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
  }
  size_t blob_id(const std::string& b) const {
    auto it = blob_index_.find(b);
    if (it == blob_index_.end()) throw ModelError("net " + name_ + ": unknown blob '" + b + "'");
    return it->second;
  }
  std::string where(const std::string& file) const { return file.empty() ? std::string() : file + ": "; }
  const LayerRegistry& registry() const { return opts_.registry ? *opts_.registry : default_registry(); }

  void set_input_shape(const std::string& n, const Shape& s) {
    auto it = input_index_.find(n);
    if (it == input_index_.end())
      throw ModelError(where(opts_.model_file) + "'" + n + "' is not a net input (inputs: " + join(input_names_) + ")");
    for (auto d : s)
      if (d <= 0) throw ShapeError("net input '" + n + "': bad shape " + shape_str(s));
    Input& in = inputs_[it->second];
    in.shape = s;
    if (in.layer) in.layer->set_shape(in.top, s);
  }

  void build(const ufw::NetParameter& full) {
    ufw::NetParameter net = ir::filter_phase(full, opts_.phase);
    name_ = net.name();
    const ir::Graph graph(net, opts_.model_file);
    blob_names_ = graph.blobs();
    output_names_ = graph.outputs();
    for (size_t i = 0; i < blob_names_.size(); ++i) blob_index_[blob_names_[i]] = i;
    blobs_.resize(blob_names_.size());
    shapes_.resize(blob_names_.size());

    for (const auto& l : net.layer())
      if (l.type() != "Input" && !registry().has(l.type()))
        throw UnsupportedError(where(opts_.model_file) + "layer " + l.name() + ": unknown layer type '" + l.type() + "'");

    const auto declared = ir::net_inputs(net);
    steps_.resize(static_cast<size_t>(net.layer_size()));
    for (size_t k = 0; k < steps_.size(); ++k) {
      const int i = graph.order()[k];
      Step& st = steps_[k];
      st.file_index = static_cast<size_t>(i);
      st.pending.Swap(net.mutable_layer(i));  // net is our copy: move, do not copy weights again
      const auto& l = st.pending;
      for (const auto& b : l.bottom()) st.bottoms.push_back(blob_index_.at(b));
      for (const auto& t : l.top()) {
        st.tops.push_back(blob_index_.at(t));
        st.top_in_place.push_back(std::find(l.bottom().begin(), l.bottom().end(), t) != l.bottom().end());
      }
    }
    header_.CopyFrom(net);  // layers are empty shells by now: cheap
    header_.clear_layer();
    for (const auto& in : declared) {
      Input x{in.name, blob_index_.at(in.name), in.shape, nullptr, 0};
      if (in.layer >= 0) {
        for (auto& st : steps_)
          if (static_cast<int>(st.file_index) == in.layer) {
            if (!st.layer) st.layer = std::make_unique<InputLayer>(st.pending);
            x.layer = static_cast<InputLayer*>(st.layer.get());
            const auto& tops = st.pending.top();
            x.top = static_cast<size_t>(std::find(tops.begin(), tops.end(), in.name) - tops.begin());
          }
      }
      input_index_[in.name] = inputs_.size();
      input_names_.push_back(in.name);
      inputs_.push_back(std::move(x));
    }
    for (const auto& [n, s] : opts_.input_shapes) set_input_shape(n, s);
    for (const auto& in : inputs_)
      if (in.shape.empty())
        throw ShapeError(where(opts_.model_file) + "net input '" + in.name +
                         "' has no shape (give input_shape/input_dim in the prototxt, or a shape at run time)");
    infer_shapes();
    if (opts_.fuse) {
      fuse_conv_chains();
      allocate();
    }
  }

  // NetOptions::fuse. A chain conv -> L1 -> L2 ... grows while the next layer in execution
  // order is a foldable BatchNorm/Scale (before any activation) or an activation, reads only
  // the chain's current blob, and that blob has no other reader (or the layer writes it in
  // place, so later readers see the final value either way).
  void fuse_conv_chains() {
    std::vector<int> readers(blobs_.size(), 0);
    for (const auto& st : steps_)
      for (size_t b : st.bottoms) ++readers[b];
    for (const auto& in : inputs_) readers[in.blob] += 1000;  // never fuse across a net input
    std::vector<float> a, b;
    for (size_t k = 0; k < steps_.size(); ++k) {
      // Heads: a convolution takes BatchNorm/Scale folds and an activation; an Eltwise (the
      // residual Add) takes an activation only.
      auto* conv = dynamic_cast<ConvolutionLayer*>(steps_[k].layer.get());
      auto* elt = steps_[k].layer->type() == "Eltwise" ? dynamic_cast<EltwiseLayer*>(steps_[k].layer.get()) : nullptr;
      if ((!conv && !elt) || steps_[k].tops.size() != 1 || steps_[k].fused_away) continue;
      auto set_activation = [&](const kernels::FusedActivation& act) {
        if (conv) conv->set_activation(act);
        else elt->set_activation(act);
      };
      size_t cur = steps_[k].tops[0];
      bool has_act = false;
      size_t j = k + 1;
      for (; j < steps_.size(); ++j) {
        Step& nx = steps_[j];
        if (nx.bottoms.size() != 1 || nx.tops.size() != 1 || nx.bottoms[0] != cur) break;
        const bool in_place = nx.tops[0] == cur;
        if (!in_place && readers[cur] != 1) break;
        if (std::find(output_names_.begin(), output_names_.end(), blob_names_[cur]) != output_names_.end() &&
            !in_place)
          break;
        const std::string& t = nx.layer->type();
        const Shape& cs = shapes_[cur];
        // An Eltwise writing straight into one of its own bottoms would clobber an input.
        if (elt && std::find(steps_[k].bottoms.begin(), steps_[k].bottoms.end(), nx.tops[0]) != steps_[k].bottoms.end())
          break;
        if (auto* bn = dynamic_cast<BatchNormLayer*>(nx.layer.get()); conv && bn && !has_act && t == "BatchNorm") {
          if (cs.size() < 3 || bn->channels() != conv->out_channels()) break;
          bn->channel_affine(a, b);
          conv->fold_affine(a, b);
        } else if (auto* sc = dynamic_cast<ScaleLayer*>(nx.layer.get()); conv && sc && !has_act && t == "Scale") {
          if (cs.size() < 3 || !sc->channel_affine(cs[0], conv->out_channels(), a, b)) break;
          conv->fold_affine(a, b);
        } else if (!has_act && dynamic_cast<ReluLayer*>(nx.layer.get()) && t == "ReLU") {
          set_activation(kernels::FusedActivation::relu(nx.layer->param().relu_param().negative_slope()));
          has_act = true;
        } else if (!has_act && dynamic_cast<Relu6Layer*>(nx.layer.get()) && t == "ReLU6") {
          set_activation(kernels::FusedActivation::relu6());
          has_act = true;
        } else if (!has_act && dynamic_cast<ClipLayer*>(nx.layer.get()) && t == "Clip") {
          const auto& cp = nx.layer->param().clip_param();
          set_activation(kernels::FusedActivation::clip(cp.min(), cp.max()));
          has_act = true;
        } else {
          break;
        }
        nx.fused_away = true;
        cur = nx.tops[0];
      }
      if (cur != steps_[k].tops[0]) steps_[k].redirect = cur;
      k = j - 1;
    }
  }

  // Caffe's layouts for weighted layers: check the blobs merged from the weights file and
  // turn legacy 4-D shapes into the N-D shapes layers expect.
  void check_param_blobs(ufw::LayerParameter& p, const std::vector<Shape>& bottoms) const {
    std::optional<std::vector<Shape>> want;
    try {
      want = ir::expected_param_shapes(p, bottoms);
    } catch (...) {
      detail::rethrow_with(where(opts_.model_file) + "layer " + p.name() + " (" + p.type() + ")");
    }
    for (auto& b : *p.mutable_blobs()) ir::blob_to_float_storage(b);
    if (!want) return;
    const std::string ctx = where(opts_.weights_file.empty() ? opts_.model_file : opts_.weights_file) + "layer " +
                            p.name() + " (" + p.type() + ")";
    auto list = [](const std::vector<Shape>& v) {
      std::string s;
      for (const auto& x : v) s += (s.empty() ? "" : " ") + shape_str(x);
      return s;
    };
    if (p.blobs_size() == 0 && !want->empty())
      throw ModelError(ctx + ": has no weights (expected " + std::to_string(want->size()) + " blobs: " + list(*want) +
                       "); give a weights file");
    if (static_cast<size_t>(p.blobs_size()) != want->size())
      throw ModelError(ctx + ": has " + std::to_string(p.blobs_size()) + " blobs, expected " +
                       std::to_string(want->size()) + " (" + list(*want) + ")");
    for (size_t j = 0; j < want->size(); ++j) {
      auto* b = p.mutable_blobs(static_cast<int>(j));
      if (!ir::blob_shape_compatible(*b, (*want)[j]))
        throw ShapeError(ctx + ": blob " + std::to_string(j) + " has shape " + shape_str(ir::blob_shape(*b)) +
                         ", expected " + shape_str((*want)[j]) + " for bottom " +
                         (bottoms.empty() ? "[]" : shape_str(bottoms[0])));
      ir::set_blob_shape(*b, (*want)[j]);
    }
  }

  void infer_shapes() {
    for (const auto& in : inputs_)
      if (!in.layer) shapes_[in.blob] = in.shape;
    infos_.clear();
    for (auto& st : steps_) {
      std::vector<Shape> bshapes;
      for (size_t b : st.bottoms) bshapes.push_back(shapes_[b]);
      if (!st.layer) {
        try {
          if (opts_.prepare_layer) opts_.prepare_layer(st.pending, bshapes);
        } catch (...) {
          detail::rethrow_with(where(opts_.model_file) + "layer " + st.pending.name() + " (" + st.pending.type() + ")");
        }
        check_param_blobs(st.pending, bshapes);
        try {
          st.layer = registry().create(st.pending);
        } catch (...) {
          detail::rethrow_with(where(opts_.model_file) + "layer " + st.pending.name() + " (" + st.pending.type() + ")");
        }
        st.pending.Clear();
      }
      const Layer& L = *st.layer;
      const std::string ctx = where(opts_.model_file) + "layer " + L.name() + " (" + L.type() + ")";
      std::vector<Shape> tshapes;
      try {
        tshapes = st.layer->reshape(bshapes);
      } catch (...) {
        detail::rethrow_with(ctx);
      }
      if (tshapes.size() != st.tops.size())
        throw ModelError(ctx + ": produces " + std::to_string(tshapes.size()) + " tops, prototxt names " +
                         std::to_string(st.tops.size()));
      for (size_t t = 0; t < st.tops.size(); ++t) {
        if (st.top_in_place[t] && tshapes[t] != shapes_[st.tops[t]])
          throw ShapeError(ctx + ": in-place top '" + blob_names_[st.tops[t]] + "' would change shape from " +
                           shape_str(shapes_[st.tops[t]]) + " to " + shape_str(tshapes[t]) + "; give it its own top name");
        shapes_[st.tops[t]] = tshapes[t];
      }
      LayerInfo info;
      info.name = L.name();
      info.type = L.type();
      info.bottoms.assign(L.param().bottom().begin(), L.param().bottom().end());
      info.tops.assign(L.param().top().begin(), L.param().top().end());
      info.bottom_shapes = bshapes;
      info.top_shapes = tshapes;
      info.flops = L.flops(bshapes, tshapes);
      for (const auto& b : L.param().blobs()) info.params += ir::blob_element_count(b);
      infos_.push_back(std::move(info));
    }
    allocate();
  }

  void allocate() {
    for (size_t b = 0; b < blobs_.size(); ++b)
      if (blobs_[b].shape() != shapes_[b] || blobs_[b].data() == nullptr) blobs_[b].reshape(shapes_[b]);
    for (size_t k = 0; k < steps_.size(); ++k) {
      Step& st = steps_[k];
      LayerInfo& info = infos_[k];
      const bool can_share = st.layer->supports_in_place();
      st.bottom_ptrs.clear();
      st.top_ptrs.clear();
      st.copy_back.clear();
      st.top_shared.assign(st.tops.size(), false);
      st.scratch.resize(st.tops.size());
      for (size_t b : st.bottoms) st.bottom_ptrs.push_back(&blobs_[b]);
      for (size_t t = 0; t < st.tops.size(); ++t) {
        const size_t id = st.tops[t];
        if (t == 0 && st.redirect) {
          st.top_ptrs.push_back(&blobs_[*st.redirect]);
          continue;
        }
        if (!st.top_in_place[t]) {
          st.top_ptrs.push_back(&blobs_[id]);
          continue;
        }
        info.in_place = true;
        // Share only when the aliasing is the one the contract allows: tops[t] == bottoms[t]
        // and the name appears once among the bottoms.
        const bool same_slot = t < st.bottoms.size() && st.bottoms[t] == id &&
                               std::count(st.bottoms.begin(), st.bottoms.end(), id) == 1;
        if (can_share && same_slot) {
          st.top_shared[t] = true;
          info.shares_buffer = true;
          st.top_ptrs.push_back(&blobs_[id]);
        } else {
          if (!st.scratch[t]) st.scratch[t] = std::make_unique<FloatTensor>();
          st.scratch[t]->reshape(shapes_[id]);
          st.top_ptrs.push_back(st.scratch[t].get());
          st.copy_back.emplace_back(st.scratch[t].get(), id);
        }
      }
    }
  }

  NetOptions opts_;
  std::string name_;
  ufw::NetParameter header_;  // the net without layers (name, inputs, state)
  std::vector<std::string> blob_names_, output_names_, input_names_;
  std::map<std::string, size_t> blob_index_, input_index_;
  std::vector<FloatTensor> blobs_;
  std::vector<Shape> shapes_;
  std::vector<Input> inputs_;
  std::vector<Step> steps_;
  std::vector<LayerInfo> infos_;
};

}  // namespace octet::engine
