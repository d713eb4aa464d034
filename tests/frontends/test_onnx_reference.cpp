// The independent reference interpreter (used by --cmp and for constant folding) must itself
// agree with ONNX: run it over the scored backend-test cases and compare with stored outputs.
#include <catch2/catch.hpp>
#include <iostream>

#include "../conformance/onnx_cases.hpp"
#include "octet/frontends/onnx/reference.hpp"

namespace ox = octet::frontends::onnx;
using namespace octet::testing_onnx;

TEST_CASE("reference interpreter matches ONNX backend test data", "[onnx][reference]") {
  const auto cases = all_cases();
  // scripts/bootstrap.sh installs libonnx-testdata: its absence is a broken set-up, not a pass.
  REQUIRE_FALSE(cases.empty());
  int scored = 0, passed = 0;
  std::vector<std::string> failed;
  for (const auto& c : cases) {
    if (!is_scored(c)) continue;
    ++scored;
    std::string why;
    try {
      Loaded L = load_case(c);
      auto env = ox::run_graph(L.model.graph(), ox::model_opset(L.model), L.all_fed);
      bool ok = true;
      for (size_t i = 0; i < L.output_names.size() && ok; ++i) {
        const auto& got = env.at(L.output_names[i]);
        ok = close(L.outputs[i], got.v, got.shape, &why);
      }
      if (ok) ++passed;
      else failed.push_back(c.dir + "/" + c.name + ": " + why);
    } catch (const std::exception& e) {
      failed.push_back(c.dir + "/" + c.name + ": " + e.what());
    }
  }
  std::cout << "reference interpreter: " << passed << "/" << scored << " scored cases pass\n";
  for (const auto& f : failed) std::cout << "  FAIL " << f << "\n";
  CHECK(scored > 250);
  // The reference is the yardstick of --cmp and of constant folding: it must get every scored
  // case right (in double precision it has no float32 range problems).
  CHECK(passed == scored);
}
