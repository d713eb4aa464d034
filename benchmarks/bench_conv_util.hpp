// The convolution cases the fp32 and int8 benchmarks time, their kernel parameters and fp32
// operands, so that bench_kernels_spatial and bench_int8 measure the same shapes the same way.
// Benchmark-only; depends on kernels/conv.hpp and bench_util.hpp, nothing else of Octet.
#pragma once
#include <cstdint>
#include <vector>

#include "bench_util.hpp"
#include "octet/kernels/conv.hpp"

namespace octet::bench {

// A square convolution: c input / o output channels, hw x hw input, k x k kernel.
struct ConvCase {
  int64_t c, o, hw, k, stride, group;
};

// "Same" padding (k / 2 on every side), no activation.
inline kernels::Conv2dParams conv_params(const ConvCase& cc) {
  kernels::Conv2dParams p;
  p.kernel_h = p.kernel_w = cc.k;
  p.stride_h = p.stride_w = cc.stride;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = cc.k / 2;
  p.group = cc.group;
  return p;
}

// One case's fp32 convolution at `batch` with ReLU fused: seeded input (seed 1), weights (2)
// and bias (3), the output, and the scratch conv2d needs. Build it after set_num_threads: the
// scratch size depends on the thread count.
struct FloatConv {
  kernels::Conv2dParams p;
  kernels::Conv2dShape s;
  std::vector<float> in, w, b, out, scratch;
  FloatConv(const ConvCase& cc, int64_t batch) : p(conv_params(cc)) {
    p.activation = kernels::FusedActivation::relu();
    s = kernels::conv2d_shape(p, batch, cc.c, cc.hw, cc.hw, cc.o);
    in = rnd(batch * cc.c * cc.hw * cc.hw, 1);
    w = rnd(cc.o * (cc.c / cc.group) * cc.k * cc.k, 2);
    b = rnd(cc.o, 3);
    out.resize(static_cast<size_t>(batch * cc.o * s.out_h * s.out_w));
    scratch.resize(static_cast<size_t>(kernels::conv2d_scratch_size(p, s)));
  }
};

}  // namespace octet::bench
