// bmnetu: compile an int8 umodel into a BM1684X bmodel (<outdir>/compilation.bmodel); with
// -cmp (default) run it on the cmodel against the int8 runtime, bit-exact, and write the
// reference data files beside it.
#include <filesystem>
#include <iostream>

#include "octet/bm168x/compare.hpp"
#include "octet/bm168x/lowering.hpp"
#include "octet/core/flags.hpp"
#include "octet/ir/umodel.hpp"

namespace {

// "[1,3,224,224],[1,10]" -> shapes in input order
std::vector<octet::Shape> parse_shapes(const std::string& s) {
  std::vector<octet::Shape> out;
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '[') {
      const std::size_t j = s.find(']', i);
      if (j == std::string::npos) throw octet::UsageError("-shapes: missing ']' in " + s);
      octet::Shape sh;
      for (const auto& d : octet::cli::split_commas(s.substr(i + 1, j - i - 1))) {
        try {
          sh.push_back(std::stoll(d));
        } catch (...) {
          throw octet::UsageError("-shapes: bad dimension '" + d + "' in " + s);
        }
      }
      out.push_back(sh);
      i = j + 1;
    } else if (s[i] == ',' || s[i] == ' ') {
      ++i;
    } else {
      throw octet::UsageError("-shapes: expected [d0,d1,...] lists, got " + s);
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  using octet::cli::FlagKind;
  namespace bm = octet::bm168x;
  try {
    octet::cli::Flags f("bmnetu", {
        {"model", FlagKind::String, "", "int8 prototxt (*_deploy_int8_unique_top.prototxt)"},
        {"weight", FlagKind::String, "", "int8 weights (*.int8umodel)", {"weights"}},
        {"outdir", FlagKind::String, "compilation", "output directory"},
        {"target", FlagKind::String, "BM1684X", "BM1684X (BM1684: constants and encodings only)"},
        {"shapes", FlagKind::String, "", "input shapes, [n,c,h,w],[...] in input order"},
        {"net_name", FlagKind::String, "", "net name stored in the bmodel"},
        {"opt", FlagKind::Int, "1", "0 serial, 1 double-buffered overlap, 2 also search tile sizes"},
        {"dyn", FlagKind::Bool, "false", "dynamic compilation (not supported yet)"},
        {"prec", FlagKind::String, "FP32", "FP32 or INT8 (an int8 umodel always compiles to int8)"},
        {"cmp", FlagKind::Bool, "true", "run the cmodel against the int8 runtime, bit-exact"},
        {"input_as_fp32", FlagKind::String, "", "comma-separated inputs kept float in the bmodel"},
        {"output_as_fp32", FlagKind::String, "", "comma-separated outputs kept float in the bmodel"},
        {"max_n", FlagKind::Int, "0", "batch size of every input (0: from the prototxt)"},
        {"mode", FlagKind::String, "compile", "compile (GenUmodel is not supported)"},
        {"enable_profile", FlagKind::Bool, "false", "accepted, no profile data is written"},
        {"v", FlagKind::Int, "0", "log level: >= 1 prints the per-layer report"},
        {"report", FlagKind::String, "", "also write the per-layer report (markdown) to this file"},
    });
    f.parse(argc, argv);
    if (f.help()) {
      std::cout << f.usage();
      return 0;
    }
    if (f.boolean("dyn")) throw octet::UnsupportedError("-dyn: dynamic compilation is not supported yet");
    if (f.str("mode") != "compile") throw octet::UnsupportedError("-mode " + f.str("mode") + ": only compile is supported");
    if (f.str("prec") != "FP32" && f.str("prec") != "INT8" && f.str("prec") != "fp32" && f.str("prec") != "int8")
      throw octet::UsageError("-prec " + f.str("prec") + ": expected FP32 or INT8");
    const std::string model = f.required("model"), weight = f.required("weight"), outdir = f.str("outdir");
    bm::LowerOptions opt;
    opt.chip = &bm::chip_by_name(f.str("target"));
    opt.opt = static_cast<int>(f.integer("opt"));
    if (opt.opt < 0 || opt.opt > 2) throw octet::UsageError("-opt " + std::to_string(opt.opt) + ": expected 0, 1 or 2");
    opt.net_name = f.str("net_name");
    opt.model_file = model;
    for (const auto& s : f.list("input_as_fp32")) opt.input_as_fp32.insert(s);
    for (const auto& s : f.list("output_as_fp32")) opt.output_as_fp32.insert(s);
    const ufw::NetParameter net = octet::ir::load_umodel(model, weight);
    const auto inputs = octet::ir::net_inputs(octet::ir::filter_phase(net, ufw::TEST), ufw::TEST);
    if (f.has("shapes")) {
      const auto shapes = parse_shapes(f.str("shapes"));
      if (shapes.size() != inputs.size())
        throw octet::UsageError("-shapes: " + std::to_string(shapes.size()) + " shapes for " + std::to_string(inputs.size()) + " inputs");
      for (std::size_t i = 0; i < shapes.size(); ++i) opt.shapes[inputs[i].name] = shapes[i];
    }
    if (f.integer("max_n") > 0)
      for (const auto& in : inputs) {
        octet::Shape s = opt.shapes.count(in.name) ? opt.shapes[in.name] : in.shape;
        if (s.empty()) throw octet::UsageError("-max_n: input " + in.name + " has no shape to resize");
        s[0] = f.integer("max_n");
        opt.shapes[in.name] = s;
      }
    for (const auto& n : opt.input_as_fp32)
      if (std::none_of(inputs.begin(), inputs.end(), [&](const auto& i) { return i.name == n; }))
        throw octet::UsageError("-input_as_fp32: '" + n + "' is not a net input");
    const bm::Lowered low = bm::lower(net, opt);
    for (const auto& n : opt.output_as_fp32)
      if (std::none_of(low.outputs.begin(), low.outputs.end(), [&](const auto& o) { return o.name == n; }))
        throw octet::UsageError("-output_as_fp32: '" + n + "' is not a net output");
    if (f.integer("v") >= 1) std::cout << bm::report_markdown(low);
    if (f.has("report")) octet::atomic_write(f.str("report"), bm::report_markdown(low));
    bm::CompareResult cmp;
    if (f.boolean("cmp")) {
      cmp = bm::compare_with_runtime(net, low, opt);
      for (const auto& l : cmp.lines) std::cout << "cmp: " << l << "\n";
      if (!cmp.equal) throw octet::Error(model + ": cmodel result differs from the int8 runtime (see cmp lines above)");
      std::cout << "cmp: all outputs and " << cmp.blobs_compared << " int8 blobs bit-exact\n";
    }
    std::filesystem::create_directories(outdir);
    bm::save_bmodel(low.model, outdir + "/compilation.bmodel");
    if (f.boolean("cmp")) bm::write_ref_data(outdir, cmp);
    std::cout << "# Store bmodel of BMCompiler.\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
