// collect_statistics reads each blob right after the last layer that writes it
// (Net::forward(after_layer) + Net::final_writers), and a ReLU's range-only input together with
// its output from one read of the input (StreamingStats::update_relu). These tests pin that it
// sees exactly the values a read after the whole forward sees: in-place layers (BatchNorm/Scale/
// ReLU writing their bottom), a fused conv+ReLU chain whose inner blob is never written, a fused
// Eltwise+ReLU, and a ReLU pair with signed zeros, NaN/Inf and a growing range.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>

#include "octet/calib/collect.hpp"
#include "octet/engine/init_weights.hpp"
#include "octet/ir/umodel.hpp"

#include "calib_test_util.hpp"

using namespace octet;
namespace fs = std::filesystem;
using calib_test::write_lmdb;

namespace {

// c1: conv1 then BatchNorm, Scale and ReLU all in place (its final value comes from relu1).
// c2 -> r2: a conv + ReLU chain with its own top (fused: the conv writes r2, c2 is never written).
// s: Eltwise then ReLU in place (fused: one Eltwise with the activation).
ufw::NetParameter tiny_net(const fs::path& lmdb) {
  const ufw::NetParameter p = ir::parse_prototxt(R"(
name: "collect"
layer { name: "data" type: "Data" top: "data" top: "label" include { phase: TEST }
  data_param { source: ")" + lmdb.string() + R"(" batch_size: 0 backend: LMDB } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "c1" convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
layer { name: "bn1" type: "BatchNorm" bottom: "c1" top: "c1" }
layer { name: "sc1" type: "Scale" bottom: "c1" top: "c1" scale_param { bias_term: true } }
layer { name: "relu1" type: "ReLU" bottom: "c1" top: "c1" }
layer { name: "pool1" type: "Pooling" bottom: "c1" top: "p1" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "conv2" type: "Convolution" bottom: "p1" top: "c2" convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
layer { name: "relu_c2" type: "ReLU" bottom: "c2" top: "r2" }
layer { name: "add" type: "Eltwise" bottom: "r2" bottom: "p1" top: "s" }
layer { name: "relu2" type: "ReLU" bottom: "s" top: "s" }
layer { name: "gap" type: "Pooling" bottom: "s" top: "g" pooling_param { pool: AVE global_pooling: true } }
layer { name: "fc" type: "InnerProduct" bottom: "g" top: "logits" inner_product_param { num_output: 4 } }
)");
  return engine::init_random_weights(p, 5);
}

size_t layer_index(const engine::Net& net, const std::string& name) {
  for (size_t k = 0; k < net.layers().size(); ++k)
    if (net.layers()[k].name == name) return k;
  FAIL("no layer " << name);
  return 0;
}

std::vector<float> copy_of(const engine::Net& net, const std::string& b) {
  const auto& t = net.blob(b);
  return std::vector<float>(t.data(), t.data() + t.size());
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("Net::final_writers names the last layer writing each blob, fused or not", "[calib][engine]") {
  test::TempDir d;
  write_lmdb(d.path / "lmdb", 4, 7);
  const auto p = tiny_net(d.path / "lmdb");
  auto writer_of = [](const engine::Net& net, const std::string& b) {
    const auto w = net.final_writers();
    const auto& names = net.blob_names();
    return w[static_cast<size_t>(std::find(names.begin(), names.end(), b) - names.begin())];
  };
  {
    engine::Net net(p);
    CHECK(writer_of(net, "data") == layer_index(net, "data"));
    CHECK(writer_of(net, "c1") == layer_index(net, "relu1"));  // not conv1: written in place three times more
    CHECK(writer_of(net, "c2") == layer_index(net, "conv2"));
    CHECK(writer_of(net, "r2") == layer_index(net, "relu_c2"));
    CHECK(writer_of(net, "s") == layer_index(net, "relu2"));
  }
  engine::NetOptions fo;
  fo.fuse = true;
  engine::Net net(p, fo);
  REQUIRE(net.fused_layers() == std::vector<std::string>{"bn1", "sc1", "relu1", "relu_c2", "relu2"});
  CHECK(writer_of(net, "c1") == layer_index(net, "conv1"));
  CHECK(writer_of(net, "c2") == std::nullopt);  // inside the fused chain: never written
  CHECK(writer_of(net, "r2") == layer_index(net, "conv2"));
  CHECK(writer_of(net, "s") == layer_index(net, "add"));
}

TEST_CASE("Net::forward(after_layer): each run layer once, in order; blobs read at their final writer equal the "
          "blobs after the forward",
          "[calib][engine]") {
  test::TempDir d;
  write_lmdb(d.path / "lmdb", 4, 7);
  const auto p = tiny_net(d.path / "lmdb");
  for (const bool fuse : {false, true}) {
    DYNAMIC_SECTION("fuse " << fuse) {
      engine::NetOptions o;
      o.fuse = fuse;
      engine::Net net(p, o);
      const auto fused = net.fused_layers();
      std::vector<size_t> want_calls;
      for (size_t k = 0; k < net.layers().size(); ++k)
        if (std::find(fused.begin(), fused.end(), net.layers()[k].name) == fused.end()) want_calls.push_back(k);
      const auto writers = net.final_writers();
      const auto& names = net.blob_names();
      for (int it = 0; it < 3; ++it) {  // the Data layer advances: three different inputs
        std::vector<size_t> calls;
        std::map<std::string, std::vector<float>> at_writer, at_conv1;
        net.forward([&](size_t k) {
          calls.push_back(k);
          if (k == layer_index(net, "conv1")) at_conv1["c1"] = copy_of(net, "c1");
          for (size_t b = 0; b < names.size(); ++b)
            if (writers[b] == k) at_writer[names[b]] = copy_of(net, names[b]);
        });
        CHECK(calls == want_calls);
        for (size_t b = 0; b < names.size(); ++b) {
          if (!writers[b]) at_writer[names[b]] = copy_of(net, names[b]);
          INFO("blob " << names[b]);
          CHECK(same_bits(at_writer.at(names[b]), copy_of(net, names[b])));
        }
        // Reading c1 after the conv (its first writer) would have seen the pre-ReLU values.
        const auto& c1 = copy_of(net, "c1");
        CHECK(same_bits(at_conv1.at("c1"), c1) == fuse);
        CHECK(std::all_of(c1.begin(), c1.end(), [](float v) { return v >= 0.0f; }));
      }
    }
  }
}

namespace {

// What collect_statistics must give: every blob (less `skip`) read after each whole forward.
std::vector<calib::NamedStats> read_after_each_forward(const ufw::NetParameter& p, const engine::NetOptions& o,
                                                       const std::set<std::string>& skip,
                                                       const std::set<std::string>& range_only, int iterations) {
  engine::Net net(p, o);
  std::vector<calib::StreamingStats> st;
  std::vector<std::string> names;
  for (const auto& b : net.blob_names())
    if (!skip.count(b)) {
      names.push_back(b);
      st.emplace_back(512, !range_only.count(b));
    }
  for (int it = 0; it < iterations; ++it) {
    net.forward();
    for (size_t k = 0; k < names.size(); ++k) {
      const auto& t = net.blob(names[k]);
      st[k].update(std::span<const float>(t.data(), static_cast<size_t>(t.size())));
    }
  }
  std::vector<calib::NamedStats> want;
  for (size_t k = 0; k < names.size(); ++k) want.emplace_back(names[k], st[k].finish());
  return want;
}

void check_same_stats(const std::vector<calib::NamedStats>& got, const std::vector<calib::NamedStats>& want) {
  REQUIRE(got.size() == want.size());
  CHECK(calib::serialize_stats(got) == calib::serialize_stats(want));
  for (size_t k = 0; k < want.size(); ++k) {
    INFO("blob " << want[k].first);
    CHECK(got[k].first == want[k].first);
    CHECK(got[k].second == want[k].second);
  }
}

// body(threads, helper, schedule) in a section of its own (`what` plus the three) for 1 and 2
// threads, with and without a helper thread, on every schedule. The thread count is set for the
// body, and must be that again after it: the pipelined forwards' fewer threads are restored.
template <class Body>
void on_every_schedule(const std::string& what, Body&& body) {
  for (const int threads : {1, 2})
    for (const bool helper : {false, true})
      for (const auto schedule :
           {calib::CollectSchedule::serial, calib::CollectSchedule::pipelined, calib::CollectSchedule::automatic})
        DYNAMIC_SECTION(what << ", threads " << threads << ", helper " << helper << ", schedule "
                             << static_cast<int>(schedule)) {
          const ThreadCountScope scope(threads);
          body(threads, helper, schedule);
          CHECK(num_threads() == threads);
        }
}

}  // namespace

// Pipelined, the statistics trail the forward on a thread of their own and each forward ends
// at a barrier; automatic times both on forwards 1-8 (so more than 16 records), then keeps
// one. Each must equal reading every blob after each whole forward, bit for bit, on one thread
// (where all three are serial unless given a helper thread) and two; fused and not.
TEST_CASE("collect_statistics equals collecting every blob after each whole forward, on every schedule",
          "[calib]") {
  test::TempDir d;
  write_lmdb(d.path / "lmdb", 20, 11);
  const auto p = tiny_net(d.path / "lmdb");
  const auto skip = calib::label_blobs(p);
  const std::set<std::string> range_only = {"c2", "p1"};
  for (const bool fuse : {false, true}) {
    engine::NetOptions o;
    o.fuse = fuse;
    const auto want = read_after_each_forward(p, o, skip, range_only, 18);
    on_every_schedule("fuse " + std::to_string(fuse), [&](int threads, bool helper, calib::CollectSchedule schedule) {
      engine::Net net(p, o);
      std::ostringstream warn;
      const auto got = calib::collect_statistics(net, 18, 512, skip, range_only, warn, schedule, helper);
      CHECK(got.iterations == 18);
      if (schedule != calib::CollectSchedule::automatic)
        CHECK(got.pipelined == (schedule == calib::CollectSchedule::pipelined && (threads >= 2 || helper)));
      check_same_stats(got.stats, want);
    });
  }
}

// A record of the wrong shape part-way through the LMDB: the Data layer's error reaches the
// caller on every schedule (during the automatic choice's timed forwards and after it), the
// statistics thread stops, and the thread count is restored.
TEST_CASE("collect_statistics passes a Data-layer error through on every schedule", "[calib]") {
  for (const int bad : {4, 12}) {  // 4: a timed pipelined forward of the automatic choice
    test::TempDir d;
    {
      data::LmdbWriter w(d.path / "lmdb");
      for (int r = 0; r < 20; ++r) {
        const std::int64_t width = r == bad ? 4 : 8;
        w.put(data::Sample::from<float>({1, 2, 8, width}, std::vector<float>(static_cast<size_t>(16 * width), 0.5f),
                                        DType::F32, 0));
      }
      w.close();
    }
    const auto p = tiny_net(d.path / "lmdb");
    on_every_schedule("bad record " + std::to_string(bad), [&](int, bool helper, calib::CollectSchedule schedule) {
      engine::Net net(p);
      std::ostringstream warn;
      CHECK_THROWS_WITH(calib::collect_statistics(net, 18, 512, calib::label_blobs(p), {}, warn, schedule, helper),
                        Catch::Contains("does not match the net input shape"));
    });
  }
}

TEST_CASE("StreamingStats::update_relu equals updating x and y = ReLU(x) separately", "[calib]") {
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.f, 1.f);
  calib::StreamingStats xs(512, false), ys(512, true), xr(512, false), yr(512, true);
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  // Batches that start the grid, stay inside it, grow it (coarsening), hold only non-positive
  // values, signed zeros, NaN/Inf, subnormals, and sizes off the 16-lane and 1024-value chunks.
  const std::vector<std::pair<size_t, float>> batches = {{5, 1.f},     {3000, 1.f}, {1024, 0.5f}, {2049, 40.f},
                                                         {17, -1.f},   {700, 1e-3f}, {1500, 1e5f}, {33, 1e-42f},
                                                         {4096, 2.f}};
  for (size_t bi = 0; bi < batches.size(); ++bi) {
    const auto [n, scale] = batches[bi];
    std::vector<float> x(n), y(n);
    for (size_t i = 0; i < n; ++i) {
      x[i] = scale < 0 ? -std::fabs(nd(rng)) : nd(rng) * scale;
      if (i % 13 == 0) x[i] = 0.0f;
      if (i % 29 == 0) x[i] = -0.0f;
    }
    if (bi == 3) x[100] = nan, x[2000] = inf, x[7] = -inf;
    for (size_t i = 0; i < n; ++i) y[i] = x[i] > 0 ? x[i] : (x[i] != x[i] ? x[i] : (i % 2 ? -0.0f : 0.0f));
    calib::StreamingStats::update_relu(xs, ys, x, y);
    xr.update(x);
    yr.update(y);
  }
  const auto gx = xs.finish(), gy = ys.finish(), wx = xr.finish(), wy = yr.finish();
  CHECK(gx == wx);
  CHECK(gy == wy);
  CHECK(calib::serialize_stats({{"x", gx}, {"y", gy}}) == calib::serialize_stats({{"x", wx}, {"y", wy}}));
  CHECK(gy.range.nonfinite == 2);  // NaN and +Inf; ReLU(-Inf) is a zero
  CHECK_THROWS_AS(calib::StreamingStats::update_relu(ys, xs, std::vector<float>(4), std::vector<float>(4)), UsageError);
}
