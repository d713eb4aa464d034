// Importer structure: folded shape subgraphs, Caffe-style BN + Scale, pattern rewrites
// (Clip(0,6) -> ReLU6, x*HardSigmoid(x) -> HardSwish), Identity removal with output names kept,
// multi-input shapes, and the errors for unsupported ops and missing initializers.
#include <catch2/catch.hpp>

#include "octet/frontends/onnx/compare.hpp"
#include "octet/frontends/onnx/importer.hpp"

namespace ox = octet::frontends::onnx;
namespace pb = ::onnx;

namespace {

struct G {
  pb::ModelProto m;
  G(int opset = 13) {
    m.set_ir_version(8);
    m.add_opset_import()->set_version(opset);
  }
  pb::GraphProto& g() { return *m.mutable_graph(); }
  void input(const std::string& n, std::vector<int64_t> dims, std::string sym = "") {
    auto* i = g().add_input();
    i->set_name(n);
    auto* t = i->mutable_type()->mutable_tensor_type();
    t->set_elem_type(pb::TensorProto::FLOAT);
    for (size_t k = 0; k < dims.size(); ++k) {
      auto* d = t->mutable_shape()->add_dim();
      if (k == 0 && !sym.empty()) d->set_dim_param(sym);
      else d->set_dim_value(dims[k]);
    }
  }
  void output(const std::string& n) { g().add_output()->set_name(n); }
  void init(const std::string& n, std::vector<int64_t> dims, std::vector<float> v) {
    auto* t = g().add_initializer();
    t->set_name(n);
    t->set_data_type(pb::TensorProto::FLOAT);
    for (auto d : dims) t->add_dims(d);
    for (auto x : v) t->add_float_data(x);
  }
  void init_i64(const std::string& n, std::vector<int64_t> v) {
    auto* t = g().add_initializer();
    t->set_name(n);
    t->set_data_type(pb::TensorProto::INT64);
    t->add_dims(static_cast<int64_t>(v.size()));
    for (auto x : v) t->add_int64_data(x);
  }
  pb::NodeProto* node(const std::string& op, std::vector<std::string> in, std::vector<std::string> out,
                      const std::string& name = "") {
    auto* n = g().add_node();
    n->set_op_type(op);
    n->set_name(name.empty() ? out[0] + "_node" : name);
    for (auto& s : in) n->add_input(s);
    for (auto& s : out) n->add_output(s);
    return n;
  }
};

void attr_f(pb::NodeProto* n, const std::string& k, float v) {
  auto* a = n->add_attribute();
  a->set_name(k);
  a->set_type(pb::AttributeProto::FLOAT);
  a->set_f(v);
}
void attr_i(pb::NodeProto* n, const std::string& k, int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(k);
  a->set_type(pb::AttributeProto::INT);
  a->set_i(v);
}

std::vector<std::string> types(const ufw::NetParameter& net) {
  std::vector<std::string> t;
  for (const auto& l : net.layer()) t.push_back(l.type());
  return t;
}

bool has_type(const ufw::NetParameter& net, const std::string& t) {
  for (const auto& l : net.layer())
    if (l.type() == t) return true;
  return false;
}

ox::ImportResult imp(const G& g, std::vector<octet::Shape> shapes) {
  ox::ImportOptions o;
  o.input_shapes = std::move(shapes);
  o.net_name = "t";
  return ox::import_onnx(g.m, o);
}

}  // namespace

TEST_CASE("shape subgraphs fold to constants for the -s shape", "[onnx][import]") {
  G g;
  g.input("x", {0, 3, 4, 4}, "batch");
  g.node("Shape", {"x"}, {"s"});
  g.init_i64("zero", {0});
  g.node("Gather", {"s", "zero"}, {"n"});
  g.init_i64("minus1", {-1});
  g.node("Concat", {"n", "minus1"}, {"newshape"});
  attr_i(g.g().mutable_node(2), "axis", 0);
  g.node("Reshape", {"x", "newshape"}, {"y"});
  g.output("y");
  const auto r = imp(g, {{2, 3, 4, 4}});
  CHECK(types(r.net) == std::vector<std::string>{"Input", "Reshape"});
  const auto& rs = r.net.layer(1).reshape_param().shape();
  REQUIRE(rs.dim_size() == 2);
  CHECK(rs.dim(0) == 2);
  CHECK(rs.dim(1) == 48);
  CHECK(r.net.layer(1).top(0) == "y");
  CHECK(r.constants.count("newshape"));
}

TEST_CASE("BatchNormalization becomes BatchNorm + Scale; Clip(0,6) becomes ReLU6", "[onnx][import]") {
  G g;
  g.input("x", {1, 2, 3, 3});
  for (const char* n : {"sc", "b", "mu", "var"}) g.init(n, {2}, {1.5f, 0.5f});
  auto* bn = g.node("BatchNormalization", {"x", "sc", "b", "mu", "var"}, {"bn"});
  attr_f(bn, "epsilon", 1e-3f);
  g.init("lo", {}, {0.f});
  g.init("hi", {}, {6.f});
  g.node("Clip", {"bn", "lo", "hi"}, {"y"});
  g.output("y");
  const auto r = imp(g, {{1, 2, 3, 3}});
  CHECK(types(r.net) == std::vector<std::string>{"Input", "BatchNorm", "Scale", "ReLU6"});
  CHECK(r.net.layer(1).batch_norm_param().eps() == Approx(1e-3f));
  CHECK(r.net.layer(1).blobs_size() == 3);
  CHECK(r.net.layer(2).scale_param().bias_term());
  CHECK(r.net.layer(3).top(0) == "y");
}

TEST_CASE("x * HardSigmoid(x) becomes HardSwish; Identity is removed and names kept", "[onnx][import]") {
  G g;
  g.input("x", {1, 4});
  auto* h = g.node("HardSigmoid", {"x"}, {"hs"});
  attr_f(h, "alpha", 1.0f / 6);
  attr_f(h, "beta", 0.5f);
  g.node("Mul", {"x", "hs"}, {"m"});
  g.node("Identity", {"m"}, {"y"});
  g.output("y");
  const auto r = imp(g, {{1, 4}});
  CHECK(types(r.net) == std::vector<std::string>{"Input", "HardSwish"});
  CHECK(r.net.layer(1).top(0) == "y");
  CHECK(r.outputs == std::vector<std::string>{"y"});
}

TEST_CASE("Gemm with constant weights is InnerProduct; multi-input shapes", "[onnx][import]") {
  G g;
  g.input("a", {2, 3});
  g.input("c", {2, 4});
  g.init("w", {3, 4}, std::vector<float>(12, 0.25f));
  g.node("Gemm", {"a", "w"}, {"p"});
  g.node("Add", {"p", "c"}, {"y"});
  g.output("y");
  const auto r = imp(g, {{2, 3}, {2, 4}});
  CHECK(types(r.net) == std::vector<std::string>{"Input", "Input", "InnerProduct", "Eltwise"});
  CHECK(r.net.layer(2).inner_product_param().num_output() == 4);
  // Runs and matches the reference interpreter.
  const auto d = ox::compare_with_reference(g.m, r, {ox::seeded_input(6), ox::seeded_input(8, 7)}, ox::onnx_runtime_registry());
  REQUIRE(!d.empty());
  for (const auto& x : d) CHECK(x.ok);
}

TEST_CASE("MatMul + Add(bias) on 3-D input is one InnerProduct with bias", "[onnx][import]") {
  G g;
  g.input("x", {1, 5, 8});
  std::vector<float> w(32), b{0.5f, -1.f, 2.f, 0.f};
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.1f * static_cast<float>(i % 7) - 0.3f;
  g.init("w", {8, 4}, w);
  g.init("b", {4}, b);
  g.node("MatMul", {"x", "w"}, {"mm"});
  g.node("Add", {"mm", "b"}, {"y"});
  g.output("y");
  const auto r = imp(g, {{1, 5, 8}});
  CHECK(types(r.net) == std::vector<std::string>{"Input", "InnerProduct"});
  CHECK(r.net.layer(1).inner_product_param().axis() == 2);
  CHECK(r.net.layer(1).blobs_size() == 2);
  const auto d = ox::compare_with_reference(g.m, r, {ox::seeded_input(40)}, ox::onnx_runtime_registry());
  REQUIRE(!d.empty());
  for (const auto& x : d) CHECK(x.ok);
}

TEST_CASE("--cmp flags a converted net that disagrees with the reference", "[onnx][import][cmp]") {
  G g;
  g.input("x", {1, 6});
  g.init("w", {6, 3}, std::vector<float>(18, 0.5f));
  g.node("MatMul", {"x", "w"}, {"y"});
  g.output("y");
  auto r = imp(g, {{1, 6}});
  auto ok = ox::compare_with_reference(g.m, r, {ox::seeded_input(6)}, ox::onnx_runtime_registry());
  REQUIRE(ok.size() == 1);
  CHECK(ok[0].ok);
  CHECK(ok[0].is_output);
  // Tamper with one weight: the output must be reported beyond tolerance.
  r.net.mutable_layer(1)->mutable_blobs(0)->set_data(0, 3.0f);
  auto bad = ox::compare_with_reference(g.m, r, {ox::seeded_input(6)}, ox::onnx_runtime_registry());
  REQUIRE(bad.size() == 1);
  CHECK_FALSE(bad[0].ok);
  CHECK(bad[0].max_abs_diff > 0.01);
}

TEST_CASE("a constant graph output is produced by a Parameter layer", "[onnx][import]") {
  G g;
  g.input("x", {2, 5});
  g.node("Shape", {"x"}, {"s"});
  g.node("Relu", {"x"}, {"r"});
  g.output("s");
  g.output("r");
  const auto r = imp(g, {{2, 5}});
  CHECK(has_type(r.net, "Parameter"));
  octet::engine::Net net(r.net, ox::onnx_runtime_registry());
  net.forward();
  const auto& s = net.blob("s");
  REQUIRE(s.size() == 2);
  CHECK(s[0] == 2);
  CHECK(s[1] == 5);
}

TEST_CASE("unsupported ops are listed together with node names", "[onnx][import][errors]") {
  G g;
  g.input("x", {1, 4});
  g.node("Foo", {"x"}, {"a"}, "n1");
  g.node("Foo", {"a"}, {"b"}, "n2");
  g.node("Bar", {"b"}, {"y"}, "n3");
  g.output("y");
  try {
    imp(g, {{1, 4}});
    FAIL("no error");
  } catch (const octet::UnsupportedError& e) {
    const std::string w = e.what();
    CHECK(w.find("Foo (n1, n2)") != std::string::npos);
    CHECK(w.find("Bar (n3)") != std::string::npos);
  }
}

TEST_CASE("missing initializer and shape mismatch are one-line errors", "[onnx][import][errors]") {
  G g;
  g.input("x", {1, 1, 4, 4});
  g.node("Conv", {"x", "W"}, {"y"}, "conv");
  g.output("y");
  CHECK_THROWS_WITH(imp(g, {{1, 1, 4, 4}}), Catch::Contains("'W'") && Catch::Contains("conv"));
  G h;
  h.input("x", {1, 3});
  h.node("Relu", {"x"}, {"y"});
  h.output("y");
  CHECK_THROWS_AS(imp(h, {{1, 4}}), octet::ShapeError);
  CHECK_THROWS_AS(imp(h, {{1, 3}, {1, 3}}), octet::UsageError);
}

TEST_CASE("-s syntax", "[onnx][import]") {
  CHECK(ox::parse_shapes("(1,3,224,224)") == std::vector<octet::Shape>{{1, 3, 224, 224}});
  CHECK(ox::parse_shapes("[(1,3,224,224),(1,10)]") == std::vector<octet::Shape>{{1, 3, 224, 224}, {1, 10}});
  CHECK(ox::parse_shapes("[[1, 3, 416, 416]]") == std::vector<octet::Shape>{{1, 3, 416, 416}});
  CHECK(ox::parse_shapes("[1,80,256]") == std::vector<octet::Shape>{{1, 80, 256}});
  CHECK_THROWS_AS(ox::parse_shapes("(1,x)"), octet::UsageError);
  CHECK(ox::parse_names("[a, 'b c']") == std::vector<std::string>{"a", "b c"});
}
