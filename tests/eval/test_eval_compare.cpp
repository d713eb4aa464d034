// The comparison driver on a tiny conv net through the fake-quant simulation: per-layer
// metrics, own error, the damaged layer ranked first, the search, and bad input.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "octet/engine/init_weights.hpp"
#include "octet/eval/compare.hpp"
#include "octet/eval/report_html.hpp"
#include "octet/eval/simulate.hpp"
#include "octet/ir/umodel.hpp"

using namespace octet;
using namespace octet::eval;

namespace {

const char* kNet = R"(
name: "tiny"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 dim: 6 dim: 6 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1" convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "relu1" }
layer { name: "conv2" type: "Convolution" bottom: "relu1" top: "conv2" convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
layer { name: "relu2" type: "ReLU" bottom: "conv2" top: "relu2" }
layer { name: "neg" type: "Power" bottom: "relu2" top: "neg" power_param { scale: -1 } }
layer { name: "dead" type: "ReLU" bottom: "neg" top: "dead" }
layer { name: "sum" type: "Eltwise" bottom: "relu2" bottom: "dead" top: "sum" }
layer { name: "fc" type: "InnerProduct" bottom: "sum" top: "fc" inner_product_param { num_output: 10 } }
)";

ufw::NetParameter fp32_net() {
  ufw::NetParameter p = ir::parse_prototxt(kNet);
  return engine::init_random_weights(p, 7, {});
}

Feeder feeder() {
  return [](engine::Net& net, int64_t i) {
    FloatTensor& x = net.input("data");
    std::mt19937 rng(static_cast<unsigned>(100 + i));
    std::normal_distribution<float> d(0.f, 1.f);
    for (int64_t k = 0; k < x.size(); ++k) x[k] = d(rng);
  };
}

// MAX thresholds measured on the fp32 net over the records the comparison will use.
ufw::NetParameter int8_net(const ufw::NetParameter& fp, int records, const std::string& bad_layer = "", double bad_scale = 1) {
  Fp32Source src(fp, {}, feeder());
  std::map<std::string, double> absmax;
  for (int r = 0; r < records; ++r) {
    src.forward();
    for (const auto& b : src.net().blob_names()) {
      const auto& t = src.blob(b);
      for (int64_t k = 0; k < t.size(); ++k) absmax[b] = std::max(absmax[b], std::abs(static_cast<double>(t[k])));
    }
  }
  ufw::NetParameter q = fp;
  for (auto& l : *q.mutable_layer()) {
    for (const auto& t : l.top()) {
      auto* bq = l.add_top_quant();
      double th = absmax[t] > 0 ? absmax[t] : 1.0;
      if (l.name() == bad_layer) th *= bad_scale;
      bq->set_threshold(static_cast<float>(th));
      bq->set_dtype(l.type() == "ReLU" ? ufw::BlobProto::UINT8 : ufw::BlobProto::INT8);
    }
  }
  return q;
}

CompareOptions opts(int iters) {
  CompareOptions o;
  o.iterations = iters;
  o.fp32_model = "fp32.prototxt";
  o.int8_model = "int8.prototxt";
  return o;
}

}  // namespace

TEST_CASE("compare: a good int8 net is close everywhere; an all-zero blob is undefined") {
  const auto fp = fp32_net();
  Comparison c(fp, int8_net(fp, 4), fp32_factory(feeder()), simulated_int8_factory(feeder()), opts(4));
  const Report r = c.run();
  REQUIRE(r.layers.size() == 8);
  CHECK(r.output_blob == "fc");
  for (const auto& L : r.layers) {
    if (L.layer == "dead") {
      CHECK_FALSE(L.acc.cosine().has_value());
      CHECK_FALSE(L.flagged);
      continue;
    }
    INFO(L.layer);
    CHECK(*L.acc.cosine() > 0.99);
    CHECK(L.own.has_value());
    CHECK(L.saturated == 0);  // MAX thresholds over the same records clip nothing
    CHECK(L.total > 0);
  }
  CHECK(*r.output_cos > 0.99);
  // The neg layer sees fp32 input in its own-error run, and its blob is on the int8 grid of
  // its threshold: own error is the rounding alone.
  const std::string html = report_html(r);
  CHECK(html.find("NaN") == std::string::npos);
}

TEST_CASE("compare: a forced small threshold on conv1 ranks conv1 first; later layers only inherit") {
  const auto fp = fp32_net();
  Comparison c(fp, int8_net(fp, 4, "conv1", 0.05), fp32_factory(feeder()), simulated_int8_factory(feeder()), opts(4));
  const Report r = c.run();
  const auto order = r.damage_order();
  CHECK(r.layers[order[0]].layer == "conv1");
  const auto& conv1 = r.layers[order[0]];
  CHECK(conv1.flagged);
  CHECK(conv1.saturation().value() > 0.3);
  CHECK(conv1.suggestion.find("clips") != std::string::npos);
  // conv2's accumulated error is large (it inherits conv1's) but its own error is small.
  const auto& conv2 = r.layers[2];
  REQUIRE(conv2.layer == "conv2");
  CHECK(*conv2.own->cosine() > 0.99);
  CHECK(*conv2.acc.cosine() < *conv2.own->cosine());
  CHECK_FALSE(conv2.flagged);
}

TEST_CASE("compare: the search puts the damaged layer in float first and measures the gain") {
  const auto fp = fp32_net();
  auto o = opts(4);
  o.search_fp_layers = 2;
  o.target_cos = 0.999;
  o.own_error = false;
  Comparison c(fp, int8_net(fp, 4, "conv2", 0.05), fp32_factory(feeder()), simulated_int8_factory(feeder()), o);
  const Report r = c.run();
  REQUIRE(r.search.has_value());
  REQUIRE_FALSE(r.search->steps.empty());
  CHECK(r.search->steps[0].layer == "conv2");
  CHECK(r.search->steps[0].cos > r.search->base_cos);
  CHECK(r.search->base_cos == Approx(*r.output_cos).epsilon(1e-9));
  CHECK(r.search->fpfwd_blocks().rfind("conv2", 0) == 0);
}

TEST_CASE("compare: block_of follows -fpfwd_blocks up to the next compute layer") {
  const auto fp = fp32_net();
  Comparison c(fp, int8_net(fp, 1), fp32_factory(feeder()), simulated_int8_factory(feeder()), opts(1));
  const auto blk = c.block_of(3);  // conv2: + relu2, neg, dead, sum; not fc
  CHECK(blk == std::set<int>{3, 4, 5, 6, 7});
  CHECK(c.block_of(1) == std::set<int>{1, 2});  // conv1 + relu1
}

TEST_CASE("compare: mismatched nets fail with one line naming the first difference") {
  const auto fp = fp32_net();
  auto q = int8_net(fp, 1);
  q.mutable_layer(3)->set_name("conv2_x");
  try {
    Comparison c(fp, q, fp32_factory(feeder()), simulated_int8_factory(feeder()), opts(1));
    FAIL("no error");
  } catch (const ModelError& e) {
    const std::string m = e.what();
    CHECK(m.find("differ: int8 layer 'conv2_x' (Convolution) is not in the fp32 net") != std::string::npos);
    CHECK(m.find('\n') == std::string::npos);
  }
  auto q1 = int8_net(fp, 1);
  q1.mutable_layer(2)->set_type("Sigmoid");
  CHECK_THROWS_WITH(Comparison(fp, q1, fp32_factory(feeder()), simulated_int8_factory(feeder()), opts(1)),
                    Catch::Contains("layer relu1 is ReLU in fp32, Sigmoid in int8"));
  auto q2 = int8_net(fp, 1);
  q2.mutable_layer(2)->set_top(0, "relu1_x");
  q2.mutable_layer(3)->set_bottom(0, "relu1_x");
  CHECK_THROWS_WITH(Comparison(fp, q2, fp32_factory(feeder()), simulated_int8_factory(feeder()), opts(1)),
                    Catch::Contains("int8 blob 'relu1_x' (layer relu1) is not in the fp32 net"));
  // An int8 net with fewer layers (removed no-ops) is compared by blob name.
  auto q4 = int8_net(fp, 1);
  q4.mutable_layer()->RemoveLast();
  Comparison c4(fp, q4, fp32_factory(feeder()), simulated_int8_factory(feeder()), opts(1));
  CHECK_FALSE(c4.same_layers());
  const Report r4 = c4.run();
  CHECK(r4.layers.size() == 7);
  CHECK(r4.output_blob == "sum");
  // Same names, different shapes: found when the blobs are compared.
  auto q3 = int8_net(fp, 1);
  q3.mutable_layer(8)->mutable_inner_product_param()->set_num_output(5);
  q3.mutable_layer(8)->clear_blobs();
  q3 = engine::init_random_weights(q3, 3, {});
  Comparison c3(fp, q3, fp32_factory(feeder()), simulated_int8_factory(feeder()), opts(1));
  CHECK_THROWS_WITH(c3.run(), Catch::Contains("blob 'fc' has shape [1,10] in fp32, [1,5] in int8"));
}

TEST_CASE("simulate: dequantises int8 weights and int32 bias with the input scale") {
  ufw::NetParameter p = ir::parse_prototxt(R"(
layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 1 dim: 2 } } top_quant { threshold: 12.7 } }
layer { name: "ip" type: "InnerProduct" bottom: "x" top: "y" inner_product_param { num_output: 2 }
        top_quant { threshold: 127 } }
)");
  auto* ip = p.mutable_layer(1);
  auto* w = ip->add_blobs();
  w->mutable_shape()->add_dim(2);
  w->mutable_shape()->add_dim(2);
  w->set_dtype(ufw::BlobProto::INT8);
  w->set_int8_data(std::string{char(10), char(-20), char(30), char(40)});
  w->set_per_channel_en(true);
  w->add_scaletofloatperchannel(0.5f);
  w->add_scaletofloatperchannel(0.25f);
  auto* b = ip->add_blobs();
  b->mutable_shape()->add_dim(2);
  b->set_dtype(ufw::BlobProto::INT32);
  b->add_int32_data(100);  // * s_in (0.1) * 0.5 = 5
  b->add_int32_data(-40);  // * 0.1 * 0.25 = -1
  SimulatedInt8Source s(p, [](engine::Net& n, int64_t) {
    n.input("x")[0] = 1.0f;   // on the 0.1 grid
    n.input("x")[1] = 2.04f;  // rounds to 2.0
  });
  s.forward();
  const auto& y = s.blob("y");
  // y0 = 5*1 + (-10)*2 + 5 = -10; y1 = 7.5*1 + 10*2 - 1 = 26.5 -> grid step 1: 27 (half away)
  CHECK(y[0] == Approx(-10.0f));
  CHECK(y[1] == Approx(27.0f));
}
