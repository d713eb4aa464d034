// calibration_use_pb quantize in process: plan rules (dtypes, propagation, overrides, float
// fallback), the int8 parameters written (weights, bias, multipliers; BM1684 shifts), the
// outputs and their failure behaviour, and an int8 run of the result against fp32.
// GCC 12 reports a false maybe-uninitialized inside its own AVX-512 intrinsics
// (_mm512_undefined_epi32) when the int8 kernels inline into this translation unit.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <catch2/catch.hpp>
#include <filesystem>
#include <random>
#include <sstream>

#include "octet/calib/calibrator.hpp"
#include "octet/calib/int8_compare.hpp"
#include "octet/engine/init_weights.hpp"
#include "octet/engine/int8_net.hpp"
#include "octet/fixed/requant.hpp"
#include "octet/ir/umodel.hpp"

#include "calib_test_util.hpp"

using namespace octet;
namespace fs = std::filesystem;
using calib_test::write_lmdb;

namespace {

std::string net_text(const fs::path& lmdb, const std::string& extra_conv2 = "") {
  return R"(
name: "tiny"
layer { name: "data" type: "Data" top: "data" top: "label" include { phase: TEST }
  data_param { source: ")" + lmdb.string() + R"(" batch_size: 0 backend: LMDB } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "c1" convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
layer { name: "bn1" type: "BatchNorm" bottom: "c1" top: "c1" }
layer { name: "sc1" type: "Scale" bottom: "c1" top: "c1" scale_param { bias_term: true } }
layer { name: "relu1" type: "ReLU" bottom: "c1" top: "c1" }
layer { name: "pool1" type: "Pooling" bottom: "c1" top: "p1" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "conv2" type: "Convolution" bottom: "p1" top: "c2" )" + extra_conv2 + R"( convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
layer { name: "add" type: "Eltwise" bottom: "c2" bottom: "p1" top: "s" }
layer { name: "relu2" type: "ReLU" bottom: "s" top: "s" }
layer { name: "gap" type: "Pooling" bottom: "s" top: "g" pooling_param { pool: AVE global_pooling: true } }
layer { name: "fc" type: "InnerProduct" bottom: "g" top: "logits" inner_product_param { num_output: 4 } }
layer { name: "prob" type: "Softmax" bottom: "logits" top: "prob" }
layer { name: "acc" type: "Accuracy" bottom: "logits" bottom: "label" top: "acc/top-1" }
)";
}

// Writes prototxt + random weights into `dir`; returns the option set pointing at them.
calib::CalibOptions make_model(const fs::path& dir, const std::string& text, int iterations = 16) {
  ufw::NetParameter p = ir::parse_prototxt(text);
  ufw::NetParameter noacc = p;
  noacc.mutable_layer()->RemoveLast();  // the runtime has no Accuracy layer
  const auto w = engine::init_random_weights(noacc, 3);
  ir::save_prototxt(p, (dir / "tiny.prototxt").string());
  ir::save_weights(w, (dir / "tiny.fp32umodel").string());
  calib::CalibOptions o;
  o.model = (dir / "tiny.prototxt").string();
  o.weights = (dir / "tiny.fp32umodel").string();
  o.iterations = iterations;
  return o;
}

const calib::BlobPlan& blob(const calib::CalibResult& r, const std::string& n) { return r.plan.blobs.at(n); }

const ufw::LayerParameter& layer(const ufw::NetParameter& n, const std::string& name) {
  for (const auto& l : n.layer())
    if (l.name() == name) return l;
  FAIL("no layer " << name);
  return n.layer(0);
}

// The optimised net quantize collects on, and its statistics with every blob's histogram.
struct FullStats {
  ufw::NetParameter net;
  std::vector<calib::NamedStats> stats;
  std::map<std::string, Shape> shapes;
};
FullStats full_statistics(const calib::CalibOptions& o) {
  passes::TransformReport rep;
  FullStats f;
  f.net = calib::strip_label_layers(passes::graph_transform(calib::load_checked(o.model, o.weights), {}, rep));
  engine::NetOptions no;
  no.model_file = o.model;
  no.weights_file = o.weights;
  engine::Net net(f.net, no);
  std::ostringstream warn;
  f.stats = calib::collect_statistics(net, o.iterations, o.th_binnum, calib::label_blobs(f.net), warn).stats;
  for (const auto& b : net.blob_names()) f.shapes[b] = net.blob_shape(b);
  return f;
}

// quantize with o refuses its -load_dist file: a range-only blob whose threshold o computes.
void check_refused_range_only(const calib::CalibOptions& o, const std::string& file) {
  std::ostringstream log, warn;
  try {
    calib::quantize(o, log, warn);
    FAIL("range-only statistics accepted for a computed threshold");
  } catch (const ModelError& e) {
    INFO(e.what());
    CHECK(std::string(e.what()).find(file) != std::string::npos);
    CHECK(std::string(e.what()).find("range-only") != std::string::npos);
  }
}

}  // namespace

TEST_CASE("quantize writes the NNTC file set and an int8 net close to fp32", "[calib]") {
  test::TempDir d;
  write_lmdb(d.path / "lmdb", 24, 1);
  auto o = make_model(d.path, net_text(d.path / "lmdb"));
  o.save_test_proto = true;
  std::ostringstream log, warn;
  const auto r = calib::quantize(o, log, warn, calib::int8_cosine);
  for (const auto* f : {"tiny.int8umodel", "tiny_deploy_int8_unique_top.prototxt", "tiny_deploy_fp32_unique_top.prototxt",
                        "tiny_test_int8_unique_top.prototxt", "tiny_test_fp32_unique_top.prototxt",
                        "tiny.calibration_table"})
    CHECK(fs::exists(d.path / f));
  CHECK(r.iterations == 16);
  CHECK(r.verify.ok);

  // dtypes: ReLU outputs unsigned, max-pool shares its input's quantisation, conv output
  // before a ReLU takes the ReLU's threshold.
  CHECK(blob(r, "c1_relu1").dtype == ufw::BlobProto::UINT8);
  CHECK(blob(r, "p1").dtype == ufw::BlobProto::UINT8);
  CHECK(blob(r, "p1").threshold == blob(r, "c1_relu1").threshold);
  CHECK(blob(r, "c1_sc1").threshold == blob(r, "c1_relu1").threshold);
  CHECK(blob(r, "c2").dtype == ufw::BlobProto::INT8);
  CHECK(blob(r, "g").dtype == ufw::BlobProto::UINT8);  // average of unsigned values
  CHECK(blob(r, "prob").dtype == ufw::BlobProto::FP32);  // Softmax has no int8 kernel

  // Weights, bias and requantisation of conv2 follow the contract exactly.
  const auto q = ir::load_umodel((d.path / "tiny_deploy_int8_unique_top.prototxt").string(),
                                 (d.path / "tiny.int8umodel").string());
  const auto& c2 = layer(q, "conv2");
  REQUIRE(c2.blobs_size() == 2);
  CHECK(c2.blobs(0).dtype() == ufw::BlobProto::INT8);
  CHECK(c2.blobs(0).int8_data().size() == 4u * 4 * 3 * 3);
  CHECK(c2.blobs(1).dtype() == ufw::BlobProto::INT32);
  CHECK(c2.blobs(1).int32_data_size() == 4);
  REQUIRE(c2.top_quant_size() == 1);
  const float s_in = layer(q, "pool1").top_quant(0).scale(), s_out = c2.top_quant(0).scale();
  const float s_w = c2.blobs(0).scaletofloat();
  const auto m = fixed::quantize_multiplier(static_cast<double>(s_in) * s_w / s_out);
  REQUIRE(c2.int8_param().multiplier_size() == 1);
  CHECK(c2.int8_param().multiplier(0) == m.multiplier);
  CHECK(c2.int8_param().shift(0) == m.shift);
  // every weight code within [-127, 127] and the largest magnitude uses the full range
  int big = 0;
  for (char c : c2.blobs(0).int8_data()) big = std::max(big, std::abs(static_cast<int>(static_cast<int8_t>(c))));
  CHECK(big == 127);
  // global average pooling: one exact multiplier per divisor (8x8/2/2 = 16 cells)
  CHECK(layer(q, "gap").int8_param().multiplier_size() == 16);
  // Eltwise SUM: one multiplier per input, one shared shift
  CHECK(layer(q, "add").int8_param().input_multiplier_size() == 2);

  // The int8 net runs and tracks fp32 on the held-back record.
  REQUIRE_FALSE(r.cosine.empty());
  CHECK(r.cosine.at("c1_relu1") > 0.99);
  CHECK(r.cosine.at("logits") > 0.9);  // random weights, 16 random records, KL: a loose floor

  // The TPU-MLIR table: 4 single-space fields per data line.
  const std::string table = ir::read_file_bytes((d.path / "tiny.calibration_table").string());
  CHECK(table.find("# histogram number: 2048") != std::string::npos);
  CHECK(table.find("\nc2 ") != std::string::npos);
}

TEST_CASE("per-channel and BM1684 parameters", "[calib]") {
  test::TempDir d;
  write_lmdb(d.path / "lmdb", 8, 2);
  auto o = make_model(d.path, net_text(d.path / "lmdb"), 8);
  o.per_channel = true;
  o.target = "BM1684";
  std::ostringstream log, warn;
  const auto r = calib::quantize(o, log, warn, calib::int8_cosine);
  const auto q = ir::load_umodel((d.path / "tiny_deploy_int8_unique_top.prototxt").string(),
                                 (d.path / "tiny.int8umodel").string());
  const auto& c2 = layer(q, "conv2");
  CHECK(c2.blobs(0).per_channel_en());
  CHECK(c2.blobs(0).scaletofloatperchannel_size() == 4);
  CHECK(c2.int8_param().target() == ufw::Int8Param::BM1684);
  REQUIRE(c2.int8_param().multiplier_size() == 4);
  for (int c = 0; c < 4; ++c) {
    CHECK(c2.int8_param().multiplier(c) == 1);
    CHECK(c2.int8_param().shift(c) >= 0);
    CHECK(c2.int8_param().shift(c) <= 31);
    // shift alone gives the right scale: s_in * s_w'_c / s_out == 2^-shift exactly
    const double s_in = layer(q, "pool1").top_quant(0).scale(), s_out = c2.top_quant(0).scale();
    const double real = s_in * c2.blobs(0).scaletofloatperchannel(c) / s_out;
    CHECK(real == Approx(std::ldexp(1.0, -c2.int8_param().shift(c))).epsilon(1e-6));
  }
  // int16 bias: every stored value is an int16 shifted left by the recorded amount
  const int lshift = -c2.blobs(1).right_shift_num();
  CHECK(lshift >= 0);
  for (int v : c2.blobs(1).int32_data()) {
    CHECK(v % (1 << lshift) == 0);
    CHECK(std::abs(v >> lshift) <= 32767);
  }
  CHECK(r.cosine.at("logits") > 0.8);
}

TEST_CASE("-conv_group: conv weights get per-group scales, FC stays per tensor", "[calib]") {
  test::TempDir d;
  write_lmdb(d.path / "lmdb", 8, 2);
  auto o = make_model(d.path, net_text(d.path / "lmdb"), 8);
  o.conv_group = true;
  std::ostringstream log, warn;
  const auto r = calib::quantize(o, log, warn, calib::int8_cosine);
  const auto q = ir::load_umodel((d.path / "tiny_deploy_int8_unique_top.prototxt").string(),
                                 (d.path / "tiny.int8umodel").string());
  for (const char* name : {"conv1", "conv2"}) {
    const auto& c = layer(q, name);
    INFO(name);
    REQUIRE(c.blobs(0).per_channel_en());
    REQUIRE(c.blobs(0).scaletofloatperchannel_size() == 4);
    REQUIRE(c.int8_param().multiplier_size() == 4);
    // Random init gives 4 channels within a few octaves: every channel's largest code is in
    // the upper half of the range (its group's scale is at most twice its own).
    const std::string& codes = c.blobs(0).int8_data();
    const size_t per = codes.size() / 4;
    for (size_t ch = 0; ch < 4; ++ch) {
      int amax = 0;
      for (size_t k = 0; k < per; ++k) amax = std::max(amax, std::abs(static_cast<int>(static_cast<int8_t>(codes[ch * per + k]))));
      CHECK(amax >= 63);
    }
  }
  CHECK_FALSE(layer(q, "fc").blobs(0).per_channel_en());
  CHECK(r.cosine.at("logits") > 0.8);
}

TEST_CASE("a Deconvolution is quantised per output channel and runs in int8", "[calib]") {
  for (bool per_channel : {true, false}) {
    test::TempDir d;
    write_lmdb(d.path / "lmdb", 8, 9);
    auto o = make_model(d.path, R"(
name: "tiny"
layer { name: "data" type: "Data" top: "data" top: "label" include { phase: TEST }
  data_param { source: ")" + (d.path / "lmdb").string() + R"(" batch_size: 0 backend: LMDB } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "c1" convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
layer { name: "relu1" type: "ReLU" bottom: "c1" top: "c1" }
layer { name: "up" type: "Deconvolution" bottom: "c1" top: "u" convolution_param { num_output: 6 kernel_size: 4 stride: 2 pad: 1 group: 2 } }
layer { name: "gap" type: "Pooling" bottom: "u" top: "g" pooling_param { pool: AVE global_pooling: true } }
layer { name: "fc" type: "InnerProduct" bottom: "g" top: "logits" inner_product_param { num_output: 4 } }
layer { name: "acc" type: "Accuracy" bottom: "logits" bottom: "label" top: "acc/top-1" }
)", 8);
    o.per_channel = per_channel;
    std::ostringstream log, warn;
    const auto r = calib::quantize(o, log, warn, calib::int8_cosine);
    const auto q = ir::load_umodel((d.path / "tiny_deploy_int8_unique_top.prototxt").string(),
                                   (d.path / "tiny.int8umodel").string());
    const auto& up = layer(q, "up");
    CHECK(up.blobs(0).dtype() == ufw::BlobProto::INT8);
    CHECK(up.blobs(0).scaletofloatperchannel_size() == (per_channel ? 6 : 0));
    CHECK(up.int8_param().multiplier_size() == (per_channel ? 6 : 1));
    engine::Int8Net n(q);
    bool ran_int8 = false;
    for (const auto& l : n.layers())
      if (l.name == "up") ran_int8 = l.int8;
    CHECK(ran_int8);
    INFO("per_channel " << per_channel);
    CHECK(r.cosine.at("u") > 0.99);
  }
}

TEST_CASE("per-layer overrides and float fallback", "[calib]") {
  test::TempDir d;
  write_lmdb(d.path / "lmdb", 8, 3);
  auto o = make_model(d.path, net_text(d.path / "lmdb", "th_strategy: USE_MAX th_scale: 0.5"), 8);
  o.fpfwd_outputs = {"fc"};
  std::ostringstream log, warn;
  const auto r = calib::quantize(o, log, warn);
  CHECK(blob(r, "c2").threshold == Approx(0.5 * blob(r, "c2").absmax));
  CHECK(blob(r, "logits").dtype == ufw::BlobProto::FP32);
  CHECK(blob(r, "g").dtype != ufw::BlobProto::FP32);
  const auto q = ir::load_prototxt((d.path / "tiny_deploy_int8_unique_top.prototxt").string());
  CHECK(layer(q, "fc").forward_with_float());
  CHECK(layer(q, "prob").forward_with_float());

  test::TempDir d2;
  write_lmdb(d2.path / "lmdb", 8, 3);
  auto o2 = make_model(d2.path, net_text(d2.path / "lmdb", "threshold: 3.25 th_scale: 2"), 8);
  const auto r2 = calib::quantize(o2, log, warn);
  CHECK(blob(r2, "c2").threshold == 3.25f);  // explicit threshold wins, th_scale not applied
}

TEST_CASE("every threshold method completes", "[calib]") {
  test::TempDir d;
  write_lmdb(d.path / "lmdb", 8, 4);
  auto o = make_model(d.path, net_text(d.path / "lmdb"), 8);
  for (const auto* m : {"KL", "SYMKL", "JSD", "ADMM", "ACIQ", "MAX", "PERCENTILE9999", "MSE"}) {
    o.th_method = m;
    o.th_binnum = 512;
    std::ostringstream log, warn;
    const auto r = calib::quantize(o, log, warn);
    for (const auto& [n, b] : r.plan.blobs) {
      CHECK(std::isfinite(b.threshold));
      CHECK(b.threshold > 0);
      CHECK(b.threshold <= b.absmax * 1.0001 + 1e-6);
    }
  }
}

TEST_CASE("dump_dist / load_dist give the same thresholds", "[calib]") {
  test::TempDir d;
  write_lmdb(d.path / "lmdb", 8, 5);
  auto o = make_model(d.path, net_text(d.path / "lmdb"), 8);
  o.dump_dist = (d.path / "stats.txt").string();
  std::ostringstream log, warn;
  const auto a = calib::quantize(o, log, warn);
  REQUIRE(fs::exists(d.path / "stats.txt"));
  o.dump_dist.clear();
  o.load_dist = (d.path / "stats.txt").string();
  const auto b = calib::quantize(o, log, warn);
  for (const auto& [n, p] : a.plan.blobs) CHECK(b.plan.blobs.at(n).threshold == p.threshold);
}

TEST_CASE("propagated blobs are collected range-only; full and range-only dist files agree", "[calib]") {
  test::TempDir d;
  write_lmdb(d.path / "lmdb", 8, 7);
  auto o = make_model(d.path, net_text(d.path / "lmdb"), 8);
  o.dump_dist = (d.path / "part.txt").string();
  std::ostringstream log, warn;
  const auto a = calib::quantize(o, log, warn);
  const auto part = calib::load_stats(o.dump_dist);
  int range_only = 0;
  for (const auto& [n, t] : part) {
    INFO(n);
    const auto& bp = a.plan.blobs.at(n);
    const bool propagated = bp.method.rfind("from ", 0) == 0 || bp.method.rfind("= ", 0) == 0;
    const bool max = bp.method.rfind("MAX", 0) == 0;  // the net input: MAX(input)
    CHECK(t.is_range_only() == (propagated || max));
    range_only += t.is_range_only();
    CHECK(t.range.n > 0);
    CHECK(bp.absmax == t.range.absmax);  // the table's min/max/absmax still come from the statistics
  }
  CHECK(range_only >= 3);  // conv1's output (before relu1), p1 (max pooling), data (MAX)
  CHECK(part.front().first == "data");
  CHECK(part.front().second.is_range_only());
  // Every blob with a histogram, collected on the same optimised net as quantize does.
  const FullStats full = full_statistics(o);
  for (const auto& [n, t] : full.stats) CHECK_FALSE(t.is_range_only());
  // the histograms both collections have are identical
  for (const auto& [n, t] : part)
    for (const auto& [m, f] : full.stats)
      if (n == m && !t.is_range_only()) CHECK(t == f);
  calib::save_stats((d.path / "full.txt").string(), full.stats);
  o.dump_dist.clear();
  for (const char* f : {"full.txt", "part.txt"}) {
    o.load_dist = (d.path / f).string();
    const auto b = calib::quantize(o, log, warn);
    for (const auto& [n, p] : a.plan.blobs) {
      INFO(f << " " << n);
      CHECK(b.plan.blobs.at(n).threshold == p.threshold);
      CHECK(b.plan.blobs.at(n).method == p.method);
      CHECK(b.plan.blobs.at(n).max == p.max);
    }
  }
  // Flags that compute a threshold the range-only file propagated: refused, naming the blob.
  // relu1 in float: conv1's output no longer takes relu1's threshold.
  o.load_dist = (d.path / "part.txt").string();
  o.fpfwd_blocks = {"relu1"};
  check_refused_range_only(o, "part.txt");
  // the full file fits those flags
  o.load_dist = (d.path / "full.txt").string();
  CHECK_NOTHROW(calib::quantize(o, log, warn));
  // make_plan itself refuses range-only statistics where it needs a histogram
  auto bad = full.stats;
  for (auto& [n, t] : bad)
    if (n == "logits") t = calib::TensorStats::range_only(o.th_binnum);
  CHECK_THROWS_AS(calib::make_plan(full.net, bad, {}, full.shapes), ModelError);
  // An error inside the threshold searches reaches the caller from their parallel region too
  // (never std::terminate): a KL blob whose histogram holds more counts than KL can sum exactly.
  auto too_many = full.stats;
  int searched = 0;
  for (auto& [n, t] : too_many)
    if (a.plan.blobs.count(n) && a.plan.blobs.at(n).method == "KL" && searched++ == 0) {
      std::vector<std::uint64_t> counts(t.hist.counts().begin(), t.hist.counts().end());
      counts[1] += std::uint64_t{1} << 53;
      t.hist = calib::Histogram::restore(t.hist.mode(), t.hist.binnum(), 0.0f, t.hist.exponent(), std::move(counts));
    }
  REQUIRE(searched > 1);  // more than one search, so two threads both get one
  for (const int threads : {1, 2}) {
    const ThreadCountScope scope(threads);
    CHECK_THROWS_WITH(calib::make_plan(full.net, too_many, {}, full.shapes), Catch::Contains("more than 2^52"));
  }
}

// MAX needs the range alone: with -th_method=MAX, or th_strategy USE_MAX on a layer, the pass
// collects no histogram for those blobs, and the thresholds are those a full file gives.
TEST_CASE("blobs with a MAX threshold are collected range-only", "[calib]") {
  test::TempDir d;
  write_lmdb(d.path / "lmdb", 8, 9);
  auto o = make_model(d.path, net_text(d.path / "lmdb", "th_strategy: USE_MAX"), 8);
  std::ostringstream log, warn;
  calib::save_stats((d.path / "full.txt").string(), full_statistics(o).stats);

  for (const char* method : {"KL", "MAX"}) {
    INFO(method);
    o.th_method = method;
    o.load_dist.clear();
    o.dump_dist = (d.path / (std::string(method) + ".txt")).string();
    const auto a = calib::quantize(o, log, warn);
    const auto part = calib::load_stats(o.dump_dist);
    int histograms = 0;
    for (const auto& [n, t] : part) {
      INFO(n << " " << a.plan.blobs.at(n).method);
      histograms += !t.is_range_only();
      // KL: c2 (USE_MAX), data (MAX(input)) and the propagated blobs; MAX: every blob.
      if (std::string(method) == "MAX" || n == "c2" || n == "data") CHECK(t.is_range_only());
      if (a.plan.blobs.at(n).method == "KL") CHECK_FALSE(t.is_range_only());
    }
    CHECK(histograms == (std::string(method) == "KL" ? 5 : 0));  // KL: c1_relu1, s_relu2, g, logits, prob
    CHECK(a.plan.blobs.at("c2").method == "MAX(th_strategy)");
    CHECK(a.plan.blobs.at("c2").threshold == static_cast<float>(a.plan.blobs.at("c2").absmax));
    o.dump_dist.clear();
    o.load_dist = (d.path / "full.txt").string();
    const auto b = calib::quantize(o, log, warn);
    for (const auto& [n, p] : a.plan.blobs) {
      INFO(n);
      CHECK(b.plan.blobs.at(n).threshold == p.threshold);
      CHECK(b.plan.blobs.at(n).method == p.method);
    }
  }
  // A MAX file has no histograms: refused for KL, naming the file, a blob and why.
  o.th_method = "KL";
  o.load_dist = (d.path / "MAX.txt").string();
  check_refused_range_only(o, "MAX.txt");
}

TEST_CASE("statistics do not depend on the record order", "[calib]") {
  // Same records, reversed: every threshold is identical.
  test::TempDir d;
  {
    data::LmdbWriter w1(d.path / "a"), w2(d.path / "b");
    std::mt19937 rng(9);
    std::normal_distribution<float> nd(0.f, 1.f);
    std::vector<std::vector<float>> recs(10, std::vector<float>(128));
    for (auto& r : recs)
      for (auto& x : r) x = nd(rng);
    for (size_t i = 0; i < recs.size(); ++i) {
      w1.put(data::Sample::from<float>({1, 2, 8, 8}, recs[i], DType::F32, 0));
      w2.put(data::Sample::from<float>({1, 2, 8, 8}, recs[recs.size() - 1 - i], DType::F32, 0));
    }
    w1.close();
    w2.close();
  }
  auto oa = make_model(d.path, net_text(d.path / "a"), 10);
  std::ostringstream log, warn;
  const auto ra = calib::quantize(oa, log, warn);
  test::TempDir d2;
  auto ob = make_model(d2.path, net_text(d.path / "b"), 10);
  const auto rb = calib::quantize(ob, log, warn);
  for (const auto& [n, p] : ra.plan.blobs) CHECK(rb.plan.blobs.at(n).threshold == p.threshold);
}

TEST_CASE("bad input: warnings, safe scales and nothing written on errors", "[calib]") {
  test::TempDir d;
  write_lmdb(d.path / "zeros", 4, 6, true);
  auto o = make_model(d.path, net_text(d.path / "zeros"), 10);
  std::ostringstream log, warn;
  const auto r = calib::quantize(o, log, warn, calib::int8_cosine);
  CHECK(r.iterations == 4);
  CHECK(warn.str().find("fewer than -iterations=10") != std::string::npos);
  CHECK(warn.str().find("all zero or constant") != std::string::npos);
  for (const auto& [n, b] : r.plan.blobs) {
    CHECK(std::isfinite(b.threshold));
    CHECK(b.threshold > 0);
  }
  for (const auto& [n, c] : r.cosine) CHECK(std::isfinite(c));

  auto expect_nothing = [&](calib::CalibOptions bad, const std::string& msg) {
    test::TempDir e;
    write_lmdb(e.path / "lmdb", 4, 7);
    auto good = make_model(e.path, net_text(e.path / "lmdb"), 4);
    bad.model = good.model;
    bad.weights = good.weights;
    std::ostringstream l, w;
    CHECK_THROWS_WITH(calib::quantize(bad, l, w), Catch::Contains(msg));
    CHECK_FALSE(fs::exists(e.path / "tiny.int8umodel"));
    CHECK_FALSE(fs::exists(e.path / "tiny.calibration_table"));
  };
  calib::CalibOptions bad;
  bad.th_method = "KLD";
  expect_nothing(bad, "KLD");
  bad = {};
  bad.fpfwd_inputs = {"nope"};
  expect_nothing(bad, "unknown layer 'nope'");
  bad = {};
  bad.th_binnum = 1000;
  expect_nothing(bad, "1000");
  bad = {};
  bad.target = "BM1688";
  expect_nothing(bad, "BM1688");
}
