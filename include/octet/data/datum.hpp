// One LMDB record in memory (Sample) and its ufw.Datum wire form, byte-compatible with ufwio:
// float32 goes to float_data unpacked, every other dtype to raw little-endian bytes in `data`,
// dtype is always written, label only when present. Decoding is a hand-rolled wire parser
// (not ufw::Datum::ParseFromArray) because reading is on the calibration hot path and the
// unpacked float_data of ufwio costs protobuf one dispatch per element; it accepts everything
// the generated parser accepts for Datum (packed or unpacked float_data, legacy
// channels/height/width, unknown fields) and is tested against it.
// Depends on core/ and the generated umodel proto only (no LMDB, no OpenCV).
#pragma once
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "octet/core/error.hpp"
#include "octet/core/tensor.hpp"
#include "octet/proto/umodel.pb.h"

namespace octet::data {

// A tensor as stored: shape, element type and the little-endian element bytes.
struct Sample {
  Shape shape;
  DType dtype = DType::F32;
  std::vector<unsigned char> bytes;  // shape_count(shape) * dtype_size(dtype) bytes
  std::optional<int32_t> label;
  bool encoded = false;  // bytes hold a compressed image (legacy convert_imageset --encoded)

  int64_t count() const { return shape_count(shape); }
  template <typename T>
  const T* as() const { return reinterpret_cast<const T*>(bytes.data()); }

  template <typename T>
  static Sample from(Shape shape, const std::vector<T>& values, DType dtype,
                     std::optional<int32_t> label = std::nullopt) {
    Sample s;
    s.shape = std::move(shape);
    s.dtype = dtype;
    s.bytes.resize(values.size() * sizeof(T));
    if (!values.empty()) std::memcpy(s.bytes.data(), values.data(), s.bytes.size());
    s.label = label;
    return s;
  }
};

inline DType dtype_from_proto(int v) {
  switch (v) {
    case ufw::BlobProto::FP32: return DType::F32;
    case ufw::BlobProto::FP16: return DType::F16;
    case ufw::BlobProto::INT8: return DType::I8;
    case ufw::BlobProto::UINT8: return DType::U8;
    case ufw::BlobProto::INT16: return DType::I16;
    case ufw::BlobProto::UINT16: return DType::U16;
    case ufw::BlobProto::INT32: return DType::I32;
    case ufw::BlobProto::UINT32: return DType::U32;
    default: throw IoError("unknown Datum dtype " + std::to_string(v));
  }
}

inline ufw::BlobProto::Dtype dtype_to_proto(DType t) {
  switch (t) {
    case DType::F32: return ufw::BlobProto::FP32;
    case DType::F16: return ufw::BlobProto::FP16;
    case DType::I8: return ufw::BlobProto::INT8;
    case DType::U8: return ufw::BlobProto::UINT8;
    case DType::I16: return ufw::BlobProto::INT16;
    case DType::U16: return ufw::BlobProto::UINT16;
    case DType::I32: return ufw::BlobProto::INT32;
    case DType::U32: return ufw::BlobProto::UINT32;
  }
  return ufw::BlobProto::FP32;
}

// numpy-style name -> DType ("float32", "uint8", ...).
inline DType dtype_from_name(const std::string& n) {
  for (DType t : {DType::F32, DType::I8, DType::U8, DType::I16, DType::I32, DType::U16, DType::U32,
                  DType::F16})
    if (n == dtype_name(t)) return t;
  throw UsageError("unknown dtype '" + n + "'");
}

// The ufw.Datum wire bytes of a sample (the ufwio writer's choices, see file comment).
inline std::string encode_datum(const Sample& s) {
  if (!s.encoded && s.bytes.size() != static_cast<size_t>(s.count()) * dtype_size(s.dtype))
    throw ShapeError("sample of shape " + shape_str(s.shape) + " and dtype " + dtype_name(s.dtype) +
                     " holds " + std::to_string(s.bytes.size()) + " bytes");
  ufw::Datum d;
  auto* shp = d.mutable_shape();
  for (auto v : s.shape) shp->add_dim(v);
  if (s.dtype == DType::F32 && !s.encoded) {
    auto* f = d.mutable_float_data();
    f->Resize(static_cast<int>(s.count()), 0.f);
    if (s.count()) std::memcpy(f->mutable_data(), s.bytes.data(), s.bytes.size());
  } else {
    d.set_data(reinterpret_cast<const char*>(s.bytes.data()), s.bytes.size());
  }
  if (s.encoded) d.set_encoded(true);
  d.set_dtype(dtype_to_proto(s.dtype));
  if (s.label) d.set_label(*s.label);
  return d.SerializeAsString();
}

namespace detail {

// Minimal protobuf wire reader over a byte range; every malformed input throws IoError.
struct Wire {
  const unsigned char* p;
  const unsigned char* end;

  bool done() const { return p >= end; }
  [[noreturn]] static void bad(const char* what) { throw IoError(std::string("bad Datum: ") + what); }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p >= end) bad("truncated varint");
      const unsigned char b = *p++;
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    bad("varint too long");
  }
  std::string_view bytes() {
    const uint64_t n = varint();
    if (n > static_cast<uint64_t>(end - p)) bad("truncated length-delimited field");
    std::string_view out(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
    p += n;
    return out;
  }
  void skip(int wire_type) {
    switch (wire_type) {
      case 0: varint(); break;
      case 1: if (end - p < 8) bad("truncated fixed64"); p += 8; break;
      case 2: bytes(); break;
      case 5: if (end - p < 4) bad("truncated fixed32"); p += 4; break;
      default: bad("unsupported wire type");
    }
  }
};

}  // namespace detail

// Parses ufw.Datum bytes into `out`, reusing its buffers. Applies the ufwio read rule: shape =
// shape.dim if present, else [channels,height,width]; non-empty `data` holds elements of dtype
// (default UINT8, so legacy Caffe records read as uint8), else float_data is float32.
// Throws IoError("bad Datum: ...") on malformed wire data or when dims x dtype != byte count;
// callers prefix the LMDB and key.
inline void decode_datum(std::string_view value, Sample& out) {
  detail::Wire w{reinterpret_cast<const unsigned char*>(value.data()),
                 reinterpret_cast<const unsigned char*>(value.data()) + value.size()};
  out.shape.clear();
  out.bytes.clear();
  out.label.reset();
  out.encoded = false;
  int64_t chw[3] = {0, 0, 0};
  bool has_chw = false, has_shape = false, has_data = false;
  int dtype = ufw::BlobProto::UINT8;
  std::string_view data;
  // float_data goes straight into out.bytes; `data` is copied after the loop (a record never
  // carries both in practice, and `data` wins when it does, per the read rule).
  while (!w.done()) {
    const uint64_t tag = w.varint();
    const int field = static_cast<int>(tag >> 3), wt = static_cast<int>(tag & 7);
    if (field == 6 && wt == 5) {
      // Unpacked float run: consume consecutive elements without returning to the dispatcher,
      // into a buffer sized for the most elements the remaining bytes can hold.
      const size_t base = out.bytes.size();
      out.bytes.resize(base + (static_cast<size_t>(w.end - w.p) + 1) / 5 * 4 + 4);
      unsigned char* dst = out.bytes.data() + base;
      do {
        if (w.end - w.p < 4) detail::Wire::bad("truncated float_data");
        std::memcpy(dst, w.p, 4);
        dst += 4;
        w.p += 4;
      } while (w.end - w.p >= 5 && *w.p == 0x35 && (++w.p, true));
      out.bytes.resize(static_cast<size_t>(dst - out.bytes.data()));
    } else if (field == 6 && wt == 2) {
      const auto b = w.bytes();
      if (b.size() % 4) detail::Wire::bad("packed float_data length is not a multiple of 4");
      out.bytes.insert(out.bytes.end(), b.begin(), b.end());
    } else if (field >= 1 && field <= 3 && wt == 0) {
      chw[field - 1] = static_cast<int32_t>(w.varint());
      has_chw = true;
    } else if (field == 4 && wt == 2) {
      data = w.bytes();
      has_data = !data.empty();
    } else if (field == 5 && wt == 0) {
      out.label = static_cast<int32_t>(w.varint());
    } else if (field == 7 && wt == 0) {
      out.encoded = w.varint() != 0;
    } else if (field == 8 && wt == 2) {
      // BlobShape: dim = 1, int64, packed (or unpacked from a lax writer). Last one wins.
      const auto b = w.bytes();
      detail::Wire s{reinterpret_cast<const unsigned char*>(b.data()),
                     reinterpret_cast<const unsigned char*>(b.data()) + b.size()};
      out.shape.clear();
      has_shape = true;
      while (!s.done()) {
        const uint64_t t = s.varint();
        if ((t >> 3) == 1 && (t & 7) == 2) {
          const auto pk = s.bytes();
          detail::Wire d{reinterpret_cast<const unsigned char*>(pk.data()),
                         reinterpret_cast<const unsigned char*>(pk.data()) + pk.size()};
          while (!d.done()) out.shape.push_back(static_cast<int64_t>(d.varint()));
        } else if ((t >> 3) == 1 && (t & 7) == 0) {
          out.shape.push_back(static_cast<int64_t>(s.varint()));
        } else {
          s.skip(static_cast<int>(t & 7));
        }
      }
    } else if (field == 9 && wt == 0) {
      dtype = static_cast<int>(w.varint());
    } else if (field == 0) {
      detail::Wire::bad("field number 0");
    } else {
      w.skip(wt);
    }
  }
  if (!has_shape) {
    if (!has_chw) detail::Wire::bad("no shape and no channels/height/width");
    out.shape = {chw[0], chw[1], chw[2]};
  }
  for (auto d : out.shape)
    if (d < 0) detail::Wire::bad(("negative dimension in shape " + shape_str(out.shape)).c_str());
  if (has_data) {
    out.dtype = dtype_from_proto(dtype);
    out.bytes.assign(data.begin(), data.end());
    if (out.encoded) return;  // compressed image: size is known only after decoding
  } else {
    out.dtype = DType::F32;
  }
  const size_t want = static_cast<size_t>(out.count()) * dtype_size(out.dtype);
  if (out.bytes.size() != want)
    throw IoError("bad Datum: shape " + shape_str(out.shape) + " x " + dtype_name(out.dtype) + " needs " +
                  std::to_string(want) + " bytes, record holds " + std::to_string(out.bytes.size()));
}

// The Datum inside an AnnotatedDatum (Caffe-SSD LMDBs): field 1. Boxes are not needed for
// calibration and are skipped; a record without a datum is an IoError.
inline std::string_view annotated_datum_payload(std::string_view value) {
  detail::Wire w{reinterpret_cast<const unsigned char*>(value.data()),
                 reinterpret_cast<const unsigned char*>(value.data()) + value.size()};
  std::string_view datum;
  bool found = false;
  while (!w.done()) {
    const uint64_t tag = w.varint();
    if ((tag >> 3) == 1 && (tag & 7) == 2) {
      datum = w.bytes();
      found = true;
    } else {
      w.skip(static_cast<int>(tag & 7));
    }
  }
  if (!found) detail::Wire::bad("AnnotatedDatum has no datum");
  return datum;
}

// Element i of a sample as float (dtype conversion; float16 is IEEE half).
inline float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      exp = 127 - 15 + 1;
      while (!(man & 0x400)) { man <<= 1; --exp; }
      bits = sign | (exp << 23) | ((man & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (man << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Converts all elements to float32 into dst (count() floats).
inline void to_float(const Sample& s, float* dst) {
  const size_t n = static_cast<size_t>(s.count());
  auto conv = [&](auto tag) {
    using T = decltype(tag);
    for (size_t i = 0; i < n; ++i) {
      T v;
      std::memcpy(&v, s.bytes.data() + i * sizeof(T), sizeof(T));
      dst[i] = static_cast<float>(v);
    }
  };
  switch (s.dtype) {
    case DType::F32: if (n) std::memcpy(dst, s.bytes.data(), n * 4); break;
    case DType::U8: for (size_t i = 0; i < n; ++i) dst[i] = s.bytes[i]; break;
    case DType::I8: conv(int8_t{}); break;
    case DType::I16: conv(int16_t{}); break;
    case DType::U16: conv(uint16_t{}); break;
    case DType::I32: conv(int32_t{}); break;
    case DType::U32: conv(uint32_t{}); break;
    case DType::F16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, s.bytes.data() + i * 2, 2);
        dst[i] = half_to_float(h);
      }
      break;
  }
}

inline std::vector<float> to_float(const Sample& s) {
  std::vector<float> out(static_cast<size_t>(s.count()));
  to_float(s, out.data());
  return out;
}

// LMDB key of record `index` in the ufwio layout: 10-digit index, "__", user key padded to at
// least one character (no key -> a single space, as Python's str.ljust(1) gives).
inline std::string make_key(uint64_t index, std::string_view user_key = {}) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%010llu__", static_cast<unsigned long long>(index));
  std::string k(buf);
  if (user_key.empty()) k += ' ';
  else k.append(user_key);
  return k;
}

// The user part of a ufwio key ("0000000012__abc" -> "abc"); the whole key when it is not one.
inline std::string_view user_key_of(std::string_view key) {
  if (key.size() >= 12 && key.substr(10, 2) == "__") {
    auto u = key.substr(12);
    return u == " " ? std::string_view{} : u;
  }
  return key;
}

}  // namespace octet::data
