// Fake-quantised simulation of an int8 umodel on the fp32 runtime: every tensor stored INT8/UINT8
// (written by an int8 layer, or by a float layer whose top_quant keeps an int8 dtype) is rounded
// to its BlobQuant grid (q = clamp(round(x/s)), value q·s, via
// fixed/quantize.hpp), an int8 layer's float-produced inputs are quantised at the border with
// the producer's BlobQuant (as the int8 runtime does), and int8 weights are dequantised
// (int8_data · scaleToFloat[PerChannel], int32 bias · s_in · s_w). fp32 weights of a layer that
// runs int8 are fake-quantised symmetric max-abs (per channel when per_channel_en is set).
//
// What it does not model: integer requantisation rounding (multiplier/shift), LUT activations,
// BM1684 power-of-two shifts. It is the stand-in the comparison uses when no int8 runtime is
// built, and the test double for compare.hpp; its numbers are close to, not equal to, the
// int8 engine's.
//
// Depends on engine/net.hpp, fixed/quantize.hpp, eval/compare.hpp.
#pragma once
#include <cmath>
#include <map>
#include <memory>
#include <string>

#include "octet/engine/net.hpp"
#include "octet/engine/registry.hpp"
#include "octet/eval/compare.hpp"
#include "octet/eval/int8_weights.hpp"
#include "octet/fixed/quantize.hpp"

namespace octet::eval {

// Quantise-dequantise with the BlobQuant in the layer's top_quant(0).
class FakeQuantLayer : public engine::Layer {
 public:
  explicit FakeQuantLayer(const ufw::LayerParameter& p) : Layer(p) {
    if (p.top_quant_size() < 1) throw ModelError(error_text("layer " + p.name(), "fake-quant layer without top_quant"));
    scale_ = blob_quant_scale(p.top_quant(0));
    range_ = p.top_quant(0).dtype() == ufw::BlobProto::UINT8 ? fixed::QRange::uint8 : fixed::QRange::int8_sym;
  }
  std::vector<Shape> reshape(const std::vector<Shape>& b) override { return {b.at(0)}; }
  bool supports_in_place() const override { return true; }
  void forward(const std::vector<const FloatTensor*>& b, const std::vector<FloatTensor*>& t) override {
    const float* x = b[0]->data();
    float* y = t[0]->data();
    const int64_t n = b[0]->size();
    if (!(scale_ > 0)) {
      for (int64_t i = 0; i < n; ++i) y[i] = 0;
      return;
    }
    for (int64_t i = 0; i < n; ++i) y[i] = fixed::dequantize(fixed::quantize_value(x[i], scale_, range_), scale_);
  }

 private:
  float scale_ = 1;
  fixed::QRange range_ = fixed::QRange::int8_sym;
};

inline const engine::LayerRegistry& simulation_registry() {
  static const engine::LayerRegistry r = [] {
    engine::LayerRegistry x = engine::default_registry();
    x.add("OctetFakeQuant", engine::make<FakeQuantLayer>);
    return x;
  }();
  return r;
}

namespace detail {
inline bool layer_runs_int8(const ufw::LayerParameter& l) {
  return !is_source_type(l.type()) && !l.forward_with_float() &&
         !(l.top_quant_size() > 0 && l.top_quant(0).dtype() == ufw::BlobProto::FP32);
}

inline ufw::LayerParameter fake_quant_layer(const std::string& name, const std::string& bottom, const std::string& top,
                                            const ufw::BlobQuant& q) {
  ufw::LayerParameter f;
  f.set_name(name);
  f.set_type("OctetFakeQuant");
  f.add_bottom(bottom);
  f.add_top(top);
  *f.add_top_quant() = q;
  return f;
}
}  // namespace detail

// The simulated net's parameter (see the header comment); blob names of the original net keep
// their meaning (the quantised value), helper blobs carry an '@' in their names.
inline ufw::NetParameter simulation_param(const ufw::NetParameter& int8) {
  ufw::NetParameter in = ir::filter_phase(int8, ufw::TEST);
  ufw::NetParameter out = in;
  out.clear_layer();
  std::map<std::string, std::pair<const ufw::LayerParameter*, int>> producer;  // blob -> (layer, top index)
  // A top is stored on its grid when its BlobQuant says INT8/UINT8, whether the layer computes
  // in int8 or in float (a float layer writing an int8 top is quantised on output).
  auto on_grid = [](const ufw::LayerParameter& l, int t) {
    return !is_source_type(l.type()) && t < l.top_quant_size() && l.top_quant(t).dtype() != ufw::BlobProto::FP32;
  };
  for (const auto& l : in.layer()) {
    ufw::LayerParameter copy = l;
    if (detail::layer_runs_int8(l)) {
      float s_in = 1;
      for (int b = 0; b < copy.bottom_size(); ++b) {
        auto it = producer.find(copy.bottom(b));
        if (it == producer.end()) continue;
        const auto& [pl, ti] = it->second;
        if (ti >= pl->top_quant_size()) continue;
        if (b == 0) s_in = blob_quant_scale(pl->top_quant(ti));
        if (on_grid(*pl, ti)) continue;  // already on the grid
        const std::string qb = copy.bottom(b) + "@q:" + l.name();
        *out.add_layer() = detail::fake_quant_layer(l.name() + "@in" + std::to_string(b), copy.bottom(b), qb, pl->top_quant(ti));
        copy.set_bottom(b, qb);
      }
      if (is_compute_type(l.type()) && !dequantize_int8_weights(copy, s_in) && copy.blobs_size() > 0)
        fake_quant_weights(*copy.mutable_blobs(0));
    }
    std::vector<int> grid_tops;
    for (int t = 0; t < copy.top_size(); ++t)
      if (on_grid(l, t)) {
        grid_tops.push_back(t);
        copy.set_top(t, l.top(t) + "@raw");
      }
    copy.clear_top_quant();
    copy.clear_int8_param();
    *out.add_layer() = copy;
    for (int t : grid_tops)
      *out.add_layer() = detail::fake_quant_layer(l.name() + "@q" + std::to_string(t), l.top(t) + "@raw", l.top(t), l.top_quant(t));
    for (int t = 0; t < l.top_size(); ++t) producer[l.top(t)] = {&l, t};
  }
  return out;
}

class SimulatedInt8Source : public BlobSource {
 public:
  explicit SimulatedInt8Source(const ufw::NetParameter& int8, Feeder feed = {})
      : net_(simulation_param(int8), opts()), feed_(std::move(feed)) {}
  void forward() override {
    if (feed_) feed_(net_, record_++);
    net_.forward();
  }
  const FloatTensor& blob(const std::string& name) override { return net_.blob(name); }

 private:
  static engine::NetOptions opts() {
    engine::NetOptions o;
    o.registry = &simulation_registry();
    return o;
  }
  engine::Net net_;
  Feeder feed_;
  int64_t record_ = 0;
};

inline NetFactory fp32_factory(Feeder feed = {}) {
  return [feed](const ufw::NetParameter& p) { return std::make_unique<Fp32Source>(p, engine::NetOptions{}, feed); };
}
inline NetFactory simulated_int8_factory(Feeder feed = {}) {
  return [feed](const ufw::NetParameter& p) { return std::make_unique<SimulatedInt8Source>(p, feed); };
}

}  // namespace octet::eval
