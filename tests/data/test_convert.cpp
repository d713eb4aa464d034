// create_lmdb's conversion: sources (image folder, list file, IDX, npy), preprocessing
// arithmetic, ordering (shuffle/offset/limit), and failure behaviour (nothing at the target).
#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <zlib.h>

#include <csignal>

#include <filesystem>
#include <fstream>

#include "../test_util.hpp"
#include "octet/data/convert.hpp"

namespace fs = std::filesystem;
using namespace octet;
using namespace octet::data;
using octet::test::TempDir;

namespace {

// A solid BGR image of (b, g, r) with a gradient in the first row.
void write_image(const fs::path& p, int h, int w, cv::Vec3b bgr) {
  fs::create_directories(p.parent_path());
  cv::Mat m(h, w, CV_8UC3, cv::Scalar(bgr[0], bgr[1], bgr[2]));
  REQUIRE(cv::imwrite(p.string(), m));
}

std::vector<std::pair<std::string, Sample>> read_all(const fs::path& dir) {
  LmdbReader r(dir);
  std::vector<std::pair<std::string, Sample>> out;
  Sample s;
  std::string k;
  while (r.next(s, &k)) out.emplace_back(k, s);
  return out;
}

void write_gz(const fs::path& p, const std::string& bytes) {
  gzFile f = gzopen(p.c_str(), "wb");
  REQUIRE(f);
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

// n images of h x w, pixel value = index*10 + x, and labels n-1-index.
void write_idx(const fs::path& images, const fs::path& labels, int n, int h, int w) {
  std::string im = std::string("\0\0\x08\x03", 4) + be32(static_cast<uint32_t>(n)) + be32(static_cast<uint32_t>(h)) +
                   be32(static_cast<uint32_t>(w));
  for (int i = 0; i < n; ++i)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) im += static_cast<char>(i * 10 + x);
  write_gz(images, im);
  std::string lb = std::string("\0\0\x08\x01", 4) + be32(static_cast<uint32_t>(n));
  for (int i = 0; i < n; ++i) lb += static_cast<char>(n - 1 - i);
  std::ofstream(labels, std::ios::binary) << lb;  // plain (not gzipped) works too
}

}  // namespace

TEST_CASE("image folder: sorted order, sub-folder labels, (pixel - mean) * scale in CHW", "[data][convert]") {
  TempDir t;
  const fs::path root = t.path / "imgs";
  write_image(root / "cat" / "b.png", 4, 6, {10, 20, 30});
  write_image(root / "cat" / "a.bmp", 4, 6, {1, 2, 3});
  write_image(root / "dog" / "c.png", 4, 6, {100, 110, 120});
  std::ofstream(root / "dog" / "notes.txt") << "ignored";
  ConvertOptions o;
  o.image_root = root.string();
  o.output = (t.path / "db").string();
  o.mean = {1, 2, 3};
  o.scale = {0.5f};
  auto st = convert_to_lmdb(o);
  CHECK(st.written == 3);
  auto recs = read_all(t.path / "db");
  REQUIRE(recs.size() == 3);
  CHECK(recs[0].first == "0000000000__cat/a.bmp");
  CHECK(recs[1].first == "0000000001__cat/b.png");
  CHECK(recs[2].first == "0000000002__dog/c.png");
  CHECK(recs[0].second.label == 0);
  CHECK(recs[2].second.label == 1);
  const Sample& s = recs[1].second;
  CHECK(s.shape == Shape{3, 4, 6});
  CHECK(s.dtype == DType::F32);
  auto v = to_float(s);
  CHECK(v[0] == (10 - 1) * 0.5f);    // B plane
  CHECK(v[24] == (20 - 2) * 0.5f);   // G plane
  CHECK(v[48] == (30 - 3) * 0.5f);   // R plane

  SECTION("bgr2rgb, resize, gray, uint8, batch_dim") {
    ConvertOptions p = o;
    p.mean.clear(), p.scale.clear();
    p.bgr2rgb = true;
    p.resize_h = 2;
    p.dtype = DType::U8;
    p.batch_dim = true;
    p.output = (t.path / "db2").string();
    convert_to_lmdb(p);
    auto r = read_all(t.path / "db2");
    CHECK(r[1].second.shape == Shape{1, 3, 2, 6});  // width kept (0 = keep)
    CHECK(r[1].second.dtype == DType::U8);
    CHECK(to_float(r[1].second)[0] == 30);  // R first
    p.gray = true;
    p.bgr2rgb = false;
    p.batch_dim = false;
    convert_to_lmdb(p);
    auto g = read_all(t.path / "db2");
    CHECK(g[2].second.shape == Shape{1, 2, 6});
  }
  SECTION("list file with labels; unreadable images are skipped and counted, or fatal with strict") {
    std::ofstream(root / "broken.jpg") << "not a jpeg";
    std::ofstream(t.path / "list.txt") << "dog/c.png 7\nbroken.jpg 1\ncat/a.bmp 3\n";
    ConvertOptions p = o;
    p.image_list = (t.path / "list.txt").string();
    auto s2 = convert_to_lmdb(p);
    CHECK(s2.written == 2);
    CHECK(s2.skipped == 1);
    CHECK(s2.first_skipped.find("broken.jpg") != std::string::npos);
    auto r = read_all(t.path / "db");
    CHECK(r[0].first == "0000000000__dog/c.png");
    CHECK(r[0].second.label == 7);
    CHECK(r[1].second.label == 3);
    p.strict = true;
    p.output = (t.path / "strict").string();
    CHECK_THROWS_WITH(convert_to_lmdb(p), Catch::Contains("broken.jpg") && Catch::Contains("cannot read image"));
    CHECK_FALSE(fs::exists(t.path / "strict"));
  }
}

TEST_CASE("IDX source with labels, seeded shuffle, offset and limit", "[data][convert]") {
  TempDir t;
  write_idx(t.path / "img.gz", t.path / "lab", 20, 3, 4);
  ConvertOptions o;
  o.idx = (t.path / "img.gz").string();
  o.idx_labels = (t.path / "lab").string();
  o.output = (t.path / "db").string();
  convert_to_lmdb(o);
  auto all = read_all(t.path / "db");
  REQUIRE(all.size() == 20);
  CHECK(all[0].first == "0000000000__ ");
  CHECK(all[5].second.shape == Shape{1, 3, 4});
  CHECK(to_float(all[5].second)[3] == 53);
  CHECK(all[5].second.label == 14);

  o.shuffle = true;
  o.offset = 2;
  o.limit = 5;
  convert_to_lmdb(o);
  auto a = read_all(t.path / "db");
  convert_to_lmdb(o);
  auto b = read_all(t.path / "db");
  REQUIRE(a.size() == 5);
  bool moved = false;
  for (size_t i = 0; i < 5; ++i) {
    CHECK(a[i].second.bytes == b[i].second.bytes);  // reproducible
    const int src = static_cast<int>(to_float(a[i].second)[0]) / 10;
    CHECK(a[i].second.label == 19 - src);  // label travels with its image
    moved |= src != static_cast<int>(i) + 2;
  }
  CHECK(moved);
  o.seed = 4;
  convert_to_lmdb(o);
  auto c = read_all(t.path / "db");
  bool differs = false;
  for (size_t i = 0; i < 5; ++i) differs |= c[i].second.bytes != a[i].second.bytes;
  CHECK(differs);
}

TEST_CASE("npy source: N-first tensor, one record per row", "[data][convert]") {
  TempDir t;
  const fs::path npy = t.path / "x.npy";
  {
    std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2, 5), }";
    header.resize(118, ' ');
    header += '\n';
    std::ofstream f(npy, std::ios::binary);
    f << std::string("\x93NUMPY\x01\x00", 8) << static_cast<char>(header.size() & 255)
      << static_cast<char>(header.size() >> 8) << header;
    for (int i = 0; i < 30; ++i) {
      double d = i;
      f.write(reinterpret_cast<const char*>(&d), 8);
    }
  }
  ConvertOptions o;
  o.npy = npy.string();
  o.output = (t.path / "db").string();
  o.mean = {1};
  convert_to_lmdb(o);
  auto r = read_all(t.path / "db");
  REQUIRE(r.size() == 3);
  CHECK(r[2].second.shape == Shape{1, 2, 5});  // [H,W] rows become one-channel images
  CHECK(to_float(r[2].second)[9] == 28);
  CHECK_FALSE(r[0].second.label.has_value());
}

TEST_CASE("conversion errors leave nothing at the target", "[data][convert]") {
  TempDir t;
  ConvertOptions o;
  o.output = (t.path / "db").string();
  SECTION("empty image folder") {
    fs::create_directories(t.path / "empty");
    o.image_root = (t.path / "empty").string();
    CHECK_THROWS_WITH(convert_to_lmdb(o), Catch::Contains("empty"));
  }
  SECTION("no source / two sources") {
    CHECK_THROWS_AS(convert_to_lmdb(o), UsageError);
    o.idx = "a", o.npy = "b";
    CHECK_THROWS_AS(convert_to_lmdb(o), UsageError);
  }
  SECTION("map growth failure") {
    write_idx(t.path / "img.gz", t.path / "lab", 50, 20, 20);
    o.idx = (t.path / "img.gz").string();
    o.writer.initial_map_size = 32 * 1024;
    o.writer.max_map_size = 64 * 1024;
    CHECK_THROWS_WITH(convert_to_lmdb(o), Catch::Contains("map full"));
  }
  SECTION("corrupt IDX") {
    std::ofstream(t.path / "bad.idx") << "garbage!";
    o.idx = (t.path / "bad.idx").string();
    CHECK_THROWS_WITH(convert_to_lmdb(o), Catch::Contains("not an IDX file"));
  }
  CHECK_FALSE(fs::exists(t.path / "db"));
  for (const auto& e : fs::directory_iterator(t.path)) CHECK(e.path().filename().string().find(".tmp") == std::string::npos);
}

TEST_CASE("an existing LMDB is replaced only when the new one is complete", "[data][convert]") {
  TempDir t;
  write_idx(t.path / "img.gz", t.path / "lab", 4, 2, 2);
  ConvertOptions o;
  o.idx = (t.path / "img.gz").string();
  o.output = (t.path / "db").string();
  o.limit = 2;
  convert_to_lmdb(o);
  REQUIRE(LmdbReader(t.path / "db").size() == 2);
  o.limit = 3;
  o.writer.initial_map_size = 4096;  // smaller than LMDB's minimum: opening the map fails
  o.writer.max_map_size = 4096;
  CHECK_THROWS(convert_to_lmdb(o));
  CHECK(LmdbReader(t.path / "db").size() == 2);
  o.writer = {};
  convert_to_lmdb(o);
  CHECK(LmdbReader(t.path / "db").size() == 3);
}

TEST_CASE("a write failure (file size limit standing in for a full disk) leaves nothing", "[data][convert]") {
  TempDir t;
  write_idx(t.path / "img.gz", t.path / "lab", 400, 28, 28);
  ConvertOptions o;
  o.idx = (t.path / "img.gz").string();
  o.output = (t.path / "db").string();
  // Writes past RLIMIT_FSIZE fail with EFBIG (SIGXFSZ ignored), as pwrite fails with ENOSPC on a
  // full disk: both surface from the LMDB commit.
  rlimit old{};
  REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
  auto* prev = std::signal(SIGXFSZ, SIG_IGN);
  rlimit lim = old;
  lim.rlim_cur = 256 * 1024;
  REQUIRE(setrlimit(RLIMIT_FSIZE, &lim) == 0);
  std::string what;
  try {
    convert_to_lmdb(o);
  } catch (const IoError& e) {
    what = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, prev);
  CHECK(what.find("write failed") != std::string::npos);
  CHECK_FALSE(fs::exists(t.path / "db"));
  for (const auto& e : fs::directory_iterator(t.path)) CHECK(e.path().filename().string().find(".tmp") == std::string::npos);
}

TEST_CASE("npy and list-file parsing details", "[data][convert]") {
  TempDir t;
  auto write_npy = [&](const std::string& name, const std::string& dict, const std::string& data) {
    std::string header = dict;
    header.resize(118, ' ');
    header += '\n';
    std::ofstream f(t.path / name, std::ios::binary);
    f << std::string("\x93NUMPY\x01\x00", 8) << static_cast<char>(header.size()) << '\0' << header << data;
    return t.path / name;
  };
  auto be = read_npy(write_npy("be.npy", "{'descr': '>i2', 'fortran_order': False, 'shape': (2,), }",
                               std::string("\x01\x00\xff\xfe", 4)));
  CHECK(be.shape == Shape{2});
  CHECK(be.dtype == DType::I16);
  CHECK(be.item(1).shape.empty());  // rows of a 1-D array are scalars
  CHECK(to_float(be.item(1)) == std::vector<float>{-2});
  Sample whole;
  whole.shape = be.shape, whole.dtype = be.dtype, whole.bytes = be.bytes;
  CHECK(to_float(whole) == std::vector<float>{256, -2});
  CHECK_THROWS_WITH(read_npy(write_npy("f.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 1), }",
                                       std::string(4, '\0'))),
                    Catch::Contains("fortran_order"));
  CHECK_THROWS_WITH(read_npy(write_npy("short.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
                                       std::string(8, '\0'))),
                    Catch::Contains("12 data bytes"));
  CHECK_THROWS_AS(read_npy(write_npy("c.npy", "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }",
                                     std::string(8, '\0'))),
                  UnsupportedError);

  std::ofstream(t.path / "list.txt") << "# comment\nmy dir/a b.png 4\r\nplain.jpg\n\nx.bmp   12  \n";
  auto l = read_image_list(t.path / "list.txt");
  REQUIRE(l.size() == 3);
  CHECK(l[0].rel == "my dir/a b.png");
  CHECK(l[0].label == 4);
  CHECK(l[1].rel == "plain.jpg");
  CHECK_FALSE(l[1].label.has_value());
  CHECK(l[2].rel == "x.bmp");
  CHECK(l[2].label == 12);
}
