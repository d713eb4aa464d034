// The runtime's layer contract and the registry keyed by Caffe type strings.
// A Layer is built from its LayerParameter (weights already merged into param.blobs()),
// infers its top shapes from bottom shapes once at Net build time (reshape), and computes
// tops from bottoms on every forward. Layers own no graph knowledge.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "octet/core/error.hpp"
#include "octet/core/tensor.hpp"
#include "octet/proto/umodel.pb.h"

namespace octet::engine {

using FloatTensor = Tensor<float>;

class Layer {
 public:
  explicit Layer(const ufw::LayerParameter& param) : param_(param) {}
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  const ufw::LayerParameter& param() const { return param_; }
  const std::string& name() const { return param_.name(); }
  const std::string& type() const { return param_.type(); }

  // Checks the bottoms and weights and returns the top shapes. Called once at build time
  // (and again only if input shapes change); may precompute packed weights or scratch sizes.
  // Throws ShapeError / ModelError with a message that need not repeat the layer name
  // (the Net prefixes "layer <name> (<type>)").
  virtual std::vector<Shape> reshape(const std::vector<Shape>& bottoms) = 0;

  // Computes tops. Top tensors are already sized to the shapes reshape returned. When a top
  // aliases a bottom (in-place, top == bottom in the prototxt), both pointers are the same.
  virtual void forward(const std::vector<const FloatTensor*>& bottoms,
                       const std::vector<FloatTensor*>& tops) = 0;

  // Whether forward is correct when tops[i] aliases bottoms[i]. Layers that read a bottom
  // after writing a top must return false; the Net then runs them out of place.
  virtual bool supports_in_place() const { return false; }

  // Multiply-accumulate-ish operation count of one forward, for `ufw info`.
  virtual int64_t flops(const std::vector<Shape>& bottoms, const std::vector<Shape>& tops) const {
    (void)bottoms;
    int64_t n = 0;
    for (const auto& t : tops) n += shape_count(t);
    return n;
  }

  // Whether the Net should treat this layer as a data source (no bottoms, tops filled by the
  // layer itself each forward, e.g. Data). Input layers return false: the user fills them.
  virtual bool is_data_source() const { return false; }

 private:
  ufw::LayerParameter param_;
};

using LayerFactory = std::function<std::unique_ptr<Layer>(const ufw::LayerParameter&)>;

class LayerRegistry {
 public:
  void add(const std::string& type, LayerFactory f) { factories_[type] = std::move(f); }
  bool has(const std::string& type) const { return factories_.count(type) != 0; }
  std::unique_ptr<Layer> create(const ufw::LayerParameter& p) const {
    auto it = factories_.find(p.type());
    if (it == factories_.end())
      throw UnsupportedError(error_text("layer " + p.name(), "unknown layer type '" + p.type() + "'"));
    return it->second(p);
  }
  std::vector<std::string> types() const {
    std::vector<std::string> out;
    for (const auto& kv : factories_) out.push_back(kv.first);
    return out;
  }

 private:
  std::map<std::string, LayerFactory> factories_;
};

// Convenience for registration functions: registry.add("ReLU", make<ReluLayer>).
template <typename L>
std::unique_ptr<Layer> make(const ufw::LayerParameter& p) {
  return std::make_unique<L>(p);
}

}  // namespace octet::engine
