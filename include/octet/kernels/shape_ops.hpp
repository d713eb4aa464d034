// Data-movement kernels and their shape rules: Concat, Slice, Flatten and Reshape (Caffe
// semantics), Transpose / Permute (any rank), Tile (Caffe axis/tiles). Shape functions throw
// ShapeError/ModelError and are shared by the runtime layers and by shape inference elsewhere.
// The transpose fast path folds axes that stay adjacent and copies contiguous runs.
// Depends only on core/.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "octet/core/error.hpp"
#include "octet/core/parallel.hpp"
#include "octet/core/tensor.hpp"

namespace octet::kernels {

// ---- Concat ------------------------------------------------------------------------------
inline Shape concat_shape(std::span<const Shape> in, int axis) {
  if (in.empty()) throw ShapeError("concat needs at least one input");
  const size_t a = static_cast<size_t>(canonical_axis(axis, in[0].size()));
  Shape out = in[0];
  for (size_t k = 1; k < in.size(); ++k) {
    const Shape& s = in[k];
    bool ok = s.size() == out.size();
    for (size_t i = 0; ok && i < s.size(); ++i) ok = i == a || s[i] == out[i];
    if (!ok)
      throw ShapeError("concat axis " + std::to_string(axis) + ": input " + std::to_string(k) + " " +
                       shape_str(s) + " does not match " + shape_str(in[0]));
    out[a] += s[a];
  }
  return out;
}

template <typename T>
void concat(int axis, std::span<const Shape> in_shapes, std::span<const T* const> in, T* out) {
  const Shape os = concat_shape(in_shapes, axis);
  const size_t a = static_cast<size_t>(canonical_axis(axis, os.size()));
  const int64_t outer = shape_count(os, 0, a), inner = shape_count(os, a + 1);
  const int64_t out_row = os[a] * inner;
  int64_t offset = 0;
  for (size_t k = 0; k < in.size(); ++k) {
    const int64_t row = in_shapes[k][a] * inner;
    for (int64_t o = 0; o < outer; ++o)
      std::memcpy(out + o * out_row + offset, in[k] + o * row, sizeof(T) * static_cast<size_t>(row));
    offset += row;
  }
}

// ---- Slice -------------------------------------------------------------------------------
// Caffe: slice_points (non-decreasing, within the axis; equal points give an empty part, as
// ONNX Split allows) give num_outputs - 1 cut points;
// without them the axis is split evenly into num_outputs parts.
inline std::vector<Shape> slice_shapes(const Shape& in, int axis, std::span<const int64_t> points,
                                       size_t num_outputs) {
  const size_t a = static_cast<size_t>(canonical_axis(axis, in.size()));
  const int64_t dim = in[a];
  std::vector<Shape> out(num_outputs, in);
  if (num_outputs == 0) throw ShapeError("slice needs at least one output");
  if (!points.empty()) {
    if (points.size() != num_outputs - 1)
      throw ModelError("slice has " + std::to_string(points.size()) + " slice points for " +
                       std::to_string(num_outputs) + " outputs");
    int64_t prev = 0;
    for (size_t i = 0; i <= points.size(); ++i) {
      const int64_t p = i < points.size() ? points[i] : dim;
      if (p < prev || p > dim)
        throw ShapeError("slice point " + std::to_string(p) + " decreasing or outside axis of size " +
                         std::to_string(dim));
      out[i][a] = p - prev;
      prev = p;
    }
    return out;
  }
  if (dim % static_cast<int64_t>(num_outputs) != 0)
    throw ShapeError("cannot split axis of size " + std::to_string(dim) + " into " +
                     std::to_string(num_outputs) + " equal parts");
  for (auto& s : out) s[a] = dim / static_cast<int64_t>(num_outputs);
  return out;
}

template <typename T>
void slice(int axis, const Shape& in_shape, const T* in, std::span<const Shape> out_shapes,
           std::span<T* const> out) {
  const size_t a = static_cast<size_t>(canonical_axis(axis, in_shape.size()));
  const int64_t outer = shape_count(in_shape, 0, a), inner = shape_count(in_shape, a + 1);
  const int64_t in_row = in_shape[a] * inner;
  int64_t offset = 0;
  for (size_t k = 0; k < out.size(); ++k) {
    const int64_t row = out_shapes[k][a] * inner;
    for (int64_t o = 0; o < outer; ++o)
      std::memcpy(out[k] + o * row, in + o * in_row + offset, sizeof(T) * static_cast<size_t>(row));
    offset += row;
  }
}

// ---- Flatten / Reshape (shape only: the data does not move) ------------------------------
// Caffe Flatten: dims [axis, end_axis] collapse into one.
inline Shape flatten_shape(const Shape& in, int axis, int end_axis) {
  const size_t a = static_cast<size_t>(canonical_axis(axis, in.size()));
  const size_t e = static_cast<size_t>(canonical_axis(end_axis, in.size()));
  if (e < a) throw ShapeError("flatten end_axis before axis for " + shape_str(in));
  Shape out(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(a));
  out.push_back(shape_count(in, a, e + 1));
  out.insert(out.end(), in.begin() + static_cast<std::ptrdiff_t>(e + 1), in.end());
  return out;
}

// Caffe ReshapeParameter: `dims` replaces bottom axes [axis, axis + num_axes) (num_axes -1:
// to the end; negative axis counts from the end, -1 meaning "after the last axis").
// 0 copies the bottom dim at the same position in that range; one -1 is inferred.
inline Shape reshape_shape(const Shape& in, std::span<const int64_t> dims, int axis = 0, int num_axes = -1) {
  const int rank = static_cast<int>(in.size());
  const int start = axis >= 0 ? axis : rank + axis + 1;
  if (start < 0 || start > rank)
    throw ShapeError("reshape axis " + std::to_string(axis) + " out of range for " + shape_str(in));
  if (num_axes < -1) throw ShapeError("reshape num_axes must be >= -1");
  const int end = num_axes == -1 ? rank : start + num_axes;
  if (end > rank)
    throw ShapeError("reshape axis+num_axes " + std::to_string(end) + " exceeds rank of " + shape_str(in));
  Shape out(in.begin(), in.begin() + start);
  int infer = -1;
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = dims[i];
    if (d == 0) {
      if (start + static_cast<int>(i) >= rank)
        throw ShapeError("reshape dim " + std::to_string(i) + " is 0 but " + shape_str(in) +
                         " has no axis to copy");
      d = in[static_cast<size_t>(start) + i];
    } else if (d == -1) {
      if (infer >= 0) throw ShapeError("reshape has more than one -1 dim");
      infer = static_cast<int>(out.size());
    } else if (d < -1) {
      throw ShapeError("reshape dim " + std::to_string(d) + " is invalid");
    }
    out.push_back(d);
  }
  out.insert(out.end(), in.begin() + end, in.end());
  const int64_t total = shape_count(in);
  if (infer >= 0) {
    int64_t known = 1;
    for (size_t i = 0; i < out.size(); ++i)
      if (static_cast<int>(i) != infer) known *= out[i];
    if (known == 0 || total % known != 0)
      throw ShapeError("reshape cannot infer -1: " + shape_str(in) + " into dims with product " +
                       std::to_string(known));
    out[static_cast<size_t>(infer)] = total / known;
  }
  if (shape_count(out) != total)
    throw ShapeError("reshape " + shape_str(in) + " to " + shape_str(out) + " changes the element count");
  return out;
}

// ---- Transpose / Permute -----------------------------------------------------------------
// Validates `order` as a permutation of [0, rank). Empty order reverses the axes (numpy).
inline std::vector<int> transpose_order(std::span<const int> order, size_t rank) {
  std::vector<int> o(order.begin(), order.end());
  if (o.empty())
    for (size_t i = 0; i < rank; ++i) o.push_back(static_cast<int>(rank - 1 - i));
  if (o.size() != rank)
    throw ShapeError("transpose order has " + std::to_string(o.size()) + " axes for rank " + std::to_string(rank));
  std::vector<bool> seen(rank, false);
  for (int& a : o) {
    a = canonical_axis(a, rank);
    if (seen[static_cast<size_t>(a)]) throw ShapeError("transpose order repeats axis " + std::to_string(a));
    seen[static_cast<size_t>(a)] = true;
  }
  return o;
}

// Caffe-SSD Permute: the order may list only the leading axes; the rest follow in order.
inline std::vector<int> permute_order(std::span<const int> order, size_t rank) {
  std::vector<int> o;
  std::vector<bool> seen(rank, false);
  for (int a : order) {
    const int c = canonical_axis(a, rank);
    if (seen[static_cast<size_t>(c)]) throw ShapeError("permute order repeats axis " + std::to_string(a));
    seen[static_cast<size_t>(c)] = true;
    o.push_back(c);
  }
  for (size_t i = 0; i < rank; ++i)
    if (!seen[i]) o.push_back(static_cast<int>(i));
  return o;
}

inline Shape transpose_shape(const Shape& in, std::span<const int> order) {
  Shape out(order.size());
  for (size_t i = 0; i < order.size(); ++i) out[i] = in[static_cast<size_t>(order[i])];
  return out;
}

namespace reference {
// out[i0..] = in[...] with out axis i = in axis order[i]; `order` already validated.
template <typename T>
void transpose(const Shape& in_shape, std::span<const int> order, const T* in, T* out) {
  const size_t r = in_shape.size();
  const Shape os = transpose_shape(in_shape, order);
  Shape in_strides(r, 1);
  for (size_t i = r; i-- > 1;) in_strides[i - 1] = in_strides[i] * in_shape[i];
  const int64_t n = shape_count(os);
  for (int64_t i = 0; i < n; ++i) {
    int64_t rem = i, src = 0;
    for (size_t k = r; k-- > 0;) {
      src += (rem % os[k]) * in_strides[static_cast<size_t>(order[k])];
      rem /= os[k];
    }
    out[i] = in[src];
  }
}
}  // namespace reference

template <typename T>
void transpose(const Shape& in_shape, std::span<const int> order, const T* in, T* out) {
  const size_t r = in_shape.size();
  const int64_t n = shape_count(in_shape);
  if (n == 0) return;
  // Fold: drop size-1 axes, then merge output-adjacent axes that are input-adjacent too.
  std::vector<int> keep;  // input axes with dim > 1, in input order
  std::vector<int> remap(r, -1);
  for (size_t i = 0; i < r; ++i)
    if (in_shape[i] != 1) {
      remap[i] = static_cast<int>(keep.size());
      keep.push_back(static_cast<int>(i));
    }
  std::vector<int> ord;  // order over kept axes
  for (int a : order)
    if (remap[static_cast<size_t>(a)] >= 0) ord.push_back(remap[static_cast<size_t>(a)]);
  Shape dims;
  for (int a : keep) dims.push_back(in_shape[static_cast<size_t>(a)]);
  // Group runs in output order where consecutive entries are consecutive input axes.
  std::vector<std::vector<int>> groups;
  for (size_t i = 0; i < ord.size(); ++i) {
    if (i > 0 && ord[i] == ord[i - 1] + 1)
      groups.back().push_back(ord[i]);
    else
      groups.push_back({ord[i]});
  }
  // Groups sorted by first input axis give the folded input shape.
  std::vector<size_t> by_in(groups.size());
  for (size_t i = 0; i < by_in.size(); ++i) by_in[i] = i;
  std::sort(by_in.begin(), by_in.end(), [&](size_t x, size_t y) { return groups[x][0] < groups[y][0]; });
  const size_t fr = groups.size();
  Shape fin(fr), fstride(fr);
  std::vector<int> forder(fr);
  for (size_t j = 0; j < fr; ++j) {
    int64_t d = 1;
    for (int a : groups[by_in[j]]) d *= dims[static_cast<size_t>(a)];
    fin[j] = d;
  }
  for (size_t i = 0; i < fr; ++i)
    for (size_t j = 0; j < fr; ++j)
      if (by_in[j] == i) forder[i] = static_cast<int>(j);
  if (fr <= 1) {  // identity permutation after folding
    std::memcpy(out, in, sizeof(T) * static_cast<size_t>(n));
    return;
  }
  int64_t s = 1;
  for (size_t j = fr; j-- > 0;) {
    fstride[j] = s;
    s *= fin[j];
  }
  Shape fout(fr), src_stride(fr);
  for (size_t i = 0; i < fr; ++i) {
    fout[i] = fin[static_cast<size_t>(forder[i])];
    src_stride[i] = fstride[static_cast<size_t>(forder[i])];
  }
  const int64_t inner = fout[fr - 1];
  const int64_t inner_stride = src_stride[fr - 1];
  const int64_t rows = n / inner;
  parallel_for(
      0, rows,
      [&](int64_t row) {
        int64_t rem = row, src = 0;
        for (size_t k = fr - 1; k-- > 0;) {
          src += (rem % fout[k]) * src_stride[k];
          rem /= fout[k];
        }
        T* o = out + row * inner;
        const T* p = in + src;
        if (inner_stride == 1)
          std::memcpy(o, p, sizeof(T) * static_cast<size_t>(inner));
        else
          for (int64_t j = 0; j < inner; ++j) o[j] = p[j * inner_stride];
      },
      std::max<int64_t>(1, 16384 / inner));
}

// ---- Tile (Caffe: repeat the block from `axis` on `tiles` times) -------------------------
inline Shape tile_shape(const Shape& in, int axis, int64_t tiles) {
  if (tiles < 1) throw ModelError("tile count must be positive, got " + std::to_string(tiles));
  Shape out = in;
  out[static_cast<size_t>(canonical_axis(axis, in.size()))] *= tiles;
  return out;
}

template <typename T>
void tile(const Shape& in_shape, int axis, int64_t tiles, const T* in, T* out) {
  const size_t a = static_cast<size_t>(canonical_axis(axis, in_shape.size()));
  const int64_t outer = shape_count(in_shape, 0, a), inner = shape_count(in_shape, a);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t t = 0; t < tiles; ++t)
      std::memcpy(out + (o * tiles + t) * inner, in + o * inner, sizeof(T) * static_cast<size_t>(inner));
}

}  // namespace octet::kernels
