// 2-D MAX / AVE pooling, NCHW, in both Caffe and ONNX conventions.
//
// Output size: floor or ceil((in + pad_begin + pad_end - k) / stride) + 1, then one window is
// dropped when the last would start at or beyond in + pad_begin. Caffe applies that rule only
// when some pad is non-zero (so with stride > kernel and no pad, Caffe keeps a window that
// lies wholly past the image: MAX gives -FLT_MAX there and AVE 0, as Caffe does); ONNX
// (PyTorch's rule) applies it whenever ceil_mode is on.
//
// AVE divisor: count_include_pad counts the window clipped to the padded bounds
// [-pad_begin, in + pad_end) -- Caffe's pool_size, and PyTorch's -- so a ceil-mode window that
// hangs past the end padding is not divided by the full k*k. Without count_include_pad only
// the cells inside the image count (ONNX count_include_pad=0).
//
// Global pooling uses the whole plane as the window. reference::pool2d is a per-output loop
// nest; pool2d vectorises the interior of each output row (windows wholly inside the image)
// and treats the borders one output at a time.
// Depends on core/ only (never ir/, engine/ or proto).
#pragma once
#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include "octet/core/error.hpp"
#include "octet/core/parallel.hpp"
#include "octet/kernels/im2col.hpp"

namespace octet::kernels {

enum class PoolMethod { Max, Average };
enum class PoolConvention { Caffe, Onnx };

struct Pool2dParams {
  PoolMethod method = PoolMethod::Max;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  bool global = false;             // window = whole plane (kernel, pads and strides ignored)
  bool ceil_mode = true;           // Caffe rounds up (round_mode CEIL); ONNX default is floor
  PoolConvention convention = PoolConvention::Caffe;
  bool count_include_pad = true;   // AVE only
};

struct Pool2dShape {
  int64_t batch = 0, channels = 0, in_h = 0, in_w = 0, out_h = 0, out_w = 0;
};

// The parameters actually used for this input: global pooling becomes a whole-plane kernel.
inline Pool2dParams pool2d_effective(const Pool2dParams& p, int64_t in_h, int64_t in_w) {
  if (!p.global) return p;
  Pool2dParams e = p;
  e.kernel_h = in_h;
  e.kernel_w = in_w;
  e.stride_h = e.stride_w = 1;
  e.pad_top = e.pad_left = e.pad_bottom = e.pad_right = 0;
  e.global = false;
  return e;
}

inline int64_t pool_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad_begin,
                             int64_t pad_end, bool ceil_mode, bool drop_rule) {
  const int64_t span = in + pad_begin + pad_end - k;
  if (span < 0) return 0;
  int64_t out = (ceil_mode ? ceil_div(span, stride) : span / stride) + 1;
  if (drop_rule && out > 1 && (out - 1) * stride >= in + pad_begin) --out;
  return out;
}

inline Pool2dShape pool2d_shape(const Pool2dParams& params, int64_t batch, int64_t channels,
                                int64_t in_h, int64_t in_w) {
  auto fail = [](const std::string& m) { throw ShapeError("pooling: " + m); };
  const Pool2dParams p = pool2d_effective(params, in_h, in_w);
  if (in_h < 1 || in_w < 1) fail("empty input plane");
  if (p.kernel_h < 1 || p.kernel_w < 1) fail("kernel size must be >= 1");
  if (p.stride_h < 1 || p.stride_w < 1) fail("stride must be >= 1");
  if (p.pad_top < 0 || p.pad_left < 0 || p.pad_bottom < 0 || p.pad_right < 0) fail("pads must be >= 0");
  const bool any_pad = p.pad_top || p.pad_left || p.pad_bottom || p.pad_right;
  const bool drop = p.convention == PoolConvention::Caffe ? any_pad : p.ceil_mode;
  Pool2dShape s{batch, channels, in_h, in_w, 0, 0};
  s.out_h = pool_out_size(in_h, p.kernel_h, p.stride_h, p.pad_top, p.pad_bottom, p.ceil_mode, drop);
  s.out_w = pool_out_size(in_w, p.kernel_w, p.stride_w, p.pad_left, p.pad_right, p.ceil_mode, drop);
  if (s.out_h < 1 || s.out_w < 1)
    fail("kernel " + std::to_string(p.kernel_h) + "x" + std::to_string(p.kernel_w) +
         " is larger than the padded input " + std::to_string(in_h) + "x" + std::to_string(in_w));
  return s;
}

namespace pool_detail {

// One window along one axis: [lo, hi) inside the image, and the padded-window length that
// count_include_pad divides by.
struct Span1 {
  int64_t lo, hi, padded;
};
inline Span1 window(int64_t o, int64_t k, int64_t stride, int64_t pad_begin, int64_t pad_end,
                    int64_t in) {
  const int64_t start = o * stride - pad_begin;
  const int64_t end_padded = std::min(start + k, in + pad_end);
  return {std::max<int64_t>(start, 0), std::min(end_padded, in), end_padded - start};
}

template <typename T>
T divide(T sum, int64_t count) {
  return count > 0 ? static_cast<T>(sum / static_cast<T>(count)) : T(0);
}

template <typename T>
void plane(const Pool2dParams& p, const Pool2dShape& s, const T* in, T* out) {
  const int64_t W = s.in_w, OW = s.out_w, KW = p.kernel_w, sw = p.stride_w;
  const bool is_max = p.method == PoolMethod::Max;
  // Output columns whose window lies wholly inside the image: fixed width KW, no clipping.
  int64_t lo = std::clamp<int64_t>(ceil_div(p.pad_left, sw), 0, OW);
  int64_t hi = W - KW + p.pad_left < 0 ? lo : std::clamp<int64_t>((W - KW + p.pad_left) / sw + 1, lo, OW);
  for (int64_t oh = 0; oh < s.out_h; ++oh) {
    const Span1 wh = window(oh, p.kernel_h, p.stride_h, p.pad_top, p.pad_bottom, s.in_h);
    T* orow = out + oh * OW;
    auto one = [&](int64_t ow) {
      const Span1 ww = window(ow, KW, sw, p.pad_left, p.pad_right, W);
      if (is_max) {
        T m = std::numeric_limits<T>::lowest();
        for (int64_t ih = wh.lo; ih < wh.hi; ++ih)
          for (int64_t iw = ww.lo; iw < ww.hi; ++iw) m = std::max(m, in[ih * W + iw]);
        orow[ow] = m;
      } else {
        T sum = 0;
        for (int64_t ih = wh.lo; ih < wh.hi; ++ih)
          for (int64_t iw = ww.lo; iw < ww.hi; ++iw) sum += in[ih * W + iw];
        const int64_t count = p.count_include_pad ? wh.padded * ww.padded
                                                  : (wh.hi - wh.lo) * (ww.hi - ww.lo);
        orow[ow] = divide(sum, count);
      }
    };
    for (int64_t ow = 0; ow < lo; ++ow) one(ow);
    for (int64_t ow = hi; ow < OW; ++ow) one(ow);
    if (hi <= lo) continue;
    const int64_t base = -p.pad_left;
    if (is_max) {
      std::fill(orow + lo, orow + hi, std::numeric_limits<T>::lowest());
      for (int64_t ih = wh.lo; ih < wh.hi; ++ih) {
        const T* r = in + ih * W;
        for (int64_t kx = 0; kx < KW; ++kx) {
          if (sw == 1) {
            for (int64_t ow = lo; ow < hi; ++ow) orow[ow] = std::max(orow[ow], r[ow + kx + base]);
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) orow[ow] = std::max(orow[ow], r[ow * sw + kx + base]);
          }
        }
      }
    } else {
      std::fill(orow + lo, orow + hi, T(0));
      for (int64_t ih = wh.lo; ih < wh.hi; ++ih) {
        const T* r = in + ih * W;
        for (int64_t kx = 0; kx < KW; ++kx) {
          if (sw == 1) {
            for (int64_t ow = lo; ow < hi; ++ow) orow[ow] += r[ow + kx + base];
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) orow[ow] += r[ow * sw + kx + base];
          }
        }
      }
      // Interior columns: the padded and the valid width are both KW.
      const int64_t count = (p.count_include_pad ? wh.padded : wh.hi - wh.lo) * KW;
      if (count > 0) {
        const T inv = T(1) / static_cast<T>(count);
        for (int64_t ow = lo; ow < hi; ++ow) orow[ow] *= inv;
      } else {
        std::fill(orow + lo, orow + hi, T(0));
      }
    }
  }
}

// Max or mean of a whole plane, 16 independent lanes so the loop vectorises (a single running
// sum cannot be reordered without -ffast-math); global pooling ran at 0.3 GFLOP/s on 7x7
// planes through the windowed path.
template <typename T>
T whole_plane(const T* in, int64_t n, bool is_max) {
  constexpr int64_t kLanes = 16;
  T acc[kLanes];
  std::fill(acc, acc + kLanes, is_max ? std::numeric_limits<T>::lowest() : T(0));
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int64_t j = 0; j < kLanes; ++j) acc[j] = is_max ? std::max(acc[j], in[i + j]) : acc[j] + in[i + j];
  for (int64_t j = 0; i < n; ++i, ++j) acc[j] = is_max ? std::max(acc[j], in[i]) : acc[j] + in[i];
  T r = acc[0];
  for (int64_t j = 1; j < kLanes; ++j) r = is_max ? std::max(r, acc[j]) : r + acc[j];
  return is_max ? r : divide(r, n);
}

}  // namespace pool_detail

template <typename T>
void pool2d(const Pool2dParams& params, const Pool2dShape& s, const T* input, T* output) {
  const Pool2dParams p = pool2d_effective(params, s.in_h, s.in_w);
  const int64_t ipl = s.in_h * s.in_w, opl = s.out_h * s.out_w;
  if (opl == 1 && p.kernel_h == s.in_h && p.kernel_w == s.in_w && !p.pad_top && !p.pad_left && !p.pad_bottom &&
      !p.pad_right) {
    const bool is_max = p.method == PoolMethod::Max;
    parallel_for(0, s.batch * s.channels, [&](int64_t i) { output[i] = pool_detail::whole_plane(input + i * ipl, ipl, is_max); }, 64);
    return;
  }
  parallel_for(0, s.batch * s.channels, [&](int64_t i) {
    pool_detail::plane(p, s, input + i * ipl, output + i * opl);
  }, 4);
}

namespace reference {

template <typename T>
void pool2d(const Pool2dParams& params, const Pool2dShape& s, const T* input, T* output) {
  const Pool2dParams p = pool2d_effective(params, s.in_h, s.in_w);
  for (int64_t i = 0; i < s.batch * s.channels; ++i) {
    const T* in = input + i * s.in_h * s.in_w;
    for (int64_t oh = 0; oh < s.out_h; ++oh)
      for (int64_t ow = 0; ow < s.out_w; ++ow) {
        // Caffe's formulation, spelled out.
        int64_t hstart = oh * p.stride_h - p.pad_top, wstart = ow * p.stride_w - p.pad_left;
        int64_t hend = std::min(hstart + p.kernel_h, s.in_h + p.pad_bottom);
        int64_t wend = std::min(wstart + p.kernel_w, s.in_w + p.pad_right);
        const int64_t pool_size = (hend - hstart) * (wend - wstart);
        hstart = std::max<int64_t>(hstart, 0);
        wstart = std::max<int64_t>(wstart, 0);
        hend = std::min(hend, s.in_h);
        wend = std::min(wend, s.in_w);
        T& o = output[(i * s.out_h + oh) * s.out_w + ow];
        if (p.method == PoolMethod::Max) {
          T m = std::numeric_limits<T>::lowest();
          for (int64_t h = hstart; h < hend; ++h)
            for (int64_t w = wstart; w < wend; ++w) m = std::max(m, in[h * s.in_w + w]);
          o = m;
        } else {
          double sum = 0;
          int64_t valid = 0;
          for (int64_t h = hstart; h < hend; ++h)
            for (int64_t w = wstart; w < wend; ++w, ++valid) sum += in[h * s.in_w + w];
          const int64_t count = p.count_include_pad ? pool_size : valid;
          o = count > 0 ? static_cast<T>(sum / static_cast<double>(count)) : T(0);
        }
      }
  }
}

}  // namespace reference
}  // namespace octet::kernels
