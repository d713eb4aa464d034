// Local response normalisation, Caffe formulas (ONNX LRN is ACROSS_CHANNELS with bias = k):
//   ACROSS_CHANNELS: y = x * (k + alpha/size * sum_{c' in window(c)} x[c']^2)^-beta, the window
//     [c - (size-1)/2, c + size/2] clipped to [0, C) (ONNX's floor/ceil split for even sizes).
//   WITHIN_CHANNEL:  y = x * (k + alpha/size^2 * sum_{size x size window} x^2)^-beta, the window
//     centred with zero padding (size-1)/2. Caffe builds this from AVE pooling + Power with
//     shift 1, so Caffe semantics means k = 1 here; the layer passes that.
// The optimised kernels accumulate squares in a small stack block along the spatial dim (no
// scratch) and use a sqrt-based power for the common beta = 0.75.
// Depends on core/ only (never ir/, engine/ or proto).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "octet/core/error.hpp"
#include "octet/core/parallel.hpp"

namespace octet::kernels {

struct LrnParams {
  enum class Region { AcrossChannels, WithinChannel };
  Region region = Region::AcrossChannels;
  int64_t size = 5;
  float alpha = 1.f, beta = 0.75f, k = 1.f;
};

struct LrnShape {
  int64_t batch = 0, channels = 0, height = 1, width = 1;
};

inline void lrn_check(const LrnParams& p) {
  if (p.size < 1) throw ShapeError("lrn: local_size must be >= 1");
  if (p.region == LrnParams::Region::WithinChannel && p.size % 2 == 0)
    throw ShapeError("lrn: WITHIN_CHANNEL needs an odd local_size, got " + std::to_string(p.size));
}

namespace lrn_detail {
inline constexpr int64_t kBlock = 64;

// y = x * s^-beta over a block; beta = 0.75 is AlexNet/GoogLeNet's, worth its own loop.
template <typename T>
void apply_power(int64_t n, const T* x, const T* s, T beta, T* y) {
  if (beta == T(0.75)) {
    for (int64_t i = 0; i < n; ++i) {
      const T r = std::sqrt(s[i]);
      y[i] = x[i] / (r * std::sqrt(r));
    }
  } else if (beta == T(0.5)) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] / std::sqrt(s[i]);
  } else if (beta == T(1)) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] / s[i];
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * std::pow(s[i], -beta);
  }
}
}  // namespace lrn_detail

template <typename T>
void lrn(const LrnParams& p, const LrnShape& s, const T* x, T* y) {
  lrn_check(p);
  using lrn_detail::kBlock;
  const int64_t C = s.channels, H = s.height, W = s.width, plane = H * W;
  const T beta = static_cast<T>(p.beta), k = static_cast<T>(p.k);
  if (p.region == LrnParams::Region::AcrossChannels) {
    const int64_t pre = (p.size - 1) / 2, post = p.size - 1 - pre;
    const T coef = static_cast<T>(p.alpha / static_cast<double>(p.size));
    const int64_t blocks = (plane + kBlock - 1) / kBlock;
    parallel_for(0, s.batch * C * blocks, [&](int64_t t) {
      const int64_t b = t % blocks, nc = t / blocks, c = nc % C, n = nc / C;
      const int64_t j0 = b * kBlock, len = std::min(kBlock, plane - j0);
      const T* xn = x + n * C * plane + j0;
      T acc[kBlock];
      std::fill(acc, acc + len, T(0));
      for (int64_t cc = std::max<int64_t>(0, c - pre); cc <= std::min(C - 1, c + post); ++cc) {
        const T* xc = xn + cc * plane;
        for (int64_t j = 0; j < len; ++j) acc[j] += xc[j] * xc[j];
      }
      for (int64_t j = 0; j < len; ++j) acc[j] = k + coef * acc[j];
      lrn_detail::apply_power(len, xn + c * plane, acc, beta, y + n * C * plane + c * plane + j0);
    });
    return;
  }
  const int64_t pad = (p.size - 1) / 2;
  const T coef = static_cast<T>(p.alpha / static_cast<double>(p.size * p.size));
  parallel_for(0, s.batch * C * H, [&](int64_t t) {
    const int64_t oh = t % H, nc = t / H;
    const T* xp = x + nc * plane;
    T* yrow = y + nc * plane + oh * W;
    T acc[kBlock];
    for (int64_t w0 = 0; w0 < W; w0 += kBlock) {
      const int64_t len = std::min(kBlock, W - w0);
      std::fill(acc, acc + len, T(0));
      for (int64_t ih = std::max<int64_t>(0, oh - pad); ih <= std::min(H - 1, oh + pad); ++ih) {
        const T* r = xp + ih * W;
        for (int64_t dx = -pad; dx <= pad; ++dx) {
          // Output columns w0+j whose tap w0+j+dx is inside the row.
          const int64_t jlo = std::clamp<int64_t>(-dx - w0, 0, len);
          const int64_t jhi = std::clamp<int64_t>(W - dx - w0, jlo, len);
          for (int64_t j = jlo; j < jhi; ++j) {
            const T v = r[w0 + j + dx];
            acc[j] += v * v;
          }
        }
      }
      for (int64_t j = 0; j < len; ++j) acc[j] = k + coef * acc[j];
      lrn_detail::apply_power(len, xp + oh * W + w0, acc, beta, yrow + w0);
    }
  });
}

namespace reference {

template <typename T>
void lrn(const LrnParams& p, const LrnShape& s, const T* x, T* y) {
  lrn_check(p);
  const int64_t C = s.channels, H = s.height, W = s.width;
  auto at = [&](int64_t n, int64_t c, int64_t h, int64_t w) {
    return static_cast<double>(x[((n * C + c) * H + h) * W + w]);
  };
  for (int64_t n = 0; n < s.batch; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t w = 0; w < W; ++w) {
          double sum = 0, scale;
          if (p.region == LrnParams::Region::AcrossChannels) {
            const int64_t pre = (p.size - 1) / 2;
            for (int64_t i = 0; i < p.size; ++i) {
              const int64_t cc = c - pre + i;
              if (cc >= 0 && cc < C) sum += at(n, cc, h, w) * at(n, cc, h, w);
            }
            scale = p.k + p.alpha / static_cast<double>(p.size) * sum;
          } else {
            const int64_t pad = (p.size - 1) / 2;
            for (int64_t i = 0; i < p.size; ++i)
              for (int64_t j = 0; j < p.size; ++j) {
                const int64_t hh = h - pad + i, ww = w - pad + j;
                if (hh >= 0 && hh < H && ww >= 0 && ww < W) sum += at(n, c, hh, ww) * at(n, c, hh, ww);
              }
            scale = p.k + p.alpha / static_cast<double>(p.size * p.size) * sum;
          }
          y[((n * C + c) * H + h) * W + w] = static_cast<T>(at(n, c, h, w) * std::pow(scale, -p.beta));
        }
}

}  // namespace reference
}  // namespace octet::kernels
