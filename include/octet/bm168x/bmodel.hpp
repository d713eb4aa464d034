// The bmodel container (bm168x.md §1): an in-memory description of what Octet writes, the
// writer (64-byte header + flatbuffer + de-duplicated binary blob, coefficients 0x1000-aligned
// with a SHA-256 check_code), the reader with the vendor loader's four checks, and the
// `--info` / `--print` renderings of bmodel_tool. Depends on bm168x/commands.hpp (stream
// sizes), core/ and the flatc-generated octet/proto/bmodel_generated.h; never on ir/ or proto.
#pragma once
#include <cstdint>
#include <cstring>
#include <ctime>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <iomanip>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "octet/bm168x/chip.hpp"
#include "octet/bm168x/commands.hpp"
#include "octet/core/atomic_file.hpp"
#include "octet/core/error.hpp"
#include "octet/core/sha256.hpp"
#include "octet/proto/bmodel_generated.h"

namespace octet::bm168x {

inline constexpr std::uint32_t kBmodelMagic = 0xFF55AAEEu;
inline constexpr std::uint32_t kBmodelHeaderSize = 64;

// Tensor.data_type codes (bm168x.md §3.8).
enum DataType : std::uint32_t { kDtFp32 = 0, kDtFp16 = 1, kDtInt8 = 2, kDtUint8 = 3, kDtInt16 = 4, kDtUint16 = 5, kDtInt32 = 6, kDtUint32 = 7 };
inline std::size_t dtype_bytes(std::uint32_t dt) {
  switch (dt) {
    case kDtInt8: case kDtUint8: return 1;
    case kDtFp16: case kDtInt16: case kDtUint16: return 2;
    default: return 4;
  }
}
inline const char* dtype_name(std::uint32_t dt) {
  static const char* names[] = {"float32", "float16", "int8", "uint8", "int16", "uint16", "int32", "uint32", "bfloat16", "int4", "uint4"};
  return dt < 11 ? names[dt] : "unkown";  // (sic: the vendor tool's spelling)
}

struct TensorDesc {
  std::string name;
  std::uint32_t dtype = kDtInt8;
  std::vector<std::uint64_t> shape;
  float scale = 1.0f;
  std::int32_t zero_point = 0;
  std::uint64_t device_addr = 0;
  std::uint64_t size = 0;
  std::int32_t hidden = 0;  // 1 input, 2 output
  std::int32_t index = 0;
  std::uint64_t elements() const {
    std::uint64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
};

struct NetDesc {
  std::string name;
  std::vector<TensorDesc> inputs, outputs;
  std::uint64_t ctx_addr = 0, ctx_size = 0;
  std::uint64_t coeff_addr = 0;
  std::vector<std::uint8_t> coeff;  // already 0x1000-aligned per weight by the lowering
  std::vector<std::pair<std::string, std::pair<std::uint64_t, std::uint64_t>>> coeff_locations;  // name -> (offset, size)
  std::vector<CmdGroupBytes> groups;
};

struct ModelDesc {
  std::string type = "B";
  std::string version = "2.2+octet";
  std::string time;  // ctime text, trailing newline included
  std::string chip = "BM1684X";
  std::vector<NetDesc> nets;
};

inline std::string ctime_now() {
  std::time_t t = std::time(nullptr);
  char buf[64] = {0};
  ctime_r(&t, buf);
  return buf;
}

// ---- writer ------------------------------------------------------------------------------------
class BlobWriter {
 public:
  bmodel::Binary add(const std::uint8_t* p, std::size_t n) {
    std::string key(reinterpret_cast<const char*>(p), n);
    auto it = seen_.find(key);
    if (it != seen_.end()) return it->second;
    bmodel::Binary b(blob_.size(), n);
    blob_.insert(blob_.end(), p, p + n);
    seen_.emplace(std::move(key), b);
    return b;
  }
  bmodel::Binary add(const std::vector<std::uint8_t>& v) { return add(v.data(), v.size()); }
  const std::vector<std::uint8_t>& bytes() const { return blob_; }

 private:
  std::vector<std::uint8_t> blob_;
  std::map<std::string, bmodel::Binary> seen_;
};

inline std::string serialize_bmodel(const ModelDesc& m) {
  flatbuffers::FlatBufferBuilder fb;
  BlobWriter blob;

  auto make_tensor = [&](const TensorDesc& t) {
    auto name = fb.CreateString(t.name);
    auto dims = fb.CreateVector(t.shape);
    bmodel::ShapeBuilder sb(fb);
    sb.add_dim(dims);
    auto shp = sb.Finish();
    auto shapes = fb.CreateVector(std::vector<flatbuffers::Offset<bmodel::Shape>>{shp});
    bmodel::TensorBuilder tb(fb);
    tb.add_name(name);
    tb.add_data_type(t.dtype);
    tb.add_gmem_stmode(0);
    tb.add_device_addr(t.device_addr);
    tb.add_size(t.size);
    tb.add_shape(shapes);
    tb.add_mem_type(1);
    tb.add_scale(t.scale);
    tb.add_zero_point(t.zero_point);
    tb.add_hidden(t.hidden);
    tb.add_index(t.index);
    return tb.Finish();
  };
  auto make_tensors = [&](const std::vector<TensorDesc>& ts) {
    std::vector<flatbuffers::Offset<bmodel::Tensor>> v;
    for (const auto& t : ts) v.push_back(make_tensor(t));
    return fb.CreateVector(v);
  };

  std::vector<flatbuffers::Offset<bmodel::Net>> nets;
  for (const auto& n : m.nets) {
    // Coefficients first so their blob offset is 0 for the first net (no padding is needed:
    // the 0x1000 alignment is relative to the coeff buffer, bm168x.md §1.2).
    const bmodel::Binary coeff_bin = blob.add(n.coeff);
    const auto digest = Sha256::hash(n.coeff.data(), n.coeff.size());
    auto check = fb.CreateVector(digest.data(), digest.size());
    std::vector<flatbuffers::Offset<bmodel::Location>> locs;
    for (const auto& [name, os] : n.coeff_locations) {
      auto ln = fb.CreateString(name);
      bmodel::LocationBuilder lb(fb);
      lb.add_name(ln);
      lb.add_offset(os.first);
      lb.add_size(os.second);
      locs.push_back(lb.Finish());
    }
    auto locv = fb.CreateVector(locs);
    bmodel::CoeffMemBuilder cb(fb);
    cb.add_address(n.coeff_addr);
    cb.add_check_code(check);
    cb.add_binary_coeff(&coeff_bin);
    cb.add_location(locv);
    auto coeff = cb.Finish();

    auto make_groups = [&]() {
      std::vector<flatbuffers::Offset<bmodel::CmdGroup>> gs;
      for (const auto& g : n.groups) {
        bmodel::Binary tb = blob.add(g.tiu), gb = blob.add(g.gdma);
        bmodel::CmdGroupBuilder b(fb);
        b.add_bdc_num(g.tiu_num);
        b.add_gdma_num(g.gdma_num);
        if (g.tiu_num) b.add_binary_bdc(&tb);
        if (g.gdma_num) b.add_binary_gdma(&gb);
        b.add_bdc_cmd_byte(static_cast<std::uint32_t>(g.tiu.size()));
        b.add_gdma_cmd_byte(static_cast<std::uint32_t>(g.gdma.size()));
        gs.push_back(b.Finish());
      }
      return fb.CreateVector(gs);
    };
    auto groups = make_groups();
    auto sub_groups = make_groups();  // same bytes: the blob writer de-duplicates them
    auto sin = make_tensors(n.inputs), sout = make_tensors(n.outputs);
    bmodel::SubNetBuilder sbb(fb);
    sbb.add_subnet_mode(0);
    sbb.add_cmd_group(sub_groups);
    sbb.add_input_tensor(sin);
    sbb.add_output_tensor(sout);
    sbb.add_id(0);
    auto sub = sbb.Finish();
    auto subs = fb.CreateVector(std::vector<flatbuffers::Offset<bmodel::SubNet>>{sub});
    auto in = make_tensors(n.inputs), out = make_tensors(n.outputs);
    auto ctx_sizes = fb.CreateVector(std::vector<std::uint64_t>{n.ctx_size});
    bmodel::NetParameterBuilder pb(fb);
    pb.add_input_tensor(in);
    pb.add_output_tensor(out);
    pb.add_ctx_addr(n.ctx_addr);
    pb.add_ctx_size(n.ctx_size);
    pb.add_coeff_mem(coeff);
    pb.add_cmd_group(groups);
    pb.add_sub_net(subs);
    pb.add_ctx_sizes(ctx_sizes);
    auto param = pb.Finish();
    auto params = fb.CreateVector(std::vector<flatbuffers::Offset<bmodel::NetParameter>>{param});
    auto name = fb.CreateString(n.name);
    bmodel::NetBuilder nb(fb);
    nb.add_name(name);
    nb.add_parameter(params);
    nb.add_addr_mode(0);
    nets.push_back(nb.Finish());
  }
  std::uint64_t neuron = 0;
  for (const auto& n : m.nets) neuron = std::max(neuron, n.ctx_size);
  auto type = fb.CreateString(m.type), version = fb.CreateString(m.version),
       time = fb.CreateString(m.time.empty() ? ctime_now() : m.time), chip = fb.CreateString(m.chip);
  auto netv = fb.CreateVector(nets);
  bmodel::ModelBuilder mb(fb);
  mb.add_type(type);
  mb.add_version(version);
  mb.add_time(time);
  mb.add_chip(chip);
  mb.add_net(netv);
  mb.add_neuron_size(neuron);
  mb.add_device_num(1);
  fb.Finish(mb.Finish());

  std::string out(kBmodelHeaderSize, '\0');
  auto put32 = [&](std::size_t off, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out[off + static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xFF);
  };
  put32(0, kBmodelMagic);
  put32(4, kBmodelHeaderSize);
  put32(8, fb.GetSize());
  put32(12, static_cast<std::uint32_t>(blob.bytes().size()));
  out.append(reinterpret_cast<const char*>(fb.GetBufferPointer()), fb.GetSize());
  out.append(reinterpret_cast<const char*>(blob.bytes().data()), blob.bytes().size());
  return out;
}

inline void save_bmodel(const ModelDesc& m, const std::string& path) { atomic_write(path, serialize_bmodel(m)); }

// ---- reader ------------------------------------------------------------------------------------
// A verified bmodel in memory: the bytes, and typed access to the root and the blob.
class BmodelFile {
 public:
  // The vendor loader's four checks, in order; each failure is one IoError line naming it.
  static BmodelFile parse(std::string bytes, const std::string& source = "<bmodel>") {
    BmodelFile f;
    f.bytes_ = std::move(bytes);
    const auto& b = f.bytes_;
    if (b.size() <= kBmodelHeaderSize)
      throw IoError(error_text(source, "check 1 (header) failed: file is " + std::to_string(b.size()) +
                                           " bytes, not longer than the 64-byte header"));
    f.magic_ = f.u32(0);
    f.header_size_ = f.u32(4);
    f.fb_size_ = f.u32(8);
    f.bin_size_ = f.u32(12);
    if (f.magic_ != kBmodelMagic) {
      std::ostringstream s;
      s << "check 2 (magic) failed: 0x" << std::hex << std::uppercase << f.magic_ << ", expected 0xFF55AAEE";
      throw IoError(error_text(source, s.str()));
    }
    if (std::uint64_t(b.size()) < std::uint64_t(f.header_size_) + f.fb_size_ + f.bin_size_)
      throw IoError(error_text(source, "check 3 (sizes) failed: file is " + std::to_string(b.size()) + " bytes, header says " +
                                           std::to_string(f.header_size_) + " + " + std::to_string(f.fb_size_) + " + " +
                                           std::to_string(f.bin_size_)));
    flatbuffers::Verifier v(reinterpret_cast<const std::uint8_t*>(b.data()) + f.header_size_, f.fb_size_);
    if (f.header_size_ > b.size() || !bmodel::VerifyModelBuffer(v))
      throw IoError(error_text(source, "check 4 (flatbuffers verification of Model) failed"));
    return f;
  }
  static BmodelFile load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw IoError(error_text(path, "cannot open"));
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return parse(std::move(bytes), path);
  }

  const bmodel::Model* model() const {
    return bmodel::GetModel(reinterpret_cast<const std::uint8_t*>(bytes_.data()) + header_size_);
  }
  // Bytes of a Binary, bounds-checked against the blob.
  std::vector<std::uint8_t> binary(const bmodel::Binary* b) const {
    if (!b) return {};
    if (b->start() + b->size() > bin_size_) throw IoError(error_text("bmodel", "Binary past the end of the blob"));
    const auto* p = reinterpret_cast<const std::uint8_t*>(bytes_.data()) + header_size_ + fb_size_ + b->start();
    return std::vector<std::uint8_t>(p, p + b->size());
  }
  std::uint32_t fb_size() const { return fb_size_; }
  std::uint32_t bin_size() const { return bin_size_; }

  // Back to the in-memory description (first stage of each net), for the cmodel.
  ModelDesc describe() const {
    ModelDesc d;
    const auto* m = model();
    d.type = m->type()->str();
    d.version = m->version()->str();
    d.time = m->time()->str();
    d.chip = m->chip()->str();
    for (const auto* net : *m->net()) {
      NetDesc n;
      n.name = net->name()->str();
      if (!net->parameter() || net->parameter()->size() == 0) throw IoError(error_text("bmodel", n.name, "net without parameter"));
      const auto* p = net->parameter()->Get(0);
      auto tensors = [&](const auto* v, std::vector<TensorDesc>& out) {
        if (!v) return;
        for (const auto* t : *v) {
          TensorDesc td;
          td.name = t->name()->str();
          td.dtype = t->data_type();
          if (t->shape() && t->shape()->size() && t->shape()->Get(0)->dim())
            for (auto x : *t->shape()->Get(0)->dim()) td.shape.push_back(x);
          td.scale = t->scale();
          td.zero_point = t->zero_point();
          td.device_addr = t->device_addr();
          td.size = t->size();
          td.hidden = t->hidden();
          td.index = t->index();
          out.push_back(td);
        }
      };
      tensors(p->input_tensor(), n.inputs);
      tensors(p->output_tensor(), n.outputs);
      n.ctx_addr = p->ctx_addr();
      n.ctx_size = p->ctx_size();
      if (p->coeff_mem()) {
        n.coeff_addr = p->coeff_mem()->address();
        n.coeff = binary(p->coeff_mem()->binary_coeff());
      }
      if (p->cmd_group())
        for (const auto* g : *p->cmd_group()) {
          CmdGroupBytes cg;
          cg.tiu_num = g->bdc_num();
          cg.gdma_num = g->gdma_num();
          cg.tiu = binary(g->binary_bdc());
          cg.gdma = binary(g->binary_gdma());
          n.groups.push_back(std::move(cg));
        }
      d.nets.push_back(std::move(n));
    }
    return d;
  }

 private:
  std::uint32_t u32(std::size_t off) const {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= std::uint32_t(static_cast<std::uint8_t>(bytes_[off + static_cast<std::size_t>(i)])) << (8 * i);
    return v;
  }
  std::string bytes_;
  std::uint32_t magic_ = 0, header_size_ = 0, fb_size_ = 0, bin_size_ = 0;
};

// ---- bmodel_tool renderings -----------------------------------------------------------------
inline std::string fmt_scale(float s) {
  std::ostringstream o;
  o << s;  // iostream style: 1, not 1.0
  return o.str();
}

inline std::string info_text(const BmodelFile& f) {
  std::ostringstream o;
  const auto* m = f.model();
  o << "bmodel version: " << m->type()->str() << "." << m->version()->str() << "\n";
  o << "chip: " << m->chip()->str();
  if (m->device_num() > 1) o << ", device num: " << m->device_num();
  o << "\n";
  o << "create time: " << m->time()->str();
  if (m->time()->str().empty() || m->time()->str().back() != '\n') o << "\n";
  if (m->kernel_module())
    o << "kernel_module name: " << m->kernel_module()->file_name()->str() << "\nkernel_module size: " << m->kernel_module()->binary()->size() << "\n";
  else
    o << "no kernel_module\n";
  o << std::string(42, '=') << "\n";
  std::uint64_t weight = 0, instruct = 0, neuron = 0, middle = 0;
  std::vector<std::string> seen_codes;
  const bool bm1684 = m->chip()->str() == "BM1684";
  for (flatbuffers::uoffset_t i = 0; i < m->net()->size(); ++i) {
    const auto* net = m->net()->Get(i);
    const bool dyn = net->parameter() && net->parameter()->size() && net->parameter()->Get(0)->is_dynamic() != 0;
    o << "net " << i << ": [" << net->name()->str() << "]  " << (dyn ? "dynamic" : "static") << "\n";
    if (net->addr_mode() != 0) o << "addr mode: " << net->addr_mode() << "\n";
    o << std::string(12, '-') << "\n";
    if (!net->parameter()) continue;
    for (flatbuffers::uoffset_t j = 0; j < net->parameter()->size(); ++j) {
      const auto* p = net->parameter()->Get(j);
      o << "stage " << j << ":\n";
      if (p->sub_net() && p->sub_net()->size() > 1) o << "subnet number: " << p->sub_net()->size() << "\n";
      auto io = [&](const char* what, const auto* v) {
        if (!v) return;
        for (const auto* t : *v) {
          o << what << ": " << t->name()->str() << ", [";
          std::uint64_t elems = 1;
          if (t->shape() && t->shape()->size() && t->shape()->Get(0)->dim()) {
            const auto* d = t->shape()->Get(0)->dim();
            for (flatbuffers::uoffset_t k = 0; k < d->size(); ++k) {
              o << (k ? ", " : "") << d->Get(k);
              elems *= d->Get(k);
            }
          }
          o << "], " << dtype_name(t->data_type()) << ", scale: " << fmt_scale(t->scale()) << ", zero_point: " << t->zero_point() << "\n";
          middle = std::max<std::uint64_t>(middle, elems * ((t->data_type() == kDtInt8 || t->data_type() == kDtUint8) ? 1 : 4));
        }
      };
      io("input", p->input_tensor());
      io("output", p->output_tensor());
      neuron = std::max<std::uint64_t>(neuron, p->ctx_size());
      if (p->coeff_mem() && p->coeff_mem()->binary_coeff()) {
        std::string code;
        if (p->coeff_mem()->check_code())
          code.assign(reinterpret_cast<const char*>(p->coeff_mem()->check_code()->data()), p->coeff_mem()->check_code()->size());
        code += "/" + std::to_string(p->coeff_mem()->binary_coeff()->size());
        if (std::find(seen_codes.begin(), seen_codes.end(), code) == seen_codes.end()) {
          seen_codes.push_back(code);
          weight += p->coeff_mem()->binary_coeff()->size();
        }
      }
      if (p->cmd_group())
        for (const auto* g : *p->cmd_group()) {
          if (bm1684)
            instruct += std::uint64_t(g->bdc_num() + g->gdma_num()) * 128;
          else
            instruct += (g->binary_bdc() ? g->binary_bdc()->size() : 0) + (g->binary_gdma() ? g->binary_gdma()->size() : 0);
        }
    }
  }
  const std::uint64_t runtime = neuron + middle;
  o << "\ndevice mem size: " << weight + instruct + runtime << " (weight: " << weight << ", instruct: " << instruct
    << ", runtime: " << runtime << ")\n";
  o << "host mem size: 0 (weight: 0, runtime: 0)\n";
  return o.str();
}

inline std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\', o += c;
    else if (c == '\n') o += "\\n";
    else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      o += buf;
    } else o += c;
  }
  return o;
}

inline std::string print_json(const BmodelFile& f) {
  std::ostringstream o;
  const auto* m = f.model();
  auto bin = [&](const bmodel::Binary* b) {
    std::ostringstream s;
    if (!b) return std::string("null");
    s << "{\"start\": " << b->start() << ", \"size\": " << b->size() << "}";
    return s.str();
  };
  auto tensor = [&](const bmodel::Tensor* t) {
    std::ostringstream s;
    s << "{\"name\": \"" << json_escape(t->name()->str()) << "\", \"data_type\": " << t->data_type()
      << ", \"gmem_stmode\": " << t->gmem_stmode() << ", \"device_addr\": " << t->device_addr() << ", \"size\": " << t->size()
      << ", \"shape\": [";
    if (t->shape())
      for (flatbuffers::uoffset_t i = 0; i < t->shape()->size(); ++i) {
        s << (i ? ", " : "") << "{\"dim\": [";
        const auto* d = t->shape()->Get(i)->dim();
        if (d)
          for (flatbuffers::uoffset_t k = 0; k < d->size(); ++k) s << (k ? ", " : "") << d->Get(k);
        s << "]}";
      }
    s << "], \"mem_type\": " << t->mem_type() << ", \"scale\": " << fmt_scale(t->scale()) << ", \"zero_point\": " << t->zero_point()
      << ", \"hidden\": " << t->hidden() << ", \"index\": " << t->index() << "}";
    return s.str();
  };
  auto tensors = [&](const auto* v) {
    std::string s = "[";
    if (v)
      for (flatbuffers::uoffset_t i = 0; i < v->size(); ++i) s += (i ? ", " : "") + tensor(v->Get(i));
    return s + "]";
  };
  auto groups = [&](const auto* v) {
    std::ostringstream s;
    s << "[";
    if (v)
      for (flatbuffers::uoffset_t i = 0; i < v->size(); ++i) {
        const auto* g = v->Get(i);
        s << (i ? ", " : "") << "{\"bdc_num\": " << g->bdc_num() << ", \"gdma_num\": " << g->gdma_num()
          << ", \"binary_bdc\": " << bin(g->binary_bdc()) << ", \"binary_gdma\": " << bin(g->binary_gdma())
          << ", \"bdc_cmd_byte\": " << g->bdc_cmd_byte() << ", \"gdma_cmd_byte\": " << g->gdma_cmd_byte() << "}";
      }
    s << "]";
    return s.str();
  };
  o << "{\n  \"type\": \"" << json_escape(m->type()->str()) << "\",\n  \"version\": \"" << json_escape(m->version()->str())
    << "\",\n  \"time\": \"" << json_escape(m->time()->str()) << "\",\n  \"chip\": \"" << json_escape(m->chip()->str())
    << "\",\n  \"neuron_size\": " << m->neuron_size() << ",\n  \"device_num\": " << m->device_num()
    << ",\n  \"bmodel_type\": " << m->bmodel_type() << ",\n  \"net\": [";
  for (flatbuffers::uoffset_t i = 0; i < m->net()->size(); ++i) {
    const auto* net = m->net()->Get(i);
    o << (i ? "," : "") << "\n    {\"name\": \"" << json_escape(net->name()->str()) << "\", \"addr_mode\": " << net->addr_mode()
      << ", \"parameter\": [";
    if (net->parameter())
      for (flatbuffers::uoffset_t j = 0; j < net->parameter()->size(); ++j) {
        const auto* p = net->parameter()->Get(j);
        o << (j ? "," : "") << "\n      {\"input_tensor\": " << tensors(p->input_tensor())
          << ",\n       \"output_tensor\": " << tensors(p->output_tensor()) << ",\n       \"ctx_addr\": " << p->ctx_addr()
          << ", \"ctx_size\": " << p->ctx_size() << ", \"ctx_sizes\": [";
        if (p->ctx_sizes())
          for (flatbuffers::uoffset_t k = 0; k < p->ctx_sizes()->size(); ++k) o << (k ? ", " : "") << p->ctx_sizes()->Get(k);
        o << "], \"is_dynamic\": " << p->is_dynamic() << ", \"n_dynamic\": " << p->n_dynamic() << ", \"h_w_dynamic\": " << p->h_w_dynamic()
          << ", \"cpu_mem_size\": " << p->cpu_mem_size() << ",\n       \"coeff_mem\": ";
        if (const auto* c = p->coeff_mem()) {
          std::string hex;
          if (c->check_code()) {
            Sha256::Digest d{};
            for (flatbuffers::uoffset_t k = 0; k < c->check_code()->size() && k < 32; ++k) d[k] = c->check_code()->Get(k);
            hex = Sha256::hex(d);
          }
          o << "{\"address\": " << c->address() << ", \"check_code\": \"" << hex << "\", \"binary_coeff\": " << bin(c->binary_coeff())
            << ", \"encrypt_mode\": " << c->encrypt_mode() << ", \"location\": [";
          if (c->location())
            for (flatbuffers::uoffset_t k = 0; k < c->location()->size(); ++k) {
              const auto* l = c->location()->Get(k);
              o << (k ? ", " : "") << "{\"name\": \"" << json_escape(l->name()->str()) << "\", \"offset\": " << l->offset()
                << ", \"size\": " << l->size() << "}";
            }
          o << "]}";
        } else {
          o << "null";
        }
        o << ",\n       \"cmd_group\": " << groups(p->cmd_group()) << ",\n       \"sub_net\": [";
        if (p->sub_net())
          for (flatbuffers::uoffset_t k = 0; k < p->sub_net()->size(); ++k) {
            const auto* s = p->sub_net()->Get(k);
            o << (k ? ", " : "") << "{\"subnet_mode\": " << s->subnet_mode() << ", \"id\": " << s->id() << ", \"is_dynamic\": " << s->is_dynamic()
              << ", \"cmd_group\": " << groups(s->cmd_group()) << ", \"input_tensor\": " << tensors(s->input_tensor())
              << ", \"output_tensor\": " << tensors(s->output_tensor()) << ", \"next_subnet_ids\": [";
            if (s->next_subnet_ids())
              for (flatbuffers::uoffset_t q = 0; q < s->next_subnet_ids()->size(); ++q) o << (q ? ", " : "") << s->next_subnet_ids()->Get(q);
            o << "]}";
          }
        o << "]}";
      }
    o << "]}";
  }
  o << "\n  ]\n}\n";
  return o.str();
}

}  // namespace octet::bm168x
