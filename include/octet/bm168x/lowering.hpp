// Lowering of an int8 umodel (docs/int8-umodel.md) to BM1684X command streams: each int8 layer
// becomes GDMA loads into local memory, TIU ops and GDMA stores, with channels spread over the
// 64 NPUs (the local layout of bm168x.md §2.1), tiling along N and H when a layer does not fit
// local memory, bank-aware buffer placement, and cmd_id_dep dependencies computed from the
// memory regions each command reads and writes, so that loads of the next tile overlap compute
// of this one (double buffering at -opt >= 1). Shapes and blob storage come from the int8
// runtime (engine::Int8Net), so compiler and runtime agree on the graph. The TIU operand rules
// the cmodel executes are in cmodel.hpp / docs/bmnetu.md.
// Depends on bm168x/, engine/int8_net.hpp (shapes, quantisation, layer support), fixed/, core/.
#pragma once
#include <algorithm>
#include <bit>
#include <cmath>
#include <functional>
#include <memory>
#include <tuple>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "octet/bm168x/bmodel.hpp"
#include "octet/bm168x/chip.hpp"
#include "octet/bm168x/commands.hpp"
#include "octet/core/error.hpp"
#include "octet/engine/int8_net.hpp"
#include "octet/fixed/quantize.hpp"
#include "octet/ir/graph.hpp"

namespace octet::bm168x {

struct LowerOptions {
  const Chip* chip = &kBM1684X;
  int opt = 1;           // 0: serial, 1: double-buffered overlap, 2: also search tile sizes by cost
  int max_tile_h = 0;    // >0 forces output tiles of at most this many rows (tests)
  int max_tile_n = 0;    // >0 forces at most this many images per tile
  std::string net_name;  // default: the prototxt's
  std::set<std::string> input_as_fp32, output_as_fp32;
  std::map<std::string, Shape> shapes;
  std::string model_file;
};

// The simple cost model of docs/bmnetu.md (cycles at the TIU/GDMA clock).
struct CostModel {
  static constexpr double kTiuOverhead = 32, kDmaLatency = 200, kDmaBytesPerCycle = 64;
};

struct LayerReport {
  std::string name, type;
  std::uint32_t tiu = 0, gdma = 0, tiles = 0;
  std::uint64_t bytes_in = 0, bytes_out = 0, bytes_coeff = 0;
  std::uint64_t local_bytes = 0;  // per lane
  double tiu_cycles = 0, dma_cycles = 0, span_cycles = 0;
};

struct BlobPlace {
  std::string name;
  Shape shape;
  int n = 1, c = 1, h = 1, w = 1;
  engine::QuantInfo q;
  std::uint64_t addr = 0;
  std::uint64_t bytes = 0;
  int elem_bytes() const { return q.dtype == DType::F32 ? 4 : 1; }
};

struct Lowered {
  ModelDesc model;
  std::vector<LayerReport> layers;
  std::vector<BlobPlace> inputs, outputs;  // as stored in the bmodel (fp32 when asked)
  std::map<std::string, BlobPlace> blobs;  // every int8 blob by name (last version)
  double total_cycles = 0;
};

namespace lower_detail {

struct Region {
  int space;  // 0 DDR, 1 local (lane offsets, conservatively all lanes)
  std::uint64_t lo, hi;
  bool overlaps(const Region& o) const { return space == o.space && lo < o.hi && o.lo < hi; }
};

struct Issued {
  std::vector<Region> reads, writes;
  double cost = 0;
  std::uint32_t dep = 0;
  int layer = 0;
};

inline bool conflicts(const Issued& a, const std::vector<Region>& reads, const std::vector<Region>& writes) {
  for (const auto& w : writes) {
    for (const auto& r : a.reads) if (w.overlaps(r)) return true;
    for (const auto& r : a.writes) if (w.overlaps(r)) return true;
  }
  for (const auto& r : reads)
    for (const auto& w : a.writes) if (r.overlaps(w)) return true;
  return false;
}

// Collects both streams; every command's dependency on the other engine is the last command
// there that touches memory it touches with at least one write (RAW, WAR, WAW). At -opt=0 every
// command waits for everything issued before it on the other engine.
class Emitter {
 public:
  explicit Emitter(int opt) : opt_(opt) {}
  int layer = 0;

  std::uint32_t tiu(Fields f, std::vector<Region> reads, std::vector<Region> writes, double cost) {
    return push(tiu_, tiu_hist_, gdma_hist_, &tiu_long_layout(), std::move(f), std::move(reads), std::move(writes), cost);
  }
  std::uint32_t gdma(Fields f, std::vector<Region> reads, std::vector<Region> writes) {
    const double bytes = static_cast<double>(f["src_nsize"] * f["src_csize"] * f["src_hsize"] * f["src_wsize"] *
                                             static_cast<std::uint64_t>(gdma_fmt_bytes(static_cast<int>(f["src_data_format"]))));
    bytes_ += static_cast<std::uint64_t>(bytes);
    return push(gdma_, gdma_hist_, tiu_hist_, &gdma_tensor_layout(), std::move(f), std::move(reads), std::move(writes),
                CostModel::kDmaLatency + bytes / CostModel::kDmaBytesPerCycle);
  }

  CmdGroupBytes finish() {
    Fields te = tiu_sys_end();
    te.set("cmd_id") = tiu_.size() + 1;
    te.set("cmd_id_dep") = gdma_.size();
    tiu_.push_back({&tiu_sysid_layout(), te});
    Fields ge = gdma_sys_end();
    ge.set("cmd_id") = gdma_.size() + 1;
    ge.set("cmd_id_dep") = tiu_.size();
    gdma_.push_back({&gdma_sys_layout(), ge});
    CmdGroupBytes g;
    g.tiu = assemble(tiu_);
    g.gdma = assemble(gdma_);
    g.tiu_num = static_cast<std::uint32_t>(tiu_.size());
    g.gdma_num = static_cast<std::uint32_t>(gdma_.size());
    return g;
  }

  // Timeline of the cost model: each engine in order; a command starts when its engine is free
  // and its dependency has finished. Returns per-layer (tiu, dma, finish) and the total.
  struct Timeline {
    std::map<int, double> tiu, dma, finish;
    double total = 0;
  };
  Timeline timeline() const {
    Timeline t;
    std::vector<double> tf(tiu_hist_.size()), gf(gdma_hist_.size());
    std::size_t ti = 0, gi = 0;
    double tclock = 0, gclock = 0;
    while (ti < tiu_hist_.size() || gi < gdma_hist_.size()) {
      const bool t_ready = ti < tiu_hist_.size() && tiu_hist_[ti].dep <= gi;
      const bool g_ready = gi < gdma_hist_.size() && gdma_hist_[gi].dep <= ti;
      if (!t_ready && !g_ready) break;
      if (g_ready) {
        const auto& c = gdma_hist_[gi];
        const double start = std::max(gclock, c.dep ? tf[c.dep - 1] : 0.0);
        gclock = gf[gi] = start + c.cost;
        t.dma[c.layer] += c.cost;
        t.finish[c.layer] = std::max(t.finish[c.layer], gclock);
        ++gi;
      } else {
        const auto& c = tiu_hist_[ti];
        const double start = std::max(tclock, c.dep ? gf[c.dep - 1] : 0.0);
        tclock = tf[ti] = start + c.cost;
        t.tiu[c.layer] += c.cost;
        t.finish[c.layer] = std::max(t.finish[c.layer], tclock);
        ++ti;
      }
    }
    t.total = std::max(tclock, gclock);
    return t;
  }
  std::size_t tiu_count() const { return tiu_.size(); }
  std::size_t gdma_count() const { return gdma_.size(); }

 private:
  std::uint32_t push(std::vector<Cmd>& mine, std::vector<Issued>& hist, const std::vector<Issued>& other, const Layout* layout,
                     Fields f, std::vector<Region> reads, std::vector<Region> writes, double cost) {
    std::uint32_t dep = 0;
    if (opt_ == 0) {
      dep = static_cast<std::uint32_t>(other.size());
    } else {
      for (std::size_t i = other.size(); i-- > 0;)
        if (conflicts(other[i], reads, writes)) {
          dep = static_cast<std::uint32_t>(i + 1);
          break;
        }
    }
    f.set("cmd_id") = mine.size() + 1;
    f.set("cmd_id_dep") = dep;
    mine.push_back({layout, std::move(f)});
    hist.push_back({std::move(reads), std::move(writes), cost, dep, layer});
    return static_cast<std::uint32_t>(mine.size());
  }
  int opt_;
  std::vector<Cmd> tiu_, gdma_;
  std::vector<Issued> tiu_hist_, gdma_hist_;
  std::uint64_t bytes_ = 0;
};

// A local buffer: lane offset and bytes per lane; channel k of a tensor placed here lives in NPU
// k % 64 at slot k / 64.
struct LBuf {
  std::uint32_t off = 0, bytes = 0;
  Region region() const { return {1, off, std::uint64_t(off) + bytes}; }
};

// Places buffers in one lane: each at a bank boundary when all fit that way (a TIU op then never
// reads and writes the same bank), else packed at 64-byte alignment. Returns false if even that
// does not fit.
inline bool place(const Chip& chip, std::vector<LBuf*> bufs, std::uint64_t* used = nullptr) {
  for (int mode = 0; mode < 2; ++mode) {
    const std::uint64_t a = mode == 0 ? chip.bank_bytes : 64;
    std::uint64_t off = 0;
    for (auto* b : bufs) {
      off = align_up(off, a);
      b->off = static_cast<std::uint32_t>(off);
      off += b->bytes;
    }
    if (off <= chip.local_mem_bytes) {
      if (used) *used = off;
      return true;
    }
  }
  return false;
}

}  // namespace lower_detail

class Lowerer {
 public:
  Lowerer(const ufw::NetParameter& param, LowerOptions opt)
      : opt_(std::move(opt)), chip_(*opt_.chip), em_(opt_.opt) {
    if (chip_.kind != ChipKind::BM1684X)
      throw UnsupportedError(error_text("target " + std::string(chip_.name), "only BM1684X command streams are generated (BM1684 constants and command tables exist, lowering does not)"));
    engine::Int8NetOptions no;
    no.input_shapes = opt_.shapes;
    no.model_file = opt_.model_file;
    net_ = std::make_unique<engine::Int8Net>(param, no);
    param_ = ir::filter_phase(param, ufw::TEST);
  }

  Lowered run() {
    Lowered out;
    // ---- blobs: inputs first --------------------------------------------------------------
    std::map<std::string, const ufw::LayerParameter*> by_name;
    for (const auto& l : param_.layer()) by_name[l.name()] = &l;
    for (const auto& in : net_->input_names()) {
      engine::QuantInfo q = input_quant(in);
      if (opt_.input_as_fp32.count(in) || q.dtype == DType::F32) {
        engine::QuantInfo fq = q;
        fq.dtype = DType::F32;
        BlobPlace f = make_blob(in, net_->blob_shape(in), fq);
        fp32_inputs_[in] = f;
        if (q.dtype == DType::F32) q.dtype = DType::I8, q.range = fixed::QRange::int8_sym;
        begin(out, in + "_quantize", "Quantize");
        cur_[in] = quantize_input(f, q);
        end(out);
      } else {
        cur_[in] = make_blob(in, net_->blob_shape(in), q);
      }
    }
    // ---- layers ------------------------------------------------------------------------------
    for (const auto& info : net_->layers()) {
      const ufw::LayerParameter& l = *by_name.at(info.name);
      if (l.type() == "Input") continue;
      begin(out, l.name(), l.type());
      lower_layer(l, info);
      end(out);
    }
    // ---- IO ----------------------------------------------------------------------------------
    for (const auto& name : net_->input_names()) {
      BlobPlace b = fp32_inputs_.count(name) ? fp32_inputs_.at(name) : cur_.at(name);
      b.name = name;
      out.inputs.push_back(b);
    }
    for (const auto& name : net_->output_names()) {
      BlobPlace b = cur_.at(name);
      if (opt_.output_as_fp32.count(name)) {
        begin(out, name + "_dequantize", "Dequantize");
        b = dequantize_output(b);
        end(out);
      }
      out.outputs.push_back(b);
    }
    for (const auto& [k, v] : cur_) out.blobs[k] = v;
    // ---- timeline ----------------------------------------------------------------------------
    const auto tl = em_.timeline();
    double prev = 0;
    for (std::size_t i = 0; i < out.layers.size(); ++i) {
      const int id = static_cast<int>(i) + 1;
      auto& r = out.layers[i];
      r.tiu_cycles = tl.tiu.count(id) ? tl.tiu.at(id) : 0;
      r.dma_cycles = tl.dma.count(id) ? tl.dma.at(id) : 0;
      const double fin = tl.finish.count(id) ? tl.finish.at(id) : prev;
      r.span_cycles = std::max(0.0, fin - prev);
      prev = std::max(prev, fin);
    }
    out.total_cycles = tl.total;
    // ---- bmodel ------------------------------------------------------------------------------
    NetDesc nd;
    nd.name = opt_.net_name.empty() ? (param_.name().empty() ? std::string("net") : param_.name()) : opt_.net_name;
    nd.coeff_addr = chip_.coeff_start;
    nd.coeff = coeff_;
    nd.coeff_locations = locations_;
    nd.ctx_addr = ctx_addr();
    nd.ctx_size = align_up(ctx_used_, chip_.alignment);
    // final addresses: blobs were planned relative to the ctx start
    auto io = [&](const std::vector<BlobPlace>& v, int hidden) {
      std::vector<TensorDesc> r;
      int i = 0;
      for (const auto& b : v) {
        TensorDesc t;
        t.name = b.name;
        t.dtype = b.q.dtype == DType::F32 ? kDtFp32 : (b.q.dtype == DType::U8 ? kDtUint8 : kDtInt8);
        for (auto d : b.shape) t.shape.push_back(static_cast<std::uint64_t>(d));
        t.scale = b.q.dtype == DType::F32 ? 1.0f : b.q.scale;
        t.device_addr = b.addr;
        t.size = b.bytes;
        t.hidden = hidden;
        t.index = i++;
        r.push_back(t);
      }
      return r;
    };
    nd.inputs = io(out.inputs, 1);
    nd.outputs = io(out.outputs, 2);
    nd.groups = {em_.finish()};
    out.model.chip = chip_.name;
    out.model.nets = {nd};
    return out;
  }

 private:
  using Region = lower_detail::Region;
  using LBuf = lower_detail::LBuf;

  void begin(Lowered& out, const std::string& name, const std::string& type) {
    em_.layer = static_cast<int>(out.layers.size()) + 1;
    out.layers.push_back({});
    out.layers.back().name = name;
    out.layers.back().type = type;
    rep_ = &out.layers.back();
    t0_ = em_.tiu_count(), g0_ = em_.gdma_count();
  }
  void end(Lowered& out) {
    out.layers.back().tiu = static_cast<std::uint32_t>(em_.tiu_count() - t0_);
    out.layers.back().gdma = static_cast<std::uint32_t>(em_.gdma_count() - g0_);
    rep_ = nullptr;
  }
  std::size_t t0_ = 0, g0_ = 0;

  // Neuron addresses are handed out from the ctx start; the coeff size is only known at the end,
  // so ctx_addr is fixed by an upper bound up front: all weight bytes of the umodel + 0x1000 per
  // coefficient array (alignment) is never exceeded.
  std::uint64_t ctx_addr() {
    if (!ctx_base_) {
      std::uint64_t bound = 0;
      for (const auto& l : param_.layer()) {
        for (const auto& b : l.blobs()) bound += align_up(b.int8_data().size() + 4 * std::uint64_t(b.int32_data_size()) + 4 * std::uint64_t(b.data_size()), chip_.alignment) + chip_.alignment;
        bound += 3 * chip_.alignment + align_up(16 * std::uint64_t(l.int8_param().multiplier_size() + 64), chip_.alignment);
        bound += align_up(64 * 256 * 8, chip_.alignment);
      }
      ctx_base_ = align_up(chip_.coeff_start + bound, chip_.alignment);
    }
    return ctx_base_;
  }

  engine::QuantInfo input_quant(const std::string& name) {
    for (const auto& l : param_.layer())
      for (int t = 0; t < l.top_size(); ++t)
        if (l.top(t) == name) return engine::quant_info(engine::int8_net_detail::top_quant(l, t));
    return net_->blob_quant(name);
  }

  BlobPlace make_blob(const std::string& name, const Shape& s, const engine::QuantInfo& q) {
    BlobPlace b;
    b.name = name;
    b.shape = s;
    b.q = q;
    if (s.size() > 4 || s.empty())
      throw UnsupportedError(error_text("blob " + name, "rank " + std::to_string(s.size()), "bmnetu lowers 1-D to 4-D blobs only"));
    std::vector<int64_t> d(s.begin(), s.end());
    while (d.size() < 4) d.push_back(1);
    b.n = static_cast<int>(d[0]), b.c = static_cast<int>(d[1]), b.h = static_cast<int>(d[2]), b.w = static_cast<int>(d[3]);
    b.bytes = static_cast<std::uint64_t>(shape_count(s)) * static_cast<std::uint64_t>(b.elem_bytes());
    ctx_used_ = align_up(ctx_used_, 64);
    b.addr = ctx_addr() + ctx_used_;
    ctx_used_ += b.bytes;
    return b;
  }

  std::uint64_t add_coeff(const std::string& name, const void* p, std::size_t n) {
    const std::uint64_t off = align_up(coeff_.size(), chip_.alignment);
    coeff_.resize(off, 0);
    coeff_.insert(coeff_.end(), static_cast<const std::uint8_t*>(p), static_cast<const std::uint8_t*>(p) + n);
    locations_.push_back({name, {off, n}});
    rep_->bytes_coeff += n;
    if (chip_.coeff_start + coeff_.size() > ctx_addr())
      throw ModelError(error_text("bmnetu", name, "coefficient bound exceeded (internal)"));
    return chip_.coeff_start + off;
  }

  // ---- local tensors and GDMA ---------------------------------------------------------------
  std::uint32_t cstride(int h, int w, int bytes) const {
    return static_cast<std::uint32_t>(align_up(static_cast<std::uint64_t>(h) * w, static_cast<std::uint64_t>(chip_.eu_num(std::min(bytes, 4)))));
  }
  std::uint32_t lane_bytes(int n, int c, int h, int w, int bytes) const {
    return static_cast<std::uint32_t>(static_cast<std::uint64_t>(n) * ceil_div(static_cast<std::uint64_t>(c), static_cast<std::uint64_t>(chip_.npu_num)) * cstride(h, w, bytes) * static_cast<std::uint64_t>(bytes));
  }
  // TIU address of channel k of a tensor at lane offset `off`.
  std::uint32_t caddr(std::uint32_t off, int k, int h, int w, int bytes) const {
    return static_cast<std::uint32_t>(static_cast<std::uint64_t>(k % chip_.npu_num) * chip_.local_mem_bytes + off +
                                      static_cast<std::uint64_t>(k / chip_.npu_num) * cstride(h, w, bytes) * static_cast<std::uint64_t>(bytes));
  }
  static int gfmt(int bytes) { return bytes == 1 ? kGInt8 : kGInt32; }

  // DDR (n0.., c0.., h0.., 0..) of a blob <-> local tensor (n, c, h, w) in aligned layout.
  void load(const BlobPlace& b, int n0, int n, int c0, int c, int h0, int h, const LBuf& dst, int bytes = 0) {
    bytes = bytes ? bytes : b.elem_bytes();
    const int W = b.w;
    GdmaSide s{b.addr + static_cast<std::uint64_t>(((static_cast<std::int64_t>(n0) * b.c + c0) * b.h + h0) * W * bytes), n, c, h, W,
               static_cast<std::uint32_t>(b.c * b.h * W), static_cast<std::uint32_t>(b.h * W), static_cast<std::uint32_t>(W), 1};
    const std::uint32_t cs = cstride(h, W, bytes);
    GdmaSide d{chip_.local_window_base + dst.off, n, c, h, W,
               static_cast<std::uint32_t>(ceil_div(static_cast<std::uint64_t>(c), static_cast<std::uint64_t>(chip_.npu_num)) * cs), cs,
               static_cast<std::uint32_t>(W), 1};
    const std::uint64_t lo = s.addr, hi = s.addr + static_cast<std::uint64_t>((static_cast<std::int64_t>(n - 1) * b.c * b.h + static_cast<std::int64_t>(c) * b.h) * W * bytes);
    em_.gdma(gdma_tensor(s, d, gfmt(bytes)), {{0, lo, std::max(hi, lo + static_cast<std::uint64_t>(h * W * bytes))}}, {dst.region()});
    rep_->bytes_in += static_cast<std::uint64_t>(n) * c * h * W * bytes;
  }
  void store(const LBuf& src, const BlobPlace& b, int n0, int n, int c0, int c, int h0, int h, int bytes = 0) {
    bytes = bytes ? bytes : b.elem_bytes();
    const int W = b.w;
    const std::uint32_t cs = cstride(h, W, bytes);
    GdmaSide s{chip_.local_window_base + src.off, n, c, h, W,
               static_cast<std::uint32_t>(ceil_div(static_cast<std::uint64_t>(c), static_cast<std::uint64_t>(chip_.npu_num)) * cs), cs,
               static_cast<std::uint32_t>(W), 1};
    GdmaSide d{b.addr + static_cast<std::uint64_t>(((static_cast<std::int64_t>(n0) * b.c + c0) * b.h + h0) * W * bytes), n, c, h, W,
               static_cast<std::uint32_t>(b.c * b.h * W), static_cast<std::uint32_t>(b.h * W), static_cast<std::uint32_t>(W), 1};
    const std::uint64_t lo = d.addr, hi = d.addr + static_cast<std::uint64_t>((static_cast<std::int64_t>(n - 1) * b.c * b.h + static_cast<std::int64_t>(c) * b.h) * W * bytes);
    em_.gdma(gdma_tensor(s, d, gfmt(bytes)), {src.region()}, {{0, lo, std::max(hi, lo + static_cast<std::uint64_t>(h * W * bytes))}});
    rep_->bytes_out += static_cast<std::uint64_t>(n) * c * h * W * bytes;
  }
  // A per-channel constant array (1, C, 1, k) of `bytes`-wide elements from the coeff area;
  // src_cstride 0 broadcasts one row to every channel (LUT tables).
  void load_const(std::uint64_t gaddr, int C, int k, int bytes, const LBuf& dst, bool broadcast = false) {
    const std::uint32_t cs = cstride(1, k, bytes);
    GdmaSide s{gaddr, 1, C, 1, k, static_cast<std::uint32_t>(broadcast ? 0 : C * k), static_cast<std::uint32_t>(broadcast ? 0 : k),
               static_cast<std::uint32_t>(k), 1};
    GdmaSide d{chip_.local_window_base + dst.off, 1, C, 1, k,
               static_cast<std::uint32_t>(ceil_div(static_cast<std::uint64_t>(C), static_cast<std::uint64_t>(chip_.npu_num)) * cs), cs,
               static_cast<std::uint32_t>(k), 1};
    em_.gdma(gdma_tensor(s, d, gfmt(bytes)), {{0, gaddr, gaddr + static_cast<std::uint64_t>((broadcast ? 1 : C) * k * bytes)}}, {dst.region()});
    rep_->bytes_in += static_cast<std::uint64_t>(C) * k * bytes;
  }

  double elem_cost(int n, int c, int h, int w, double per_elem, int bytes) const {
    return CostModel::kTiuOverhead + static_cast<double>(ceil_div(static_cast<std::uint64_t>(c), static_cast<std::uint64_t>(chip_.npu_num))) *
                                         n * h * w * per_elem / chip_.eu_num(std::min(bytes, 4));
  }

  // ---- tiling -------------------------------------------------------------------------------
  struct Tile {
    int n0, n, h0, h;
  };
  struct TilePlan {
    int tn = 1, th = 1;
  };
  // Picks the largest (n, h) output tile whose buffers fit (twice at opt >= 1); opt 2 tries every
  // fitting tile height and keeps the one with the smallest estimated cycles.
  template <typename Bytes, typename Cost>
  TilePlan plan(const ufw::LayerParameter& l, int N, int OH, bool n_one, Bytes tile_bytes, std::uint32_t fixed_bytes, Cost cost) {
    const int buffers = opt_.opt >= 1 ? 2 : 1;
    int max_n = n_one ? 1 : N, max_h = OH;
    if (opt_.max_tile_n > 0) max_n = std::min(max_n, opt_.max_tile_n);
    if (opt_.max_tile_h > 0) max_h = std::min(max_h, opt_.max_tile_h);
    auto fits = [&](int tn, int th) {
      return std::uint64_t(fixed_bytes) + std::uint64_t(buffers) * tile_bytes(tn, th) <= chip_.local_mem_bytes;
    };
    TilePlan best{0, 0};
    double best_cost = 1e300;
    for (int tn = max_n; tn >= 1; tn = tn == 1 ? 0 : (tn + 1) / 2) {
      for (int th = max_h; th >= 1; --th) {
        if (!fits(tn, th)) continue;
        if (opt_.opt < 2) return {tn, th};
        const double c = cost(tn, th);
        if (c < best_cost) best_cost = c, best = {tn, th};
        if (th < max_h / 8) break;
      }
      if (tn == 1) break;
    }
    if (best.tn == 0)
      throw ShapeError(error_text("layer " + l.name() + " (" + l.type() + ")",
                                  "does not fit local memory even as one row of one image: needs " +
                                      std::to_string(std::uint64_t(fixed_bytes) + std::uint64_t(buffers) * tile_bytes(1, 1)) +
                                      " bytes per lane (" + std::to_string(fixed_bytes) + " constant), lane has " +
                                      std::to_string(chip_.local_mem_bytes)));
    return best;
  }
  std::vector<Tile> tiles(int N, int OH, TilePlan p) const {
    std::vector<Tile> t;
    for (int n0 = 0; n0 < N; n0 += p.tn)
      for (int h0 = 0; h0 < OH; h0 += p.th) t.push_back({n0, std::min(p.tn, N - n0), h0, std::min(p.th, OH - h0)});
    return t;
  }

  // ---- layers -------------------------------------------------------------------------------
  const BlobPlace& bottom(const ufw::LayerParameter& l, int i) {
    auto it = cur_.find(l.bottom(i));
    if (it == cur_.end()) throw ModelError(error_text("layer " + l.name(), "bottom " + l.bottom(i), "not produced by an int8 layer"));
    if (it->second.q.dtype == DType::F32) unsupported(l, "bottom " + l.bottom(i) + " is a float blob");
    return it->second;
  }
  BlobPlace top(const ufw::LayerParameter& l, int i) {
    const auto q = engine::quant_info(engine::int8_net_detail::top_quant(l, i));
    return make_blob(l.top(i), net_->blob_shape(l.top(i)), q);
  }
  static std::pair<int, int> range(const engine::QuantInfo& q) {
    return {fixed::qmin(q.range), fixed::qmax(q.range)};
  }

  void unsupported(const ufw::LayerParameter& l, const std::string& why) {
    throw UnsupportedError(error_text("layer " + l.name() + " (" + l.type() + ")", "not supported by the bmnetu lowering yet: " + why));
  }

  void lower_layer(const ufw::LayerParameter& l, const engine::Int8LayerInfo& info) {
    const std::string& t = l.type();
    static const std::set<std::string> pass = {"Reshape", "Flatten", "Dropout", "Split"};
    if (pass.count(t)) {
      const BlobPlace& b = bottom(l, 0);
      for (int i = 0; i < l.top_size(); ++i) {
        BlobPlace a = b;
        a.name = l.top(i);
        a.shape = net_->blob_shape(l.top(i));
        cur_[l.top(i)] = a;  // same bytes: the codes pass through
      }
      return;
    }
    if (!info.int8) unsupported(l, "it runs in float in the int8 runtime (no CPU subnet support)");
    if (t == "Convolution") return conv(l);
    if (t == "InnerProduct") return inner_product(l);
    if (t == "Pooling") return pooling(l);
    if (t == "ReLU" || t == "ReLU6") return relu(l, t == "ReLU6");
    if (t == "Eltwise") return eltwise(l);
    if (t == "Concat") return concat(l);
    static const std::set<std::string> luts = {"Sigmoid", "TanH", "HardSwish", "HardSigmoid", "Exp", "ELU", "UnaryOp", "Swish"};
    if (luts.count(t)) return lut(l);
    unsupported(l, "no lowering for this type");
  }

  struct ConvSpec {
    int kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, pt = 0, pb = 0, pl = 0, pr = 0, group = 1;
  };

  void check4(const ufw::LayerParameter& l, int v, const char* what) {
    if (v < 0 || v > 15) unsupported(l, std::string(what) + " " + std::to_string(v) + " does not fit its 4-bit field");
  }

  // Shared by Convolution and InnerProduct (as a 1x1 convolution over K channels).
  void conv_core(const ufw::LayerParameter& l, const BlobPlace& in, BlobPlace& out, const ConvSpec& cs, const std::vector<std::int8_t>& w,
                 const std::vector<std::int32_t>& bias) {
    const int N = in.n, IC = in.c, IH = in.h, IW = in.w, OC = out.c, OH = out.h, OW = out.w;
    const int g = cs.group, ICg = IC / g, OCg = OC / g;
    const bool dw = g > 1 && g == IC && g == OC;
    const int K = (dw ? 1 : ICg) * cs.kh * cs.kw;
    check4(l, cs.sh, "stride_h"), check4(l, cs.sw, "stride_w"), check4(l, cs.dh - 1, "dilation_h - 1"), check4(l, cs.dw - 1, "dilation_w - 1");
    check4(l, cs.pt, "pad_top"), check4(l, cs.pl, "pad_left"), check4(l, cs.pb, "pad_bottom"), check4(l, cs.pr, "pad_right");
    // coefficients: weights (1, OC, 1, K), bias (1, OC, 1, 1), requant (1, OC, 1, 2)
    const auto& ip = l.int8_param();
    std::vector<std::int32_t> prm(static_cast<std::size_t>(2 * OC));
    if (ip.multiplier_size() != 1 && ip.multiplier_size() != OC) unsupported(l, "int8_param needs 1 or " + std::to_string(OC) + " multipliers");
    for (int c = 0; c < OC; ++c) {
      const int k = ip.multiplier_size() == 1 ? 0 : c;
      prm[static_cast<std::size_t>(2 * c)] = ip.multiplier(k);
      prm[static_cast<std::size_t>(2 * c + 1)] = ip.shift(k);
    }
    const std::uint64_t gw = add_coeff(l.name() + ".weight", w.data(), w.size());
    const bool has_bias = !bias.empty();
    const std::uint64_t gb = has_bias ? add_coeff(l.name() + ".bias", bias.data(), bias.size() * 4) : 0;
    const std::uint64_t gp = add_coeff(l.name() + ".requant", prm.data(), prm.size() * 4);
    LBuf W{0, lane_bytes(1, OC, 1, K, 1)}, B{0, lane_bytes(1, OC, 1, 1, 4)}, P{0, lane_bytes(1, OC, 1, 2, 4)};
    // Input rows a tile of output rows reads; empty when every window lies in the bottom padding.
    auto in_rows = [&](int oh0, int oh) {
      const int lo = std::max(0, oh0 * cs.sh - cs.pt);
      if (lo >= IH) return std::pair<int, int>{IH, IH};
      const int hi = std::min(IH, (oh0 + oh - 1) * cs.sh - cs.pt + (cs.kh - 1) * cs.dh + 1);
      return std::pair<int, int>{lo, std::max(hi, lo + 1)};
    };
    auto tile_bytes = [&](int tn, int th) {
      const int ih = std::min(IH, (th - 1) * cs.sh + (cs.kh - 1) * cs.dh + 1);
      return std::uint64_t(lane_bytes(tn, IC, ih, IW, in.elem_bytes())) + lane_bytes(tn, OC, th, OW, 4) + lane_bytes(tn, OC, th, OW, 1);
    };
    auto tiu_cost = [&](int tn, int th) {
      return elem_cost(tn, OC, th, OW, K, 1) + elem_cost(tn, OC, th, OW, 1, 4);
    };
    auto cost = [&](int tn, int th) {
      const double ntiles = std::ceil(double(N) / tn) * std::ceil(double(OH) / th);
      const double dma = CostModel::kDmaLatency * 2 + double(tile_bytes(tn, th)) / CostModel::kDmaBytesPerCycle;
      return ntiles * std::max(tiu_cost(tn, th), dma) + std::min(tiu_cost(tn, th), dma);
    };
    const TilePlan tp = plan(l, N, OH, g > 1 && !dw, tile_bytes, W.bytes + B.bytes + P.bytes + 3 * 64, cost);
    const int ihmax = std::min(IH, (tp.th - 1) * cs.sh + (cs.kh - 1) * cs.dh + 1);
    LBuf I[2], A[2], O[2];
    std::vector<LBuf*> all = {&W, &B, &P};
    const int nb = opt_.opt >= 1 ? 2 : 1;
    for (int i = 0; i < nb; ++i) {
      I[i].bytes = lane_bytes(tp.tn, IC, ihmax, IW, in.elem_bytes());
      A[i].bytes = lane_bytes(tp.tn, OC, tp.th, OW, 4);
      O[i].bytes = lane_bytes(tp.tn, OC, tp.th, OW, 1);
      all.push_back(&I[i]), all.push_back(&A[i]), all.push_back(&O[i]);
    }
    std::uint64_t used = 0;
    lower_detail::place(chip_, all, &used);
    rep_->local_bytes = used;
    load_const(gw, OC, K, 1, W);
    if (has_bias) load_const(gb, OC, 1, 4, B);
    load_const(gp, OC, 2, 4, P);
    const auto [lo, hi] = range(out.q);
    const auto ts = tiles(N, OH, tp);
    rep_->tiles = static_cast<std::uint32_t>(ts.size());
    // Software pipelining with two buffers: the load of tile k+1 is issued before the compute
    // of tile k, so the in-order GDMA queue can run it while the TIU works.
    auto load_tile = [&](std::size_t k) {
      const auto [a0, a1] = in_rows(ts[k].h0, ts[k].h);
      if (a1 > a0) load(in, ts[k].n0, ts[k].n, 0, IC, a0, a1 - a0, I[k % static_cast<std::size_t>(nb)]);
    };
    if (!ts.empty()) load_tile(0);
    for (std::size_t k = 0; k < ts.size(); ++k) {
      const Tile& t = ts[k];
      const int b = static_cast<int>(k % static_cast<std::size_t>(nb));
      const auto [r0, r1] = in_rows(t.h0, t.h);
      const int ih = r1 - r0;
      if (k > 0 && nb == 1) load_tile(k);
      if (nb == 2 && k + 1 < ts.size()) load_tile(k + 1);
      // no input rows: the windows see only padding (opd0_h 0), the pads are then irrelevant
      const int pad_t = ih == 0 ? 0 : r0 - (t.h0 * cs.sh - cs.pt);
      const int need_hi = (t.h0 + t.h - 1) * cs.sh - cs.pt + (cs.kh - 1) * cs.dh + 1;
      const int pad_b = ih == 0 ? 0 : std::max(0, need_hi - r1);
      check4(l, pad_t, "tile pad_top"), check4(l, pad_b, "tile pad_bottom");
      ConvGeom geo{cs.kh, cs.kw, cs.sh, cs.sw, cs.dh, cs.dw, pad_t, pad_b, cs.pl, cs.pr};
      const int ib = in.elem_bytes();
      if (dw) {
        LocalOpd res{A[b].off, t.n, OC, t.h, OW, kPInt32, true};
        LocalOpd src{I[b].off, t.n, IC, ih, IW, kPInt8, in.q.dtype != DType::U8};
        em_.tiu(tiu_pord(kDepthwise, res, src, W.off, B.off, has_bias, geo), {I[b].region(), W.region(), B.region()}, {A[b].region()},
                tiu_cost(t.n, t.h));
      } else {
        for (int gi = 0; gi < g; ++gi) {
          LocalOpd res{caddr(A[b].off, gi * OCg, t.h, OW, 4), t.n, OCg, t.h, OW, kPInt32, true};
          LocalOpd src{caddr(I[b].off, gi * ICg, ih, IW, ib), t.n, ICg, ih, IW, kPInt8, in.q.dtype != DType::U8};
          em_.tiu(tiu_conv(res, src, caddr(W.off, gi * OCg, 1, K, 1), caddr(B.off, gi * OCg, 1, 1, 4), has_bias, geo),
                  {I[b].region(), W.region(), B.region()}, {A[b].region()}, tiu_cost(t.n, t.h) / g);
        }
      }
      LocalOpd acc{A[b].off, t.n, OC, t.h, OW, kPInt32, true};
      LocalOpd res{O[b].off, t.n, OC, t.h, OW, kPInt8, true};
      em_.tiu(tiu_rq(kRequantInt, res, acc, true, P.off, 0, 0, lo, hi), {A[b].region(), P.region()}, {O[b].region()},
              elem_cost(t.n, OC, t.h, OW, 1, 4));
      store(O[b], out, t.n0, t.n, 0, OC, t.h0, t.h);
    }
  }

  void conv(const ufw::LayerParameter& l) {
    const BlobPlace& in = bottom(l, 0);
    BlobPlace out = top(l, 0);
    if (in.shape.size() != 4) unsupported(l, "only 2-D convolution");
    const auto& cp = l.convolution_param();
    ConvSpec s;
    auto pick = [](const auto& rep, bool has1, std::uint32_t v1, int idx, int dflt) {
      if (has1) return static_cast<int>(v1);
      if (rep.size() == 0) return dflt;
      return static_cast<int>(rep.size() > idx ? rep.Get(idx) : rep.Get(0));
    };
    s.kh = pick(cp.kernel_size(), cp.has_kernel_h(), cp.kernel_h(), 0, 1);
    s.kw = pick(cp.kernel_size(), cp.has_kernel_w(), cp.kernel_w(), 1, 1);
    s.sh = pick(cp.stride(), cp.has_stride_h(), cp.stride_h(), 0, 1);
    s.sw = pick(cp.stride(), cp.has_stride_w(), cp.stride_w(), 1, 1);
    s.pt = pick(cp.pad(), cp.has_pad_h(), cp.pad_h(), 0, 0);
    s.pl = pick(cp.pad(), cp.has_pad_w(), cp.pad_w(), 1, 0);
    s.pb = cp.has_pad_h_end() ? static_cast<int>(cp.pad_h_end()) : s.pt;
    s.pr = cp.has_pad_w_end() ? static_cast<int>(cp.pad_w_end()) : s.pl;
    s.dh = pick(cp.dilation(), false, 0, 0, 1);
    s.dw = pick(cp.dilation(), false, 0, 1, 1);
    s.group = static_cast<int>(cp.group());
    // check our reading of the geometry against the runtime's output shape
    const int oh = (in.h + s.pt + s.pb - s.dh * (s.kh - 1) - 1) / s.sh + 1, ow = (in.w + s.pl + s.pr - s.dw * (s.kw - 1) - 1) / s.sw + 1;
    if (oh != out.h || ow != out.w) unsupported(l, "geometry reading differs from the runtime's output shape");
    std::vector<std::int8_t> w(l.blobs(0).int8_data().begin(), l.blobs(0).int8_data().end());
    std::vector<std::int32_t> b;
    if (cp.bias_term() && l.blobs_size() > 1) b.assign(l.blobs(1).int32_data().begin(), l.blobs(1).int32_data().end());
    conv_core(l, in, out, s, w, b);
    cur_[l.top(0)] = out;
  }

  void inner_product(const ufw::LayerParameter& l) {
    const BlobPlace& in0 = bottom(l, 0);
    BlobPlace out = top(l, 0);
    const auto& ipp = l.inner_product_param();
    if (ipp.axis() != 1 || ipp.transpose()) unsupported(l, "only axis 1 without transpose");
    BlobPlace in = in0;  // (N, K, 1, 1) view of the same bytes
    in.c = static_cast<int>(shape_count(in0.shape, 1));
    in.h = in.w = 1;
    BlobPlace o4 = out;
    o4.c = static_cast<int>(shape_count(out.shape, 1));
    o4.h = o4.w = 1;
    std::vector<std::int8_t> w(l.blobs(0).int8_data().begin(), l.blobs(0).int8_data().end());
    std::vector<std::int32_t> b;
    if (ipp.bias_term() && l.blobs_size() > 1) b.assign(l.blobs(1).int32_data().begin(), l.blobs(1).int32_data().end());
    conv_core(l, in, o4, ConvSpec{}, w, b);
    cur_[l.top(0)] = out;
  }

  // Elementwise layers over (N, C, H, W) tiles: loads of `ins`, then `body` on local buffers.
  template <typename Body>
  void elementwise(const ufw::LayerParameter& l, const std::vector<BlobPlace>& ins, BlobPlace& out, int tmp_bytes, int tmps, Body body,
                   double per_elem_ops) {
    const int N = out.n, C = tile_c_ ? tile_c_ : out.c, H = out.h, W = out.w;
    auto tile_bytes = [&](int tn, int th) {
      std::uint64_t s = 0;
      for (const auto& b : ins) s += lane_bytes(tn, C, th, W, b.elem_bytes());
      return s + std::uint64_t(tmps) * lane_bytes(tn, C, th, W, tmp_bytes) + lane_bytes(tn, C, th, W, out.elem_bytes());
    };
    auto cost = [&](int tn, int th) {
      const double ntiles = std::ceil(double(N) / tn) * std::ceil(double(H) / th);
      return ntiles * (CostModel::kDmaLatency + std::max(elem_cost(tn, C, th, W, per_elem_ops, 4), double(tile_bytes(tn, th)) / CostModel::kDmaBytesPerCycle));
    };
    const TilePlan tp = plan(l, N, H, false, tile_bytes, fixed_bytes_, cost);
    const int nb = opt_.opt >= 1 ? 2 : 1;
    std::vector<std::vector<LBuf>> I(static_cast<std::size_t>(nb), std::vector<LBuf>(ins.size())), T(static_cast<std::size_t>(nb), std::vector<LBuf>(static_cast<std::size_t>(tmps)));
    std::vector<LBuf> O(static_cast<std::size_t>(nb));
    std::vector<LBuf*> all;
    for (auto* f : fixed_) all.push_back(f);
    for (int i = 0; i < nb; ++i) {
      for (std::size_t j = 0; j < ins.size(); ++j) I[i][j].bytes = lane_bytes(tp.tn, C, tp.th, W, ins[j].elem_bytes()), all.push_back(&I[i][j]);
      for (auto& t : T[static_cast<std::size_t>(i)]) t.bytes = lane_bytes(tp.tn, C, tp.th, W, tmp_bytes), all.push_back(&t);
      O[static_cast<std::size_t>(i)].bytes = lane_bytes(tp.tn, C, tp.th, W, out.elem_bytes()), all.push_back(&O[static_cast<std::size_t>(i)]);
    }
    std::uint64_t used = 0;
    lower_detail::place(chip_, all, &used);
    rep_->local_bytes = used;
    if (prologue_) prologue_();
    const auto ts = tiles(N, H, tp);
    rep_->tiles = static_cast<std::uint32_t>(ts.size());
    auto load_tile = [&](std::size_t k) {
      for (std::size_t j = 0; j < ins.size(); ++j) load(ins[j], ts[k].n0, ts[k].n, 0, C, ts[k].h0, ts[k].h, I[k % static_cast<std::size_t>(nb)][j]);
    };
    if (!ts.empty()) load_tile(0);
    for (std::size_t k = 0; k < ts.size(); ++k) {
      const Tile& t = ts[k];
      const std::size_t b = k % static_cast<std::size_t>(nb);
      if (k > 0 && nb == 1) load_tile(k);
      if (nb == 2 && k + 1 < ts.size()) load_tile(k + 1);
      body(t, I[b], T[b], O[b]);
      store(O[b], out, t.n0, t.n, out_c0_, C, t.h0, t.h);
    }
    fixed_.clear();
    fixed_bytes_ = 0;
    prologue_ = nullptr;
  }

  LocalOpd opd_of(const LBuf& b, const Tile& t, int C, int W, int prec, bool sign) const {
    return LocalOpd{b.off, t.n, C, t.h, W, prec, sign};
  }

  void rescale_into(const LBuf& src, int src_prec, bool src_sign, const LBuf& dst, const Tile& t, int C, int W, std::int32_t m, int sh,
                    std::pair<int, int> rg) {
    em_.tiu(tiu_rq(kRequantInt, opd_of(dst, t, C, W, kPInt8, true), opd_of(src, t, C, W, src_prec, src_sign), false, 0, m, sh, rg.first, rg.second),
            {src.region()}, {dst.region()}, elem_cost(t.n, C, t.h, W, 1, 4));
  }

  std::pair<std::int32_t, int> rescale_param(const ufw::LayerParameter& l) {
    const auto& ip = l.int8_param();
    if (ip.multiplier_size() > 0) return {ip.multiplier(0), ip.shift(0)};
    return {1, 0};
  }

  void relu(const ufw::LayerParameter& l, bool six) {
    const BlobPlace in = bottom(l, 0);
    BlobPlace out = top(l, 0);
    const auto [m, sh] = rescale_param(l);
    const int cap = six ? fixed::quantize_value(6.0, in.q.scale, in.q.range) : fixed::qmax(in.q.range);
    const bool s = in.q.dtype != DType::U8;
    elementwise(l, {in}, out, 4, 1, [&, m = m, sh = sh](const Tile& t, const std::vector<LBuf>& I, const std::vector<LBuf>& T, const LBuf& O) {
      const int C = out.c, W = out.w;
      em_.tiu(tiu_ar(kArMax, opd_of(T[0], t, C, W, kPInt32, true), opd_of(I[0], t, C, W, kPInt8, s), nullptr, 0), {I[0].region()}, {T[0].region()},
              elem_cost(t.n, C, t.h, W, 1, 4));
      em_.tiu(tiu_ar(kArMin, opd_of(T[0], t, C, W, kPInt32, true), opd_of(T[0], t, C, W, kPInt32, true), nullptr, cap), {T[0].region()},
              {T[0].region()}, elem_cost(t.n, C, t.h, W, 1, 4));
      rescale_into(T[0], kPInt32, true, O, t, C, W, m, sh, range(out.q));
    }, 3);
    cur_[l.top(0)] = out;
  }

  void eltwise(const ufw::LayerParameter& l) {
    std::vector<BlobPlace> ins;
    for (int i = 0; i < l.bottom_size(); ++i) ins.push_back(bottom(l, i));
    BlobPlace out = top(l, 0);
    const auto& ip = l.int8_param();
    const auto op = l.eltwise_param().operation();
    const int C = out.c, W = out.w;
    const auto rg = range(out.q);
    if (op == ufw::EltwiseParameter::SUM) {
      const int sh = ip.input_shift(0);
      elementwise(l, ins, out, 8, 1, [&](const Tile& t, const std::vector<LBuf>& I, const std::vector<LBuf>& T, const LBuf& O) {
        for (std::size_t i = 0; i < ins.size(); ++i) {
          const bool s = ins[i].q.dtype != DType::U8;
          em_.tiu(tiu_ar(i == 0 ? kArMul : kArMac, opd_of(T[0], t, C, W, kPInt64, true), opd_of(I[i], t, C, W, kPInt8, s), nullptr,
                         ip.input_multiplier(static_cast<int>(i))),
                  {I[i].region(), T[0].region()}, {T[0].region()}, elem_cost(t.n, C, t.h, W, 2, 4));
        }
        rescale_into(T[0], kPInt64, true, O, t, C, W, 1, sh, rg);
      }, 1.0 + static_cast<double>(ins.size()));
    } else if (op == ufw::EltwiseParameter::MAX) {
      const int sh = ip.input_shift(0);
      elementwise(l, ins, out, 1, 1, [&](const Tile& t, const std::vector<LBuf>& I, const std::vector<LBuf>& T, const LBuf& O) {
        const bool os = rg.first < 0;
        for (std::size_t i = 0; i < ins.size(); ++i) {
          const bool s = ins[i].q.dtype != DType::U8;
          const LBuf& dst = i == 0 ? O : T[0];
          rescale_into(I[i], kPInt8, s, dst, t, C, W, ip.input_multiplier(static_cast<int>(i)), sh, rg);
          const LocalOpd other = opd_of(T[0], t, C, W, kPInt8, os);
          if (i > 0)
            em_.tiu(tiu_ar(kArMax, opd_of(O, t, C, W, kPInt8, os), opd_of(O, t, C, W, kPInt8, os), &other),
                    {O.region(), T[0].region()}, {O.region()}, elem_cost(t.n, C, t.h, W, 1, 1));
        }
      }, 2.0 * static_cast<double>(ins.size()));
    } else {
      if (ins.size() != 2) unsupported(l, "PROD of " + std::to_string(ins.size()) + " inputs (2 supported)");
      elementwise(l, ins, out, 4, 1, [&](const Tile& t, const std::vector<LBuf>& I, const std::vector<LBuf>& T, const LBuf& O) {
        const LocalOpd b = opd_of(I[1], t, C, W, kPInt8, ins[1].q.dtype != DType::U8);
        em_.tiu(tiu_ar(kArMul, opd_of(T[0], t, C, W, kPInt32, true), opd_of(I[0], t, C, W, kPInt8, ins[0].q.dtype != DType::U8), &b),
                {I[0].region(), I[1].region()}, {T[0].region()}, elem_cost(t.n, C, t.h, W, 1, 4));
        rescale_into(T[0], kPInt32, true, O, t, C, W, ip.multiplier(0), ip.shift(0), rg);
      }, 2);
    }
    cur_[l.top(0)] = out;
  }

  void concat(const ufw::LayerParameter& l) {
    const int axis = l.concat_param().has_axis() ? l.concat_param().axis() : 1;
    if (axis != 1) unsupported(l, "Concat along axis " + std::to_string(axis) + " (channel concat only)");
    BlobPlace out = top(l, 0);
    if (out.shape.size() != 4) unsupported(l, "only 4-D concat");
    const auto& ip = l.int8_param();
    int c0 = 0;
    for (int i = 0; i < l.bottom_size(); ++i) {
      const BlobPlace in = bottom(l, i);
      const std::int32_t m = ip.input_multiplier_size() ? ip.input_multiplier(i) : 1;
      const int sh = ip.input_multiplier_size() ? ip.input_shift(i) : 0;
      out_c0_ = c0;  // tiles have in.c channels; the store goes into out at channel offset c0
      tile_c_ = in.c;
      elementwise(l, {in}, out, 1, 0, [&](const Tile& t, const std::vector<LBuf>& I, const std::vector<LBuf>&, const LBuf& O) {
        rescale_into(I[0], kPInt8, in.q.dtype != DType::U8, O, t, in.c, in.w, m, sh, range(out.q));
      }, 1);
      out_c0_ = 0;
      tile_c_ = 0;
      c0 += in.c;
    }
    cur_[l.top(0)] = out;
  }

  void lut(const ufw::LayerParameter& l) {
    const BlobPlace in = bottom(l, 0);
    BlobPlace out = top(l, 0);
    const std::string& table = l.int8_param().lut();
    const std::uint64_t gt = add_coeff(l.name() + ".lut", table.data(), table.size());
    LBuf Tb{0, lane_bytes(1, out.c, 1, 256, 1)};
    fixed_ = {&Tb};
    fixed_bytes_ = Tb.bytes + 64;
    prologue_ = [&, gt]() { load_const(gt, out.c, 256, 1, Tb, true); };
    elementwise(l, {in}, out, 1, 0, [&](const Tile& t, const std::vector<LBuf>& I, const std::vector<LBuf>&, const LBuf& O) {
      em_.tiu(tiu_lut(opd_of(O, t, out.c, out.w, kPInt8, true), opd_of(I[0], t, out.c, out.w, kPInt8, in.q.dtype != DType::U8), Tb.off),
              {I[0].region(), Tb.region()}, {O.region()}, elem_cost(t.n, out.c, t.h, out.w, 1, 1));
    }, 1);
    cur_[l.top(0)] = out;
  }

  void pooling(const ufw::LayerParameter& l) {
    const BlobPlace in = bottom(l, 0);
    BlobPlace out = top(l, 0);
    const auto parsed = engine::pool2d_params(l.pooling_param());
    const auto p = kernels::pool2d_effective(parsed, in.h, in.w);
    const bool is_max = p.method == kernels::PoolMethod::Max;
    std::int32_t m = 1;
    int sh = 0;
    // AVE: the divisor of output (oh, ow) is dh(oh) * dw(ow) (padded or in-bounds extents, as the
    // runtime counts them); runs of equal dh / dw give rectangles with one multiplier each.
    std::vector<int> dh(static_cast<std::size_t>(out.h)), dwv(static_cast<std::size_t>(out.w));
    if (is_max) {
      std::tie(m, sh) = rescale_param(l);
    } else {
      for (int oh = 0; oh < out.h; ++oh) {
        const auto wh = kernels::pool_detail::window(oh, p.kernel_h, p.stride_h, p.pad_top, p.pad_bottom, in.h);
        dh[static_cast<std::size_t>(oh)] = static_cast<int>(p.count_include_pad ? wh.padded : wh.hi - wh.lo);
      }
      for (int ow = 0; ow < out.w; ++ow) {
        const auto ww = kernels::pool_detail::window(ow, p.kernel_w, p.stride_w, p.pad_left, p.pad_right, in.w);
        dwv[static_cast<std::size_t>(ow)] = static_cast<int>(p.count_include_pad ? ww.padded : ww.hi - ww.lo);
      }
    }
    auto runs = [](const std::vector<int>& v, int b, int e) {
      std::vector<std::pair<int, int>> r;  // [start, end)
      for (int i = b; i < e;) {
        int j = i + 1;
        while (j < e && v[static_cast<std::size_t>(j)] == v[static_cast<std::size_t>(i)]) ++j;
        r.push_back({i, j});
        i = j;
      }
      return r;
    };
    const int KH = static_cast<int>(p.kernel_h), KW = static_cast<int>(p.kernel_w), SH = static_cast<int>(p.stride_h), SW = static_cast<int>(p.stride_w);
    const int PT = static_cast<int>(p.pad_top), PL = static_cast<int>(p.pad_left);
    check4(l, SH, "stride_h"), check4(l, SW, "stride_w"), check4(l, PT, "pad_top"), check4(l, PL, "pad_left");
    const int N = out.n, C = out.c, OH = out.h, OW = out.w, IH = in.h, IW = in.w;
    auto in_rows = [&](int oh0, int oh) {
      const int lo = std::max(0, oh0 * SH - PT);
      if (lo >= IH) return std::pair<int, int>{IH, IH};
      const int hi = std::min(IH, (oh0 + oh - 1) * SH - PT + KH);
      return std::pair<int, int>{lo, std::max(hi, lo + 1)};
    };
    auto tile_bytes = [&](int tn, int th) {
      const int ih = std::min(IH, (th - 1) * SH + KH);
      return std::uint64_t(lane_bytes(tn, C, ih, IW, 1)) + lane_bytes(tn, C, th, OW, 4) + lane_bytes(tn, C, th, OW, 1);
    };
    auto tcost = [&](int tn, int th) { return elem_cost(tn, C, th, OW, KH * KW, 1) + elem_cost(tn, C, th, OW, 1, 4); };
    auto cost = [&](int tn, int th) {
      const double ntiles = std::ceil(double(N) / tn) * std::ceil(double(OH) / th);
      return ntiles * std::max(tcost(tn, th), CostModel::kDmaLatency * 2 + double(tile_bytes(tn, th)) / CostModel::kDmaBytesPerCycle);
    };
    const TilePlan tp = plan(l, N, OH, false, tile_bytes, 0, cost);
    const int nb = opt_.opt >= 1 ? 2 : 1;
    const int ihmax = std::min(IH, (tp.th - 1) * SH + KH);
    LBuf I[2], A[2], O[2];
    std::vector<LBuf*> all;
    for (int i = 0; i < nb; ++i) {
      I[i].bytes = lane_bytes(tp.tn, C, ihmax, IW, 1), A[i].bytes = lane_bytes(tp.tn, C, tp.th, OW, 4), O[i].bytes = lane_bytes(tp.tn, C, tp.th, OW, 1);
      all.push_back(&I[i]), all.push_back(&A[i]), all.push_back(&O[i]);
    }
    std::uint64_t used = 0;
    lower_detail::place(chip_, all, &used);
    rep_->local_bytes = used;
    const auto ts = tiles(N, OH, tp);
    rep_->tiles = static_cast<std::uint32_t>(ts.size());
    const bool s = in.q.dtype != DType::U8;
    auto load_tile = [&](std::size_t k) {
      const auto [a0, a1] = in_rows(ts[k].h0, ts[k].h);
      if (a1 > a0) load(in, ts[k].n0, ts[k].n, 0, C, a0, a1 - a0, I[k % static_cast<std::size_t>(nb)]);
    };
    if (!ts.empty()) load_tile(0);
    for (std::size_t k = 0; k < ts.size(); ++k) {
      const Tile& t = ts[k];
      const int b = static_cast<int>(k % static_cast<std::size_t>(nb));
      const auto [r0, r1] = in_rows(t.h0, t.h);
      if (k > 0 && nb == 1) load_tile(k);
      if (nb == 2 && k + 1 < ts.size()) load_tile(k + 1);
      const int pad_t = r1 == r0 ? 0 : r0 - (t.h0 * SH - PT);
      const int pad_b = r1 == r0 ? 0 : std::max(0, (t.h0 + t.h - 1) * SH - PT + KH - r1);
      const int pad_r = std::max(0, (OW - 1) * SW - PL + KW - IW);
      check4(l, pad_t, "tile pad_top"), check4(l, pad_b, "tile pad_bottom"), check4(l, pad_r, "pad_right");
      ConvGeom geo{KH, KW, SH, SW, 1, 1, pad_t, pad_b, PL, pad_r};
      LocalOpd res{A[b].off, t.n, C, t.h, OW, kPInt32, true};
      LocalOpd src{I[b].off, t.n, C, r1 - r0, IW, kPInt8, s};
      em_.tiu(tiu_pord(is_max ? kMaxPool : kAvgPool, res, src, 0, 0, false, geo), {I[b].region()}, {A[b].region()}, tcost(t.n, t.h));
      Tile ot{t.n0, t.n, t.h0, t.h};
      if (is_max) {
        rescale_into(A[b], kPInt32, true, O[b], ot, C, OW, m, sh, range(out.q));
      } else {
        const auto [lo, hi] = range(out.q);
        const std::uint32_t cs4 = cstride(t.h, OW, 4), cs1 = cstride(t.h, OW, 1), slots = static_cast<std::uint32_t>(ceil_div(static_cast<std::uint64_t>(C), static_cast<std::uint64_t>(chip_.npu_num)));
        if (std::uint64_t(slots) * cs4 > 0xFFFF) unsupported(l, "AVE pooling tile too large for the 16-bit stride fields");
        for (const auto& [h0, h1] : runs(dh, t.h0, t.h0 + t.h))
          for (const auto& [w0, w1] : runs(dwv, 0, OW)) {
            const int d = dh[static_cast<std::size_t>(h0)] * dwv[static_cast<std::size_t>(w0)];
            // d == 0: a Caffe ceil-mode window wholly past the input; the runtime writes 0 (sum 0, identity)
            if (d < 0 || d > l.int8_param().multiplier_size()) unsupported(l, "AVE divisor " + std::to_string(d) + " has no int8_param multiplier");
            const std::int32_t dm = d == 0 ? 1 : l.int8_param().multiplier(d - 1);
            const int ds = d == 0 ? 0 : l.int8_param().shift(d - 1);
            const std::uint32_t e = static_cast<std::uint32_t>((h0 - t.h0) * OW + w0);
            LocalOpd r{O[b].off + e, t.n, C, h1 - h0, w1 - w0, kPInt8, true};
            LocalOpd a{A[b].off + 4 * e, t.n, C, h1 - h0, w1 - w0, kPInt32, true};
            Fields cmd = tiu_rq(kRequantInt, r, a, false, 0, dm, ds, lo, hi);
            // a rectangle of the tile: free strides of the whole tile's layout (code 3)
            cmd.set("res0_str") = 3, cmd.set("res0_n_str") = slots * cs1, cmd.set("res0_c_str") = cs1, cmd.set("res0_h_str") = static_cast<std::uint32_t>(OW), cmd.set("res0_w_str") = 1;
            cmd.set("opd0_str") = 3, cmd.set("opd0_n_str") = slots * cs4, cmd.set("opd0_c_str") = cs4, cmd.set("opd0_h_str") = static_cast<std::uint32_t>(OW), cmd.set("opd0_w_str") = 1;
            em_.tiu(cmd, {A[b].region()}, {O[b].region()}, elem_cost(t.n, C, h1 - h0, w1 - w0, 1, 4));
          }
      }
      store(O[b], out, t.n0, t.n, 0, C, t.h0, t.h);
    }
    cur_[l.top(0)] = out;
  }

  // ---- float borders --------------------------------------------------------------------------
  // A net input stored as fp32 (-input_as_fp32, or an FP32 top_quant): the chip quantises it with
  // the int8 scale the runtime uses for it (quantize_int8 with the blob's threshold / 127).
  BlobPlace quantize_input(const BlobPlace& f, const engine::QuantInfo& q) {
    BlobPlace i8 = make_blob(f.name, f.shape, q);
    ufw::LayerParameter l;
    l.set_name(f.name + "_quantize");
    l.set_type("Quantize");
    const auto rg = range(q);
    elementwise(l, {f}, i8, 4, 0, [&](const Tile& t, const std::vector<LBuf>& I, const std::vector<LBuf>&, const LBuf& O) {
      em_.tiu(tiu_rq(kRequantFloat, opd_of(O, t, i8.c, i8.w, kPInt8, rg.first < 0), opd_of(I[0], t, i8.c, i8.w, kPFp32, true), false, 0,
                     std::bit_cast<std::int32_t>(q.scale), 0, rg.first, rg.second),
              {I[0].region()}, {O.region()}, elem_cost(t.n, i8.c, t.h, i8.w, 2, 4));
    }, 2);
    return i8;
  }
  BlobPlace dequantize_output(const BlobPlace& b) {
    engine::QuantInfo q = b.q;
    q.dtype = DType::F32;
    BlobPlace f = make_blob(b.name, b.shape, q);
    ufw::LayerParameter l;
    l.set_name(b.name + "_dequantize");
    l.set_type("Dequantize");
    const auto rg = range(b.q);
    elementwise(l, {b}, f, 4, 0, [&](const Tile& t, const std::vector<LBuf>& I, const std::vector<LBuf>&, const LBuf& O) {
      Fields cmd = tiu_rq(kDequantFloat, opd_of(O, t, f.c, f.w, kPFp32, true), opd_of(I[0], t, b.c, b.w, kPInt8, b.q.dtype != DType::U8), false,
                          0, std::bit_cast<std::int32_t>(b.q.scale), 0, rg.first, rg.second);
      em_.tiu(cmd, {I[0].region()}, {O.region()}, elem_cost(t.n, f.c, t.h, f.w, 1, 4));
    }, 1);
    return f;
  }

  LowerOptions opt_;
  const Chip& chip_;
  lower_detail::Emitter em_;
  std::unique_ptr<engine::Int8Net> net_;
  ufw::NetParameter param_;
  std::map<std::string, BlobPlace> cur_;
  std::map<std::string, BlobPlace> fp32_inputs_;
  std::vector<std::uint8_t> coeff_;
  std::vector<std::pair<std::string, std::pair<std::uint64_t, std::uint64_t>>> locations_;
  std::uint64_t ctx_base_ = 0, ctx_used_ = 0;
  LayerReport* rep_ = nullptr;
  int out_c0_ = 0, tile_c_ = 0;
  std::vector<LBuf*> fixed_;
  std::uint32_t fixed_bytes_ = 0;
  std::function<void()> prologue_;
};

inline Lowered lower(const ufw::NetParameter& param, const LowerOptions& opt) { return Lowerer(param, opt).run(); }

// Per-layer table of the compile report (docs/bmnetu.md): commands, bytes moved, local memory
// per lane, tiles, and the cost model's cycles (TIU busy, GDMA busy, span on the timeline).
inline std::string report_markdown(const Lowered& low) {
  std::ostringstream o;
  o << "| layer | type | TIU | GDMA | tiles | bytes in | bytes out | coeff bytes | local B/lane | TIU cyc | DMA cyc | span cyc |\n";
  o << "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  std::uint64_t tiu = 0, gdma = 0, bin = 0, bout = 0, bc = 0;
  double tc = 0, dc = 0;
  for (const auto& r : low.layers) {
    o << "| " << r.name << " | " << r.type << " | " << r.tiu << " | " << r.gdma << " | " << r.tiles << " | " << r.bytes_in << " | "
      << r.bytes_out << " | " << r.bytes_coeff << " | " << r.local_bytes << " | " << static_cast<std::uint64_t>(r.tiu_cycles) << " | "
      << static_cast<std::uint64_t>(r.dma_cycles) << " | " << static_cast<std::uint64_t>(r.span_cycles) << " |\n";
    tiu += r.tiu, gdma += r.gdma, bin += r.bytes_in, bout += r.bytes_out, bc += r.bytes_coeff, tc += r.tiu_cycles, dc += r.dma_cycles;
  }
  o << "| **total** | | " << tiu << " | " << gdma << " | | " << bin << " | " << bout << " | " << bc << " | | " << static_cast<std::uint64_t>(tc)
    << " | " << static_cast<std::uint64_t>(dc) << " | " << static_cast<std::uint64_t>(low.total_cycles) << " |\n";
  o << "\n(+1 SYSID end and +1 sDMA_sys end per stream; estimated total " << static_cast<std::uint64_t>(low.total_cycles)
    << " cycles with overlap, " << static_cast<std::uint64_t>(tc + dc) << " if nothing overlapped)\n";
  return o.str();
}

}  // namespace octet::bm168x
