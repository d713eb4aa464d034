// NumPy .npy and .npz files for tensors crossing the tool boundary (inputs of `ufw forward`,
// blob dumps, reference outputs). Reads .npy v1/v2/v3 in C order, little-endian f4 (and f8, i1,
// u1, i4, i8, b1, converted to float); writes v1 little-endian f4. .npz is a zip of .npy members:
// written with STORED entries and CRC-32, read when members are STORED (np.savez); a deflated
// member (np.savez_compressed) is a clear error, since Octet links no zlib for this.
// Every error names the file and the problem. Depends only on core/ (tensor, error, atomic_file).
#pragma once
#include <array>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "octet/core/atomic_file.hpp"
#include "octet/core/error.hpp"
#include "octet/core/tensor.hpp"

namespace octet::io {

namespace detail {

inline std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(error_text(path, std::string("cannot open: ") + std::strerror(errno)));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

template <typename T>
T load_le(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));  // the targets Octet runs on are little-endian
  return v;
}

template <typename T>
void put_le(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

// Value of `key` in the header dict text, e.g. "'descr': '<f4', ..." -> "'<f4'".
inline std::string dict_value(const std::string& h, const std::string& key, const std::string& src) {
  const std::string k = "'" + key + "'";
  auto p = h.find(k);
  if (p == std::string::npos) throw IoError(error_text(src, "npy header has no " + k));
  p = h.find(':', p + k.size());
  if (p == std::string::npos) throw IoError(error_text(src, "bad npy header"));
  ++p;
  while (p < h.size() && h[p] == ' ') ++p;
  size_t e = p;
  if (p < h.size() && h[p] == '(') {
    e = h.find(')', p);
    if (e == std::string::npos) throw IoError(error_text(src, "bad npy shape"));
    ++e;
  } else if (p < h.size() && (h[p] == '\'' || h[p] == '"')) {
    e = h.find(h[p], p + 1);
    if (e == std::string::npos) throw IoError(error_text(src, "bad npy header string"));
    ++e;
  } else {
    while (e < h.size() && h[e] != ',' && h[e] != '}') ++e;
  }
  return h.substr(p, e - p);
}

inline uint32_t crc32(std::string_view data) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

}  // namespace detail

// Parses .npy bytes; `src` names them in errors.
inline Tensor<float> parse_npy(std::string_view bytes, const std::string& src) {
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0)
    throw IoError(error_text(src, "not a .npy file (bad magic)"));
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t hlen = 0, off = 0;
  if (major == 1) {
    hlen = detail::load_le<uint16_t>(bytes.data() + 8);
    off = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw IoError(error_text(src, "truncated .npy header"));
    hlen = detail::load_le<uint32_t>(bytes.data() + 8);
    off = 12;
  } else {
    throw IoError(error_text(src, "unsupported .npy version " + std::to_string(major)));
  }
  if (bytes.size() < off + hlen) throw IoError(error_text(src, "truncated .npy header"));
  const std::string h(bytes.substr(off, hlen));
  const size_t data_off = off + hlen;

  std::string descr = detail::dict_value(h, "descr", src);
  if (descr.size() < 2) throw IoError(error_text(src, "bad dtype " + descr));
  descr = descr.substr(1, descr.size() - 2);
  const std::string fo = detail::dict_value(h, "fortran_order", src);
  if (fo.rfind("True", 0) == 0)
    throw IoError(error_text(src, "fortran_order arrays are not supported; save with np.ascontiguousarray"));
  Shape shape;
  {
    const std::string s = detail::dict_value(h, "shape", src);
    std::string num;
    for (char c : s) {
      if (c >= '0' && c <= '9') {
        num += c;
      } else if (!num.empty()) {
        shape.push_back(std::stoll(num));
        num.clear();
      }
    }
  }
  if (descr.size() < 3) throw IoError(error_text(src, "unsupported dtype '" + descr + "'"));
  const char order = descr[0];
  const std::string kind = descr.substr(1);
  const int width = kind.size() == 2 ? kind[1] - '0' : 0;
  if (width > 1 && order == '>')
    throw IoError(error_text(src, "big-endian dtype '" + descr + "' is not supported; use .astype('<f4')"));
  const int64_t n = shape_count(shape);
  const bool known = kind == "f4" || kind == "f8" || kind == "i1" || kind == "u1" || kind == "i4" || kind == "i8" ||
                     kind == "b1" || kind == "i2" || kind == "u2";
  if (!known)
    throw IoError(error_text(src, "unsupported dtype '" + descr + "' (use float32, float64, int8, uint8, int32 or int64)"));
  if (bytes.size() - data_off < static_cast<size_t>(n) * static_cast<size_t>(width))
    throw IoError(error_text(src, "truncated data: shape " + shape_str(shape) + " of " + descr + " needs " +
                                      std::to_string(n * width) + " bytes, file has " +
                                      std::to_string(bytes.size() - data_off)));
  Tensor<float> t(shape);
  const char* p = bytes.data() + data_off;
  auto convert = [&](auto tag) {
    using T = decltype(tag);
    for (int64_t i = 0; i < n; ++i) t[i] = static_cast<float>(detail::load_le<T>(p + i * static_cast<int64_t>(sizeof(T))));
  };
  if (kind == "f4") std::memcpy(t.data(), p, static_cast<size_t>(n) * 4);
  else if (kind == "f8") convert(double{});
  else if (kind == "i1") convert(int8_t{});
  else if (kind == "u1" || kind == "b1") convert(uint8_t{});
  else if (kind == "i2") convert(int16_t{});
  else if (kind == "u2") convert(uint16_t{});
  else if (kind == "i4") convert(int32_t{});
  else convert(int64_t{});
  return t;
}

inline Tensor<float> read_npy(const std::string& path) { return parse_npy(detail::read_all(path), path); }

// .npy v1 bytes of a float32 tensor, header padded to 64 bytes as NumPy does.
inline std::string npy_bytes(const Tensor<float>& t) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < t.rank(); ++i) dict += std::to_string(t.shape()[i]) + (t.rank() == 1 || i + 1 < t.rank() ? ", " : "");
  if (t.rank() == 1) dict.pop_back();  // "(5,)" not "(5, )"
  dict += "), }";
  size_t total = 10 + dict.size() + 1;
  const size_t pad = (64 - total % 64) % 64;
  dict.append(pad, ' ');
  dict += '\n';
  if (dict.size() > 0xFFFF) throw IoError("npy header too long for shape " + shape_str(t.shape()));
  std::string out("\x93NUMPY\x01\x00", 8);
  detail::put_le<uint16_t>(out, static_cast<uint16_t>(dict.size()));
  out += dict;
  out.append(reinterpret_cast<const char*>(t.data()), static_cast<size_t>(t.size()) * sizeof(float));
  return out;
}

inline void write_npy(const std::string& path, const Tensor<float>& t) { atomic_write(path, npy_bytes(t)); }

using NamedTensors = std::vector<std::pair<std::string, Tensor<float>>>;

// Zip (STORED, no compression) of `<key>.npy` members, readable by np.load.
inline std::string npz_bytes(const std::vector<std::pair<std::string, const Tensor<float>*>>& arrays) {
  std::string out, central;
  uint16_t count = 0;
  for (const auto& [key, t] : arrays) {
    const std::string name = key + ".npy";
    const std::string data = npy_bytes(*t);
    if (data.size() >= 0xFFFFFFFFull || out.size() >= 0xFFFFFFFFull)
      throw IoError("npz member '" + key + "' exceeds the 4 GiB zip limit");
    const uint32_t crc = detail::crc32(data);
    const auto offset = static_cast<uint32_t>(out.size());
    const auto size = static_cast<uint32_t>(data.size());
    // Local file header.
    detail::put_le<uint32_t>(out, 0x04034b50);
    detail::put_le<uint16_t>(out, 20);  // version needed
    detail::put_le<uint16_t>(out, 0);   // flags
    detail::put_le<uint16_t>(out, 0);   // method: stored
    detail::put_le<uint16_t>(out, 0);   // time
    detail::put_le<uint16_t>(out, 0x21);  // date 1980-01-01
    detail::put_le<uint32_t>(out, crc);
    detail::put_le<uint32_t>(out, size);
    detail::put_le<uint32_t>(out, size);
    detail::put_le<uint16_t>(out, static_cast<uint16_t>(name.size()));
    detail::put_le<uint16_t>(out, 0);
    out += name;
    out += data;
    // Central directory entry.
    detail::put_le<uint32_t>(central, 0x02014b50);
    detail::put_le<uint16_t>(central, 20);  // made by
    detail::put_le<uint16_t>(central, 20);  // needed
    detail::put_le<uint16_t>(central, 0);
    detail::put_le<uint16_t>(central, 0);
    detail::put_le<uint16_t>(central, 0);
    detail::put_le<uint16_t>(central, 0x21);
    detail::put_le<uint32_t>(central, crc);
    detail::put_le<uint32_t>(central, size);
    detail::put_le<uint32_t>(central, size);
    detail::put_le<uint16_t>(central, static_cast<uint16_t>(name.size()));
    detail::put_le<uint16_t>(central, 0);  // extra
    detail::put_le<uint16_t>(central, 0);  // comment
    detail::put_le<uint16_t>(central, 0);  // disk
    detail::put_le<uint16_t>(central, 0);  // internal attrs
    detail::put_le<uint32_t>(central, 0);  // external attrs
    detail::put_le<uint32_t>(central, offset);
    central += name;
    if (++count == 0xFFFF) throw IoError("npz: too many members for a non-zip64 archive");
  }
  const auto cd_offset = static_cast<uint32_t>(out.size());
  out += central;
  detail::put_le<uint32_t>(out, 0x06054b50);
  detail::put_le<uint16_t>(out, 0);
  detail::put_le<uint16_t>(out, 0);
  detail::put_le<uint16_t>(out, count);
  detail::put_le<uint16_t>(out, count);
  detail::put_le<uint32_t>(out, static_cast<uint32_t>(central.size()));
  detail::put_le<uint32_t>(out, cd_offset);
  detail::put_le<uint16_t>(out, 0);
  return out;
}

inline void write_npz(const std::string& path, const std::vector<std::pair<std::string, const Tensor<float>*>>& arrays) {
  atomic_write(path, npz_bytes(arrays));
}
inline void write_npz(const std::string& path, const NamedTensors& arrays) {
  std::vector<std::pair<std::string, const Tensor<float>*>> refs;
  for (const auto& [k, t] : arrays) refs.emplace_back(k, &t);
  write_npz(path, refs);
}

// Members of an .npz in archive order, keys without the ".npy" suffix.
inline NamedTensors parse_npz(std::string_view z, const std::string& src) {
  // End of central directory: the last signature within the final 64 KiB + 22 bytes.
  if (z.size() < 22) throw IoError(error_text(src, "not a .npz (zip) file"));
  size_t eocd = std::string_view::npos;
  const size_t lo = z.size() > 65557 ? z.size() - 65557 : 0;
  for (size_t p = z.size() - 22 + 1; p-- > lo;)
    if (detail::load_le<uint32_t>(z.data() + p) == 0x06054b50) {
      eocd = p;
      break;
    }
  if (eocd == std::string_view::npos) throw IoError(error_text(src, "not a .npz (zip) file: no end-of-directory record"));
  uint64_t entries = detail::load_le<uint16_t>(z.data() + eocd + 10);
  uint64_t cd = detail::load_le<uint32_t>(z.data() + eocd + 16);
  if ((cd == 0xFFFFFFFFu || entries == 0xFFFF) && eocd >= 20 &&
      detail::load_le<uint32_t>(z.data() + eocd - 20) == 0x07064b50) {
    // Zip64 locator -> zip64 end record.
    const uint64_t rec = detail::load_le<uint64_t>(z.data() + eocd - 20 + 8);
    if (rec + 56 > z.size() || detail::load_le<uint32_t>(z.data() + rec) != 0x06064b50)
      throw IoError(error_text(src, "corrupt zip64 directory"));
    entries = detail::load_le<uint64_t>(z.data() + rec + 32);
    cd = detail::load_le<uint64_t>(z.data() + rec + 48);
  }
  NamedTensors out;
  size_t p = cd;
  for (uint64_t e = 0; e < entries; ++e) {
    if (p + 46 > z.size() || detail::load_le<uint32_t>(z.data() + p) != 0x02014b50)
      throw IoError(error_text(src, "corrupt zip central directory"));
    const uint16_t method = detail::load_le<uint16_t>(z.data() + p + 10);
    const uint32_t crc = detail::load_le<uint32_t>(z.data() + p + 16);
    uint64_t csize = detail::load_le<uint32_t>(z.data() + p + 20);
    uint64_t usize = detail::load_le<uint32_t>(z.data() + p + 24);
    const uint16_t nlen = detail::load_le<uint16_t>(z.data() + p + 28);
    const uint16_t xlen = detail::load_le<uint16_t>(z.data() + p + 30);
    const uint16_t clen = detail::load_le<uint16_t>(z.data() + p + 32);
    uint64_t local = detail::load_le<uint32_t>(z.data() + p + 42);
    if (p + 46 + nlen + xlen > z.size()) throw IoError(error_text(src, "corrupt zip central directory"));
    const std::string name(z.substr(p + 46, nlen));
    // Zip64 extra field (NumPy forces zip64 on every member): sizes/offset in that order,
    // each present only when the 32-bit field is saturated.
    for (size_t x = p + 46 + nlen; x + 4 <= p + 46 + nlen + xlen;) {
      const uint16_t id = detail::load_le<uint16_t>(z.data() + x);
      const uint16_t len = detail::load_le<uint16_t>(z.data() + x + 2);
      if (id == 0x0001) {
        size_t q = x + 4;
        if (usize == 0xFFFFFFFFu) usize = detail::load_le<uint64_t>(z.data() + q), q += 8;
        if (csize == 0xFFFFFFFFu) csize = detail::load_le<uint64_t>(z.data() + q), q += 8;
        if (local == 0xFFFFFFFFu) local = detail::load_le<uint64_t>(z.data() + q);
      }
      x += 4 + len;
    }
    p += 46 + nlen + xlen + clen;
    const std::string member = src + "[" + name + "]";
    if (method == 8)
      throw IoError(error_text(member, "member is deflate-compressed (np.savez_compressed); save with np.savez"));
    if (method != 0) throw IoError(error_text(member, "unsupported zip compression method " + std::to_string(method)));
    if (csize != usize) throw IoError(error_text(member, "corrupt stored member (sizes differ)"));
    if (local + 30 > z.size() || detail::load_le<uint32_t>(z.data() + local) != 0x04034b50)
      throw IoError(error_text(member, "corrupt local header"));
    const uint64_t data = local + 30 + detail::load_le<uint16_t>(z.data() + local + 26) +
                          detail::load_le<uint16_t>(z.data() + local + 28);
    if (data + usize > z.size()) throw IoError(error_text(member, "truncated member"));
    const std::string_view bytes = z.substr(data, usize);
    if (detail::crc32(bytes) != crc) throw IoError(error_text(member, "CRC mismatch (corrupt file)"));
    std::string key = name;
    if (key.size() > 4 && key.compare(key.size() - 4, 4, ".npy") == 0) key.resize(key.size() - 4);
    out.emplace_back(key, parse_npy(bytes, member));
  }
  return out;
}

inline NamedTensors read_npz(const std::string& path) { return parse_npz(detail::read_all(path), path); }

}  // namespace octet::io
