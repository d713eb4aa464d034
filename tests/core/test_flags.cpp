#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "octet/core/atomic_file.hpp"
#include "octet/core/flags.hpp"

using namespace octet;
using namespace octet::cli;

namespace {
Flags make() {
  return Flags("tool", {{"model", FlagKind::String, "", "prototxt"},
                        {"weights", FlagKind::String, "", "weights", {"weight"}},
                        {"iterations", FlagKind::Int, "200", "n", {"iteration"}},
                        {"fp32_diff", FlagKind::Float, "0.001", "tol"},
                        {"cmp", FlagKind::Bool, "true", "compare"},
                        {"winograd", FlagKind::Bool, "false", "wino"},
                        {"fpfwd_blocks", FlagKind::String, "", "layers"},
                        {"m", FlagKind::String, "", "model file"}});
}
}  // namespace

TEST_CASE("gflags and argparse spellings all parse") {
  auto f = make();
  f.parse(std::vector<std::string>{"quantize", "-model=a.prototxt", "--weight", "b.fp32umodel", "-iteration", "5",
                                   "--fp32_diff=0.01", "-winograd", "--cmp", "False", "-m", "x.onnx"});
  CHECK(f.positional() == std::vector<std::string>{"quantize"});
  CHECK(f.str("model") == "a.prototxt");
  CHECK(f.str("weights") == "b.fp32umodel");
  CHECK(f.integer("iterations") == 5);
  CHECK(f.real("fp32_diff") == Approx(0.01));
  CHECK(f.boolean("winograd"));
  CHECK_FALSE(f.boolean("cmp"));
  CHECK(f.str("m") == "x.onnx");
  CHECK(f.has("model"));
  CHECK_FALSE(make().has("model"));
}

TEST_CASE("defaults, bool words and positionals after bools") {
  auto f = make();
  f.parse(std::vector<std::string>{"-winograd", "net.prototxt", "-cmp=0"});
  CHECK(f.boolean("winograd"));
  CHECK(f.positional() == std::vector<std::string>{"net.prototxt"});
  CHECK_FALSE(f.boolean("cmp"));
  CHECK(f.integer("iterations") == 200);
}

TEST_CASE("lists split on commas only and keep spaces") {
  auto f = make();
  f.parse(std::vector<std::string>{"-fpfwd_blocks=< 105 >86,conv 2"});
  CHECK(f.list("fpfwd_blocks") == std::vector<std::string>{"< 105 >86", "conv 2"});
}

TEST_CASE("bad flags are usage errors naming the flag") {
  auto f = make();
  CHECK_THROWS_WITH(f.parse(std::vector<std::string>{"-nosuch=1"}), Catch::Contains("nosuch"));
  auto g = make();
  CHECK_THROWS_WITH(g.parse(std::vector<std::string>{"-iterations=abc"}), Catch::Contains("iterations"));
  auto h = make();
  CHECK_THROWS_AS(h.parse(std::vector<std::string>{"-model"}), UsageError);
  auto k = make();
  CHECK_THROWS_AS(k.parse(std::vector<std::string>{"-cmp=maybe"}), UsageError);
  CHECK_THROWS_WITH(make().required("model"), Catch::Contains("-model is required"));
}

TEST_CASE("negative numbers are values, not flags") {
  auto f = make();
  f.parse(std::vector<std::string>{"-iterations", "-3"});
  CHECK(f.integer("iterations") == -3);
}

TEST_CASE("atomic_write replaces the target whole and leaves no temp on failure") {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / "octet_atomic_test";
  fs::remove_all(dir);
  fs::path target = dir / "out.bin";
  atomic_write(target, "hello");
  atomic_write(target, "world!");
  std::ifstream in(target);
  std::string s;
  in >> s;
  CHECK(s == "world!");
  {
    AtomicPath p(dir / "never.bin");
    std::ofstream(p.temp()) << "partial";
  }  // no commit
  CHECK_FALSE(fs::exists(dir / "never.bin"));
  int entries = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(dir)) ++entries;
  CHECK(entries == 1);
  fs::remove_all(dir);
}
