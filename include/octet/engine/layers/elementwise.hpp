// fp32 runtime layers for pointwise and elementwise ops: the activations (ReLU, PReLU, ReLU6,
// Clip, ELU, Sigmoid, TanH, HardSigmoid, HardSwish, Swish, AbsVal, Power, Exp, Log, UnaryOp),
// Eltwise, BinaryOp (numpy broadcasting; second operand a bottom or the constant blobs[0])
// and Softmax / LogSoftmax. Parameters are read and checked once at construction/reshape;
// forward only calls kernels/. Single-input activations run in place.
// Depends on core/, kernels/, engine/layer.hpp and engine/blob_util.hpp.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "octet/core/error.hpp"
#include "octet/core/tensor.hpp"
#include "octet/engine/blob_util.hpp"
#include "octet/engine/layer.hpp"
#include "octet/kernels/activation.hpp"
#include "octet/kernels/broadcast.hpp"
#include "octet/kernels/eltwise.hpp"
#include "octet/kernels/softmax.hpp"
#include "octet/kernels/unary.hpp"

namespace octet::engine {

namespace elementwise_detail {
inline void expect_bottoms(const std::vector<Shape>& b, size_t lo, size_t hi) {
  if (b.size() < lo || b.size() > hi)
    throw ShapeError("takes " +
                     (lo == hi ? std::to_string(lo)
                      : hi == SIZE_MAX ? "at least " + std::to_string(lo)
                                       : std::to_string(lo) + ".." + std::to_string(hi)) +
                     " bottom(s), got " + std::to_string(b.size()));
}
}  // namespace elementwise_detail

// One bottom, one top of the same shape, y = f(x) elementwise; safe in place.
class PointwiseLayer : public Layer {
 public:
  using Layer::Layer;
  std::vector<Shape> reshape(const std::vector<Shape>& bottoms) override {
    elementwise_detail::expect_bottoms(bottoms, 1, 1);
    return {bottoms[0]};
  }
  void forward(const std::vector<const FloatTensor*>& bottoms, const std::vector<FloatTensor*>& tops) override {
    apply(bottoms[0]->size(), bottoms[0]->data(), tops[0]->data());
  }
  bool supports_in_place() const override { return true; }

 protected:
  virtual void apply(int64_t n, const float* x, float* y) const = 0;
};

class ReluLayer : public PointwiseLayer {
 public:
  explicit ReluLayer(const ufw::LayerParameter& p) : PointwiseLayer(p) { k_.negative_slope = p.relu_param().negative_slope(); }

 protected:
  void apply(int64_t n, const float* x, float* y) const override { kernels::relu(k_, n, x, y); }
  kernels::ReluParams k_;
};

class Relu6Layer : public PointwiseLayer {
 public:
  using PointwiseLayer::PointwiseLayer;

 protected:
  void apply(int64_t n, const float* x, float* y) const override { kernels::relu6(n, x, y); }
};

class ClipLayer : public PointwiseLayer {
 public:
  explicit ClipLayer(const ufw::LayerParameter& p) : PointwiseLayer(p) {
    if (!p.has_clip_param()) throw ModelError("Clip needs clip_param { min max }");
    k_ = {p.clip_param().min(), p.clip_param().max()};
    if (k_.min > k_.max) throw ModelError("clip_param min > max");
  }

 protected:
  void apply(int64_t n, const float* x, float* y) const override { kernels::clip(k_, n, x, y); }
  kernels::ClipParams k_;
};

class EluLayer : public PointwiseLayer {
 public:
  explicit EluLayer(const ufw::LayerParameter& p) : PointwiseLayer(p) { k_.alpha = p.elu_param().alpha(); }

 protected:
  void apply(int64_t n, const float* x, float* y) const override { kernels::elu(k_, n, x, y); }
  kernels::EluParams k_;
};

class SigmoidLayer : public PointwiseLayer {
 public:
  using PointwiseLayer::PointwiseLayer;

 protected:
  void apply(int64_t n, const float* x, float* y) const override { kernels::sigmoid(n, x, y); }
};

class TanhLayer : public PointwiseLayer {
 public:
  using PointwiseLayer::PointwiseLayer;

 protected:
  void apply(int64_t n, const float* x, float* y) const override { kernels::tanh(n, x, y); }
};

// HardSigmoid defaults alpha 0.2 (ONNX); HardSwish defaults alpha 1/6 (PyTorch/ONNX
// HardSwish), both beta 0.5, unless hard_sigmoid_param sets them.
class HardSigmoidLayer : public PointwiseLayer {
 public:
  explicit HardSigmoidLayer(const ufw::LayerParameter& p, bool swish = false) : PointwiseLayer(p), swish_(swish) {
    const auto& h = p.hard_sigmoid_param();
    k_.alpha = h.has_alpha() ? h.alpha() : (swish ? 1.f / 6.f : h.alpha());
    k_.beta = h.beta();
  }

 protected:
  void apply(int64_t n, const float* x, float* y) const override {
    if (swish_)
      kernels::hard_swish(k_, n, x, y);
    else
      kernels::hard_sigmoid(k_, n, x, y);
  }
  kernels::HardSigmoidParams k_;
  bool swish_;
};

class HardSwishLayer : public HardSigmoidLayer {
 public:
  explicit HardSwishLayer(const ufw::LayerParameter& p) : HardSigmoidLayer(p, true) {}
};

class SwishLayer : public PointwiseLayer {
 public:
  explicit SwishLayer(const ufw::LayerParameter& p) : PointwiseLayer(p) { k_.beta = p.swish_param().beta(); }

 protected:
  void apply(int64_t n, const float* x, float* y) const override { kernels::swish(k_, n, x, y); }
  kernels::SwishParams k_;
};

class AbsValLayer : public PointwiseLayer {
 public:
  using PointwiseLayer::PointwiseLayer;

 protected:
  void apply(int64_t n, const float* x, float* y) const override { kernels::absval(n, x, y); }
};

class PowerLayer : public PointwiseLayer {
 public:
  explicit PowerLayer(const ufw::LayerParameter& p) : PointwiseLayer(p) {
    const auto& q = p.power_param();
    k_ = {q.power(), q.scale(), q.shift()};
  }

 protected:
  void apply(int64_t n, const float* x, float* y) const override { kernels::power(k_, n, x, y); }
  kernels::PowerParams k_;
};

class ExpLayer : public PointwiseLayer {
 public:
  explicit ExpLayer(const ufw::LayerParameter& p) : PointwiseLayer(p) {
    const auto& q = p.exp_param();
    k_ = {q.base(), q.scale(), q.shift()};
    (void)kernels::log_of_base(k_.base);  // reject a bad base at build time
  }

 protected:
  void apply(int64_t n, const float* x, float* y) const override { kernels::exp(k_, n, x, y); }
  kernels::ExpLogParams k_;
};

class LogLayer : public PointwiseLayer {
 public:
  explicit LogLayer(const ufw::LayerParameter& p) : PointwiseLayer(p) {
    const auto& q = p.log_param();
    k_ = {q.base(), q.scale(), q.shift()};
    (void)kernels::log_of_base(k_.base);
  }

 protected:
  void apply(int64_t n, const float* x, float* y) const override { kernels::log(k_, n, x, y); }
  kernels::ExpLogParams k_;
};

class UnaryOpLayer : public PointwiseLayer {
 public:
  explicit UnaryOpLayer(const ufw::LayerParameter& p) : PointwiseLayer(p) {
    const int op = p.unary_op_param().operation();
    if (op < 0 || op > static_cast<int>(kernels::UnaryOp::Cos))
      throw UnsupportedError("unary_op_param operation " + std::to_string(op) + " is not implemented");
    op_ = static_cast<kernels::UnaryOp>(op);  // enum orders match umodel.proto
  }

 protected:
  void apply(int64_t n, const float* x, float* y) const override { kernels::unary(op_, n, x, y); }
  kernels::UnaryOp op_;
};

// Caffe PReLU: one slope per channel (axis 1), or one for all with channel_shared.
class PReluLayer : public Layer {
 public:
  explicit PReluLayer(const ufw::LayerParameter& p) : Layer(p) {
    if (p.blobs_size() != 1) throw ModelError("PReLU needs 1 blob (slopes), has " + std::to_string(p.blobs_size()));
    slopes_ = blob_floats(param().blobs(0), "PReLU slopes");
  }
  std::vector<Shape> reshape(const std::vector<Shape>& bottoms) override {
    elementwise_detail::expect_bottoms(bottoms, 1, 1);
    const Shape& s = bottoms[0];
    const bool shared = param().prelu_param().channel_shared();
    k_.channel_shared = shared;
    k_.outer = s.empty() ? 1 : s[0];
    k_.channels = s.size() < 2 ? 1 : s[1];
    k_.inner = shape_count(s, 2);
    if (s.size() < 2) k_.outer = shape_count(s);
    const int64_t want = shared ? 1 : k_.channels;
    if (static_cast<int64_t>(slopes_.size()) != want)
      throw ShapeError("PReLU has " + std::to_string(slopes_.size()) + " slopes for " + std::to_string(want) +
                       (shared ? " (channel_shared)" : " channels"));
    return {s};
  }
  void forward(const std::vector<const FloatTensor*>& bottoms, const std::vector<FloatTensor*>& tops) override {
    kernels::prelu(k_, slopes_.data(), bottoms[0]->data(), tops[0]->data());
  }
  bool supports_in_place() const override { return true; }

 private:
  std::span<const float> slopes_;  // into param().blobs(0), owned by this layer
  kernels::PReluParams k_;
};

// Caffe Eltwise: N bottoms of one shape; SUM (with optional per-bottom coeff), PROD, MAX.
class EltwiseLayer : public Layer {
 public:
  explicit EltwiseLayer(const ufw::LayerParameter& p) : Layer(p) {
    const auto& e = p.eltwise_param();
    switch (e.operation()) {
      case ufw::EltwiseParameter::PROD: op_ = kernels::EltwiseOp::Prod; break;
      case ufw::EltwiseParameter::SUM: op_ = kernels::EltwiseOp::Sum; break;
      case ufw::EltwiseParameter::MAX: op_ = kernels::EltwiseOp::Max; break;
    }
    coeffs_.assign(e.coeff().begin(), e.coeff().end());
    if (!coeffs_.empty() && op_ != kernels::EltwiseOp::Sum)
      throw ModelError("eltwise_param coeff is only allowed with operation SUM");
  }
  std::vector<Shape> reshape(const std::vector<Shape>& bottoms) override {
    elementwise_detail::expect_bottoms(bottoms, 1, SIZE_MAX);
    for (size_t i = 1; i < bottoms.size(); ++i)
      if (bottoms[i] != bottoms[0])
        throw ShapeError("bottom " + std::to_string(i) + " " + shape_str(bottoms[i]) + " differs from bottom 0 " +
                         shape_str(bottoms[0]));
    if (!coeffs_.empty() && coeffs_.size() != bottoms.size())
      throw ModelError("eltwise_param has " + std::to_string(coeffs_.size()) + " coeff for " +
                       std::to_string(bottoms.size()) + " bottoms");
    ptrs_.resize(bottoms.size());
    return {bottoms[0]};
  }
  void forward(const std::vector<const FloatTensor*>& bottoms, const std::vector<FloatTensor*>& tops) override {
    for (size_t i = 0; i < bottoms.size(); ++i) ptrs_[i] = bottoms[i]->data();
    kernels::eltwise<float>({op_, coeffs_}, bottoms[0]->size(), ptrs_, tops[0]->data(), act_);
  }
  // A following activation folded in by NetOptions::fuse.
  void set_activation(const kernels::FusedActivation& a) { act_ = a; }
  // The kernel consumes bottom 0 before writing, and the Net only aliases top 0 with bottom 0.
  bool supports_in_place() const override { return true; }
  int64_t flops(const std::vector<Shape>& bottoms, const std::vector<Shape>& tops) const override {
    return static_cast<int64_t>(std::max<size_t>(1, bottoms.size() - 1)) * shape_count(tops[0]);
  }

 private:
  kernels::EltwiseOp op_ = kernels::EltwiseOp::Sum;
  std::vector<float> coeffs_;
  std::vector<const float*> ptrs_;
  kernels::FusedActivation act_;
};

// numpy-broadcasting binary op of two bottoms, or of one bottom and the constant blobs[0]
// (const_first: constant op bottom).
class BinaryOpLayer : public Layer {
 public:
  explicit BinaryOpLayer(const ufw::LayerParameter& p) : Layer(p) {
    const int op = p.binary_op_param().operation();
    if (op < 0 || op > static_cast<int>(kernels::BinaryOp::Min))
      throw UnsupportedError("binary_op_param operation " + std::to_string(op) + " is not implemented");
    op_ = static_cast<kernels::BinaryOp>(op);  // enum orders match umodel.proto
    const_first_ = p.binary_op_param().const_first();
    if (p.blobs_size() > 1) throw ModelError("BinaryOp takes at most 1 blob (the constant)");
    if (p.blobs_size() == 1) constant_ = blob_to_tensor(p.blobs(0), "BinaryOp constant");
  }
  std::vector<Shape> reshape(const std::vector<Shape>& bottoms) override {
    has_const_ = bottoms.size() == 1;
    if (has_const_ && param().blobs_size() != 1)
      throw ModelError("BinaryOp with one bottom needs the constant operand in blobs[0]");
    if (!has_const_ && bottoms.size() != 2)
      throw ShapeError("takes 2 bottoms, or 1 bottom and a constant blob; got " + std::to_string(bottoms.size()));
    if (!has_const_ && param().blobs_size() != 0) throw ModelError("BinaryOp with two bottoms must not have a blob");
    a_ = has_const_ && const_first_ ? constant_.shape() : bottoms[0];
    b_ = !has_const_ ? bottoms[1] : const_first_ ? bottoms[0] : constant_.shape();
    plan_ = kernels::make_broadcast_plan(a_, b_);
    Shape out = kernels::broadcast_shape(a_, b_);
    in_place_ok_ = bottoms[0] == out;
    return {out};
  }
  void forward(const std::vector<const FloatTensor*>& bottoms, const std::vector<FloatTensor*>& tops) override {
    const float* a = has_const_ && const_first_ ? constant_.data() : bottoms[0]->data();
    const float* b = !has_const_ ? bottoms[1]->data() : const_first_ ? bottoms[0]->data() : constant_.data();
    if (plan_.too_deep)
      kernels::reference::binary(op_, a_, a, b_, b, tops[0]->data());
    else
      kernels::binary(op_, plan_, a, b, tops[0]->data());
  }
  // Top 0 may alias bottom 0 only when bottom 0 already has the output shape: then each
  // output element reads only its own element of it. Known after reshape.
  bool supports_in_place() const override { return in_place_ok_; }

 private:
  kernels::BinaryOp op_ = kernels::BinaryOp::Add;
  bool const_first_ = false, has_const_ = false, in_place_ok_ = false;
  FloatTensor constant_;
  Shape a_, b_;
  kernels::BroadcastPlan plan_;
};

class SoftmaxLayer : public Layer {
 public:
  explicit SoftmaxLayer(const ufw::LayerParameter& p, bool log = false) : Layer(p) {
    k_.axis = p.softmax_param().axis();
    k_.log = log;
  }
  std::vector<Shape> reshape(const std::vector<Shape>& bottoms) override {
    elementwise_detail::expect_bottoms(bottoms, 1, 1);
    (void)canonical_axis(k_.axis, bottoms[0].size());
    return {bottoms[0]};
  }
  void forward(const std::vector<const FloatTensor*>& bottoms, const std::vector<FloatTensor*>& tops) override {
    kernels::softmax(k_, bottoms[0]->shape(), bottoms[0]->data(), tops[0]->data());
  }
  bool supports_in_place() const override { return true; }
  int64_t flops(const std::vector<Shape>&, const std::vector<Shape>& tops) const override {
    return 4 * shape_count(tops[0]);  // max, exp, sum, scale
  }

 private:
  kernels::SoftmaxParams k_;
};

class LogSoftmaxLayer : public SoftmaxLayer {
 public:
  explicit LogSoftmaxLayer(const ufw::LayerParameter& p) : SoftmaxLayer(p, true) {}
};

inline void register_elementwise_layers(LayerRegistry& r) {
  r.add("ReLU", make<ReluLayer>);
  r.add("PReLU", make<PReluLayer>);
  r.add("ReLU6", make<Relu6Layer>);
  r.add("Clip", make<ClipLayer>);
  r.add("ELU", make<EluLayer>);
  r.add("Sigmoid", make<SigmoidLayer>);
  r.add("TanH", make<TanhLayer>);
  r.add("HardSigmoid", make<HardSigmoidLayer>);
  r.add("HardSwish", make<HardSwishLayer>);
  r.add("Swish", make<SwishLayer>);
  r.add("AbsVal", make<AbsValLayer>);
  r.add("Power", make<PowerLayer>);
  r.add("Exp", make<ExpLayer>);
  r.add("Log", make<LogLayer>);
  r.add("UnaryOp", make<UnaryOpLayer>);
  r.add("Eltwise", make<EltwiseLayer>);
  r.add("BinaryOp", make<BinaryOpLayer>);
  r.add("Softmax", make<SoftmaxLayer>);
  r.add("LogSoftmax", make<LogSoftmaxLayer>);
}

}  // namespace octet::engine
