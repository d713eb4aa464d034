// dump_tensor_data_use_pb: run a test net (Data layer) for N iterations and write every blob
// of every iteration to .npz, fp32 (CPU) or int8 (INT8_NEURON).
//   <dir>/<MODE>_iter<i>.npz        every blob as float32 (int8 blobs dequantised), key = blob name
//   <dir>/INT8_NEURON_iter<i>_raw.npz   INT8_NEURON only: the int8/uint8 codes of every blob the int8
//                                    net stores quantised, as float32 integers (exact), key = blob name
//   <dir>/INT8_NEURON_scales.txt     blob, dtype, threshold, scale (value = code · scale)
// NNTC leaves its dump format undocumented; these names are Octet's.
// INT8_NEURON runs on the int8 engine when built in, else on the fake-quant simulation
// (eval/simulate.hpp), whose codes are round(value / scale) of its on-grid values.
// Depends on core/, ir/, io/npy.hpp, eval/.
#pragma once
#include <cmath>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "octet/core/atomic_file.hpp"
#include "octet/core/error.hpp"
#include "octet/eval/compare_command.hpp"
#include "octet/io/npy.hpp"
#include "octet/ir/umodel.hpp"

namespace octet::eval {

struct DumpOptions {
  std::string model, weights;
  int iterations = 1;
  std::string mode;  // CPU | INT8_NEURON
  std::string output = "dump";
  std::string runtime = "auto";
};

inline int dump_tensors(const DumpOptions& o, std::ostream& out) {
  if (o.mode != "CPU" && o.mode != "INT8_NEURON")
    throw UsageError("dump_tensor_data_use_pb: mode '" + o.mode + "': expected CPU or INT8_NEURON");
  if (o.iterations < 1) throw UsageError("dump_tensor_data_use_pb: iterations must be >= 1");
  const ufw::NetParameter raw = ir::load_umodel(o.model, o.weights);
  const ufw::NetParameter p = strip_metric_layers(raw);
  const bool q = o.mode == "INT8_NEURON";
  std::string used = "fp32";
  std::unique_ptr<BlobSource> src = q ? int8_factory_for(o.runtime, &used)(p) : fp32_factory()(p);

  // Blobs in layer order, each once; and each quantised blob's BlobQuant.
  std::vector<std::string> blobs;
  std::map<std::string, ufw::BlobQuant> quant;
  for (const auto& l : p.layer()) {
    for (int t = 0; t < l.top_size(); ++t) {
      if (std::find(blobs.begin(), blobs.end(), l.top(t)) == blobs.end()) blobs.push_back(l.top(t));
      const bool int8_layer = !l.forward_with_float() && t < l.top_quant_size() && l.top_quant(t).dtype() != ufw::BlobProto::FP32;
      if (q && int8_layer && !is_source_type(l.type())) quant[l.top(t)] = l.top_quant(t);
    }
  }
  std::filesystem::create_directories(o.output);
  const std::string dir = o.output + "/";
  for (int it = 0; it < o.iterations; ++it) {
    src->forward();
    std::vector<std::pair<std::string, const Tensor<float>*>> arrays;
    for (const auto& b : blobs) arrays.emplace_back(b, &src->blob(b));
    char stem[64];
    std::snprintf(stem, sizeof stem, "%s_iter%04d", o.mode.c_str(), it);
    io::write_npz(dir + stem + ".npz", arrays);
    if (q) {
      std::vector<Tensor<float>> codes;
      codes.reserve(quant.size());
      std::vector<std::pair<std::string, const Tensor<float>*>> raw_arrays;
      for (const auto& [b, bq] : quant) {
        const auto& v = src->blob(b);
        const float s = blob_quant_scale(bq);
        Tensor<float> c(v.shape());
        for (int64_t k = 0; k < v.size(); ++k) c[k] = s > 0 ? static_cast<float>(std::lround(v[k] / s)) : 0.0f;
        codes.push_back(std::move(c));
      }
      size_t k = 0;
      for (const auto& [b, bq] : quant) raw_arrays.emplace_back(b, &codes[k++]);
      io::write_npz(dir + stem + "_raw.npz", raw_arrays);
    }
  }
  if (q) {
    std::string txt = "# blob dtype threshold scale  (value = code * scale)\n";
    for (const auto& [b, bq] : quant) {
      char line[256];
      std::snprintf(line, sizeof line, " %s %.9g %.9g\n", bq.dtype() == ufw::BlobProto::UINT8 ? "UINT8" : "INT8",
                    static_cast<double>(bq.threshold()), static_cast<double>(blob_quant_scale(bq)));
      txt += b + line;
    }
    atomic_write(dir + "INT8_NEURON_scales.txt", txt);
  }
  out << "wrote " << o.iterations << " x " << blobs.size() << " blobs to " << o.output << "/" << o.mode << "_iter*.npz"
      << (q ? " (+ _raw.npz codes of " + std::to_string(quant.size()) + " int8 blobs; int8 runtime: " + used + ")" : "")
      << "\n";
  return 0;
}

}  // namespace octet::eval
