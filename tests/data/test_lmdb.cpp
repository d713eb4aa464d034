// Datum encoding/decoding and the ufwio LMDB layout: keys, commit batching, map growth, legacy
// records, corrupt records and the staged-folder rename.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "../test_util.hpp"
#include "octet/data/lmdb.hpp"

namespace fs = std::filesystem;
using namespace octet;
using namespace octet::data;
using octet::test::TempDir;

namespace {

// Writes raw key/value pairs with lmdb++ directly, as a foreign tool would.
void write_raw(const fs::path& dir, const std::vector<std::pair<std::string, std::string>>& kv) {
  fs::create_directories(dir);
  auto env = lmdb::env::create();
  env.set_mapsize(1 << 20);
  env.open(dir.c_str(), 0, 0664);
  auto txn = lmdb::txn::begin(env);
  auto dbi = lmdb::dbi::open(txn, nullptr);
  for (auto& [k, v] : kv) {
    lmdb::val key{k.data(), k.size()}, val{v.data(), v.size()};
    dbi.put(txn, key, val, 0);
  }
  txn.commit();
}

}  // namespace

TEST_CASE("keys follow the ufwio layout", "[data][lmdb]") {
  CHECK(make_key(0) == "0000000000__ ");
  CHECK(make_key(0).size() == 13);
  CHECK(make_key(12, "abc") == "0000000012__abc");
  CHECK(user_key_of("0000000012__abc") == "abc");
  CHECK(user_key_of("0000000000__ ").empty());
}

TEST_CASE("encode_datum writes float32 unpacked with dtype, other dtypes as raw bytes", "[data][datum]") {
  auto f = Sample::from<float>({1, 2, 2}, {1.f, -2.f, 3.5f, 0.f}, DType::F32, 7);
  ufw::Datum d;
  REQUIRE(d.ParseFromString(encode_datum(f)));
  CHECK(d.float_data_size() == 4);
  CHECK(d.float_data(2) == 3.5f);
  CHECK(d.has_dtype());
  CHECK(d.dtype() == ufw::BlobProto::FP32);
  CHECK(d.label() == 7);
  CHECK(d.data().empty());
  REQUIRE(d.shape().dim_size() == 3);
  CHECK(d.shape().dim(2) == 2);
  // Unpacked: each float has its own tag byte 0x35 (field 6, wire type 5).
  const std::string wire = encode_datum(f);
  CHECK(std::count(wire.begin(), wire.end(), '\x35') >= 4);

  auto u = Sample::from<int16_t>({3}, {-1, 2, 300}, DType::I16);
  REQUIRE(d.ParseFromString(encode_datum(u)));
  CHECK(d.float_data_size() == 0);
  CHECK(d.data().size() == 6);
  CHECK(d.dtype() == ufw::BlobProto::INT16);
  CHECK_FALSE(d.has_label());
}

TEST_CASE("decode_datum agrees with the generated parser on packed and unpacked data", "[data][datum]") {
  Sample s;
  SECTION("unpacked float_data from encode_datum") {
    auto f = Sample::from<float>({2, 3}, {1, 2, 3, 4, 5, 6}, DType::F32, -3);
    decode_datum(encode_datum(f), s);
    CHECK(s.shape == Shape{2, 3});
    CHECK(s.dtype == DType::F32);
    CHECK(to_float(s) == std::vector<float>{1, 2, 3, 4, 5, 6});
    CHECK(s.label == -3);
  }
  SECTION("packed float_data written by a foreign encoder") {
    // field 6, wire type 2, 8 bytes: two floats; then shape {dim: [2]} packed.
    std::string w = "\x32\x08";
    float v[2] = {0.5f, -1.25f};
    w.append(reinterpret_cast<const char*>(v), 8);
    w += std::string("\x42\x03\x0a\x01\x02", 5);
    decode_datum(w, s);
    CHECK(s.shape == Shape{2});
    CHECK(to_float(s) == std::vector<float>{0.5f, -1.25f});
    CHECK_FALSE(s.label.has_value());
  }
  SECTION("legacy Caffe datum: channels/height/width + uint8 data, no dtype") {
    ufw::Datum d;
    d.set_channels(1);
    d.set_height(2);
    d.set_width(2);
    d.set_data(std::string("\x01\x02\x03\xff", 4));
    d.set_label(4);
    decode_datum(d.SerializeAsString(), s);
    CHECK(s.shape == Shape{1, 2, 2});
    CHECK(s.dtype == DType::U8);
    CHECK(to_float(s) == std::vector<float>{1, 2, 3, 255});
    CHECK(s.label == 4);
  }
  SECTION("every dtype round-trips") {
    decode_datum(encode_datum(Sample::from<uint16_t>({2}, {1, 65535}, DType::U16)), s);
    CHECK(to_float(s) == std::vector<float>{1, 65535});
    decode_datum(encode_datum(Sample::from<int8_t>({2}, {-128, 127}, DType::I8)), s);
    CHECK(to_float(s) == std::vector<float>{-128, 127});
    decode_datum(encode_datum(Sample::from<int32_t>({1}, {-70000}, DType::I32)), s);
    CHECK(to_float(s) == std::vector<float>{-70000});
    decode_datum(encode_datum(Sample::from<uint16_t>({3}, {0x3c00, 0xc000, 0x3555}, DType::F16)), s);
    auto h = to_float(s);
    CHECK(h[0] == 1.0f);
    CHECK(h[1] == -2.0f);
    CHECK(h[2] == Approx(0.33325f));
  }
  SECTION("unknown fields are skipped") {
    ufw::Datum d;
    d.mutable_shape()->add_dim(1);
    d.add_float_data(9.f);
    std::string w = d.SerializeAsString() + std::string("\xa0\x06\x05", 3);  // field 100 varint
    decode_datum(w, s);
    CHECK(to_float(s) == std::vector<float>{9.f});
  }
}

TEST_CASE("decode_datum rejects corrupt records", "[data][datum]") {
  Sample s;
  auto f = Sample::from<float>({2, 2}, {1, 2, 3, 4}, DType::F32);
  std::string w = encode_datum(f);
  CHECK_THROWS_AS(decode_datum(w.substr(0, 7), s), IoError);  // truncated
  CHECK_THROWS_WITH(decode_datum("\xff\xff", s), Catch::Contains("bad Datum"));
  ufw::Datum d;
  d.mutable_shape()->add_dim(3);
  d.set_data(std::string(5, 'x'));
  d.set_dtype(ufw::BlobProto::INT16);
  CHECK_THROWS_WITH(decode_datum(d.SerializeAsString(), s), Catch::Contains("needs 6 bytes"));
  ufw::Datum e;
  e.add_float_data(1.f);
  CHECK_THROWS_WITH(decode_datum(e.SerializeAsString(), s), Catch::Contains("no shape"));
}

TEST_CASE("LmdbWriter appends in order, commits in batches and grows the map", "[data][lmdb]") {
  TempDir t;
  const fs::path dir = t.path / "db";
  LmdbWriterOptions opt;
  opt.commit_every = 7;
  opt.initial_map_size = 64 * 1024;  // far too small: forces repeated doubling
  {
    LmdbWriter w(dir, opt);
    for (int i = 0; i < 50; ++i) {
      std::vector<float> v(1000, static_cast<float>(i));
      w.put(Sample::from<float>({1, 10, 100}, v, DType::F32, i % 10), i % 2 ? "k" + std::to_string(i) : "");
      if (i == 6) CHECK(w.committed() == 7);
    }
    CHECK(w.count() == 50);
    w.close();
    CHECK(w.committed() == 50);
    CHECK(w.map_size() > opt.initial_map_size);
  }
  LmdbReader r(dir);
  REQUIRE(r.size() == 50);
  Sample s;
  std::string key;
  for (int i = 0; i < 50; ++i) {
    REQUIRE(r.next(s, &key));
    CHECK(key == make_key(i, i % 2 ? "k" + std::to_string(i) : ""));
    CHECK(s.shape == Shape{1, 10, 100});
    CHECK(s.as<float>()[999] == static_cast<float>(i));
    CHECK(s.label == i % 10);
  }
  CHECK_FALSE(r.next(s));
  // Cycling starts over; first() does not move the position.
  r.next_cycling(s, &key);
  CHECK(key == make_key(0));
  REQUIRE(r.first(s, &key));
  r.next(s, &key);
  CHECK(key == "0000000001__k1");
}

TEST_CASE("LmdbWriter fails cleanly when the map may not grow", "[data][lmdb]") {
  TempDir t;
  LmdbWriterOptions opt;
  opt.initial_map_size = 64 * 1024;
  opt.max_map_size = 128 * 1024;
  LmdbWriter w(t.path / "db", opt);
  std::vector<float> v(10000, 1.f);
  CHECK_THROWS_WITH(
      [&] {
        for (int i = 0; i < 200; ++i) w.put(Sample::from<float>({10000}, v, DType::F32));
        w.flush();
      }(),
      Catch::Contains("map full"));
}

TEST_CASE("LmdbReader names the LMDB and key of a corrupt record", "[data][lmdb]") {
  TempDir t;
  auto good = encode_datum(Sample::from<float>({2}, {1, 2}, DType::F32));
  write_raw(t.path / "db", {{make_key(0), good}, {make_key(1, "bad"), "\x0a\xff\xff"}});
  LmdbReader r(t.path / "db");
  Sample s;
  REQUIRE(r.next(s));
  try {
    r.next(s);
    FAIL("no error");
  } catch (const IoError& e) {
    const std::string w = e.what();
    CHECK(w.find((t.path / "db").string()) != std::string::npos);
    CHECK(w.find("0000000001__bad") != std::string::npos);
  }
  CHECK_THROWS_WITH(LmdbReader(t.path / "nothere"), Catch::Contains("no such LMDB folder"));
}

TEST_CASE("StagedDir renames into place on commit and leaves nothing otherwise", "[data][lmdb]") {
  TempDir t;
  const fs::path target = t.path / "out";
  {
    StagedDir sd(target);
    std::ofstream(sd.path() / "f") << "x";
    CHECK(fs::exists(sd.path() / "f"));
  }
  CHECK_FALSE(fs::exists(target));
  CHECK(std::distance(fs::directory_iterator(t.path), fs::directory_iterator()) == 0);
  {
    StagedDir sd(target);
    std::ofstream(sd.path() / "a") << "1";
    sd.commit();
  }
  CHECK(fs::exists(target / "a"));
  {
    StagedDir sd(target);
    std::ofstream(sd.path() / "b") << "2";
    sd.commit();
  }
  CHECK(fs::exists(target / "b"));
  CHECK_FALSE(fs::exists(target / "a"));
  CHECK(std::distance(fs::directory_iterator(t.path), fs::directory_iterator()) == 1);
}
