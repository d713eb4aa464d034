// Graph queries: phase filtering, net inputs in all Caffe spellings, topological order,
// producers/consumers with in-place chains, outputs, and the validation errors.
#include <catch2/catch.hpp>

#include "octet/ir/graph.hpp"
#include "octet/ir/umodel.hpp"

using namespace octet;

namespace {
std::vector<std::string> names(const ir::Graph& g, const std::vector<int>& idx) {
  std::vector<std::string> out;
  for (int i : idx) out.push_back(g.layer_name(i));
  return out;
}
}  // namespace

TEST_CASE("phase filtering follows include/exclude rules, TEST by default") {
  auto net = ir::parse_prototxt(R"(
    layer { name: "train_data" type: "Data" top: "data" include { phase: TRAIN } }
    layer { name: "test_data" type: "Data" top: "data" include { phase: TEST } }
    layer { name: "drop" type: "Dropout" bottom: "data" top: "data" exclude { phase: TEST } }
    layer { name: "staged" type: "ReLU" bottom: "data" top: "r" include { stage: "deploy" } }
    layer { name: "always" type: "ReLU" bottom: "data" top: "s" }
  )");
  auto test = ir::filter_phase(net);
  REQUIRE(test.layer_size() == 2);
  CHECK(test.layer(0).name() == "test_data");
  CHECK(test.layer(1).name() == "always");
  auto train = ir::filter_phase(net, ufw::TRAIN);
  CHECK(train.layer_size() == 3);
  ufw::NetState st;
  st.add_stage("deploy");
  CHECK(ir::filter_net(net, st).layer_size() == 3);

  auto both = ir::parse_prototxt(R"(layer { name: "x" type: "ReLU" include { phase: TEST } exclude { phase: TRAIN } })");
  CHECK_THROWS_WITH(ir::filter_phase(both), Catch::Contains("layer x"));
}

TEST_CASE("net inputs: input + input_shape, input_dim, Input layers") {
  auto a = ir::net_inputs(ir::parse_prototxt(R"(
    input: "data" input_shape { dim: 1 dim: 3 dim: 224 dim: 224 }
    input: "im_info" input_shape { dim: 1 dim: 3 })"));
  REQUIRE(a.size() == 2);
  CHECK(a[0].name == "data");
  CHECK(a[0].shape == Shape{1, 3, 224, 224});
  CHECK(a[1].shape == Shape{1, 3});

  auto b = ir::net_inputs(ir::parse_prototxt(R"(input: "data" input_dim: 10 input_dim: 3 input_dim: 227 input_dim: 227)"));
  CHECK(b[0].shape == Shape{10, 3, 227, 227});
  CHECK_THROWS_WITH(ir::net_inputs(ir::parse_prototxt(R"(input: "data" input_dim: 10 input_dim: 3)")),
                    Catch::Contains("input_dim"));

  auto c = ir::net_inputs(ir::parse_prototxt(R"(
    layer { name: "in" type: "Input" top: "x" top: "y" input_param { shape { dim: 2 dim: 5 } } })"));
  REQUIRE(c.size() == 2);
  CHECK(c[1].name == "y");
  CHECK(c[1].shape == Shape{2, 5});
  CHECK(c[1].layer == 0);
}

TEST_CASE("topological order keeps prototxt order and fixes unordered files") {
  auto net = ir::parse_prototxt(R"(
    input: "data"
    layer { name: "c" type: "Eltwise" bottom: "a" bottom: "b" top: "c" }
    layer { name: "a" type: "ReLU" bottom: "data" top: "a" }
    layer { name: "b" type: "ReLU" bottom: "a" top: "b" }
  )");
  ir::Graph g(net);
  CHECK(names(g, g.order()) == std::vector<std::string>{"a", "b", "c"});
  CHECK(g.outputs() == std::vector<std::string>{"c"});
  CHECK(g.inputs() == std::vector<std::string>{"data"});
}

TEST_CASE("in-place chains: readers of a version run before the next in-place writer") {
  auto net = ir::parse_prototxt(R"(
    input: "data"
    layer { name: "conv" type: "Convolution" bottom: "data" top: "x" }
    layer { name: "side" type: "Sigmoid" bottom: "x" top: "side" }
    layer { name: "relu" type: "ReLU" bottom: "x" top: "x" }
    layer { name: "scale" type: "Scale" bottom: "x" top: "x" }
    layer { name: "sum" type: "Eltwise" bottom: "x" bottom: "side" top: "sum" }
  )");
  ir::Graph g(net);
  CHECK(names(g, g.order()) == std::vector<std::string>{"conv", "side", "relu", "scale", "sum"});
  CHECK(names(g, g.producers("x")) == std::vector<std::string>{"conv", "relu", "scale"});
  CHECK(names(g, g.consumers("x")) == std::vector<std::string>{"side", "relu", "scale", "sum"});
  CHECK(g.in_place(2));
  CHECK_FALSE(g.in_place(1));
  // relu (the next writer of x) must wait for side, the reader of the previous version.
  auto p = g.predecessors(2);
  CHECK(std::find(p.begin(), p.end(), 1) != p.end());
  CHECK(g.outputs() == std::vector<std::string>{"sum"});
  CHECK(g.blobs() == std::vector<std::string>{"data", "x", "side", "sum"});
}

TEST_CASE("an in-place output whose final version is unread is a net output") {
  auto net = ir::parse_prototxt(R"(
    input: "data"
    layer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc" }
    layer { name: "relu" type: "ReLU" bottom: "fc" top: "fc" }
  )");
  CHECK(ir::Graph(net).outputs() == std::vector<std::string>{"fc"});
}

TEST_CASE("graph errors: missing bottom, duplicate top, cycle; one line each naming layer and blob") {
  auto one_line = [](const std::string& s) { return s.find('\n') == std::string::npos; };
  try {
    ir::Graph(ir::parse_prototxt(R"(input: "data" layer { name: "r" type: "ReLU" bottom: "dta" top: "r" })"), "m.prototxt");
    FAIL("expected missing bottom");
  } catch (const ModelError& e) {
    CHECK(std::string(e.what()) == "m.prototxt: layer r: bottom blob 'dta' is not produced by any layer nor a net input");
  }
  try {
    ir::Graph(ir::parse_prototxt(R"(input: "data"
      layer { name: "a" type: "ReLU" bottom: "data" top: "y" }
      layer { name: "b" type: "Sigmoid" bottom: "data" top: "y" })"));
    FAIL("expected duplicate top");
  } catch (const ModelError& e) {
    const std::string m = e.what();
    CHECK(m.find("blob 'y'") != std::string::npos);
    CHECK(m.find("layer a") != std::string::npos);
    CHECK(m.find("layer b") != std::string::npos);
    CHECK(one_line(m));
  }
  try {
    ir::Graph(ir::parse_prototxt(R"(input: "data"
      layer { name: "a" type: "Eltwise" bottom: "data" bottom: "q" top: "p" }
      layer { name: "b" type: "ReLU" bottom: "p" top: "q" })"));
    FAIL("expected a cycle");
  } catch (const ModelError& e) {
    const std::string m = e.what();
    CHECK(m.find("cycle") != std::string::npos);
    CHECK(m.find("layer a") != std::string::npos);
    CHECK(m.find("'q'") != std::string::npos);
    CHECK(one_line(m));
  }
  CHECK_THROWS_WITH(ir::Graph(ir::parse_prototxt(R"(input: "data"
      layer { name: "a" type: "ReLU" bottom: "data" top: "data2" top: "data2" })")),
                    Catch::Contains("twice"));
  CHECK_THROWS_WITH(ir::Graph(ir::parse_prototxt(R"(input: "data"
      layer { name: "a" type: "ReLU" bottom: "x" top: "data" })")),
                    Catch::Contains("layer a"));
}
