// .npy/.npz against NumPy itself (Debian's /usr/bin/python3): files NumPy writes are read with
// the right values and shapes, and NumPy reads back what Octet writes.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "../test_util.hpp"
#include "octet/io/npy.hpp"

namespace fs = std::filesystem;
using namespace octet;
using octet::test::scratch_dir;

namespace {

int python(const fs::path& dir, const std::string& code) {
  const fs::path script = dir / "script.py";
  std::ofstream(script) << "import numpy as np, os\nos.chdir(" << dir << ")\n" << code << "\n";
  return std::system(("/usr/bin/python3 " + script.string()).c_str());
}

void write_bytes(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }

}  // namespace

TEST_CASE("reads every dtype NumPy writes, v1 and v2 headers, and converts to float") {
  const fs::path d = scratch_dir("read");
  REQUIRE(python(d, R"(
a = np.arange(24, dtype=np.float32).reshape(2, 3, 4) * 0.5 - 3
np.save('f4.npy', a)
np.save('f8.npy', a.astype(np.float64))
np.save('i1.npy', np.array([-128, -1, 0, 127], dtype=np.int8))
np.save('u1.npy', np.array([0, 1, 255], dtype=np.uint8))
np.save('i4.npy', np.array([[-7, 8]], dtype=np.int32))
np.save('i8.npy', np.array([1 << 40, -3], dtype=np.int64))
np.save('scalar.npy', np.float32(2.5))
np.save('empty.npy', np.zeros((0, 3), np.float32))
np.lib.format.write_array(open('v2.npy', 'wb'), a, version=(2, 0))
np.save('fortran.npy', np.asfortranarray(a))
np.save('be.npy', a.astype('>f4'))
np.save('c8.npy', np.zeros(2, np.complex64))
)") == 0);
  auto f4 = io::read_npy(d / "f4.npy");
  CHECK(f4.shape() == Shape{2, 3, 4});
  CHECK(f4[0] == -3.f);
  CHECK(f4[23] == 8.5f);
  CHECK(io::read_npy(d / "f8.npy")[5] == -0.5f);
  auto i1 = io::read_npy(d / "i1.npy");
  CHECK(std::vector<float>(i1.data(), i1.data() + 4) == std::vector<float>{-128, -1, 0, 127});
  CHECK(io::read_npy(d / "u1.npy")[2] == 255.f);
  CHECK(io::read_npy(d / "i4.npy").shape() == Shape{1, 2});
  CHECK(io::read_npy(d / "i4.npy")[0] == -7.f);
  CHECK(io::read_npy(d / "i8.npy")[0] == static_cast<float>(1LL << 40));
  auto sc = io::read_npy(d / "scalar.npy");
  CHECK(sc.shape().empty());
  CHECK(sc[0] == 2.5f);
  CHECK(io::read_npy(d / "empty.npy").shape() == Shape{0, 3});
  CHECK(io::read_npy(d / "v2.npy").shape() == Shape{2, 3, 4});
  CHECK(io::read_npy(d / "v2.npy")[23] == 8.5f);

  CHECK_THROWS_WITH(io::read_npy(d / "fortran.npy"), Catch::Contains("fortran.npy") && Catch::Contains("fortran_order"));
  CHECK_THROWS_WITH(io::read_npy(d / "be.npy"), Catch::Contains("be.npy") && Catch::Contains("big-endian"));
  CHECK_THROWS_WITH(io::read_npy(d / "c8.npy"), Catch::Contains("c8.npy") && Catch::Contains("unsupported dtype"));
}

TEST_CASE("unreadable .npy files are IoErrors naming the file") {
  const fs::path d = scratch_dir("bad");
  CHECK_THROWS_WITH(io::read_npy(d / "missing.npy"), Catch::Contains("missing.npy") && Catch::Contains("cannot open"));
  write_bytes(d / "text.npy", "hello, this is not numpy\n");
  CHECK_THROWS_WITH(io::read_npy(d / "text.npy"), Catch::Contains("text.npy") && Catch::Contains("magic"));
  Tensor<float> t({4, 4}, 1.f);
  const std::string good = io::npy_bytes(t);
  write_bytes(d / "cut.npy", good.substr(0, good.size() - 8));
  CHECK_THROWS_WITH(io::read_npy(d / "cut.npy"), Catch::Contains("cut.npy") && Catch::Contains("truncated"));
  write_bytes(d / "cuthead.npy", good.substr(0, 20));
  CHECK_THROWS_WITH(io::read_npy(d / "cuthead.npy"), Catch::Contains("truncated"));
}

TEST_CASE("NumPy reads the .npy and .npz files Octet writes") {
  const fs::path d = scratch_dir("write");
  Tensor<float> a({2, 3});
  for (int i = 0; i < 6; ++i) a[i] = static_cast<float>(i) - 2.25f;
  Tensor<float> v({5});
  for (int i = 0; i < 5; ++i) v[i] = static_cast<float>(i * i);
  Tensor<float> s(Shape{}, 7.f);
  io::write_npy(d / "a.npy", a);
  io::write_npy(d / "v.npy", v);
  io::write_npz(d / "all.npz", io::NamedTensors{{"a", a}, {"acc/top-1", v}, {"s", s}});
  REQUIRE(python(d, R"(
a = np.load('a.npy'); v = np.load('v.npy')
assert a.dtype == np.float32 and a.shape == (2, 3), a
assert np.array_equal(a.ravel(), np.arange(6, dtype=np.float32) - 2.25)
assert v.shape == (5,) and np.array_equal(v, np.arange(5.0) ** 2)
z = np.load('all.npz')
assert sorted(z.files) == ['a', 'acc/top-1', 's'], z.files
assert np.array_equal(z['a'], a) and np.array_equal(z['acc/top-1'], v)
assert z['s'].shape == () and z['s'] == 7
import zipfile
assert zipfile.ZipFile('all.npz').testzip() is None
)") == 0);
}

TEST_CASE("reads np.savez archives and rejects np.savez_compressed with advice") {
  const fs::path d = scratch_dir("npz");
  REQUIRE(python(d, R"(
np.savez('plain.npz', data=np.arange(6, dtype=np.float32).reshape(1, 6), other=np.array([1.5, 2.5]))
np.savez_compressed('packed.npz', data=np.arange(6, dtype=np.float32))
)") == 0);
  auto z = io::read_npz(d / "plain.npz");
  REQUIRE(z.size() == 2);
  CHECK(z[0].first == "data");
  CHECK(z[0].second.shape() == Shape{1, 6});
  CHECK(z[0].second[5] == 5.f);
  CHECK(z[1].first == "other");
  CHECK(z[1].second[1] == 2.5f);
  CHECK_THROWS_WITH(io::read_npz(d / "packed.npz"),
                    Catch::Contains("packed.npz") && Catch::Contains("np.savez") && Catch::Contains("compressed"));

  // Round trip through our own writer, and a corrupted byte is caught by the CRC.
  Tensor<float> t({3}, 2.f);
  std::string bytes = io::npz_bytes({{"t", &t}});
  CHECK(io::parse_npz(bytes, "mem")[0].second[2] == 2.f);
  bytes[bytes.find("NUMPY") + 80] ^= 0x40;
  CHECK_THROWS_WITH(io::parse_npz(bytes, "mem"), Catch::Contains("CRC"));
  CHECK_THROWS_WITH(io::parse_npz("definitely not a zip file at all", "x.npz"), Catch::Contains("x.npz"));
}
