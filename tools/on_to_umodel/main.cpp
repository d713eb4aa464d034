// on_to_umodel: ONNX model -> fp32 umodel pair, as NNTC's ufw.tools.on_to_umodel.
//   on_to_umodel -m model.onnx -s '(1,3,224,224)' [-i in] [-o out] [-d compilation] [-n net]
//                [-D lmdb_dir] [--cmp]
// Writes <d>/<net>_bmneto_test_fp32.prototxt and <d>/<net>_bmneto.fp32umodel.
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>

#include "octet/core/flags.hpp"
#include "octet/engine/registry.hpp"
#include "octet/frontends/onnx/compare.hpp"
#include "octet/frontends/onnx/importer.hpp"
#include "octet/ir/umodel.hpp"
#if __has_include("octet/data/data_layer_param.hpp")
#include "octet/data/data_layer_param.hpp"
#define OCTET_HAVE_DATA_LAYER 1
#endif

namespace ox = octet::frontends::onnx;
using octet::cli::FlagKind;

static std::vector<float> first_lmdb_record(const std::string& dir, int64_t want) {
#ifdef OCTET_HAVE_DATA_LAYER
  octet::data::LmdbReader r(dir);
  octet::data::Sample s;
  std::string key;
  if (!r.first(s, &key)) throw octet::IoError(octet::error_text(dir, "LMDB is empty"));
  if (s.encoded) throw octet::UnsupportedError(octet::error_text(dir, "--cmp with encoded LMDB images"));
  std::vector<float> v(static_cast<size_t>(s.count()));
  for (int64_t i = 0; i < s.count(); ++i) {
    switch (s.dtype) {
      case octet::DType::F32: v[i] = s.as<float>()[i]; break;
      case octet::DType::U8: v[i] = s.as<uint8_t>()[i]; break;
      case octet::DType::I8: v[i] = s.as<int8_t>()[i]; break;
      default: throw octet::UnsupportedError(octet::error_text(dir, "--cmp: LMDB element type not supported"));
    }
  }
  if (static_cast<int64_t>(v.size()) != want)
    throw octet::ShapeError(octet::error_text(dir, "key '" + key + "'", "first record has " + std::to_string(v.size()) +
                                                                          " values, the net input needs " + std::to_string(want)));
  return v;
#else
  (void)want;
  throw octet::UnsupportedError(dir + ": LMDB support is not built in");
#endif
}

int main(int argc, char** argv) {
  octet::cli::Flags f("on_to_umodel",
                      {{"m", FlagKind::String, "", "ONNX model file", {"model"}},
                       {"s", FlagKind::String, "", "input shape(s): (1,3,224,224) or [(1,3,224,224),(1,10)]", {"input_shapes", "input_shape"}},
                       {"i", FlagKind::String, "", "input tensor name(s)", {"input_names"}},
                       {"o", FlagKind::String, "", "output tensor name(s)", {"output_names"}},
                       {"d", FlagKind::String, "compilation", "output directory", {"dir"}},
                       {"n", FlagKind::String, "", "network name (default: model file stem)", {"net_name"}},
                       {"D", FlagKind::String, "", "LMDB directory for the Data layer", {"lmdb"}},
                       {"cmp", FlagKind::Bool, "false", "compare every blob with the ONNX reference interpreter"},
                       {"seed", FlagKind::Int, "1", "seed of the --cmp random input"}});
  try {
    f.parse(argc, argv);
    if (f.help()) {
      std::cout << f.usage();
      return 0;
    }
    if (!f.positional().empty()) throw octet::UsageError("on_to_umodel: unexpected argument '" + f.positional()[0] + "'");
    const std::string model_path = f.required("m");
    ox::ImportOptions opt;
    opt.source = model_path;
    opt.input_shapes = ox::parse_shapes(f.required("s"));
    if (f.has("i")) opt.input_names = ox::parse_names(f.str("i"));
    if (f.has("o")) opt.output_names = ox::parse_names(f.str("o"));
    opt.net_name = f.has("n") && !f.str("n").empty() ? f.str("n") : std::filesystem::path(model_path).stem().string();
    const ox::pb::ModelProto model = ox::load_model(model_path);
    ox::ImportResult r = ox::import_onnx(model, opt);

    bool cmp_ok = true;
    if (f.boolean("cmp")) {
      std::vector<std::vector<float>> ins;
      for (size_t k = 0; k < r.inputs.size(); ++k) {
        const int64_t n = octet::shape_count(opt.input_shapes[k]);
        ins.push_back(k == 0 && f.has("D") && !f.str("D").empty() ? first_lmdb_record(f.str("D"), n)
                                                                  : ox::seeded_input(n, static_cast<uint32_t>(f.integer("seed") + static_cast<int64_t>(k))));
      }
      const auto diffs = ox::compare_with_reference(model, r, ins, ox::onnx_runtime_registry());
      int bad = 0;
      for (const auto& d : diffs) {
        std::cout << (d.is_output ? "output " : "blob   ") << std::left << std::setw(40) << d.blob << std::right
                  << " max_abs_diff " << std::setw(12) << std::setprecision(4) << d.max_abs_diff << "  cosine "
                  << std::setprecision(8) << d.cosine << (d.ok ? "" : "  MISMATCH") << "\n";
        bad += !d.ok;
      }
      std::cout << "cmp: " << diffs.size() - bad << "/" << diffs.size() << " blobs within tolerance\n";
      cmp_ok = bad == 0;
    }

    ufw::NetParameter net = r.net;
    if (f.has("D") && !f.str("D").empty()) {
      if (r.inputs.empty()) throw octet::UsageError("-D: the model has no input to feed from an LMDB");
#ifdef OCTET_HAVE_DATA_LAYER
      ufw::LayerParameter data = octet::data::make_data_layer(f.str("D"), r.inputs[0]);
#else
      ufw::LayerParameter data;
      data.set_name(r.inputs[0]);
      data.set_type("Data");
      data.add_top(r.inputs[0]);
      data.add_top("label");
      data.add_include()->set_phase(ufw::TEST);
      data.mutable_data_param()->set_source(f.str("D"));
      data.mutable_data_param()->set_batch_size(0);
      data.mutable_data_param()->set_backend(ufw::DataParameter::LMDB);
#endif
      for (auto& l : *net.mutable_layer())
        if (l.type() == "Input" && l.top_size() == 1 && l.top(0) == r.inputs[0]) {
          l = data;
          break;
        }
    }
    const std::filesystem::path dir = f.str("d");
    const std::string stem = (dir / (opt.net_name + "_bmneto")).string();
    octet::ir::save_umodel(net, stem + "_test_fp32.prototxt", stem + ".fp32umodel");
    std::cout << "wrote " << stem << "_test_fp32.prototxt and " << stem << ".fp32umodel (" << net.layer_size()
              << " layers)\n";
    return cmp_ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
