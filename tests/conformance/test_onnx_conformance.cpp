// ONNX backend conformance: every scored case of Debian's libonnx-testdata goes through the
// importer (as on_to_umodel does), a prototxt + weights round trip, and the fp32 runtime; the
// outputs are compared with the stored ones (rtol 1e-3, atol 1e-4, NaN == NaN). Prints pass
// counts per directory and every failing case. tests/conformance/onnx_expected_pass.txt lists
// the cases that passed when it was last updated: any of them failing is a regression.
// OCTET_UPDATE_EXPECTED=1 rewrites the list from this run.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "onnx_cases.hpp"
#include "octet/frontends/onnx/compare.hpp"
#include "octet/frontends/onnx/importer.hpp"
#include "octet/ir/umodel.hpp"

namespace ox = octet::frontends::onnx;
using namespace octet::testing_onnx;

namespace {

// Import, write and re-read the pair, run, compare. Returns "" on success, else the reason.
std::string run_case(const Case& c) {
  Loaded L = load_case(c);
  ox::ImportOptions opt;
  opt.source = c.name;
  opt.net_name = c.name;
  for (const auto& v : L.inputs) opt.input_shapes.push_back(v.shape);
  opt.input_names = L.input_names;
  const ox::ImportResult r = ox::import_onnx(L.model, opt);
  ufw::NetParameter net = octet::ir::parse_prototxt(octet::ir::prototxt_text(r.net), c.name);
  octet::ir::merge_weights(net, octet::ir::parse_weights(octet::ir::weights_bytes(r.net), c.name), c.name);
  octet::engine::Net rt(net, ox::onnx_runtime_registry());
  for (size_t k = 0; k < L.inputs.size(); ++k) {
    octet::engine::FloatTensor t(L.inputs[k].shape);
    for (int64_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(L.inputs[k].v[i]);
    rt.set_input(L.input_names[k], t);
  }
  rt.forward();
  for (size_t i = 0; i < L.output_names.size(); ++i) {
    const auto& blob = rt.blob(L.output_names[i]);
    std::vector<double> got(blob.data(), blob.data() + blob.size());
    std::string why;
    if (!close(L.outputs[i], got, blob.shape(), &why)) return "output " + L.output_names[i] + ": " + why;
  }
  return "";
}

}  // namespace

TEST_CASE("ONNX backend test data through on_to_umodel and the runtime", "[onnx][conformance]") {
  const auto cases = all_cases();
  // scripts/bootstrap.sh installs libonnx-testdata (/usr/include/onnx/backend/test/data): its
  // absence is a broken set-up, not a pass.
  REQUIRE_FALSE(cases.empty());
  const std::string list_path = std::string(OCTET_SOURCE_DIR) + "/tests/conformance/onnx_expected_pass.txt";
  std::set<std::string> expected;
  {
    std::ifstream f(list_path);
    for (std::string line; std::getline(f, line);)
      if (!line.empty() && line[0] != '#') expected.insert(line);
  }
  std::map<std::string, std::pair<int, int>> per_dir;  // dir -> (passed, scored)
  std::vector<std::string> passed, failures, regressions;
  for (const auto& c : cases) {
    if (!is_scored(c)) continue;
    const std::string id = c.dir + "/" + c.name;
    std::string why;
    try {
      why = run_case(c);
    } catch (const std::exception& e) {
      why = e.what();
    }
    auto& d = per_dir[c.dir];
    ++d.second;
    if (why.empty()) {
      ++d.first;
      passed.push_back(id);
    } else {
      failures.push_back(id + ": " + why);
      if (expected.count(id)) regressions.push_back(id + ": " + why);
    }
  }
  int total = 0, ok = 0;
  for (const auto& [dir, pr] : per_dir) {
    std::cout << "onnx conformance " << dir << ": " << pr.first << "/" << pr.second << " pass\n";
    ok += pr.first;
    total += pr.second;
  }
  std::cout << "onnx conformance total: " << ok << "/" << total << " pass\n";
  for (const auto& f : failures) std::cout << "  FAIL " << f << "\n";
  if (const char* u = std::getenv("OCTET_UPDATE_EXPECTED"); u && std::string(u) == "1") {
    std::ofstream f(list_path);
    f << "# ONNX backend cases that pass through on_to_umodel + the fp32 runtime (regenerate with\n"
         "# OCTET_UPDATE_EXPECTED=1 ./test_onnx_conformance). A listed case that fails is a regression.\n";
    for (const auto& p : passed) f << p << "\n";
    std::cout << "wrote " << list_path << "\n";
  }
  // OCTET_ONNX_ALL=1: also try the unscored cases (1-D/3-D, other ops...), for information.
  if (const char* a = std::getenv("OCTET_ONNX_ALL"); a && std::string(a) == "1") {
    std::map<std::string, std::pair<int, int>> extra;
    for (const auto& c : cases) {
      std::string reason;
      if (is_scored(c, &reason)) continue;
      std::string why;
      try {
        why = run_case(c);
      } catch (const std::exception& e) {
        why = e.what();
      }
      auto& d = extra[c.dir + " (" + reason + ")"];
      ++d.second;
      if (why.empty()) {
        ++d.first;
        std::cout << "  unscored PASS " << c.dir << "/" << c.name << "\n";
      }
    }
    for (const auto& [k, pr] : extra) std::cout << "unscored " << k << ": " << pr.first << "/" << pr.second << " pass\n";
  }
  for (const auto& r : regressions) std::cout << "  REGRESSION " << r << "\n";
  CHECK(regressions.empty());
  CHECK(total > 250);
}
