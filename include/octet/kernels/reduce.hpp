// Reductions: ONNX-style Reduce over a set of axes (MEAN SUM MAX MIN PROD L1 L2 SUMSQ, with
// keepdims) and Caffe's Reduction (SUM ASUM SUMSQ MEAN over every axis from `axis` on, times
// coeff), which is the same kernel over a tail of axes. reference:: visits every input
// element and accumulates in double; the default path folds the axes into
// [outer, reduced, inner] when the reduced axes are adjacent (global pooling, channel sums)
// and otherwise falls back to the generic loop. Depends only on core/.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "octet/core/error.hpp"
#include "octet/core/parallel.hpp"
#include "octet/core/tensor.hpp"

namespace octet::kernels {

enum class ReduceOp { Mean, Sum, Max, Min, Prod, L1, L2, SumSq };

struct ReduceParams {
  ReduceOp op = ReduceOp::Mean;
  std::vector<int> axes;  // empty: all axes
  bool keepdims = true;
  float coeff = 1.f;  // Caffe Reduction scales the result
};

// Sorted, de-duplicated, non-negative axes; empty input means all.
inline std::vector<int> reduce_axes(std::span<const int> axes, size_t rank) {
  std::vector<int> out;
  if (axes.empty()) {
    for (size_t i = 0; i < rank; ++i) out.push_back(static_cast<int>(i));
    return out;
  }
  for (int a : axes) out.push_back(canonical_axis(a, rank));
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end()) throw ShapeError("reduce axes repeat an axis");
  return out;
}

inline Shape reduce_shape(const Shape& in, const ReduceParams& p) {
  const auto axes = reduce_axes(p.axes, in.size());
  Shape out;
  size_t j = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const bool red = j < axes.size() && axes[j] == static_cast<int>(i);
    if (red) ++j;
    if (!red)
      out.push_back(in[i]);
    else if (p.keepdims)
      out.push_back(1);
  }
  return out;
}

template <typename Acc>
inline Acc reduce_init(ReduceOp op) {
  switch (op) {
    case ReduceOp::Max: return -std::numeric_limits<Acc>::infinity();
    case ReduceOp::Min: return std::numeric_limits<Acc>::infinity();
    case ReduceOp::Prod: return Acc(1);
    default: return Acc(0);
  }
}
template <typename Acc>
inline Acc reduce_step(ReduceOp op, Acc acc, Acc v) {
  switch (op) {
    case ReduceOp::Max: return std::max(acc, v);
    case ReduceOp::Min: return std::min(acc, v);
    case ReduceOp::Prod: return acc * v;
    case ReduceOp::L1: return acc + std::abs(v);
    case ReduceOp::L2:
    case ReduceOp::SumSq: return acc + v * v;
    default: return acc + v;
  }
}
template <typename Acc>
inline Acc reduce_finish(ReduceOp op, Acc acc, int64_t count, float coeff) {
  if (op == ReduceOp::Mean) acc /= Acc(count > 0 ? count : 1);
  if (op == ReduceOp::L2) acc = std::sqrt(acc);
  return acc * Acc(coeff);
}

namespace reference {
template <typename T>
void reduce(const ReduceParams& p, const Shape& in_shape, const T* in, T* out) {
  const auto axes = reduce_axes(p.axes, in_shape.size());
  const size_t r = in_shape.size();
  std::vector<bool> red(r, false);
  for (int a : axes) red[static_cast<size_t>(a)] = true;
  // Output strides over kept axes (reduced axes contribute 0).
  Shape ostride(r, 0);
  int64_t s = 1, rcount = 1;
  for (size_t k = r; k-- > 0;) {
    if (red[k]) {
      rcount *= in_shape[k];
    } else {
      ostride[k] = s;
      s *= in_shape[k];
    }
  }
  const int64_t on = s;
  std::vector<double> acc(static_cast<size_t>(on), reduce_init<double>(p.op));
  const int64_t n = shape_count(in_shape);
  for (int64_t i = 0; i < n; ++i) {
    int64_t rem = i, o = 0;
    for (size_t k = r; k-- > 0;) {
      o += (rem % in_shape[k]) * ostride[k];
      rem /= in_shape[k];
    }
    acc[static_cast<size_t>(o)] = reduce_step<double>(p.op, acc[static_cast<size_t>(o)], double(in[i]));
  }
  for (int64_t o = 0; o < on; ++o) out[o] = T(reduce_finish<double>(p.op, acc[static_cast<size_t>(o)], rcount, p.coeff));
}
}  // namespace reference

template <typename T>
void reduce(const ReduceParams& p, const Shape& in_shape, const T* in, T* out) {
  const auto axes = reduce_axes(p.axes, in_shape.size());
  const size_t r = in_shape.size();
  // Reduced axes adjacent (ignoring size-1 axes) -> [outer, R, inner].
  int first = -1, last = -1;
  bool adjacent = true;
  for (int a : axes) {
    if (in_shape[static_cast<size_t>(a)] == 1) continue;
    if (first < 0) first = a;
    else
      for (int k = last + 1; k < a; ++k)
        if (in_shape[static_cast<size_t>(k)] != 1) adjacent = false;
    last = a;
  }
  if (!adjacent) return reference::reduce(p, in_shape, in, out);
  int64_t outer, R, inner;
  if (first < 0) {  // only size-1 axes reduced: every output sees one element
    outer = shape_count(in_shape);
    R = 1;
    inner = 1;
  } else {
    outer = shape_count(in_shape, 0, static_cast<size_t>(first));
    R = shape_count(in_shape, static_cast<size_t>(first), static_cast<size_t>(last) + 1);
    inner = shape_count(in_shape, static_cast<size_t>(last) + 1, r);
  }
  int64_t rcount = 1;
  for (int a : axes) rcount *= in_shape[static_cast<size_t>(a)];
  const ReduceOp op = p.op;
  if (inner == 1) {
    parallel_for(
        0, outer,
        [&](int64_t o) {
          const T* x = in + o * R;
          T acc = reduce_init<T>(op);
          for (int64_t k = 0; k < R; ++k) acc = reduce_step<T>(op, acc, x[k]);
          out[o] = reduce_finish<T>(op, acc, rcount, p.coeff);
        },
        std::max<int64_t>(1, 16384 / std::max<int64_t>(1, R)));
    return;
  }
  // Strided reduction: accumulate whole inner rows into the output row (contiguous, vectorises).
  parallel_for(
      0, outer,
      [&](int64_t o) {
        T* y = out + o * inner;
        const T* x = in + o * R * inner;
        const T init = reduce_init<T>(op);
        for (int64_t j = 0; j < inner; ++j) y[j] = init;
        for (int64_t k = 0; k < R; ++k) {
          const T* xr = x + k * inner;
          for (int64_t j = 0; j < inner; ++j) y[j] = reduce_step<T>(op, y[j], xr[j]);
        }
        for (int64_t j = 0; j < inner; ++j) y[j] = reduce_finish<T>(op, y[j], rcount, p.coeff);
      },
      std::max<int64_t>(1, 16384 / std::max<int64_t>(1, R * inner)));
}

// Caffe Reduction: every axis from `axis` on; top shape is bottom[:axis].
enum class CaffeReductionOp { Sum = 1, Asum = 2, SumSq = 3, Mean = 4 };
inline ReduceParams caffe_reduction_params(CaffeReductionOp op, int axis, size_t rank, float coeff) {
  ReduceParams p;
  switch (op) {
    case CaffeReductionOp::Sum: p.op = ReduceOp::Sum; break;
    case CaffeReductionOp::Asum: p.op = ReduceOp::L1; break;
    case CaffeReductionOp::SumSq: p.op = ReduceOp::SumSq; break;
    case CaffeReductionOp::Mean: p.op = ReduceOp::Mean; break;
  }
  const size_t a = rank == 0 ? 0 : static_cast<size_t>(canonical_axis(axis, rank));
  for (size_t i = a; i < rank; ++i) p.axes.push_back(static_cast<int>(i));
  p.keepdims = false;
  p.coeff = coeff;
  return p;
}

}  // namespace octet::kernels
