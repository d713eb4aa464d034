#include <catch2/catch.hpp>

#include "octet/bm168x/bmodel.hpp"

using namespace octet::bm168x;

namespace {
ModelDesc sample() {
  ModelDesc m;
  m.time = "Thu Nov 26 12:00:00 2026\n";
  NetDesc n;
  n.name = "tiny";
  n.coeff_addr = kBM1684X.coeff_start;
  n.coeff.assign(0x1000 + 7, 0);
  for (std::size_t i = 0; i < n.coeff.size(); ++i) n.coeff[i] = static_cast<std::uint8_t>(i * 31);
  n.coeff_locations = {{"conv1", {0, 0x1000}}, {"conv2", {0x1000, 7}}};
  n.ctx_addr = n.coeff_addr + 0x2000;
  n.ctx_size = 0x3000;
  TensorDesc in{"data", kDtInt8, {1, 1, 28, 28}, 0.5f, 0, n.ctx_addr, 784, 1, 0};
  TensorDesc out{"prob", kDtFp32, {1, 10}, 1.0f, 0, n.ctx_addr + 0x1000, 40, 2, 0};
  n.inputs = {in};
  n.outputs = {out};
  CmdGroupBytes g;
  g.tiu = assemble({{&tiu_sysid_layout(), tiu_sys_end()}});
  g.gdma = assemble({{&gdma_sys_layout(), gdma_sys_end()}});
  g.tiu_num = g.gdma_num = 1;
  n.groups = {g};
  m.nets = {n};
  return m;
}
std::uint32_t u32(const std::string& b, std::size_t o) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= std::uint32_t(static_cast<std::uint8_t>(b[o + static_cast<std::size_t>(i)])) << (8 * i);
  return v;
}
}  // namespace

TEST_CASE("bmodel: header, sizes, magic bytes on disk") {
  const std::string b = serialize_bmodel(sample());
  CHECK(static_cast<std::uint8_t>(b[0]) == 0xEE);
  CHECK(static_cast<std::uint8_t>(b[1]) == 0xAA);
  CHECK(static_cast<std::uint8_t>(b[2]) == 0x55);
  CHECK(static_cast<std::uint8_t>(b[3]) == 0xFF);
  CHECK(u32(b, 4) == 64);
  CHECK(64 + u32(b, 8) + u32(b, 12) == b.size());
  for (std::size_t i = 16; i < 64; ++i) CHECK(b[i] == 0);
}

TEST_CASE("bmodel: round trip through the reader; check_code is the SHA-256 of the coeff bytes; groups de-duplicated") {
  const ModelDesc m = sample();
  auto f = BmodelFile::parse(serialize_bmodel(m));
  ModelDesc d = f.describe();
  REQUIRE(d.nets.size() == 1);
  CHECK(d.chip == "BM1684X");
  CHECK(d.nets[0].coeff == m.nets[0].coeff);
  CHECK(d.nets[0].groups[0].tiu == m.nets[0].groups[0].tiu);
  CHECK(d.nets[0].inputs[0].scale == 0.5f);
  CHECK(d.nets[0].outputs[0].dtype == kDtFp32);
  const auto* p = f.model()->net()->Get(0)->parameter()->Get(0);
  const auto digest = octet::Sha256::hash(m.nets[0].coeff.data(), m.nets[0].coeff.size());
  REQUIRE(p->coeff_mem()->check_code()->size() == 32);
  for (int i = 0; i < 32; ++i) CHECK(p->coeff_mem()->check_code()->Get(static_cast<flatbuffers::uoffset_t>(i)) == digest[static_cast<std::size_t>(i)]);
  // NetParameter.cmd_group and SubNet.cmd_group share the same bytes
  CHECK(p->cmd_group()->Get(0)->binary_bdc()->start() == p->sub_net()->Get(0)->cmd_group()->Get(0)->binary_bdc()->start());
  CHECK(p->sub_net()->Get(0)->id() == 0);
  CHECK(p->cmd_group()->Get(0)->bdc_cmd_byte() == 128);
  CHECK(f.bin_size() == m.nets[0].coeff.size() + 128 + 128);
}

TEST_CASE("bmodel: --info text follows the vendor layout") {
  auto f = BmodelFile::parse(serialize_bmodel(sample()));
  const std::string t = info_text(f);
  CHECK(t.find("bmodel version: B.2.2+octet\nchip: BM1684X\ncreate time: Thu Nov 26 12:00:00 2026\nno kernel_module\n" +
               std::string(42, '=') + "\nnet 0: [tiny]  static\n" + std::string(12, '-') + "\nstage 0:\n") == 0);
  CHECK(t.find("input: data, [1, 1, 28, 28], int8, scale: 0.5, zero_point: 0\n") != std::string::npos);
  CHECK(t.find("output: prob, [1, 10], float32, scale: 1, zero_point: 0\n") != std::string::npos);
  // weight 4103, instruct 256, runtime = ctx 0x3000 + largest IO at 4 B/elem for float (40) vs int8 784
  CHECK(t.find("device mem size: " + std::to_string(4103 + 256 + 0x3000 + 784) + " (weight: 4103, instruct: 256, runtime: " +
               std::to_string(0x3000 + 784) + ")") != std::string::npos);
  const std::string j = print_json(f);
  CHECK(j.find("\"check_code\": \"" + octet::Sha256::hex(octet::Sha256::hash(sample().nets[0].coeff.data(), 4103)) + "\"") != std::string::npos);
  CHECK(j.find("\"location\": [{\"name\": \"conv1\", \"offset\": 0, \"size\": 4096}") != std::string::npos);
}

TEST_CASE("bmodel: each of the loader's four checks names itself") {
  const std::string good = serialize_bmodel(sample());
  auto fails_with = [](const std::string& bytes, const std::string& what) {
    try {
      BmodelFile::parse(bytes, "x.bmodel");
    } catch (const octet::IoError& e) {
      const std::string msg = e.what();
      INFO(msg);
      CHECK(msg.find(what) != std::string::npos);
      CHECK(msg.find('\n') == std::string::npos);
      return;
    }
    FAIL("no error");
  };
  fails_with(good.substr(0, 64), "check 1 (header)");
  std::string bad_magic = good;
  bad_magic[3] = static_cast<char>(0xFF);
  bad_magic[0] = static_cast<char>(0xFF);  // 0xFF55AAFF: the older bmtap2 magic
  fails_with(bad_magic, "check 2 (magic)");
  fails_with(good.substr(0, good.size() - 1), "check 3 (sizes)");
  std::string bad_fb = good;
  // the root offset points far outside the flatbuffer
  bad_fb[64] = static_cast<char>(0xF0);
  bad_fb[65] = static_cast<char>(0xFF);
  bad_fb[66] = static_cast<char>(0xFF);
  fails_with(bad_fb, "check 4 (flatbuffers");
}
