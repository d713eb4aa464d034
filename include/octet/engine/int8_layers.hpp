// The int8 layers of the int8 runtime (engine/int8_net.hpp): typed blobs (QBlob), the int8
// layer contract (Int8Layer) and one implementation per row of docs/int8-umodel.md's kernel
// table. Every integer step calls fixed/ (rounding, saturation, requantisation, quantisation,
// tables) so the BM168X code generator and simulator can reproduce the results bit for bit.
// make_int8_layer decides whether a layer can run in int8; when it returns null the Int8Net
// runs the fp32 layer instead (float fallback with border conversions).
// Depends on core/, fixed/, kernels/ and engine/ layers; never on tools or frontends.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "octet/core/error.hpp"
#include "octet/core/parallel.hpp"
#include "octet/core/tensor.hpp"
#include "octet/engine/layer.hpp"
#include "octet/engine/layers/spatial.hpp"
#include "octet/fixed/fixed.hpp"
#include "octet/kernels/int8_conv.hpp"
#include "octet/kernels/int8_deconv.hpp"
#include "octet/kernels/pooling.hpp"
#include "octet/proto/umodel.pb.h"

namespace octet::engine {

// How one blob is stored and what its codes mean. dtype F32: float storage (range/scale are
// still set from the threshold so an int8 consumer can quantise it at the border).
struct QuantInfo {
  DType dtype = DType::F32;
  fixed::QRange range = fixed::QRange::int8_sym;
  float threshold = 0;  // 0: none recorded
  float scale = 0;      // value = code * scale; 0 when no threshold is recorded
  bool has_quant() const { return scale > 0; }
  bool same_codes(const QuantInfo& o) const { return range == o.range && scale == o.scale; }
};

// BlobQuant -> QuantInfo. INT8 codes are the restricted range [-127, 127], UINT8 [0, 255];
// the scale is BlobQuant.scale when present, else T / qmax (fixed::scale_from_threshold).
// FP32 (or no BlobQuant) is float storage; its threshold, if any, quantises it for an int8
// consumer as INT8 (T / 127).
inline QuantInfo quant_info(const ufw::BlobQuant* bq) {
  QuantInfo q;
  if (!bq) return q;
  switch (bq->dtype()) {
    case ufw::BlobProto::INT8: q.dtype = DType::I8, q.range = fixed::QRange::int8_sym; break;
    case ufw::BlobProto::UINT8: q.dtype = DType::U8, q.range = fixed::QRange::uint8; break;
    case ufw::BlobProto::FP32: q.dtype = DType::F32, q.range = fixed::QRange::int8_sym; break;
    default:
      throw UnsupportedError("top_quant dtype " + ufw::BlobProto::Dtype_Name(bq->dtype()) +
                             " (int8 runtime stores INT8, UINT8 or FP32 activations)");
  }
  q.threshold = bq->threshold();
  if (bq->has_scale() && bq->scale() > 0) q.scale = bq->scale();
  else if (bq->threshold() > 0) q.scale = fixed::scale_from_threshold(bq->threshold(), q.range);
  if (q.dtype != DType::F32 && !(q.scale > 0) )
    throw ModelError("top_quant of an " + std::string(dtype_name(q.dtype)) + " blob needs a threshold > 0 or a scale > 0");
  if (!std::isfinite(q.scale)) throw ModelError("top_quant scale is not finite");
  return q;
}

// One blob of the int8 runtime: float, int8 or uint8 storage (only the one matching dtype is
// allocated).
struct QBlob {
  QuantInfo q;
  Shape shape;
  Tensor<float> f;
  Tensor<std::int8_t> s8;
  Tensor<std::uint8_t> u8;

  DType dtype() const { return q.dtype; }
  int64_t count() const { return shape_count(shape); }
  void allocate() {
    switch (q.dtype) {
      case DType::I8: s8.reshape(shape); break;
      case DType::U8: u8.reshape(shape); break;
      default: f.reshape(shape); break;
    }
  }
  // Dequantised copy (a float blob is copied as is).
  void to_float(float* out) const {
    const int64_t n = count();
    if (q.dtype == DType::I8) for (int64_t i = 0; i < n; ++i) out[i] = fixed::dequantize(s8[i], q.scale);
    else if (q.dtype == DType::U8) for (int64_t i = 0; i < n; ++i) out[i] = fixed::dequantize(u8[i], q.scale);
    else std::copy(f.data(), f.data() + n, out);
  }
  // Stores float values: quantised with this blob's scale and range, or copied.
  void from_float(const float* in) {
    const int64_t n = count();
    if (q.dtype == DType::I8) for (int64_t i = 0; i < n; ++i) s8[i] = fixed::quantize_int8(in[i], q.scale, q.range);
    else if (q.dtype == DType::U8) for (int64_t i = 0; i < n; ++i) u8[i] = fixed::quantize_uint8(in[i], q.scale);
    else std::copy(in, in + n, f.data());
  }
  // Codes as exact floats (pass-through ops run the fp32 layer on them) and back.
  void codes_to_float(float* out) const {
    const int64_t n = count();
    if (q.dtype == DType::I8) for (int64_t i = 0; i < n; ++i) out[i] = s8[i];
    else for (int64_t i = 0; i < n; ++i) out[i] = u8[i];
  }
  void codes_from_float(const float* in) {
    const int64_t n = count();
    if (q.dtype == DType::I8) for (int64_t i = 0; i < n; ++i) s8[i] = static_cast<std::int8_t>(in[i]);
    else for (int64_t i = 0; i < n; ++i) u8[i] = static_cast<std::uint8_t>(in[i]);
  }
};

struct QDesc {
  Shape shape;
  QuantInfo q;
};

// An int8 layer: built from its LayerParameter (int8 blobs, int8_param), set up once the
// shapes and quantisation of its bottoms and tops are known, then run on typed blobs. The Int8Net
// hands it INT8/UINT8 bottoms (converting float ones at the border) for every i where
// int8_bottom(i) is true, and INT8/UINT8 tops.
class Int8Layer {
 public:
  explicit Int8Layer(const ufw::LayerParameter& p) : param_(p) {}
  virtual ~Int8Layer() = default;
  Int8Layer(const Int8Layer&) = delete;
  Int8Layer& operator=(const Int8Layer&) = delete;
  const ufw::LayerParameter& param() const { return param_; }
  virtual void setup(const std::vector<QDesc>& bottoms, const std::vector<QDesc>& tops) = 0;
  virtual void forward(const std::vector<const QBlob*>& bottoms, const std::vector<QBlob*>& tops) = 0;
  virtual bool int8_bottom(size_t i) const { (void)i; return true; }

 private:
  ufw::LayerParameter param_;
};

namespace int8_detail {

template <typename Fn>
void with_in(const QBlob& b, Fn&& fn) {
  if (b.dtype() == DType::I8) fn(b.s8.data());
  else if (b.dtype() == DType::U8) fn(b.u8.data());
  else throw ModelError("int8 layer got a float bottom");
}
template <typename Fn>
void with_out(QBlob& b, Fn&& fn) {
  if (b.dtype() == DType::I8) fn(b.s8.data());
  else if (b.dtype() == DType::U8) fn(b.u8.data());
  else throw ModelError("int8 layer got a float top");
}

inline std::int32_t out_min(const QuantInfo& q) { return fixed::qmin(q.range); }
inline std::int32_t out_max(const QuantInfo& q) { return fixed::qmax(q.range); }

// A code-domain rescale q -> clamp(rounding_right_shift(q * m, sh)) to the output range, or the
// identity clamp when no multiplier is given (then the scales must be equal).
struct Rescale {
  bool identity = true;
  std::int32_t m = 1;
  int sh = 0;
  std::int32_t lo = -127, hi = 127;
  std::int32_t operator()(std::int32_t q) const {
    const std::int32_t r = identity ? q : fixed::multiply_by_quantized_multiplier(q, m, sh);
    return fixed::clamp_to(r, lo, hi);
  }
};

inline void check_shift(int sh, const char* what) {
  if (sh < 0 || sh > fixed::kMaxRequantShift)
    throw ModelError(std::string("int8_param.") + what + " " + std::to_string(sh) + " outside [0, 63]");
}

inline std::vector<std::int8_t> int8_weights(const ufw::BlobProto& b, int64_t want, const char* what) {
  const std::string& d = b.int8_data();
  if (static_cast<int64_t>(d.size()) != want)
    throw ModelError(std::string(what) + " blob has " + std::to_string(d.size()) + " int8 values, expected " +
                     std::to_string(want));
  std::vector<std::int8_t> w(d.size());
  std::memcpy(w.data(), d.data(), d.size());
  return w;
}

inline std::vector<std::int32_t> int32_bias(const ufw::BlobProto& b, int64_t want) {
  if (b.int32_data_size() != want)
    throw ModelError("bias blob has " + std::to_string(b.int32_data_size()) + " int32 values, expected " +
                     std::to_string(want));
  return {b.int32_data().begin(), b.int32_data().end()};
}

inline kernels::Int8Requant requant_of(const ufw::LayerParameter& p, int64_t channels, const QuantInfo& top) {
  const auto& ip = p.int8_param();
  kernels::Int8Requant rq;
  rq.multiplier.assign(ip.multiplier().begin(), ip.multiplier().end());
  rq.shift.assign(ip.shift().begin(), ip.shift().end());
  if (rq.multiplier.empty()) throw ModelError("int8_param has no multiplier/shift");
  rq.out_min = out_min(top);
  rq.out_max = out_max(top);
  rq.check(channels);
  return rq;
}

}  // namespace int8_detail

// Convolution (groups, depthwise, dilation; 1-D as H = 1).
class Int8ConvolutionLayer : public Int8Layer {
 public:
  using Int8Layer::Int8Layer;
  void setup(const std::vector<QDesc>& bottoms, const std::vector<QDesc>& tops) override {
    using namespace spatial_detail;
    const Shape& b = bottoms.at(0).shape;
    const auto& cp = param().convolution_param();
    int64_t n, c, h, w;
    nchw(b, "convolution", n, c, h, w, true);
    const ConvFields f = conv_fields(cp, b.size() - 2);
    const kernels::Conv2dParams p = f.conv2d();
    const auto s = kernels::conv2d_shape(p, n, c, h, w, f.num_output);
    const auto wq = int8_detail::int8_weights(param().blobs(0), f.num_output * (c / f.group) * f.kh * f.kw, "weight");
    auto rq = int8_detail::requant_of(param(), f.num_output, tops.at(0).q);
    if (f.bias) rq.bias = int8_detail::int32_bias(param().blobs(1), f.num_output);
    conv_.setup(p, s, wq.data(), std::move(rq));
  }
  void forward(const std::vector<const QBlob*>& bottoms, const std::vector<QBlob*>& tops) override {
    int8_detail::with_in(*bottoms[0], [&](auto* in) {
      int8_detail::with_out(*tops[0], [&](auto* out) { conv_.forward(in, out); });
    });
  }
  const kernels::Int8Conv2d& kernel() const { return conv_; }

 private:
  kernels::Int8Conv2d conv_;
};

// Deconvolution (groups, dilation, output padding; 1-D as H = 1), weights [C, O/group, kh, kw].
class Int8DeconvolutionLayer : public Int8Layer {
 public:
  using Int8Layer::Int8Layer;
  void setup(const std::vector<QDesc>& bottoms, const std::vector<QDesc>& tops) override {
    using namespace spatial_detail;
    const Shape& b = bottoms.at(0).shape;
    int64_t n, c, h, w;
    nchw(b, "deconvolution", n, c, h, w, true);
    const ConvFields f = conv_fields(param().convolution_param(), b.size() - 2);
    const kernels::Deconv2dParams p = f.deconv2d();
    const auto s = kernels::deconv2d_shape(p, n, c, h, w, f.num_output);
    const auto wq = int8_detail::int8_weights(param().blobs(0), c * (f.num_output / f.group) * f.kh * f.kw, "weight");
    auto rq = int8_detail::requant_of(param(), f.num_output, tops.at(0).q);
    if (f.bias) rq.bias = int8_detail::int32_bias(param().blobs(1), f.num_output);
    deconv_.setup(p, s, wq.data(), std::move(rq));
  }
  void forward(const std::vector<const QBlob*>& bottoms, const std::vector<QBlob*>& tops) override {
    int8_detail::with_in(*bottoms[0], [&](auto* in) {
      int8_detail::with_out(*tops[0], [&](auto* out) { deconv_.forward(in, out); });
    });
  }

 private:
  kernels::Int8Deconv2d deconv_;
};

class Int8InnerProductLayer : public Int8Layer {
 public:
  using Int8Layer::Int8Layer;
  void setup(const std::vector<QDesc>& bottoms, const std::vector<QDesc>& tops) override {
    const Shape& b = bottoms.at(0).shape;
    const auto& ip = param().inner_product_param();
    const auto axis = static_cast<size_t>(canonical_axis(ip.axis(), b.size()));
    const int64_t M = ip.num_output(), batch = shape_count(b, 0, axis), K = shape_count(b, axis);
    const auto wq = int8_detail::int8_weights(param().blobs(0), M * K, "weight");
    auto rq = int8_detail::requant_of(param(), M, tops.at(0).q);
    if (ip.bias_term()) rq.bias = int8_detail::int32_bias(param().blobs(1), M);
    fc_.setup(batch, K, M, wq.data(), ip.transpose(), std::move(rq));
  }
  void forward(const std::vector<const QBlob*>& bottoms, const std::vector<QBlob*>& tops) override {
    int8_detail::with_in(*bottoms[0], [&](auto* in) {
      int8_detail::with_out(*tops[0], [&](auto* out) { fc_.forward(in, out); });
    });
  }

 private:
  kernels::Int8InnerProduct fc_;
};

// ReLU (slope 0) / ReLU6 on codes, then the output rescale (int8 -> uint8 needs one).
class Int8ReluLayer : public Int8Layer {
 public:
  Int8ReluLayer(const ufw::LayerParameter& p, bool six) : Int8Layer(p), six_(six) {}
  void setup(const std::vector<QDesc>& bottoms, const std::vector<QDesc>& tops) override {
    const QuantInfo& in = bottoms.at(0).q;
    cap_ = six_ ? fixed::quantize_value(6.0, in.scale, in.range) : fixed::qmax(in.range);
    rs_ = rescale_of(param(), in, tops.at(0).q);
  }
  void forward(const std::vector<const QBlob*>& bottoms, const std::vector<QBlob*>& tops) override {
    const int64_t n = bottoms[0]->count();
    kernels::Int8Requant rq;
    rq.multiplier = {rs_.m};
    rq.shift = {rs_.sh};
    rq.out_min = rs_.lo, rq.out_max = rs_.hi;
    int8_detail::with_in(*bottoms[0], [&](auto* in) {
      int8_detail::with_out(*tops[0], [&](auto* out) {
        using TO = std::remove_pointer_t<decltype(out)>;
        constexpr int64_t kBlock = 2048;
        parallel_for(0, (n + kBlock - 1) / kBlock, [&](int64_t blk) {
          const int64_t b0 = blk * kBlock, len = std::min(kBlock, n - b0);
          std::int32_t q[kBlock];
          for (int64_t i = 0; i < len; ++i)
            q[i] = std::min<std::int32_t>(std::max<std::int32_t>(in[b0 + i], 0), cap_);
          if (rs_.identity)
            for (int64_t i = 0; i < len; ++i) out[b0 + i] = static_cast<TO>(fixed::clamp_to(q[i], rs_.lo, rs_.hi));
          else
            kernels::int8_conv_detail::requant_row(rq, 0, q, len, out + b0);
        }, 4);
      });
    });
  }
  // multiplier[0]/shift[0] when given; else the identity, which needs equal scales (checked
  // by make_int8_layer, which falls back to float otherwise).
  static int8_detail::Rescale rescale_of(const ufw::LayerParameter& p, const QuantInfo& in, const QuantInfo& out) {
    int8_detail::Rescale r;
    r.lo = int8_detail::out_min(out), r.hi = int8_detail::out_max(out);
    (void)in;
    if (p.int8_param().multiplier_size() > 0) {
      if (p.int8_param().shift_size() < 1) throw ModelError("int8_param has a multiplier but no shift");
      r.identity = false;
      r.m = p.int8_param().multiplier(0);
      r.sh = p.int8_param().shift(0);
      int8_detail::check_shift(r.sh, "shift");
    }
    return r;
  }

 private:
  bool six_;
  std::int32_t cap_ = 127;
  int8_detail::Rescale rs_;
};

// Pooling MAX (codes, then the rescale rule of ReLU) and AVE / global AVE (int32 window sum,
// one exact multiplier per divisor).
class Int8PoolingLayer : public Int8Layer {
 public:
  using Int8Layer::Int8Layer;
  void setup(const std::vector<QDesc>& bottoms, const std::vector<QDesc>& tops) override {
    const Shape& b = bottoms.at(0).shape;
    const auto parsed = pool2d_params(param().pooling_param());
    s_ = kernels::pool2d_shape(parsed, b[0], b[1], b[2], b[3]);
    p_ = kernels::pool2d_effective(parsed, b[2], b[3]);
    const QuantInfo& out = tops.at(0).q;
    lo_ = int8_detail::out_min(out), hi_ = int8_detail::out_max(out);
    if (p_.method == kernels::PoolMethod::Max) {
      rs_ = Int8ReluLayer::rescale_of(param(), bottoms[0].q, out);
      return;
    }
    const int64_t area = p_.kernel_h * p_.kernel_w;
    const auto& ip = param().int8_param();
    if (ip.multiplier_size() != area || ip.shift_size() != area)
      throw ModelError("AVE pooling needs " + std::to_string(area) + " int8_param multiplier/shift entries (one per divisor), got " +
                       std::to_string(ip.multiplier_size()) + "/" + std::to_string(ip.shift_size()));
    for (int i = 0; i < area; ++i) int8_detail::check_shift(ip.shift(i), "shift");
  }
  void forward(const std::vector<const QBlob*>& bottoms, const std::vector<QBlob*>& tops) override {
    int8_detail::with_in(*bottoms[0], [&](auto* in) {
      int8_detail::with_out(*tops[0], [&](auto* out) { run(in, out); });
    });
  }

 private:
  template <typename TI, typename TO>
  void run(const TI* input, TO* output) {
    const auto& ip = param().int8_param();
    const auto& p = p_;
    const auto& s = s_;
    const bool is_max = p.method == kernels::PoolMethod::Max;
    parallel_for(0, s.batch * s.channels, [&](int64_t i) {
      const TI* in = input + i * s.in_h * s.in_w;
      TO* out = output + i * s.out_h * s.out_w;
      for (int64_t oh = 0; oh < s.out_h; ++oh) {
        const auto wh = kernels::pool_detail::window(oh, p.kernel_h, p.stride_h, p.pad_top, p.pad_bottom, s.in_h);
        for (int64_t ow = 0; ow < s.out_w; ++ow) {
          const auto ww = kernels::pool_detail::window(ow, p.kernel_w, p.stride_w, p.pad_left, p.pad_right, s.in_w);
          std::int32_t r;
          if (is_max) {
            std::int32_t m = std::numeric_limits<std::int32_t>::min();
            for (int64_t y = wh.lo; y < wh.hi; ++y)
              for (int64_t x = ww.lo; x < ww.hi; ++x) m = std::max<std::int32_t>(m, in[y * s.in_w + x]);
            r = wh.hi > wh.lo && ww.hi > ww.lo ? rs_(m) : 0;
          } else {
            std::int32_t sum = 0;
            for (int64_t y = wh.lo; y < wh.hi; ++y)
              for (int64_t x = ww.lo; x < ww.hi; ++x) sum += in[y * s.in_w + x];
            const int64_t d = p.count_include_pad ? wh.padded * ww.padded : (wh.hi - wh.lo) * (ww.hi - ww.lo);
            r = d > 0 ? fixed::clamp_to(fixed::multiply_by_quantized_multiplier(sum, ip.multiplier(static_cast<int>(d - 1)),
                                                                                  ip.shift(static_cast<int>(d - 1))),
                                        lo_, hi_)
                      : 0;
          }
          out[oh * s.out_w + ow] = static_cast<TO>(r);
        }
      }
    }, 4);
  }

  kernels::Pool2dParams p_;
  kernels::Pool2dShape s_;
  int8_detail::Rescale rs_;
  std::int32_t lo_ = -127, hi_ = 127;
};

// Eltwise SUM / MAX / PROD and BinaryOp ADD (two bottoms of one shape).
class Int8EltwiseLayer : public Int8Layer {
 public:
  enum class Op { Sum, Max, Prod };
  Int8EltwiseLayer(const ufw::LayerParameter& p, Op op) : Int8Layer(p), op_(op) {}
  void setup(const std::vector<QDesc>& bottoms, const std::vector<QDesc>& tops) override {
    const auto& ip = param().int8_param();
    const size_t n = bottoms.size();
    for (size_t i = 1; i < n; ++i)
      if (bottoms[i].shape != bottoms[0].shape) throw ShapeError("int8 eltwise: bottoms differ in shape");
    lo_ = int8_detail::out_min(tops.at(0).q), hi_ = int8_detail::out_max(tops.at(0).q);
    if (op_ == Op::Prod) {
      if (ip.multiplier_size() < 1 || ip.shift_size() < 1) throw ModelError("int8 PROD needs int8_param multiplier/shift");
      m_ = {ip.multiplier(0)};
      sh_ = ip.shift(0);
      int8_detail::check_shift(sh_, "shift");
      return;
    }
    if (static_cast<size_t>(ip.input_multiplier_size()) != n || ip.input_shift_size() < 1)
      throw ModelError("int8 " + std::string(op_ == Op::Sum ? "SUM" : "MAX") + " needs " + std::to_string(n) +
                       " input_multiplier and input_shift[0]");
    sh_ = ip.input_shift(0);
    for (int i = 1; i < ip.input_shift_size(); ++i)
      if (ip.input_shift(i) != sh_) throw ModelError("int8 eltwise: every input_shift must equal input_shift[0]");
    int8_detail::check_shift(sh_, "input_shift");
    m_.assign(ip.input_multiplier().begin(), ip.input_multiplier().end());
  }
  void forward(const std::vector<const QBlob*>& bottoms, const std::vector<QBlob*>& tops) override {
    const int64_t count = tops[0]->count();
    int8_detail::with_out(*tops[0], [&](auto* out) {
      using TO = std::remove_pointer_t<decltype(out)>;
      // Widen each bottom once per block: keeps the inner loops type-uniform.
      constexpr int64_t kBlock = 1024;
      parallel_for(0, (count + kBlock - 1) / kBlock, [&](int64_t blk) {
        const int64_t b0 = blk * kBlock, len = std::min(kBlock, count - b0);
        std::int64_t acc[kBlock];
        std::int32_t q[kBlock];
        for (size_t i = 0; i < bottoms.size(); ++i) {
          int8_detail::with_in(*bottoms[i], [&](auto* in) {
            for (int64_t j = 0; j < len; ++j) q[j] = in[b0 + j];
          });
          if (op_ == Op::Sum) {
            const std::int64_t m = m_[i];
            if (i == 0) for (int64_t j = 0; j < len; ++j) acc[j] = q[j] * m;
            else for (int64_t j = 0; j < len; ++j) acc[j] += q[j] * m;
          } else if (op_ == Op::Max) {
            for (int64_t j = 0; j < len; ++j) {
              const std::int64_t t = fixed::rounding_right_shift(q[j] * static_cast<std::int64_t>(m_[i]), sh_);
              acc[j] = i == 0 ? t : std::max(acc[j], t);
            }
          } else {
            if (i == 0) for (int64_t j = 0; j < len; ++j) acc[j] = q[j];
            else for (int64_t j = 0; j < len; ++j) acc[j] *= q[j];
          }
        }
        if (op_ == Op::Sum) {
          kernels::int8_conv_detail::round_shift_row(acc, len, sh_, lo_, hi_, out + b0);
          return;
        }
        for (int64_t j = 0; j < len; ++j) {
          std::int64_t r;
          if (op_ == Op::Max) r = acc[j];
          else r = fixed::multiply_by_quantized_multiplier(static_cast<std::int32_t>(acc[j]), m_[0], sh_);
          out[b0 + j] = static_cast<TO>(fixed::clamp_to<std::int64_t>(r, lo_, hi_));
        }
      });
    });
  }

 private:
  Op op_;
  std::vector<std::int32_t> m_;
  int sh_ = 0;
  std::int32_t lo_ = -127, hi_ = 127;
};

// Concat: each input rescaled with input_multiplier[i] / input_shift[i] (identity when absent:
// then every input must carry the output's scale), then copied along the axis.
class Int8ConcatLayer : public Int8Layer {
 public:
  using Int8Layer::Int8Layer;
  void setup(const std::vector<QDesc>& bottoms, const std::vector<QDesc>& tops) override {
    const auto& ip = param().int8_param();
    const Shape& t = tops.at(0).shape;
    const int axis = canonical_axis(param().concat_param().axis(), t.size());
    outer_ = shape_count(t, 0, static_cast<size_t>(axis));
    inner_.clear();
    rs_.clear();
    const bool given = ip.input_multiplier_size() > 0;
    if (given && (static_cast<size_t>(ip.input_multiplier_size()) != bottoms.size() ||
                  static_cast<size_t>(ip.input_shift_size()) != bottoms.size()))
      throw ModelError("int8 Concat needs one input_multiplier and input_shift per bottom");
    for (size_t i = 0; i < bottoms.size(); ++i) {
      inner_.push_back(shape_count(bottoms[i].shape, static_cast<size_t>(axis)));
      int8_detail::Rescale r;
      r.lo = int8_detail::out_min(tops[0].q), r.hi = int8_detail::out_max(tops[0].q);
      if (given) {
        r.identity = false;
        r.m = ip.input_multiplier(static_cast<int>(i));
        r.sh = ip.input_shift(static_cast<int>(i));
        int8_detail::check_shift(r.sh, "input_shift");
      }
      rs_.push_back(r);
    }
  }
  void forward(const std::vector<const QBlob*>& bottoms, const std::vector<QBlob*>& tops) override {
    int64_t row = 0;
    for (auto v : inner_) row += v;
    int8_detail::with_out(*tops[0], [&](auto* out) {
      using TO = std::remove_pointer_t<decltype(out)>;
      int64_t off = 0;
      for (size_t i = 0; i < bottoms.size(); ++i) {
        const int64_t inner = inner_[i];
        const auto& rs = rs_[i];
        int8_detail::with_in(*bottoms[i], [&](auto* in) {
          for (int64_t o = 0; o < outer_; ++o)
            for (int64_t j = 0; j < inner; ++j) out[o * row + off + j] = static_cast<TO>(rs(in[o * inner + j]));
        });
        off += inner;
      }
    });
  }

 private:
  int64_t outer_ = 0;
  std::vector<int64_t> inner_;
  std::vector<int8_detail::Rescale> rs_;
};

// Data-movement ops (Reshape, Flatten, Permute, Slice, Split, Upsample, nearest Interp, Pad,
// Dropout, Tile): the codes pass through unchanged, so the fp32 layer runs on the codes as
// exact floats (|code| <= 255) and they are cast back. Top quantisation = bottom 0's.
class Int8PassThroughLayer : public Int8Layer {
 public:
  Int8PassThroughLayer(const ufw::LayerParameter& p, Layer* fp32) : Int8Layer(p), fp32_(fp32) {}
  void setup(const std::vector<QDesc>& bottoms, const std::vector<QDesc>& tops) override {
    in_.clear();
    out_.clear();
    for (const auto& b : bottoms) in_.emplace_back(b.shape);
    for (const auto& t : tops) out_.emplace_back(t.shape);
  }
  bool int8_bottom(size_t i) const override { return i == 0; }
  void forward(const std::vector<const QBlob*>& bottoms, const std::vector<QBlob*>& tops) override {
    std::vector<const FloatTensor*> b;
    std::vector<FloatTensor*> t;
    for (size_t i = 0; i < bottoms.size(); ++i) {
      if (bottoms[i]->dtype() == DType::F32) b.push_back(&bottoms[i]->f);
      else {
        bottoms[i]->codes_to_float(in_[i].data());
        b.push_back(&in_[i]);
      }
    }
    for (auto& o : out_) t.push_back(&o);
    fp32_->forward(b, t);
    for (size_t i = 0; i < tops.size(); ++i) tops[i]->codes_from_float(out_[i].data());
  }

 private:
  Layer* fp32_;
  std::vector<FloatTensor> in_, out_;
};

// Nonlinear ops through int8_param.lut: out = lut[q + 128] (INT8 input) or lut[q] (UINT8).
class Int8LutLayer : public Int8Layer {
 public:
  using Int8Layer::Int8Layer;
  void setup(const std::vector<QDesc>&, const std::vector<QDesc>&) override {
    const std::string& l = param().int8_param().lut();
    if (l.size() != 256) throw ModelError("int8_param.lut has " + std::to_string(l.size()) + " bytes, expected 256");
    std::memcpy(lut_, l.data(), 256);
  }
  void forward(const std::vector<const QBlob*>& bottoms, const std::vector<QBlob*>& tops) override {
    const int64_t n = bottoms[0]->count();
    const bool in_signed = bottoms[0]->dtype() == DType::I8;
    int8_detail::with_in(*bottoms[0], [&](auto* in) {
      int8_detail::with_out(*tops[0], [&](auto* out) {
        using TO = std::remove_pointer_t<decltype(out)>;
        for (int64_t i = 0; i < n; ++i)
          out[i] = static_cast<TO>(lut_[fixed::lut_index(in[i], in_signed)]);
      });
    });
  }

 private:
  std::uint8_t lut_[256] = {};
};

// Whether `p` runs in int8 given its bottoms' and tops' quantisation, and the layer if so;
// null means float fallback. fp32 is the layer's fp32 instance (pass-through ops reuse it).
inline std::unique_ptr<Int8Layer> make_int8_layer(const ufw::LayerParameter& p, const std::vector<QDesc>& bottoms,
                                                  const std::vector<QDesc>& tops, Layer* fp32) {
  if (p.forward_with_float() || tops.empty() || bottoms.empty()) return nullptr;
  for (const auto& t : tops)
    if (t.q.dtype == DType::F32) return nullptr;
  for (const auto& b : bottoms)
    if (!b.q.has_quant()) return nullptr;  // nothing to quantise a float bottom with
  const std::string& type = p.type();
  const auto& ip = p.int8_param();
  const bool has_mult = ip.multiplier_size() > 0;
  const auto weights_int8 = [&] {
    return p.blobs_size() >= 1 && p.blobs(0).dtype() == ufw::BlobProto::INT8 && !p.blobs(0).int8_data().empty() &&
           has_mult;
  };
  const bool same_codes = bottoms[0].q.same_codes(tops[0].q);
  if (type == "Convolution") {
    if (!weights_int8() || bottoms[0].shape.size() < 3) return nullptr;
    return std::make_unique<Int8ConvolutionLayer>(p);
  }
  if (type == "Deconvolution") {
    if (!weights_int8() || bottoms[0].shape.size() < 3) return nullptr;
    return std::make_unique<Int8DeconvolutionLayer>(p);
  }
  if (type == "InnerProduct") return weights_int8() ? std::make_unique<Int8InnerProductLayer>(p) : nullptr;
  if (type == "ReLU" || type == "ReLU6") {
    if (type == "ReLU" && p.relu_param().negative_slope() != 0) return nullptr;
    if (!has_mult && !same_codes) return nullptr;
    return std::make_unique<Int8ReluLayer>(p, type == "ReLU6");
  }
  if (type == "Pooling") {
    const auto& pp = p.pooling_param();
    if (bottoms[0].shape.size() != 4) return nullptr;
    if (pp.pool() == ufw::PoolingParameter::MAX) {
      if (!has_mult && !same_codes) return nullptr;
      return std::make_unique<Int8PoolingLayer>(p);
    }
    if (pp.pool() == ufw::PoolingParameter::AVE) return has_mult ? std::make_unique<Int8PoolingLayer>(p) : nullptr;
    return nullptr;
  }
  if (type == "Eltwise") {
    const auto op = p.eltwise_param().operation();
    if (op == ufw::EltwiseParameter::PROD)
      return has_mult && bottoms.size() <= 3 ? std::make_unique<Int8EltwiseLayer>(p, Int8EltwiseLayer::Op::Prod) : nullptr;
    if (ip.input_multiplier_size() != static_cast<int>(bottoms.size())) return nullptr;
    return std::make_unique<Int8EltwiseLayer>(p, op == ufw::EltwiseParameter::SUM ? Int8EltwiseLayer::Op::Sum
                                                                                  : Int8EltwiseLayer::Op::Max);
  }
  if (type == "BinaryOp") {
    if (p.binary_op_param().operation() != ufw::BinaryOpParameter::ADD || bottoms.size() != 2 ||
        bottoms[0].shape != bottoms[1].shape || ip.input_multiplier_size() != 2)
      return nullptr;
    return std::make_unique<Int8EltwiseLayer>(p, Int8EltwiseLayer::Op::Sum);
  }
  if (type == "Concat") {
    if (ip.input_multiplier_size() == 0)
      for (const auto& b : bottoms)
        if (!b.q.same_codes(tops[0].q)) return nullptr;
    return std::make_unique<Int8ConcatLayer>(p);
  }
  static const char* const kPass[] = {"Reshape", "Flatten", "Permute", "Transpose", "Slice", "Split",
                                      "Upsample", "Interp", "Pad", "Dropout", "Tile"};
  if (std::find_if(std::begin(kPass), std::end(kPass), [&](const char* s) { return type == s; }) != std::end(kPass)) {
    if (!fp32) return nullptr;
    if (type == "Interp" && p.interp_param().mode() != ufw::InterpParameter::NEAREST) return nullptr;
    if (type == "Pad" && p.pad_param().mode() == ufw::PadParameter::CONSTANT && p.pad_param().value() != 0) return nullptr;
    for (const auto& t : tops)
      if (!bottoms[0].q.same_codes(t.q)) return nullptr;
    return std::make_unique<Int8PassThroughLayer>(p, fp32);
  }
  static const char* const kLut[] = {"Sigmoid", "TanH", "HardSwish", "HardSigmoid", "Exp", "ELU", "UnaryOp", "Swish"};
  if (std::find_if(std::begin(kLut), std::end(kLut), [&](const char* s) { return type == s; }) != std::end(kLut)) {
    if (ip.lut().size() != 256) return nullptr;
    return std::make_unique<Int8LutLayer>(p);
  }
  return nullptr;
}

}  // namespace octet::engine
