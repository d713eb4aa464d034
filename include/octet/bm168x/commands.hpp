// BM1684X command layouts (TIU long form, the short forms tabled in bm168x.md, SYSID, GDMA
// tensor, GDMA sys) and BM1684's two 128-byte layouts, exactly as the field tables of
// bm168x.md §3–4; builders for the commands Octet's lowering emits; command-stream assembly
// (128-byte tail padding, counts) and the stream walker the runtime uses to cut commands.
// Depends on bm168x/bitfield.hpp and bm168x/chip.hpp only.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "octet/bm168x/bitfield.hpp"
#include "octet/bm168x/chip.hpp"

namespace octet::bm168x {

// ---- codes --------------------------------------------------------------------------------
enum TskTyp : int { kConv = 0, kPorD = 1, kMM = 2, kAR = 3, kRQDQ = 4, kTransBC = 5, kSG = 6, kSys = 15 };
enum PordEu : int { kDepthwise = 0, kAvgPool = 1, kMaxPool = 4 };
enum ArEu : int { kArMul = 0, kArAdd = 2, kArSub = 3, kArMax = 4, kArMin = 5, kArMac = 18, kArCopy = 19 };
enum RqEu : int { kRequantInt = 0, kRequantFloat = 2, kDequantFloat = 3 };
enum SgEu : int { kGatherLut = 0 };
enum SysEu : int { kSysNop = 30, kSysEnd = 31 };
// *_prec: 0 int8, 1 fp16, 2 fp32, 3 int16, 4 int32, 5 bf16, 6 int64 (Octet uses 6 as int64 only)
enum Prec : int { kPInt8 = 0, kPFp16 = 1, kPFp32 = 2, kPInt16 = 3, kPInt32 = 4, kPBf16 = 5, kPInt64 = 6 };
// BM1684X GDMA data formats
enum GdmaFmt : int { kGInt8 = 0, kGFp16 = 1, kGFp32 = 2, kGInt16 = 3, kGInt32 = 4, kGBf16 = 5 };
enum GdmaType : int { kGdmaTensor = 0, kGdmaSys = 6 };

inline int prec_bytes(int prec) {
  switch (prec) {
    case kPInt8: return 1;
    case kPFp16: case kPInt16: case kPBf16: return 2;
    case kPFp32: case kPInt32: return 4;
    case kPInt64: return 8;
  }
  throw ModelError(error_text("tiu", "prec " + std::to_string(prec), "unsupported"));
}
inline int gdma_fmt_bytes(int f) {
  switch (f) {
    case kGInt8: return 1;
    case kGFp16: case kGInt16: case kGBf16: return 2;
    case kGFp32: case kGInt32: return 4;
  }
  throw ModelError(error_text("gdma", "data format " + std::to_string(f), "unsupported"));
}

// ---- layouts (bm168x.md tables, row by row) ------------------------------------------------
inline const Layout& tiu_long_layout() {
  static const Layout l("TIU long", 128, {
      {0, {{"cmd_short", 1}, {"cmd_id", 20}, {"cmd_id_dep", 20}, {"tsk_typ", 4}, {"tsk_eu_typ", 5}}},
      {50, {{"eu_half_en", 1}, {"tsk_opd_num", 2}, {"pad_mode", 2}, {"cmd_id_en", 4}, {"pwr_step", 4}, {"intr_en", 1}}},
      {64, {{"res_add", 1}, {"relu", 1}, {"left_tran", 1}, {"rsvd", 1}, {"kernel_rotate", 1},
            {"opd0_sign", 1}, {"opd1_sign", 1}, {"opd2_sign", 1}}},
      {72, {{"res0_prec", 3}, {"opd0_prec", 3}, {"opd1_prec", 3}, {"opd2_prec", 3}}},
      {84, {{"opd0_const", 1}, {"opd1_const", 1}, {"opd2_const", 1}}},
      {87, {{"res0_str", 3}, {"opd0_str", 3}, {"opd1_str", 3}, {"opd2_str", 3}}},
      {99, {{"res_add_sign", 1}, {"rsvd", 25}, {"rsvd", 1}, {"opd3_const", 1}, {"rsvd", 1}}},
      {128, {{"opd0_x_ins0", 4}, {"opd0_y_ins0", 4}, {"opd1_x_ins0", 4}, {"opd1_y_ins0", 4},
             {"opd0_up_pad", 4}, {"opd0_dn_pad", 4}, {"opd0_lf_pad", 4}, {"opd0_rt_pad", 4}}},
      {160, {{"res_op_x_str", 4}, {"res_op_y_str", 4}, {"res0_h_shift", 4}, {"res0_w_shift", 4},
             {"opd0_h_shift", 4}, {"opd0_w_shift", 4}, {"opd1_h_shift", 4}, {"opd1_w_shift", 4}}},
      {192, {{"tsk_lane_num", 64}}},
      {256, {{"res0_n", 16}, {"res0_c", 16}, {"res0_h", 16}, {"res0_w", 16}, {"opd0_n", 16}, {"opd0_c", 16},
             {"opd0_h", 16}, {"opd0_w", 16}, {"opd1_n", 16}, {"opd1_c", 16}, {"opd1_h", 16}, {"opd1_w", 16}}},
      {448, {{"res0_n_str", 16}, {"res0_c_str", 16}, {"opd0_n_str", 16}, {"opd0_c_str", 16},
             {"opd1_n_str", 16}, {"opd1_c_str", 16}, {"opd2_n_str", 16}, {"opd2_c_str", 16}}},
      {576, {{"res0_addr", 32}, {"opd0_addr", 32}, {"opd1_addr", 32}, {"opd2_addr", 32}}},
      {704, {{"res0_h_str", 32}, {"res0_w_str", 32}, {"opd0_h_str", 32}, {"opd0_w_str", 32},
             {"opd1_h_str", 32}, {"opd1_w_str", 32}, {"opd2_h_str", 32}, {"opd2_w_str", 32}}},
      {960, {{"res1_addr", 32}, {"opd3_addr", 32}}},
  });
  return l;
}

inline const Layout& tiu_sconv_layout() {
  static const Layout l("sCONV", 64, {
      {0, {{"cmd_short", 1}, {"cmd_id", 20}, {"cmd_id_dep", 20}, {"tsk_typ", 4}, {"tsk_eu_typ", 5}}},
      {50, {{"opd0_sign", 1}, {"opd1_sign", 1}, {"opd2_sign", 1}, {"pad_mode", 2}, {"cmd_id_en", 4}, {"pwr_step", 4}, {"res_add", 1}}},
      {64, {{"kernel_rotate", 1}, {"res0_prec", 3}, {"opd0_prec", 3}, {"opd1_const", 1}, {"opd2_const", 1}}},
      {73, {{"opd0_up_pad", 4}, {"opd0_dn_pad", 4}, {"opd0_lf_pad", 4}, {"opd0_rt_pad", 4}, {"res_op_x_str", 4}, {"res_op_y_str", 4}}},
      {97, {{"opd3_const", 1}, {"opd0_str", 3}, {"res0_addr", 26}, {"intr_en", 1}}},
      {128, {{"opd0_x_ins0", 4}, {"opd0_y_ins0", 4}, {"opd1_x_ins0", 4}, {"opd1_y_ins0", 4}, {"opd0_n_str", 16}}},
      {160, {{"res0_n", 16}, {"res0_c", 16}, {"res0_h", 16}, {"res0_w", 16}, {"opd0_c", 16}, {"opd0_h", 16},
             {"opd0_w", 16}, {"opd1_h", 16}, {"opd1_w", 16}, {"opd0_c_str", 16}}},
      {320, {{"opd0_addr", 32}, {"opd1_addr", 32}, {"opd2_addr", 32}, {"res1_addr", 32}, {"opd3_addr", 32}}},
      {480, {{"opd0_h_str", 16}, {"opd0_w_str", 16}}},
  });
  return l;
}

inline const Layout& tiu_sar_layout() {
  static const Layout l("sAR", 64, {
      {0, {{"cmd_short", 1}, {"cmd_id", 20}, {"cmd_id_dep", 20}, {"tsk_typ", 4}, {"tsk_eu_typ", 5}}},
      {50, {{"opd0_const", 1}, {"opd1_const", 1}, {"opd2_const", 1}, {"tsk_opd_num", 2}, {"cmd_id_en", 4}, {"pwr_step", 4}, {"intr_en", 1}}},
      {64, {{"res0_prec", 3}, {"opd0_prec", 3}, {"opd1_prec", 3}, {"opd2_prec", 3}}},
      {76, {{"opd0_sign", 1}, {"opd1_sign", 1}, {"res0_str", 3}, {"opd0_str", 3}, {"opd1_str", 3}, {"opd2_n_str", 3}, {"rsvd", 6}}},
      {96, {{"res0_n", 16}, {"res0_c", 16}, {"res0_h", 16}, {"res0_w", 16}}},
      {160, {{"res0_addr", 32}, {"opd0_addr", 32}, {"opd1_addr", 32}, {"opd2_addr", 32}}},
      {288, {{"res0_n_str", 16}, {"res0_c_str", 16}, {"opd0_n_str", 16}, {"opd0_c_str", 16}, {"opd1_n_str", 16}, {"opd1_c_str", 16}}},
      {384, {{"res0_h_str", 20}, {"res0_w_str", 20}, {"opd0_h_str", 20}, {"opd2_sign", 1}, {"rsvd", 3}}},
      {448, {{"opd0_w_str", 20}, {"opd1_h_str", 20}, {"opd1_w_str", 20}, {"rsvd", 4}}},
  });
  return l;
}

inline const Layout& tiu_smm_layout() {
  static const Layout l("sMM", 48, {
      {0, {{"cmd_short", 1}, {"cmd_id", 20}, {"cmd_id_dep", 20}, {"tsk_typ", 4}, {"tsk_eu_typ", 5}}},
      {50, {{"res_add", 1}, {"left_tran", 1}, {"opd0_const", 1}, {"opd2_const", 1}, {"rsvd", 1},
            {"cmd_id_en", 4}, {"pwr_step", 4}, {"intr_en", 1}}},
      {64, {{"opd0_sign", 1}, {"opd1_sign", 1}, {"opd2_sign", 1}, {"res0_prec", 3}, {"opd0_prec", 3}, {"opd2_n_str", 3}, {"rsvd", 20}}},
      {96, {{"rsvd", 16}, {"res0_c", 16}, {"res0_w", 16}, {"opd0_n", 16}, {"opd0_c", 16}, {"opd0_w", 16}, {"rsvd", 16}, {"opd1_w", 16}}},
      {224, {{"res0_addr", 32}, {"opd0_addr", 32}, {"opd1_addr", 32}, {"opd2_addr", 32}, {"opd3_addr", 32}}},
  });
  return l;
}

inline const Layout& tiu_smm2_layout() {
  static const Layout l("sMM2", 32, {
      {0, {{"cmd_short", 1}, {"cmd_id", 20}, {"cmd_id_dep", 20}, {"tsk_typ", 4}, {"tsk_eu_typ", 5}}},
      {50, {{"opd0_sign", 1}, {"opd1_sign", 1}, {"res0_prec", 3}, {"cmd_id_en", 4}, {"pwr_step", 4}, {"opd2_const", 1}}},
      {64, {{"res0_c", 16}, {"res0_w", 16}, {"opd1_c", 16}, {"opd1_w", 16}}},
      {128, {{"opd0_prec", 3}, {"opd0_const", 1}, {"opd1_const", 1}, {"res_add", 1}, {"res0_addr", 25}, {"intr_en", 1}}},
      {160, {{"opd0_addr", 32}, {"opd1_addr", 32}, {"opd2_addr", 32}}},
  });
  return l;
}

inline const Layout& tiu_sysid_layout() {
  static const Layout l("SYSID", 16, {
      {0, {{"rsvd", 1}, {"cmd_id", 20}, {"cmd_id_dep", 20}, {"tsk_typ", 4}, {"tsk_eu_typ", 5}}},
      {50, {{"rsvd", 5}, {"cmd_id_en", 4}, {"pwr_step", 4}, {"intr_en", 1}}},
      {64, {{"cmd_id_eng1", 20}, {"cmd_id_eng2", 20}, {"cmd_id_eng3", 20}, {"rsvd", 4}}},
  });
  return l;
}

inline std::vector<Row> gdma_header_rows() {
  return {
      {0, {{"intr_en", 1}, {"stride_enable", 1}, {"nchw_copy", 1}, {"cmd_short", 1}, {"decompress_enable", 1},
           {"cmd_id_en", 4}, {"cmd_id", 20}, {"rsvd", 3}}},
      {32, {{"cmd_type", 4}, {"cmd_special_function", 3}, {"fill_constant_en", 1}, {"src_data_format", 3},
            {"mask_data_format", 3}, {"rsvd", 18}}},
      {64, {{"cmd_id_dep", 20}, {"rsvd", 12}}},
      {96, {{"constant_value", 32}}},
  };
}

inline const Layout& gdma_tensor_layout() {
  static const Layout l = [] {
    auto rows = gdma_header_rows();
    rows.push_back({128, {{"src_nstride", 32}, {"src_cstride", 32}, {"src_hstride", 32}, {"src_wstride", 32},
                          {"dst_nstride", 32}, {"dst_cstride", 32}, {"dst_hstride", 32}, {"dst_wstride", 32}}});
    rows.push_back({384, {{"src_nsize", 16}, {"src_csize", 16}, {"src_hsize", 16}, {"src_wsize", 16},
                          {"dst_nsize", 16}, {"dst_csize", 16}, {"dst_hsize", 16}, {"dst_wsize", 16}}});
    rows.push_back({512, {{"src_start_addr_l32", 32}, {"src_start_addr_h8", 8}, {"rsvd", 24}}});
    rows.push_back({576, {{"dst_start_addr_l32", 32}, {"dst_start_addr_h8", 8}, {"rsvd", 24}}});
    rows.push_back({640, {{"rsvd", 64}}});
    rows.push_back({704, {{"localmem_mask_l32", 32}, {"localmem_mask_h32", 32}}});
    return Layout("DMA_tensor", 96, rows);
  }();
  return l;
}

inline const Layout& gdma_sys_layout() {
  static const Layout l("sDMA_sys", 16, gdma_header_rows());
  return l;
}

inline const Layout& bm1684_tiu_layout() {
  static const Layout l("BM1684 TIU", 128, {
      {0, {{"cmd_en", 1}, {"cmd_end", 1}, {"cmd_id_en", 1}, {"cmd_id_tpu", 16}, {"cmd_id_gdma", 16}}},
      {35, {{"cmd_keep", 1}, {"cmd_intr_en", 1}, {"tsk_typ", 4}, {"tsk_eu_typ", 5}, {"tsk_opd_num", 2}}},
      {48, {{"opt_right_shift", 5}, {"opt_left_shift", 5}, {"opt_shift_typ", 1}, {"opt_res_add", 1}, {"opt_relu", 1},
            {"opt_left_tran", 1}, {"opt_winograd", 1}, {"opt_kernel_rotate", 1}}},
      {64, {{"opd0_sign", 1}, {"opd1_sign", 1}, {"opd2_sign", 1}, {"res0_prec", 3}, {"opd0_prec", 3}, {"opd1_prec", 3},
            {"opd2_prec", 3}, {"opd0_const", 1}, {"opd1_const", 1}, {"opd2_const", 1}}},
      {82, {{"res0_str", 3}, {"opd0_str", 3}, {"opd1_str", 3}, {"opd2_str", 3}}},
      {94, {{"opd0_x_ins0", 4}, {"opd0_y_ins0", 4}, {"opd1_x_ins0", 4}, {"opd1_y_ins0", 4}, {"opd0_up_pad", 4},
            {"opd0_dn_pad", 4}, {"opd0_lf_pad", 4}, {"opd0_rt_pad", 4}, {"res_op_x_str", 4}, {"res_op_y_str", 4}}},
      {134, {{"tsk_lane_num", 64}}},
      {198, {{"res0_n", 16}, {"res0_c", 12}, {"res0_h", 16}, {"res0_w", 16}}},
      {258, {{"opd0_n", 16}, {"opd0_c", 12}, {"opd0_h", 16}, {"opd0_w", 16}}},
      {318, {{"opd1_n", 12}, {"opd1_c", 12}, {"opd1_h", 16}, {"opd1_w", 16}}},
      {374, {{"res0_h_shift", 4}, {"res0_w_shift", 4}, {"opd0_h_shift", 4}, {"opd0_w_shift", 4}, {"opd1_h_shift", 4}, {"opd1_w_shift", 4}}},
      {398, {{"res0_n_str", 19}, {"res0_c_str", 19}, {"opd0_n_str", 19}, {"opd0_c_str", 19}, {"opd1_n_str", 19},
             {"opd1_c_str", 19}, {"opd2_n_str", 19}, {"opd2_c_str", 19}}},
      {550, {{"res_add_sign", 1}, {"opd0_neq1", 1}, {"opd1_neq1", 1}, {"opd3_const", 1}, {"rsvd", 22}}},
      {576, {{"res0_addr", 32}, {"opd0_addr", 32}, {"opd1_addr", 32}, {"opd2_addr", 32}, {"res0_h_str", 32},
             {"res0_w_str", 32}, {"opd0_h_str", 32}, {"opd0_w_str", 32}, {"opd1_h_str", 32}, {"opd1_w_str", 32},
             {"opd2_h_str", 32}, {"opd2_w_str", 32}, {"res1_addr", 32}, {"opd3_addr", 32}}},
  });
  return l;
}

inline const Layout& bm1684_gdma_layout() {
  static const Layout l("BM1684 GDMA", 128, {
      {0, {{"pio_gdma_enable", 1}, {"des_type", 1}, {"chain_end", 1}, {"intr_en", 1}, {"barrier_enable", 1},
           {"stride_enable", 1}, {"direction", 2}, {"acc_write_enable", 1}, {"common_mode", 1},
           {"prefetch_disable", 1}, {"hold_des_value", 1}, {"rsvd", 4}, {"cmd_id", 16}}},
      {32, {{"special_func", 3}, {"dst_data_format", 3}, {"chw_copy", 1}, {"sys_mem_type", 1}, {"src_data_format", 3},
            {"lrn_shift_num", 4}, {"lrn_shift_dir", 1}, {"eng0_sync_id", 16}}},
      {64, {{"eng1_sync_id", 16}, {"eng3_sync_id", 16}, {"constant_value", 32}}},
      {128, {{"src_nstride", 32}, {"src_cstride", 32}, {"src_hstride", 32}, {"src_wstride", 32},
             {"dst_nstride", 32}, {"dst_cstride", 32}, {"dst_hstride", 32}, {"dst_wstride", 32}}},
      {384, {{"src_nsize", 16}, {"src_csize", 16}, {"src_hsize", 16}, {"src_wsize", 16},
             {"dst_nsize", 16}, {"dst_csize", 16}, {"dst_hsize", 16}, {"dst_wsize", 16}}},
      {512, {{"src_start_addr_l32", 32}, {"dst_start_addr_l32", 32}, {"src_start_addr_h8", 8}, {"dst_start_addr_h8", 8}}},
      {592, {{"src_hshift", 24}, {"src_wshift", 8}, {"dst_hshift", 8}, {"dst_wshift", 8}}},
      {640, {{"localmem_mask_l32", 32}, {"localmem_mask_h32", 32}, {"single_step", 1}, {"debug_mode", 1}}},
  });
  return l;
}

// ---- TIU cutting (bm168x.md §3.3) ----------------------------------------------------------
inline int tiu_nominal_bytes(std::span<const std::uint8_t> cmd) {
  const bool shrt = get_bits(cmd, 0, 1) != 0;
  const int typ = static_cast<int>(get_bits(cmd, 41, 4));
  const int eu = static_cast<int>(get_bits(cmd, 45, 5));
  if (typ == 15 || typ == 12) return 16;
  if (!shrt) return 128;
  switch (typ) {
    case 0: case 1: return 64;
    case 6: case 13: case 14: return 48;
    case 4: case 5: case 9: case 10: return 32;
    case 2: return eu > 3 ? 32 : 48;
    case 3: return (eu == 24 || eu == 25) ? 16 : 64;
  }
  return 128;
}

// The layout a decoder uses for a TIU command, chosen by (cmd_short, tsk_typ, tsk_eu_typ).
inline const Layout& tiu_layout_for(std::span<const std::uint8_t> cmd) {
  const bool shrt = get_bits(cmd, 0, 1) != 0;
  const int typ = static_cast<int>(get_bits(cmd, 41, 4));
  const int eu = static_cast<int>(get_bits(cmd, 45, 5));
  if (typ == 15) return tiu_sysid_layout();
  if (!shrt) return tiu_long_layout();
  if (typ == 0) return tiu_sconv_layout();
  if (typ == 3 && eu != 24 && eu != 25) return tiu_sar_layout();
  if (typ == 2) return eu > 3 ? tiu_smm2_layout() : tiu_smm_layout();
  throw UnsupportedError(error_text("tiu decode", "short tsk_typ " + std::to_string(typ) + " eu " + std::to_string(eu),
                                    "field table not known"));
}

// ---- command streams --------------------------------------------------------------------
struct Cmd {
  const Layout* layout;
  Fields f;
};

struct CmdGroupBytes {
  std::vector<std::uint8_t> tiu, gdma;
  std::uint32_t tiu_num = 0, gdma_num = 0;
};

// Concatenates commands; the last one is stretched with zeros so the stream ends on a 128-byte
// boundary from its start (bm168x.md §3.6).
inline std::vector<std::uint8_t> assemble(const std::vector<Cmd>& cmds) {
  std::vector<std::uint8_t> out;
  for (const auto& c : cmds) {
    auto b = encode(*c.layout, c.f);
    out.insert(out.end(), b.begin(), b.end());
  }
  out.resize(static_cast<std::size_t>(align_up(out.size(), 128)), 0);
  return out;
}

// Walks a TIU stream of `num` commands the way the runtime does.
inline std::vector<Fields> walk_tiu(std::span<const std::uint8_t> s, std::uint32_t num, std::vector<const Layout*>* layouts = nullptr) {
  std::vector<Fields> out;
  std::size_t o = 0;
  for (std::uint32_t i = 0; i < num; ++i) {
    if (o + 16 > s.size()) throw IoError(error_text("tiu stream", "command " + std::to_string(i) + " past the end"));
    auto cmd = s.subspan(o);
    const Layout& l = tiu_layout_for(cmd);
    const int len = tiu_nominal_bytes(cmd);
    if (o + static_cast<std::size_t>(len) > s.size())
      throw IoError(error_text("tiu stream", "command " + std::to_string(i) + " truncated"));
    out.push_back(decode(l, cmd));
    if (layouts) layouts->push_back(&l);
    o += static_cast<std::size_t>(len);
  }
  return out;
}

inline std::vector<Fields> walk_gdma(std::span<const std::uint8_t> s, std::uint32_t num, std::vector<const Layout*>* layouts = nullptr) {
  std::vector<Fields> out;
  std::size_t o = 0;
  for (std::uint32_t i = 0; i < num; ++i) {
    if (o + 16 > s.size()) throw IoError(error_text("gdma stream", "command " + std::to_string(i) + " past the end"));
    auto cmd = s.subspan(o);
    const int type = static_cast<int>(get_bits(cmd, 32, 4));
    const Layout& l = type == kGdmaSys ? gdma_sys_layout() : gdma_tensor_layout();
    if (type != kGdmaSys && type != kGdmaTensor)
      throw UnsupportedError(error_text("gdma decode", "cmd_type " + std::to_string(type), "not supported"));
    if (o + static_cast<std::size_t>(l.bytes()) > s.size())
      throw IoError(error_text("gdma stream", "command " + std::to_string(i) + " truncated"));
    out.push_back(decode(l, cmd));
    if (layouts) layouts->push_back(&l);
    o += 96;  // every non-final GDMA command is 96 bytes
  }
  return out;
}

// ---- builders --------------------------------------------------------------------------------
// A local-memory operand: address (0 <= a < 16 MiB, TIU form), NCHW sizes, precision, sign.
struct LocalOpd {
  std::uint32_t addr = 0;
  int n = 1, c = 1, h = 1, w = 1;
  int prec = kPInt8;
  bool sign = true;
};

inline Fields tiu_header(int typ, int eu) {
  Fields f;
  f.set("cmd_short") = 0;
  f.set("tsk_typ") = static_cast<std::uint64_t>(typ);
  f.set("tsk_eu_typ") = static_cast<std::uint64_t>(eu);
  f.set("tsk_lane_num") = ~std::uint64_t{0};
  return f;
}

inline void set_opd(Fields& f, const char* p, const LocalOpd& o) {
  const std::string s(p);
  f.set(s + "_addr") = o.addr;
  f.set(s + "_prec") = static_cast<std::uint64_t>(o.prec);
  if (s != "res0") f.set(s + "_sign") = o.sign ? 1 : 0;
  f.set(s + "_str") = 0;  // aligned layout
}

struct ConvGeom {
  int kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  int pad_t = 0, pad_b = 0, pad_l = 0, pad_r = 0;
};

inline void set_geom(Fields& f, const ConvGeom& g) {
  f.set("opd1_h") = static_cast<std::uint64_t>(g.kh);
  f.set("opd1_w") = static_cast<std::uint64_t>(g.kw);
  f.set("res_op_y_str") = static_cast<std::uint64_t>(g.sh);
  f.set("res_op_x_str") = static_cast<std::uint64_t>(g.sw);
  f.set("opd1_y_ins0") = static_cast<std::uint64_t>(g.dh - 1);
  f.set("opd1_x_ins0") = static_cast<std::uint64_t>(g.dw - 1);
  f.set("opd0_up_pad") = static_cast<std::uint64_t>(g.pad_t);
  f.set("opd0_dn_pad") = static_cast<std::uint64_t>(g.pad_b);
  f.set("opd0_lf_pad") = static_cast<std::uint64_t>(g.pad_l);
  f.set("opd0_rt_pad") = static_cast<std::uint64_t>(g.pad_r);
}

inline void set_res_shape(Fields& f, const LocalOpd& r) {
  f.set("res0_n") = static_cast<std::uint64_t>(r.n);
  f.set("res0_c") = static_cast<std::uint64_t>(r.c);
  f.set("res0_h") = static_cast<std::uint64_t>(r.h);
  f.set("res0_w") = static_cast<std::uint64_t>(r.w);
}
inline void set_in_shape(Fields& f, const LocalOpd& i) {
  f.set("opd0_n") = static_cast<std::uint64_t>(i.n);
  f.set("opd0_c") = static_cast<std::uint64_t>(i.c);
  f.set("opd0_h") = static_cast<std::uint64_t>(i.h);
  f.set("opd0_w") = static_cast<std::uint64_t>(i.w);
}

// CONV eu 0: res(int32) = sum over (ic, kh, kw) of in * weight + bias; weights are a local
// tensor (1, oc, 1, ic*kh*kw) int8, bias (1, oc, 1, 1) int32. res_add accumulates.
inline Fields tiu_conv(const LocalOpd& res, const LocalOpd& in, std::uint32_t weight_addr, std::uint32_t bias_addr,
                       bool has_bias, const ConvGeom& g) {
  Fields f = tiu_header(kConv, 0);
  f.set("tsk_opd_num") = has_bias ? 3 : 2;
  set_opd(f, "res0", res);
  set_opd(f, "opd0", in);
  set_opd(f, "opd1", LocalOpd{weight_addr, 1, res.c, 1, in.c * g.kh * g.kw, kPInt8, true});
  set_opd(f, "opd2", LocalOpd{bias_addr, 1, res.c, 1, 1, kPInt32, true});
  if (!has_bias) {
    f.set("opd2_const") = 1;
    f.set("opd2_addr") = 0;
  }
  set_res_shape(f, res);
  set_in_shape(f, in);
  set_geom(f, g);
  return f;
}

// PorD: depthwise (eu 0, weights (1, c, 1, kh*kw) int8, bias int32 -> int32), avg pool
// (eu 1, window sum -> int32), max pool (eu 4, max over the in-bounds window, same dtype).
inline Fields tiu_pord(int eu, const LocalOpd& res, const LocalOpd& in, std::uint32_t weight_addr,
                       std::uint32_t bias_addr, bool has_bias, const ConvGeom& g) {
  Fields f = tiu_header(kPorD, eu);
  set_opd(f, "res0", res);
  set_opd(f, "opd0", in);
  if (eu == kDepthwise) {
    f.set("tsk_opd_num") = 3;
    set_opd(f, "opd1", LocalOpd{weight_addr, 1, res.c, 1, g.kh * g.kw, kPInt8, true});
    set_opd(f, "opd2", LocalOpd{bias_addr, 1, res.c, 1, 1, kPInt32, true});
    if (!has_bias) f.set("opd2_const") = 1, f.set("opd2_addr") = 0;
  } else {
    f.set("tsk_opd_num") = 1;
    f.set("opd1_const") = 1;
  }
  set_res_shape(f, res);
  set_in_shape(f, in);
  set_geom(f, g);
  return f;
}

// AR elementwise: res = op(opd0, opd1) (mul, add, sub, max, min, mac, copy); opd1 may be an
// immediate (opd1_const, the value in opd1_addr as int32). mac: res += opd0 * opd1.
inline Fields tiu_ar(int eu, const LocalOpd& res, const LocalOpd& a, const LocalOpd* b, std::int32_t imm = 0) {
  Fields f = tiu_header(kAR, eu);
  set_opd(f, "res0", res);
  set_opd(f, "opd0", a);
  set_res_shape(f, res);
  if (eu == kArCopy) {
    f.set("tsk_opd_num") = 1;
  } else if (b) {
    f.set("tsk_opd_num") = 2;
    set_opd(f, "opd1", *b);
  } else {
    f.set("tsk_opd_num") = 2;
    f.set("opd1_const") = 1;
    f.set("opd1_prec") = kPInt32;
    f.set("opd1_sign") = 1;
    f.set("opd1_addr") = static_cast<std::uint32_t>(imm);
  }
  return f;
}

// RQ eu 0 (integer requant): res = clamp(sat32(rounding_right_shift(x * m, sh)), lo, hi) with
// x int32/int64/int8 from opd0; (m, sh) per channel from an int32 pair tensor (1, c, 1, 2) at
// opd1_addr, or one immediate pair (opd1_const: m in opd1_addr, shift in opd3_addr). The clamp
// range is the opd2 immediate: lo in bits 0-15, hi in bits 16-31 (two's complement int16).
// RQ eu 2 (float -> int8): quantize_value(x, scale) with the float scale's bits in opd1_addr.
// DQ eu 3 (int8 -> float): float(q) * scale, scale bits in opd1_addr.
inline std::uint32_t pack_range(int lo, int hi) {
  return (static_cast<std::uint32_t>(static_cast<std::uint16_t>(lo))) |
         (static_cast<std::uint32_t>(static_cast<std::uint16_t>(hi)) << 16);
}
inline Fields tiu_rq(int eu, const LocalOpd& res, const LocalOpd& in, bool per_channel, std::uint32_t param_addr,
                     std::int32_t m, int sh, int lo, int hi) {
  Fields f = tiu_header(kRQDQ, eu);
  f.set("tsk_opd_num") = 3;
  set_opd(f, "res0", res);
  set_opd(f, "opd0", in);
  set_res_shape(f, res);
  if (per_channel) {
    set_opd(f, "opd1", LocalOpd{param_addr, 1, res.c, 1, 2, kPInt32, true});
  } else {
    f.set("opd1_const") = 1;
    f.set("opd1_prec") = kPInt32;
    f.set("opd1_addr") = static_cast<std::uint32_t>(m);
    f.set("opd3_const") = 1;
    f.set("opd3_addr") = static_cast<std::uint32_t>(sh);
  }
  f.set("opd2_const") = 1;
  f.set("opd2_addr") = pack_range(lo, hi);
  return f;
}

// MM eu 1 (encoded and simulated; the lowering maps InnerProduct onto CONV 1x1 instead):
// res(opd0_n x res0_c*res0_w, int32) = left(opd0_n x K) * right(K x res0_c*res0_w) + bias.
inline Fields tiu_mm(const LocalOpd& res, std::uint32_t left, int rows, int k, std::uint32_t right, std::uint32_t bias) {
  Fields f = tiu_header(kMM, 1);
  f.set("tsk_opd_num") = 3;
  set_opd(f, "res0", res);
  f.set("opd0_addr") = left;
  f.set("opd1_addr") = right;
  f.set("opd2_addr") = bias;
  f.set("opd0_sign") = 1;
  f.set("opd1_sign") = 1;
  f.set("opd2_prec") = kPInt32;
  f.set("opd0_n") = static_cast<std::uint64_t>(rows);
  f.set("opd0_c") = 1;
  f.set("opd0_w") = static_cast<std::uint64_t>(k);
  f.set("opd1_w") = static_cast<std::uint64_t>(k);
  set_res_shape(f, res);
  return f;
}

// SG eu 0 as Octet's LUT: res[i] = table[x + 128] (signed opd0) or table[x], the 256-byte table
// at opd1_addr in every lane.
inline Fields tiu_lut(const LocalOpd& res, const LocalOpd& in, std::uint32_t table_addr) {
  Fields f = tiu_header(kSG, kGatherLut);
  f.set("tsk_opd_num") = 2;
  set_opd(f, "res0", res);
  set_opd(f, "opd0", in);
  set_res_shape(f, res);
  f.set("opd1_addr") = table_addr;
  return f;
}

inline Fields tiu_sys_end() {
  Fields f;
  f.set("tsk_typ") = kSys;
  f.set("tsk_eu_typ") = kSysEnd;
  return f;
}

// A GDMA tensor move. Addresses: DDR >= 0x1_0000_0000, local as the window address
// 0x0800_0000 + a. Sizes/strides in elements; a local side's cstride is the stride between
// channel slots in a lane (see bm168x.md §2.1).
struct GdmaSide {
  std::uint64_t addr = 0;
  int n = 1, c = 1, h = 1, w = 1;
  std::uint32_t ns = 0, cs = 0, hs = 0, ws = 1;
};

inline Fields gdma_tensor(const GdmaSide& src, const GdmaSide& dst, int fmt) {
  Fields f;
  f.set("cmd_type") = kGdmaTensor;
  f.set("stride_enable") = 1;
  f.set("src_data_format") = static_cast<std::uint64_t>(fmt);
  f.set("src_nstride") = src.ns; f.set("src_cstride") = src.cs; f.set("src_hstride") = src.hs; f.set("src_wstride") = src.ws;
  f.set("dst_nstride") = dst.ns; f.set("dst_cstride") = dst.cs; f.set("dst_hstride") = dst.hs; f.set("dst_wstride") = dst.ws;
  f.set("src_nsize") = static_cast<std::uint64_t>(src.n); f.set("src_csize") = static_cast<std::uint64_t>(src.c);
  f.set("src_hsize") = static_cast<std::uint64_t>(src.h); f.set("src_wsize") = static_cast<std::uint64_t>(src.w);
  f.set("dst_nsize") = static_cast<std::uint64_t>(dst.n); f.set("dst_csize") = static_cast<std::uint64_t>(dst.c);
  f.set("dst_hsize") = static_cast<std::uint64_t>(dst.h); f.set("dst_wsize") = static_cast<std::uint64_t>(dst.w);
  f.set("src_start_addr_l32") = src.addr & 0xFFFFFFFFu;
  f.set("src_start_addr_h8") = (src.addr >> 32) & 0xFFu;
  f.set("dst_start_addr_l32") = dst.addr & 0xFFFFFFFFu;
  f.set("dst_start_addr_h8") = (dst.addr >> 32) & 0xFFu;
  f.set("localmem_mask_l32") = 0xFFFFFFFFu;
  f.set("localmem_mask_h32") = 0xFFFFFFFFu;
  return f;
}
inline std::uint64_t gdma_src(const Fields& f) { return f["src_start_addr_l32"] | (f["src_start_addr_h8"] << 32); }
inline std::uint64_t gdma_dst(const Fields& f) { return f["dst_start_addr_l32"] | (f["dst_start_addr_h8"] << 32); }

inline Fields gdma_sys_end() {
  Fields f;
  f.set("cmd_type") = kGdmaSys;
  return f;
}

}  // namespace octet::bm168x
