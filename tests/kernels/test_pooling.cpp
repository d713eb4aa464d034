#include <catch2/catch.hpp>

#include <limits>

#include "octet/core/parallel.hpp"
#include "octet/kernels/pooling.hpp"
#include "spatial_test_util.hpp"

using namespace octet;
using namespace octet::kernels;
using octet::test::random_vec;
using octet::test::require_close;

namespace {

Pool2dParams pp(PoolMethod m, int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t pt = 0,
                int64_t pl = 0, int64_t pb = 0, int64_t pr = 0) {
  Pool2dParams p;
  p.method = m;
  p.kernel_h = kh; p.kernel_w = kw; p.stride_h = sh; p.stride_w = sw;
  p.pad_top = pt; p.pad_left = pl; p.pad_bottom = pb; p.pad_right = pr;
  return p;
}

std::vector<float> run(const Pool2dParams& p, int64_t h, int64_t w, const std::vector<float>& in) {
  const auto s = pool2d_shape(p, 1, 1, h, w);
  std::vector<float> out(static_cast<size_t>(s.out_h * s.out_w)), ref(out.size());
  pool2d(p, s, in.data(), out.data());
  reference::pool2d(p, s, in.data(), ref.data());
  CHECK(out == ref);
  return out;
}

}  // namespace

TEST_CASE("pooling output sizes: Caffe ceil, its pad rule, ONNX floor and ceil") {
  auto p = pp(PoolMethod::Max, 3, 3, 2, 2);
  CHECK(pool2d_shape(p, 1, 1, 6, 6).out_h == 3);  // ceil(3/2)+1
  p.ceil_mode = false;
  CHECK(pool2d_shape(p, 1, 1, 6, 6).out_h == 2);  // floor(3/2)+1
  // AlexNet/GoogLeNet: 3x3 s2 on 112 (ceil) -> 56, on 55 -> 27.
  p.ceil_mode = true;
  CHECK(pool2d_shape(p, 1, 1, 112, 112).out_h == 56);
  CHECK(pool2d_shape(p, 1, 1, 55, 55).out_h == 27);
  // k2 s2 pad 1 on 5: ceil(5/2)+1 = 4, but the 4th window would start at 6 >= 5+1 -> 3.
  auto q = pp(PoolMethod::Max, 2, 2, 2, 2, 1, 1, 1, 1);
  CHECK(pool2d_shape(q, 1, 1, 5, 5).out_h == 3);
  q.convention = PoolConvention::Onnx;
  CHECK(pool2d_shape(q, 1, 1, 5, 5).out_h == 3);
  q.ceil_mode = false;
  CHECK(pool2d_shape(q, 1, 1, 5, 5).out_h == 3);  // floor(5/2)+1
  // stride > kernel, no pad: Caffe keeps a window starting past the image, ONNX drops it.
  auto r = pp(PoolMethod::Max, 1, 1, 3, 3);
  CHECK(pool2d_shape(r, 1, 1, 5, 5).out_w == 3);
  r.convention = PoolConvention::Onnx;
  CHECK(pool2d_shape(r, 1, 1, 5, 5).out_w == 2);
  // Caffe's rule looks at any pad: pad only along w still drops the extra h window.
  auto t = pp(PoolMethod::Max, 1, 1, 3, 3, 0, 1, 0, 1);
  CHECK(pool2d_shape(t, 1, 1, 5, 5).out_h == 2);
  // Global pooling: 1x1 output whatever kernel/stride say.
  auto g = pp(PoolMethod::Average, 9, 9, 5, 5);
  g.global = true;
  const auto gs = pool2d_shape(g, 2, 3, 7, 4);
  CHECK(gs.out_h == 1);
  CHECK(gs.out_w == 1);
  CHECK_THROWS_AS(pool2d_shape(pp(PoolMethod::Max, 4, 4, 1, 1), 1, 1, 3, 3), ShapeError);
}

TEST_CASE("Caffe empty window past the image: MAX gives -FLT_MAX, AVE 0") {
  std::vector<float> in{1, 2, 3, 4, 5};
  auto out = run(pp(PoolMethod::Max, 1, 1, 1, 3), 1, 5, in);
  CHECK(out == std::vector<float>{1, 4, std::numeric_limits<float>::lowest()});
  out = run(pp(PoolMethod::Average, 1, 1, 1, 3), 1, 5, in);
  CHECK(out == std::vector<float>{1, 4, 0});
}

TEST_CASE("AVE divisor: Caffe clips the window to the padded bounds, count_include_pad=false counts the image only") {
  // 1x6 row, kernel 1x3, stride 2, pad 1 each side, ceil: windows start -1, 1, 3, 5.
  // The last, [5, 8), is clipped to the padded end 7: Caffe divides by 2, not 3.
  const std::vector<float> in{1, 2, 3, 4, 5, 6};
  auto p = pp(PoolMethod::Average, 1, 3, 1, 2, 0, 1, 0, 1);
  CHECK(run(p, 1, 6, in) == std::vector<float>{1, 3, 5, 3});
  p.count_include_pad = false;
  CHECK(run(p, 1, 6, in) == std::vector<float>{1.5f, 3, 5, 6});
  p.method = PoolMethod::Max;
  CHECK(run(p, 1, 6, in) == std::vector<float>{2, 4, 6, 6});
  // 3x3 input 1..9, 3x3 kernel, stride 1, pad 1: corner window holds 1,2,4,5.
  const std::vector<float> sq{1, 2, 3, 4, 5, 6, 7, 8, 9};
  auto a = pp(PoolMethod::Average, 3, 3, 1, 1, 1, 1, 1, 1);
  a.ceil_mode = false;
  a.convention = PoolConvention::Onnx;
  auto inc = run(a, 3, 3, sq);
  CHECK(inc[0] == Approx(12.f / 9));
  CHECK(inc[4] == Approx(5.f));
  CHECK(inc[8] == Approx(28.f / 9));
  a.count_include_pad = false;
  auto exc = run(a, 3, 3, sq);
  CHECK(exc[0] == Approx(3.f));
  CHECK(exc[1] == Approx(21.f / 6));
  CHECK(exc[4] == Approx(5.f));
}

TEST_CASE("asymmetric pads (ONNX SAME_UPPER) and global pooling by hand") {
  // 1x4 row, kernel 2, stride 1, pad end 1 only: windows [0,2) [1,3) [2,4) [3,5).
  const std::vector<float> in{4, -1, 7, 2};
  auto p = pp(PoolMethod::Max, 1, 2, 1, 1, 0, 0, 0, 1);
  p.convention = PoolConvention::Onnx;
  p.ceil_mode = false;
  CHECK(run(p, 1, 4, in) == std::vector<float>{4, 7, 7, 2});
  p.method = PoolMethod::Average;
  CHECK(run(p, 1, 4, in) == std::vector<float>{1.5f, 3, 4.5f, 1});
  p.count_include_pad = false;
  CHECK(run(p, 1, 4, in) == std::vector<float>{1.5f, 3, 4.5f, 2});
  auto g = pp(PoolMethod::Average, 1, 1, 1, 1);
  g.global = true;
  CHECK(run(g, 2, 2, in) == std::vector<float>{3});
  g.method = PoolMethod::Max;
  CHECK(run(g, 2, 2, in) == std::vector<float>{7});
}

TEST_CASE("pool2d optimised matches reference on random shapes") {
  std::mt19937 gen(3);
  auto r = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen); };
  for (int iter = 0; iter < 400; ++iter) {
    Pool2dParams p = pp(r(0, 1) ? PoolMethod::Max : PoolMethod::Average, r(1, 5), r(1, 5), r(1, 4), r(1, 4));
    p.pad_top = r(0, p.kernel_h - 1);
    p.pad_left = r(0, p.kernel_w - 1);
    p.pad_bottom = r(0, 1) ? p.pad_top : r(0, p.kernel_h - 1);
    p.pad_right = r(0, 1) ? p.pad_left : r(0, p.kernel_w - 1);
    p.ceil_mode = r(0, 1);
    p.convention = r(0, 1) ? PoolConvention::Caffe : PoolConvention::Onnx;
    p.count_include_pad = r(0, 1);
    p.global = r(0, 15) == 0;
    const int64_t n = r(1, 2), c = r(1, 3);
    const int64_t h = r(p.kernel_h, 13), w = r(p.kernel_w, 17);
    const auto s = pool2d_shape(p, n, c, h, w);
    auto in = random_vec(n * c * h * w, 10 + static_cast<uint32_t>(iter));
    std::vector<float> want(static_cast<size_t>(n * c * s.out_h * s.out_w)), got(want.size(), -5.f);
    reference::pool2d(p, s, in.data(), want.data());
    set_num_threads(r(1, 2));
    pool2d(p, s, in.data(), got.data());
    set_num_threads(1);
    INFO("iter " << iter << " k" << p.kernel_h << "x" << p.kernel_w << " s" << p.stride_h << ","
                 << p.stride_w << " pads " << p.pad_top << "," << p.pad_left << "," << p.pad_bottom
                 << "," << p.pad_right << " in " << h << "x" << w << " ceil " << p.ceil_mode);
    require_close(got, want, 1e-5f);
  }
}

TEST_CASE("global pooling of whole planes matches the reference (lanes, tails, batch x channels)") {
  for (const auto method : {PoolMethod::Max, PoolMethod::Average})
    for (const auto& [h, w] : {std::pair<int64_t, int64_t>{7, 7}, {20, 30}, {1, 15}, {4, 4}}) {
      auto g = pp(method, 1, 1, 1, 1);
      g.global = true;
      const auto s = pool2d_shape(g, 2, 5, h, w);
      auto in = random_vec(2 * 5 * h * w, 77);
      std::vector<float> want(10), got(10, -5.f);
      reference::pool2d(g, s, in.data(), want.data());
      pool2d(g, s, in.data(), got.data());
      require_close(got, want, 1e-5f);
    }
}
