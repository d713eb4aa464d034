// Int8 umodel weights and blob scales as floats, shared by the comparison (float variants of
// int8 layers) and the fake-quant simulation: BlobQuant scale, int8 weight / int32 bias
// dequantisation (docs/int8-umodel.md), symmetric max-abs fake quantisation of fp32 weights.
// Depends on ir/blob.hpp, fixed/quantize.hpp and the generated proto only.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "octet/fixed/quantize.hpp"
#include "octet/ir/blob.hpp"
#include "octet/proto/umodel.pb.h"

namespace octet::eval {

inline float blob_quant_scale(const ufw::BlobQuant& q) {
  if (q.has_scale() && q.scale() > 0) return q.scale();
  return q.threshold() / (q.dtype() == ufw::BlobProto::UINT8 ? 255.0f : 127.0f);
}

inline void fake_quant_weights(ufw::BlobProto& w) {
  if (w.data_size() == 0) return;
  const Shape s = ir::blob_shape(w);
  const int64_t ch = w.per_channel_en() && !s.empty() ? s[0] : 1;
  const int64_t per = w.data_size() / std::max<int64_t>(1, ch);
  for (int64_t c = 0; c < ch; ++c) {
    double m = 0;
    for (int64_t k = 0; k < per; ++k) m = std::max(m, std::abs(static_cast<double>(w.data(static_cast<int>(c * per + k)))));
    if (m <= 0) continue;
    const float sc = static_cast<float>(m / 127.0);
    for (int64_t k = 0; k < per; ++k) {
      const int idx = static_cast<int>(c * per + k);
      w.set_data(idx, fixed::dequantize(fixed::quantize_value(w.data(idx), sc), sc));
    }
  }
}

// int8_data (· scaleToFloat[PerChannel]) and int32 bias (· s_in · s_w) to float data; false
// when the layer's weights are not int8 (left unchanged).
inline bool dequantize_int8_weights(ufw::LayerParameter& l, float s_in) {
  if (l.blobs_size() == 0) return false;
  auto& w = *l.mutable_blobs(0);
  std::vector<float> wscale;
  if (w.dtype() == ufw::BlobProto::INT8 && !w.int8_data().empty()) {
    const std::string& q = w.int8_data();
    const int64_t n = static_cast<int64_t>(q.size());
    const int64_t ch = w.per_channel_en() ? w.scaletofloatperchannel_size() : 1;
    const int64_t per = n / std::max<int64_t>(1, ch);
    for (int64_t c = 0; c < ch; ++c) wscale.push_back(w.per_channel_en() ? w.scaletofloatperchannel(static_cast<int>(c)) : w.scaletofloat());
    w.clear_data();
    for (int64_t i = 0; i < n; ++i)
      w.add_data(static_cast<float>(static_cast<int8_t>(q[static_cast<size_t>(i)])) * wscale[static_cast<size_t>(std::min(ch - 1, i / std::max<int64_t>(1, per)))]);
    w.clear_int8_data();
    w.set_dtype(ufw::BlobProto::FP32);
  } else {
    return false;
  }
  if (l.blobs_size() > 1) {
    auto& b = *l.mutable_blobs(1);
    if (b.dtype() == ufw::BlobProto::INT32 && b.int32_data_size() > 0) {
      std::vector<int32_t> q(b.int32_data().begin(), b.int32_data().end());
      b.clear_data();
      const size_t ch = wscale.size();
      for (size_t i = 0; i < q.size(); ++i)
        b.add_data(static_cast<float>(static_cast<double>(q[i]) * s_in * wscale[ch == 1 ? 0 : std::min(i, ch - 1)]));
      b.clear_int32_data();
      b.set_dtype(ufw::BlobProto::FP32);
    }
  }
  return true;
}

}  // namespace octet::eval
