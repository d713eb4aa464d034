// Parameterless pointwise maths (the "UnaryOp" layer): SQRT EXP LOG ABS NEG RECIPROCAL ERF
// FLOOR CEIL SQUARE SIN COS. y may alias x. reference:: uses std:: scalars; the default path
// uses Eigen's vectorised array functions where Eigen has them (erf stays scalar std::erf).
// Depends only on core/ and Eigen.
#pragma once
#include "octet/kernels/eigen_array.hpp"
#include <cmath>
#include <cstdint>

#include "octet/core/error.hpp"
#include "octet/kernels/activation.hpp"

namespace octet::kernels {

enum class UnaryOp { Sqrt, Exp, Log, Abs, Neg, Reciprocal, Erf, Floor, Ceil, Square, Sin, Cos };

namespace reference {
template <typename T>
void unary(UnaryOp op, int64_t n, const T* x, T* y) {
  auto run = [&](auto f) { map(n, x, y, f); };
  switch (op) {
    case UnaryOp::Sqrt: return run([](T v) { return std::sqrt(v); });
    case UnaryOp::Exp: return run([](T v) { return std::exp(v); });
    case UnaryOp::Log: return run([](T v) { return std::log(v); });
    case UnaryOp::Abs: return run([](T v) { return std::abs(v); });
    case UnaryOp::Neg: return run([](T v) { return -v; });
    case UnaryOp::Reciprocal: return run([](T v) { return T(1) / v; });
    case UnaryOp::Erf: return run([](T v) { return std::erf(v); });
    case UnaryOp::Floor: return run([](T v) { return std::floor(v); });
    case UnaryOp::Ceil: return run([](T v) { return std::ceil(v); });
    case UnaryOp::Square: return run([](T v) { return v * v; });
    case UnaryOp::Sin: return run([](T v) { return std::sin(v); });
    case UnaryOp::Cos: return run([](T v) { return std::cos(v); });
  }
  throw UnsupportedError("unknown unary op");
}
}  // namespace reference

template <typename T>
void unary(UnaryOp op, int64_t n, const T* x, T* y) {
  switch (op) {
    case UnaryOp::Sqrt: return map_array(n, x, y, [](const auto& a) { return a.sqrt(); });
    case UnaryOp::Exp: return map_array(n, x, y, [](const auto& a) { return a.exp(); });
    case UnaryOp::Log: return map_array(n, x, y, [](const auto& a) { return a.log(); });
    case UnaryOp::Abs: return map_array(n, x, y, [](const auto& a) { return a.abs(); });
    case UnaryOp::Neg: return map_array(n, x, y, [](const auto& a) { return -a; });
    case UnaryOp::Reciprocal: return map_array(n, x, y, [](const auto& a) { return a.inverse(); });
    case UnaryOp::Erf:
      return for_blocks(n, [&](int64_t s, int64_t e) {
        for (int64_t i = s; i < e; ++i) y[i] = std::erf(x[i]);
      });
    case UnaryOp::Floor: return map_array(n, x, y, [](const auto& a) { return a.floor(); });
    case UnaryOp::Ceil: return map_array(n, x, y, [](const auto& a) { return a.ceil(); });
    case UnaryOp::Square: return map_array(n, x, y, [](const auto& a) { return a.square(); });
    case UnaryOp::Sin: return map_array(n, x, y, [](const auto& a) { return a.sin(); });
    case UnaryOp::Cos: return map_array(n, x, y, [](const auto& a) { return a.cos(); });
  }
  throw UnsupportedError("unknown unary op");
}

}  // namespace octet::kernels
