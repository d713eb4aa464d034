// Elementwise kernels over several inputs: Caffe Eltwise (N same-shape inputs, SUM with
// per-input coefficients, PROD, MAX) and numpy-broadcasting binary ops (ADD SUB MUL DIV POW
// MAX MIN). reference:: versions index every element the obvious way; the default versions
// run contiguous inner loops chosen by a BroadcastPlan, in blocks across threads.
// Depends only on core/ and kernels/broadcast.hpp.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>

#include "octet/core/error.hpp"
#include "octet/core/parallel.hpp"
#include "octet/core/tensor.hpp"
#include "octet/kernels/broadcast.hpp"
#include "octet/kernels/fused_activation.hpp"

namespace octet::kernels {

// Work per thread below which parallel_for runs inline.
inline constexpr int64_t kElementwiseGrain = 16384;

// Calls fn(begin, end) over [0, n) in blocks, blocks spread over threads.
template <typename Fn>
void for_blocks(int64_t n, Fn&& fn, int64_t block = kElementwiseGrain) {
  const int64_t blocks = (n + block - 1) / block;
  parallel_for(0, blocks, [&](int64_t i) { fn(i * block, std::min(n, (i + 1) * block)); });
}

// ---- Eltwise ------------------------------------------------------------------------------
enum class EltwiseOp { Prod, Sum, Max };

struct EltwiseParams {
  EltwiseOp op = EltwiseOp::Sum;
  std::span<const float> coeffs;  // SUM only: empty (all 1) or one per input
};

inline void check_eltwise(const EltwiseParams& p, size_t inputs) {
  if (inputs < 1) throw ShapeError("eltwise needs at least one input");
  if (!p.coeffs.empty() && p.coeffs.size() != inputs)
    throw ModelError("eltwise has " + std::to_string(p.coeffs.size()) + " coefficients for " +
                     std::to_string(inputs) + " inputs");
  if (!p.coeffs.empty() && p.op != EltwiseOp::Sum)
    throw ModelError("eltwise coefficients are only meaningful for SUM");
}

namespace reference {
// act: applied to the result (a residual Add + ReLU in one pass).
template <typename T>
void eltwise(const EltwiseParams& p, int64_t count, std::span<const T* const> in, T* out,
             const FusedActivation& act = {}) {
  check_eltwise(p, in.size());
  for (int64_t i = 0; i < count; ++i) {
    T acc{};
    for (size_t k = 0; k < in.size(); ++k) {
      const T v = in[k][i];
      switch (p.op) {
        case EltwiseOp::Sum: acc += (p.coeffs.empty() ? T(1) : T(p.coeffs[k])) * v; break;
        case EltwiseOp::Prod: acc = k == 0 ? v : acc * v; break;
        case EltwiseOp::Max: acc = k == 0 ? v : std::max(acc, v); break;
      }
    }
    out[i] = act(acc);
  }
}
}  // namespace reference

// `out` may alias in[0] (never a later input): later inputs are only read after the first
// pass over a block has consumed in[0] and in[1]. act: applied to the result.
template <typename T>
void eltwise(const EltwiseParams& p, int64_t count, std::span<const T* const> in, T* out,
             const FusedActivation& act = {}) {
  check_eltwise(p, in.size());
  const size_t n = in.size();
  auto coeff = [&](size_t k) { return p.coeffs.empty() ? T(1) : T(p.coeffs[k]); };
  // Elements [s, s + m) of the result into o.
  auto combine = [&](int64_t s, int64_t m, T* o) {
    const T* a = in[0] + s;
    if (n == 1) {
      const T c = p.op == EltwiseOp::Sum ? coeff(0) : T(1);
      for (int64_t i = 0; i < m; ++i) o[i] = c * a[i];
      return;
    }
    const T* b = in[1] + s;
    switch (p.op) {
      case EltwiseOp::Sum: {
        const T c0 = coeff(0), c1 = coeff(1);
        for (int64_t i = 0; i < m; ++i) o[i] = c0 * a[i] + c1 * b[i];
        for (size_t k = 2; k < n; ++k) {
          const T ck = coeff(k);
          const T* x = in[k] + s;
          for (int64_t i = 0; i < m; ++i) o[i] += ck * x[i];
        }
        break;
      }
      case EltwiseOp::Prod:
        for (int64_t i = 0; i < m; ++i) o[i] = a[i] * b[i];
        for (size_t k = 2; k < n; ++k) {
          const T* x = in[k] + s;
          for (int64_t i = 0; i < m; ++i) o[i] *= x[i];
        }
        break;
      case EltwiseOp::Max:
        for (int64_t i = 0; i < m; ++i) o[i] = std::max(a[i], b[i]);
        for (size_t k = 2; k < n; ++k) {
          const T* x = in[k] + s;
          for (int64_t i = 0; i < m; ++i) o[i] = std::max(o[i], x[i]);
        }
        break;
    }
  };
  for_blocks(count, [&](int64_t s, int64_t e) {
    combine(s, e - s, out + s);
    // The block is still in cache: the activation costs no extra trip to memory.
    if (act.kind != FusedActivation::Kind::None) bias_activation(out + s, e - s, T(0), act);
  });
}

// ---- broadcasting binary ops -------------------------------------------------------------
enum class BinaryOp { Add, Sub, Mul, Div, Pow, Max, Min };

template <BinaryOp Op, typename T>
inline T binary_apply(T a, T b) {
  if constexpr (Op == BinaryOp::Add) return a + b;
  if constexpr (Op == BinaryOp::Sub) return a - b;
  if constexpr (Op == BinaryOp::Mul) return a * b;
  if constexpr (Op == BinaryOp::Div) return a / b;
  if constexpr (Op == BinaryOp::Pow) return std::pow(a, b);
  if constexpr (Op == BinaryOp::Max) return std::max(a, b);
  if constexpr (Op == BinaryOp::Min) return std::min(a, b);
}

// Runs fn with the op as a compile-time constant so each op gets its own vectorised loop.
template <typename Fn>
decltype(auto) dispatch_binary(BinaryOp op, Fn&& fn) {
  switch (op) {
    case BinaryOp::Add: return fn(std::integral_constant<BinaryOp, BinaryOp::Add>{});
    case BinaryOp::Sub: return fn(std::integral_constant<BinaryOp, BinaryOp::Sub>{});
    case BinaryOp::Mul: return fn(std::integral_constant<BinaryOp, BinaryOp::Mul>{});
    case BinaryOp::Div: return fn(std::integral_constant<BinaryOp, BinaryOp::Div>{});
    case BinaryOp::Pow: return fn(std::integral_constant<BinaryOp, BinaryOp::Pow>{});
    case BinaryOp::Max: return fn(std::integral_constant<BinaryOp, BinaryOp::Max>{});
    case BinaryOp::Min: return fn(std::integral_constant<BinaryOp, BinaryOp::Min>{});
  }
  throw UnsupportedError("unknown binary op");
}

namespace reference {
// out has shape broadcast_shape(a_shape, b_shape).
template <typename T>
void binary(BinaryOp op, const Shape& a_shape, const T* a, const Shape& b_shape, const T* b, T* out) {
  const Shape os = broadcast_shape(a_shape, b_shape);
  const Shape sa = broadcast_strides(a_shape, os), sb = broadcast_strides(b_shape, os);
  const int64_t n = shape_count(os);
  dispatch_binary(op, [&](auto tag) {
    for (int64_t i = 0; i < n; ++i) {
      int64_t rem = i, ia = 0, ib = 0;
      for (size_t k = os.size(); k-- > 0;) {
        const int64_t idx = rem % os[k];
        rem /= os[k];
        ia += idx * sa[k];
        ib += idx * sb[k];
      }
      out[i] = binary_apply<decltype(tag)::value>(a[ia], b[ib]);
    }
  });
}
}  // namespace reference

// Runs a precomputed plan (build it once per shape with make_broadcast_plan). `out` may
// alias an operand whose shape equals the output shape.
template <typename T>
void binary(BinaryOp op, const BroadcastPlan& p, const T* a, const T* b, T* out) {
  if (p.count == 0) return;
  if (p.too_deep) throw UnsupportedError("binary op: broadcast pattern too deep for a plan");
  dispatch_binary(op, [&](auto tag) {
    constexpr BinaryOp Op = decltype(tag)::value;
    if (p.rank == 0) {
      out[0] = binary_apply<Op>(a[0], b[0]);
      return;
    }
    const int r = p.rank;
    const int64_t inner = p.dims[r - 1];
    const bool ca = p.stride_a[r - 1] != 0, cb = p.stride_b[r - 1] != 0;
    const int64_t rows = p.count / inner;
    auto run = [&](const T* pa, const T* pb, T* po, int64_t m) {
      if (ca && cb) {
        for (int64_t j = 0; j < m; ++j) po[j] = binary_apply<Op>(pa[j], pb[j]);
      } else if (ca) {
        const T vb = *pb;
        for (int64_t j = 0; j < m; ++j) po[j] = binary_apply<Op>(pa[j], vb);
      } else {
        const T va = *pa;
        for (int64_t j = 0; j < m; ++j) po[j] = binary_apply<Op>(va, pb[j]);
      }
    };
    if (rows == 1) {  // same shape or scalar: split the single run into blocks
      for_blocks(inner, [&](int64_t s, int64_t e) {
        run(a + (ca ? s : 0), b + (cb ? s : 0), out + s, e - s);
      });
      return;
    }
    parallel_for(
        0, rows,
        [&](int64_t row) {
          int64_t rem = row, oa = 0, ob = 0;
          for (int k = r - 2; k >= 0; --k) {
            const int64_t idx = rem % p.dims[k];
            rem /= p.dims[k];
            oa += idx * p.stride_a[k];
            ob += idx * p.stride_b[k];
          }
          run(a + oa, b + ob, out + row * inner, inner);
        },
        std::max<int64_t>(1, kElementwiseGrain / inner));
  });
}

// Convenience: plans and runs; falls back to the reference loop for exotic patterns.
template <typename T>
void binary(BinaryOp op, const Shape& a_shape, const T* a, const Shape& b_shape, const T* b, T* out) {
  const BroadcastPlan p = make_broadcast_plan(a_shape, b_shape);
  if (p.too_deep) return reference::binary(op, a_shape, a, b_shape, b, out);
  binary(op, p, a, b, out);
}

}  // namespace octet::kernels
