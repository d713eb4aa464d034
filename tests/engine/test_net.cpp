// The Net runtime with tiny layers defined here (so it is tested independently of the real
// layer families): build-time validation, shape inference, in-place sharing and
// in-place-by-copy, reshape_input, data sources, weights checks and random weights.
#include <catch2/catch.hpp>

#include "octet/engine/init_weights.hpp"
#include "octet/engine/net.hpp"
#include "octet/engine/net_bench.hpp"
#include "octet/ir/umodel.hpp"
#include "tiny_layers.hpp"

using namespace octet;
using namespace octet::engine;
using namespace octet::engine::testing;

namespace {

NetOptions opts() {
  NetOptions o;
  o.registry = &test_registry();
  o.model_file = "t.prototxt";
  return o;
}

FloatTensor iota(Shape s, float start = 0) {
  FloatTensor t(std::move(s));
  for (int64_t i = 0; i < t.size(); ++i) t[i] = start + static_cast<float>(i);
  return t;
}

std::vector<float> values(const FloatTensor& t) { return {t.data(), t.data() + t.size()}; }

}  // namespace

TEST_CASE("build, forward, outputs and every blob readable") {
  auto p = ir::parse_prototxt(R"(
    name: "chain"
    input: "data" input_shape { dim: 1 dim: 4 }
    layer { name: "a" type: "AddOne" bottom: "data" top: "a" }
    layer { name: "r" type: "Reverse" bottom: "a" top: "r" }
    layer { name: "s" type: "Sum" bottom: "a" bottom: "r" top: "s" }
  )");
  Net net(p, opts());
  CHECK(net.name() == "chain");
  CHECK(net.input_names() == std::vector<std::string>{"data"});
  CHECK(net.output_names() == std::vector<std::string>{"s"});
  CHECK(net.blob_names() == std::vector<std::string>{"data", "a", "r", "s"});
  net.set_input("data", iota({1, 4}));
  net.forward();
  CHECK(values(net.blob("a")) == std::vector<float>{1, 2, 3, 4});
  CHECK(values(net.blob("r")) == std::vector<float>{4, 3, 2, 1});
  CHECK(values(net.blob("s")) == std::vector<float>{5, 5, 5, 5});
  CHECK_THROWS_WITH(net.blob("nope"), Catch::Contains("unknown blob 'nope'"));
  CHECK_THROWS_AS(net.set_input("data", iota({1, 5})), ShapeError);
  CHECK_THROWS_WITH(net.set_input("a", iota({1, 4})), Catch::Contains("not a net input"));
  REQUIRE(net.layers().size() == 3);
  CHECK(net.layers()[2].bottom_shapes == std::vector<Shape>{{1, 4}, {1, 4}});
}

TEST_CASE("in place: shared buffer when supported, scratch + copy back otherwise") {
  auto p = ir::parse_prototxt(R"(
    input: "data" input_shape { dim: 5 }
    layer { name: "a" type: "AddOne" bottom: "data" top: "x" }
    layer { name: "side" type: "AddOne" bottom: "x" top: "side" }
    layer { name: "rev" type: "Reverse" bottom: "x" top: "x" }
    layer { name: "inc" type: "AddOne" bottom: "x" top: "x" }
  )");
  Net net(p, opts());
  net.set_input("data", iota({5}));
  net.forward();
  // side read x before the in-place writers changed it.
  CHECK(values(net.blob("side")) == std::vector<float>{2, 3, 4, 5, 6});
  // Reverse ran out of place and copied back: a correct reversal, then +1 in the shared buffer.
  CHECK(values(net.blob("x")) == std::vector<float>{6, 5, 4, 3, 2});
  CHECK(net.output_names() == std::vector<std::string>{"x", "side"});
  CHECK(net.layers()[2].in_place);
  CHECK_FALSE(net.layers()[2].shares_buffer);
  CHECK(net.layers()[3].shares_buffer);
  // Running twice gives the same result (no state leaks through the scratch tensors).
  net.forward();
  CHECK(values(net.blob("x")) == std::vector<float>{6, 5, 4, 3, 2});
}

TEST_CASE("reshape_input re-infers every shape") {
  auto p = ir::parse_prototxt(R"(
    input: "data" input_shape { dim: 1 dim: 3 }
    layer { name: "a" type: "AddOne" bottom: "data" top: "a" }
    layer { name: "r" type: "Reverse" bottom: "a" top: "r" }
  )");
  Net net(p, opts());
  net.reshape_input("data", {2, 3});
  CHECK(net.blob_shape("r") == Shape{2, 3});
  net.set_input("data", iota({2, 3}));
  net.forward();
  CHECK(values(net.blob("r")) == std::vector<float>{6, 5, 4, 3, 2, 1});
  CHECK_THROWS_WITH(net.reshape_input("zz", {1}), Catch::Contains("'zz' is not a net input"));

  NetOptions o = opts();
  o.input_shapes["data"] = {4, 1};
  Net bigger(p, o);
  CHECK(bigger.blob_shape("a") == Shape{4, 1});
}

TEST_CASE("Input layers, data sources and phase filtering") {
  auto p = ir::parse_prototxt(R"(
    layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 2 dim: 2 } } }
    layer { name: "src" type: "Counter" top: "c" }
    layer { name: "train_only" type: "Reverse" bottom: "x" top: "t" include { phase: TRAIN } }
    layer { name: "s" type: "Sum" bottom: "x" bottom: "c" top: "s" }
  )");
  Net net(p, opts());
  CHECK(net.input_names() == std::vector<std::string>{"x"});
  CHECK_FALSE(net.has_blob("t"));
  net.set_input("x", iota({2, 2}));
  net.forward();
  CHECK(values(net.blob("s")) == std::vector<float>{1, 2, 3, 4});
  net.forward();
  CHECK(values(net.blob("s")) == std::vector<float>{2, 3, 4, 5});
  net.reshape_input("x", {2, 2});
  CHECK(net.layers()[0].flops == 0);

  NetOptions train = opts();
  train.phase = ufw::TRAIN;
  CHECK(Net(p, train).has_blob("t"));
}

TEST_CASE("build errors are one line naming file, layer, type or blob") {
  auto err = [](const char* text) -> std::string {
    try {
      Net net(ir::parse_prototxt(text), opts());
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  CHECK(err(R"(input: "d" input_shape { dim: 1 } layer { name: "x" type: "Fancy" bottom: "d" top: "y" })") ==
        "t.prototxt: layer x: unknown layer type 'Fancy'");
  CHECK(err(R"(input: "d" input_shape { dim: 1 } layer { name: "x" type: "AddOne" bottom: "e" top: "y" })") ==
        "t.prototxt: layer x: bottom blob 'e' is not produced by any layer nor a net input");
  CHECK_THAT(err(R"(input: "d" input_shape { dim: 1 }
                  layer { name: "x" type: "AddOne" bottom: "d" top: "y" }
                  layer { name: "z" type: "AddOne" bottom: "d" top: "y" })"),
             Catch::Contains("blob 'y' is produced by both layer x and layer z"));
  CHECK_THAT(err(R"(input: "d" input_shape { dim: 1 }
                  layer { name: "x" type: "Sum" bottom: "d" bottom: "w" top: "v" }
                  layer { name: "z" type: "AddOne" bottom: "v" top: "w" })"),
             Catch::Contains("cycle") && Catch::Contains("layer x"));
  CHECK(err(R"(input: "d" input_shape { dim: 1 dim: 2 } input: "e" input_shape { dim: 2 }
               layer { name: "s" type: "Sum" bottom: "d" bottom: "e" top: "y" })") ==
        "t.prototxt: layer s (Sum): bottom shapes differ: [1,2] vs [2]");
  CHECK_THAT(err(R"(input: "d" input_shape { dim: 3 dim: 2 } layer { name: "q" type: "Squash" bottom: "d" top: "d" })"),
             Catch::Contains("layer q (Squash): in-place top 'd' would change shape"));
  CHECK_THAT(err(R"(input: "d" layer { name: "a" type: "AddOne" bottom: "d" top: "y" })"),
             Catch::Contains("net input 'd' has no shape"));
}

TEST_CASE("weights: missing, mismatched and legacy-shaped blobs of a known layout") {
  const char* text = R"(
    input: "d" input_shape { dim: 2 dim: 3 }
    layer { name: "fc" type: "InnerProduct" bottom: "d" top: "y" inner_product_param { num_output: 2 } }
  )";
  auto p = ir::parse_prototxt(text);
  NetOptions o = opts();
  o.weights_file = "w.fp32umodel";
  CHECK_THROWS_WITH(Net(p, o), Catch::Contains("w.fp32umodel: layer fc (InnerProduct): has no weights"));

  auto* fc = p.mutable_layer(0);
  auto* w = fc->add_blobs();
  ir::set_blob_shape(*w, {2, 4});
  for (int i = 0; i < 8; ++i) w->add_data(1.f);
  auto* b = fc->add_blobs();
  ir::set_blob_shape(*b, {2});
  b->add_data(0.5f);
  b->add_data(-0.5f);
  CHECK_THROWS_WITH(Net(p, o), Catch::Contains("w.fp32umodel: layer fc (InnerProduct): blob 0 has shape [2,4], expected [2,3]"));

  // Legacy 4-D [1,1,2,3] as old caffemodels store InnerProduct weights.
  w->clear_shape();
  w->set_num(1);
  w->set_channels(1);
  w->set_height(2);
  w->set_width(3);
  w->clear_data();
  for (int i = 0; i < 6; ++i) w->add_data(static_cast<float>(i));
  Net net(p, o);
  CHECK(ir::blob_shape(net.net_param().layer(0).blobs(0)) == Shape{2, 3});
  net.set_input("d", iota({2, 3}));
  net.forward();
  // row 0: x=[0,1,2]; W rows [0,1,2],[3,4,5]
  CHECK(values(net.blob("y")) == std::vector<float>{5.5f, 13.5f, 14.5f, 49.5f});
  CHECK(net.param_count() == 8);
  CHECK(net.flops() == 12);
}

// An InnerProduct (weights to fill) followed by a weightless in-place layer.
ufw::NetParameter fc_then_addone() {
  return ir::parse_prototxt(R"(
    input: "d" input_shape { dim: 2 dim: 3 }
    layer { name: "fc" type: "InnerProduct" bottom: "d" top: "y" inner_product_param { num_output: 4 } }
    layer { name: "a" type: "AddOne" bottom: "y" top: "y" }
  )");
}

TEST_CASE("init_random_weights fills weighted layers with seeded values of the right shapes") {
  const auto p = fc_then_addone();
  auto w1 = init_random_weights(p, 7, opts());
  auto w2 = init_random_weights(p, 7, opts());
  auto w3 = init_random_weights(p, 8, opts());
  REQUIRE(w1.layer(0).blobs_size() == 2);
  CHECK(ir::blob_shape(w1.layer(0).blobs(0)) == Shape{4, 3});
  CHECK(ir::blob_shape(w1.layer(0).blobs(1)) == Shape{4});
  CHECK(w1.layer(1).blobs_size() == 0);
  CHECK(w1.SerializeAsString() == w2.SerializeAsString());
  CHECK(w1.SerializeAsString() != w3.SerializeAsString());
  Net net(w1, opts());
  fill_random_inputs(net, 3);
  auto stats = bench_forward(net, 3, 1);
  CHECK(stats.iters == 3);
  CHECK(stats.batch == 2);
  CHECK(stats.min_ms <= stats.median_ms);
  CHECK(stats.median_ms <= stats.max_ms);
  CHECK(stats.json().find("\"median_ms\"") != std::string::npos);
}

TEST_CASE("profile_forward times every layer and the table lists them with a total") {
  Net net(init_random_weights(fc_then_addone(), 7, opts()), opts());
  fill_random_inputs(net, 3);
  const auto rows = profile_forward(net, 4, 1);
  REQUIRE(rows.size() == net.layers().size());
  CHECK(rows[0].name == "fc");
  CHECK(rows[0].type == "InnerProduct");
  CHECK(rows[0].flops == net.layers()[0].flops);
  CHECK(rows[1].name == "a");
  for (const auto& r : rows) CHECK(r.ms >= 0.0);
  // The timed forward computes what forward() does.
  net.forward();
  const auto want = values(net.blob("y"));
  std::vector<double> ms;
  net.forward_timed(ms);
  CHECK(values(net.blob("y")) == want);
  CHECK(ms.size() == rows.size());
  const std::string table = profile_table(rows);
  CHECK(table.find("total") != std::string::npos);
  CHECK(table.find("InnerProduct") != std::string::npos);
}
