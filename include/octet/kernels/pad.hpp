// N-D padding in ONNX order (pads = all begins, then all ends; negative pads crop) with
// modes constant (fill value), reflect (mirror without repeating the edge, as numpy
// 'reflect') and edge (replicate). reference:: maps every output element; the default path
// builds one source-index table per axis and copies the interior of each row in one run.
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

enum class PadMode { Constant, Reflect, Edge };

struct PadParams {
  std::span<const int64_t> pads;  // 2 * rank values
  PadMode mode = PadMode::Constant;
  float value = 0.f;
};

inline Shape pad_shape(const Shape& in, std::span<const int64_t> pads) {
  if (pads.size() != 2 * in.size())
    throw ShapeError("pad has " + std::to_string(pads.size()) + " values for rank " + std::to_string(in.size()) +
                     " (need begins then ends, one per axis)");
  Shape out(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    out[i] = in[i] + pads[i] + pads[i + in.size()];
    if (out[i] < 0) throw ShapeError("pads crop axis " + std::to_string(i) + " of " + shape_str(in) + " below zero");
  }
  return out;
}

// Input index that output index o reads along an axis of size n padded by `begin`;
// -1 means the constant value.
inline int64_t pad_source_index(PadMode m, int64_t o, int64_t begin, int64_t n) {
  int64_t i = o - begin;
  if (i >= 0 && i < n) return i;
  switch (m) {
    case PadMode::Constant: return -1;
    case PadMode::Edge: return std::clamp<int64_t>(i, 0, n - 1);
    case PadMode::Reflect: {
      if (n == 1) return 0;
      const int64_t period = 2 * (n - 1);
      i %= period;
      if (i < 0) i += period;
      return i < n ? i : period - i;
    }
  }
  return -1;
}

inline void check_pad(const PadParams& p, const Shape& in) {
  (void)pad_shape(in, p.pads);
  if (p.mode != PadMode::Constant)
    for (size_t i = 0; i < in.size(); ++i)
      if (in[i] == 0 && (p.pads[i] > 0 || p.pads[i + in.size()] > 0))
        throw ShapeError("cannot reflect/edge-pad empty axis " + std::to_string(i));
}

namespace reference {
template <typename T>
void pad(const PadParams& p, const Shape& in_shape, const T* in, T* out) {
  check_pad(p, in_shape);
  const Shape os = pad_shape(in_shape, p.pads);
  const size_t r = in_shape.size();
  const int64_t n = shape_count(os);
  for (int64_t i = 0; i < n; ++i) {
    int64_t rem = i, src = 0, stride = 1;
    bool fill = false;
    for (size_t k = r; k-- > 0;) {
      const int64_t s = pad_source_index(p.mode, rem % os[k], p.pads[k], in_shape[k]);
      rem /= os[k];
      if (s < 0) fill = true;
      src += s * stride;
      stride *= in_shape[k];
    }
    out[i] = fill ? T(p.value) : in[src];
  }
}
}  // namespace reference

template <typename T>
void pad(const PadParams& p, const Shape& in_shape, const T* in, T* out) {
  check_pad(p, in_shape);
  const Shape os = pad_shape(in_shape, p.pads);
  const size_t r = in_shape.size();
  const int64_t n = shape_count(os);
  if (n == 0) return;
  if (r == 0) {
    out[0] = in[0];
    return;
  }
  // Per axis: source index of every output index (-1 = fill), and input strides.
  std::vector<std::vector<int64_t>> table(r);
  Shape in_stride(r, 1);
  for (size_t k = r; k-- > 0;) {
    if (k + 1 < r) in_stride[k] = in_stride[k + 1] * in_shape[k + 1];
    table[k].resize(static_cast<size_t>(os[k]));
    for (int64_t o = 0; o < os[k]; ++o) table[k][static_cast<size_t>(o)] = pad_source_index(p.mode, o, p.pads[k], in_shape[k]);
  }
  const int64_t w = os[r - 1];
  const auto& last = table[r - 1];
  // Output columns [c0, c1) read the contiguous input run starting at last[c0].
  const int64_t c0 = std::clamp<int64_t>(p.pads[r - 1], 0, w);
  const int64_t c1 = std::clamp<int64_t>(p.pads[r - 1] + in_shape[r - 1], c0, w);
  const T fillv = T(p.value);
  parallel_for(
      0, n / w,
      [&](int64_t row) {
        int64_t rem = row, src = 0;
        bool fill = false;
        for (size_t k = r - 1; k-- > 0;) {
          const int64_t s = table[k][static_cast<size_t>(rem % os[k])];
          rem /= os[k];
          if (s < 0) fill = true;
          src += s * in_stride[k];
        }
        T* o = out + row * w;
        if (fill) {
          std::fill(o, o + w, fillv);
          return;
        }
        const T* ir = in + src;
        for (int64_t c = 0; c < c0; ++c) o[c] = last[static_cast<size_t>(c)] < 0 ? fillv : ir[last[static_cast<size_t>(c)]];
        if (c1 > c0) std::memcpy(o + c0, ir + last[static_cast<size_t>(c0)], sizeof(T) * static_cast<size_t>(c1 - c0));
        for (int64_t c = c1; c < w; ++c) o[c] = last[static_cast<size_t>(c)] < 0 ? fillv : ir[last[static_cast<size_t>(c)]];
      },
      std::max<int64_t>(1, 16384 / w));
}

}  // namespace octet::kernels
