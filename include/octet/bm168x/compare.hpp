// Runs a compiled bmodel on the cmodel and compares every output with the int8 runtime
// (engine::Int8Net) on the same input: int8/uint8 outputs must be equal code for code, float
// outputs (-output_as_fp32) bit for bit. Also writes the reference-data files bmnetu -cmp
// leaves beside compilation.bmodel. Depends on bm168x/, engine/int8_net.hpp, core/.
#pragma once
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "octet/bm168x/bmodel.hpp"
#include "octet/bm168x/cmodel.hpp"
#include "octet/bm168x/lowering.hpp"
#include "octet/core/atomic_file.hpp"
#include "octet/engine/int8_net.hpp"

namespace octet::bm168x {

using Bytes = std::vector<std::uint8_t>;

// Loads coefficients and inputs into a fresh cmodel and runs every group.
inline std::unique_ptr<CModel> run_cmodel(const ModelDesc& m, const std::vector<Bytes>& inputs, Schedule sched = Schedule::GdmaFirst) {
  const NetDesc& n = m.nets.at(0);
  const Chip& chip = chip_by_name(m.chip);
  const std::uint64_t lo = n.coeff_addr, hi = std::max(n.ctx_addr + n.ctx_size, n.coeff_addr + n.coeff.size());
  auto cmp = std::make_unique<CModel>(chip, lo, hi - lo);
  CModel& cm = *cmp;
  if (!n.coeff.empty()) std::memcpy(cm.ddr(n.coeff_addr, n.coeff.size()), n.coeff.data(), n.coeff.size());
  if (inputs.size() != n.inputs.size()) throw UsageError(error_text("simulate", "expected " + std::to_string(n.inputs.size()) + " inputs"));
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].size() != n.inputs[i].size)
      throw UsageError(error_text("simulate", "input " + n.inputs[i].name, std::to_string(inputs[i].size()) + " bytes, expected " + std::to_string(n.inputs[i].size)));
    std::memcpy(cm.ddr(n.inputs[i].device_addr, inputs[i].size()), inputs[i].data(), inputs[i].size());
  }
  for (const auto& g : n.groups) cm.run_group(g, sched);
  return cmp;
}

// The outputs of one cmodel run.
inline std::vector<Bytes> simulate(const ModelDesc& m, const std::vector<Bytes>& inputs, Schedule sched = Schedule::GdmaFirst) {
  auto cm = run_cmodel(m, inputs, sched);
  std::vector<Bytes> out;
  for (const auto& t : m.nets.at(0).outputs) {
    const std::uint8_t* p = cm->ddr(t.device_addr, t.size);
    out.emplace_back(p, p + t.size);
  }
  return out;
}

// A reproducible reference input for a float tensor: uniform in +-1.2 x its threshold (some
// values saturate on purpose), or +-1 when none is recorded.
inline Tensor<float> reference_input(const Shape& s, float threshold, unsigned seed) {
  Tensor<float> t(s);
  std::mt19937 rng(seed);
  const float r = threshold > 0 ? 1.2f * threshold : 1.0f;
  std::uniform_real_distribution<float> d(-r, r);
  for (int64_t i = 0; i < t.size(); ++i) t[i] = d(rng);
  return t;
}

struct CompareResult {
  bool equal = true;
  std::vector<std::string> lines;  // one per output: name, elements, mismatches
  std::size_t blobs_compared = 0;
  std::vector<std::string> blob_mismatches;  // intermediate int8 blobs that differ
  std::vector<Bytes> inputs, outputs;
};

// Bytes of a float input as the bmodel stores it: int8/uint8 codes (quantised exactly like the
// runtime's set_input) or the floats themselves.
inline Bytes input_bytes(const BlobPlace& b, const Tensor<float>& x) {
  Bytes out;
  if (b.q.dtype == DType::F32) {
    out.resize(static_cast<std::size_t>(x.size()) * 4);
    std::memcpy(out.data(), x.data(), out.size());
    return out;
  }
  out.resize(static_cast<std::size_t>(x.size()));
  for (int64_t i = 0; i < x.size(); ++i)
    out[static_cast<std::size_t>(i)] = b.q.dtype == DType::U8 ? fixed::quantize_uint8(x[i], b.q.scale)
                                                              : static_cast<std::uint8_t>(fixed::quantize_int8(x[i], b.q.scale, b.q.range));
  return out;
}

inline CompareResult compare_with_runtime(const ufw::NetParameter& param, const Lowered& low, const LowerOptions& opt, unsigned seed = 1,
                                          bool both_schedules = true) {
  engine::Int8NetOptions no;
  no.input_shapes = opt.shapes;
  no.model_file = opt.model_file;
  engine::Int8Net net(param, no);
  CompareResult r;
  for (std::size_t i = 0; i < low.inputs.size(); ++i) {
    const auto& b = low.inputs[i];
    const auto x = reference_input(b.shape, b.q.threshold, seed + static_cast<unsigned>(i));
    net.set_input(b.name, x);
    r.inputs.push_back(input_bytes(b, x));
  }
  net.forward();
  auto cm = run_cmodel(low.model, r.inputs, Schedule::GdmaFirst);
  for (const auto& t : low.model.nets.at(0).outputs) {
    const std::uint8_t* p = cm->ddr(t.device_addr, t.size);
    r.outputs.emplace_back(p, p + t.size);
  }
  // Every int8 blob stays in DDR (no neuron memory reuse), so each layer is checked too.
  for (const auto& [name, b] : low.blobs) {
    if (!net.has_blob(name) || b.q.dtype == DType::F32) continue;
    const auto& rb = net.blob_raw(name);
    if (rb.dtype() == DType::F32 || static_cast<std::uint64_t>(rb.count()) != b.bytes) continue;
    const std::uint8_t* got = cm->ddr(b.addr, b.bytes);
    const std::uint8_t* want = rb.dtype() == DType::I8 ? reinterpret_cast<const std::uint8_t*>(rb.s8.data()) : rb.u8.data();
    ++r.blobs_compared;
    if (std::memcmp(got, want, b.bytes) != 0) r.blob_mismatches.push_back(name);
  }
  if (!r.blob_mismatches.empty()) {
    r.equal = false;
    r.lines.push_back("first differing blob: " + r.blob_mismatches.front() + " (" + std::to_string(r.blob_mismatches.size()) + " blobs differ)");
  }
  std::vector<Bytes> other;
  if (both_schedules) other = simulate(low.model, r.inputs, Schedule::TiuFirst);
  for (std::size_t i = 0; i < low.outputs.size(); ++i) {
    const auto& b = low.outputs[i];
    const auto& rb = net.blob_raw(b.name);
    Bytes want;
    if (b.q.dtype == DType::F32) {
      const auto f = net.blob_float(b.name);
      want.resize(static_cast<std::size_t>(f.size()) * 4);
      std::memcpy(want.data(), f.data(), want.size());
    } else if (rb.dtype() == DType::I8) {
      want.assign(reinterpret_cast<const std::uint8_t*>(rb.s8.data()), reinterpret_cast<const std::uint8_t*>(rb.s8.data()) + rb.count());
    } else {
      want.assign(rb.u8.data(), rb.u8.data() + rb.count());
    }
    std::size_t bad = 0;
    const Bytes& got = r.outputs[i];
    const std::size_t unit = b.q.dtype == DType::F32 ? 4 : 1;
    for (std::size_t k = 0; k < want.size() / unit; ++k)
      if (k * unit >= got.size() || std::memcmp(&want[k * unit], &got[k * unit], unit) != 0) ++bad;
    if (got.size() != want.size()) bad = std::max<std::size_t>(bad, 1);
    std::size_t sched_bad = 0;
    if (both_schedules && other[i] != got) ++sched_bad;
    r.lines.push_back(b.name + ": " + std::to_string(want.size() / unit) + " values, " + std::to_string(bad) + " differ from the int8 runtime" +
                      (sched_bad ? " (and the two cmodel schedules disagree: missing dependency)" : ""));
    if (bad || sched_bad) r.equal = false;
  }
  return r;
}

inline void write_ref_data(const std::string& dir, const CompareResult& r) {
  auto cat = [](const std::vector<Bytes>& v) {
    std::string s;
    for (const auto& b : v) s.append(reinterpret_cast<const char*>(b.data()), b.size());
    return s;
  };
  atomic_write(dir + "/input_ref_data.dat", cat(r.inputs));
  atomic_write(dir + "/output_ref_data.dat", cat(r.outputs));
}

}  // namespace octet::bm168x
