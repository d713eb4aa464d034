// calibration_use_pb as a library: `quantize` (fp32 umodel + Data-layer LMDB -> int8 umodel,
// deploy/test prototxts, TPU-MLIR calibration table) and `graph_transform` (optimised fp32
// pair). Everything is computed in memory first and written at the end, each file atomically,
// so a bad flag, a bad model or a failed step leaves nothing next to -weights.
// Depends on passes/, calib/ and engine/; the tool main only parses flags.
#pragma once
#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <cstdio>
#include <ctime>
#include <iomanip>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "octet/calib/assign.hpp"
#include "octet/calib/collect.hpp"
#include "octet/calib/quantize_net.hpp"
#include "octet/calib/statistics.hpp"
#include "octet/calib/table.hpp"
#include "octet/core/atomic_file.hpp"
#include "octet/core/cpus.hpp"
#include "octet/core/error.hpp"
#include "octet/engine/net.hpp"
#include "octet/ir/graph.hpp"
#include "octet/ir/umodel.hpp"
#include "octet/passes/graph_transform.hpp"

namespace octet::calib {

struct CalibOptions {
  std::string model, weights;
  int iterations = 200;
  std::string th_method = "KL";
  int th_binnum = 2048;
  std::string dump_dist, load_dist;
  bool graph_transform = false;  // quantize: also write the optimised fp32 pair
  bool save_test_proto = false;
  std::vector<std::string> fpfwd_inputs, fpfwd_outputs, fpfwd_blocks;
  bool accuracy_opt = false;
  bool per_channel = false;
  bool conv_group = false;  // -conv_group: conv weight scales per amplitude group
  bool fuse_preprocess = false;
  std::vector<std::string> notmerge_conv_layer;
  bool random_input_compare = false;
  double fp32_diff = 0.001;
  int compare_samples = 3;
  std::string target = "BM1684X";
  // Threads for everything. 0 (the default): the kernels on one, never on more (OpenMP's
  // per-layer barriers can slow a busy machine many times over); the statistics pass may add a
  // thread of its own when the process has a second CPU (pipelined, if it times faster); the
  // threshold searches run one blob per CPU.
  int threads = 0;
  bool cosine = true;  // per-layer cosine of int8 vs fp32 on a held-back record
};

// Output paths: next to -weights, stem = weights name without .fp32umodel.
struct OutputNames {
  std::string stem;
  std::string int8umodel, deploy_int8, deploy_fp32, test_int8, test_fp32, table, prototxt_opt, fp32umodel_opt;
};
inline OutputNames output_names(const std::string& weights) {
  OutputNames o;
  std::string s = weights;
  const std::string ext = ".fp32umodel";
  if (s.size() > ext.size() && s.compare(s.size() - ext.size(), ext.size(), ext) == 0) {
    s = s.substr(0, s.size() - ext.size());
  } else {
    const auto slash = s.find_last_of('/'), dot = s.find_last_of('.');
    if (dot != std::string::npos && (slash == std::string::npos || dot > slash)) s = s.substr(0, dot);
  }
  o.stem = s;
  o.int8umodel = s + ".int8umodel";
  o.deploy_int8 = s + "_deploy_int8_unique_top.prototxt";
  o.deploy_fp32 = s + "_deploy_fp32_unique_top.prototxt";
  o.test_int8 = s + "_test_int8_unique_top.prototxt";
  o.test_fp32 = s + "_test_fp32_unique_top.prototxt";
  o.table = s + ".calibration_table";
  o.prototxt_opt = s + ".prototxt_optimized";
  o.fp32umodel_opt = s + ".fp32umodel_optimized";
  return o;
}

// Layers that read labels (Accuracy, losses), directly or through other such layers.
inline ufw::NetParameter strip_label_layers(const ufw::NetParameter& net, std::vector<std::string>* removed = nullptr) {
  std::set<std::string> tainted = label_blobs(net);
  ufw::NetParameter out = net;
  out.clear_layer();
  for (const auto& l : net.layer()) {
    bool reads = false;
    for (const auto& b : l.bottom()) reads = reads || tainted.count(b);
    if (reads) {
      for (const auto& t : l.top()) tainted.insert(t);
      if (removed) removed->push_back(l.name());
      continue;
    }
    *out.add_layer() = l;
  }
  return out;
}

// Deploy form: no Data layer (an Input layer of the same shape), nothing that reads labels.
inline ufw::NetParameter deploy_net(const ufw::NetParameter& net, const std::map<std::string, Shape>& shapes) {
  return passes::data_to_input(strip_label_layers(net), shapes);
}

inline ufw::NetParameter load_checked(const std::string& model, const std::string& weights) {
  if (model.empty()) throw UsageError("-model=<prototxt> is required");
  if (weights.empty()) throw UsageError("-weights=<fp32umodel> is required");
  ir::MergeReport rep;
  ufw::NetParameter net = ir::load_umodel(model, weights, &rep);
  if (rep.merged.empty() && !rep.ignored.empty())
    throw ModelError(error_text(weights, "none of its " + std::to_string(rep.ignored.size()) +
                                             " weighted layers is in " + model + " (mismatched pair)"));
  return ir::filter_phase(net, ufw::TEST);
}

// Held-back-sample comparison hook: runs the int8 deploy net on the input blob of `fp32` (just
// forwarded on the record after the calibration ones) and returns blob -> cosine against the
// fp32 blobs. Set by the tool when an int8 runtime is available.
using CosineFn =
    std::function<std::map<std::string, double>(const ufw::NetParameter& int8_deploy, const engine::Net& fp32)>;

struct CalibResult {
  OutputNames names;
  Plan plan;
  QuantizeReport qrep;
  passes::TransformReport trep;
  passes::VerifyResult verify;
  int iterations = 0;
  std::map<std::string, double> cosine;
  double seconds = 0;
  std::vector<std::pair<std::string, double>> phases;  // wall seconds per phase
  std::string statistics_schedule;                     // "serial", "pipelined" or "loaded"
};

namespace detail {
inline std::string fmt(double v, int prec = 6) {
  std::ostringstream os;
  os << std::setprecision(prec) << v;
  return os.str();
}
// All outputs committed together: each written to a temp sibling first, renamed at the end.
class OutputSet {
 public:
  void add(const std::string& path, std::string bytes) { files_.emplace_back(path, std::move(bytes)); }
  void commit() {
    std::vector<std::unique_ptr<AtomicPath>> tmp;
    for (const auto& [path, bytes] : files_) {
      tmp.push_back(std::make_unique<AtomicPath>(path));
      std::ofstream f(tmp.back()->temp(), std::ios::binary | std::ios::trunc);
      if (!f) throw IoError(error_text(path, "cannot open for writing"));
      f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      f.flush();
      if (!f) throw IoError(error_text(path, "write failed (disk full?)"));
    }
    for (auto& t : tmp) t->commit();
  }
  const std::vector<std::pair<std::string, std::string>>& files() const { return files_; }

 private:
  std::vector<std::pair<std::string, std::string>> files_;
};
}  // namespace detail

inline passes::TransformOptions transform_options(const CalibOptions& o) {
  passes::TransformOptions t;
  t.fuse_preprocess = o.fuse_preprocess;
  t.notmerge.insert(o.notmerge_conv_layer.begin(), o.notmerge_conv_layer.end());
  return t;
}

inline void check_options(const CalibOptions& o) {
  if (o.iterations < 1) throw UsageError("-iterations must be >= 1, got " + std::to_string(o.iterations));
  validate_binnum(o.th_binnum);
  (void)parse_th_method(o.th_method);
  (void)parse_target(o.target);
  if (!(o.fp32_diff > 0)) throw UsageError("-fp32_diff must be > 0");
  if (o.threads < 0) throw UsageError("-threads must be >= 0 (0: one, plus a statistics thread), got " + std::to_string(o.threads));
  // NNTC refuses ADMM with -load_dist; Octet's statistics hold everything ADMM needs, so it is allowed.
}

// Optimises and verifies; reports on `log`, warnings on `warn`.
inline ufw::NetParameter optimise(const ufw::NetParameter& net, const CalibOptions& o, CalibResult& r,
                                  std::ostream& log, std::ostream& warn) {
  ufw::NetParameter opt = passes::graph_transform(net, transform_options(o), r.trep);
  passes::print_report(r.trep, log);
  const ufw::NetParameter ref = strip_label_layers(passes::unique_tops(net));
  r.verify = passes::verify(ref, strip_label_layers(opt), o.compare_samples, o.fp32_diff, o.random_input_compare);
  if (!r.verify.ok)
    warn << "warning: graph_transform: fp32 compare failed: blob " << r.verify.worst_blob << " max diff "
         << r.verify.worst_abs << " (relative " << r.verify.worst_rel << " of max |x| " << r.verify.ref_absmax
         << ") > -fp32_diff=" << o.fp32_diff << "\n";
  else
    log << "graph_transform: fp32 compare ok on " << r.verify.samples << " samples, " << r.verify.compared
        << " blobs, worst " << (r.verify.worst_blob.empty() ? "-" : r.verify.worst_blob) << " relative "
        << r.verify.worst_rel << "\n";
  return opt;
}

inline CalibResult graph_transform(const CalibOptions& o, std::ostream& log, std::ostream& warn) {
  check_options(o);
  set_num_threads(o.threads > 0 ? o.threads : 1);  // the check's forwards
  CalibResult r;
  r.names = output_names(o.weights);
  const ufw::NetParameter net = load_checked(o.model, o.weights);
  const ufw::NetParameter opt = optimise(net, o, r, log, warn);
  detail::OutputSet out;
  out.add(r.names.prototxt_opt, ir::prototxt_text(opt));
  out.add(r.names.fp32umodel_opt, ir::weights_bytes(opt));
  out.commit();
  log << "wrote " << r.names.prototxt_opt << " and " << r.names.fp32umodel_opt << "\n";
  return r;
}

inline CalibResult quantize(const CalibOptions& o, std::ostream& log, std::ostream& warn, const CosineFn& cosine = {}) {
  const auto t0 = std::chrono::steady_clock::now();
  auto tp = t0;
  check_options(o);
  set_num_threads(o.threads > 0 ? o.threads : 1);
  const int cpus = o.threads == 0 ? available_cpus() : 0;  // only -threads=0 asks
  const bool helper_thread = cpus >= 2;
  CalibResult r;
  auto phase = [&](const char* name) {
    const auto now = std::chrono::steady_clock::now();
    r.phases.emplace_back(name, std::chrono::duration<double>(now - tp).count());
    tp = now;
  };
  r.names = output_names(o.weights);
  const ufw::NetParameter net = load_checked(o.model, o.weights);
  phase("load");
  const ufw::NetParameter opt = optimise(net, o, r, log, warn);
  const ufw::NetParameter calib_net = strip_label_layers(opt);
  phase("graph_transform+check");
  engine::NetOptions no;
  no.model_file = o.model;
  no.weights_file = o.weights;
  engine::Net fnet(calib_net, no);
  std::map<std::string, Shape> shapes;
  for (const auto& b : fnet.blob_names()) shapes[b] = fnet.blob_shape(b);
  const std::set<std::string> skip = label_blobs(calib_net);

  PlanOptions po;
  po.method = parse_th_method(o.th_method);
  po.fpfwd_inputs = o.fpfwd_inputs;
  po.fpfwd_outputs = o.fpfwd_outputs;
  po.fpfwd_blocks = o.fpfwd_blocks;
  po.accuracy_opt = o.accuracy_opt;
  // Propagated, explicit and MAX thresholds need no histogram: collected (and dumped) range-only.
  std::set<std::string> calibrated;
  for (const auto& b : fnet.blob_names())
    if (!skip.count(b)) calibrated.insert(b);
  const std::set<std::string> range_only = histogram_free_blobs(calib_net, po, shapes, calibrated);

  std::vector<NamedStats> stats;
  if (!o.load_dist.empty()) {
    stats = load_stats(o.load_dist);
    std::map<std::string, const TensorStats*> have;
    for (const auto& s : stats) have[s.first] = &s.second;
    for (const auto& b : calibrated) {
      const auto it = have.find(b);
      if (it == have.end())
        throw ModelError(error_text(o.load_dist, "no statistics for blob '" + b + "' (was it dumped from this net?)"));
      // A full file (every blob with a histogram) fits any flags; a range-only blob fits only
      // where these flags need no histogram for it either.
      if (it->second->is_range_only() && !range_only.count(b))
        throw ModelError(error_text(o.load_dist, "blob '" + b + "' has no histogram (range-only: dumped with flags that "
                                                             "needed none for it: a propagated, explicit or MAX "
                                                             "threshold), but these flags compute it from one"));
    }
    for (const auto& s : stats)
      if (s.second.binnum != o.th_binnum)
        throw UsageError(error_text(o.load_dist, "statistics have " + std::to_string(s.second.binnum) +
                                                     " bins, -th_binnum is " + std::to_string(o.th_binnum)));
    r.iterations = 0;
    r.statistics_schedule = "loaded";
    log << "statistics loaded from " << o.load_dist << "\n";
  } else {
    auto c = collect_statistics(fnet, o.iterations, o.th_binnum, skip, range_only, warn, CollectSchedule::automatic,
                                helper_thread);
    stats = std::move(c.stats);
    r.iterations = c.iterations;
    r.statistics_schedule = c.pipelined ? "pipelined" : "serial";
  }
  phase("statistics");

  {
    // -threads=0: the searches, one blob per thread (one parallel region, no per-layer
    // barriers), on every CPU the process has, up to one per blob.
    const int search_threads =
        o.threads > 0 ? o.threads : std::max(1, std::min(cpus, static_cast<int>(calibrated.size())));
    const ThreadCountScope scope(search_threads);
    r.plan = make_plan(calib_net, stats, po, shapes);
  }
  phase("thresholds");
  for (const auto& w : r.plan.warnings) warn << "warning: " << w << "\n";
  for (const auto& f : r.plan.float_reasons) log << "float layer " << f << "\n";

  QuantizeOptions qo;
  qo.target = parse_target(o.target);
  qo.per_channel = o.per_channel;
  qo.conv_group = o.conv_group;
  // The test net keeps Data + label layers; quantise it whole (label layers run in float).
  Plan full_plan = r.plan;
  std::vector<std::string> label_layers;
  (void)strip_label_layers(opt, &label_layers);
  for (const auto& n : label_layers) full_plan.float_layers.insert(n);
  const ufw::NetParameter int8_test = build_int8_net(opt, full_plan, shapes, qo, r.qrep);
  for (const auto& w : r.qrep.warnings) warn << "warning: " << w << "\n";
  phase("int8 umodel");

  const ufw::NetParameter ref = passes::unique_tops(net);
  const std::map<std::string, Shape>& ref_shapes = shapes;  // data_to_input needs only the data tops
  detail::OutputSet out;
  const ufw::NetParameter int8_deploy = deploy_net(int8_test, shapes);
  out.add(r.names.int8umodel, int8_weights_bytes(int8_deploy));
  out.add(r.names.deploy_int8, ir::prototxt_text(int8_deploy));
  out.add(r.names.deploy_fp32, ir::prototxt_text(deploy_net(ref, ref_shapes)));
  if (o.save_test_proto) {
    out.add(r.names.test_int8, ir::prototxt_text(int8_test));
    out.add(r.names.test_fp32, ir::prototxt_text(ref));
  }
  if (!o.dump_dist.empty()) out.add(o.dump_dist, serialize_stats(stats));
  out.add(r.names.table, calibration_table(r.plan, stats, o.th_binnum, r.iterations, o.th_method));
  if (o.graph_transform) {
    out.add(r.names.prototxt_opt, ir::prototxt_text(opt));
    out.add(r.names.fp32umodel_opt, ir::weights_bytes(opt));
  }
  if (o.cosine && cosine) {
    try {
      fnet.forward();  // the record after the calibration ones (the stream cycles)
      r.cosine = cosine(int8_deploy, fnet);
    } catch (const std::exception& e) {
      warn << "warning: per-layer cosine skipped: " << e.what() << "\n";
    }
    phase("cosine");
  }
  out.commit();
  phase("write");
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

// The end-of-run table: blob, dtype, method, threshold, abs-max, cosine.
inline void print_summary(const CalibResult& r, std::ostream& os) {
  os << std::left << std::setw(48) << "blob" << " " << std::setw(6) << "dtype" << " " << std::setw(20) << "method"
     << " " << std::setw(12) << "threshold" << " " << std::setw(12) << "abs-max" << " cosine\n";
  for (const auto& b : r.plan.order) {
    const auto& p = r.plan.blobs.at(b);
    const auto c = r.cosine.find(b);
    os << std::left << std::setw(48) << b << " " << std::setw(6) << ufw::BlobProto::Dtype_Name(p.dtype) << " "
       << std::setw(20) << p.method << " " << std::setw(12) << detail::fmt(p.threshold) << " " << std::setw(12)
       << detail::fmt(p.absmax) << " " << (c == r.cosine.end() ? std::string("-") : detail::fmt(c->second, 5)) << "\n";
  }
  os << "time:";
  for (const auto& [n, t] : r.phases) os << " " << n << " " << detail::fmt(t, 3) << " s;";
  if (!r.statistics_schedule.empty()) os << " statistics " << r.statistics_schedule;
  os << "\n";
  os << "int8 layers: " << r.qrep.int8_layers << ", float layers: " << r.qrep.float_layers << ", iterations: "
     << r.iterations << "\n";
}

}  // namespace octet::calib
