// Int8 convolutions that read their input directly, without im2col or B-panel packing:
//   Conv         (AVX-512 VNNI) the int8 counterpart of conv_gemm's direct kernel
//                (run_direct_range), for the convolutions conv_detail::direct_conv accepts
//                (group 1, output rows as wide as the phase-split input rows); described here.
//   Depthwise    (+ VBMI) four taps of a kernel row per vpdpbusd, from vpermb'd padded rows.
//   TapQuadConv  (+ VBMI) the same tap quads for full convolutions with 1-3 input channels.
//
// Why: resnet8-sized layers (16-64 channels, 7-28 pixel planes) spent more time in im2col,
// its zero fill and the per-panel B packing of gemm_s8 than in vpdpbusd (perf: 42 % against
// 25 %), which left the int8 runtime slower than the fp32 one.
//
// vpdpbusd multiplies four consecutive bytes of B with four of A into one int32 lane, so the
// input is first rearranged into "quad planes": channels 4q..4q+3 of every pixel side by side,
// quad[q][pixel][j] (a missing fourth channel is filled; its weights are zero). One int32 of a
// quad plane is then one pixel of four channels, and a tap reads 16 pixels of it at the fixed
// offset direct_geometry gives, the lanes outside the image masked, exactly like the fp32
// kernel reads floats. Strided convs split each channel into phase planes on the way (the
// same planes, pitch and offsets as fp32). The weights are reordered once to k = (q, tap, j).
//
// Arithmetic is gemm_s8's: int8 activations are offset to uint8 (x ^ 0x80 == x + 128) and
// 128 * rowsum(A) is subtracted afterwards; padding lanes are loaded as the offset zero (0x80)
// so they contribute 128 * w like every other zero, and the correction stays exact.
// Depends on core/, fixed/ and kernels/ only.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "octet/core/parallel.hpp"
#include "octet/kernels/conv.hpp"
#include "octet/kernels/conv_gemm.hpp"
#include "octet/kernels/int8_gemm.hpp"

namespace octet::kernels::int8_direct {

#if defined(OCTET_INT8_VNNI) && defined(__AVX512VNNI__) && defined(__AVX512BW__)
#define OCTET_INT8_DIRECT 1
inline constexpr bool kAvailable = true;

using conv_gemm::kNV;
using conv_gemm::kVL;
inline constexpr int64_t kMR = int8_gemm_detail::kMR;
inline constexpr int64_t kNR = kVL * kNV;  // pixels per tile

inline bool applies(const Conv2dParams& p, const Conv2dShape& s) { return conv_detail::direct_conv(p, s); }

// Weights [O][C][taps] -> rows of k = (q * taps + tap) * 4 + j for channel 4q + j (0 past C).
inline std::vector<std::int8_t> reorder_weights(const std::int8_t* w, int64_t O, int64_t C, int64_t taps) {
  const int64_t quads = (C + 3) / 4, K = quads * taps * 4;
  std::vector<std::int8_t> out(static_cast<size_t>(O * K), 0);
  for (int64_t o = 0; o < O; ++o)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t t = 0; t < taps; ++t)
        out[static_cast<size_t>(o * K + ((c / 4) * taps + t) * 4 + c % 4)] = w[(o * C + c) * taps + t];
  return out;
}

// n zero bytes, never written (the rows of channels past C).
inline const std::uint8_t* zeros(int64_t n) {
  thread_local std::vector<std::uint8_t> z;
  if (static_cast<int64_t>(z.size()) < n) z.resize(static_cast<size_t>(n), 0);
  return z.data();
}

// Bytes of one image's quad planes.
inline int64_t quad_plane_bytes(const Conv2dParams& p, const Conv2dShape& s, const conv_gemm::DirectGeometry& g) {
  (void)p;
  return (s.in_c + 3) / 4 * g.channel_stride * 4;
}

// One image [C][H][W] -> quad planes [quads][channel_stride][4] (uint8, offset when TI is
// int8). At stride s, pixel (r, j) of phase (py, px) holds input (r*s + py, j*s + px); only
// the phases some tap reads are written, and only their in-image pixels (the tap masks never
// load the rest). `row` is scratch for one row of W quads (4 W bytes).
template <Int8Activation TI>
void to_quad_planes(const Conv2dParams& p, const Conv2dShape& s, const conv_gemm::DirectGeometry& g, const TI* in,
                    std::uint8_t* out, std::uint8_t* row) {
  constexpr std::uint8_t flip = std::is_same_v<TI, std::int8_t> ? 0x80 : 0x00;
  const int64_t st = p.stride_h, pitch = g.out_w, rows = ceil_div(s.in_h, st), plane = s.in_h * s.in_w;
  const int64_t quads = (s.in_c + 3) / 4;
  const auto* src = reinterpret_cast<const std::uint8_t*>(in);
  // A missing channel reads as the (offset) zero.
  const std::uint8_t* zero_row = s.in_c % 4 != 0 ? zeros(plane) : nullptr;
  if (st == 1) {
    for (int64_t q = 0; q < quads; ++q) {
      const std::uint8_t* r[4];
      for (int j = 0; j < 4; ++j) r[j] = 4 * q + j < s.in_c ? src + (4 * q + j) * plane : zero_row;
      int8_gemm_detail::interleave4(r, plane, flip, out + q * g.channel_stride * 4);
    }
    return;
  }
  bool used[conv_detail::kDirectMaxStride][conv_detail::kDirectMaxStride] = {};
  for (int64_t k = 0; k < g.taps; ++k) {
    const int64_t ph = (g.tap[k].offset - g.tap[k].dy * pitch - g.tap[k].dx) / (rows * pitch);
    used[ph / st][ph % st] = true;
  }
  // Each input row is interleaved whole into `row` (W quads), then its quads are dealt to the
  // phase planes: 4 bytes per move instead of 1, and at stride 2 16 quads per permute.
  auto* quads_row = reinterpret_cast<std::int32_t*>(row);
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  for (int64_t q = 0; q < quads; ++q)
    for (int64_t ih = 0; ih < s.in_h; ++ih) {
      const int64_t py = ih % st, r = ih / st;
      bool any = false;
      for (int64_t px = 0; px < st; ++px) any = any || used[py][px];
      if (!any) continue;
      const std::uint8_t* rp[4];
      for (int j = 0; j < 4; ++j)
        rp[j] = 4 * q + j < s.in_c ? src + ((4 * q + j) * s.in_h + ih) * s.in_w : zero_row;
      int8_gemm_detail::interleave4(rp, s.in_w, flip, row);
      auto* dst = reinterpret_cast<std::int32_t*>(out) + q * g.channel_stride + r * pitch;
      for (int64_t px = 0; px < st; ++px) {
        if (!used[py][px]) continue;
        auto* d = dst + (py * st + px) * rows * pitch;
        int64_t x = 0;
        if (st == 2) {
          const __m512i idx = px == 0 ? even : odd;
          for (; x < s.in_w; x += 32) {
            const int64_t n = std::min<int64_t>(32, s.in_w - x), outs = (n - px + 1) / 2;
            const auto lanes = [](int64_t k) { return static_cast<__mmask16>(k >= 16 ? 0xFFFFu : (1u << std::max<int64_t>(k, 0)) - 1u); };
            const __m512i a = _mm512_maskz_loadu_epi32(lanes(n), quads_row + x);
            const __m512i b = _mm512_maskz_loadu_epi32(lanes(n - 16), quads_row + x + 16);
            _mm512_mask_storeu_epi32(d + x / 2, lanes(outs), _mm512_permutex2var_epi32(a, idx, b));
          }
        }
        for (int64_t j = x / st, ix = x + px; ix < s.in_w; ++j, ix += st) d[j] = quads_row[ix];
      }
    }
}

// tile[r][0 .. NV*16) = sum over quads and taps for weight rows a + r*lda (k = (q, tap, j)),
// the tile's pixels read from `in` (the tile's first pixel of quad 0, int32 units) + q*plane
// + tap offset, lanes outside the image read as `fill`.
template <int NV>
inline void micro(int64_t quads, int64_t plane, const conv_gemm::DirectTile& t, const std::int8_t* __restrict a,
                  int64_t lda, const std::int32_t* in, __m512i fill, std::int32_t* tile) {
  __m512i acc[kMR][NV];
  for (int64_t r = 0; r < kMR; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_si512();
  for (int64_t q = 0; q < quads; ++q, in += plane) {
    for (int64_t tap = 0; tap < t.taps; ++tap, a += 4) {
      const std::int32_t* src = in + t.offset[tap];
      __m512i x[NV];
      for (int v = 0; v < NV; ++v) x[v] = _mm512_mask_loadu_epi32(fill, t.mask[tap][v], src + v * kVL);
#pragma GCC unroll 8
      for (int64_t r = 0; r < kMR; ++r) {
        std::int32_t w;
        std::memcpy(&w, a + r * lda, 4);
        const __m512i wv = _mm512_set1_epi32(w);
        for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], x[v], wv);
      }
    }
  }
  for (int64_t r = 0; r < kMR; ++r)
    for (int v = 0; v < NV; ++v) _mm512_store_si512(tile + r * kNR + v * kVL, acc[r][v]);
}

// ---- Depthwise (one output channel per input channel) with vpdpbusd + vpermb -----------------
// For output pixels p0..p0+15 of one output row and kernel row kh, the taps kw = 4j..4j+3 of
// pixel i read padded-row bytes s*(p0+i) + d*(4j+t), t = 0..3: one 64-byte load at
// s*p0 + 4j*d and one vpermb with index 4i+t -> s*i + d*t put each pixel's four bytes in its
// int32 lane, and one vpdpbusd against the four weights adds them. So a 3x3 kernel is 3 loads,
// 3 permutes and 3 dot products per 16 pixels, where widening bytes to int32 and multiplying
// tap by tap took 9 of each (the previous kernel ran 2.6x slower than the fp32 one).
// Each input channel is first copied into a plane of padded rows (pad_left fill bytes, the
// row, fill to the end), offset to uint8 for int8 input as in the direct kernel; rows above
// and below the image are skipped, so their taps are left out of the +128 correction too.
#if defined(__AVX512VBMI__)
#define OCTET_INT8_DEPTHWISE_VBMI 1

// dst[0, pitch) = pad fill, then src[0, w) offset by flip, then fill. Masked 64-byte moves:
// the rows are 7-112 bytes, where an auto-vectorised loop runs mostly in its scalar tail.
inline void padded_row(const std::uint8_t* src, int64_t w, int64_t pad_left, int64_t pitch, std::uint8_t flip,
                       std::uint8_t* dst) {
  std::memset(dst, flip, static_cast<size_t>(pad_left));
  const __m512i f = _mm512_set1_epi8(static_cast<char>(flip));
  for (int64_t x = 0; x < w; x += 64) {
    const int64_t left = w - x;
    const __mmask64 k = left >= 64 ? ~__mmask64{0} : (__mmask64{1} << left) - 1;
    _mm512_mask_storeu_epi8(dst + pad_left + x, k, _mm512_xor_si512(_mm512_maskz_loadu_epi8(k, src + x), f));
  }
  std::memset(dst + pad_left + w, flip, static_cast<size_t>(pitch - pad_left - w));
}

// How one kernel row's taps are read from a padded row: quads of four taps (kw = 4j..4j+3),
// the vpermb index that gives output pixel i of a 16-pixel vector its four bytes, and the row
// pitch with enough fill after the row for the last vector's 64-byte loads.
struct RowTaps {
  int64_t quads = 0, pitch = 0;
  std::uint8_t perm[64] = {};

  static bool fits(const Conv2dParams& p) { return p.stride_w * 15 + p.dilation_w * 3 < 64 && p.kernel_w <= 16; }
  // `vectors` 16-pixel vectors per block of output pixels.
  void setup(const Conv2dParams& p, const Conv2dShape& s, int64_t vectors) {
    quads = (p.kernel_w + 3) / 4;
    pitch = int8_gemm_detail::round_up(
        p.pad_left + s.in_w + p.pad_right + 16 * (vectors - 1) * p.stride_w + 4 * quads * p.dilation_w + 64, 64);
    for (int i = 0; i < 16; ++i)
      for (int t = 0; t < 4; ++t) perm[4 * i + t] = static_cast<std::uint8_t>(p.stride_w * i + p.dilation_w * t);
  }
  // Four taps of kernel row (c, kh), quad j: w[((c * KH + kh) * KW + 4j + t] packed in an int32.
  static std::int32_t weight_quad(const std::int8_t* w_row, int64_t kernel_w, int64_t j, std::int32_t* sum) {
    std::int32_t q = 0;
    auto* b = reinterpret_cast<std::int8_t*>(&q);
    for (int64_t t = 0; t < 4 && 4 * j + t < kernel_w; ++t) {
      b[t] = w_row[4 * j + t];
      *sum += b[t];
    }
    return q;
  }
};

inline bool depthwise_applies(const Conv2dParams& p, const Conv2dShape& s) {
  return p.group == s.in_c && s.out_c == s.in_c && RowTaps::fits(p);
}

class Depthwise {
 public:
  // w: [C, 1, kh, kw] int8.
  void setup(const Conv2dParams& p, const Conv2dShape& s, const std::int8_t* w) {
    p_ = p;
    s_ = s;
    taps_.setup(p, s, 1);
    quads_ = taps_.quads;
    pitch_ = taps_.pitch;
    wq_.assign(static_cast<size_t>(s.in_c * p.kernel_h * quads_), 0);
    row_sum_.assign(static_cast<size_t>(s.in_c * p.kernel_h), 0);
    for (int64_t c = 0; c < s.in_c; ++c)
      for (int64_t kh = 0; kh < p.kernel_h; ++kh)
        for (int64_t j = 0; j < quads_; ++j)
          wq_[static_cast<size_t>((c * p.kernel_h + kh) * quads_ + j)] =
              RowTaps::weight_quad(w + (c * p.kernel_h + kh) * p.kernel_w, p.kernel_w, j,
                                   &row_sum_[static_cast<size_t>(c * p.kernel_h + kh)]);
  }

  // `emit(n, c, acc)` receives output channel c of image n: OH * OW exact int32 sums.
  template <Int8Activation TI, typename Emit>
  void run(const TI* in, Emit&& emit) const {
    constexpr std::uint8_t flip = std::is_same_v<TI, std::int8_t> ? 0x80 : 0x00;
    const Conv2dParams& p = p_;
    const Conv2dShape& s = s_;
    const int64_t ipl = s.in_h * s.in_w, OW = s.out_w, blocks = (OW + 15) / 16;
    const __m512i perm = _mm512_loadu_si512(taps_.perm);
    // Locals, not members, in the loops below.
    const int64_t C = s.in_c, H = s.in_h, W = s.in_w, OH = s.out_h, KH = p.kernel_h, Q = quads_, pitch = pitch_;
    const int64_t pad_l = p.pad_left, pad_t = p.pad_top, sh = p.stride_h, dh = p.dilation_h;
    const int64_t step = 16 * p.stride_w, qstep = 4 * p.dilation_w;
    parallel_for(0, s.batch * C, [&](int64_t i) {
      const int64_t n = i / C, c = i % C;
      // The padded plane, then the int32 sums of the whole output plane (requantised in one
      // call: per-row calls spent a third of the time in their setup and tails), 16 spare.
      std::uint8_t* plane = int8_gemm_detail::thread_buffer<std::uint8_t>(static_cast<size_t>(H * pitch + (OH * OW + 16) * 4));
      auto* acc = reinterpret_cast<std::int32_t*>(plane + H * pitch);
      const auto* src = reinterpret_cast<const std::uint8_t*>(in + i * ipl);
      for (int64_t y = 0; y < H; ++y) padded_row(src + y * W, W, pad_l, pitch, flip, plane + y * pitch);
      const std::int32_t* wc = wq_.data() + c * KH * Q;
      const std::int32_t* rs = row_sum_.data() + c * KH;
      for (int64_t oh = 0; oh < OH; ++oh) {
        // Kernel rows inside the image for this output row.
        const int64_t y0 = oh * sh - pad_t;
        const int64_t kh0 = y0 >= 0 ? 0 : (-y0 + dh - 1) / dh;
        const int64_t kh1 = std::min(KH, H - y0 <= 0 ? 0 : (H - y0 + dh - 1) / dh);
        std::int32_t* acc_row = acc + oh * OW;
        for (int64_t b = 0; b < blocks; ++b) {  // the last block spills into the next row, written after
          __m512i a = _mm512_setzero_si512();
          for (int64_t kh = kh0; kh < kh1; ++kh) {
            const std::uint8_t* row = plane + (y0 + kh * dh) * pitch + b * step;
            for (int64_t j = 0; j < Q; ++j)
              a = _mm512_dpbusd_epi32(a, _mm512_permutexvar_epi8(perm, _mm512_loadu_si512(row + j * qstep)),
                                      _mm512_set1_epi32(wc[kh * Q + j]));
          }
          _mm512_storeu_si512(acc_row + b * 16, a);
        }
        if constexpr (flip != 0) {
          std::int32_t corr = 0;
          for (int64_t kh = kh0; kh < kh1; ++kh) corr += 128 * rs[kh];
          for (int64_t x = 0; x < OW; ++x) acc_row[x] -= corr;
        }
      }
      emit(n, c, static_cast<const std::int32_t*>(acc));
    }, 2);
  }

 private:
  Conv2dParams p_;
  Conv2dShape s_;
  int64_t quads_ = 0, pitch_ = 0;
  std::vector<std::int32_t> wq_;       // [C][kh][quads] four int8 weights per int32
  std::vector<std::int32_t> row_sum_;  // [C][kh] sum of the row's weights (offset correction)
  RowTaps taps_;
};

// ---- Convolutions with fewer than 4 input channels (image stems) --------------------------
// The channel-quad kernel would fill 1-3 of every 4 bytes with padding there (a 1-channel
// stem ran 1.5x slower than fp32). Here the quads hold four taps of a kernel row instead, as
// in Depthwise: per block of 32 output pixels the (channel, kernel row, quad) vectors are
// built once by load + vpermb and every 8-row block of output channels runs vpdpbusd over
// them. Rows above and below the image read a fill row, so every tap is accumulated and the
// +128 correction is the same for every pixel. Any output size (no "same" requirement).
inline bool tap_quad_applies(const Conv2dParams& p, const Conv2dShape& s) {
  return p.group == 1 && s.in_c < 4 && RowTaps::fits(p);
}

class TapQuadConv {
 public:
  static constexpr int64_t kVectors = 2;  // 16-pixel vectors per block

  // w: [O, C, kh, kw] int8.
  void setup(const Conv2dParams& p, const Conv2dShape& s, const std::int8_t* w) {
    p_ = p;
    s_ = s;
    taps_.setup(p, s, kVectors);
    kq_ = s.in_c * p.kernel_h * taps_.quads;
    const int64_t mblocks = (s.out_c + kMR - 1) / kMR;
    wq_.assign(static_cast<size_t>(mblocks * kq_ * kMR), 0);
    row_sum_.assign(static_cast<size_t>(mblocks * kMR), 0);
    for (int64_t m = 0; m < s.out_c; ++m)
      for (int64_t ck = 0; ck < s.in_c * p.kernel_h; ++ck)  // (channel, kernel row)
        for (int64_t j = 0; j < taps_.quads; ++j)
          wq_[static_cast<size_t>(((m / kMR) * kq_ + ck * taps_.quads + j) * kMR + m % kMR)] = RowTaps::weight_quad(
              w + (m * s.in_c * p.kernel_h + ck) * p.kernel_w, p.kernel_w, j, &row_sum_[static_cast<size_t>(m)]);
  }

  // Int32 elements between output channels in the plane `emit` receives.
  int64_t channel_stride() const { return s_.out_h * s_.out_w + kVectors * 16; }

  // `emit(n, acc)` receives image n's exact int32 sums: channel m at acc + m * channel_stride().
  template <Int8Activation TI, typename Emit>
  void run(const TI* in, Emit&& emit) const {
    constexpr std::uint8_t flip = std::is_same_v<TI, std::int8_t> ? 0x80 : 0x00;
    const int64_t C = s_.in_c, H = s_.in_h, W = s_.in_w, OH = s_.out_h, OW = s_.out_w, M = s_.out_c;
    const int64_t KH = p_.kernel_h, Q = taps_.quads, KQ = kq_, pitch = taps_.pitch, cs = channel_stride();
    const int64_t pad_l = p_.pad_left, pad_t = p_.pad_top, sh = p_.stride_h, dh = p_.dilation_h;
    const int64_t sw = p_.stride_w, qstep = 4 * p_.dilation_w, px_block = kVectors * 16;
    const int64_t blocks = (OW + px_block - 1) / px_block, mblocks = (M + kMR - 1) / kMR;
    const __m512i perm = _mm512_loadu_si512(taps_.perm);
    const std::int32_t* wq = wq_.data();
    const std::int32_t* rs = row_sum_.data();
    parallel_for(0, s_.batch, [&](int64_t n) {
      // Padded rows of every channel, a fill row, the block's B vectors, the output sums.
      const int64_t rows_bytes = (C * H + 1) * pitch, panel_bytes = KQ * kVectors * 64;
      std::uint8_t* buf = int8_gemm_detail::thread_buffer<std::uint8_t>(
          static_cast<size_t>(rows_bytes + panel_bytes + M * cs * 4 + 64));
      std::uint8_t* fill = buf + C * H * pitch;
      auto* panel = reinterpret_cast<__m512i*>(buf + rows_bytes + 64 - reinterpret_cast<std::uintptr_t>(buf + rows_bytes) % 64);
      auto* acc = reinterpret_cast<std::int32_t*>(reinterpret_cast<std::uint8_t*>(panel) + panel_bytes);
      const auto* src = reinterpret_cast<const std::uint8_t*>(in + n * C * H * W);
      for (int64_t r = 0; r < C * H; ++r) padded_row(src + r * W, W, pad_l, pitch, flip, buf + r * pitch);
      std::memset(fill, flip, static_cast<size_t>(pitch));
      for (int64_t oh = 0; oh < OH; ++oh) {
        for (int64_t b = 0; b < blocks; ++b) {
          for (int64_t c = 0, q = 0; c < C; ++c)
            for (int64_t kh = 0; kh < KH; ++kh) {
              const int64_t y = oh * sh - pad_t + kh * dh;
              const std::uint8_t* row = (y >= 0 && y < H ? buf + (c * H + y) * pitch : fill) + b * px_block * sw;
              for (int64_t j = 0; j < Q; ++j, ++q)
                for (int64_t v = 0; v < kVectors; ++v)
                  panel[q * kVectors + v] = _mm512_permutexvar_epi8(perm, _mm512_loadu_si512(row + v * 16 * sw + j * qstep));
            }
          for (int64_t mb = 0; mb < mblocks; ++mb) {
            __m512i a[kMR][kVectors];
            for (auto& r : a)
              for (auto& v : r) v = _mm512_setzero_si512();
            const std::int32_t* wb = wq + mb * KQ * kMR;
            for (int64_t q = 0; q < KQ; ++q, wb += kMR) {
              const __m512i x0 = _mm512_load_si512(panel + q * kVectors), x1 = _mm512_load_si512(panel + q * kVectors + 1);
#pragma GCC unroll 8
              for (int64_t r = 0; r < kMR; ++r) {
                const __m512i wv = _mm512_set1_epi32(wb[r]);
                a[r][0] = _mm512_dpbusd_epi32(a[r][0], x0, wv);
                a[r][1] = _mm512_dpbusd_epi32(a[r][1], x1, wv);
              }
            }
            const int64_t rows = std::min(kMR, M - mb * kMR);
            for (int64_t r = 0; r < rows; ++r) {
              const int64_t m = mb * kMR + r;
              // The block may spill past the row; the next block or row overwrites it, and
              // the channel stride leaves room after the last row.
              std::int32_t* dst = acc + m * cs + oh * OW + b * px_block;
              const __m512i corr = _mm512_set1_epi32(flip != 0 ? 128 * rs[m] : 0);
              _mm512_storeu_si512(dst, _mm512_sub_epi32(a[r][0], corr));
              _mm512_storeu_si512(dst + 16, _mm512_sub_epi32(a[r][1], corr));
            }
          }
        }
      }
      emit(n, static_cast<const std::int32_t*>(acc));
    });
  }

 private:
  Conv2dParams p_;
  Conv2dShape s_;
  RowTaps taps_;
  int64_t kq_ = 0;                     // (channel, kernel row, quad) count
  std::vector<std::int32_t> wq_;       // [m block][kq][8 rows] four int8 weights per int32
  std::vector<std::int32_t> row_sum_;  // per output channel (offset correction)
};
#endif

// A prepared direct int8 convolution: geometry and reordered, packed weights.
class Conv {
 public:
  void setup(const Conv2dParams& p, const Conv2dShape& s, const std::int8_t* w) {
    p_ = p;
    s_ = s;
    g_ = conv_detail::direct_geometry(p, s);
    quads_ = (s.in_c + 3) / 4;
    const auto wq = reorder_weights(w, s.out_c, s.in_c, g_.taps);
    a_.pack(wq.data(), s.out_c, quads_ * g_.taps * 4);
  }

  // Images [n0, n1) of `in` -> `out`; `emit(n, m, px0, cnt, acc)` receives output channel m's
  // exact int32 sums for pixels px0 .. px0 + cnt of image n.
  template <Int8Activation TI, typename Emit>
  void run(const TI* in, int64_t n0, int64_t n1, Emit&& emit) const {
    const int64_t in_img = s_.in_c * s_.in_h * s_.in_w, opl = g_.out_h * g_.out_w;
    const int64_t tiles = (opl + kNR - 1) / kNR, bytes = quad_plane_bytes(p_, s_, g_);
    const std::int32_t* row_sum = a_.row_sums();
    const __m512i fill = _mm512_set1_epi32(std::is_same_v<TI, std::int8_t> ? static_cast<int>(0x80808080u) : 0);
    auto image = [&](int64_t n, std::uint8_t* planes, int64_t t0, int64_t t1) {
      const auto* qp = reinterpret_cast<const std::int32_t*>(planes);
      conv_gemm::DirectTile dt;
      alignas(64) std::int32_t tile[kMR * kNR];
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t px0 = t * kNR, cnt = std::min(kNR, opl - px0);
        conv_gemm::direct_tile(g_, px0, cnt, dt);
        const int nv = static_cast<int>((cnt + kVL - 1) / kVL);
        for (int64_t m0 = 0; m0 < s_.out_c; m0 += kMR) {
          const std::int8_t* a = a_.a8() + m0 * a_.padded_depth();
          conv_gemm::with_width(nv, [&](auto wv) {
            micro<decltype(wv)::value>(quads_, g_.channel_stride, dt, a, a_.padded_depth(), qp + px0, fill, tile);
          });
          const int64_t rows = std::min(kMR, s_.out_c - m0);
          for (int64_t r = 0; r < rows; ++r) {
            std::int32_t* acc = tile + r * kNR;
            if constexpr (std::is_same_v<TI, std::int8_t>) {
              // Undo the +128 offset (wrap-around int32 is exact, as in gemm_s8).
              const std::uint32_t corr = static_cast<std::uint32_t>(row_sum[m0 + r]) * 128u;
              for (int64_t j = 0; j < cnt; ++j)
                acc[j] = static_cast<std::int32_t>(static_cast<std::uint32_t>(acc[j]) - corr);
            }
            emit(n, m0 + r, px0, cnt, static_cast<const std::int32_t*>(acc));
          }
        }
      }
    };
    auto buffers = [&](std::uint8_t*& planes, std::uint8_t*& row) {
      planes = int8_gemm_detail::thread_buffer<std::uint8_t>(static_cast<size_t>(bytes + 4 * s_.in_w + 64));
      row = planes + bytes;
    };
    const int64_t threads = num_threads(), images = n1 - n0;
    if (threads > 1 && images >= threads) {
      parallel_for(0, threads, [&](int64_t w) {
        std::uint8_t *planes, *row;
        buffers(planes, row);
        for (int64_t n = n0 + w; n < n1; n += threads) {
          to_quad_planes(p_, s_, g_, in + n * in_img, planes, row);
          image(n, planes, 0, tiles);
        }
      });
      return;
    }
    std::uint8_t *planes, *row;
    buffers(planes, row);
    // Below ~1M MACs per thread waking the workers costs more than they save.
    const bool worth = threads > 1 && tiles >= threads &&
                       s_.out_c * opl * a_.padded_depth() >= (int64_t{1} << 20) * threads;
    for (int64_t n = n0; n < n1; ++n) {
      to_quad_planes(p_, s_, g_, in + n * in_img, planes, row);
      if (worth)
        parallel_for(0, threads, [&](int64_t w) { image(n, planes, tiles * w / threads, tiles * (w + 1) / threads); });
      else
        image(n, planes, 0, tiles);
    }
  }

 private:
  Conv2dParams p_;
  Conv2dShape s_;
  conv_gemm::DirectGeometry g_;
  int64_t quads_ = 0;
  PackedInt8A a_;
};
#else
inline constexpr bool kAvailable = false;
#endif

}  // namespace octet::kernels::int8_direct
