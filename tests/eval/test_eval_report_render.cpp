// Renders the HTML report in headless Chromium (Debian's `chromium`, installed by
// scripts/bootstrap.sh) and checks that every section drew, that no script error reached the
// page or the console, and that no NaN is shown. Without chromium on the PATH the test warns
// and passes (the page's structure is still covered by test_eval_report).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "octet/eval/report_html.hpp"
#include "synthetic_report.hpp"

namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

bool have_chromium() { return std::system("command -v chromium >/dev/null 2>&1") == 0; }

// Runs chromium on `page`; returns the dumped DOM, puts the browser log in `log`.
std::string render(const fs::path& dir, const fs::path& page, std::string& log, const fs::path& screenshot = {}) {
  const fs::path profile = dir / "profile";
  fs::create_directories(profile);
  const std::string common = "chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
                             "--disable-background-networking --disable-component-update --disable-sync "
                             "--enable-logging=stderr --v=0 --user-data-dir='" + profile.string() + "' ";
  const fs::path dom = dir / "dom.html", err = dir / "log.txt";
  const std::string cmd = common + "--dump-dom 'file://" + page.string() + "' >'" + dom.string() + "' 2>'" + err.string() + "'";
  REQUIRE(std::system(cmd.c_str()) == 0);
  log = slurp(err);
  if (!screenshot.empty()) {
    const std::string shot = common + "--hide-scrollbars --window-size=1280,1800 --screenshot='" + screenshot.string() +
                             "' 'file://" + page.string() + "' >/dev/null 2>&1";
    CHECK(std::system(shot.c_str()) == 0);
  }
  return slurp(dom);
}

}  // namespace

TEST_CASE("report render: every section draws in headless Chromium without errors or NaN") {
  // scripts/bootstrap.sh installs chromium: without it the set-up is broken, not the test passed.
  REQUIRE(have_chromium());
  const fs::path dir = fs::temp_directory_path() / ("octet_render_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path page = dir / "report.html";
  {
    std::ofstream f(page, std::ios::binary);
    f << octet::eval::report_html(octet::eval::testing::synthetic_report());
  }
  std::string log;
  const fs::path shot = dir / "shot.png";
  const std::string dom = render(dir, page, log, shot);
  INFO("browser log:\n" << log);
  CHECK(dom.find("data-sections-drawn=\"7\"") != std::string::npos);
  for (const char* s : {"summary", "network", "ranking", "sqnr", "hist", "scatter", "search"})
    CHECK(dom.find(std::string("data-section=\"") + s + "\"") != std::string::npos);
  CHECK(dom.find("<pre id=\"js-errors\"></pre>") != std::string::npos);  // window.onerror wrote nothing
  CHECK(log.find("Uncaught") == std::string::npos);
  CHECK(log.find(":CONSOLE") == std::string::npos);
  CHECK(dom.find("NaN") == std::string::npos);
  // Drawn content, not just markers: the ranking has a row per layer, the charts have shapes.
  CHECK(dom.find("<polyline") != std::string::npos);
  CHECK(dom.find("<circle") != std::string::npos);
  CHECK(dom.find("<rect") != std::string::npos);
  CHECK(dom.find("-fpfwd_blocks=conv3") != std::string::npos);
  CHECK(dom.find("undefined") != std::string::npos);  // the all-zero layer says so
  CHECK(fs::exists(shot));
  CHECK(fs::file_size(shot) > 1000);

  // A script error is caught and shown: the check above would see it.
  {
    std::string bad = octet::eval::report_html(octet::eval::testing::synthetic_report());
    bad.replace(bad.find("section('sqnr',function(d){"), 27, "section('sqnr',function(d){nosuch();");
    std::ofstream f(page, std::ios::binary);
    f << bad;
  }
  const std::string dom2 = render(dir, page, log);
  CHECK(dom2.find("<pre id=\"js-errors\" data-errors=\"1\">JS error") != std::string::npos);
  CHECK(dom2.find("data-sections-drawn=\"6\"") != std::string::npos);
  fs::remove_all(dir);
}
