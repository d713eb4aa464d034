// im2col / col2im for NCHW 2-D convolution with stride, dilation and asymmetric padding.
// The column buffer is [channels * kernel_h * kernel_w, out_h * out_w] row-major, so a conv
// group is a contiguous row block and the GEMM is weight[O_g, I_g*kh*kw] x col.
// Only the begin pads matter here: the end pads are already folded into out_h / out_w.
// Depends on nothing in Octet beyond the standard library.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace octet::kernels {

struct Im2colGeometry {
  int64_t channels = 0, height = 0, width = 0;  // the image side
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t pad_top = 0, pad_left = 0;
  int64_t stride_h = 1, stride_w = 1;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t out_h = 0, out_w = 0;  // the column side (spatial positions)
};

// floor(a / b) for b > 0 and any sign of a.
inline int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
inline int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

// The [lo, hi) range of output positions o whose input index o*stride + offset lies in
// [0, size). Lets the inner loops run branch-free over the valid middle.
inline void valid_output_range(int64_t offset, int64_t stride, int64_t size, int64_t out,
                               int64_t& lo, int64_t& hi) {
  lo = std::clamp<int64_t>(ceil_div(-offset, stride), 0, out);
  hi = std::clamp<int64_t>(floor_div(size - 1 - offset, stride) + 1, lo, out);
}

namespace im2col_detail {
// dst[0, n) = src[0, n) and zero fills. Rows of small feature maps are a few floats long: a
// memcpy call or a vectorised loop's scalar tail costs more than the copy, so on AVX-512 the
// tail is one masked move.
template <typename T>
inline void copy_row(T* __restrict dst, const T* __restrict src, int64_t n) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, _mm512_loadu_ps(src + i));
    if (i < n) {
      const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
      _mm512_mask_storeu_ps(dst + i, m, _mm512_maskz_loadu_ps(m, src + i));
    }
    return;
  }
#endif
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
}
template <typename T>
inline void zero_row(T* dst, int64_t n) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, _mm512_setzero_ps());
    if (i < n) _mm512_mask_storeu_ps(dst + i, static_cast<__mmask16>((1u << (n - i)) - 1u), _mm512_setzero_ps());
    return;
  }
#endif
  for (int64_t i = 0; i < n; ++i) dst[i] = T(0);
}
// dst[i] = src[2 * i] for i < n: stride-2 rows (downsampling convs, resnet's 7x7 stem) at
// vector speed on AVX-512, where the scalar gather cost more than the GEMM reading it.
template <typename T>
inline void copy_row_stride2(T* __restrict dst, const T* __restrict src, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    for (; i < n; i += 16) {
      // Masked loads read only source elements 2i .. 2(i + len - 1), never past the last used.
      const int64_t len = std::min<int64_t>(16, n - i), span = 2 * len - 1;
      const __mmask16 m0 = static_cast<__mmask16>(span >= 16 ? 0xFFFFu : (1u << span) - 1u);
      const __mmask16 m1 = static_cast<__mmask16>(span <= 16 ? 0u : (1u << (span - 16)) - 1u);
      const __m512 lo = _mm512_maskz_loadu_ps(m0, src + 2 * i);
      const __m512 hi = _mm512_maskz_loadu_ps(m1, src + 2 * i + 16);
      const __mmask16 out = static_cast<__mmask16>(len >= 16 ? 0xFFFFu : (1u << len) - 1u);
      _mm512_mask_storeu_ps(dst + i, out, _mm512_permutex2var_ps(lo, even, hi));
    }
    return;
  }
#endif
  for (; i < n; ++i) dst[i] = src[2 * i];
}
}  // namespace im2col_detail

// Columns for channels [c_begin, c_end) of one image (lets callers split work by channel).
// ld: the column buffer's row pitch, out_h * out_w when 0; a larger pitch lets several images
// sit side by side in one column matrix (image i at col + i * out_h * out_w).
template <typename T>
void im2col(const Im2colGeometry& g, const T* im, T* col, int64_t c_begin, int64_t c_end, int64_t ld = 0) {
  const int64_t plane = g.height * g.width, opl = ld > 0 ? ld : g.out_h * g.out_w;
  for (int64_t c = c_begin; c < c_end; ++c) {
    const T* src = im + c * plane;
    for (int64_t kh = 0; kh < g.kernel_h; ++kh) {
      for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
        T* dst = col + ((c * g.kernel_h + kh) * g.kernel_w + kw) * opl;
        const int64_t off_w = kw * g.dilation_w - g.pad_left;
        int64_t lo, hi;
        valid_output_range(off_w, g.stride_w, g.width, g.out_w, lo, hi);
        for (int64_t oh = 0; oh < g.out_h; ++oh, dst += g.out_w) {
          const int64_t ih = oh * g.stride_h - g.pad_top + kh * g.dilation_h;
          if (ih < 0 || ih >= g.height) {
            im2col_detail::zero_row(dst, g.out_w);
            continue;
          }
          const T* row = src + ih * g.width;
          im2col_detail::zero_row(dst, lo);
          if (g.stride_w == 1) {
            im2col_detail::copy_row(dst + lo, row + lo + off_w, hi - lo);
          } else if (g.stride_w == 2) {
            im2col_detail::copy_row_stride2(dst + lo, row + 2 * lo + off_w, hi - lo);
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = row[ow * g.stride_w + off_w];
          }
          im2col_detail::zero_row(dst + hi, g.out_w - hi);
        }
      }
    }
  }
}

template <typename T>
void im2col(const Im2colGeometry& g, const T* im, T* col) {
  im2col(g, im, col, 0, g.channels);
}

// im += col2im(col) for channels [c_begin, c_end): the adjoint of im2col, which is what
// deconvolution scatters. Channels are independent, so callers may split them across threads.
template <typename T>
void col2im_add(const Im2colGeometry& g, const T* col, T* im, int64_t c_begin, int64_t c_end) {
  const int64_t plane = g.height * g.width, opl = g.out_h * g.out_w;
  for (int64_t c = c_begin; c < c_end; ++c) {
    T* dst_im = im + c * plane;
    for (int64_t kh = 0; kh < g.kernel_h; ++kh) {
      for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
        const T* src = col + ((c * g.kernel_h + kh) * g.kernel_w + kw) * opl;
        const int64_t off_w = kw * g.dilation_w - g.pad_left;
        int64_t lo, hi;
        valid_output_range(off_w, g.stride_w, g.width, g.out_w, lo, hi);
        for (int64_t oh = 0; oh < g.out_h; ++oh, src += g.out_w) {
          const int64_t ih = oh * g.stride_h - g.pad_top + kh * g.dilation_h;
          if (ih < 0 || ih >= g.height) continue;
          T* row = dst_im + ih * g.width;
          if (g.stride_w == 1) {
            for (int64_t ow = lo; ow < hi; ++ow) row[ow + off_w] += src[ow];
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) row[ow * g.stride_w + off_w] += src[ow];
          }
        }
      }
    }
  }
}

template <typename T>
void col2im_add(const Im2colGeometry& g, const T* col, T* im) {
  col2im_add(g, col, im, 0, g.channels);
}

}  // namespace octet::kernels
