// LMDB interop with Python: an LMDB written by py-lmdb + python protobuf in the ufwio layout is
// read by LmdbReader, and an LmdbWriter LMDB is decoded by Python (tests/data/ufwio_interop.py,
// run with Debian's /usr/bin/python3).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>

#include "../test_util.hpp"
#include "octet/data/lmdb.hpp"

namespace fs = std::filesystem;
using namespace octet;
using namespace octet::data;
using octet::test::TempDir;

namespace {

int python(const std::string& mode, const fs::path& dir) {
  const std::string script = std::string(OCTET_SOURCE_DIR) + "/tests/data/ufwio_interop.py";
  const std::string cmd = "/usr/bin/python3 '" + script + "' " + mode + " '" + dir.string() + "'";
  return std::system(cmd.c_str());
}

}  // namespace

TEST_CASE("Octet reads an LMDB written by Python in the ufwio layout", "[data][interop]") {
  TempDir t;
  const fs::path db = t.path / "py";
  REQUIRE(python("write", db) == 0);
  LmdbReader r(db);
  REQUIRE(r.size() == 5);
  Sample s;
  std::string key;

  REQUIRE(r.next(s, &key));
  CHECK(key == "0000000000__ ");
  CHECK(s.shape == Shape{1, 3, 2, 2});
  CHECK(s.dtype == DType::F32);
  CHECK_FALSE(s.label.has_value());
  auto v = to_float(s);
  for (size_t i = 0; i < 12; ++i) CHECK(v[i] == static_cast<float>(i) * 0.25f - 1.f);

  REQUIRE(r.next(s, &key));
  CHECK(key == "0000000001__img1");
  CHECK(s.shape == Shape{3, 4});
  CHECK(s.dtype == DType::U8);
  CHECK(s.label == 5);
  CHECK(to_float(s)[11] == 220.f);

  REQUIRE(r.next(s, &key));
  CHECK(s.dtype == DType::I16);
  CHECK(to_float(s) == std::vector<float>{-300.f, 7.f});
  CHECK(s.label == -1);

  REQUIRE(r.next(s, &key));
  CHECK(s.dtype == DType::F16);
  CHECK(to_float(s) == std::vector<float>{0.5f, -2.f});

  REQUIRE(r.next(s, &key));
  CHECK(key == "0000000004__legacy");
  CHECK(s.shape == Shape{1, 2, 2});
  CHECK(s.dtype == DType::U8);
  CHECK(to_float(s) == std::vector<float>{1, 2, 3, 250});
  CHECK(s.label == 3);
  CHECK_FALSE(r.next(s));
}

TEST_CASE("Python decodes an LMDB written by Octet", "[data][interop]") {
  TempDir t;
  const fs::path db = t.path / "octet";
  {
    LmdbWriterOptions opt;
    opt.commit_every = 3;
    LmdbWriter w(db, opt);
    for (int i = 0; i < 10; ++i) {
      std::vector<float> v(6);
      for (int j = 0; j < 6; ++j) v[static_cast<size_t>(j)] = static_cast<float>(i) + 0.5f * static_cast<float>(j);
      w.put(Sample::from<float>({1, 2, 3}, v, DType::F32, i), i % 2 ? "k" + std::to_string(i) : "");
    }
    w.put(Sample::from<uint8_t>({2, 2}, {0, 1, 254, 255}, DType::U8), "u8");
    w.put(Sample::from<int32_t>({2}, {-70000, 70000}, DType::I32, 42));
    w.close();
  }
  CHECK(python("verify", db) == 0);
}
