// fp32 runtime layers for the weighted and spatial ops: Convolution, Deconvolution, Pooling,
// InnerProduct, MatMul, BatchNorm, Scale and LRN, with Caffe's parameter semantics plus the
// Octet extension fields (asymmetric pads, output_padding, count_include_pad, round_mode).
// Parameters and weight shapes are read and checked at reshape; forward only calls kernels/.
// Weights are read in place from param().blobs() (copied only when stored as doubles).
// Conv/deconv im2col buffers come from one per-thread scratch shared by every layer (layers
// run one after another), sized at reshape so forward does not allocate.
// Depends on core/, kernels/, engine/layer.hpp and engine/blob_util.hpp.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "octet/core/error.hpp"
#include "octet/core/parallel.hpp"
#include "octet/core/tensor.hpp"
#include "octet/engine/blob_util.hpp"
#include "octet/engine/layer.hpp"
#include "octet/kernels/batch_norm.hpp"
#include "octet/kernels/conv.hpp"
#include "octet/kernels/deconv.hpp"
#include "octet/kernels/inner_product.hpp"
#include "octet/kernels/lrn.hpp"
#include "octet/kernels/matmul.hpp"
#include "octet/kernels/pooling.hpp"
#include "octet/kernels/scale.hpp"

namespace octet::engine {

namespace spatial_detail {

inline void expect_bottoms(const std::vector<Shape>& b, size_t lo, size_t hi) {
  if (b.size() < lo || b.size() > hi)
    throw ShapeError("takes " + (lo == hi ? std::to_string(lo) : std::to_string(lo) + ".." + std::to_string(hi)) +
                     " bottom(s), got " + std::to_string(b.size()));
}

// Grow-only scratch shared by all conv/deconv layers of this thread.
inline std::vector<float>& thread_scratch() {
  thread_local std::vector<float> buf;
  return buf;
}
inline std::span<float> scratch(int64_t n) {
  auto& buf = thread_scratch();
  if (static_cast<int64_t>(buf.size()) < n) buf.resize(static_cast<size_t>(n));
  return {buf.data(), buf.size()};
}

// A parameter blob as a float pointer: a view into the layer's own LayerParameter, or an owned
// copy when the blob stores doubles.
class Weights {
 public:
  void bind(const ufw::BlobProto& b, const std::string& what) {
    shape_ = blob_shape(b);
    if (b.data_size() == 0 && b.double_data_size() != 0) {
      owned_ = blob_to_tensor(b, what);
      data_ = owned_.data();
    } else {
      data_ = blob_floats(b, what).data();
    }
  }
  const float* data() const { return data_; }
  const Shape& shape() const { return shape_; }
  int64_t count() const { return shape_count(shape_); }

 private:
  Shape shape_;
  Tensor<float> owned_;
  const float* data_ = nullptr;
};

// Binds blobs[index] and checks it has `want`'s dims (any rank with the same element count is
// accepted only when ranks differ, for legacy 4-D blobs such as [1,1,N,K]).
inline void bind_checked(Weights& w, const ufw::LayerParameter& p, int index, const Shape& want,
                         const std::string& what) {
  if (p.blobs_size() <= index)
    throw ModelError(what + " (blobs[" + std::to_string(index) + "]) is missing: layer has " +
                     std::to_string(p.blobs_size()) + " blob(s), expected shape " + shape_str(want));
  w.bind(p.blobs(index), what);
  const bool ok = w.shape().size() == want.size() ? w.shape() == want : w.count() == shape_count(want);
  if (!ok)
    throw ShapeError(what + " has shape " + shape_str(w.shape()) + ", expected " + shape_str(want));
}

// Caffe's repeated-or-_h/_w spatial fields. `dims` is 1 (N,C,L treated as H=1) or 2.
inline void hw_field(const google::protobuf::RepeatedField<uint32_t>& rep, bool has_h, bool has_w, uint32_t h,
                     uint32_t w, int64_t dflt, size_t dims, const char* what, int64_t& out_h, int64_t& out_w) {
  if (has_h || has_w) {
    if (dims != 2) throw ModelError(std::string(what) + "_h/" + what + "_w need 2 spatial axes");
    out_h = has_h ? h : dflt;
    out_w = has_w ? w : dflt;
    return;
  }
  if (rep.empty()) {
    out_h = out_w = dflt;
  } else if (rep.size() == 1) {
    out_h = out_w = rep.Get(0);
  } else if (static_cast<size_t>(rep.size()) == dims) {
    out_h = rep.Get(0);
    out_w = rep.Get(static_cast<int>(dims) - 1);
  } else {
    throw ModelError(std::string(what) + " has " + std::to_string(rep.size()) + " values for " +
                     std::to_string(dims) + " spatial axes");
  }
  if (dims == 1) out_h = dflt;  // 1-D: the H axis is a dummy of size 1
}

struct ConvFields {
  int64_t kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, oph, opw, group, num_output;
  bool bias;

  // The kernel parameters (no fused activation) of the fp32 and int8 layers.
  kernels::Conv2dParams conv2d() const {
    kernels::Conv2dParams p;
    p.kernel_h = kh, p.kernel_w = kw, p.stride_h = sh, p.stride_w = sw;
    p.pad_top = pt, p.pad_left = pl, p.pad_bottom = pb, p.pad_right = pr;
    p.dilation_h = dh, p.dilation_w = dw, p.group = group;
    return p;
  }
  kernels::Deconv2dParams deconv2d() const {
    kernels::Deconv2dParams p;
    p.kernel_h = kh, p.kernel_w = kw, p.stride_h = sh, p.stride_w = sw;
    p.pad_top = pt, p.pad_left = pl, p.pad_bottom = pb, p.pad_right = pr;
    p.dilation_h = dh, p.dilation_w = dw, p.group = group;
    p.output_pad_h = oph, p.output_pad_w = opw;
    return p;
  }
};

// Reads a ConvolutionParameter for an input with `dims` spatial axes (1 or 2).
inline ConvFields conv_fields(const ufw::ConvolutionParameter& cp, size_t dims) {
  ConvFields f{};
  const bool has_k = cp.has_kernel_h() || cp.has_kernel_w();
  if (!has_k && cp.kernel_size_size() == 0) throw ModelError("convolution_param has no kernel_size");
  if (has_k && !(cp.has_kernel_h() && cp.has_kernel_w()))
    throw ModelError("convolution_param needs both kernel_h and kernel_w");
  hw_field(cp.kernel_size(), cp.has_kernel_h(), cp.has_kernel_w(), cp.kernel_h(), cp.kernel_w(), 1, dims,
           "kernel", f.kh, f.kw);
  hw_field(cp.stride(), cp.has_stride_h(), cp.has_stride_w(), cp.stride_h(), cp.stride_w(), 1, dims, "stride",
           f.sh, f.sw);
  hw_field(cp.pad(), cp.has_pad_h(), cp.has_pad_w(), cp.pad_h(), cp.pad_w(), 0, dims, "pad", f.pt, f.pl);
  hw_field(cp.dilation(), false, false, 0, 0, 1, dims, "dilation", f.dh, f.dw);
  if (dims == 1) f.kh = f.sh = f.dh = 1, f.pt = 0;
  f.pb = cp.has_pad_h_end() ? cp.pad_h_end() : f.pt;
  f.pr = cp.has_pad_w_end() ? cp.pad_w_end() : f.pl;
  if (dims == 1) f.pb = 0;
  f.oph = dims == 1 ? 0 : cp.output_pad_h();
  f.opw = cp.output_pad_w();
  f.group = cp.group() == 0 ? 1 : cp.group();
  f.num_output = cp.num_output();
  f.bias = cp.bias_term();
  if (f.num_output < 1) throw ModelError("convolution_param.num_output must be >= 1");
  return f;
}

// N,C,H,W of a conv/pool bottom (rank 3 is N,C,L with H = 1); throws for other ranks.
inline void nchw(const Shape& b, const char* op, int64_t& n, int64_t& c, int64_t& h, int64_t& w,
                 bool allow_1d) {
  if (b.size() == 4) {
    n = b[0], c = b[1], h = b[2], w = b[3];
  } else if (b.size() == 3 && allow_1d) {
    n = b[0], c = b[1], h = 1, w = b[2];
  } else {
    throw UnsupportedError(std::string(op) + " supports " + (allow_1d ? "3-D (N,C,L) and " : "") +
                           "4-D (N,C,H,W) bottoms, got " + shape_str(b));
  }
}

inline void check_axis1(int axis, size_t rank, const char* op) {
  if (canonical_axis(axis, rank) != 1)
    throw UnsupportedError(std::string(op) + " with axis " + std::to_string(axis) + " (only the channel axis 1)");
}

}  // namespace spatial_detail

class ConvolutionLayer : public Layer {
 public:
  using Layer::Layer;

  std::vector<Shape> reshape(const std::vector<Shape>& bottoms) override {
    using namespace spatial_detail;
    expect_bottoms(bottoms, 1, 1);
    const Shape& b = bottoms[0];
    const auto& cp = param().convolution_param();
    int64_t n, c, h, w;
    nchw(b, "convolution", n, c, h, w, true);
    check_axis1(cp.axis(), b.size(), "convolution");
    const ConvFields f = conv_fields(cp, b.size() - 2);
    if (f.oph || f.opw) throw ModelError("output_pad_h/output_pad_w apply to Deconvolution only");
    p_ = f.conv2d();
    p_.activation = act_;
    s_ = kernels::conv2d_shape(p_, n, c, h, w, f.num_output);
    Shape ws{f.num_output, c / f.group, f.kh, f.kw};
    if (b.size() == 3) ws = {f.num_output, c / f.group, f.kw};
    bind_checked(weight_, param(), 0, ws, "weight");
    has_bias_ = f.bias;
    if (has_bias_) bind_checked(bias_, param(), 1, {f.num_output}, "bias");
    wptr_ = folded_ ? fold_w_.data() : weight_.data();
    bptr_ = folded_ ? fold_b_.data() : has_bias_ ? bias_.data() : nullptr;
    repack();
    scratch_ = kernels::conv2d_scratch_size(p_, s_);
    scratch(scratch_);
    if (b.size() == 3) return {{n, f.num_output, s_.out_w}};
    return {{n, f.num_output, s_.out_h, s_.out_w}};
  }

  void forward(const std::vector<const FloatTensor*>& bottoms, const std::vector<FloatTensor*>& tops) override {
    kernels::conv2d(p_, s_, bottoms[0]->data(), wptr_, bptr_, tops[0]->data(), spatial_detail::scratch(scratch_),
                    packed_.empty() ? nullptr : packed_.data());
  }

  int64_t flops(const std::vector<Shape>&, const std::vector<Shape>&) const override {
    return kernels::conv2d_flops(p_, s_);
  }

  // The fused activation the kernel applies on write; for passes that fold a following ReLU.
  // Kept across reshape (input shape changes), like the folded weights below.
  void set_activation(const kernels::FusedActivation& a) { act_ = a, p_.activation = a; }
  const kernels::Conv2dParams& kernel_params() const { return p_; }
  int64_t out_channels() const { return s_.out_c; }

  // Folds a per-output-channel affine y' = y * a[oc] + b[oc] that follows this conv (a
  // BatchNorm or Scale the Net fuses at build) into the layer's own copy of the weights and
  // bias; param().blobs() stay the file's values. Must be called after reshape and before any
  // activation is fused (an affine after a ReLU does not fold).
  void fold_affine(const std::vector<float>& a, const std::vector<float>& b) {
    const int64_t O = s_.out_c;
    if (static_cast<int64_t>(a.size()) != O || static_cast<int64_t>(b.size()) != O)
      throw ShapeError("fold_affine: " + std::to_string(a.size()) + " channel factors for " + std::to_string(O) +
                       " output channels");
    if (act_.kind != kernels::FusedActivation::Kind::None)
      throw ModelError("fold_affine: an affine after the fused activation cannot be folded");
    if (!folded_) {
      fold_w_.assign(wptr_, wptr_ + weight_.count());
      fold_b_.assign(static_cast<size_t>(O), 0.f);
      if (bptr_) std::copy(bptr_, bptr_ + O, fold_b_.begin());
      folded_ = true;
    }
    const int64_t per = weight_.count() / O;
    for (int64_t oc = 0; oc < O; ++oc) {
      float* w = fold_w_.data() + oc * per;
      for (int64_t i = 0; i < per; ++i) w[i] *= a[static_cast<size_t>(oc)];
      fold_b_[static_cast<size_t>(oc)] = fold_b_[static_cast<size_t>(oc)] * a[static_cast<size_t>(oc)] + b[static_cast<size_t>(oc)];
    }
    wptr_ = fold_w_.data();
    bptr_ = fold_b_.data();
    repack();
  }

 private:
  kernels::Conv2dParams p_;
  kernels::Conv2dShape s_;
  spatial_detail::Weights weight_, bias_;
  bool has_bias_ = false;
  int64_t scratch_ = 0;
  kernels::FusedActivation act_;
  bool folded_ = false;
  std::vector<float> fold_w_, fold_b_;
  const float* wptr_ = nullptr;
  const float* bptr_ = nullptr;
  std::vector<float> packed_;  // wptr_ packed for the conv GEMM, so forward never packs

  void repack() {
    packed_.resize(static_cast<size_t>(kernels::conv2d_packed_weight_size(p_, s_)));
    if (!packed_.empty()) kernels::conv2d_pack_weights(p_, s_, wptr_, packed_.data());
  }
};

class DeconvolutionLayer : public Layer {
 public:
  using Layer::Layer;

  std::vector<Shape> reshape(const std::vector<Shape>& bottoms) override {
    using namespace spatial_detail;
    expect_bottoms(bottoms, 1, 1);
    const Shape& b = bottoms[0];
    const auto& cp = param().convolution_param();
    int64_t n, c, h, w;
    nchw(b, "deconvolution", n, c, h, w, true);
    check_axis1(cp.axis(), b.size(), "deconvolution");
    const ConvFields f = conv_fields(cp, b.size() - 2);
    p_ = f.deconv2d();
    s_ = kernels::deconv2d_shape(p_, n, c, h, w, f.num_output);
    Shape ws{c, f.num_output / f.group, f.kh, f.kw};
    if (b.size() == 3) ws = {c, f.num_output / f.group, f.kw};
    bind_checked(weight_, param(), 0, ws, "weight");
    has_bias_ = f.bias;
    if (has_bias_) bind_checked(bias_, param(), 1, {f.num_output}, "bias");
    scratch_ = kernels::deconv2d_scratch_size(p_, s_);
    scratch(scratch_);
    if (b.size() == 3) return {{n, f.num_output, s_.out_w}};
    return {{n, f.num_output, s_.out_h, s_.out_w}};
  }

  void forward(const std::vector<const FloatTensor*>& bottoms, const std::vector<FloatTensor*>& tops) override {
    kernels::deconv2d(p_, s_, bottoms[0]->data(), weight_.data(), has_bias_ ? bias_.data() : nullptr,
                      tops[0]->data(), spatial_detail::scratch(scratch_));
  }

  int64_t flops(const std::vector<Shape>&, const std::vector<Shape>&) const override {
    return kernels::deconv2d_flops(p_, s_);
  }

 private:
  kernels::Deconv2dParams p_;
  kernels::Deconv2dShape s_;
  spatial_detail::Weights weight_, bias_;
  bool has_bias_ = false;
  int64_t scratch_ = 0;
};

// Caffe Pooling. round_mode picks ceil/floor; the Octet fields (pad_*_end, count_include_pad)
// mark an ONNX-style layer, which switches to the ONNX output-size rule (see pooling.hpp).
// One reading of PoolingParameter for the fp32 and the int8 pooling layers.
inline kernels::Pool2dParams pool2d_params(const ufw::PoolingParameter& pp) {
  kernels::Pool2dParams p;
  switch (pp.pool()) {
    case ufw::PoolingParameter::MAX: p.method = kernels::PoolMethod::Max; break;
    case ufw::PoolingParameter::AVE: p.method = kernels::PoolMethod::Average; break;
    default: throw UnsupportedError("pooling method STOCHASTIC");
  }
  p.global = pp.global_pooling();
  if (!p.global) {
    if (pp.has_kernel_h() || pp.has_kernel_w()) {
      if (!(pp.has_kernel_h() && pp.has_kernel_w())) throw ModelError("pooling_param needs both kernel_h and kernel_w");
      p.kernel_h = pp.kernel_h(), p.kernel_w = pp.kernel_w();
    } else if (pp.has_kernel_size()) {
      p.kernel_h = p.kernel_w = pp.kernel_size();
    } else {
      throw ModelError("pooling_param has no kernel_size (and global_pooling is off)");
    }
    if (pp.has_pad_h() || pp.has_pad_w()) p.pad_top = pp.pad_h(), p.pad_left = pp.pad_w();
    else p.pad_top = p.pad_left = pp.pad();
    if (pp.has_stride_h() || pp.has_stride_w())
      p.stride_h = pp.has_stride_h() ? pp.stride_h() : 1, p.stride_w = pp.has_stride_w() ? pp.stride_w() : 1;
    else p.stride_h = p.stride_w = pp.stride();
    p.pad_bottom = pp.has_pad_h_end() ? pp.pad_h_end() : p.pad_top;
    p.pad_right = pp.has_pad_w_end() ? pp.pad_w_end() : p.pad_left;
  }
  p.ceil_mode = pp.round_mode() == ufw::PoolingParameter::CEIL;
  p.count_include_pad = pp.count_include_pad();
  const bool onnx = pp.has_pad_h_end() || pp.has_pad_w_end() || pp.has_count_include_pad();
  p.convention = onnx ? kernels::PoolConvention::Onnx : kernels::PoolConvention::Caffe;
  return p;
}

class PoolingLayer : public Layer {
 public:
  using Layer::Layer;

  std::vector<Shape> reshape(const std::vector<Shape>& bottoms) override {
    using namespace spatial_detail;
    expect_bottoms(bottoms, 1, 1);
    const Shape& b = bottoms[0];
    const auto& pp = param().pooling_param();
    int64_t n, c, h, w;
    nchw(b, "pooling", n, c, h, w, false);
    p_ = pool2d_params(pp);
    s_ = kernels::pool2d_shape(p_, n, c, h, w);
    return {{n, c, s_.out_h, s_.out_w}};
  }

  void forward(const std::vector<const FloatTensor*>& bottoms, const std::vector<FloatTensor*>& tops) override {
    kernels::pool2d(p_, s_, bottoms[0]->data(), tops[0]->data());
  }

  int64_t flops(const std::vector<Shape>&, const std::vector<Shape>&) const override {
    const auto e = kernels::pool2d_effective(p_, s_.in_h, s_.in_w);
    return s_.batch * s_.channels * s_.out_h * s_.out_w * e.kernel_h * e.kernel_w;
  }

 private:
  kernels::Pool2dParams p_;
  kernels::Pool2dShape s_;
};

class InnerProductLayer : public Layer {
 public:
  using Layer::Layer;

  std::vector<Shape> reshape(const std::vector<Shape>& bottoms) override {
    using namespace spatial_detail;
    expect_bottoms(bottoms, 1, 1);
    const Shape& b = bottoms[0];
    const auto& ip = param().inner_product_param();
    if (b.empty()) throw ShapeError("inner product needs a bottom of rank >= 1");
    const auto axis = static_cast<size_t>(canonical_axis(ip.axis(), b.size()));
    const int64_t N = ip.num_output();
    if (N < 1) throw ModelError("inner_product_param.num_output must be >= 1");
    s_ = {shape_count(b, 0, axis), shape_count(b, axis), N};
    p_ = {};
    p_.transpose = ip.transpose();
    bind_checked(weight_, param(), 0, p_.transpose ? Shape{s_.K, N} : Shape{N, s_.K}, "weight");
    has_bias_ = ip.bias_term();
    if (has_bias_) bind_checked(bias_, param(), 1, {N}, "bias");
    Shape top(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(axis));
    top.push_back(N);
    return {top};
  }

  void forward(const std::vector<const FloatTensor*>& bottoms, const std::vector<FloatTensor*>& tops) override {
    kernels::inner_product(p_, s_, bottoms[0]->data(), weight_.data(), has_bias_ ? bias_.data() : nullptr,
                           tops[0]->data());
  }

  int64_t flops(const std::vector<Shape>&, const std::vector<Shape>&) const override {
    return kernels::inner_product_flops(s_);
  }

 private:
  kernels::InnerProductParams p_;
  kernels::InnerProductShape s_;
  spatial_detail::Weights weight_, bias_;
  bool has_bias_ = false;
};

// numpy matmul of bottoms[0] and bottoms[1], or of bottoms[0] and the constant blobs[0].
class MatMulLayer : public Layer {
 public:
  using Layer::Layer;

  std::vector<Shape> reshape(const std::vector<Shape>& bottoms) override {
    using namespace spatial_detail;
    expect_bottoms(bottoms, 1, 2);
    const auto& mp = param().matmul_param();
    Shape bshape;
    if (bottoms.size() == 2) {
      bshape = bottoms[1];
    } else {
      if (param().blobs_size() < 1)
        throw ModelError("one-bottom MatMul needs its right operand in blobs[0]");
      constant_.bind(param().blobs(0), "blobs[0]");
      bshape = constant_.shape();
    }
    plan_ = kernels::matmul_plan({mp.transpose_a(), mp.transpose_b()}, bottoms[0], bshape);
    return {plan_.out_shape};
  }

  void forward(const std::vector<const FloatTensor*>& bottoms, const std::vector<FloatTensor*>& tops) override {
    const float* b = bottoms.size() == 2 ? bottoms[1]->data() : constant_.data();
    kernels::matmul(plan_, bottoms[0]->data(), b, tops[0]->data());
  }

  int64_t flops(const std::vector<Shape>&, const std::vector<Shape>&) const override {
    return kernels::matmul_flops(plan_);
  }

 private:
  kernels::MatMulPlan plan_;
  spatial_detail::Weights constant_;
};

// Caffe BatchNorm with global statistics (the inference path): blobs mean, variance and the
// moving-average factor f, normalised by f as Caffe does (f == 0 scales them to 0).
class BatchNormLayer : public Layer {
 public:
  using Layer::Layer;

  std::vector<Shape> reshape(const std::vector<Shape>& bottoms) override {
    using namespace spatial_detail;
    expect_bottoms(bottoms, 1, 1);
    const Shape& b = bottoms[0];
    if (b.empty()) throw ShapeError("batch norm needs a bottom of rank >= 1");
    const int64_t C = b.size() == 1 ? 1 : b[1];
    s_ = {b[0], C, b.size() > 2 ? shape_count(b, 2) : 1};
    if (b.size() == 1) s_ = {b[0], 1, 1};
    bind_checked(mean_, param(), 0, {C}, "mean");
    bind_checked(var_, param(), 1, {C}, "variance");
    bind_checked(factor_, param(), 2, {1}, "moving-average factor");
    const float f = factor_.data()[0];
    p_.scale_factor = f == 0.f ? 0.f : 1.f / f;
    p_.eps = param().batch_norm_param().eps();
    return {b};
  }

  void forward(const std::vector<const FloatTensor*>& bottoms, const std::vector<FloatTensor*>& tops) override {
    kernels::batch_norm(p_, s_, bottoms[0]->data(), mean_.data(), var_.data(), tops[0]->data());
  }

  bool supports_in_place() const override { return true; }

  int64_t flops(const std::vector<Shape>& bottoms, const std::vector<Shape>&) const override {
    return 2 * shape_count(bottoms[0]);
  }

  // The layer as y = x * a[c] + b[c] over axis 1 (the factors the kernel computes), for
  // folding into a preceding convolution.
  int64_t channels() const { return s_.channels; }
  void channel_affine(std::vector<float>& a, std::vector<float>& b) const {
    const auto C = static_cast<size_t>(s_.channels);
    a.resize(C), b.resize(C);
    for (size_t c = 0; c < C; ++c) {
      const double ac = 1.0 / std::sqrt(static_cast<double>(var_.data()[c]) * p_.scale_factor + p_.eps);
      a[c] = static_cast<float>(ac);
      b[c] = static_cast<float>(-static_cast<double>(mean_.data()[c]) * p_.scale_factor * ac);
    }
  }

 private:
  kernels::BatchNormParams p_;
  kernels::ChannelShape s_;
  spatial_detail::Weights mean_, var_, factor_;
};

// Caffe Scale: y = x * scale (+ bias), scale from blobs[0] (dims [axis, axis+num_axes) of the
// bottom) or from bottoms[1] (its own shape, matched at axis; a scalar ignores axis).
// The bias is blobs[1] with one bottom and blobs[0] with two, as Caffe numbers them.
class ScaleLayer : public Layer {
 public:
  using Layer::Layer;

  std::vector<Shape> reshape(const std::vector<Shape>& bottoms) override {
    using namespace spatial_detail;
    expect_bottoms(bottoms, 1, 2);
    const Shape& b = bottoms[0];
    const auto& sp = param().scale_param();
    Shape sshape;
    size_t axis;
    if (bottoms.size() == 2) {
      sshape = bottoms[1];
      axis = sshape.empty() ? 0 : static_cast<size_t>(canonical_axis(sp.axis(), b.size()));
    } else {
      axis = b.empty() ? 0 : static_cast<size_t>(canonical_axis(sp.axis(), b.size()));
      const int na = sp.num_axes();
      if (na < -1) throw ModelError("scale_param.num_axes must be >= -1");
      const size_t end = na == -1 ? b.size() : axis + static_cast<size_t>(na);
      if (end > b.size())
        throw ShapeError("scale axis " + std::to_string(axis) + " + num_axes " + std::to_string(na) +
                         " exceeds bottom rank " + std::to_string(b.size()));
      sshape.assign(b.begin() + static_cast<std::ptrdiff_t>(axis), b.begin() + static_cast<std::ptrdiff_t>(end));
      bind_checked(scale_, param(), 0, sshape, "scale");
    }
    if (axis + sshape.size() > b.size())
      throw ShapeError("scale shape " + shape_str(sshape) + " at axis " + std::to_string(axis) +
                       " does not fit bottom " + shape_str(b));
    for (size_t i = 0; i < sshape.size(); ++i)
      if (b[axis + i] != sshape[i])
        throw ShapeError("scale shape " + shape_str(sshape) + " does not match bottom " + shape_str(b) +
                         " at axis " + std::to_string(axis));
    s_ = {shape_count(b, 0, axis), shape_count(sshape), shape_count(b, axis + sshape.size())};
    has_bias_ = sp.bias_term();
    if (has_bias_) bind_checked(bias_, param(), bottoms.size() == 2 ? 0 : 1, sshape, "bias");
    return {b};
  }

  void forward(const std::vector<const FloatTensor*>& bottoms, const std::vector<FloatTensor*>& tops) override {
    const float* sc = bottoms.size() == 2 ? bottoms[1]->data() : scale_.data();
    kernels::scale(s_, bottoms[0]->data(), sc, has_bias_ ? bias_.data() : nullptr, tops[0]->data());
  }

  bool supports_in_place() const override { return true; }

  int64_t flops(const std::vector<Shape>& bottoms, const std::vector<Shape>&) const override {
    return (has_bias_ ? 2 : 1) * shape_count(bottoms[0]);
  }

  // y = x * a[c] + b[c] over axis 1 when the scale is a learned per-channel blob of `C`
  // channels on an [N, C, ...] bottom of batch `N`; false otherwise (not foldable).
  bool channel_affine(int64_t N, int64_t C, std::vector<float>& a, std::vector<float>& b) const {
    if (param().bottom_size() != 1 || s_.outer != N || s_.channels != C) return false;
    a.assign(scale_.data(), scale_.data() + C);
    if (has_bias_) b.assign(bias_.data(), bias_.data() + C);
    else b.assign(static_cast<size_t>(C), 0.f);
    return true;
  }

 private:
  kernels::ChannelShape s_;
  spatial_detail::Weights scale_, bias_;
  bool has_bias_ = false;
};

// Caffe LRN. WITHIN_CHANNEL uses shift 1 in place of k, as Caffe's pooling + power pipeline does.
class LrnLayer : public Layer {
 public:
  using Layer::Layer;

  std::vector<Shape> reshape(const std::vector<Shape>& bottoms) override {
    using namespace spatial_detail;
    expect_bottoms(bottoms, 1, 1);
    const Shape& b = bottoms[0];
    if (b.size() != 4) throw ShapeError("LRN needs a 4-D (N,C,H,W) bottom, got " + shape_str(b));
    const auto& lp = param().lrn_param();
    p_ = {};
    p_.region = lp.norm_region() == ufw::LRNParameter::WITHIN_CHANNEL ? kernels::LrnParams::Region::WithinChannel
                                                                       : kernels::LrnParams::Region::AcrossChannels;
    p_.size = lp.local_size();
    p_.alpha = lp.alpha();
    p_.beta = lp.beta();
    p_.k = p_.region == kernels::LrnParams::Region::WithinChannel ? 1.f : lp.k();
    kernels::lrn_check(p_);
    s_ = {b[0], b[1], b[2], b[3]};
    return {b};
  }

  void forward(const std::vector<const FloatTensor*>& bottoms, const std::vector<FloatTensor*>& tops) override {
    kernels::lrn(p_, s_, bottoms[0]->data(), tops[0]->data());
  }

 private:
  kernels::LrnParams p_;
  kernels::LrnShape s_;
};

inline void register_spatial_layers(LayerRegistry& r) {
  r.add("Convolution", make<ConvolutionLayer>);
  r.add("Deconvolution", make<DeconvolutionLayer>);
  r.add("Pooling", make<PoolingLayer>);
  r.add("InnerProduct", make<InnerProductLayer>);
  r.add("MatMul", make<MatMulLayer>);
  r.add("BatchNorm", make<BatchNormLayer>);
  r.add("Scale", make<ScaleLayer>);
  r.add("LRN", make<LrnLayer>);
}

}  // namespace octet::engine
