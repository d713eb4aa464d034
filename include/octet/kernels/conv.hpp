// 2-D convolution, NCHW, Caffe/ONNX weight layout [O, I/group, kh, kw]: groups (depthwise
// included), stride, dilation, asymmetric pads, optional bias and a fused activation applied
// while the output is written. reference::conv2d is the plain loop nest; conv2d picks
//   * Gemm1x1    1x1, stride 1, no pad: GEMM straight over the input (no im2col),
//   * Depthwise  group == in_c: on AVX-512, small stride-1 planes (multiplier 1) 16 pixels per
//                vector with masked loads (depthwise_avx512); else vectorised along the output row,
//   * Im2colGemm everything else. One group, AVX-512, output rows as wide as the input rows
//                (stride 1) or as its stride-s phase planes: direct, the GEMM reading the
//                input through masked loads (conv_gemm::run_direct_range; strided convs split
//                the input into phase planes in scratch first). Otherwise im2col into caller scratch, then with one group on
//                AVX2/AVX-512 one GEMM over several images side by side (batched_im2col_conv),
//                otherwise one GEMM per group and image.
// The caller sizes scratch once with conv2d_scratch_size (no allocation in forward).
// Depends on core/ and Eigen only (never ir/, engine/ or proto).
#pragma once
#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "octet/core/error.hpp"
#include "octet/core/parallel.hpp"
#include "octet/kernels/conv_gemm.hpp"
#include "octet/kernels/fused_activation.hpp"
#include "octet/kernels/gemm.hpp"
#include "octet/kernels/im2col.hpp"

namespace octet::kernels {

struct Conv2dParams {
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t group = 1;
  FusedActivation activation;
};

struct Conv2dShape {
  int64_t batch = 0, in_c = 0, in_h = 0, in_w = 0;
  int64_t out_c = 0, out_h = 0, out_w = 0;
};

// (in + pad_begin + pad_end - dilation*(k-1) - 1) / stride + 1, or <= 0 when nothing fits.
inline int64_t conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad_begin,
                             int64_t pad_end, int64_t dilation) {
  const int64_t span = in + pad_begin + pad_end - dilation * (k - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

// Validates the parameters against the input and returns the full shape (throws ShapeError).
inline Conv2dShape conv2d_shape(const Conv2dParams& p, int64_t batch, int64_t in_c, int64_t in_h,
                                int64_t in_w, int64_t out_c) {
  auto fail = [](const std::string& m) { throw ShapeError("convolution: " + m); };
  if (p.kernel_h < 1 || p.kernel_w < 1) fail("kernel size must be >= 1");
  if (p.stride_h < 1 || p.stride_w < 1) fail("stride must be >= 1");
  if (p.dilation_h < 1 || p.dilation_w < 1) fail("dilation must be >= 1");
  if (p.pad_top < 0 || p.pad_left < 0 || p.pad_bottom < 0 || p.pad_right < 0)
    fail("pads must be >= 0");
  if (p.group < 1) fail("group must be >= 1");
  if (in_c % p.group != 0)
    fail("input channels " + std::to_string(in_c) + " not divisible by group " + std::to_string(p.group));
  if (out_c % p.group != 0)
    fail("output channels " + std::to_string(out_c) + " not divisible by group " + std::to_string(p.group));
  Conv2dShape s{batch, in_c, in_h, in_w, out_c, 0, 0};
  s.out_h = conv_out_size(in_h, p.kernel_h, p.stride_h, p.pad_top, p.pad_bottom, p.dilation_h);
  s.out_w = conv_out_size(in_w, p.kernel_w, p.stride_w, p.pad_left, p.pad_right, p.dilation_w);
  if (s.out_h < 1 || s.out_w < 1)
    fail("kernel " + std::to_string(p.kernel_h) + "x" + std::to_string(p.kernel_w) +
         " (dilated) does not fit padded input " + std::to_string(in_h) + "x" + std::to_string(in_w));
  return s;
}

enum class Conv2dAlgo { Gemm1x1, Depthwise, Im2colGemm };

inline Conv2dAlgo conv2d_algo(const Conv2dParams& p, const Conv2dShape& s) {
  if (p.group > 1 && p.group == s.in_c) return Conv2dAlgo::Depthwise;
  if (p.kernel_h == 1 && p.kernel_w == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_top == 0 &&
      p.pad_left == 0 && p.pad_bottom == 0 && p.pad_right == 0)
    return Conv2dAlgo::Gemm1x1;
  return Conv2dAlgo::Im2colGemm;
}

namespace conv_detail {
inline int64_t col_size(const Conv2dParams& p, const Conv2dShape& s) {
  return s.in_c * p.kernel_h * p.kernel_w * s.out_h * s.out_w;
}
// Batch items run in parallel (one column buffer each) only when there are enough of them to
// occupy every thread; otherwise the GEMM itself is split.
inline bool batch_parallel(const Conv2dShape& s, int64_t threads) {
  return threads > 1 && s.batch >= threads;
}
}  // namespace conv_detail

// The GEMM algorithms run on conv_gemm (weights packed once, bias + activation in the tile
// epilogue) for float on AVX2/AVX-512 machines; elsewhere on gemm.hpp.
template <typename T>
inline constexpr bool kPackedGemm = std::is_same_v<T, float> && conv_gemm::kAvailable;

namespace conv_detail {
// Float im2col convs with one group put several images side by side in one column matrix and
// run one GEMM over all of them: resnet8 at batch 64 ran 64 GEMMs of 49-784 columns, each
// with a ragged last tile, and paid the per-GEMM costs 64 times.
template <typename T>
bool batched_im2col(const Conv2dParams& p, const Conv2dShape& s) {
  return kPackedGemm<T> && p.group == 1 && conv2d_algo(p, s) == Conv2dAlgo::Im2colGemm;
}
// Convolutions whose output rows are as wide as the (phase-split) input rows read the input
// directly (conv_gemm::run_direct_range): stride 1 with OW == W, or equal strides s <= 4 with
// OW == ceil(W / s), the input split into s x s phase planes first.
inline constexpr int64_t kDirectMaxStride = 4;
inline bool direct_conv(const Conv2dParams& p, const Conv2dShape& s) {
  return conv_gemm::kDirectAvailable && p.group == 1 && conv2d_algo(p, s) == Conv2dAlgo::Im2colGemm &&
         p.stride_h == p.stride_w && p.stride_w <= kDirectMaxStride && s.out_w == ceil_div(s.in_w, p.stride_w) &&
         p.kernel_h * p.kernel_w <= conv_gemm::kMaxTaps &&
         s.out_h * s.out_w < (int64_t{1} << 24);  // int32 lanes, exact float pixel division
}
// Floats of one image's phase planes (0 at stride 1, which reads the input in place).
inline int64_t direct_phase_size(const Conv2dParams& p, const Conv2dShape& s) {
  const int64_t st = p.stride_h;
  return st == 1 ? 0 : s.in_c * st * st * ceil_div(s.in_h, st) * ceil_div(s.in_w, st);
}
// Images per column matrix: as many as keep it within kBatchedColBytes (about half of L2, so
// the GEMM reads it from there), at least one.
inline constexpr int64_t kBatchedColBytes = int64_t{1} << 20;
inline int64_t batched_images(const Conv2dParams& p, const Conv2dShape& s) {
  return std::clamp<int64_t>(kBatchedColBytes / (col_size(p, s) * static_cast<int64_t>(sizeof(float))), 1, s.batch);
}
}  // namespace conv_detail

// Elements of scratch conv2d<float> needs with `threads` threads (0 for the direct algorithms).
inline int64_t conv2d_scratch_size(const Conv2dParams& p, const Conv2dShape& s,
                                   int64_t threads = num_threads()) {
  if (conv2d_algo(p, s) != Conv2dAlgo::Im2colGemm) return 0;
  const int64_t slots = conv_detail::batch_parallel(s, threads) ? threads : 1;  // one per batch worker
  if (conv_detail::direct_conv(p, s)) return conv_detail::direct_phase_size(p, s) * slots;
  if (conv_detail::batched_im2col<float>(p, s))
    return conv_detail::col_size(p, s) * conv_detail::batched_images(p, s) * slots;
  return conv_detail::col_size(p, s) * slots;
}

// Floats conv2d_pack_weights writes (0 when the packed path does not apply).
template <typename T = float>
int64_t conv2d_packed_weight_size(const Conv2dParams& p, const Conv2dShape& s) {
  if (!kPackedGemm<T> || conv2d_algo(p, s) == Conv2dAlgo::Depthwise) return 0;
  const int64_t Og = s.out_c / p.group, K = s.in_c / p.group * p.kernel_h * p.kernel_w;
  return p.group * conv_gemm::packed_a_size(Og, K);
}

// Packs [O, I/group, kh, kw] weights per group for conv_gemm; done once when weights are set.
inline void conv2d_pack_weights(const Conv2dParams& p, const Conv2dShape& s, const float* weight, float* out) {
  const int64_t Og = s.out_c / p.group, K = s.in_c / p.group * p.kernel_h * p.kernel_w;
  const int64_t per = conv_gemm::packed_a_size(Og, K);
  for (int64_t g = 0; g < p.group; ++g) conv_gemm::pack_a(Og, K, weight + g * Og * K, K, out + g * per);
}

namespace conv_detail {

// One output row of a 3x3 depthwise conv whose three input rows (starting at `rows`, row
// pitch W) all exist. Interior columns [lo, hi) take all nine taps without checks; the
// border columns check each tap. `off` is -pad_left.
template <typename T, int64_t S>
void dw3x3_row_s(const T* rows, int64_t W, int64_t off, const T* w, T bias, T* __restrict orow,
                 int64_t OW, int64_t lo, int64_t hi) {
  const T* __restrict r0 = rows;
  const T* __restrict r1 = rows + W;
  const T* __restrict r2 = rows + 2 * W;
  const T w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6], w7 = w[7], w8 = w[8];
  for (int64_t ow = lo; ow < hi; ++ow) {
    const int64_t x = ow * S + off;
    orow[ow] = bias + w0 * r0[x] + w1 * r0[x + 1] + w2 * r0[x + 2] + w3 * r1[x] + w4 * r1[x + 1] +
               w5 * r1[x + 2] + w6 * r2[x] + w7 * r2[x + 1] + w8 * r2[x + 2];
  }
  auto edge = [&](int64_t ow) {
    T acc = bias;
    for (int64_t kw = 0; kw < 3; ++kw) {
      const int64_t iw = ow * S + off + kw;
      if (iw >= 0 && iw < W) acc += w[kw] * r0[iw] + w[3 + kw] * r1[iw] + w[6 + kw] * r2[iw];
    }
    orow[ow] = acc;
  };
  for (int64_t ow = 0; ow < lo; ++ow) edge(ow);
  for (int64_t ow = hi; ow < OW; ++ow) edge(ow);
}

template <typename T>
void dw3x3_row(const T* rows, int64_t W, int64_t stride, int64_t off, const T* w, T bias, T* orow,
               int64_t OW, int64_t lo, int64_t hi) {
  if (stride == 1) dw3x3_row_s<T, 1>(rows, W, off, w, bias, orow, OW, lo, hi);
  else dw3x3_row_s<T, 2>(rows, W, off, w, bias, orow, OW, lo, hi);
}

// One output plane of a depthwise conv: `in` is the input channel plane, `w` its kh*kw taps.
template <typename T>
void depthwise_plane(const Conv2dParams& p, const Conv2dShape& s, const T* in, const T* w, T bias,
                     T* out) {
  const int64_t H = s.in_h, W = s.in_w, OW = s.out_w, KH = p.kernel_h, KW = p.kernel_w;
  const int64_t sw = p.stride_w;
  const bool k3 = KH == 3 && KW == 3 && p.dilation_w == 1 && (sw == 1 || sw == 2);
  // Interior of a 3x3 row: all three taps inside the image.
  int64_t in_lo = 0, in_hi = 0;
  if (k3) {
    int64_t lo2, hi2;
    valid_output_range(-p.pad_left, sw, W, OW, in_lo, in_hi);
    valid_output_range(2 - p.pad_left, sw, W, OW, lo2, hi2);
    in_lo = std::max(in_lo, lo2);
    in_hi = std::max(in_lo, std::min(in_hi, hi2));
  }
  for (int64_t oh = 0; oh < s.out_h; ++oh) {
    T* orow = out + oh * OW;
    const int64_t ih0 = oh * p.stride_h - p.pad_top;
    if (k3 && p.dilation_h == 1 && ih0 >= 0 && ih0 + 2 < H) {
      // All three input rows exist: the nine taps in one pass, bias folded in.
      dw3x3_row(in + ih0 * W, W, sw, -p.pad_left, w, bias, orow, OW, in_lo, in_hi);
      bias_activation(orow, OW, T(0), p.activation);
      continue;
    }
    std::fill(orow, orow + OW, T(0));
    for (int64_t kh = 0; kh < KH; ++kh) {
      const int64_t ih = ih0 + kh * p.dilation_h;
      if (ih < 0 || ih >= H) continue;
      const T* irow = in + ih * W;
      const T* wk = w + kh * KW;
      if (k3) {
        const T w0 = wk[0], w1 = wk[1], w2 = wk[2];
        const int64_t off = -p.pad_left;
        if (sw == 1) {
          for (int64_t ow = in_lo; ow < in_hi; ++ow) {
            const T* r = irow + ow + off;
            orow[ow] += w0 * r[0] + w1 * r[1] + w2 * r[2];
          }
        } else {
          for (int64_t ow = in_lo; ow < in_hi; ++ow) {
            const T* r = irow + 2 * ow + off;
            orow[ow] += w0 * r[0] + w1 * r[1] + w2 * r[2];
          }
        }
        // Row borders: taps checked one by one.
        auto edge = [&](int64_t ow) {
          T acc = 0;
          for (int64_t kw = 0; kw < 3; ++kw) {
            const int64_t iw = ow * sw + off + kw;
            if (iw >= 0 && iw < W) acc += wk[kw] * irow[iw];
          }
          orow[ow] += acc;
        };
        for (int64_t ow = 0; ow < in_lo; ++ow) edge(ow);
        for (int64_t ow = in_hi; ow < OW; ++ow) edge(ow);
        continue;
      }
      for (int64_t kw = 0; kw < KW; ++kw) {
        const T wv = wk[kw];
        const int64_t off = kw * p.dilation_w - p.pad_left;
        int64_t lo, hi;
        valid_output_range(off, sw, W, OW, lo, hi);
        if (sw == 1) {
          for (int64_t ow = lo; ow < hi; ++ow) orow[ow] += wv * irow[ow + off];
        } else {
          for (int64_t ow = lo; ow < hi; ++ow) orow[ow] += wv * irow[ow * sw + off];
        }
      }
    }
    bias_activation(orow, OW, bias, p.activation);
  }
}

template <typename T>
void bias_act_planes(const Conv2dParams& p, int64_t channels, int64_t plane, const T* bias,
                     T* out) {
  for (int64_t c = 0; c < channels; ++c)
    bias_activation(out + c * plane, plane, bias ? bias[c] : T(0), p.activation);
}

// One image through GEMM (1x1) or im2col + GEMM; `col` is unused for 1x1.
template <typename T>
void gemm_image(const Conv2dParams& p, const Conv2dShape& s, Conv2dAlgo algo, const T* in,
                const T* weight, const T* bias, T* out, T* col, bool inner_parallel,
                const T* packed = nullptr) {
  const int64_t G = p.group, Ig = s.in_c / G, Og = s.out_c / G;
  const int64_t opl = s.out_h * s.out_w, K = Ig * p.kernel_h * p.kernel_w;
  const T* src = in;
  if (algo == Conv2dAlgo::Im2colGemm) {
    const Im2colGeometry g{s.in_c,     s.in_h,       s.in_w,       p.kernel_h,   p.kernel_w,
                           p.pad_top,  p.pad_left,   p.stride_h,   p.stride_w,   p.dilation_h,
                           p.dilation_w, s.out_h,    s.out_w};
    // Small column buffers are copied faster than a second thread wakes up.
    if (inner_parallel && col_size(p, s) >= (int64_t{1} << 17)) {
      parallel_for(0, s.in_c, [&](int64_t c) { im2col(g, in, col, c, c + 1); });
    } else {
      im2col(g, in, col);
    }
    src = col;
  }
  if constexpr (kPackedGemm<T>) {
    if (packed) {
      const int64_t per = conv_gemm::packed_a_size(Og, K);
      for (int64_t gi = 0; gi < G; ++gi)
        conv_gemm::run(Og, opl, K, packed + gi * per, src + gi * K * opl, opl, bias ? bias + gi * Og : nullptr,
                       out + gi * Og * opl, opl, p.activation, inner_parallel);
      return;
    }
  }
  for (int64_t gi = 0; gi < G; ++gi) {
    const T* a = weight + gi * Og * K;
    const T* b = src + gi * K * opl;
    T* c = out + gi * Og * opl;
    if (inner_parallel) gemm_parallel(false, false, Og, opl, K, T(1), a, K, b, opl, T(0), c, opl);
    else gemm(false, false, Og, opl, K, T(1), a, K, b, opl, T(0), c, opl);
  }
  if (inner_parallel) {
    parallel_for(0, s.out_c, [&](int64_t oc) {
      bias_activation(out + oc * opl, opl, bias ? bias[oc] : T(0), p.activation);
    });
  } else {
    bias_act_planes(p, s.out_c, opl, bias, out);
  }
}

// The batched_im2col algorithm: groups of images im2col'd side by side into one scratch slot
// and multiplied at once, the output columns scattered back to NCHW by the GEMM's ColumnMap.
// Threads take whole groups when the batch covers them, else split each GEMM.
template <typename T>
void batched_im2col_conv(const Conv2dParams& p, const Conv2dShape& s, const T* input, const T* bias, T* output,
                         std::span<T> scratch, const T* packed) {
  const Im2colGeometry g{s.in_c,     s.in_h,       s.in_w,       p.kernel_h,   p.kernel_w,
                         p.pad_top,  p.pad_left,   p.stride_h,   p.stride_w,   p.dilation_h,
                         p.dilation_w, s.out_h,    s.out_w};
  const int64_t M = s.out_c, K = s.in_c * p.kernel_h * p.kernel_w, opl = s.out_h * s.out_w;
  const int64_t in_img = s.in_c * s.in_h * s.in_w, out_img = s.out_c * opl, col = col_size(p, s);
  const int64_t threads = num_threads();
  const int64_t slot = col * batched_images(p, s);
  const int64_t slots = static_cast<int64_t>(scratch.size()) / slot;
  if (slots < 1)
    throw ShapeError("convolution: scratch of " + std::to_string(scratch.size()) + " elements is smaller than the " +
                     std::to_string(slot) + " im2col needs");
  const conv_gemm::ColumnMap cm{opl, out_img, opl};
  // Images [i0, i1) into `buf`, pitch (i1 - i0) * opl, then one GEMM.
  auto run_group = [&](int64_t i0, int64_t i1, T* buf, bool inner_parallel) {
    const int64_t n = (i1 - i0) * opl;
    for (int64_t i = i0; i < i1; ++i) {
      const T* img = input + i * in_img;
      T* dst = buf + (i - i0) * opl;
      // Small column buffers are copied faster than a second thread wakes up.
      if (inner_parallel && col >= (int64_t{1} << 17))
        parallel_for(0, s.in_c, [&](int64_t c) { im2col(g, img, dst, c, c + 1, n); });
      else
        im2col(g, img, dst, 0, s.in_c, n);
    }
    conv_gemm::run(M, n, K, packed, buf, n, bias, output + i0 * out_img, cm, p.activation, inner_parallel);
  };
  int64_t per = batched_images(p, s);
  if (batch_parallel(s, threads) && slots >= threads) {
    // Worker w owns slot w; groups sized so every worker gets the same number of images.
    per = std::min(per, (s.batch + threads - 1) / threads);
    parallel_for(0, threads, [&](int64_t w) {
      for (int64_t i0 = w * per; i0 < s.batch; i0 += threads * per)
        run_group(i0, std::min(s.batch, i0 + per), scratch.data() + w * slot, false);
    });
    return;
  }
  for (int64_t i0 = 0; i0 < s.batch; i0 += per) run_group(i0, std::min(s.batch, i0 + per), scratch.data(), threads > 1);
}

#if defined(__AVX512F__)
// The taps of a direct conv: at stride s, tap (kh, kw) reads input row s*oh + kh*dh - pad_top,
// which is row oh + dy of phase py, dy = floor((kh*dh - pad_top) / s), py its remainder.
inline conv_gemm::DirectGeometry direct_geometry(const Conv2dParams& p, const Conv2dShape& s) {
  conv_gemm::DirectGeometry g;
  const int64_t st = p.stride_h, pitch = s.out_w, rows = ceil_div(s.in_h, st);
  g.out_h = s.out_h;
  g.out_w = s.out_w;
  g.channel_stride = st == 1 ? s.in_h * s.in_w : st * st * rows * pitch;
  g.taps = p.kernel_h * p.kernel_w;
  for (int64_t kh = 0, k = 0; kh < p.kernel_h; ++kh)
    for (int64_t kw = 0; kw < p.kernel_w; ++kw, ++k) {
      const int64_t ry = kh * p.dilation_h - p.pad_top, rx = kw * p.dilation_w - p.pad_left;
      const int64_t dy = floor_div(ry, st), dx = floor_div(rx, st), py = ry - dy * st, px = rx - dx * st;
      conv_gemm::DirectTap& t = g.tap[k];
      t.dy = dy;
      t.dx = dx;
      t.rows = ceil_div(s.in_h - py, st);  // input rows of phase py
      t.cols = ceil_div(s.in_w - px, st);
      t.offset = (py * st + px) * rows * pitch + dy * pitch + dx;
    }
  return g;
}

// Phase planes of one image: out[c][py][px][r][j] = in[c][r*s + py][j*s + px], row pitch
// ceil(W / s); only the phases some tap reads, and only their in-image elements (the masks
// never load the rest).
inline void direct_phase_split(const Conv2dParams& p, const Conv2dShape& s, const conv_gemm::DirectGeometry& g,
                               const float* in, float* out) {
  const int64_t st = p.stride_h, pitch = s.out_w, rows = ceil_div(s.in_h, st);
  bool used[kDirectMaxStride][kDirectMaxStride] = {};
  for (int64_t k = 0; k < g.taps; ++k) {
    const int64_t ph = (g.tap[k].offset - g.tap[k].dy * pitch - g.tap[k].dx) / (rows * pitch);
    used[ph / st][ph % st] = true;
  }
  for (int64_t c = 0; c < s.in_c; ++c)
    for (int64_t py = 0; py < st; ++py)
      for (int64_t px = 0; px < st; ++px) {
        if (!used[py][px]) continue;
        float* dst = out + c * g.channel_stride + (py * st + px) * rows * pitch;
        const int64_t cols = ceil_div(s.in_w - px, st);
        for (int64_t r = 0, ih = py; ih < s.in_h; ++r, ih += st) {
          const float* src = in + (c * s.in_h + ih) * s.in_w + px;
          if (st == 2) im2col_detail::copy_row_stride2(dst + r * pitch, src, cols);
          else
            for (int64_t j = 0; j < cols; ++j) dst[r * pitch + j] = src[j * st];
        }
      }
}

// Depthwise (one output channel per input channel, stride 1, output rows as wide as input
// rows) on AVX-512: the direct conv's taps and lane masks (direct_geometry, tap_mask), 16
// output pixels of a plane per vector, the masks computed once per block of pixels and reused
// for every channel. The per-row kernel spent most of its time on the borders and loop overhead of
// 7x7 and 14x14 planes (MobileNetV2's last blocks ran at 2 GFLOP/s). Measured against it:
// 2-3.5x faster on 7-28 wide planes, slower on 56+ wide rows (its inner loop is already long
// there; a gather version for stride 2 was 2x slower than it), so only planes narrower than
// 32 take this one.
inline bool depthwise_vectorised(const Conv2dParams& p, const Conv2dShape& s) {
  return s.out_c == s.in_c && p.kernel_h * p.kernel_w <= conv_gemm::kMaxTaps && s.out_w < 32 &&
         s.out_h * s.out_w < (int64_t{1} << 24) &&  // int32 lanes, exact float pixel division
         p.stride_h == 1 && p.stride_w == 1 && s.out_w == s.in_w;
}

inline void depthwise_avx512(const Conv2dParams& p, const Conv2dShape& s, const float* in, const float* w,
                             const float* bias, float* out) {
  constexpr int64_t kChunks = 8;  // 16-pixel vectors per block of shared masks
  const conv_gemm::DirectGeometry g = direct_geometry(p, s);
  const int64_t opl = s.out_h * s.out_w, planes = s.batch * s.out_c;
  const int64_t blocks = (opl + 16 * kChunks - 1) / (16 * kChunks);
  const int64_t threads = num_threads();
  const bool worth = threads > 1 && planes * opl * g.taps >= (int64_t{1} << 20) * threads;
  const int64_t workers = worth ? threads : 1;
  auto work = [&](int64_t wk) {
    const int64_t c0 = planes * wk / workers, c1 = planes * (wk + 1) / workers;
    int64_t off[kChunks][conv_gemm::kMaxTaps];
    __mmask16 mask[kChunks][conv_gemm::kMaxTaps], lanes[kChunks];
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t q0 = b * kChunks, nq = std::min(kChunks, (opl + 15) / 16 - q0);
      for (int64_t q = 0; q < nq; ++q) {
        const int64_t n0 = (q0 + q) * 16, left = std::min<int64_t>(16, opl - n0);
        lanes[q] = static_cast<__mmask16>(left >= 16 ? 0xFFFFu : (1u << left) - 1u);
        __m512i oh, ow;
        conv_gemm::pixel_coords(n0, g.out_w, oh, ow);
        for (int64_t k = 0; k < g.taps; ++k) {
          mask[q][k] = conv_gemm::tap_mask(lanes[q], oh, ow, g.tap[k]);
          off[q][k] = n0 + g.tap[k].offset;
        }
      }
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t oc = c % s.out_c;
        const float* src = in + c * g.channel_stride;
        const float* wc = w + oc * g.taps;
        float* dst = out + c * opl + q0 * 16;
        const __m512 b0 = _mm512_set1_ps(bias ? bias[oc] : 0.f);
        for (int64_t q = 0; q < nq; ++q) {
          __m512 acc = b0;
          for (int64_t k = 0; k < g.taps; ++k)
            acc = _mm512_fmadd_ps(_mm512_set1_ps(wc[k]), _mm512_maskz_loadu_ps(mask[q][k], src + off[q][k]), acc);
          _mm512_mask_storeu_ps(dst + q * 16, lanes[q], conv_gemm::vactivate(acc, p.activation));
        }
      }
    }
  };
  if (workers > 1) parallel_for(0, workers, work);
  else work(0);
}

// direct_conv: images across threads when the batch covers them (a phase slot each), else
// each image's tiles (or, with few tiles, its weight blocks).
inline void direct_conv_run(const Conv2dParams& p, const Conv2dShape& s, const float* input, const float* bias,
                            float* output, std::span<float> scratch, const float* packed) {
  const conv_gemm::DirectGeometry g = direct_geometry(p, s);
  const int64_t M = s.out_c, opl = s.out_h * s.out_w, K = s.in_c * g.taps;
  const int64_t in_img = s.in_c * s.in_h * s.in_w, out_img = s.out_c * opl;
  const int64_t tiles = (opl + conv_gemm::kNR - 1) / conv_gemm::kNR, mbs = conv_gemm::m_blocks(M);
  const int64_t phase = direct_phase_size(p, s);
  const int64_t slots = phase > 0 ? static_cast<int64_t>(scratch.size()) / phase : INT64_MAX;
  if (slots < 1)
    throw ShapeError("convolution: scratch of " + std::to_string(scratch.size()) + " elements is smaller than the " +
                     std::to_string(phase) + " the strided direct kernel needs");
  // Image n's input as the kernel reads it: in place at stride 1, else split into `slot`.
  auto source = [&](int64_t n, int64_t slot) -> const float* {
    if (phase == 0) return input + n * in_img;
    float* buf = scratch.data() + slot * phase;
    direct_phase_split(p, s, g, input + n * in_img, buf);
    return buf;
  };
  auto run = [&](const float* src, int64_t n, int64_t mb0, int64_t mb1, int64_t t0, int64_t t1) {
    conv_gemm::run_direct_range(g, s.in_c, M, packed, src, bias, output + n * out_img, p.activation, mb0, mb1, t0, t1);
  };
  const int64_t threads = num_threads();
  if (batch_parallel(s, threads) && slots >= threads) {
    parallel_for(0, threads, [&](int64_t w) {
      for (int64_t n = w; n < s.batch; n += threads) run(source(n, w), n, 0, mbs, 0, tiles);
    });
    return;
  }
  // Below ~1M MACs per thread, waking the workers costs more than they save (conv_gemm::run).
  const bool worth = threads > 1 && M * opl * K >= (int64_t{1} << 20) * threads;
  for (int64_t n = 0; n < s.batch; ++n) {
    const float* src = source(n, 0);
    if (!worth) {
      run(src, n, 0, mbs, 0, tiles);
    } else if (tiles >= 2 * threads || mbs < threads) {
      parallel_for(0, threads, [&](int64_t w) { run(src, n, 0, mbs, tiles * w / threads, tiles * (w + 1) / threads); });
    } else {
      parallel_for(0, threads, [&](int64_t w) { run(src, n, mbs * w / threads, mbs * (w + 1) / threads, 0, tiles); });
    }
  }
}
#endif

}  // namespace conv_detail

// output[N, O, OH, OW] = act(conv(input[N, C, H, W], weight) + bias). bias may be null.
// scratch must hold conv2d_scratch_size(p, s, t) elements for some t >= 1 (fewer slots than
// threads just means less batch parallelism). packed: conv2d_pack_weights of `weight`, or null
// (then the weights are packed here into a grow-only per-thread buffer; runtimes pass them).
template <typename T>
void conv2d(const Conv2dParams& p, const Conv2dShape& s, const T* input, const T* weight,
            const T* bias, T* output, std::span<T> scratch, const T* packed = nullptr) {
  if constexpr (kPackedGemm<T>) {
    const int64_t psize = conv2d_packed_weight_size<T>(p, s);
    if (psize > 0 && !packed) {
      thread_local std::vector<float> buf;
      if (static_cast<int64_t>(buf.size()) < psize) buf.resize(static_cast<size_t>(psize));
      conv2d_pack_weights(p, s, weight, buf.data());
      packed = buf.data();
    }
  }
  const Conv2dAlgo algo = conv2d_algo(p, s);
  const int64_t in_img = s.in_c * s.in_h * s.in_w, out_img = s.out_c * s.out_h * s.out_w;
  const int64_t threads = num_threads();

  if (algo == Conv2dAlgo::Depthwise) {
#if defined(__AVX512F__)
    if constexpr (std::is_same_v<T, float>) {
      if (conv_detail::depthwise_vectorised(p, s)) {
        conv_detail::depthwise_avx512(p, s, input, weight, bias, output);
        return;
      }
    }
#endif
    const int64_t mult = s.out_c / s.in_c, taps = p.kernel_h * p.kernel_w;
    const int64_t opl = s.out_h * s.out_w;
    parallel_for(0, s.batch * s.out_c, [&](int64_t i) {
      const int64_t n = i / s.out_c, oc = i % s.out_c;
      conv_detail::depthwise_plane(p, s, input + n * in_img + (oc / mult) * s.in_h * s.in_w,
                                   weight + oc * taps, bias ? bias[oc] : T(0),
                                   output + n * out_img + oc * opl);
    });
    return;
  }

  if constexpr (kPackedGemm<T>) {
#if defined(__AVX512F__)
    if (conv_detail::direct_conv(p, s)) {
      conv_detail::direct_conv_run(p, s, input, bias, output, scratch, packed);
      return;
    }
#endif
    if (conv_detail::batched_im2col<T>(p, s)) {
      conv_detail::batched_im2col_conv(p, s, input, bias, output, scratch, packed);
      return;
    }
  }
  const int64_t col = algo == Conv2dAlgo::Im2colGemm ? conv_detail::col_size(p, s) : 0;
  int64_t slots = 1;
  if (col > 0) {
    slots = static_cast<int64_t>(scratch.size()) / col;
    if (slots < 1)
      throw ShapeError("convolution: scratch of " + std::to_string(scratch.size()) +
                       " elements is smaller than the " + std::to_string(col) + " im2col needs");
  }
  const int64_t workers = col > 0 ? std::min({slots, threads, s.batch}) : std::min(threads, s.batch);
  if (conv_detail::batch_parallel(s, threads) && workers == threads) {
    // Worker w owns scratch slot w and batch items w, w + workers, ...
    parallel_for(0, workers, [&](int64_t w) {
      T* colbuf = col > 0 ? scratch.data() + w * col : nullptr;
      for (int64_t n = w; n < s.batch; n += workers)
        conv_detail::gemm_image(p, s, algo, input + n * in_img, weight, bias, output + n * out_img,
                                colbuf, false, packed);
    });
    return;
  }
  for (int64_t n = 0; n < s.batch; ++n)
    conv_detail::gemm_image(p, s, algo, input + n * in_img, weight, bias, output + n * out_img,
                            col > 0 ? scratch.data() : nullptr, threads > 1, packed);
}

namespace reference {

template <typename T>
void conv2d(const Conv2dParams& p, const Conv2dShape& s, const T* input, const T* weight,
            const T* bias, T* output) {
  const int64_t Ig = s.in_c / p.group, Og = s.out_c / p.group;
  for (int64_t n = 0; n < s.batch; ++n)
    for (int64_t oc = 0; oc < s.out_c; ++oc) {
      const int64_t g = oc / Og;
      for (int64_t oh = 0; oh < s.out_h; ++oh)
        for (int64_t ow = 0; ow < s.out_w; ++ow) {
          double acc = bias ? static_cast<double>(bias[oc]) : 0.0;
          for (int64_t ic = 0; ic < Ig; ++ic)
            for (int64_t kh = 0; kh < p.kernel_h; ++kh)
              for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
                const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
                const int64_t iw = ow * p.stride_w - p.pad_left + kw * p.dilation_w;
                if (ih < 0 || ih >= s.in_h || iw < 0 || iw >= s.in_w) continue;
                const T x = input[((n * s.in_c + g * Ig + ic) * s.in_h + ih) * s.in_w + iw];
                const T w = weight[((oc * Ig + ic) * p.kernel_h + kh) * p.kernel_w + kw];
                acc += static_cast<double>(x) * static_cast<double>(w);
              }
          output[((n * s.out_c + oc) * s.out_h + oh) * s.out_w + ow] =
              p.activation(static_cast<T>(acc));
        }
    }
}

}  // namespace reference

// Multiply-accumulates of one forward, times two (the FLOP convention of `ufw info`).
inline int64_t conv2d_flops(const Conv2dParams& p, const Conv2dShape& s) {
  return 2 * s.batch * s.out_c * s.out_h * s.out_w * (s.in_c / p.group) * p.kernel_h * p.kernel_w;
}

}  // namespace octet::kernels
