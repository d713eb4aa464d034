// Helpers shared by the Catch2 tests under tests/: scratch folders that never outlive the test
// program, and text-format proto parsing that fails the test (not throws) on a typo.
// Test-only: depends on Catch2, the standard library, protobuf and the generated umodel proto;
// never on engine/ or other library families, so any test may include it cheaply.
#pragma once
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <system_error>

#include <google/protobuf/text_format.h>

#include "octet/proto/umodel.pb.h"

namespace octet::test {

// An empty folder `name` below one folder per test process; the process folder (with all it
// holds) is removed when the program exits, so a failing REQUIRE leaves nothing behind either.
// `name` is cleared on every call, so sections that reuse a name start clean.
inline std::filesystem::path scratch_dir(const std::string& name) {
  namespace fs = std::filesystem;
  static const struct Root {
    fs::path path = fs::temp_directory_path() / ("octet_test_" + std::to_string(::getpid()));
    ~Root() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  } root;
  fs::path d = root.path / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// A fresh empty folder owned by one test scope and removed with it; a counter keeps folders
// of the same process apart when scopes nest or overlap.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static int n = 0;
    path = std::filesystem::temp_directory_path() /
           ("octet_test_tmp_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

// Any proto message from its text format; a parse error fails the test where it is called.
template <class Message>
Message parse_text(const std::string& text) {
  Message m;
  REQUIRE(google::protobuf::TextFormat::ParseFromString(text, &m));
  return m;
}

inline ufw::LayerParameter parse_layer(const std::string& text) { return parse_text<ufw::LayerParameter>(text); }
inline ufw::NetParameter parse_net(const std::string& text) { return parse_text<ufw::NetParameter>(text); }

}  // namespace octet::test
