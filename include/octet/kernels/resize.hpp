// Spatial resize of the two innermost axes: Interp (nearest or bilinear with ONNX Resize
// coordinate transforms and nearest modes) and Upsample (nearest, integer factors).
// When the caller gives scales, coordinates map with those scales exactly as ONNX Resize
// does (out = floor(in * scale) but x_in = f(x_out, scale), not f(x_out, out/in)).
// reference:: recomputes each source coordinate per pixel; the default path builds per-axis
// index/weight tables once (ResizePlan) and sweeps rows. Depends only on core/.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "octet/core/error.hpp"
#include "octet/core/parallel.hpp"
#include "octet/core/tensor.hpp"

namespace octet::kernels {

enum class ResizeMode { Bilinear, Nearest };
enum class CoordTransform { HalfPixel, AlignCorners, Asymmetric, PytorchHalfPixel };
enum class NearestMode { RoundPreferFloor, RoundPreferCeil, Floor, Ceil };

struct ResizeParams {
  ResizeMode mode = ResizeMode::Bilinear;
  CoordTransform coord = CoordTransform::HalfPixel;
  NearestMode nearest = NearestMode::Floor;
  int64_t out_h = 0, out_w = 0;
  // Scales used by the coordinate mapping; <= 0 means out/in.
  float scale_h = 0.f, scale_w = 0.f;
};

// Source coordinate of output index x along an axis of lengths in -> out. With a given
// scale, ONNX measures the resized length as in * scale before flooring, and align_corners /
// pytorch_half_pixel use that length too (in 4, scale 0.6: x_in(1) = 3 / 1.4, not 3 / 1).
inline float resize_source_coord(CoordTransform t, int64_t x, int64_t in, int64_t out, float scale) {
  const double s = scale > 0 ? double(scale) : double(out) / double(in);
  const double out_len = scale > 0 ? double(in) * double(scale) : double(out);
  switch (t) {
    case CoordTransform::HalfPixel: return float((double(x) + 0.5) / s - 0.5);
    case CoordTransform::PytorchHalfPixel: return out_len > 1 ? float((double(x) + 0.5) / s - 0.5) : 0.f;
    case CoordTransform::AlignCorners:
      return out_len > 1 ? float(double(x) * double(in - 1) / (out_len - 1)) : 0.f;
    case CoordTransform::Asymmetric: return float(double(x) / s);
  }
  return 0.f;
}

inline int64_t resize_nearest_index(NearestMode m, float c, int64_t in) {
  double v = 0;
  const double f = std::floor(double(c));
  switch (m) {
    case NearestMode::RoundPreferFloor: v = (double(c) - f == 0.5) ? f : std::round(double(c)); break;
    case NearestMode::RoundPreferCeil: v = (double(c) - f == 0.5) ? f + 1 : std::round(double(c)); break;
    case NearestMode::Floor: v = f; break;
    case NearestMode::Ceil: v = std::ceil(double(c)); break;
  }
  return std::clamp<int64_t>(static_cast<int64_t>(v), 0, in - 1);
}

// Bilinear taps: lo, hi and the weight of hi; coordinates outside [0, in-1] use the edge.
struct LinearTap {
  int64_t lo = 0, hi = 0;
  float w = 0.f;
};
inline LinearTap resize_linear_tap(float c, int64_t in) {
  const float x = std::clamp(c, 0.f, float(in - 1));
  LinearTap t;
  t.lo = std::min<int64_t>(static_cast<int64_t>(std::floor(x)), in - 1);
  t.hi = std::min<int64_t>(t.lo + 1, in - 1);
  t.w = x - float(t.lo);
  return t;
}

namespace reference {
// in: [outer, in_h, in_w] -> out: [outer, p.out_h, p.out_w]
template <typename T>
void resize(const ResizeParams& p, int64_t outer, int64_t in_h, int64_t in_w, const T* in, T* out) {
  const int64_t oh = p.out_h, ow = p.out_w;
  for (int64_t n = 0; n < outer; ++n)
    for (int64_t y = 0; y < oh; ++y)
      for (int64_t x = 0; x < ow; ++x) {
        const float cy = resize_source_coord(p.coord, y, in_h, oh, p.scale_h);
        const float cx = resize_source_coord(p.coord, x, in_w, ow, p.scale_w);
        const T* src = in + n * in_h * in_w;
        T v;
        if (p.mode == ResizeMode::Nearest) {
          v = src[resize_nearest_index(p.nearest, cy, in_h) * in_w + resize_nearest_index(p.nearest, cx, in_w)];
        } else {
          const LinearTap ty = resize_linear_tap(cy, in_h), tx = resize_linear_tap(cx, in_w);
          const T top = src[ty.lo * in_w + tx.lo] * (1 - tx.w) + src[ty.lo * in_w + tx.hi] * tx.w;
          const T bot = src[ty.hi * in_w + tx.lo] * (1 - tx.w) + src[ty.hi * in_w + tx.hi] * tx.w;
          v = top * (1 - ty.w) + bot * ty.w;
        }
        out[(n * oh + y) * ow + x] = v;
      }
}
}  // namespace reference

// Per-axis tables, built once per shape (at layer reshape), so forward allocates nothing.
struct ResizePlan {
  ResizeParams params;
  int64_t in_h = 0, in_w = 0;
  std::vector<LinearTap> ty, tx;  // bilinear taps (nearest: lo only)
};

inline ResizePlan make_resize_plan(const ResizeParams& p, int64_t in_h, int64_t in_w) {
  if (in_h <= 0 || in_w <= 0 || p.out_h <= 0 || p.out_w <= 0)
    throw ShapeError("resize sizes must be positive: " + std::to_string(in_h) + "x" + std::to_string(in_w) +
                     " -> " + std::to_string(p.out_h) + "x" + std::to_string(p.out_w));
  ResizePlan plan{p, in_h, in_w, {}, {}};
  auto table = [&](int64_t in, int64_t out, float scale, std::vector<LinearTap>& t) {
    t.resize(static_cast<size_t>(out));
    for (int64_t i = 0; i < out; ++i) {
      const float c = resize_source_coord(p.coord, i, in, out, scale);
      if (p.mode == ResizeMode::Nearest) {
        const int64_t k = resize_nearest_index(p.nearest, c, in);
        t[static_cast<size_t>(i)] = {k, k, 0.f};
      } else {
        t[static_cast<size_t>(i)] = resize_linear_tap(c, in);
      }
    }
  };
  table(in_h, p.out_h, p.scale_h, plan.ty);
  table(in_w, p.out_w, p.scale_w, plan.tx);
  return plan;
}

template <typename T>
void resize(const ResizePlan& plan, int64_t outer, const T* in, T* out) {
  const int64_t ih = plan.in_h, iw = plan.in_w, oh = plan.params.out_h, ow = plan.params.out_w;
  const bool nearest = plan.params.mode == ResizeMode::Nearest;
  parallel_for(
      0, outer * oh,
      [&](int64_t job) {
        const int64_t n = job / oh, y = job % oh;
        const LinearTap& ty = plan.ty[static_cast<size_t>(y)];
        const T* r0 = in + (n * ih + ty.lo) * iw;
        const T* r1 = in + (n * ih + ty.hi) * iw;
        T* o = out + job * ow;
        if (nearest) {
          for (int64_t x = 0; x < ow; ++x) o[x] = r0[plan.tx[static_cast<size_t>(x)].lo];
          return;
        }
        const T wy = ty.w;
        for (int64_t x = 0; x < ow; ++x) {
          const LinearTap& tx = plan.tx[static_cast<size_t>(x)];
          const T top = r0[tx.lo] * (1 - tx.w) + r0[tx.hi] * tx.w;
          const T bot = r1[tx.lo] * (1 - tx.w) + r1[tx.hi] * tx.w;
          o[x] = top * (1 - wy) + bot * wy;
        }
      },
      std::max<int64_t>(1, 4096 / ow));
}

// ---- Upsample: nearest by integer factors ------------------------------------------------
template <typename T>
void upsample_nearest(int64_t outer, int64_t in_h, int64_t in_w, int64_t sh, int64_t sw, const T* in, T* out) {
  const int64_t ow = in_w * sw;
  parallel_for(
      0, outer * in_h,
      [&](int64_t job) {
        const T* src = in + job * in_w;
        T* o = out + (job * sh) * ow;
        for (int64_t x = 0; x < in_w; ++x)
          for (int64_t k = 0; k < sw; ++k) o[x * sw + k] = src[x];
        for (int64_t r = 1; r < sh; ++r) std::copy(o, o + ow, o + r * ow);
      },
      std::max<int64_t>(1, 4096 / std::max<int64_t>(1, ow * sh)));
}

}  // namespace octet::kernels
