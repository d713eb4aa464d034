#include <catch2/catch.hpp>

#include <random>

#include "octet/bm168x/commands.hpp"

using namespace octet::bm168x;

namespace {
std::vector<const Layout*> all_layouts() {
  return {&tiu_long_layout(), &tiu_sconv_layout(), &tiu_sar_layout(), &tiu_smm_layout(), &tiu_smm2_layout(),
          &tiu_sysid_layout(), &gdma_tensor_layout(), &gdma_sys_layout(), &bm1684_tiu_layout(), &bm1684_gdma_layout()};
}
}  // namespace

TEST_CASE("bm168x layouts: fields do not overlap, and each ends at its table's end") {
  for (const Layout* l : all_layouts()) {
    std::vector<int> owner(static_cast<std::size_t>(l->bytes() * 8), -1);
    int last = 0;
    for (std::size_t i = 0; i < l->fields().size(); ++i) {
      const Field& f = l->fields()[i];
      for (int b = f.offset; b < f.offset + f.width; ++b) {
        INFO(l->name() << " " << f.name << " bit " << b);
        REQUIRE(owner[static_cast<std::size_t>(b)] == -1);
        owner[static_cast<std::size_t>(b)] = static_cast<int>(i);
      }
      last = std::max(last, f.offset + f.width);
    }
    INFO(l->name());
    // BM1684 GDMA defines 706 bits in its 128-byte slot; every other table fills its length.
    CHECK(last == (l->name() == "BM1684 GDMA" ? 706 : l->bytes() * 8));
  }
}

TEST_CASE("bm168x encode/decode: every field round-trips at 0, 1, max and a random value alone and all together") {
  std::mt19937_64 rng(7);
  for (const Layout* l : all_layouts()) {
    for (const Field& f : l->fields()) {
      if (std::string(f.name) == "rsvd") continue;
      for (std::uint64_t v : {std::uint64_t{0}, std::uint64_t{1}, f.max(), rng() & f.max()}) {
        Fields in;
        in.set(f.name) = v;
        auto bytes = encode(*l, in);
        REQUIRE(bytes.size() == static_cast<std::size_t>(l->bytes()));
        Fields out = decode(*l, bytes);
        INFO(l->name() << " " << f.name << " = " << v);
        CHECK(out[f.name] == v);
        // no other field is disturbed
        for (const Field& g : l->fields())
          if (std::string(g.name) != "rsvd" && g.offset != f.offset) CHECK(out[g.name] == 0);
        // and the bits are exactly where the table says
        CHECK(get_bits(bytes, f.offset, f.width) == v);
      }
    }
    Fields all;
    for (const Field& f : l->fields())
      if (std::string(f.name) != "rsvd") all.set(f.name) = rng() & f.max();
    Fields back = decode(*l, encode(*l, all));
    for (const auto& [n, v] : all.v) CHECK(back[n] == v);
  }
}

TEST_CASE("bm168x encode: a value wider than its field is an error, not truncated") {
  Fields f;
  f.set("opd0_up_pad") = 16;
  CHECK_THROWS_AS(encode(tiu_long_layout(), f), octet::ModelError);
  Fields g;
  g.set("no_such_field") = 1;
  CHECK_THROWS_AS(encode(tiu_long_layout(), g), octet::ModelError);
}

TEST_CASE("bm168x golden: SYSID end, cmd_id 1, dep 2, worked out by hand from §3.4") {
  Fields f = tiu_sys_end();
  f.set("cmd_id") = 1;
  f.set("cmd_id_dep") = 2;
  auto b = encode(tiu_sysid_layout(), f);
  const std::vector<std::uint8_t> want = {0x02, 0x00, 0x40, 0x00, 0x00, 0xFE, 0x03, 0x00,
                                          0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  CHECK(b == want);
  CHECK(tiu_nominal_bytes(b) == 16);
}

TEST_CASE("bm168x golden: sDMA_sys cmd_id 3, dep 5") {
  Fields f = gdma_sys_end();
  f.set("cmd_id") = 3;
  f.set("cmd_id_dep") = 5;
  auto b = encode(gdma_sys_layout(), f);
  const std::vector<std::uint8_t> want = {0x00, 0x06, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00,
                                          0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  CHECK(b == want);
}

TEST_CASE("bm168x golden: long CONV fields land on the bytes of §3.2") {
  LocalOpd res{0x100, 1, 64, 4, 4, kPInt32, true};
  LocalOpd in{0x0, 1, 3, 6, 6, kPInt8, true};
  ConvGeom g;
  g.kh = g.kw = 3;
  g.pad_t = 1;
  g.pad_b = 2;
  Fields f = tiu_conv(res, in, 0x4000, 0x8000, true, g);
  f.set("cmd_id") = 1;
  auto b = encode(tiu_long_layout(), f);
  REQUIRE(b.size() == 128);
  CHECK(b[0] == 0x02);          // cmd_short 0, cmd_id 1 at bit 1
  CHECK(b[5] == 0x00);          // tsk_typ 0 (bits 41-44), eu 0
  CHECK(b[6] == 0x18);          // tsk_opd_num 3 at bits 51-52 -> byte 6 bits 3-4
  CHECK(b[8] == 0xE0);          // opd0/1/2_sign at bits 69, 70, 71
  CHECK(b[9] == 0x04);          // res0_prec int32 (4) at 72, opd0_prec int8 (0) at 75
  CHECK(b[10] == 0x08);         // opd2_prec int32 (0b100) at bits 81-83 -> byte 10 bit 3
  CHECK(b[18] == 0x21);         // up_pad 1 (bits 144-147), dn_pad 2 (148-151)
  CHECK(b[20] == 0x11);         // res_op_x_str 1, res_op_y_str 1
  CHECK(b[24] == 0xFF);         // tsk_lane_num all ones
  CHECK(b[32] == 0x01);         // res0_n 1
  CHECK(b[34] == 0x40);         // res0_c 64
  CHECK(b[44] == 0x06);         // opd0_h 6 at bit 352
  CHECK(b[52] == 0x03);         // opd1_h (kernel) 3 at bit 416
  CHECK(b[72] == 0x00);         // res0_addr 0x100 at bit 576 -> byte 72..75
  CHECK(b[73] == 0x01);
  CHECK(b[81] == 0x40);         // opd1_addr 0x4000 at 640
  CHECK(b[85] == 0x80);         // opd2_addr 0x8000 at 672
}

TEST_CASE("bm168x golden: GDMA tensor addresses split l32/h8 at w16/w17 and w18/w19") {
  GdmaSide s{0x100001000ull, 1, 2, 3, 4, 24, 12, 4, 1};
  GdmaSide d{0x08000040ull, 1, 2, 3, 4, 12, 12, 4, 1};
  Fields f = gdma_tensor(s, d, kGInt8);
  f.set("cmd_id") = 1;
  auto b = encode(gdma_tensor_layout(), f);
  REQUIRE(b.size() == 96);
  CHECK(b[0] == 0x02);  // stride_enable
  CHECK(b[1] == 0x02);  // cmd_id 1 at bit 9
  CHECK(b[4] == 0x00);  // cmd_type TENSOR
  CHECK(b[64] == 0x00);
  CHECK(b[65] == 0x10);
  CHECK(b[68] == 0x01);  // src h8
  CHECK(b[72] == 0x40);
  CHECK(b[75] == 0x08);
  CHECK(b[76] == 0x00);  // dst h8
  CHECK(b[16] == 24);    // src_nstride at bit 128
  CHECK(b[48] == 1);     // src_nsize at bit 384
  CHECK(b[50] == 2);     // src_csize
  CHECK(gdma_src(decode(gdma_tensor_layout(), b)) == 0x100001000ull);
}

TEST_CASE("bm168x streams: the spec's example group sizes and the walk") {
  // TIU [long CONV 128 + SYSID 16 -> 128]: 2 commands, 256 B.
  std::vector<Cmd> tiu = {{&tiu_long_layout(), tiu_conv({}, {}, 0, 0, false, {})}, {&tiu_sysid_layout(), tiu_sys_end()}};
  auto tb = assemble(tiu);
  CHECK(tb.size() == 256);
  auto tw = walk_tiu(tb, 2);
  CHECK(tw[1]["tsk_typ"] == 15);
  CHECK(tw[1]["tsk_eu_typ"] == 31);
  // GDMA [2 x 96 + sys at 192 -> 64]: 3 commands, 256 B.
  std::vector<Cmd> g = {{&gdma_tensor_layout(), gdma_tensor({}, {}, 0)},
                        {&gdma_tensor_layout(), gdma_tensor({}, {}, 0)},
                        {&gdma_sys_layout(), gdma_sys_end()}};
  auto gb = assemble(g);
  CHECK(gb.size() == 256);
  auto gw = walk_gdma(gb, 3);
  CHECK(gw[2]["cmd_type"] == 6);
  CHECK_THROWS(walk_gdma(gb, 4));
}

TEST_CASE("bm168x: short-form lengths follow §3.3") {
  std::vector<std::uint8_t> c(128, 0);
  auto set = [&](int shrt, int typ, int eu) {
    std::fill(c.begin(), c.end(), 0);
    put_bits(c, 0, 1, static_cast<std::uint64_t>(shrt));
    put_bits(c, 41, 4, static_cast<std::uint64_t>(typ));
    put_bits(c, 45, 5, static_cast<std::uint64_t>(eu));
    return tiu_nominal_bytes(c);
  };
  CHECK(set(0, 12, 0) == 16);
  CHECK(set(0, 0, 0) == 128);
  CHECK(set(1, 0, 0) == 64);
  CHECK(set(1, 1, 0) == 64);
  CHECK(set(1, 6, 0) == 48);
  CHECK(set(1, 4, 0) == 32);
  CHECK(set(1, 2, 4) == 32);
  CHECK(set(1, 2, 1) == 48);
  CHECK(set(1, 3, 24) == 16);
  CHECK(set(1, 3, 2) == 64);
}
