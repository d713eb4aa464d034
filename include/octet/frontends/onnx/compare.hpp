// on_to_umodel --cmp: runs the original ONNX graph in the independent reference interpreter and
// the converted umodel in the fp32 runtime on the same input, and compares every umodel blob
// that carries an ONNX tensor (max-abs-diff and cosine). A blob fails when its cosine is below
// `min_cosine` or its max-abs-diff exceeds `rel_tol` times the reference's max |value| (plus a
// tiny absolute floor for all-zero tensors).
// Depends on frontends/onnx/{reference,importer}.hpp and engine/net.hpp.
#pragma once
#include <cmath>
#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "octet/engine/layers/onnx_extra.hpp"
#include "octet/engine/net.hpp"
#include "octet/engine/registry.hpp"
#include "octet/frontends/onnx/importer.hpp"
#include "octet/frontends/onnx/reference.hpp"

namespace octet::frontends::onnx {

// The default registry plus the ONNX-only layers (when registry.hpp does not list them yet).
inline const engine::LayerRegistry& onnx_runtime_registry() {
  static const engine::LayerRegistry r = [] {
    engine::LayerRegistry x = engine::default_registry();
    if (!x.has("Gather")) engine::register_onnx_extra_layers(x);
    return x;
  }();
  return r;
}

struct BlobDiff {
  std::string blob;
  double max_abs_diff = 0, cosine = 1, max_ref = 0;
  bool ok = true;
  bool is_output = false;
};

inline BlobDiff diff_values(const std::string& name, const std::vector<double>& ref, const float* got, double rel_tol,
                            double min_cosine) {
  BlobDiff d;
  d.blob = name;
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double a = ref[i], b = got[i];
    d.max_abs_diff = std::max(d.max_abs_diff, std::abs(a - b));
    if (std::isnan(a) != std::isnan(b)) d.max_abs_diff = INFINITY;
    d.max_ref = std::max(d.max_ref, std::abs(a));
    dot += a * b;
    na += a * a;
    nb += b * b;
  }
  d.cosine = (na == 0 && nb == 0) ? 1.0 : (na == 0 || nb == 0) ? 0.0 : dot / std::sqrt(na * nb);
  d.ok = d.max_abs_diff <= rel_tol * d.max_ref + 1e-5 && (d.cosine >= min_cosine || d.max_abs_diff <= 1e-5);
  return d;
}

// The seeded input both sides see: xorshift32 uniform [-1, 1), the sequence the ONNX Runtime
// peer script (shared/bench/ort_bench.js) uses for the same seed.
inline std::vector<float> seeded_input(int64_t n, uint32_t seed = 1) {
  std::vector<float> v(static_cast<size_t>(n));
  uint32_t s = seed ? seed : 1;
  for (auto& x : v) {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    x = static_cast<float>(static_cast<double>(s) / 2147483648.0 - 1.0);
  }
  return v;
}

// Runs both sides on `inputs` (one per net input) and returns one diff per compared blob,
// net outputs first.
inline std::vector<BlobDiff> compare_with_reference(const pb::ModelProto& model, const ImportResult& r,
                                                    const std::vector<std::vector<float>>& inputs,
                                                    const engine::LayerRegistry& registry, double rel_tol = 1e-3,
                                                    double min_cosine = 0.9999) {
  std::map<std::string, Value> env;
  engine::Net net(r.net, registry);
  for (size_t k = 0; k < r.inputs.size(); ++k) {
    const Shape s = net.blob_shape(r.inputs[k]);
    Value v(s, pb::TensorProto::FLOAT);
    for (size_t i = 0; i < v.v.size(); ++i) v.v[i] = inputs.at(k).at(i);
    env[r.inputs[k]] = v;
    engine::FloatTensor t(s);
    std::copy(inputs[k].begin(), inputs[k].end(), t.data());
    net.set_input(r.inputs[k], t);
  }
  env = run_graph(model.graph(), model_opset(model), env);
  net.forward();
  std::vector<BlobDiff> out;
  std::set<std::string> done(r.inputs.begin(), r.inputs.end());
  auto compare = [&](const std::string& tensor, bool is_output) {
    auto b = r.blob_of.find(tensor);
    const std::string blob = b == r.blob_of.end() ? tensor : b->second;
    if (done.count(blob) || !net.has_blob(blob) || !env.count(tensor)) return;
    const Value& ref = env.at(tensor);
    const auto& got = net.blob(blob);
    done.insert(blob);
    BlobDiff d;
    if (static_cast<int64_t>(ref.v.size()) != got.size()) {
      d.blob = blob;
      d.ok = false;
      d.max_abs_diff = INFINITY;
      d.cosine = 0;
    } else {
      d = diff_values(blob, ref.v, got.data(), rel_tol, min_cosine);
    }
    d.is_output = is_output;
    out.push_back(d);
  };
  for (const auto& o : r.outputs) compare(o, true);
  for (const auto& n : model.graph().node())
    for (const auto& t : n.output())
      if (!t.empty() && !r.constants.count(t) && r.blob_of.count(t) && r.blob_of.at(t) == t) compare(t, false);
  return out;
}

}  // namespace octet::frontends::onnx
