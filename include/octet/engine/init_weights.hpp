// Seeded random weights for a prototxt, for tests, examples and benchmarks of nets that have
// no trained weights (`ufw init_weights`). Shapes come from shape inference through the Net,
// so every weighted Caffe layer (ir::expected_param_shapes) gets blobs of the right shape:
// He-uniform weights, small biases, BatchNorm with positive variance and factor 1, Scale near 1.
// Depends on engine/net.hpp.
#pragma once
#include <cmath>
#include <cstdint>
#include <random>

#include "octet/engine/net.hpp"
#include "octet/ir/blob.hpp"
#include "octet/ir/umodel.hpp"

namespace octet::engine {

namespace detail {
class Uniform {
 public:
  explicit Uniform(uint64_t seed) : gen_(seed) {}
  // Fixed mapping from the 64-bit stream, so values do not depend on the standard library.
  float operator()(float lo, float hi) {
    const double u = static_cast<double>(gen_() >> 11) * 0x1.0p-53;
    return static_cast<float>(lo + (hi - lo) * u);
  }

 private:
  std::mt19937_64 gen_;
};

inline void fill_blob(ufw::BlobProto& b, const Shape& s, Uniform& rnd, float lo, float hi) {
  ir::set_blob_shape(b, s);
  b.clear_data();
  const int64_t n = shape_count(s);
  b.mutable_data()->Reserve(static_cast<int>(n));
  for (int64_t i = 0; i < n; ++i) b.add_data(rnd(lo, hi));
}

inline void fill_layer(ufw::LayerParameter& p, const std::vector<Shape>& shapes, Uniform& rnd) {
  const std::string& t = p.type();
  p.clear_blobs();
  for (size_t j = 0; j < shapes.size(); ++j) {
    const Shape& s = shapes[j];
    auto& b = *p.add_blobs();
    if (t == "BatchNorm") {
      if (j == 0) fill_blob(b, s, rnd, -0.2f, 0.2f);       // mean
      else if (j == 1) fill_blob(b, s, rnd, 0.5f, 1.5f);   // variance > 0
      else fill_blob(b, s, rnd, 1.f, 1.f);                 // moving-average factor
    } else if (t == "Scale") {
      if (j == 0 && p.bottom_size() < 2) fill_blob(b, s, rnd, 0.5f, 1.5f);
      else fill_blob(b, s, rnd, -0.2f, 0.2f);
    } else if (t == "PReLU") {
      fill_blob(b, s, rnd, 0.1f, 0.3f);
    } else if (j == 0 && s.size() >= 2) {
      const bool transposed = t == "InnerProduct" && p.inner_product_param().transpose();
      const int64_t fan_in = transposed ? s[0] : shape_count(s) / std::max<int64_t>(1, s[0]);
      const float a = std::sqrt(6.f / static_cast<float>(std::max<int64_t>(1, fan_in)));
      fill_blob(b, s, rnd, -a, a);
    } else {
      fill_blob(b, s, rnd, -0.1f, 0.1f);
    }
  }
}
}  // namespace detail

// Returns `net` with every weighted layer that has no blobs filled with seeded random values
// (layers of the phase-filtered net; layers of other phases are left as they are).
inline ufw::NetParameter init_random_weights(const ufw::NetParameter& net, uint64_t seed = 1, NetOptions opts = {}) {
  detail::Uniform rnd(seed);
  auto previous = opts.prepare_layer;
  opts.prepare_layer = [&](ufw::LayerParameter& p, const std::vector<Shape>& bottoms) {
    if (previous) previous(p, bottoms);
    if (p.blobs_size() != 0) return;
    if (auto want = ir::expected_param_shapes(p, bottoms)) detail::fill_layer(p, *want, rnd);
  };
  Net built(net, opts);
  ufw::NetParameter out = net;
  ir::merge_weights(out, built.net_param(), "<random weights>");
  return out;
}

}  // namespace octet::engine
