// Per-blob agreement of an int8 net with its fp32 net on one input: the int8 deploy net runs
// on the fp32 net's current input blobs, and every blob both have is compared by cosine
// similarity of the dequantised int8 values with the fp32 values (1 = same direction; two
// all-zero blobs count as 1). Used for the calibration summary's cosine column.
// Depends on engine/net.hpp and engine/int8_net.hpp; never on tools.
#pragma once
#include <cmath>
#include <map>
#include <string>

#include "octet/engine/int8_net.hpp"
#include "octet/engine/net.hpp"

namespace octet::calib {

inline double cosine_similarity(const float* a, const float* b, int64_t n) {
  double ab = 0, aa = 0, bb = 0;
  for (int64_t i = 0; i < n; ++i) {
    ab += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
  }
  if (aa == 0 && bb == 0) return 1.0;
  if (aa == 0 || bb == 0) return 0.0;
  return ab / std::sqrt(aa * bb);
}

inline std::map<std::string, double> int8_cosine(const ufw::NetParameter& int8_deploy, const engine::Net& fp32) {
  engine::Int8Net q(int8_deploy);
  for (const auto& in : q.input_names()) q.set_input(in, fp32.blob(in));
  q.forward();
  std::map<std::string, double> out;
  for (const auto& b : q.blob_names()) {
    if (!fp32.has_blob(b) || fp32.blob_shape(b) != q.blob_shape(b)) continue;
    const auto t = q.blob_float(b);
    out[b] = cosine_similarity(t.data(), fp32.blob(b).data(), t.size());
  }
  return out;
}

}  // namespace octet::calib
