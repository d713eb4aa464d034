// `ufw compare`: fp32 vs int8 layer by layer on the Data-layer records of both test nets.
//   ufw compare -fm=FP32.prototxt -fw=FP32.fp32umodel -im=INT8.prototxt -iw=INT8.int8umodel
//               [-iterations=N] [-report=report.html] [-json=report.json] [-cos_bar=0.99]
//               [-search_fp_layers=K -target_cos=0.99] [-output_blob=B] [-own_error=false]
//               [-runtime=auto|engine|simulate] [-rows=N]
// Prints the per-layer table sorted by damage, the flagged layers with a suggestion each, the
// summary (output cosine, top-1/top-5 when the data has labels) and, with -search_fp_layers,
// a ready -fpfwd_blocks= value. The int8 net runs on the int8 engine when it is built
// (octet/engine/int8_net.hpp), else on the fake-quant simulation (eval/simulate.hpp), and the
// report says which.
// Flag parsing lives here (not in tools/ufw/main.cpp) so the ufw main only dispatches.
// Depends on core/, ir/, eval/.
#pragma once
#include <iostream>
#include <memory>
#include <ostream>
#include <string>

#include "octet/core/atomic_file.hpp"
#include "octet/core/error.hpp"
#include "octet/core/flags.hpp"
#include "octet/eval/compare.hpp"
#include "octet/eval/report.hpp"
#include "octet/eval/report_html.hpp"
#include "octet/eval/simulate.hpp"
#include "octet/ir/umodel.hpp"

#if __has_include("octet/eval/int8_source.hpp")
#include "octet/eval/int8_source.hpp"
#define OCTET_EVAL_HAS_INT8_ENGINE 1
#endif

namespace octet::eval {

struct CompareCommandOptions {
  std::string fm, fw, im, iw;
  int iterations = 10;
  std::string report, json;
  double cos_bar = 0.99;
  int search_fp_layers = 0;
  double target_cos = 0.99;
  std::string output_blob;
  bool own_error = true;
  std::string runtime = "auto";
  int rows = 0;  // table rows printed, most damaging first (0: all)
};

inline NetFactory int8_factory_for(const std::string& runtime, std::string* used) {
  if (runtime != "auto" && runtime != "engine" && runtime != "simulate")
    throw UsageError("ufw compare: -runtime=" + runtime + ": expected auto, engine or simulate");
#ifdef OCTET_EVAL_HAS_INT8_ENGINE
  if (runtime != "simulate") {
    *used = "engine";
    return int8_engine_factory();
  }
#else
  if (runtime == "engine") throw UnsupportedError("ufw compare: -runtime=engine: the int8 engine is not built in");
#endif
  *used = "simulate";
  return simulated_int8_factory();
}

inline int compare_command(const CompareCommandOptions& o, std::ostream& out, std::ostream& err) {
  if (o.iterations < 1) throw UsageError("ufw compare: -iterations must be >= 1");
  if (o.search_fp_layers < 0) throw UsageError("ufw compare: -search_fp_layers must be >= 0");
  if (!(o.cos_bar > -1 && o.cos_bar <= 1)) throw UsageError("ufw compare: -cos_bar must be in (-1, 1]");
  if (!(o.target_cos > -1 && o.target_cos <= 1)) throw UsageError("ufw compare: -target_cos must be in (-1, 1]");
  const ufw::NetParameter fp = ir::load_umodel(o.fm, o.fw);
  const ufw::NetParameter q = ir::load_umodel(o.im, o.iw);
  CompareOptions co;
  co.iterations = o.iterations;
  co.cos_bar = o.cos_bar;
  co.own_error = o.own_error;
  co.search_fp_layers = o.search_fp_layers;
  co.target_cos = o.target_cos;
  co.output_blob = o.output_blob;
  co.fp32_model = o.fm;
  co.fp32_weights = o.fw;
  co.int8_model = o.im;
  co.int8_weights = o.iw;
  std::string used;
  NetFactory qf = int8_factory_for(o.runtime, &used);
  Comparison c(fp, q, fp32_factory(), qf, co);
  Report r = c.run(nullptr);
  if (used == "simulate")
    r.notes.push_back("int8 values from the fake-quant simulation (eval/simulate.hpp): thresholds and weight grids "
                      "as calibrated, float arithmetic in between; the int8 engine was not used");
  else
    r.notes.push_back("int8 values from the int8 engine");
  out << format_table(r, static_cast<size_t>(o.rows));
  out << format_summary(r);
  if (!o.json.empty()) atomic_write(o.json, to_json(r) + "\n");
  if (!o.report.empty()) {
    atomic_write(o.report, report_html(r));
    out << "report: " << o.report << "\n";
  }
  (void)err;
  return 0;
}

// The `ufw compare` command line with argv[0] == "compare".
inline int compare_main(int argc, const char* const* argv, std::ostream& out = std::cout, std::ostream& err = std::cerr) {
  using cli::FlagKind;
  cli::Flags f("ufw compare",
               {{"fm", FlagKind::String, "", "fp32 test prototxt (*_test_fp32_unique_top.prototxt)", {"fp32_model"}},
                {"fw", FlagKind::String, "", "fp32 weights (.fp32umodel)", {"fp32_weights"}},
                {"im", FlagKind::String, "", "int8 test prototxt (*_test_int8_unique_top.prototxt)", {"int8_model"}},
                {"iw", FlagKind::String, "", "int8 weights (.int8umodel)", {"int8_weights"}},
                {"iterations", FlagKind::Int, "10", "Data-layer records (batches) to compare", {"iteration", "iters"}},
                {"report", FlagKind::String, "", "write the HTML report here"},
                {"json", FlagKind::String, "", "write the report as JSON here"},
                {"cos_bar", FlagKind::Float, "0.99", "flag layers whose cosine is below this"},
                {"search_fp_layers", FlagKind::Int, "0", "mixed precision: at most K layers in float"},
                {"target_cos", FlagKind::Float, "0.99", "mixed precision: stop at this output cosine"},
                {"output_blob", FlagKind::String, "", "output blob for the summary and search (default: Accuracy's scores)"},
                {"own_error", FlagKind::Bool, "true", "measure each int8 layer's own error (one extra run per layer)"},
                {"runtime", FlagKind::String, "auto", "int8 runtime: auto, engine or simulate"},
                {"rows", FlagKind::Int, "0", "print only the N most damaging layers (0: all)"}});
  f.parse(argc, argv);
  if (f.help()) return out << f.usage(), 0;
  if (!f.positional().empty()) throw UsageError("ufw compare: unexpected argument '" + f.positional()[0] + "'");
  CompareCommandOptions o;
  o.fm = f.required("fm");
  o.fw = f.required("fw");
  o.im = f.required("im");
  o.iw = f.required("iw");
  o.iterations = static_cast<int>(f.integer("iterations"));
  o.report = f.str("report");
  o.json = f.str("json");
  o.cos_bar = f.real("cos_bar");
  o.search_fp_layers = static_cast<int>(f.integer("search_fp_layers"));
  o.target_cos = f.real("target_cos");
  o.output_blob = f.str("output_blob");
  o.own_error = f.boolean("own_error");
  o.runtime = f.str("runtime");
  o.rows = static_cast<int>(f.integer("rows"));
  if (o.rows < 0) throw UsageError("ufw compare: -rows must be >= 0");
  return compare_command(o, out, err);
}

}  // namespace octet::eval
