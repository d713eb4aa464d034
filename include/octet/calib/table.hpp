// The TPU-MLIR calibration table (calibration-algorithms.md §8), written beside the int8 umodel
// for interop: '#' header lines, then "<blob> <threshold> <min> <max>" with single spaces and 7
// decimals. Blob names containing spaces are written with '_' (the format splits on spaces).
// Depends on calib/{assign,statistics}.hpp only.
#pragma once
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "octet/calib/assign.hpp"
#include "octet/calib/statistics.hpp"

namespace octet::calib {

inline std::string calibration_table(const Plan& plan, const std::vector<NamedStats>& stats, int binnum, int samples,
                                     const std::string& method) {
  (void)stats;
  char ts[64];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(ts, sizeof ts, "%Y/%m/%d %H:%M:%S", &tm);
  std::string out = std::string("# generated time: ") + ts + "\n";
  out += "# histogram number: " + std::to_string(binnum) + "\n";
  out += "# sample number: " + std::to_string(samples) + "\n";
  out += "# tune number: 0\n";
  out += "# quantization threshold calculation method: " + method + "\n";
  out += "###\n# op_name    threshold    min    max\n";
  char buf[96];
  for (const auto& name : plan.order) {
    const auto& b = plan.blobs.at(name);
    std::string n = name;
    for (auto& c : n)
      if (c == ' ' || c == '\t') c = '_';
    std::snprintf(buf, sizeof buf, " %.7f %.7f %.7f\n", static_cast<double>(b.threshold), b.min, b.max);
    out += n + buf;
  }
  return out;
}

}  // namespace octet::calib
