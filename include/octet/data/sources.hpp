// Readers for what users convert into calibration LMDBs: IDX files (MNIST / Fashion-MNIST,
// optionally gzipped), .npy tensors, and image folders (jpg/jpeg/png/bmp decoded by OpenCV,
// labels from sub-folder names or a Caffe-style list file). Arrays come back host-endian.
// Depends on data/datum.hpp, zlib and OpenCV; nothing from engine/.
#pragma once
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "octet/core/error.hpp"
#include "octet/data/datum.hpp"

namespace octet::data {

namespace fs = std::filesystem;

// A whole file, gunzipped when it is gzip (zlib passes plain files through unchanged).
inline std::string read_maybe_gz(const fs::path& p) {
  gzFile f = ::gzopen(p.c_str(), "rb");
  if (!f) throw IoError(error_text(p.string(), "cannot open"));
  ::gzbuffer(f, 1 << 20);
  std::string out;
  std::error_code ec;
  const auto sz = fs::file_size(p, ec);
  if (!ec) out.reserve(static_cast<size_t>(sz) * 2);
  char buf[1 << 16];
  for (;;) {
    const int n = ::gzread(f, buf, sizeof buf);
    if (n < 0) {
      int errnum = 0;
      std::string msg = ::gzerror(f, &errnum);
      ::gzclose(f);
      throw IoError(error_text(p.string(), "read failed", msg));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::gzclose(f);
  return out;
}

// An N-D array as read from a file (element bytes host-endian).
struct Array {
  Shape shape;
  DType dtype = DType::U8;
  std::vector<unsigned char> bytes;
  int64_t count() const { return shape_count(shape); }
  // Record i of an N-first array, as a Sample of shape shape[1:].
  Sample item(int64_t i) const {
    Sample s;
    s.shape.assign(shape.begin() + 1, shape.end());
    s.dtype = dtype;
    const size_t per = static_cast<size_t>(shape_count(s.shape)) * dtype_size(dtype);
    s.bytes.assign(bytes.begin() + static_cast<std::ptrdiff_t>(per * static_cast<size_t>(i)),
                   bytes.begin() + static_cast<std::ptrdiff_t>(per * static_cast<size_t>(i + 1)));
    return s;
  }
};

namespace detail {
inline void byteswap_elements(unsigned char* p, size_t n, size_t width) {
  if (width == 1) return;
  for (size_t i = 0; i < n; ++i) std::reverse(p + i * width, p + (i + 1) * width);
}
// float64 -> float32 and int64 -> int32, which Datums cannot hold.
template <typename From, typename To>
std::vector<unsigned char> narrow(const unsigned char* src, size_t n) {
  std::vector<unsigned char> out(n * sizeof(To));
  for (size_t i = 0; i < n; ++i) {
    From v;
    std::memcpy(&v, src + i * sizeof(From), sizeof(From));
    const To t = static_cast<To>(v);
    std::memcpy(out.data() + i * sizeof(To), &t, sizeof(To));
  }
  return out;
}
}  // namespace detail

// IDX (LeCun's MNIST format): 0 0 <type> <ndim>, ndim big-endian uint32 dims, big-endian data.
inline Array read_idx(const fs::path& p) {
  const std::string raw = read_maybe_gz(p);
  auto bad = [&](const std::string& what) { return IoError(error_text(p.string(), "not an IDX file", what)); };
  if (raw.size() < 4 || raw[0] != 0 || raw[1] != 0) throw bad("bad magic");
  const auto* u = reinterpret_cast<const unsigned char*>(raw.data());
  const int type = u[2], ndim = u[3];
  if (ndim < 1 || raw.size() < 4 + 4 * static_cast<size_t>(ndim)) throw bad("truncated header");
  Array a;
  for (int i = 0; i < ndim; ++i) {
    const unsigned char* d = u + 4 + 4 * i;
    a.shape.push_back((int64_t{d[0]} << 24) | (int64_t{d[1]} << 16) | (int64_t{d[2]} << 8) | int64_t{d[3]});
  }
  size_t width;
  switch (type) {
    case 0x08: a.dtype = DType::U8, width = 1; break;
    case 0x09: a.dtype = DType::I8, width = 1; break;
    case 0x0B: a.dtype = DType::I16, width = 2; break;
    case 0x0C: a.dtype = DType::I32, width = 4; break;
    case 0x0D: a.dtype = DType::F32, width = 4; break;
    case 0x0E: a.dtype = DType::F32, width = 8; break;
    default: throw bad("unknown element type " + std::to_string(type));
  }
  const size_t n = static_cast<size_t>(a.count()), off = 4 + 4 * static_cast<size_t>(ndim);
  if (raw.size() - off != n * width)
    throw bad("header says " + std::to_string(n * width) + " data bytes, file has " + std::to_string(raw.size() - off));
  a.bytes.assign(u + off, u + raw.size());
  detail::byteswap_elements(a.bytes.data(), n, width);
  if (width == 8) a.bytes = detail::narrow<double, float>(a.bytes.data(), n);
  return a;
}

// .npy (format versions 1-3): C-order arrays of bool/int/uint/float up to 64 bits; float64 and
// int64 are narrowed to float32 / int32.
inline Array read_npy(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw IoError(error_text(p.string(), "cannot open"));
  std::string raw((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto bad = [&](const std::string& what) { return IoError(error_text(p.string(), "not a .npy file", what)); };
  if (raw.size() < 10 || raw.compare(0, 6, "\x93NUMPY") != 0) throw bad("bad magic");
  const int major = static_cast<unsigned char>(raw[6]);
  size_t hlen, hoff;
  if (major == 1) {
    hlen = static_cast<unsigned char>(raw[8]) | (static_cast<size_t>(static_cast<unsigned char>(raw[9])) << 8);
    hoff = 10;
  } else {
    if (raw.size() < 12) throw bad("truncated header");
    hlen = 0;
    for (int i = 3; i >= 0; --i) hlen = (hlen << 8) | static_cast<unsigned char>(raw[8 + static_cast<size_t>(i)]);
    hoff = 12;
  }
  if (raw.size() < hoff + hlen) throw bad("truncated header");
  const std::string h = raw.substr(hoff, hlen);
  auto value_of = [&](const std::string& k) -> std::string {
    auto at = h.find("'" + k + "'");
    if (at == std::string::npos) throw bad("header has no '" + k + "'");
    at = h.find(':', at);
    size_t b = h.find_first_not_of(' ', at + 1);
    if (h[b] == '\'') return h.substr(b + 1, h.find('\'', b + 1) - b - 1);
    if (h[b] == '(') return h.substr(b + 1, h.find(')', b) - b - 1);
    size_t e = h.find_first_of(",}", b);
    return h.substr(b, e - b);
  };
  const std::string descr = value_of("descr"), fortran = value_of("fortran_order"), shape = value_of("shape");
  if (fortran.find("True") != std::string::npos) throw bad("fortran_order arrays are not supported; save C-order");
  Array a;
  for (size_t i = 0; i < shape.size();) {
    while (i < shape.size() && !std::isdigit(static_cast<unsigned char>(shape[i]))) ++i;
    if (i >= shape.size()) break;
    size_t j = i;
    while (j < shape.size() && std::isdigit(static_cast<unsigned char>(shape[j]))) ++j;
    a.shape.push_back(std::stoll(shape.substr(i, j - i)));
    i = j;
  }
  if (descr.size() < 3) throw bad("dtype '" + descr + "'");
  const char order = descr[0], kind = descr[1];
  const int width = std::stoi(descr.substr(2));
  const bool swap = order == '>';
  static const std::map<std::string, DType> kinds = {{"f4", DType::F32}, {"f2", DType::F16}, {"u1", DType::U8},
                                                     {"i1", DType::I8},  {"i2", DType::I16}, {"u2", DType::U16},
                                                     {"i4", DType::I32}, {"u4", DType::U32}, {"b1", DType::U8},
                                                     {"f8", DType::F32}, {"i8", DType::I32}};
  auto it = kinds.find(std::string(1, kind) + std::to_string(width));
  if (it == kinds.end()) throw UnsupportedError(error_text(p.string(), "npy dtype '" + descr + "' is not supported"));
  a.dtype = it->second;
  const size_t n = static_cast<size_t>(a.count()), off = hoff + hlen;
  if (raw.size() - off != n * static_cast<size_t>(width))
    throw bad("shape needs " + std::to_string(n * static_cast<size_t>(width)) + " data bytes, file has " +
              std::to_string(raw.size() - off));
  a.bytes.assign(raw.begin() + static_cast<std::ptrdiff_t>(off), raw.end());
  if (swap) detail::byteswap_elements(a.bytes.data(), n, static_cast<size_t>(width));
  if (kind == 'f' && width == 8) a.bytes = detail::narrow<double, float>(a.bytes.data(), n);
  if (kind == 'i' && width == 8) a.bytes = detail::narrow<int64_t, int32_t>(a.bytes.data(), n);
  return a;
}

// One image of an image folder: its path relative to the root and its label, if any.
struct ImageEntry {
  std::string rel;
  std::optional<int32_t> label;
};

inline bool is_image_file(const fs::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return std::tolower(c); });
  return e == ".jpg" || e == ".jpeg" || e == ".png" || e == ".bmp";
}

// All images under `root` (recursively), sorted by relative path. Label = index of the image's
// top-level sub-folder among the sorted sub-folder names; images directly in root get none.
inline std::vector<ImageEntry> list_image_folder(const fs::path& root) {
  if (!fs::is_directory(root)) throw IoError(error_text(root.string(), "no such image folder"));
  std::vector<std::string> subdirs;
  for (const auto& e : fs::directory_iterator(root))
    if (e.is_directory()) subdirs.push_back(e.path().filename().string());
  std::sort(subdirs.begin(), subdirs.end());
  std::vector<ImageEntry> out;
  for (const auto& e : fs::recursive_directory_iterator(root, fs::directory_options::follow_directory_symlink)) {
    if (!e.is_regular_file() || !is_image_file(e.path())) continue;
    ImageEntry im;
    const fs::path rel = fs::relative(e.path(), root);
    im.rel = rel.generic_string();
    if (std::distance(rel.begin(), rel.end()) > 1) {
      auto it = std::lower_bound(subdirs.begin(), subdirs.end(), rel.begin()->string());
      im.label = static_cast<int32_t>(it - subdirs.begin());
    }
    out.push_back(std::move(im));
  }
  std::sort(out.begin(), out.end(), [](const ImageEntry& a, const ImageEntry& b) { return a.rel < b.rel; });
  return out;
}

// A Caffe convert_imageset list: "relative/path label" per line (split at the last space, so
// paths may contain spaces); a line without a numeric last field has no label.
inline std::vector<ImageEntry> read_image_list(const fs::path& list) {
  std::ifstream f(list);
  if (!f) throw IoError(error_text(list.string(), "cannot open list file"));
  std::vector<ImageEntry> out;
  std::string line;
  int lineno = 0;
  while (std::getline(f, line)) {
    ++lineno;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    ImageEntry im;
    const auto sp = line.find_last_of(" \t");
    if (sp != std::string::npos) {
      const std::string last = line.substr(sp + 1);
      char* end = nullptr;
      const long v = std::strtol(last.c_str(), &end, 10);
      if (!last.empty() && *end == '\0') {
        im.label = static_cast<int32_t>(v);
        line = line.substr(0, sp);
        while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.pop_back();
      }
    }
    if (line.empty()) throw IoError(error_text(list.string(), "line " + std::to_string(lineno), "no path"));
    im.rel = line;
    out.push_back(std::move(im));
  }
  return out;
}

}  // namespace octet::data
