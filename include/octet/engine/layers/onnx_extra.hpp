// fp32 runtime layers that ONNX conversion needs and no Caffe family provides: Parameter (a
// constant blob as a top: folded graph outputs, constant Concat operands), InstanceNorm,
// Gather (numpy take along one axis), Expand (numpy broadcast to a shape), DepthToSpace and
// SpaceToDepth (DCR and CRD orders). Plain loops: these are rare, small layers in deployed nets.
// Depends on engine/layer.hpp and engine/blob_util.hpp only.
#pragma once
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "octet/engine/blob_util.hpp"
#include "octet/engine/layer.hpp"

namespace octet::engine {

namespace onnx_extra_detail {
inline std::vector<int64_t> strides(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (int i = static_cast<int>(s.size()) - 2; i >= 0; --i) st[i] = st[i + 1] * s[i + 1];
  return st;
}
}  // namespace onnx_extra_detail

// Caffe's "Parameter" layer: top 0 is blobs[0] (shape from parameter_param.shape when given).
class ParameterLayer : public Layer {
 public:
  explicit ParameterLayer(const ufw::LayerParameter& p) : Layer(p) {
    if (p.blobs_size() < 1) throw ModelError("Parameter layer needs its value in blobs[0]");
    value_ = blob_to_tensor(p.blobs(0), "blobs[0]");
    if (p.has_parameter_param() && p.parameter_param().has_shape()) {
      Shape s(p.parameter_param().shape().dim().begin(), p.parameter_param().shape().dim().end());
      value_.reinterpret(s);
    }
  }
  std::vector<Shape> reshape(const std::vector<Shape>& bottoms) override {
    if (!bottoms.empty()) throw ModelError("Parameter takes no bottoms");
    return {value_.shape()};
  }
  void forward(const std::vector<const FloatTensor*>&, const std::vector<FloatTensor*>& tops) override {
    std::copy(value_.data(), value_.data() + value_.size(), tops[0]->data());
  }
  int64_t flops(const std::vector<Shape>&, const std::vector<Shape>&) const override { return 0; }

 private:
  FloatTensor value_;
};

class InstanceNormLayer : public Layer {
 public:
  explicit InstanceNormLayer(const ufw::LayerParameter& p) : Layer(p), eps_(p.instance_norm_param().eps()) {
    if (p.blobs_size() != 2) throw ModelError("InstanceNorm needs scale and bias blobs");
    scale_ = blob_to_tensor(p.blobs(0), "scale");
    bias_ = blob_to_tensor(p.blobs(1), "bias");
  }
  std::vector<Shape> reshape(const std::vector<Shape>& b) override {
    if (b.size() != 1 || b[0].size() < 2) throw ShapeError("InstanceNorm needs one N x C x ... bottom");
    if (scale_.size() != b[0][1] || bias_.size() != b[0][1])
      throw ShapeError("InstanceNorm: scale/bias length differs from channels");
    return {b[0]};
  }
  bool supports_in_place() const override { return true; }
  void forward(const std::vector<const FloatTensor*>& bottoms, const std::vector<FloatTensor*>& tops) override {
    const auto& s = bottoms[0]->shape();
    const int64_t N = s[0], C = s[1], inner = shape_count(s, 2);
    const float* x = bottoms[0]->data();
    float* y = tops[0]->data();
    for (int64_t b = 0; b < N; ++b)
      for (int64_t c = 0; c < C; ++c) {
        const float* p = x + (b * C + c) * inner;
        float* q = y + (b * C + c) * inner;
        double m = 0, v = 0;
        for (int64_t k = 0; k < inner; ++k) m += p[k];
        m /= static_cast<double>(inner);
        for (int64_t k = 0; k < inner; ++k) v += (p[k] - m) * (p[k] - m);
        v /= static_cast<double>(inner);
        const double a = scale_[c] / std::sqrt(v + eps_), sh = bias_[c] - m * a;
        for (int64_t k = 0; k < inner; ++k) q[k] = static_cast<float>(p[k] * a + sh);
      }
  }

 private:
  double eps_;
  FloatTensor scale_, bias_;
};

// numpy take(x, indices, axis): indices from blobs[0] or bottom[1] (floats holding integers;
// negative ones count from the end).
class GatherLayer : public Layer {
 public:
  explicit GatherLayer(const ufw::LayerParameter& p) : Layer(p), axis_(p.gather_param().axis()) {
    if (p.blobs_size() > 0) {
      idx_ = blob_to_tensor(p.blobs(0), "indices");
      idx_shape_ = blob_shape(p.blobs(0));
      has_blob_ = true;
    }
  }
  std::vector<Shape> reshape(const std::vector<Shape>& b) override {
    if (b.empty() || b.size() != (has_blob_ ? 1u : 2u)) throw ShapeError("Gather needs data (+ indices unless in blobs[0])");
    axis_n_ = canonical_axis(axis_, b[0].size());
    const Shape& is = has_blob_ ? idx_shape_ : b[1];
    Shape s(b[0].begin(), b[0].begin() + axis_n_);
    s.insert(s.end(), is.begin(), is.end());
    s.insert(s.end(), b[0].begin() + axis_n_ + 1, b[0].end());
    return {s};
  }
  void forward(const std::vector<const FloatTensor*>& bottoms, const std::vector<FloatTensor*>& tops) override {
    const auto& xs = bottoms[0]->shape();
    const float* idx = has_blob_ ? idx_.data() : bottoms[1]->data();
    const int64_t k = has_blob_ ? idx_.size() : bottoms[1]->size();
    const int64_t outer = shape_count(xs, 0, axis_n_), inner = shape_count(xs, axis_n_ + 1), len = xs[axis_n_];
    const float* x = bottoms[0]->data();
    float* y = tops[0]->data();
    for (int64_t j = 0; j < k; ++j) {
      int64_t id = static_cast<int64_t>(idx[j]);
      if (id < 0) id += len;
      if (id < 0 || id >= len) throw ShapeError("Gather: index " + std::to_string(id) + " out of range");
    }
    for (int64_t b = 0; b < outer; ++b)
      for (int64_t j = 0; j < k; ++j) {
        int64_t id = static_cast<int64_t>(idx[j]);
        if (id < 0) id += len;
        std::copy_n(x + (b * len + id) * inner, inner, y + (b * k + j) * inner);
      }
  }
  int64_t flops(const std::vector<Shape>&, const std::vector<Shape>&) const override { return 0; }

 private:
  int axis_;
  int axis_n_ = 0;
  bool has_blob_ = false;
  FloatTensor idx_;
  Shape idx_shape_;
};

// numpy broadcast_to(x, broadcast(x.shape, expand_param.shape)).
class ExpandLayer : public Layer {
 public:
  explicit ExpandLayer(const ufw::LayerParameter& p) : Layer(p) {
    want_.assign(p.expand_param().shape().dim().begin(), p.expand_param().shape().dim().end());
  }
  std::vector<Shape> reshape(const std::vector<Shape>& b) override {
    if (b.size() != 1) throw ShapeError("Expand takes one bottom");
    const size_t r = std::max(b[0].size(), want_.size());
    Shape out(r, 1);
    for (size_t i = 0; i < r; ++i) {
      const int64_t x = i + b[0].size() >= r ? b[0][i + b[0].size() - r] : 1;
      const int64_t w = i + want_.size() >= r ? want_[i + want_.size() - r] : 1;
      if (x != w && x != 1 && w != 1)
        throw ShapeError("Expand: " + shape_str(b[0]) + " does not broadcast to " + shape_str(want_));
      out[i] = x == 1 ? w : x;
    }
    in_ = b[0];
    out_ = out;
    return {out};
  }
  void forward(const std::vector<const FloatTensor*>& bottoms, const std::vector<FloatTensor*>& tops) override {
    const size_t r = out_.size();
    std::vector<int64_t> ist(r, 0);
    const auto own = onnx_extra_detail::strides(in_);
    for (size_t i = 0; i < in_.size(); ++i) ist[r - in_.size() + i] = in_[i] == 1 ? 0 : own[i];
    const auto ost = onnx_extra_detail::strides(out_);
    const float* x = bottoms[0]->data();
    float* y = tops[0]->data();
    const int64_t n = shape_count(out_);
    for (int64_t i = 0; i < n; ++i) {
      int64_t rem = i, off = 0;
      for (size_t d = 0; d < r; ++d) {
        off += (rem / ost[d]) * ist[d];
        rem %= ost[d];
      }
      y[i] = x[off];
    }
  }
  int64_t flops(const std::vector<Shape>&, const std::vector<Shape>&) const override { return 0; }

 private:
  Shape want_, in_, out_;
};

// DepthToSpace (DCR: depth is (block_h, block_w, C'); CRD: (C', block_h, block_w)) and its
// inverse SpaceToDepth, on N x C x H x W.
class SpaceDepthLayer : public Layer {
 public:
  SpaceDepthLayer(const ufw::LayerParameter& p, bool to_space)
      : Layer(p), b_(static_cast<int64_t>(p.space_to_depth_param().block_size())), crd_(p.space_to_depth_param().crd()),
        to_space_(to_space) {
    if (b_ < 1) throw ModelError("block_size must be >= 1");
  }
  std::vector<Shape> reshape(const std::vector<Shape>& b) override {
    if (b.size() != 1 || b[0].size() != 4) throw ShapeError(type() + " needs one 4-D bottom");
    const auto& s = b[0];
    if (to_space_) {
      if (s[1] % (b_ * b_)) throw ShapeError("channels not divisible by block_size^2");
      return {{s[0], s[1] / (b_ * b_), s[2] * b_, s[3] * b_}};
    }
    if (s[2] % b_ || s[3] % b_) throw ShapeError("H/W not divisible by block_size");
    return {{s[0], s[1] * b_ * b_, s[2] / b_, s[3] / b_}};
  }
  void forward(const std::vector<const FloatTensor*>& bottoms, const std::vector<FloatTensor*>& tops) override {
    // Index the space side (small C, big H W) and map each element to its depth-side index.
    const Shape& space = to_space_ ? tops[0]->shape() : bottoms[0]->shape();
    const int64_t N = space[0], C = space[1], H = space[2], W = space[3], b = b_;
    const int64_t Hs = H / b, Ws = W / b, CD = C * b * b;
    const float* x = bottoms[0]->data();
    float* y = tops[0]->data();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t h = 0; h < H; ++h)
          for (int64_t w = 0; w < W; ++w) {
            const int64_t bh = h % b, bw = w % b;
            const int64_t cd = (to_space_ && crd_) ? (c * b + bh) * b + bw : (bh * b + bw) * C + c;
            const int64_t sp = ((n * C + c) * H + h) * W + w;
            const int64_t dp = ((n * CD + cd) * Hs + h / b) * Ws + w / b;
            if (to_space_) y[sp] = x[dp];
            else y[dp] = x[sp];
          }
  }
  int64_t flops(const std::vector<Shape>&, const std::vector<Shape>&) const override { return 0; }

 private:
  int64_t b_;
  bool crd_, to_space_;
};

inline void register_onnx_extra_layers(LayerRegistry& r) {
  r.add("Parameter", make<ParameterLayer>);
  r.add("InstanceNorm", make<InstanceNormLayer>);
  r.add("Gather", make<GatherLayer>);
  r.add("Expand", make<ExpandLayer>);
  r.add("DepthToSpace", [](const ufw::LayerParameter& p) { return std::make_unique<SpaceDepthLayer>(p, true); });
  r.add("SpaceToDepth", [](const ufw::LayerParameter& p) { return std::make_unique<SpaceDepthLayer>(p, false); });
}

}  // namespace octet::engine
