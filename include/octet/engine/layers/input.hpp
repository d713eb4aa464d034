// Caffe's "Input" layer: declares net inputs (input_param.shape: one per top, or one for all).
// The Net fills its tops from set_input, so forward does nothing. The Net creates Input layers
// itself (their shapes may be overridden at build time), so the default registry does not need
// them; register_input_layers is for custom registries that want the type listed.
// Depends on engine/layer.hpp only.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "octet/engine/layer.hpp"

namespace octet::engine {

class InputLayer : public Layer {
 public:
  explicit InputLayer(const ufw::LayerParameter& p) : Layer(p) {
    const int ns = p.input_param().shape_size();
    for (int t = 0; t < p.top_size(); ++t) {
      Shape s;
      if (ns > 0)
        for (auto d : p.input_param().shape(ns == 1 ? 0 : t).dim()) s.push_back(d);
      shapes_.push_back(std::move(s));
    }
  }

  // Replaces the declared shape of top `t` (the Net's reshape_input and shape overrides).
  void set_shape(size_t t, Shape s) { shapes_.at(t) = std::move(s); }
  const std::vector<Shape>& shapes() const { return shapes_; }

  std::vector<Shape> reshape(const std::vector<Shape>& bottoms) override {
    if (!bottoms.empty()) throw ModelError("Input layer takes no bottoms");
    for (size_t t = 0; t < shapes_.size(); ++t)
      if (shapes_[t].empty())
        throw ShapeError("input '" + param().top(static_cast<int>(t)) + "' has no shape (set input_param.shape)");
    return shapes_;
  }
  void forward(const std::vector<const FloatTensor*>&, const std::vector<FloatTensor*>&) override {}
  int64_t flops(const std::vector<Shape>&, const std::vector<Shape>&) const override { return 0; }

 private:
  std::vector<Shape> shapes_;
};

inline void register_input_layers(LayerRegistry& r) { r.add("Input", make<InputLayer>); }

}  // namespace octet::engine
