// Single layers and small nets lowered to BM1684X commands, run on the cmodel, compared code for
// code with the int8 runtime (engine::Int8Net), under both cmodel schedules.
#include "../int8/int8_test_util.hpp"
#include "octet/bm168x/compare.hpp"

using namespace octet;
using namespace octet::bm168x;
using namespace octet::int8_test;

namespace {

std::string replace_all(std::string s, const std::string& a, const std::string& b) {
  for (size_t p = s.find(a); p != std::string::npos; p = s.find(a, p + b.size())) s.replace(p, a.size(), b);
  return s;
}

void check(const ufw::NetParameter& net, LowerOptions opt = {}, unsigned seed = 3) {
  const Lowered low = lower(net, opt);
  // the bmodel round-trips and the cmodel runs what the reader returns
  const auto file = BmodelFile::parse(serialize_bmodel(low.model));
  Lowered again = low;
  again.model = file.describe();
  const auto r = compare_with_runtime(net, again, opt, seed);
  std::string all;
  for (const auto& l : r.lines) all += l + "\n";
  INFO(all);
  REQUIRE(r.equal);
  REQUIRE(r.blobs_compared >= 2);
}

ufw::NetParameter conv_net(int n, int c, int h, int w, int oc, int k, int pad, int stride, int group, int dil, bool u8_out, bool bias, unsigned seed) {
  std::string text = R"(
name: "conv"
layer { name: "in" type: "Input" top: "x" input_param { shape { dim: N dim: C dim: H dim: W } }
        top_quant { threshold: 2 dtype: INT8 } }
layer { name: "conv" type: "Convolution" bottom: "x" top: "y"
        convolution_param { num_output: OC kernel_size: KS pad: PAD stride: STRIDE group: GROUP dilation: DIL bias_term: BIAS }
        top_quant { threshold: 6 dtype: OUTDT } }
)";
  for (auto [a, b] : std::vector<std::pair<std::string, std::string>>{{"N", std::to_string(n)}, {"C", std::to_string(c)}, {"H", std::to_string(h)},
                                                                       {"W", std::to_string(w)}, {"OC", std::to_string(oc)}, {"KS", std::to_string(k)},
                                                                       {"PAD", std::to_string(pad)}, {"STRIDE", std::to_string(stride)},
                                                                       {"GROUP", std::to_string(group)}, {"DIL", std::to_string(dil)},
                                                                       {"BIAS", bias ? "true" : "false"}, {"OUTDT", u8_out ? "UINT8" : "INT8"}})
    text = replace_all(text, " " + a + " ", " " + b + " ");
  auto net = ir::parse_prototxt(text);
  const Shape ws{oc, c / group, k, k};
  const auto wf = random_floats(static_cast<size_t>(shape_count(ws)), -0.5f, 0.5f, seed);
  const auto bf = bias ? random_floats(static_cast<size_t>(oc), -1.f, 1.f, seed + 1) : std::vector<float>{};
  set_int8_weights(layer(net, "conv"), wf, ws, bf, static_cast<size_t>(oc), scale_of(2, false), scale_of(6, u8_out));
  return net;
}

}  // namespace

TEST_CASE("bmnetu lowering: convolution variants are bit-exact against the int8 runtime", "[bm168x]") {
  check(conv_net(1, 3, 8, 8, 8, 3, 1, 1, 1, 1, false, true, 1));
  check(conv_net(2, 4, 7, 6, 8, 3, 1, 2, 1, 1, true, true, 2));
  check(conv_net(1, 6, 9, 9, 6, 3, 0, 1, 2, 1, false, true, 3));    // grouped
  check(conv_net(2, 8, 6, 6, 8, 3, 1, 1, 8, 1, false, true, 4));    // depthwise
  check(conv_net(1, 70, 5, 5, 130, 1, 0, 1, 1, 1, false, false, 5)); // channels not divisible by 64, no bias
  check(conv_net(1, 3, 11, 11, 5, 3, 2, 1, 1, 2, false, true, 6));   // dilation
}

TEST_CASE("bmnetu lowering: forced small tiles along N and H give the same codes at every -opt", "[bm168x]") {
  const auto net = conv_net(3, 5, 13, 7, 9, 3, 1, 2, 1, 1, true, true, 7);
  for (int o = 0; o <= 2; ++o) {
    LowerOptions opt;
    opt.opt = o;
    opt.max_tile_h = 2;
    opt.max_tile_n = 2;
    check(net, opt);
  }
}

namespace {

// A small net exercising every other lowered layer type.
ufw::NetParameter mixed_net(int n, int c, int h, int w, bool avg_global, unsigned seed) {
  std::string text = R"(
name: "mixed"
layer { name: "in" type: "Input" top: "x" input_param { shape { dim: N dim: C dim: H dim: W } }
        top_quant { threshold: 2 dtype: INT8 } }
layer { name: "c1" type: "Convolution" bottom: "x" top: "a" convolution_param { num_output: 12 kernel_size: 3 pad: 1 }
        top_quant { threshold: 4 dtype: INT8 } }
layer { name: "r1" type: "ReLU" bottom: "a" top: "ra" top_quant { threshold: 3 dtype: UINT8 }
        int8_param { multiplier: 1610612736 shift: 30 } }
layer { name: "r6" type: "ReLU6" bottom: "a" top: "r6" top_quant { threshold: 4 dtype: INT8 } }
layer { name: "mp" type: "Pooling" bottom: "ra" top: "p" pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 }
        top_quant { threshold: 3 dtype: UINT8 } }
layer { name: "mp6" type: "Pooling" bottom: "r6" top: "p6" pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 }
        top_quant { threshold: 4 dtype: INT8 } }
layer { name: "sum" type: "Eltwise" bottom: "p" bottom: "p6" top: "s" eltwise_param { operation: SUM }
        top_quant { threshold: 5 dtype: INT8 } int8_param { input_multiplier: 1288490189 input_multiplier: 1717986918 input_shift: 31 } }
layer { name: "mx" type: "Eltwise" bottom: "p" bottom: "s" top: "m" eltwise_param { operation: MAX }
        top_quant { threshold: 5 dtype: INT8 } int8_param { input_multiplier: 1288490189 input_multiplier: 1073741824 input_shift: 30 } }
layer { name: "pr" type: "Eltwise" bottom: "m" bottom: "s" top: "q" eltwise_param { operation: PROD }
        top_quant { threshold: 9 dtype: INT8 } int8_param { multiplier: 1500000000 shift: 36 } }
layer { name: "cat" type: "Concat" bottom: "q" bottom: "m" top: "cc" top_quant { threshold: 5 dtype: INT8 }
        int8_param { input_multiplier: 1073741824 input_multiplier: 1073741824 input_shift: 30 input_shift: 30 } }
layer { name: "sg" type: "Sigmoid" bottom: "cc" top: "sg" top_quant { threshold: 1 dtype: UINT8 } }
layer { name: "ap" type: "Pooling" bottom: "sg" top: "ap" pooling_param { POOLSPEC }
        top_quant { threshold: 1 dtype: UINT8 } }
layer { name: "fl" type: "Flatten" bottom: "ap" top: "f" top_quant { threshold: 1 dtype: UINT8 } }
layer { name: "fc" type: "InnerProduct" bottom: "f" top: "out" inner_product_param { num_output: 10 }
        top_quant { threshold: 8 dtype: INT8 } }
)";
  text = replace_all(text, " N ", " " + std::to_string(n) + " ");
  text = replace_all(text, " C ", " " + std::to_string(c) + " ");
  text = replace_all(text, " H ", " " + std::to_string(h) + " ");
  text = replace_all(text, " W ", " " + std::to_string(w) + " ");
  text = replace_all(text, "POOLSPEC", avg_global ? "pool: AVE global_pooling: true" : "pool: AVE kernel_size: 2 stride: 2");
  auto net = ir::parse_prototxt(text);
  const Shape ws{12, c, 3, 3};
  set_int8_weights(layer(net, "c1"), random_floats(static_cast<size_t>(shape_count(ws)), -0.5f, 0.5f, seed), ws,
                   random_floats(12, -1.f, 1.f, seed + 1), 12, scale_of(2, false), scale_of(4, false));
  // sigmoid table: uint8 out from int8 in
  std::string lut(256, '\0');
  for (int i = 0; i < 256; ++i)
    lut[static_cast<size_t>(i)] = static_cast<char>(fixed::quantize_value(1.0 / (1.0 + std::exp(-(i - 128) * (5.0 / 127))), 1.0 / 255, fixed::QRange::uint8));
  layer(net, "sg").mutable_int8_param()->set_lut(lut);
  // AVE pooling: one multiplier per divisor
  const int ph = (h + 2 - 3) / 2 + 1 + ((h + 2 - 3) % 2 ? 1 : 0), pw = (w + 2 - 3) / 2 + 1 + ((w + 2 - 3) % 2 ? 1 : 0);
  const int area = avg_global ? ph * pw : 4;
  auto* ip = layer(net, "ap").mutable_int8_param();
  for (int d = 1; d <= area; ++d) {
    const auto m = fixed::quantize_multiplier((1.0 / 255) / ((1.0 / 255) * d));
    ip->add_multiplier(m.multiplier);
    ip->add_shift(m.shift);
  }
  const int K = 24 * (avg_global ? 1 : ((ph - 1) / 2 + 1) * ((pw - 1) / 2 + 1));
  const Shape fs{10, K};
  set_int8_weights(layer(net, "fc"), random_floats(static_cast<size_t>(10 * K), -0.3f, 0.3f, seed + 2), fs,
                   random_floats(10, -0.5f, 0.5f, seed + 3), 10, scale_of(1, true), scale_of(8, false));
  return net;
}

}  // namespace

TEST_CASE("bmnetu lowering: ReLU/ReLU6, max/avg pooling, eltwise SUM/MAX/PROD, concat, LUT, flatten, FC", "[bm168x]") {
  const auto net = mixed_net(2, 3, 9, 9, true, 11);
  {
    engine::Int8Net rt(net);
    for (const auto& li : rt.layers()) {
      INFO(li.name);
      CHECK((li.int8 || li.type == "Input"));
    }
  }
  check(net);
  check(mixed_net(1, 5, 7, 11, false, 12));
  LowerOptions small;
  small.max_tile_h = 1;
  small.max_tile_n = 1;
  check(net, small);
  LowerOptions o0;
  o0.opt = 0;
  check(net, o0);
}

TEST_CASE("bmnetu lowering: float borders (-input_as_fp32 / -output_as_fp32) stay bit-exact", "[bm168x]") {
  const auto net = mixed_net(1, 3, 9, 9, true, 13);
  LowerOptions opt;
  opt.input_as_fp32 = {"x"};
  opt.output_as_fp32 = {"out"};
  const Lowered low = lower(net, opt);
  REQUIRE(low.model.nets[0].inputs[0].dtype == kDtFp32);
  REQUIRE(low.model.nets[0].outputs[0].dtype == kDtFp32);
  check(net, opt);
}

TEST_CASE("bmnetu lowering: the comparison is not vacuous", "[bm168x]") {
  const auto net = conv_net(1, 3, 8, 8, 8, 3, 1, 1, 1, 1, false, true, 21);
  LowerOptions opt;
  opt.max_tile_h = 2;
  Lowered low = lower(net, opt);
  SECTION("a flipped weight byte is caught") {
    low.model.nets[0].coeff[3] ^= 0x41;
    CHECK_FALSE(compare_with_runtime(net, low, opt).equal);
  }
  SECTION("dropping every dependency makes the schedules disagree") {
    auto& g = low.model.nets[0].groups[0];
    auto strip = [](std::vector<std::uint8_t>& s, std::uint32_t num, bool tiu) {
      std::size_t o = 0;
      for (std::uint32_t i = 0; i < num; ++i) {
        std::span<std::uint8_t> c(s.data() + o, s.size() - o);
        if (tiu) put_bits(c, 21, 20, 0), o += static_cast<std::size_t>(tiu_nominal_bytes(c));
        else put_bits(c, 64, 20, 0), o += 96;
      }
    };
    strip(g.tiu, g.tiu_num, true);
    strip(g.gdma, g.gdma_num, false);
    const auto r = compare_with_runtime(net, low, opt);
    CHECK_FALSE(r.equal);
  }
  SECTION("dependencies overlap loads with compute at -opt 1 but not at -opt 0") {
    LowerOptions o0 = opt;
    o0.opt = 0;
    const Lowered serial = lower(net, o0);
    CHECK(low.total_cycles < serial.total_cycles);
  }
}

TEST_CASE("bmnetu lowering: errors name the layer", "[bm168x]") {
  SECTION("a layer that does not fit one tile") {
    const auto net = conv_net(1, 3, 8, 8, 8, 3, 1, 1, 1, 1, false, true, 31);
    auto big = conv_net(1, 64, 8, 8, 64, 15, 7, 1, 1, 1, false, true, 32);
    // 64 x 64 x 15 x 15 weights do fit; make the input plane too large for one row instead
    auto huge = ir::parse_prototxt(R"(
name: "huge"
layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 1 dim: 64 dim: 4 dim: 70000 } } top_quant { threshold: 1 dtype: INT8 } }
layer { name: "r" type: "ReLU" bottom: "x" top: "y" top_quant { threshold: 1 dtype: INT8 } }
)");
    try {
      lower(huge, {});
      FAIL("no error");
    } catch (const octet::Error& e) {
      const std::string m = e.what();
      INFO(m);
      CHECK(m.find("layer r (ReLU)") != std::string::npos);
    }
    (void)net;
    (void)big;
  }
  SECTION("an unsupported layer type") {
    auto net = ir::parse_prototxt(R"(
name: "sm"
layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 1 dim: 4 dim: 1 dim: 1 } } top_quant { threshold: 1 dtype: INT8 } }
layer { name: "soft" type: "Softmax" bottom: "x" top: "y" top_quant { threshold: 1 dtype: FP32 } }
)");
    try {
      lower(net, {});
      FAIL("no error");
    } catch (const octet::UnsupportedError& e) {
      const std::string m = e.what();
      INFO(m);
      CHECK(m.find("layer soft (Softmax)") != std::string::npos);
    }
  }
}

TEST_CASE("bmnetu lowering property: random single convolutions with forced small tiles equal the int8 runtime", "[bm168x]") {
  std::mt19937 rng(2024);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int it = 0; it < 24; ++it) {
    const int k = pick(1, 4), stride = pick(1, 3), pad = pick(0, std::min(3, k)), dil = k > 1 ? pick(1, 2) : 1;
    int group = 1;
    const int kind = pick(0, 2);
    int c = pick(1, 9), oc = pick(1, 9);
    if (kind == 1) group = c = oc = pick(2, 80);  // depthwise, sometimes more than 64 channels
    if (kind == 2) group = pick(2, 3), c = group * pick(1, 3), oc = group * pick(1, 3);
    if (kind == 0 && pick(0, 3) == 0) c = pick(60, 70), oc = pick(60, 140);
    const int ext = dil * (k - 1) + 1;
    const int h = pick(std::max(1, ext - 2 * pad), 12), w = pick(std::max(1, ext - 2 * pad), 12);
    const int n = group > 1 && kind == 2 ? pick(1, 2) : pick(1, 3);
    const bool u8 = pick(0, 1) == 1, bias = pick(0, 3) != 0;
    INFO("it " << it << ": n" << n << " c" << c << " " << h << "x" << w << " oc" << oc << " k" << k << " s" << stride << " p" << pad
               << " d" << dil << " g" << group);
    const auto net = conv_net(n, c, h, w, oc, k, pad, stride, group, dil, u8, bias, 100u + static_cast<unsigned>(it));
    LowerOptions opt;
    opt.opt = pick(0, 2);
    opt.max_tile_h = pick(1, 3);
    opt.max_tile_n = pick(1, 2);
    check(net, opt, static_cast<unsigned>(it));
  }
}

TEST_CASE("bmnetu lowering property: random pooling and ReLU layers with forced small tiles equal the int8 runtime", "[bm168x]") {
  std::mt19937 rng(77);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int it = 0; it < 16; ++it) {
    const bool avg = pick(0, 1) == 1;
    const int k = pick(1, 4), s = pick(1, 3);
    const int pad = pick(0, k - 1);
    const int c = pick(1, 150), n = pick(1, 3);
    // AVE with pads and Caffe ceil rounding: divisors change at the borders
    const int h = pick(k, 12), w = pick(k, 12);
    const bool u8 = pick(0, 1) == 1;
    std::string text = "name: \"p\"\nlayer { name: \"in\" type: \"Input\" top: \"x\" input_param { shape { dim: " + std::to_string(n) +
                       " dim: " + std::to_string(c) + " dim: " + std::to_string(h) + " dim: " + std::to_string(w) +
                       " } } top_quant { threshold: 3 dtype: INT8 } }\n"
                       "layer { name: \"r\" type: \"ReLU\" bottom: \"x\" top: \"r\" top_quant { threshold: 2.5 dtype: " +
                       std::string(u8 ? "UINT8" : "INT8") + " } int8_param { multiplier: 1288490189 shift: 30 } }\n"
                       "layer { name: \"pool\" type: \"Pooling\" bottom: \"r\" top: \"y\" pooling_param { pool: " + (avg ? "AVE" : "MAX") +
                       " kernel_size: " + std::to_string(k) + " stride: " + std::to_string(s) + " pad: " + std::to_string(pad) +
                       " } top_quant { threshold: 2.5 dtype: " + (u8 ? "UINT8" : "INT8") + " } }\n";
    auto net = ir::parse_prototxt(text);
    if (avg) {
      auto* ip = layer(net, "pool").mutable_int8_param();
      for (int d = 1; d <= k * k; ++d) {
        const auto m = fixed::quantize_multiplier(1.0 / d);
        ip->add_multiplier(m.multiplier);
        ip->add_shift(m.shift);
      }
    }
    INFO("it " << it << ": " << (avg ? "AVE" : "MAX") << " n" << n << " c" << c << " " << h << "x" << w << " k" << k << " s" << s << " p" << pad);
    LowerOptions opt;
    opt.opt = pick(0, 2);
    opt.max_tile_h = pick(1, 3);
    opt.max_tile_n = pick(1, 2);
    check(net, opt, static_cast<unsigned>(it) + 50);
  }
}
