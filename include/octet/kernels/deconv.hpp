// 2-D transposed convolution (Caffe Deconvolution / ONNX ConvTranspose), NCHW, Caffe weight
// layout [I, O/group, kh, kw]: groups, stride, dilation, asymmetric pads, output_padding,
// optional bias and fused activation. The optimised path is GEMM (weight^T x input into a
// column buffer) + col2im scatter, the adjoint of conv's im2col; reference::deconv2d scatters
// every input pixel through the kernel in plain loops.
// Depends on core/ and Eigen only (never ir/, engine/ or proto).
#pragma once
#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "octet/core/error.hpp"
#include "octet/core/parallel.hpp"
#include "octet/kernels/fused_activation.hpp"
#include "octet/kernels/gemm.hpp"
#include "octet/kernels/im2col.hpp"

namespace octet::kernels {

struct Deconv2dParams {
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t output_pad_h = 0, output_pad_w = 0;  // extra rows/columns at the end (ONNX output_padding)
  int64_t group = 1;
  FusedActivation activation;
};

struct Deconv2dShape {
  int64_t batch = 0, in_c = 0, in_h = 0, in_w = 0;
  int64_t out_c = 0, out_h = 0, out_w = 0;
};

// (in - 1)*stride - pad_begin - pad_end + dilation*(k - 1) + 1 + output_pad
inline int64_t deconv_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad_begin,
                               int64_t pad_end, int64_t dilation, int64_t output_pad) {
  return (in - 1) * stride - pad_begin - pad_end + dilation * (k - 1) + 1 + output_pad;
}

inline Deconv2dShape deconv2d_shape(const Deconv2dParams& p, int64_t batch, int64_t in_c,
                                    int64_t in_h, int64_t in_w, int64_t out_c) {
  auto fail = [](const std::string& m) { throw ShapeError("deconvolution: " + m); };
  if (p.kernel_h < 1 || p.kernel_w < 1) fail("kernel size must be >= 1");
  if (p.stride_h < 1 || p.stride_w < 1) fail("stride must be >= 1");
  if (p.dilation_h < 1 || p.dilation_w < 1) fail("dilation must be >= 1");
  if (p.pad_top < 0 || p.pad_left < 0 || p.pad_bottom < 0 || p.pad_right < 0 ||
      p.output_pad_h < 0 || p.output_pad_w < 0)
    fail("pads must be >= 0");
  if (p.group < 1) fail("group must be >= 1");
  if (in_c % p.group != 0)
    fail("input channels " + std::to_string(in_c) + " not divisible by group " + std::to_string(p.group));
  if (out_c % p.group != 0)
    fail("output channels " + std::to_string(out_c) + " not divisible by group " + std::to_string(p.group));
  if (in_h < 1 || in_w < 1) fail("empty input");
  Deconv2dShape s{batch, in_c, in_h, in_w, out_c, 0, 0};
  s.out_h = deconv_out_size(in_h, p.kernel_h, p.stride_h, p.pad_top, p.pad_bottom, p.dilation_h,
                            p.output_pad_h);
  s.out_w = deconv_out_size(in_w, p.kernel_w, p.stride_w, p.pad_left, p.pad_right, p.dilation_w,
                            p.output_pad_w);
  if (s.out_h < 1 || s.out_w < 1)
    fail("pads remove the whole output (" + std::to_string(s.out_h) + "x" + std::to_string(s.out_w) + ")");
  return s;
}

namespace deconv_detail {
inline int64_t col_size(const Deconv2dParams& p, const Deconv2dShape& s) {
  return (s.out_c / p.group) * p.kernel_h * p.kernel_w * s.in_h * s.in_w;
}
inline bool batch_parallel(const Deconv2dShape& s, int64_t threads) {
  return threads > 1 && s.batch >= threads;
}

template <typename T>
void image(const Deconv2dParams& p, const Deconv2dShape& s, const T* in, const T* weight,
           const T* bias, T* out, T* col, bool inner_parallel) {
  const int64_t G = p.group, Ig = s.in_c / G, Og = s.out_c / G;
  const int64_t ipl = s.in_h * s.in_w, opl = s.out_h * s.out_w;
  const int64_t M = Og * p.kernel_h * p.kernel_w;
  // col2im's "image" is the deconv output and its "columns" are the input positions.
  const Im2colGeometry geo{Og,          s.out_h,      s.out_w,      p.kernel_h, p.kernel_w,
                           p.pad_top,   p.pad_left,   p.stride_h,   p.stride_w, p.dilation_h,
                           p.dilation_w, s.in_h,      s.in_w};
  for (int64_t g = 0; g < G; ++g) {
    const T* w = weight + g * Ig * M;  // [Ig, Og*kh*kw]
    if (inner_parallel) gemm_parallel(true, false, M, ipl, Ig, T(1), w, M, in + g * Ig * ipl, ipl, T(0), col, ipl);
    else gemm(true, false, M, ipl, Ig, T(1), w, M, in + g * Ig * ipl, ipl, T(0), col, ipl);
    T* og = out + g * Og * opl;
    auto channel = [&](int64_t c) {
      T* plane = og + c * opl;
      std::fill(plane, plane + opl, T(0));
      col2im_add(geo, col, og, c, c + 1);
      bias_activation(plane, opl, bias ? bias[g * Og + c] : T(0), p.activation);
    };
    if (inner_parallel) parallel_for(0, Og, channel);
    else for (int64_t c = 0; c < Og; ++c) channel(c);
  }
}
}  // namespace deconv_detail

inline int64_t deconv2d_scratch_size(const Deconv2dParams& p, const Deconv2dShape& s,
                                     int64_t threads = num_threads()) {
  return deconv_detail::col_size(p, s) * (deconv_detail::batch_parallel(s, threads) ? threads : 1);
}

// output[N, O, OH, OW] = act(deconv(input[N, C, H, W], weight[C, O/g, kh, kw]) + bias).
template <typename T>
void deconv2d(const Deconv2dParams& p, const Deconv2dShape& s, const T* input, const T* weight,
              const T* bias, T* output, std::span<T> scratch) {
  const int64_t col = deconv_detail::col_size(p, s);
  const int64_t slots = static_cast<int64_t>(scratch.size()) / col;
  if (slots < 1)
    throw ShapeError("deconvolution: scratch of " + std::to_string(scratch.size()) +
                     " elements is smaller than the " + std::to_string(col) + " col2im needs");
  const int64_t in_img = s.in_c * s.in_h * s.in_w, out_img = s.out_c * s.out_h * s.out_w;
  const int64_t threads = num_threads();
  const int64_t workers = std::min({slots, threads, s.batch});
  if (deconv_detail::batch_parallel(s, threads) && workers == threads) {
    parallel_for(0, workers, [&](int64_t w) {
      for (int64_t n = w; n < s.batch; n += workers)
        deconv_detail::image(p, s, input + n * in_img, weight, bias, output + n * out_img,
                             scratch.data() + w * col, false);
    });
    return;
  }
  for (int64_t n = 0; n < s.batch; ++n)
    deconv_detail::image(p, s, input + n * in_img, weight, bias, output + n * out_img,
                         scratch.data(), threads > 1);
}

namespace reference {

// acc[oc * OH * OW + oh * OW + ow] += x * w for every input pixel of image n and every tap that
// lands on (oh, ow), in input order: the scatter both reference deconvs (float and int8)
// define themselves by; Acc is the accumulator type (double, int32).
template <typename Acc, typename TI, typename TW>
void deconv2d_scatter_add(const Deconv2dParams& p, const Deconv2dShape& s, int64_t n, const TI* input,
                          const TW* weight, Acc* acc) {
  const int64_t Ig = s.in_c / p.group, Og = s.out_c / p.group;
  const int64_t opl = s.out_h * s.out_w;
  for (int64_t ic = 0; ic < s.in_c; ++ic) {
    const int64_t g = ic / Ig;
    for (int64_t ih = 0; ih < s.in_h; ++ih)
      for (int64_t iw = 0; iw < s.in_w; ++iw) {
        const Acc x = static_cast<Acc>(input[((n * s.in_c + ic) * s.in_h + ih) * s.in_w + iw]);
        for (int64_t oc = 0; oc < Og; ++oc)
          for (int64_t kh = 0; kh < p.kernel_h; ++kh)
            for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
              const int64_t oh = ih * p.stride_h - p.pad_top + kh * p.dilation_h;
              const int64_t ow = iw * p.stride_w - p.pad_left + kw * p.dilation_w;
              if (oh < 0 || oh >= s.out_h || ow < 0 || ow >= s.out_w) continue;
              const Acc w = static_cast<Acc>(weight[((ic * Og + oc) * p.kernel_h + kh) * p.kernel_w + kw]);
              acc[(g * Og + oc) * opl + oh * s.out_w + ow] += x * w;
            }
      }
  }
}

template <typename T>
void deconv2d(const Deconv2dParams& p, const Deconv2dShape& s, const T* input, const T* weight,
              const T* bias, T* output) {
  const int64_t opl = s.out_h * s.out_w;
  std::vector<double> acc(static_cast<size_t>(s.out_c * opl));
  for (int64_t n = 0; n < s.batch; ++n) {
    for (int64_t oc = 0; oc < s.out_c; ++oc)
      std::fill(acc.begin() + oc * opl, acc.begin() + (oc + 1) * opl, bias ? double(bias[oc]) : 0.0);
    deconv2d_scatter_add(p, s, n, input, weight, acc.data());
    for (int64_t i = 0; i < s.out_c * opl; ++i)
      output[n * s.out_c * opl + i] = p.activation(static_cast<T>(acc[static_cast<size_t>(i)]));
  }
}

}  // namespace reference

inline int64_t deconv2d_flops(const Deconv2dParams& p, const Deconv2dShape& s) {
  return 2 * s.batch * s.in_c * s.in_h * s.in_w * (s.out_c / p.group) * p.kernel_h * p.kernel_w;
}

}  // namespace octet::kernels
