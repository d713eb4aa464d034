// ufw: run umodels on the CPU (forward, bench, info, init_weights, test_fp32, test_int8, compare).
// Flag parsing only; the commands live in octet/engine/ufw_commands.hpp.
// GCC 12 reports its own AVX-512 intrinsics (_mm512_undefined_*) as maybe-uninitialized once the
// int8 requantisation rows are inlined here (GCC bug 105593); the warning is a false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <iostream>
#include <set>

#include "octet/core/flags.hpp"
#include "octet/engine/ufw_commands.hpp"
#include "octet/eval/compare_command.hpp"

using octet::cli::FlagKind;
using octet::cli::FlagSpec;
namespace cmd = octet::engine::ufw_cmd;

namespace {

const std::vector<FlagSpec>& all_flags() {
  static const std::vector<FlagSpec> f = {
      {"model", FlagKind::String, "", "net prototxt"},
      {"weights", FlagKind::String, "", "weights (.fp32umodel, .int8umodel, .caffemodel)", {"weight"}},
      {"input", FlagKind::String, "", "forward: input .npy files in net-input order, or name=path; .npz by key"},
      {"output", FlagKind::String, "", "forward: output .npz; init_weights: output .fp32umodel"},
      {"blobs", FlagKind::String, "", "forward: 'all' or a comma list of blobs to save (default: net outputs)"},
      {"shape", FlagKind::String, "", "bench/info: input shapes, e.g. 1,3,224,224 (several: separate with ;)"},
      {"iters", FlagKind::Int, "50", "bench: timed iterations", {"iterations"}},
      {"warmup", FlagKind::Int, "5", "bench: untimed iterations first"},
      {"threads", FlagKind::Int, "1", "forward/bench: CPU threads"},
      {"seed", FlagKind::Int, "1", "bench: input seed; init_weights: weights seed"},
      {"profile", FlagKind::Bool, "false", "bench: also print per-layer times"},
  };
  return f;
}

// Which flags each sub-command accepts (anything else is an unknown flag there).
const std::map<std::string, std::set<std::string>>& command_flags() {
  static const std::map<std::string, std::set<std::string>> m = {
      {"forward", {"model", "weights", "input", "output", "blobs", "threads"}},
      {"bench", {"model", "weights", "shape", "iters", "warmup", "threads", "seed", "profile"}},
      {"info", {"model", "weights", "shape"}},
      {"init_weights", {"model", "output", "seed"}},
      {"test_fp32", {"model", "weights", "iters", "threads"}},
      {"test_int8", {"model", "weights", "iters", "threads"}},
  };
  return m;
}

const char* kUsage =
    "usage: ufw <command> [flags]\n"
    "  forward       -model=NET.prototxt -weights=NET.fp32umodel -input=a.npy[,b.npy] -output=out.npz [-blobs=all]\n"
    "  bench         -model=... -weights=... [-shape=1,3,224,224] [-iters=50] [-threads=1] [-profile]\n"
    "  info          -model=... [-weights=...] [-shape=...]\n"
    "  init_weights  -model=... -output=NET.fp32umodel [-seed=1]\n"
    "  test_fp32     -model=NET_test_fp32_unique_top.prototxt -weights=NET.fp32umodel [-iterations=N]\n"
    "  test_int8     -model=NET_test_int8_unique_top.prototxt -weights=NET.int8umodel [-iterations=N]\n"
    "                (top-1/top-5 over N Data-layer records; default: all records)\n"
    "  compare       -fm=FP32.prototxt -fw=FP32.fp32umodel -im=INT8.prototxt -iw=INT8.int8umodel\n"
    "                [-iterations=N] [-report=r.html] [-json=r.json] [-search_fp_layers=K -target_cos=0.99]\n";

int run(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "compare") return octet::eval::compare_main(argc - 1, argv + 1);
  // First pass with every flag to find the sub-command, second with that command's flags.
  octet::cli::Flags any("ufw", all_flags());
  any.parse(argc, argv);
  if (any.positional().empty()) {
    if (any.help()) return std::cout << kUsage, 0;
    std::cerr << kUsage;
    throw octet::UsageError("ufw: no command given");
  }
  const std::string command = any.positional()[0];
  auto it = command_flags().find(command);
  if (it == command_flags().end()) throw octet::UsageError("ufw: unknown command '" + command + "' (forward, bench, info, init_weights, test_fp32, test_int8, compare)");
  std::vector<FlagSpec> specs;
  for (const auto& s : all_flags())
    if (it->second.count(s.name)) specs.push_back(s);
  octet::cli::Flags f("ufw " + command, specs);
  f.parse(argc, argv);
  if (f.help()) return std::cout << f.usage(), 0;
  if (f.positional().size() > 1) throw octet::UsageError("ufw " + command + ": unexpected argument '" + f.positional()[1] + "'");

  if (command == "test_fp32" || command == "test_int8") {
    cmd::TestOptions o;
    o.model = {f.required("model"), f.str("weights"), nullptr};
    o.iterations = f.has("iters") ? static_cast<int>(f.integer("iters")) : 0;
    o.int8 = command == "test_int8";
    o.threads = static_cast<int>(f.integer("threads"));
    return cmd::test(o, std::cout, std::cerr);
  }
  if (command == "init_weights")
    return cmd::init_weights({f.required("model"), f.required("output"), static_cast<uint64_t>(f.integer("seed")), nullptr},
                             std::cout, std::cerr);
  const cmd::ModelArgs model{f.required("model"), f.str("weights"), nullptr};
  if (command == "forward") {
    cmd::ForwardOptions o;
    o.model = model;
    o.inputs = f.list("input");
    o.output = f.required("output");
    o.blobs = f.str("blobs");
    o.threads = static_cast<int>(f.integer("threads"));
    return cmd::forward(o, std::cout, std::cerr);
  }
  if (command == "bench") {
    cmd::BenchOptions o;
    o.model = model;
    o.shape = f.str("shape");
    o.iters = static_cast<int>(f.integer("iters"));
    o.warmup = static_cast<int>(f.integer("warmup"));
    o.threads = static_cast<int>(f.integer("threads"));
    o.seed = static_cast<uint64_t>(f.integer("seed"));
    o.profile = f.boolean("profile");
    return cmd::bench(o, std::cout, std::cerr);
  }
  return cmd::info({model, f.str("shape")}, std::cout, std::cerr);
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
