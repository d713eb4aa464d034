// cmodel: a functional simulator of the BM1684X command streams Octet emits. It decodes each
// CmdGroup's TIU and GDMA streams with the same tables as the encoder, and executes them over a
// simulated DDR and 64 lanes of local memory, honouring cmd_id / cmd_id_dep: a command with
// dep d > 0 waits until the other engine has completed its command with cmd_id d (ids count
// from 1 per engine per group; 0 = no dependency; both engines run in order). Two schedules
// (GDMA-greedy and TIU-greedy) run the same streams in different legal orders, so a missing
// dependency shows up as a result that differs between them. Every integer rule is a call into
// fixed/ (docs/arithmetic.md), the same calls the int8 runtime makes. The operand semantics are
// Octet's reading of bm168x.md §3, documented in docs/bmnetu.md.
// Depends on bm168x/commands.hpp, bm168x/chip.hpp, fixed/ and core/ only.
#pragma once
#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "octet/bm168x/chip.hpp"
#include "octet/bm168x/commands.hpp"
#include "octet/core/error.hpp"
#include "octet/fixed/quantize.hpp"
#include "octet/fixed/requant.hpp"
#include "octet/fixed/rounding.hpp"
#include "octet/fixed/saturate.hpp"

namespace octet::bm168x {

enum class Schedule { GdmaFirst, TiuFirst };

class CModel {
 public:
  // DDR covers [ddr_lo, ddr_lo + ddr_bytes) (coefficients then neurons).
  CModel(const Chip& chip, std::uint64_t ddr_lo, std::uint64_t ddr_bytes)
      : chip_(chip), ddr_lo_(ddr_lo), ddr_(ddr_bytes, 0), local_(chip.total_local_bytes(), 0) {}

  std::uint8_t* ddr(std::uint64_t addr, std::uint64_t len) {
    if (addr < ddr_lo_ || addr + len > ddr_lo_ + ddr_.size())
      throw ModelError(error_text("cmodel", "DDR access [" + hex(addr) + ", +" + std::to_string(len) + ") outside simulated memory"));
    return ddr_.data() + (addr - ddr_lo_);
  }
  std::vector<std::uint8_t>& local() { return local_; }

  struct Stats {
    std::uint64_t tiu = 0, gdma = 0;
  };

  void run_group(const CmdGroupBytes& g, Schedule sched = Schedule::GdmaFirst) {
    const auto tiu = walk_tiu(g.tiu, g.tiu_num);
    const auto dma = walk_gdma(g.gdma, g.gdma_num);
    for (std::size_t i = 0; i < tiu.size(); ++i)
      if (tiu[i]["cmd_id"] != i + 1) throw ModelError(error_text("cmodel", "TIU command " + std::to_string(i), "cmd_id is not sequential"));
    for (std::size_t i = 0; i < dma.size(); ++i)
      if (dma[i]["cmd_id"] != i + 1) throw ModelError(error_text("cmodel", "GDMA command " + std::to_string(i), "cmd_id is not sequential"));
    std::size_t ti = 0, gi = 0;
    while (ti < tiu.size() || gi < dma.size()) {
      const bool t_ready = ti < tiu.size() && tiu[ti]["cmd_id_dep"] <= gi;
      const bool g_ready = gi < dma.size() && dma[gi]["cmd_id_dep"] <= ti;
      if (!t_ready && !g_ready)
        throw ModelError(error_text("cmodel", "deadlock: TIU " + std::to_string(ti + 1) + " waits for GDMA " +
                                                  (ti < tiu.size() ? std::to_string(tiu[ti]["cmd_id_dep"]) : "-") + ", GDMA " +
                                                  std::to_string(gi + 1) + " waits for TIU " +
                                                  (gi < dma.size() ? std::to_string(dma[gi]["cmd_id_dep"]) : "-")));
      const bool pick_gdma = sched == Schedule::GdmaFirst ? g_ready : !t_ready;
      if (pick_gdma) exec_gdma(dma[gi++]);
      else exec_tiu(tiu[ti++]);
    }
    stats_.tiu += tiu.size();
    stats_.gdma += dma.size();
  }
  const Stats& stats() const { return stats_; }

  // ---- operand views -------------------------------------------------------------------------
  struct View {
    std::uint64_t addr = 0;  // TIU local address
    int n = 1, c = 1, h = 1, w = 1;
    int bytes = 1;
    bool sign = true;
    bool is_float = false;
    std::int64_t ns = 0, cs = 0, hs = 0, ws = 1;  // elements, per lane (cs: between channel slots)
  };

  View aligned(std::uint64_t addr, int n, int c, int h, int w, int prec, bool sign) const {
    View v;
    v.addr = addr, v.n = n, v.c = c, v.h = h, v.w = w;
    v.bytes = prec_bytes(prec);
    v.sign = sign;
    v.is_float = prec == kPFp32;
    v.ws = 1;
    v.hs = w;
    v.cs = static_cast<std::int64_t>(align_up(static_cast<std::uint64_t>(h) * w, static_cast<std::uint64_t>(chip_.eu_num(v.bytes < 8 ? v.bytes : 4))));
    v.ns = static_cast<std::int64_t>(ceil_div(static_cast<std::uint64_t>(c), static_cast<std::uint64_t>(chip_.npu_num))) * v.cs;
    return v;
  }

  std::size_t local_offset(const View& v, int n, int c, int h, int w) const {
    const std::uint64_t lane = chip_.local_mem_bytes;
    const std::uint64_t npu0 = v.addr / lane, off0 = v.addr % lane;
    const std::uint64_t cc = static_cast<std::uint64_t>(c) + npu0;
    const std::uint64_t npu = cc % static_cast<std::uint64_t>(chip_.npu_num), slot = cc / static_cast<std::uint64_t>(chip_.npu_num);
    const std::uint64_t off = off0 + static_cast<std::uint64_t>((n * v.ns + static_cast<std::int64_t>(slot) * v.cs + h * v.hs + w * v.ws) * v.bytes);
    if (off + static_cast<std::uint64_t>(v.bytes) > lane)
      throw ModelError(error_text("cmodel", "local access past the end of lane " + std::to_string(npu) + " (offset " + std::to_string(off) + ")"));
    return static_cast<std::size_t>(npu * lane + off);
  }

  std::int64_t load_int(const std::uint8_t* p, int bytes, bool sign) const {
    switch (bytes) {
      case 1: return sign ? std::int64_t(static_cast<std::int8_t>(*p)) : std::int64_t(*p);
      case 2: { std::uint16_t u; std::memcpy(&u, p, 2); return sign ? std::int64_t(static_cast<std::int16_t>(u)) : std::int64_t(u); }
      case 4: { std::uint32_t u; std::memcpy(&u, p, 4); return sign ? std::int64_t(static_cast<std::int32_t>(u)) : std::int64_t(u); }
      default: { std::int64_t s; std::memcpy(&s, p, 8); return s; }
    }
  }
  void store_int(std::uint8_t* p, int bytes, std::int64_t v) const {
    switch (bytes) {
      case 1: *p = static_cast<std::uint8_t>(v); break;
      case 2: { auto u = static_cast<std::uint16_t>(v); std::memcpy(p, &u, 2); break; }
      case 4: { auto u = static_cast<std::uint32_t>(v); std::memcpy(p, &u, 4); break; }
      default: std::memcpy(p, &v, 8);
    }
  }
  std::int64_t get(const View& v, int n, int c, int h, int w) const {
    return load_int(local_.data() + local_offset(v, n, c, h, w), v.bytes, v.sign);
  }
  float getf(const View& v, int n, int c, int h, int w) const {
    float f;
    std::memcpy(&f, local_.data() + local_offset(v, n, c, h, w), 4);
    return f;
  }
  // Stores with saturation to the result precision (int8 saturates signed or unsigned by `sign`).
  void put(const View& v, int n, int c, int h, int w, std::int64_t x) {
    std::int64_t s = x;
    if (v.bytes == 1) s = v.sign ? fixed::saturate_int8(x) : fixed::saturate_uint8(x);
    else if (v.bytes == 2) s = fixed::saturate_int16(x);
    else if (v.bytes == 4) s = fixed::saturate_int32(x);
    store_int(local_.data() + local_offset(v, n, c, h, w), v.bytes, s);
  }
  void putf(const View& v, int n, int c, int h, int w, float x) {
    std::memcpy(local_.data() + local_offset(v, n, c, h, w), &x, 4);
  }

 private:
  static std::string hex(std::uint64_t a) {
    char b[32];
    std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(a));
    return b;
  }
  int I(const Fields& f, const char* n) const { return static_cast<int>(f[n]); }

  View opd(const Fields& f, const std::string& p, int n, int c, int h, int w) const {
    const int prec = static_cast<int>(f[p + "_prec"]);
    const bool sign = p == "res0" ? f["opd0_sign"] != 0 : f[p + "_sign"] != 0;
    View v = aligned(f[p + "_addr"], n, c, h, w, prec, sign);
    if (f[p + "_str"] == 3) {  // free strides (elements; c = between channel slots of a lane)
      v.ns = static_cast<std::int64_t>(f[p + "_n_str"]);
      v.cs = static_cast<std::int64_t>(f[p + "_c_str"]);
      v.hs = static_cast<std::int64_t>(f[p + "_h_str"]);
      v.ws = static_cast<std::int64_t>(f[p + "_w_str"]);
    }
    return v;
  }

  void exec_tiu(const Fields& f) {
    const int typ = I(f, "tsk_typ"), eu = I(f, "tsk_eu_typ");
    const int N = I(f, "res0_n"), C = I(f, "res0_c"), H = I(f, "res0_h"), W = I(f, "res0_w");
    switch (typ) {
      case kSys: return;
      case kConv: return conv(f, N, C, H, W, false);
      case kPorD: return eu == kDepthwise ? conv(f, N, C, H, W, true) : pool(f, eu, N, C, H, W);
      case kAR: return ar(f, eu, N, C, H, W);
      case kRQDQ: return rq(f, eu, N, C, H, W);
      case kSG: if (eu == kGatherLut) return lut(f, N, C, H, W); break;
      default: break;
    }
    throw UnsupportedError(error_text("cmodel", "TIU tsk_typ " + std::to_string(typ) + " eu " + std::to_string(eu), "not simulated"));
  }

  void conv(const Fields& f, int N, int C, int H, int W, bool depthwise) {
    const int IC = I(f, "opd0_c"), IH = I(f, "opd0_h"), IW = I(f, "opd0_w");
    const int kh = I(f, "opd1_h"), kw = I(f, "opd1_w"), sh = I(f, "res_op_y_str"), sw = I(f, "res_op_x_str");
    const int dh = I(f, "opd1_y_ins0") + 1, dw = I(f, "opd1_x_ins0") + 1, pt = I(f, "opd0_up_pad"), pl = I(f, "opd0_lf_pad");
    const View in = opd(f, "opd0", N, IC, IH, IW);
    const View wt = opd(f, "opd1", 1, C, 1, depthwise ? kh * kw : IC * kh * kw);
    const View bias = opd(f, "opd2", 1, C, 1, 1);
    const bool has_bias = f["opd2_const"] == 0;
    const View res = opd(f, "res0", N, C, H, W);
    const bool acc_in = f["res_add"] != 0;
    for (int n = 0; n < N; ++n)
      for (int oc = 0; oc < C; ++oc)
        for (int oh = 0; oh < H; ++oh)
          for (int ow = 0; ow < W; ++ow) {
            std::int64_t acc = has_bias ? get(bias, 0, oc, 0, 0) : 0;
            const int ic0 = depthwise ? oc : 0, ic1 = depthwise ? oc + 1 : IC;
            for (int ic = ic0; ic < ic1; ++ic)
              for (int y = 0; y < kh; ++y) {
                const int ih = oh * sh - pt + y * dh;
                if (ih < 0 || ih >= IH) continue;
                for (int x = 0; x < kw; ++x) {
                  const int iw = ow * sw - pl + x * dw;
                  if (iw < 0 || iw >= IW) continue;
                  const int k = depthwise ? y * kw + x : (ic * kh + y) * kw + x;
                  acc += get(in, n, ic, ih, iw) * get(wt, 0, oc, 0, k);
                }
              }
            if (acc_in) acc += get(res, n, oc, oh, ow);
            put(res, n, oc, oh, ow, acc);
          }
  }

  void pool(const Fields& f, int eu, int N, int C, int H, int W) {
    const int IH = I(f, "opd0_h"), IW = I(f, "opd0_w");
    const int kh = I(f, "opd1_h"), kw = I(f, "opd1_w"), sh = I(f, "res_op_y_str"), sw = I(f, "res_op_x_str");
    const int pt = I(f, "opd0_up_pad"), pl = I(f, "opd0_lf_pad");
    const View in = opd(f, "opd0", N, C, IH, IW);
    const View res = opd(f, "res0", N, C, H, W);
    if (eu != kAvgPool && eu != kMaxPool) throw UnsupportedError(error_text("cmodel", "PorD eu " + std::to_string(eu), "not simulated"));
    for (int n = 0; n < N; ++n)
      for (int c = 0; c < C; ++c)
        for (int oh = 0; oh < H; ++oh)
          for (int ow = 0; ow < W; ++ow) {
            std::int64_t acc = eu == kMaxPool ? std::numeric_limits<std::int64_t>::min() : 0;
            bool any = false;
            for (int y = 0; y < kh; ++y) {
              const int ih = oh * sh - pt + y;
              if (ih < 0 || ih >= IH) continue;
              for (int x = 0; x < kw; ++x) {
                const int iw = ow * sw - pl + x;
                if (iw < 0 || iw >= IW) continue;
                const std::int64_t v = get(in, n, c, ih, iw);
                acc = eu == kMaxPool ? std::max(acc, v) : acc + v;
                any = true;
              }
            }
            put(res, n, c, oh, ow, any ? acc : 0);
          }
  }

  void ar(const Fields& f, int eu, int N, int C, int H, int W) {
    const View a = opd(f, "opd0", N, C, H, W);
    const View r = opd(f, "res0", N, C, H, W);
    const bool bconst = f["opd1_const"] != 0;
    const View b = opd(f, "opd1", N, C, H, W);
    const std::int64_t imm = f.s32("opd1_addr");
    for (int n = 0; n < N; ++n)
      for (int c = 0; c < C; ++c)
        for (int h = 0; h < H; ++h)
          for (int w = 0; w < W; ++w) {
            const std::int64_t x = get(a, n, c, h, w);
            const std::int64_t y = eu == kArCopy ? 0 : (bconst ? imm : get(b, n, c, h, w));
            std::int64_t o;
            switch (eu) {
              case kArMul: o = x * y; break;
              case kArAdd: o = x + y; break;
              case kArSub: o = x - y; break;
              case kArMax: o = std::max(x, y); break;
              case kArMin: o = std::min(x, y); break;
              case kArMac: o = get(r, n, c, h, w) + x * y; break;
              case kArCopy: o = x; break;
              default: throw UnsupportedError(error_text("cmodel", "AR eu " + std::to_string(eu), "not simulated"));
            }
            put(r, n, c, h, w, o);
          }
  }

  static fixed::QRange range_of(int lo, int hi) {
    if (lo == 0 && hi == 255) return fixed::QRange::uint8;
    if (lo == -128) return fixed::QRange::int8_full;
    return fixed::QRange::int8_sym;
  }

  void rq(const Fields& f, int eu, int N, int C, int H, int W) {
    const View a = opd(f, "opd0", N, C, H, W);
    View r = opd(f, "res0", N, C, H, W);
    const std::uint32_t rng = static_cast<std::uint32_t>(f["opd2_addr"]);
    const int lo = static_cast<std::int16_t>(rng & 0xFFFF), hi = static_cast<std::int16_t>(rng >> 16);
    r.sign = lo < 0;
    if (eu == kDequantFloat) {
      const float scale = std::bit_cast<float>(static_cast<std::uint32_t>(f["opd1_addr"]));
      for (int n = 0; n < N; ++n)
        for (int c = 0; c < C; ++c)
          for (int h = 0; h < H; ++h)
            for (int w = 0; w < W; ++w) putf(r, n, c, h, w, fixed::dequantize(static_cast<int>(get(a, n, c, h, w)), scale));
      return;
    }
    if (eu == kRequantFloat) {
      const float scale = std::bit_cast<float>(static_cast<std::uint32_t>(f["opd1_addr"]));
      for (int n = 0; n < N; ++n)
        for (int c = 0; c < C; ++c)
          for (int h = 0; h < H; ++h)
            for (int w = 0; w < W; ++w) put(r, n, c, h, w, fixed::quantize_value(getf(a, n, c, h, w), scale, range_of(lo, hi)));
      return;
    }
    if (eu != kRequantInt) throw UnsupportedError(error_text("cmodel", "RQ eu " + std::to_string(eu), "not simulated"));
    const bool pc = f["opd1_const"] == 0;
    const View prm = opd(f, "opd1", 1, C, 1, 2);
    for (int c = 0; c < C; ++c) {
      const std::int32_t m = pc ? static_cast<std::int32_t>(get(prm, 0, c, 0, 0)) : static_cast<std::int32_t>(f.s32("opd1_addr"));
      const int sh = pc ? static_cast<int>(get(prm, 0, c, 0, 1)) : static_cast<int>(f["opd3_addr"]);
      if (sh < 0 || sh > fixed::kMaxRequantShift) throw ModelError(error_text("cmodel", "RQ shift " + std::to_string(sh), "outside [0, 63]"));
      for (int n = 0; n < N; ++n)
        for (int h = 0; h < H; ++h)
          for (int w = 0; w < W; ++w) {
            const std::int64_t x = get(a, n, c, h, w);
            std::int32_t v;
            if (x >= std::numeric_limits<std::int32_t>::min() && x <= std::numeric_limits<std::int32_t>::max())
              v = fixed::multiply_by_quantized_multiplier(static_cast<std::int32_t>(x), m, sh);
            else if (m == 1)
              v = fixed::saturate_int32(fixed::rounding_right_shift(x, sh));
            else
              throw ModelError(error_text("cmodel", "RQ of a 64-bit operand needs multiplier 1"));
            put(r, n, c, h, w, fixed::clamp_to<std::int32_t>(v, lo, hi));
          }
    }
  }

  void lut(const Fields& f, int N, int C, int H, int W) {
    const View a = opd(f, "opd0", N, C, H, W);
    View r = opd(f, "res0", N, C, H, W);
    r.sign = true;  // table bytes are stored as they are
    const View table = aligned(f["opd1_addr"], 1, C, 1, 256, kPInt8, false);
    for (int n = 0; n < N; ++n)
      for (int c = 0; c < C; ++c)
        for (int h = 0; h < H; ++h)
          for (int w = 0; w < W; ++w) {
            const std::int64_t x = get(a, n, c, h, w);
            const std::int64_t idx = a.sign ? x + 128 : x;
            const std::uint8_t byte = local_[local_offset(table, 0, c, 0, static_cast<int>(idx))];
            local_[local_offset(r, n, c, h, w)] = byte;
          }
  }

  // GDMA tensor: element i of the source (NCHW order) goes to element i of the destination.
  void exec_gdma(const Fields& f) {
    const int type = static_cast<int>(f["cmd_type"]);
    if (type == kGdmaSys) return;
    if (type != kGdmaTensor || f["cmd_special_function"] != 0)
      throw UnsupportedError(error_text("cmodel", "GDMA cmd_type " + std::to_string(type), "not simulated"));
    const int bytes = gdma_fmt_bytes(static_cast<int>(f["src_data_format"]));
    struct Side {
      std::uint64_t addr;
      int n, c, h, w;
      std::int64_t ns, cs, hs, ws;
    };
    auto side = [&](const char* p, std::uint64_t addr) {
      const std::string s(p);
      return Side{addr, static_cast<int>(f[s + "_nsize"]), static_cast<int>(f[s + "_csize"]), static_cast<int>(f[s + "_hsize"]),
                  static_cast<int>(f[s + "_wsize"]), static_cast<std::int64_t>(f[s + "_nstride"]),
                  static_cast<std::int64_t>(f[s + "_cstride"]), static_cast<std::int64_t>(f[s + "_hstride"]),
                  static_cast<std::int64_t>(f[s + "_wstride"])};
    };
    const Side src = side("src", gdma_src(f)), dst = side("dst", gdma_dst(f));
    const std::int64_t count = std::int64_t(src.n) * src.c * src.h * src.w;
    if (count != std::int64_t(dst.n) * dst.c * dst.h * dst.w)
      throw ModelError(error_text("cmodel", "GDMA", "source and destination element counts differ"));
    auto where = [&](const Side& s, std::int64_t i) -> std::uint8_t* {
      const int w = static_cast<int>(i % s.w), h = static_cast<int>((i / s.w) % s.h), c = static_cast<int>((i / (std::int64_t(s.w) * s.h)) % s.c),
                n = static_cast<int>(i / (std::int64_t(s.w) * s.h * s.c));
      if (s.addr >= chip_.local_window_base && s.addr < chip_.local_window_end) {
        View v;
        v.addr = s.addr - chip_.local_window_base;
        v.bytes = bytes;
        v.ns = s.ns, v.cs = s.cs, v.hs = s.hs, v.ws = s.ws;
        return local_.data() + local_offset(v, n, c, h, w);
      }
      const std::uint64_t a = s.addr + static_cast<std::uint64_t>((n * s.ns + c * s.cs + h * s.hs + w * s.ws) * bytes);
      return ddr(a, static_cast<std::uint64_t>(bytes));
    };
    for (std::int64_t i = 0; i < count; ++i) std::memcpy(where(dst, i), where(src, i), static_cast<std::size_t>(bytes));
  }

  const Chip& chip_;
  std::uint64_t ddr_lo_;
  std::vector<std::uint8_t> ddr_;
  std::vector<std::uint8_t> local_;
  Stats stats_;
};

}  // namespace octet::bm168x
