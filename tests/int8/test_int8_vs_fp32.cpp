// A float -> int8 -> float model of a small conv net: thresholds are the absmax of each fp32
// blob (computed here), weights per-channel max-abs (calib/weights.hpp), multipliers from
// fixed/requant.hpp. The Int8Net output must stay close to the fp32 Net on the same weights.
#include "int8_test_util.hpp"

using namespace octet;
using namespace octet::int8_test;

namespace {

const char* kNet = R"(
name: "small"
layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 4 dim: 3 dim: 16 dim: 16 } } }
layer { name: "c1" type: "Convolution" bottom: "x" top: "c1" convolution_param { num_output: 8 kernel_size: 3 pad: 1 } }
layer { name: "r1" type: "ReLU" bottom: "c1" top: "r1" }
layer { name: "p1" type: "Pooling" bottom: "r1" top: "p1" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "c2" type: "Convolution" bottom: "p1" top: "c2" convolution_param { num_output: 16 kernel_size: 3 pad: 1 } }
layer { name: "r2" type: "ReLU" bottom: "c2" top: "r2" }
layer { name: "dw" type: "Convolution" bottom: "r2" top: "dw" convolution_param { num_output: 16 kernel_size: 3 pad: 1 group: 16 } }
layer { name: "c3" type: "Convolution" bottom: "r2" top: "c3" convolution_param { num_output: 16 kernel_size: 1 } }
layer { name: "sum" type: "Eltwise" bottom: "dw" bottom: "c3" top: "sum" }
layer { name: "r3" type: "ReLU" bottom: "sum" top: "r3" }
layer { name: "gp" type: "Pooling" bottom: "r3" top: "gp" pooling_param { pool: AVE global_pooling: true } }
layer { name: "fc" type: "InnerProduct" bottom: "gp" top: "fc" inner_product_param { num_output: 10 } }
)";

}  // namespace

TEST_CASE("int8 net of a small conv net tracks the fp32 net (cosine > 0.99)", "[int8][accuracy]") {
  auto fp = ir::parse_prototxt(kNet);
  // fp32 weights: He-like uniform per layer, small biases.
  unsigned seed = 7;
  for (auto& l : *fp.mutable_layer()) {
    Shape ws;
    int64_t oc = 0;
    if (l.name() == "c1") ws = {8, 3, 3, 3};
    else if (l.name() == "c2") ws = {16, 8, 3, 3};
    else if (l.name() == "dw") ws = {16, 1, 3, 3};
    else if (l.name() == "c3") ws = {16, 16, 1, 1};
    else if (l.name() == "fc") ws = {10, 16};
    else continue;
    oc = ws[0];
    const float a = std::sqrt(6.f / static_cast<float>(shape_count(ws) / oc));
    *l.add_blobs() = ir::tensor_to_blob(random_tensor(ws, -a, a, seed++));
    *l.add_blobs() = ir::tensor_to_blob(random_tensor({oc}, -0.1f, 0.1f, seed++));
  }
  engine::Net f(fp);
  const auto x = random_tensor({4, 3, 16, 16}, -1, 1, 99);
  f.set_input("x", x);
  f.forward();
  std::map<std::string, float> T;
  for (const auto& b : f.blob_names()) {
    float m = 0;
    for (float v : f.blob(b).span()) m = std::max(m, std::fabs(v));
    T[b] = m;
  }
  T["p1"] = T["r1"];  // MAX pooling propagates its input's threshold
  // ReLU outputs are non-negative: UINT8. Everything else INT8.
  auto u8 = [](const std::string& b) { return b == "r1" || b == "p1" || b == "r2" || b == "r3" || b == "gp"; };
  auto s = [&](const std::string& b) { return scale_of(T.at(b), u8(b)); };

  ufw::NetParameter q = fp;
  for (auto& l : *q.mutable_layer()) {
    const std::string& top = l.top(0);
    auto* tq = l.add_top_quant();
    tq->set_threshold(T.at(top));
    tq->set_dtype(u8(top) ? ufw::BlobProto::UINT8 : ufw::BlobProto::INT8);
    if (l.type() == "Input") continue;
    const std::string& bot = l.bottom(0);
    if (l.type() == "Convolution" || l.type() == "InnerProduct") {
      const auto w = engine::blob_to_tensor(l.blobs(0));
      const auto b = engine::blob_to_tensor(l.blobs(1));
      const Shape ws = w.shape();
      set_int8_weights(l, {w.data(), w.data() + w.size()}, ws, {b.data(), b.data() + b.size()},
                       static_cast<size_t>(ws[0]), s(bot), s(top));
    } else if (l.type() == "ReLU") {
      const auto m = fixed::quantize_multiplier(double(s(bot)) / s(top));
      l.mutable_int8_param()->add_multiplier(m.multiplier);
      l.mutable_int8_param()->add_shift(m.shift);
    } else if (l.type() == "Eltwise") {
      const double ra = double(s("dw")) / s(top), rb = double(s("c3")) / s(top);
      const int sh = fixed::quantize_multiplier(std::max(ra, rb)).shift;
      l.mutable_int8_param()->add_input_multiplier(static_cast<std::int32_t>(std::llround(std::ldexp(ra, sh))));
      l.mutable_int8_param()->add_input_multiplier(static_cast<std::int32_t>(std::llround(std::ldexp(rb, sh))));
      l.mutable_int8_param()->add_input_shift(sh);
    } else if (l.name() == "gp") {
      for (int d = 1; d <= 64; ++d) {
        const auto m = fixed::quantize_multiplier(double(s(bot)) / (double(s(top)) * d));
        l.mutable_int8_param()->add_multiplier(m.multiplier);
        l.mutable_int8_param()->add_shift(m.shift);
      }
    }
  }
  // Round trip through the umodel files: the runtime reads what the calibration tool writes.
  auto reloaded = ir::parse_prototxt(ir::prototxt_text(q));
  ir::merge_weights(reloaded, ir::parse_weights(ir::weights_bytes(q)));
  engine::Int8Net n(reloaded);
  for (const auto& l : n.layers()) {
    INFO(l.name);
    REQUIRE(l.int8);
  }
  n.set_input("x", x);
  n.forward();
  for (const char* b : {"c1", "r2", "sum", "fc"}) {
    INFO(b);
    const double c = cosine(n.blob_float(b), f.blob(b));
    CAPTURE(c);
    REQUIRE(c > 0.99);
  }
}
