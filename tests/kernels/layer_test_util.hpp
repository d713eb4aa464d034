// Shared by the elementwise and shape layer tests: one registry with both layer families, a
// layer built from its text-format LayerParameter, and a reshape + out-of-place forward.
// Test-only; depends on tests/test_util.hpp, engine/registry.hpp and the two layer families.
#pragma once
#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "../test_util.hpp"
#include "octet/engine/layers/elementwise.hpp"
#include "octet/engine/layers/shape.hpp"
#include "octet/engine/registry.hpp"

namespace octet::test {

inline const engine::LayerRegistry& registry() {
  static const engine::LayerRegistry r = [] {
    engine::LayerRegistry x;
    engine::register_elementwise_layers(x);
    engine::register_shape_layers(x);
    return x;
  }();
  return r;
}

inline std::unique_ptr<engine::Layer> make_layer(const std::string& text) {
  return registry().create(parse_layer(text));
}

// Builds the layer, reshapes it on the bottoms' shapes and runs one forward out of place into
// tops pre-filled with `top_fill` (a value no layer writes shows untouched elements).
inline std::vector<engine::FloatTensor> run_layer(const std::string& text,
                                                  const std::vector<engine::FloatTensor>& bottoms,
                                                  float top_fill = 0.f) {
  auto layer = make_layer(text);
  std::vector<Shape> shapes;
  for (const auto& b : bottoms) shapes.push_back(b.shape());
  const auto tshapes = layer->reshape(shapes);
  std::vector<engine::FloatTensor> tops;
  for (const auto& s : tshapes) tops.emplace_back(s, top_fill);
  std::vector<const engine::FloatTensor*> bp;
  std::vector<engine::FloatTensor*> tp;
  for (const auto& b : bottoms) bp.push_back(&b);
  for (auto& t : tops) tp.push_back(&t);
  layer->forward(bp, tp);
  return tops;
}

inline engine::FloatTensor tensor(Shape s, std::vector<float> v) {
  engine::FloatTensor t(std::move(s));
  REQUIRE(static_cast<size_t>(t.size()) == v.size());
  std::copy(v.begin(), v.end(), t.data());
  return t;
}

inline std::vector<float> values(const engine::FloatTensor& t) { return {t.data(), t.data() + t.size()}; }

}  // namespace octet::test
