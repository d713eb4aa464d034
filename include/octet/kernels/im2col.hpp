// im2col / col2im for NCHW 2-D convolution with stride, dilation and asymmetric padding.
// The column buffer is [channels * kernel_h * kernel_w, out_h * out_w] row-major, so a conv
// group is a contiguous row block and the GEMM is weight[O_g, I_g*kh*kw] x col.
// Only the begin pads matter here: the end pads are already folded into out_h / out_w.
// Depends on nothing in Octet beyond the standard library.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

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

// Columns for channels [c_begin, c_end) of one image (lets callers split work by channel).
template <typename T>
void im2col(const Im2colGeometry& g, const T* im, T* col, int64_t c_begin, int64_t c_end) {
  const int64_t plane = g.height * g.width, opl = g.out_h * g.out_w;
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
            std::fill(dst, dst + g.out_w, T(0));
            continue;
          }
          const T* row = src + ih * g.width;
          std::fill(dst, dst + lo, T(0));
          if (g.stride_w == 1) {
            if (hi > lo)
              std::memcpy(dst + lo, row + lo + off_w, static_cast<size_t>(hi - lo) * sizeof(T));
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = row[ow * g.stride_w + off_w];
          }
          std::fill(dst + hi, dst + g.out_w, T(0));
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
