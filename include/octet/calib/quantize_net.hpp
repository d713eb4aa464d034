// Builds the int8 umodel (docs/int8-umodel.md) from the optimised fp32 net and a calibration
// Plan: top_quant on every top, int8_param per int8 layer (requantisation multipliers and
// shifts, per-input rescales, LUTs), INT8 weights in int8_data with per-channel or per-tensor
// scales, INT32 bias in int32_data. BM1684X requantises with multiplier + shift; BM1684 with a
// power-of-two shift alone, the residual factor absorbed by the weights and bias, and the bias
// rounded to int16 · 2^lshift. Float layers keep their fp32 blobs (forward_with_float: true).
// Depends on calib/{assign,weights}.hpp, fixed/ and ir/; never on the runtime.
#pragma once
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "octet/calib/assign.hpp"
#include "octet/calib/weights.hpp"
#include "octet/core/error.hpp"
#include "octet/fixed/fixed.hpp"
#include "octet/ir/blob.hpp"
#include "octet/proto/umodel.pb.h"

namespace octet::calib {

enum class Target { BM1684X, BM1684 };

inline Target parse_target(const std::string& s) {
  if (s == "BM1684X" || s == "BM1686" || s == "bm1684x" || s == "bm1686") return Target::BM1684X;
  if (s == "BM1684" || s == "bm1684") return Target::BM1684;
  throw UsageError("-target: '" + s + "' is not one of BM1684X, BM1684 (BM1686 = BM1684X)");
}

struct QuantizeOptions {
  Target target = Target::BM1684X;
  bool per_channel = false;
  bool conv_group = false;  // without per_channel: conv weights get one scale per amplitude group
};

struct QuantizeReport {
  std::vector<std::string> warnings;
  int int8_layers = 0, float_layers = 0;
};

inline fixed::QRange qrange(BlobDtype d) { return d == ufw::BlobProto::UINT8 ? fixed::QRange::uint8 : fixed::QRange::int8_sym; }

inline ufw::BlobQuant blob_quant(const BlobPlan& b) {
  ufw::BlobQuant q;
  q.set_threshold(b.threshold);
  q.set_dtype(b.dtype);
  q.set_scale(fixed::scale_from_threshold(b.threshold, qrange(b.dtype)));
  return q;
}

namespace detail {
// real = m * 2^-shift with m in [2^30, 2^31); tolerant of scales outside the shift range
// (a dead output): the shift is clamped and the multiplier rescaled, saturating at int32.
inline std::pair<int32_t, int> multiplier(double real) {
  if (!(real > 0) || !std::isfinite(real)) return {0, 0};
  int e = 0;
  std::frexp(real, &e);
  const int shift = 31 - e;
  if (shift >= 0 && shift <= fixed::kMaxRequantShift) {
    const auto q = fixed::quantize_multiplier(real);
    return {q.multiplier, q.shift};
  }
  const int s = shift < 0 ? 0 : fixed::kMaxRequantShift;
  const double m = std::round(std::ldexp(real, s));
  return {static_cast<int32_t>(std::min(m, 2147483647.0)), s};
}

// Permutes weights so each output channel is one contiguous row (and back).
struct Rows {
  std::vector<int64_t> perm;  // perm[row-major position] = index in the blob
  int64_t channels = 0;
};
inline Rows rows_of(const ufw::LayerParameter& l) {
  const Shape s = ir::blob_shape(l.blobs(0));
  const int64_t n = shape_count(s);
  Rows r;
  std::vector<int64_t> of(static_cast<size_t>(n));
  if (l.type() == "Convolution") {
    r.channels = s.at(0);
    for (int64_t i = 0; i < n; ++i) of[i] = i / (n / r.channels);
  } else if (l.type() == "InnerProduct") {
    const bool tr = l.inner_product_param().transpose();
    r.channels = tr ? s.at(1) : s.at(0);
    const int64_t per = n / s.at(0);
    for (int64_t i = 0; i < n; ++i) of[i] = tr ? i % per : i / per;
  } else {
    const int64_t g = std::max<int64_t>(1, l.convolution_param().group());
    const int64_t cin = s.at(0), cpg = s.at(1), k = n / (cin * cpg);
    r.channels = cpg * g;
    for (int64_t i = 0; i < n; ++i) of[i] = ((i / (cpg * k)) / (cin / g)) * cpg + (i / k) % cpg;
  }
  std::vector<int64_t> count(r.channels, 0), start(r.channels, 0);
  for (auto c : of) ++count[c];
  for (int64_t c = 1; c < r.channels; ++c) start[c] = start[c - 1] + count[c - 1];
  r.perm.resize(n);
  for (int64_t i = 0; i < n; ++i) r.perm[start[of[i]]++] = i;
  return r;
}
}  // namespace detail

// Quantises a Convolution / Deconvolution / InnerProduct in place: blobs and int8_param.
inline void quantize_weighted(ufw::LayerParameter& l, float s_in, float s_out, const QuantizeOptions& o,
                              QuantizeReport& rep) {
  const detail::Rows rows = detail::rows_of(l);
  const auto& wsrc = l.blobs(0).data();
  std::vector<float> w(rows.perm.size());
  for (size_t i = 0; i < w.size(); ++i) w[i] = wsrc.Get(static_cast<int>(rows.perm[i]));
  const int64_t C = rows.channels, per = static_cast<int64_t>(w.size()) / C;
  const bool grouped = !o.per_channel && o.conv_group && l.type() != "InnerProduct";
  const bool per_channel = o.per_channel || grouped;  // groups are stored as per-channel scales
  WeightQuant wq = o.per_channel ? quantize_weights_per_channel(w, static_cast<size_t>(C), 127, l.name())
                   : grouped     ? quantize_weights_grouped(w, static_cast<size_t>(C), 127, l.name())
                                 : quantize_weights_per_tensor(w, 127, l.name());
  if (!wq.zero_channels.empty())
    rep.warnings.push_back("layer " + l.name() + ": " + std::to_string(wq.zero_channels.size()) +
                           " all-zero weight channel(s) stored as zeros with scale 1/127");
  std::vector<float> sw = wq.scale;  // 1 or C entries
  auto* ip = l.mutable_int8_param();
  ip->Clear();
  if (o.target == Target::BM1684) {
    // Power-of-two shift per scale entry; the weights take the residual (<= 1, so no growth).
    ip->set_target(ufw::Int8Param::BM1684);
    for (size_t c = 0; c < sw.size(); ++c) {
      const double real = static_cast<double>(s_in) * sw[c] / s_out;
      fixed::Pow2Requant pr;
      int e = 0;
      std::frexp(real, &e);
      if (-e + 1 > 31 || -e < 0) {  // beyond the 5-bit shift field: clamp, weights absorb the rest
        pr.shift = -e < 0 ? 0 : 31;
        pr.residual = std::ldexp(real, pr.shift);
        if (pr.residual > 1.0) rep.warnings.push_back("layer " + l.name() + ": requant scale > 1, weights saturate");
      } else {
        pr = fixed::pow2_requant(real, fixed::Pow2Rounding::no_growth);
      }
      sw[c] = static_cast<float>(sw[c] / pr.residual);
      ip->add_multiplier(1);
      ip->add_shift(pr.shift);
    }
    for (int64_t c = 0; c < C; ++c) {
      const float s = sw.size() == 1 ? sw[0] : sw[c];
      for (int64_t k = 0; k < per; ++k)
        wq.q[c * per + k] = calib::detail::quantize_sym(w[c * per + k], s, 127);
    }
  } else {
    ip->set_target(ufw::Int8Param::BM1684X);
    for (size_t c = 0; c < sw.size(); ++c) {
      const auto [m, sh] = detail::multiplier(static_cast<double>(s_in) * sw[c] / s_out);
      ip->add_multiplier(m);
      ip->add_shift(sh);
    }
  }
  // Weights blob: INT8 codes in the blob's own layout.
  ufw::BlobProto wb;
  *wb.mutable_shape() = l.blobs(0).shape();
  if (!l.blobs(0).has_shape()) ir::set_blob_shape(wb, ir::blob_shape(l.blobs(0)));
  std::string bytes(rows.perm.size(), '\0');
  for (size_t i = 0; i < rows.perm.size(); ++i) bytes[static_cast<size_t>(rows.perm[i])] = static_cast<char>(wq.q[i]);
  wb.set_int8_data(bytes);
  wb.set_dtype(ufw::BlobProto::INT8);
  wb.set_per_channel_en(per_channel);
  if (per_channel) {
    for (float s : sw) wb.add_scaletofloatperchannel(s);
  } else {
    wb.set_scaletofloat(sw[0]);
  }
  if (o.target == Target::BM1684 && ip->shift_size() == 1) wb.set_right_shift_num(ip->shift(0));
  // Bias blob: INT32 at step s_in * s_w,c (BM1684: int16 * 2^lshift, stored as its int32 value).
  if (l.blobs_size() >= 2) {
    std::vector<float> b(l.blobs(1).data().begin(), l.blobs(1).data().end());
    BiasQuant bq = quantize_bias(b, s_in, sw, l.name() + " bias");
    if (!bq.saturated.empty())
      rep.warnings.push_back("layer " + l.name() + ": " + std::to_string(bq.saturated.size()) +
                             " bias value(s) saturated int32");
    ufw::BlobProto bb;
    ir::set_blob_shape(bb, {static_cast<int64_t>(b.size())});
    bb.set_dtype(ufw::BlobProto::INT32);
    if (o.target == Target::BM1684) {
      const Bias16 b16 = bias_to_int16(bq.q);
      for (auto v : b16.q)
        bb.add_int32_data(fixed::saturate_int32(static_cast<int64_t>(v) * (int64_t{1} << b16.lshift)));
      bb.set_bit_width(ufw::BlobProto::bitWidth_16);
      bb.set_right_shift_num(-b16.lshift);  // negative: the int16 values are shifted left
    } else {
      for (auto v : bq.q) bb.add_int32_data(v);
    }
    *l.mutable_blobs(1) = bb;
  }
  *l.mutable_blobs(0) = wb;
}

// The int8 NetParameter: `net` is the optimised fp32 net (unique tops, weights merged),
// `shapes` its blob shapes, `plan` the calibration plan.
inline ufw::NetParameter build_int8_net(const ufw::NetParameter& net, const Plan& plan,
                                        const std::map<std::string, Shape>& shapes, const QuantizeOptions& o,
                                        QuantizeReport& rep) {
  ufw::NetParameter out = net;
  auto bq = [&](const std::string& b) -> ufw::BlobQuant {
    const auto it = plan.blobs.find(b);
    if (it == plan.blobs.end()) {
      ufw::BlobQuant q;
      q.set_dtype(ufw::BlobProto::FP32);
      return q;
    }
    return blob_quant(it->second);
  };
  auto scale_of = [&](const std::string& b) { return bq(b).has_threshold() ? bq(b).scale() : 1.0f; };
  for (auto& l : *out.mutable_layer()) {
    l.clear_top_quant();
    l.clear_int8_param();
    for (const auto& t : l.top()) *l.add_top_quant() = bq(t);
    if (plan.float_layers.count(l.name())) {
      if (l.type() != "Data" && l.type() != "AnnotatedData" && l.type() != "Input") l.set_forward_with_float(true);
      ++rep.float_layers;
      continue;
    }
    ++rep.int8_layers;
    const std::string& t = l.type();
    if (t == "Data" || t == "AnnotatedData" || t == "Input" || l.bottom_size() == 0) continue;
    const float s_out = l.top_size() ? scale_of(l.top(0)) : 1.0f;
    const float s_in = scale_of(l.bottom(0));
    if (t == "Convolution" || t == "Deconvolution" || t == "InnerProduct") {
      quantize_weighted(l, s_in, s_out, o, rep);
    } else if (t == "ReLU" || t == "ReLU6") {
      const auto [m, sh] = detail::multiplier(static_cast<double>(s_in) / s_out);
      l.mutable_int8_param()->add_multiplier(m);
      l.mutable_int8_param()->add_shift(sh);
    } else if (t == "Pooling" && l.pooling_param().pool() == ufw::PoolingParameter::AVE) {
      int64_t area = 1;
      const auto& pp = l.pooling_param();
      if (pp.global_pooling()) {
        const Shape& s = shapes.at(l.bottom(0));
        for (size_t k = 2; k < s.size(); ++k) area *= s[k];
      } else {
        const int64_t kh = pp.has_kernel_h() ? pp.kernel_h() : pp.kernel_size();
        const int64_t kw = pp.has_kernel_w() ? pp.kernel_w() : pp.kernel_size();
        area = std::max<int64_t>(1, kh) * std::max<int64_t>(1, kw);
      }
      for (int64_t d = 1; d <= area; ++d) {
        const auto [m, sh] = detail::multiplier(static_cast<double>(s_in) / (static_cast<double>(s_out) * d));
        l.mutable_int8_param()->add_multiplier(m);
        l.mutable_int8_param()->add_shift(sh);
      }
    } else if ((t == "Eltwise" && l.eltwise_param().operation() != ufw::EltwiseParameter::PROD) || t == "BinaryOp") {
      // One shared shift: the largest factor gets a Q31 multiplier, the others follow it.
      std::vector<double> real;
      for (int k = 0; k < l.bottom_size(); ++k) {
        const double coeff = t == "Eltwise" && l.eltwise_param().coeff_size() == l.bottom_size()
                                 ? l.eltwise_param().coeff(k)
                                 : 1.0;
        real.push_back(coeff * scale_of(l.bottom(k)) / s_out);
      }
      double big = 0;
      for (double r : real) big = std::max(big, std::fabs(r));
      const int sh = detail::multiplier(big).second;
      for (double r : real) {
        l.mutable_int8_param()->add_input_multiplier(static_cast<int32_t>(std::llround(std::ldexp(r, sh))));
        l.mutable_int8_param()->add_input_shift(sh);
      }
    } else if (t == "Eltwise") {  // PROD
      const auto [m, sh] =
          detail::multiplier(static_cast<double>(scale_of(l.bottom(0))) * scale_of(l.bottom(1)) / s_out);
      l.mutable_int8_param()->add_multiplier(m);
      l.mutable_int8_param()->add_shift(sh);
    } else if (t == "Concat") {
      for (const auto& b : l.bottom()) {
        const auto [m, sh] = detail::multiplier(static_cast<double>(scale_of(b)) / s_out);
        l.mutable_int8_param()->add_input_multiplier(m);
        l.mutable_int8_param()->add_input_shift(sh);
      }
    } else if (is_lut_op(t)) {
      const BlobDtype din = bq(l.bottom(0)).dtype(), dout = bq(l.top(0)).dtype();
      const bool in_signed = din != ufw::BlobProto::UINT8;
      std::function<double(double)> f;
      if (t == "Sigmoid") f = fixed::lut_fn::sigmoid;
      else if (t == "TanH") f = fixed::lut_fn::tanh;
      else if (t == "HardSwish") f = fixed::lut_fn::hardswish;
      else if (t == "HardSigmoid") {
        const double a = l.hard_sigmoid_param().alpha(), b = l.hard_sigmoid_param().beta();
        f = [a, b](double x) { return std::clamp(a * x + b, 0.0, 1.0); };
      } else if (t == "ELU") {
        const double a = l.elu_param().alpha();
        f = [a](double x) { return x > 0 ? x : a * (std::exp(x) - 1); };
      } else if (t == "Swish") {
        const double b = l.swish_param().beta();
        f = [b](double x) { return x / (1 + std::exp(-b * x)); };
      } else {  // Exp: base^(shift + scale x), base -1 = e
        const auto& ep = l.exp_param();
        const double lb = ep.base() == -1.0f ? 1.0 : std::log(ep.base()), sc = ep.scale(), sf = ep.shift();
        f = [=](double x) { return std::exp(lb * (sf + sc * x)); };
      }
      std::string lut(256, '\0');
      if (dout == ufw::BlobProto::UINT8) {
        const auto tab = fixed::build_lut<std::uint8_t>(s_in, in_signed, s_out, fixed::QRange::uint8, f);
        for (int i = 0; i < 256; ++i) lut[i] = static_cast<char>(tab[i]);
      } else {
        const auto tab = fixed::build_lut<std::int8_t>(s_in, in_signed, s_out, fixed::QRange::int8_sym, f);
        for (int i = 0; i < 256; ++i) lut[i] = static_cast<char>(tab[i]);
      }
      l.mutable_int8_param()->set_lut(lut);
    }
    if (l.has_int8_param())
      l.mutable_int8_param()->set_target(o.target == Target::BM1684 ? ufw::Int8Param::BM1684 : ufw::Int8Param::BM1684X);
  }
  return out;
}

// Weights file of an int8 net: every layer with its name, type, blobs, top_quant, int8_param
// and forward_with_float (the prototxt repeats the last three for reading).
inline std::string int8_weights_bytes(const ufw::NetParameter& net) {
  ufw::NetParameter w;
  w.set_name(net.name());
  for (const auto& l : net.layer()) {
    auto* d = w.add_layer();
    d->set_name(l.name());
    d->set_type(l.type());
    *d->mutable_blobs() = l.blobs();
    *d->mutable_top_quant() = l.top_quant();
    if (l.has_int8_param()) *d->mutable_int8_param() = l.int8_param();
    if (l.forward_with_float()) d->set_forward_with_float(true);
  }
  std::string out;
  if (!w.SerializeToString(&out)) throw ModelError("cannot serialize int8 weights for net " + net.name());
  return out;
}

}  // namespace octet::calib
