// The typed bitfield layer of the BM168x command encodings: a layout is an ordered list of
// (name, offset, width) fields; bit k of a command is bit k%8 of byte k/8 (little-endian,
// LSB first, bm168x.md conventions). A generic bit writer handles fields that cross 64-bit
// boundaries (BM1684). Depends only on the standard library and core/error.hpp.
#pragma once
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "octet/core/error.hpp"

namespace octet::bm168x {

struct Field {
  const char* name;
  int offset;
  int width;  // 1..64
  std::uint64_t max() const { return width >= 64 ? ~std::uint64_t{0} : ((std::uint64_t{1} << width) - 1); }
};

// Builds a layout from rows of consecutive fields: {first_bit, {{name, width}, ...}}. Reserved
// fields are named "rsvd" and always encoded as zero.
struct Row {
  int first_bit;
  std::vector<std::pair<const char*, int>> fields;
};

class Layout {
 public:
  Layout(std::string name, int bytes, std::vector<Row> rows) : name_(std::move(name)), bytes_(bytes) {
    for (const auto& r : rows) {
      int bit = r.first_bit;
      for (const auto& [n, w] : r.fields) {
        if (bit + w > bytes * 8) throw ModelError(error_text(name_, n, "field runs past the command end"));
        fields_.push_back({n, bit, w});
        bit += w;
      }
    }
  }
  const std::string& name() const { return name_; }
  int bytes() const { return bytes_; }
  const std::vector<Field>& fields() const { return fields_; }
  const Field* find(const std::string& n) const {
    for (const auto& f : fields_)
      if (n == f.name) return &f;
    return nullptr;
  }
  const Field& at(const std::string& n) const {
    const Field* f = find(n);
    if (!f) throw ModelError(error_text(name_, n, "no such field"));
    return *f;
  }

 private:
  std::string name_;
  int bytes_;
  std::vector<Field> fields_;
};

inline void put_bits(std::span<std::uint8_t> buf, int offset, int width, std::uint64_t v) {
  for (int i = 0; i < width; ++i) {
    const int k = offset + i;
    const std::uint8_t m = static_cast<std::uint8_t>(1u << (k % 8));
    if ((v >> i) & 1u)
      buf[k / 8] |= m;
    else
      buf[k / 8] &= static_cast<std::uint8_t>(~m);
  }
}

inline std::uint64_t get_bits(std::span<const std::uint8_t> buf, int offset, int width) {
  std::uint64_t v = 0;
  for (int i = 0; i < width; ++i) {
    const int k = offset + i;
    v |= std::uint64_t((buf[k / 8] >> (k % 8)) & 1u) << i;
  }
  return v;
}

// A decoded/to-be-encoded command: field values by name. Unset fields encode as 0.
struct Fields {
  std::map<std::string, std::uint64_t> v;
  std::uint64_t operator[](const std::string& n) const {
    auto it = v.find(n);
    return it == v.end() ? 0 : it->second;
  }
  std::uint64_t& set(const std::string& n) { return v[n]; }
  std::int64_t s32(const std::string& n) const { return static_cast<std::int32_t>(static_cast<std::uint32_t>((*this)[n])); }
};

// Encodes into exactly layout.bytes() bytes. A value that does not fit its field, or a name the
// layout does not have, is a ModelError naming layout and field (never silently truncated).
inline std::vector<std::uint8_t> encode(const Layout& layout, const Fields& f) {
  std::vector<std::uint8_t> out(static_cast<std::size_t>(layout.bytes()), 0);
  for (const auto& [n, val] : f.v) {
    if (n == "rsvd") continue;
    const Field& fd = layout.at(n);
    if (val > fd.max())
      throw ModelError(error_text(layout.name(), n,
                                  "value " + std::to_string(val) + " does not fit " + std::to_string(fd.width) + " bits"));
    put_bits(out, fd.offset, fd.width, val);
  }
  return out;
}

inline Fields decode(const Layout& layout, std::span<const std::uint8_t> bytes) {
  if (bytes.size() < static_cast<std::size_t>(layout.bytes()))
    throw IoError(error_text(layout.name(), "truncated command: " + std::to_string(bytes.size()) + " bytes"));
  Fields f;
  for (const auto& fd : layout.fields()) {
    if (std::string(fd.name) == "rsvd") continue;
    f.v[fd.name] = get_bits(bytes, fd.offset, fd.width);
  }
  return f;
}

}  // namespace octet::bm168x
