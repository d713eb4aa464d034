// Plain, slow reference for the KL family (KL, SYMKL, JSD), written from the definitions in
// docs/calibration-math.md: build P and Q bin by bin with real-valued group edges j*i/L (exact
// for L a power of two), then sum in ascending k. O(N^2 L): tests only.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "octet/calib/threshold.hpp"

namespace {
inline std::vector<double> ref_curve(octet::calib::ThMethod m, const std::vector<std::uint64_t>& h, int L, int start,
                              double eps = 1e-10) {
  const int N = static_cast<int>(h.size());
  std::vector<double> out;
  double S = 0;
  for (auto c : h) S += static_cast<double>(c);
  for (int i = std::max(start, L); i <= N; ++i) {
    std::vector<double> P(static_cast<std::size_t>(i)), Q(static_cast<std::size_t>(i), 0.0);
    double out_mass = 0;
    for (int k = i; k < N; ++k) out_mass += static_cast<double>(h[static_cast<std::size_t>(k)]);
    for (int k = 0; k < i; ++k) P[static_cast<std::size_t>(k)] = static_cast<double>(h[static_cast<std::size_t>(k)]);
    P[static_cast<std::size_t>(i - 1)] += out_mass;
    double SQ = 0;
    for (int k = 0; k < i; ++k) SQ += static_cast<double>(h[static_cast<std::size_t>(k)]);
    const double r = static_cast<double>(i) / L;
    for (int j = 0; j < L; ++j) {
      const double lo = j * r, hi = (j + 1) * r;
      double mass = 0, cnt = 0;
      for (int k = 0; k < i; ++k) {
        const double ov = std::max(0.0, std::min(k + 1.0, hi) - std::max(static_cast<double>(k), lo));
        mass += ov * static_cast<double>(h[static_cast<std::size_t>(k)]);
        cnt += ov * (P[static_cast<std::size_t>(k)] > 0 ? 1.0 : 0.0);
      }
      if (cnt == 0) continue;
      for (int k = 0; k < i; ++k) {
        const double ov = std::max(0.0, std::min(k + 1.0, hi) - std::max(static_cast<double>(k), lo));
        if (P[static_cast<std::size_t>(k)] > 0) Q[static_cast<std::size_t>(k)] += ov * mass / cnt;
      }
    }
    double d = 0;
    if (m == octet::calib::ThMethod::KL) {
      for (int k = 0; k < i; ++k) {
        const double p = P[static_cast<std::size_t>(k)] / S, q = Q[static_cast<std::size_t>(k)] / SQ;
        if (p > 0) d += q > 0 ? p * std::log(p / q) : std::numeric_limits<double>::infinity();
      }
    } else if (m == octet::calib::ThMethod::JSD) {
      for (int k = 0; k < i; ++k) {
        const double p = P[static_cast<std::size_t>(k)] / S, q = Q[static_cast<std::size_t>(k)] / SQ, mm = (p + q) / 2;
        if (p > 0) d += 0.5 * p * std::log(p / mm);
        if (q > 0) d += 0.5 * q * std::log(q / mm);
      }
    } else {  // SYMKL
      double zp = 0, zq = 0;
      for (int k = 0; k < i; ++k) {
        zp += P[static_cast<std::size_t>(k)] > 0 ? P[static_cast<std::size_t>(k)] / S : eps;
        zq += Q[static_cast<std::size_t>(k)] > 0 ? Q[static_cast<std::size_t>(k)] / SQ : eps;
      }
      for (int k = 0; k < i; ++k) {
        const double p = (P[static_cast<std::size_t>(k)] > 0 ? P[static_cast<std::size_t>(k)] / S : eps) / zp;
        const double q = (Q[static_cast<std::size_t>(k)] > 0 ? Q[static_cast<std::size_t>(k)] / SQ : eps) / zq;
        d += (p - q) * std::log(p / q);
      }
    }
    out.push_back(d);
  }
  return out;
}

}  // namespace
