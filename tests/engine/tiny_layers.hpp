// Tiny layers for testing the Net and the ufw commands independently of the real layer
// families. Header shared by tests/engine/test_*.cpp.
#pragma once
#include <catch2/catch.hpp>

#include "octet/engine/layer.hpp"

namespace octet::engine::testing {

// y = x + 1, safe in place.
struct AddOne : Layer {
  using Layer::Layer;
  std::vector<Shape> reshape(const std::vector<Shape>& b) override { return {b.at(0)}; }
  void forward(const std::vector<const FloatTensor*>& b, const std::vector<FloatTensor*>& t) override {
    for (int64_t i = 0; i < b[0]->size(); ++i) (*t[0])[i] = (*b[0])[i] + 1.f;
  }
  bool supports_in_place() const override { return true; }
};

// y[i] = x[n-1-i]: wrong if run in place, so it says it cannot be.
struct Reverse : Layer {
  using Layer::Layer;
  std::vector<Shape> reshape(const std::vector<Shape>& b) override { return {b.at(0)}; }
  void forward(const std::vector<const FloatTensor*>& b, const std::vector<FloatTensor*>& t) override {
    const int64_t n = b[0]->size();
    for (int64_t i = 0; i < n; ++i) (*t[0])[i] = (*b[0])[n - 1 - i];
  }
};

struct Sum : Layer {
  using Layer::Layer;
  std::vector<Shape> reshape(const std::vector<Shape>& b) override {
    for (const auto& s : b)
      if (s != b.at(0)) throw ShapeError("bottom shapes differ: " + shape_str(b[0]) + " vs " + shape_str(s));
    return {b.at(0)};
  }
  void forward(const std::vector<const FloatTensor*>& b, const std::vector<FloatTensor*>& t) override {
    for (int64_t i = 0; i < t[0]->size(); ++i) {
      float s = 0;
      for (const auto* x : b) s += (*x)[i];
      (*t[0])[i] = s;
    }
  }
};

// y = W x + b over the flattened trailing axes (Caffe InnerProduct layout).
struct Dense : Layer {
  using Layer::Layer;
  std::vector<Shape> reshape(const std::vector<Shape>& b) override {
    if (param().blobs_size() != 2) throw ModelError("needs 2 blobs");
    return {{b.at(0)[0], static_cast<int64_t>(param().inner_product_param().num_output())}};
  }
  void forward(const std::vector<const FloatTensor*>& b, const std::vector<FloatTensor*>& t) override {
    const auto& W = param().blobs(0);
    const auto& B = param().blobs(1);
    const int64_t n = t[0]->dim(0), o = t[0]->dim(1), k = b[0]->size() / n;
    for (int64_t r = 0; r < n; ++r)
      for (int64_t j = 0; j < o; ++j) {
        float s = B.data(static_cast<int>(j));
        for (int64_t i = 0; i < k; ++i) s += W.data(static_cast<int>(j * k + i)) * (*b[0])[r * k + i];
        (*t[0])[r * o + j] = s;
      }
  }
  int64_t flops(const std::vector<Shape>& b, const std::vector<Shape>& t) const override {
    return shape_count(b[0]) * t[0][1];
  }
};

// A data source: no bottoms, fills its top with the forward count.
struct Counter : Layer {
  using Layer::Layer;
  std::vector<Shape> reshape(const std::vector<Shape>& b) override {
    if (!b.empty()) throw ModelError("takes no bottoms");
    return {{2, 2}};
  }
  void forward(const std::vector<const FloatTensor*>& b, const std::vector<FloatTensor*>& t) override {
    CHECK(b.empty());
    ++n;
    t[0]->fill(static_cast<float>(n));
  }
  bool is_data_source() const override { return true; }
  int n = 0;
};

// Drops the last axis: an in-place use would change the blob's shape.
struct Squash : Layer {
  using Layer::Layer;
  std::vector<Shape> reshape(const std::vector<Shape>& b) override {
    Shape s = b.at(0);
    s.pop_back();
    return {s};
  }
  void forward(const std::vector<const FloatTensor*>&, const std::vector<FloatTensor*>&) override {}
};

inline const LayerRegistry& test_registry() {
  static const LayerRegistry r = [] {
    LayerRegistry x;
    x.add("AddOne", make<AddOne>);
    x.add("Reverse", make<Reverse>);
    x.add("Sum", make<Sum>);
    x.add("InnerProduct", make<Dense>);
    x.add("Counter", make<Counter>);
    x.add("Squash", make<Squash>);
    return x;
  }();
  return r;
}

}  // namespace octet::engine::testing
