// The default layer registry: every layer family registers its Caffe type strings here.
// Each family lives in engine/layers/<family>.hpp and exposes register_<family>_layers().
#pragma once
#include "octet/engine/layer.hpp"
// Layer families (one include + one call each, keep both lists in the same order):
#include "octet/engine/layers/data.hpp"
#include "octet/engine/layers/spatial.hpp"
#include "octet/engine/layers/elementwise.hpp"
#include "octet/engine/layers/shape.hpp"
#include "octet/engine/layers/onnx_extra.hpp"

namespace octet::engine {

inline const LayerRegistry& default_registry() {
  static const LayerRegistry registry = [] {
    LayerRegistry r;
    register_data_layers(r);
    register_spatial_layers(r);
    register_elementwise_layers(r);
    register_shape_layers(r);
    register_onnx_extra_layers(r);
    return r;
  }();
  return registry;
}

}  // namespace octet::engine
