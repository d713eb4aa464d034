// calibration_use_pb: quantize / graph_transform, NNTC flags (nntc-reference.md §2.3).
// Flag parsing only; the work is in octet/calib/calibrator.hpp.
#include <iostream>

#include "octet/calib/calibrator.hpp"
#include "octet/core/flags.hpp"
#if __has_include("octet/engine/int8_net.hpp") && __has_include("octet/calib/int8_compare.hpp")
#include "octet/calib/int8_compare.hpp"
#define OCTET_HAVE_INT8_NET 1
#endif

using octet::cli::FlagKind;
using octet::cli::FlagSpec;

namespace {

const std::vector<FlagSpec>& flags() {
  static const std::vector<FlagSpec> f = {
      {"model", FlagKind::String, "", "fp32 prototxt with a Data layer (LMDB)"},
      {"weights", FlagKind::String, "", ".fp32umodel", {"weight"}},
      {"iterations", FlagKind::Int, "200", "calibration records", {"iteration"}},
      {"bitwidth", FlagKind::String, "TO_INT8", "target bit width (TO_INT8)"},
      {"th_method", FlagKind::String, "KL", "KL, SYMKL, JSD, ADMM, ACIQ, MAX, PERCENTILE9999, MSE"},
      {"th_binnum", FlagKind::Int, "2048", "histogram bins, power of two in 512..4096"},
      {"dump_dist", FlagKind::String, "", "save the statistics to this file"},
      {"load_dist", FlagKind::String, "", "load statistics from this file (skips the statistics pass)"},
      {"winograd", FlagKind::Bool, "false", "accepted for compatibility; no effect on the int8 umodel"},
      {"graph_transform", FlagKind::Bool, "false", "also write the optimised fp32 pair"},
      {"save_test_proto", FlagKind::Bool, "false", "also write *_test_{fp32,int8}_unique_top.prototxt"},
      {"save_model", FlagKind::Bool, "true", "write the int8umodel (2019 flag; false is refused)"},
      {"fpfwd_inputs", FlagKind::String, "", "these layers and all before them run in float"},
      {"fpfwd_outputs", FlagKind::String, "", "these layers and all after them run in float"},
      {"fpfwd_blocks", FlagKind::String, "", "from each layer up to the next compute layer in float"},
      {"accuracy_opt", FlagKind::Bool, "false", "depthwise convolutions in float"},
      {"conv_group", FlagKind::Bool, "false", "conv weights: one scale per group of output channels within an octave of amplitude (at most 8 groups); -per_channel supersedes it"},
      {"per_channel", FlagKind::Bool, "false", "per-output-channel weight scales"},
      {"fuse_preprocess", FlagKind::Bool, "false", "fold Data-layer mean/scale into the first convolution"},
      {"merge_depwise_scale", FlagKind::Bool, "false", "accepted; Scale after any conv is always merged"},
      {"merge_scale_to_conv", FlagKind::Bool, "true", "accepted; Scale after any conv is always merged"},
      {"notmerge_conv_layer", FlagKind::String, "", "convolutions left unmerged (comma list)"},
      {"fold_concat_scale", FlagKind::Bool, "false", "accepted; concat inputs are always aligned"},
      {"pad_value", FlagKind::Float, "0", "accepted; pads are zero"},
      {"random_input_compare", FlagKind::Bool, "false", "graph check on random input instead of the LMDB"},
      {"fp32_diff", FlagKind::Float, "0.001", "graph check tolerance (max |diff| / max |x| per blob)"},
      {"target", FlagKind::String, "BM1684X", "BM1684X (= BM1686) or BM1684"},
      {"threads", FlagKind::Int, "0", "CPU threads; 0: kernels on one, the statistics on a second CPU when there is one, threshold searches one blob per CPU"},
      {"cosine", FlagKind::Bool, "true", "per-layer cosine of int8 vs fp32 on a held-back record"},
  };
  return f;
}

const char* kUsage =
    "usage: calibration_use_pb <quantize|graph_transform> -model=NET.prototxt -weights=NET.fp32umodel [flags]\n";

int run(int argc, char** argv) {
  octet::cli::Flags f("calibration_use_pb", flags());
  f.parse(argc, argv);
  if (f.help()) return std::cout << kUsage << f.usage(), 0;
  if (f.positional().empty()) {
    std::cerr << kUsage;
    throw octet::UsageError("calibration_use_pb: no sub-command given (quantize, graph_transform)");
  }
  const std::string cmd = f.positional()[0];
  if (f.positional().size() > 1) throw octet::UsageError("calibration_use_pb: unexpected argument '" + f.positional()[1] + "'");
  if (cmd != "quantize" && cmd != "graph_transform")
    throw octet::UsageError("calibration_use_pb: unknown sub-command '" + cmd + "' (quantize, graph_transform)");
  if (f.str("bitwidth") != "TO_INT8") throw octet::UsageError("-bitwidth: only TO_INT8 is supported, got '" + f.str("bitwidth") + "'");
  if (!f.boolean("save_model")) throw octet::UsageError("-save_model=false: nothing to do");
  octet::calib::CalibOptions o;
  o.model = f.required("model");
  o.weights = f.required("weights");
  o.iterations = static_cast<int>(f.integer("iterations"));
  o.th_method = f.str("th_method");
  o.th_binnum = static_cast<int>(f.integer("th_binnum"));
  o.dump_dist = f.str("dump_dist");
  o.load_dist = f.str("load_dist");
  o.graph_transform = f.boolean("graph_transform");
  o.save_test_proto = f.boolean("save_test_proto");
  o.fpfwd_inputs = f.list("fpfwd_inputs");
  o.fpfwd_outputs = f.list("fpfwd_outputs");
  o.fpfwd_blocks = f.list("fpfwd_blocks");
  o.accuracy_opt = f.boolean("accuracy_opt");
  o.per_channel = f.boolean("per_channel");
  o.conv_group = f.boolean("conv_group");
  o.fuse_preprocess = f.boolean("fuse_preprocess");
  o.notmerge_conv_layer = f.list("notmerge_conv_layer");
  o.random_input_compare = f.boolean("random_input_compare");
  o.fp32_diff = f.real("fp32_diff");
  o.target = f.str("target");
  o.threads = static_cast<int>(f.integer("threads"));
  o.cosine = f.boolean("cosine");
  if (cmd == "graph_transform") {
    octet::calib::graph_transform(o, std::cout, std::cerr);
    return 0;
  }
  octet::calib::CosineFn cos;
#ifdef OCTET_HAVE_INT8_NET
  cos = octet::calib::int8_cosine;
#endif
  const auto r = octet::calib::quantize(o, std::cout, std::cerr, cos);
  octet::calib::print_summary(r, std::cout);
  std::cout << "wrote " << r.names.int8umodel << ", " << r.names.deploy_int8 << ", " << r.names.deploy_fp32
            << (o.save_test_proto ? ", " + r.names.test_int8 + ", " + r.names.test_fp32 : std::string()) << ", "
            << r.names.table << "\n";
  std::cout << "used time=" << r.seconds << " s\nint8 calibration done.\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
