// Helpers for the int8 runtime tests: hand-built int8 umodels (prototxt text for topology,
// weights quantised in code with calib/weights.hpp and multipliers from fixed/requant.hpp) and
// plain reference arithmetic written with the fixed/ primitives only.
#pragma once
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "octet/calib/weights.hpp"
#include "octet/engine/int8_net.hpp"
#include "octet/fixed/fixed.hpp"
#include "octet/ir/blob.hpp"
#include "octet/ir/umodel.hpp"

namespace octet::int8_test {

inline std::vector<float> random_floats(size_t n, float lo, float hi, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

inline Tensor<float> random_tensor(const Shape& s, float lo, float hi, unsigned seed) {
  Tensor<float> t(s);
  const auto v = random_floats(static_cast<size_t>(t.size()), lo, hi, seed);
  std::copy(v.begin(), v.end(), t.data());
  return t;
}

inline ufw::LayerParameter& layer(ufw::NetParameter& net, const std::string& name) {
  for (auto& l : *net.mutable_layer())
    if (l.name() == name) return l;
  FAIL("no layer " << name);
  throw 0;
}

// What the weight export produced, for the test's own reference arithmetic.
struct QuantWeights {
  std::vector<std::int8_t> w;
  std::vector<std::int32_t> bias;      // empty: no bias
  std::vector<std::int32_t> mult, shift;  // per channel (or one)
  std::vector<float> w_scale;
};

// Fills blobs[0] (INT8, per channel) and blobs[1] (INT32) and int8_param of a Conv / FC layer
// from float weights with `channels` output channels (rows of w), as docs/int8-umodel.md says.
inline QuantWeights set_int8_weights(ufw::LayerParameter& l, const std::vector<float>& w, const Shape& ws,
                                     const std::vector<float>& bias, size_t channels, float s_in, float s_out,
                                     bool per_channel = true) {
  QuantWeights r;
  const auto wq = per_channel ? calib::quantize_weights_per_channel(w, channels) : calib::quantize_weights_per_tensor(w);
  r.w = wq.q;
  r.w_scale = wq.scale;
  l.clear_blobs();
  auto* b0 = l.add_blobs();
  ir::set_blob_shape(*b0, ws);
  b0->set_dtype(ufw::BlobProto::INT8);
  b0->set_int8_data(std::string(reinterpret_cast<const char*>(wq.q.data()), wq.q.size()));
  if (per_channel) {
    b0->set_per_channel_en(true);
    for (float s : wq.scale) b0->add_scaletofloatperchannel(s);
  } else {
    b0->set_scaletofloat(wq.scale[0]);
  }
  if (!bias.empty()) {
    const auto bq = calib::quantize_bias(bias, s_in, wq.scale);
    r.bias = bq.q;
    auto* b1 = l.add_blobs();
    ir::set_blob_shape(*b1, {static_cast<int64_t>(bias.size())});
    b1->set_dtype(ufw::BlobProto::INT32);
    for (auto v : bq.q) b1->add_int32_data(v);
  }
  auto* ip = l.mutable_int8_param();
  ip->clear_multiplier();
  ip->clear_shift();
  for (float sw : wq.scale) {
    const auto m = fixed::quantize_multiplier(static_cast<double>(s_in) * sw / s_out);
    ip->add_multiplier(m.multiplier);
    ip->add_shift(m.shift);
    r.mult.push_back(m.multiplier);
    r.shift.push_back(m.shift);
  }
  return r;
}

inline float scale_of(float threshold, bool u8) { return fixed::scale_from_threshold(threshold, u8 ? fixed::QRange::uint8 : fixed::QRange::int8_sym); }

// Codes of a float tensor as the runtime quantises its input.
inline std::vector<int> quantize_all(const Tensor<float>& t, float scale, bool u8) {
  std::vector<int> q(static_cast<size_t>(t.size()));
  for (size_t i = 0; i < q.size(); ++i)
    q[i] = fixed::quantize_value(t[static_cast<int64_t>(i)], scale, u8 ? fixed::QRange::uint8 : fixed::QRange::int8_sym);
  return q;
}

// The runtime's stored codes of a blob as ints.
inline std::vector<int> codes(const engine::Int8Net& net, const std::string& blob) {
  const auto& b = net.blob_raw(blob);
  std::vector<int> q(static_cast<size_t>(b.count()));
  for (size_t i = 0; i < q.size(); ++i)
    q[i] = b.dtype() == DType::I8 ? b.s8[static_cast<int64_t>(i)] : b.u8[static_cast<int64_t>(i)];
  return q;
}

inline int requant(std::int64_t acc, std::int32_t m, int sh, bool u8) {
  const auto v = fixed::multiply_by_quantized_multiplier(fixed::saturate_int32(acc), m, sh);
  return u8 ? fixed::clamp_to(v, 0, 255) : fixed::clamp_to(v, -127, 127);
}

inline double cosine(const Tensor<float>& a, const Tensor<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (int64_t i = 0; i < a.size(); ++i) ab += double(a[i]) * b[i], aa += double(a[i]) * a[i], bb += double(b[i]) * b[i];
  return ab / std::sqrt(aa * bb);
}

}  // namespace octet::int8_test
