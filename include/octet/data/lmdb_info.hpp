// The text of `lmdb_info` (the equivalent of `python3 -m ufwio.lmdb_info`): one line per record
// with the key right-aligned in 20 characters, the dtype name in 8, the shape as a Python tuple,
// the label ("-" when absent) and the data summarised numpy-style (3 values at each end around
// "...", fixed notation). Depends on data/datum.hpp only.
#pragma once
#include <cstdio>
#include <string>
#include <vector>

#include "octet/data/datum.hpp"

namespace octet::data {

// (1, 28, 28) / (784,) / ()
inline std::string py_shape(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  if (s.size() == 1) out += ",";
  return out + ")";
}

// numpy-like scalar text: integers plain, floats with up to 8 decimals and trailing zeros cut
// ("0.", "-0.8101984").
inline std::string py_value(double v, bool integral) {
  char buf[64];
  if (integral) {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
    return buf;
  }
  std::snprintf(buf, sizeof buf, "%.8f", v);
  std::string s = buf;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (s == "-0.") s = "0.";
  return s;
}

inline std::string summarize_data(const Sample& s) {
  if (s.encoded) return "<encoded image, " + std::to_string(s.bytes.size()) + " bytes>";
  const auto v = to_float(s);
  const bool integral = s.dtype != DType::F32 && s.dtype != DType::F16;
  std::string out = "[";
  auto add = [&](size_t i) { out += (out.size() > 1 ? " " : "") + py_value(v[i], integral); };
  if (v.size() <= 6) {
    for (size_t i = 0; i < v.size(); ++i) add(i);
  } else {
    for (size_t i = 0; i < 3; ++i) add(i);
    out += " ...";
    for (size_t i = v.size() - 3; i < v.size(); ++i) add(i);
  }
  return out + "]";
}

inline std::string info_header() {
  char buf[128];
  std::snprintf(buf, sizeof buf, "%20s,  %8s,  %s,  %s,  %s", "Name", "DType", "Shape", "Label", "Data");
  return buf;
}

inline std::string info_line(const std::string& key, const Sample& s) {
  char head[64];
  std::snprintf(head, sizeof head, "%20s,  %8s,  ", key.c_str(), s.encoded ? "encoded" : dtype_name(s.dtype));
  return std::string(head) + py_shape(s.shape) + ",  " + (s.label ? std::to_string(*s.label) : "-") + ",  " +
         summarize_data(s);
}

}  // namespace octet::data
