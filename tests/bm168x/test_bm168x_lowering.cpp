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
