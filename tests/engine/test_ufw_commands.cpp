// The ufw sub-commands as functions, on the tiny test layers: init_weights -> forward -> npz,
// input mapping (positional, name=path, .npz, batch change, CHW for NCHW), -blobs, bench's
// JSON line, info's listing, and that failures leave no output file.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "octet/engine/ufw_commands.hpp"
#include "../test_util.hpp"
#include "tiny_layers.hpp"

namespace fs = std::filesystem;
using namespace octet;
using namespace octet::engine;
namespace cmd = octet::engine::ufw_cmd;
using octet::test::scratch_dir;

namespace {

const char* kNet = R"(
name: "two_in"
input: "x" input_shape { dim: 1 dim: 2 dim: 3 }
input: "y" input_shape { dim: 1 dim: 2 dim: 3 }
layer { name: "s" type: "Sum" bottom: "x" bottom: "y" top: "s" }
layer { name: "fc" type: "InnerProduct" bottom: "s" top: "fc" inner_product_param { num_output: 4 } }
layer { name: "inc" type: "AddOne" bottom: "fc" top: "fc" }
)";

struct Fixture {
  fs::path dir;
  std::string model, weights;
  std::ostringstream out, err;
  explicit Fixture(const std::string& name) : dir(scratch_dir(name)) {
    model = (dir / "net.prototxt").string();
    weights = (dir / "net.fp32umodel").string();
    std::ofstream(model) << kNet;
    cmd::InitOptions io{model, weights, 5, &testing::test_registry()};
    REQUIRE(cmd::init_weights(io, out, err) == 0);
  }
  cmd::ModelArgs args() const { return {model, weights, &testing::test_registry()}; }
  std::string write_input(const std::string& name, Shape s, float base) {
    Tensor<float> t(std::move(s));
    for (int64_t i = 0; i < t.size(); ++i) t[i] = base + static_cast<float>(i);
    const std::string p = (dir / name).string();
    io::write_npy(p, t);
    return p;
  }
};

// fc = W (x + y) + b, + 1, computed here from the saved weights.
std::vector<float> expected(const std::string& weights, const Tensor<float>& x, const Tensor<float>& y) {
  auto w = ir::load_weights(weights);
  const auto& W = w.layer(0).blobs(0);
  const auto& B = w.layer(0).blobs(1);
  const int64_t n = x.dim(0), k = 6;
  std::vector<float> out;
  for (int64_t r = 0; r < n; ++r)
    for (int j = 0; j < 4; ++j) {
      float s = B.data(j);
      for (int64_t i = 0; i < k; ++i) s += W.data(static_cast<int>(j * k + i)) * (x[r * k + i] + y[r * k + i]);
      out.push_back(s + 1.f);
    }
  return out;
}

}  // namespace

TEST_CASE("init_weights writes seeded weights of the right shapes") {
  Fixture f("init");
  auto w = ir::load_weights(f.weights);
  REQUIRE(w.layer_size() == 1);
  CHECK(w.layer(0).name() == "fc");
  CHECK(ir::blob_shape(w.layer(0).blobs(0)) == Shape{4, 6});
  CHECK(f.out.str().find("wrote") != std::string::npos);
}

TEST_CASE("forward maps inputs by position or name and writes the outputs to npz") {
  Fixture f("forward");
  const auto xp = f.write_input("x.npy", {1, 2, 3}, 0.f);
  const auto yp = f.write_input("y.npy", {1, 2, 3}, 10.f);
  const auto outp = (f.dir / "out.npz").string();
  cmd::ForwardOptions o;
  o.model = f.args();
  o.inputs = {xp, yp};
  o.output = outp;
  REQUIRE(cmd::forward(o, f.out, f.err) == 0);
  auto z = io::read_npz(outp);
  REQUIRE(z.size() == 1);
  CHECK(z[0].first == "fc");
  CHECK(z[0].second.shape() == Shape{1, 4});
  const auto want = expected(f.weights, io::read_npy(xp), io::read_npy(yp));
  for (size_t i = 0; i < 4; ++i) CHECK(z[0].second[static_cast<int64_t>(i)] == Approx(want[i]));

  // Same by name, in the other order; every blob with -blobs=all.
  o.inputs = {"y=" + yp, "x=" + xp};
  o.blobs = "all";
  REQUIRE(cmd::forward(o, f.out, f.err) == 0);
  z = io::read_npz(outp);
  std::vector<std::string> keys;
  for (const auto& kv : z) keys.push_back(kv.first);
  CHECK(keys == std::vector<std::string>{"x", "y", "s", "fc"});
  CHECK(z[2].second[0] == 10.f);

  // A selected list, inputs from one .npz.
  io::write_npz((f.dir / "in.npz").string(), io::NamedTensors{{"x", io::read_npy(xp)}, {"y", io::read_npy(yp)}});
  o.inputs = {(f.dir / "in.npz").string()};
  o.blobs = "s";
  REQUIRE(cmd::forward(o, f.out, f.err) == 0);
  CHECK(io::read_npz(outp).size() == 1);
}

TEST_CASE("forward follows the input file's batch and accepts a missing batch axis") {
  Fixture f("batch");
  const auto xp = f.write_input("x.npy", {3, 2, 3}, 1.f);
  const auto yp = f.write_input("y.npy", {3, 2, 3}, -1.f);
  const auto outp = (f.dir / "out.npz").string();
  cmd::ForwardOptions o;
  o.model = f.args();
  o.inputs = {xp, yp};
  o.output = outp;
  REQUIRE(cmd::forward(o, f.out, f.err) == 0);
  auto z = io::read_npz(outp);
  CHECK(z[0].second.shape() == Shape{3, 4});
  const auto want = expected(f.weights, io::read_npy(xp), io::read_npy(yp));
  CHECK(z[0].second[11] == Approx(want[11]));

  o.inputs = {f.write_input("x2.npy", {2, 3}, 0.f), f.write_input("y2.npy", {2, 3}, 0.f)};
  REQUIRE(cmd::forward(o, f.out, f.err) == 0);
  CHECK(io::read_npz(outp)[0].second.shape() == Shape{1, 4});
}

TEST_CASE("forward errors leave no output file") {
  Fixture f("errors");
  const auto xp = f.write_input("x.npy", {1, 2, 3}, 0.f);
  const auto outp = (f.dir / "out.npz").string();
  cmd::ForwardOptions o;
  o.model = f.args();
  o.output = outp;
  auto fails = [&](std::vector<std::string> inputs, const std::string& needle) {
    o.inputs = std::move(inputs);
    try {
      cmd::forward(o, f.out, f.err);
      FAIL("expected an error");
    } catch (const Error& e) {
      CHECK_THAT(std::string(e.what()), Catch::Contains(needle));
    }
    CHECK_FALSE(fs::exists(outp));
  };
  fails({xp}, "no data for net input 'y'");
  fails({xp, xp, xp}, "more inputs than the net has");
  fails({xp, "z=" + xp}, "'z' is not a net input");
  fails({xp, (f.dir / "nope.npy").string()}, "nope.npy");
  fails({xp, f.write_input("bad.npy", {1, 2, 4}, 0.f)}, "bottom shapes differ");
  {
    std::ofstream(f.dir / "junk.npy") << "junk";
    fails({xp, (f.dir / "junk.npy").string()}, "junk.npy");
  }
  // Only the temporaries' absence and the two inputs' files remain.
  for (const auto& e : fs::directory_iterator(f.dir)) CHECK(e.path().filename().string().find(".tmp.") == std::string::npos);
}

TEST_CASE("bench prints one JSON line; info lists layers, shapes and totals") {
  Fixture f("bench");
  cmd::BenchOptions b;
  b.model = f.args();
  b.iters = 4;
  b.warmup = 1;
  b.shape = "2,2,3";
  std::ostringstream out;
  REQUIRE(cmd::bench(b, out, f.err) == 0);
  const std::string line = out.str();
  CHECK(std::count(line.begin(), line.end(), '\n') == 1);
  for (const char* key : {"\"median_ms\"", "\"min_ms\"", "\"max_ms\"", "\"threads\": 1", "\"batch\": 2"})
    CHECK_THAT(line, Catch::Contains(key));
  b.shape = "2,x";
  CHECK_THROWS_AS(cmd::bench(b, out, f.err), UsageError);

  std::ostringstream info;
  REQUIRE(cmd::info({f.args(), ""}, info, f.err) == 0);
  const std::string s = info.str();
  CHECK_THAT(s, Catch::Contains("fc  InnerProduct  s[1,2,3] -> fc[1,4]"));
  CHECK_THAT(s, Catch::Contains("inc  AddOne  fc[1,4] -> fc[1,4] (in place)"));
  CHECK_THAT(s, Catch::Contains("total params: 28"));
  CHECK_THAT(s, Catch::Contains("total flops: "));
  // Without weights: random ones of the right shape, same parameter count.
  std::ostringstream info2;
  REQUIRE(cmd::info({{f.model, "", &testing::test_registry()}, ""}, info2, f.err) == 0);
  CHECK_THAT(info2.str(), Catch::Contains("total params: 28"));
}
