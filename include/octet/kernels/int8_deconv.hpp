// Int8 transposed convolution (Caffe Deconvolution / ONNX ConvTranspose) with the same
// requantisation as int8 convolution (docs/arithmetic.md): acc = the exact int32 sum of
// q_in * q_w over every (input pixel, tap) that lands on the output pixel; then
// q_out = Int8Requant::apply(acc, channel) (bias, multiply, round, clamp).
//
//   reference::deconv2d_s8  scatters every input pixel through the kernel, the definition.
//   Int8Deconv2d            the fp32 kernel's plan (deconv.hpp) in integers: per group
//                           col[Og*kh*kw, H*W] = W^T x input by gemm_s8 (weights packed once),
//                           col2im_add into an int32 plane per output channel, requant_row.
// The sums are exact (int32 wrap-free): setup rejects a reduction long enough to overflow.
// Depends on core/, fixed/ and kernels/ only.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "octet/core/error.hpp"
#include "octet/core/parallel.hpp"
#include "octet/kernels/deconv.hpp"
#include "octet/kernels/im2col.hpp"
#include "octet/kernels/int8_conv.hpp"
#include "octet/kernels/int8_gemm.hpp"

namespace octet::kernels {

namespace reference {

// in [N, C, H, W] codes, w [C, O/group, kh, kw] int8 -> out [N, O, OH, OW].
template <Int8Activation TI, Int8Output TO>
void deconv2d_s8(const Deconv2dParams& p, const Deconv2dShape& s, const TI* in, const std::int8_t* w,
                 const Int8Requant& rq, TO* out) {
  const int64_t opl = s.out_h * s.out_w;
  std::vector<std::int32_t> acc(static_cast<size_t>(s.out_c * opl));
  for (int64_t n = 0; n < s.batch; ++n) {
    std::fill(acc.begin(), acc.end(), 0);
    deconv2d_scatter_add(p, s, n, in, w, acc.data());
    for (int64_t oc = 0; oc < s.out_c; ++oc)
      for (int64_t i = 0; i < opl; ++i)
        out[(n * s.out_c + oc) * opl + i] = static_cast<TO>(rq.apply(acc[static_cast<size_t>(oc * opl + i)], oc));
  }
}

}  // namespace reference

class Int8Deconv2d {
 public:
  // w: [C, O/group, kh, kw] int8 (transposed per group and packed here).
  void setup(const Deconv2dParams& p, const Deconv2dShape& s, const std::int8_t* w, Int8Requant rq) {
    p_ = p;
    s_ = s;
    rq_ = std::move(rq);
    rq_.check(s.out_c);
    const int64_t Ig = s.in_c / p.group, Og = s.out_c / p.group, taps = p.kernel_h * p.kernel_w;
    // Each output sums at most Ig * taps products of |255 * 128|.
    if (Ig * taps * 255 * 128 >= (int64_t{1} << 31))
      throw UnsupportedError("int8 deconvolution: reduction length " + std::to_string(Ig * taps) +
                             " could overflow the int32 accumulator");
    const int64_t M = Og * taps;
    packed_.resize(static_cast<size_t>(p.group));
    std::vector<std::int8_t> wt(static_cast<size_t>(M * Ig));
    for (int64_t g = 0; g < p.group; ++g) {
      const std::int8_t* wg = w + g * Ig * M;  // [Ig][M]
      for (int64_t m = 0; m < M; ++m)
        for (int64_t k = 0; k < Ig; ++k) wt[static_cast<size_t>(m * Ig + k)] = wg[k * M + m];
      packed_[static_cast<size_t>(g)].pack(wt.data(), M, Ig);
    }
    col_.assign(static_cast<size_t>(M * s.in_h * s.in_w), 0);
    acc_.assign(static_cast<size_t>(Og * s.out_h * s.out_w), 0);
  }

  const Deconv2dShape& shape() const { return s_; }

  template <Int8Activation TI, Int8Output TO>
  void forward(const TI* in, TO* out) {
    const Deconv2dShape& s = s_;
    const int64_t Ig = s.in_c / p_.group, Og = s.out_c / p_.group;
    const int64_t ipl = s.in_h * s.in_w, opl = s.out_h * s.out_w;
    // col2im's "image" is the deconv output, its "columns" the input pixels.
    const Im2colGeometry geo{Og,           s.out_h,   s.out_w,    p_.kernel_h,  p_.kernel_w,
                             p_.pad_top,   p_.pad_left, p_.stride_h, p_.stride_w, p_.dilation_h,
                             p_.dilation_w, s.in_h,   s.in_w};
    for (int64_t n = 0; n < s.batch; ++n)
      for (int64_t g = 0; g < p_.group; ++g) {
        gemm_s8(packed_[static_cast<size_t>(g)], in + (n * s.in_c + g * Ig) * ipl, ipl, ipl, col_.data(), ipl);
        TO* o = out + (n * s.out_c + g * Og) * opl;
        parallel_for(0, Og, [&](int64_t c) {
          std::int32_t* plane = acc_.data() + c * opl;
          std::fill(plane, plane + opl, 0);
          col2im_add(geo, col_.data(), acc_.data(), c, c + 1);
          int8_conv_detail::requant_row(rq_, g * Og + c, plane, opl, o + c * opl);
        }, 4);
      }
  }

 private:
  Deconv2dParams p_;
  Deconv2dShape s_;
  Int8Requant rq_;
  std::vector<PackedInt8A> packed_;
  std::vector<std::int32_t> col_, acc_;
};

}  // namespace octet::kernels
