// A synthetic comparison report for the report/JSON/HTML tests: five layers where "conv2"
// has a small own error but everything after it inherits it, "conv3" is the layer that breaks
// (threshold clips), "dead" is an all-zero fp32 blob and "prob" runs in float.
#pragma once
#include <cmath>
#include <vector>

#include "octet/eval/report.hpp"

namespace octet::eval::testing {

inline LayerReport synth_layer(int depth, const std::string& name, const std::string& type, double noise, double clip,
                               bool zero = false) {
  LayerReport L;
  L.depth = depth;
  L.layer = name;
  L.type = type;
  L.blob = name;
  L.dtype = "INT8";
  std::vector<float> ref(512), test(512);
  for (size_t i = 0; i < ref.size(); ++i) {
    const double x = zero ? 0.0 : std::sin(0.37 * static_cast<double>(i) + depth) * 3.0;
    ref[i] = static_cast<float>(x);
    double y = x + noise * std::cos(1.7 * static_cast<double>(i));
    if (clip > 0) y = std::max(-clip, std::min(clip, y));
    test[i] = static_cast<float>(y);
  }
  L.threshold = clip > 0 ? clip : 3.0;
  L.acc.add(ref, test);
  L.own = PairStats{};
  L.own->add(ref, test);
  L.saturated = count_saturated(ref, *L.threshold);
  L.total = static_cast<int64_t>(ref.size());
  L.hist.init(-3.2, 3.2, 32);
  L.hist.add(ref);
  for (size_t i = 0; i < ref.size(); i += 8) L.scatter.push_back({ref[i], test[i]});
  return L;
}

inline Report synthetic_report() {
  Report r;
  r.fp32_model = "net_test_fp32_unique_top.prototxt";
  r.fp32_weights = "net.fp32umodel";
  r.int8_model = "net_test_int8_unique_top.prototxt";
  r.int8_weights = "net.int8umodel";
  r.iterations = 4;
  r.cos_bar = 0.99;
  r.own_measured = true;
  r.layers.push_back(synth_layer(0, "conv1", "Convolution", 0.01, 0));
  r.layers.push_back(synth_layer(1, "conv2", "Convolution", 0.05, 0));
  r.layers.push_back(synth_layer(2, "conv3", "Convolution", 0.05, 1.0));
  r.layers.push_back(synth_layer(3, "dead", "ReLU", 0.0, 0, true));
  r.layers.push_back(synth_layer(4, "prob", "Softmax", 0.3, 0));
  r.layers[4].runs_int8 = false;
  r.layers[4].dtype = "FP32";
  // conv2 inherits nothing, conv3's own error is the clip; the output inherits conv3's error.
  r.layers[4].own.reset();
  r.output_blob = "prob";
  r.output_cos = r.layers[4].acc.cosine();
  r.accuracy = AccuracySummary{"prob", 100, 91, 99, 62, 95};
  SearchReport s;
  s.output_blob = "prob";
  s.max_layers = 2;
  s.target_cos = 0.99;
  s.base_cos = 0.93;
  s.steps = {{"conv3", 0.995}};
  s.reached = true;
  r.search = s;
  r.notes.push_back("synthetic data <for tests> & \"quotes\"");
  finalize(r);
  return r;
}

}  // namespace octet::eval::testing
