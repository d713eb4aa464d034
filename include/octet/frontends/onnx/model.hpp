// ONNX model access for the importer and the reference interpreter: loading a ModelProto with
// clear errors, decoding TensorProtos (raw_data or typed fields) into Values, attribute lookup,
// and parsing the `-s` shape syntax users type ("(1,3,224,224)", "[(1,3,224,224),(1,10)]").
// Values hold doubles so that int64 shape arithmetic and float maths share one simple type.
// Depends on core/ and the generated onnx.pb.h only (no engine, no ufw).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "octet/core/error.hpp"
#include "octet/core/tensor.hpp"
#include "octet/proto/onnx.pb.h"

namespace octet::frontends::onnx {

namespace pb = ::onnx;

// A tensor value. `elem` is the ONNX TensorProto::DataType; integer and bool types keep
// whole numbers in `v` (exact up to 2^53, far beyond any shape arithmetic).
struct Value {
  Shape shape;
  std::vector<double> v;
  int elem = pb::TensorProto::FLOAT;

  Value() = default;
  Value(Shape s, int e, double fill = 0.0) : shape(std::move(s)), elem(e) {
    v.assign(static_cast<size_t>(shape_count(shape)), fill);
  }
  int64_t size() const { return static_cast<int64_t>(v.size()); }
  size_t rank() const { return shape.size(); }
  bool is_int() const { return is_integer_elem(elem); }
  static bool is_integer_elem(int e) {
    return e != pb::TensorProto::FLOAT && e != pb::TensorProto::DOUBLE && e != pb::TensorProto::FLOAT16 &&
           e != pb::TensorProto::BFLOAT16;
  }
  std::vector<int64_t> ints() const {
    std::vector<int64_t> out;
    out.reserve(v.size());
    for (double d : v) out.push_back(clamp_i64(d));
    return out;
  }
  static int64_t clamp_i64(double d) {
    if (d >= 9.2e18) return std::numeric_limits<int64_t>::max();
    if (d <= -9.2e18) return std::numeric_limits<int64_t>::min();
    return static_cast<int64_t>(d);
  }
  static Value scalar(double x, int e = pb::TensorProto::FLOAT) {
    Value r({}, e);
    r.v[0] = x;
    return r;
  }
  static Value vec(const std::vector<int64_t>& xs) {
    Value r({static_cast<int64_t>(xs.size())}, pb::TensorProto::INT64);
    for (size_t i = 0; i < xs.size(); ++i) r.v[i] = static_cast<double>(xs[i]);
    return r;
  }
};

inline const char* elem_name(int e) {
  return pb::TensorProto::DataType_IsValid(e) ? pb::TensorProto::DataType_Name(static_cast<pb::TensorProto::DataType>(e)).c_str()
                                              : "?";
}

inline float half_to_float(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      int e = -1;
      uint32_t m = man;
      do {
        ++e;
        m <<= 1;
      } while ((m & 0x400) == 0);
      bits = sign | ((127 - 15 - e) << 23) | ((m & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (man << 13);
  } else {
    bits = sign | ((exp - 15 + 127) << 23) | (man << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Decodes a TensorProto. `what` names it in errors.
inline Value decode_tensor(const pb::TensorProto& t, const std::string& what) {
  Value out;
  for (int64_t d : t.dims()) {
    if (d < 0) throw ModelError(error_text(what, "negative dimension"));
    out.shape.push_back(d);
  }
  out.elem = t.data_type();
  if (t.data_location() == pb::TensorProto::EXTERNAL)
    throw UnsupportedError(error_text(what, "external tensor data is not supported (save the model with weights inside)"));
  const size_t n = static_cast<size_t>(shape_count(out.shape));
  out.v.resize(n);
  const std::string& raw = t.raw_data();
  auto need_raw = [&](size_t esz) {
    if (raw.size() != n * esz)
      throw ModelError(error_text(what, "raw_data has " + std::to_string(raw.size()) + " bytes, shape " +
                                            shape_str(out.shape) + " needs " + std::to_string(n * esz)));
  };
  auto need = [&](int have) {
    if (static_cast<size_t>(have) != n)
      throw ModelError(error_text(what, "has " + std::to_string(have) + " values, shape " + shape_str(out.shape) +
                                            " needs " + std::to_string(n)));
  };
  const bool use_raw = t.has_raw_data();
  auto rd = [&](auto tag) {
    using T = decltype(tag);
    need_raw(sizeof(T));
    for (size_t i = 0; i < n; ++i) {
      T x;
      std::memcpy(&x, raw.data() + i * sizeof(T), sizeof(T));
      out.v[i] = static_cast<double>(x);
    }
  };
  switch (t.data_type()) {
    case pb::TensorProto::FLOAT:
      if (use_raw) {
        rd(float{});
      } else {
        need(t.float_data_size());
        for (size_t i = 0; i < n; ++i) out.v[i] = t.float_data(static_cast<int>(i));
      }
      break;
    case pb::TensorProto::DOUBLE:
      if (use_raw) {
        rd(double{});
      } else {
        need(t.double_data_size());
        for (size_t i = 0; i < n; ++i) out.v[i] = t.double_data(static_cast<int>(i));
      }
      break;
    case pb::TensorProto::INT64:
      if (use_raw) {
        rd(int64_t{});
      } else {
        need(t.int64_data_size());
        for (size_t i = 0; i < n; ++i) out.v[i] = static_cast<double>(t.int64_data(static_cast<int>(i)));
      }
      break;
    case pb::TensorProto::UINT64:
    case pb::TensorProto::UINT32:
      if (use_raw) {
        if (t.data_type() == pb::TensorProto::UINT64) rd(uint64_t{}); else rd(uint32_t{});
      } else {
        need(t.uint64_data_size());
        for (size_t i = 0; i < n; ++i) out.v[i] = static_cast<double>(t.uint64_data(static_cast<int>(i)));
      }
      break;
    case pb::TensorProto::INT32:
    case pb::TensorProto::INT16:
    case pb::TensorProto::INT8:
    case pb::TensorProto::UINT16:
    case pb::TensorProto::UINT8:
    case pb::TensorProto::BOOL:
    case pb::TensorProto::FLOAT16:
      if (use_raw) {
        switch (t.data_type()) {
          case pb::TensorProto::INT32: rd(int32_t{}); break;
          case pb::TensorProto::INT16: rd(int16_t{}); break;
          case pb::TensorProto::INT8: rd(int8_t{}); break;
          case pb::TensorProto::UINT16: rd(uint16_t{}); break;
          case pb::TensorProto::UINT8: rd(uint8_t{}); break;
          case pb::TensorProto::BOOL: rd(uint8_t{}); break;
          default:
            need_raw(2);
            for (size_t i = 0; i < n; ++i) {
              uint16_t h;
              std::memcpy(&h, raw.data() + 2 * i, 2);
              out.v[i] = half_to_float(h);
            }
        }
      } else {
        need(t.int32_data_size());
        for (size_t i = 0; i < n; ++i) {
          const int32_t x = t.int32_data(static_cast<int>(i));
          out.v[i] = t.data_type() == pb::TensorProto::FLOAT16 ? half_to_float(static_cast<uint16_t>(x)) : x;
        }
      }
      break;
    default:
      throw UnsupportedError(error_text(what, std::string("tensor element type ") + elem_name(t.data_type()) +
                                                  " is not supported"));
  }
  if (t.data_type() == pb::TensorProto::BOOL)
    for (double& x : out.v) x = x != 0 ? 1 : 0;
  return out;
}

// Encodes a Value as a TensorProto of its element type (used by tests and the --cmp dump).
inline pb::TensorProto encode_tensor(const Value& v, const std::string& name) {
  pb::TensorProto t;
  t.set_name(name);
  for (int64_t d : v.shape) t.add_dims(d);
  if (v.is_int()) {
    t.set_data_type(pb::TensorProto::INT64);
    for (double x : v.v) t.add_int64_data(Value::clamp_i64(x));
  } else {
    t.set_data_type(pb::TensorProto::FLOAT);
    for (double x : v.v) t.add_float_data(static_cast<float>(x));
  }
  return t;
}

inline pb::ModelProto load_model(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw IoError(error_text(path, "cannot open"));
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string bytes = ss.str();
  if (bytes.empty()) throw IoError(error_text(path, "empty file, not an ONNX model"));
  pb::ModelProto m;
  if (!m.ParseFromString(bytes)) throw ModelError(error_text(path, "not a valid ONNX model (truncated or other format)"));
  if (!m.has_graph() || m.graph().node_size() + m.graph().output_size() == 0)
    throw ModelError(error_text(path, "not an ONNX model (no graph)"));
  if (m.graph().output_size() == 0) throw ModelError(error_text(path, "graph has no outputs"));
  return m;
}

inline pb::TensorProto load_tensor_pb(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw IoError(error_text(path, "cannot open"));
  std::stringstream ss;
  ss << f.rdbuf();
  pb::TensorProto t;
  if (!t.ParseFromString(ss.str())) throw IoError(error_text(path, "not a TensorProto"));
  return t;
}

// Default-domain opset of the model (the one that decides op semantics).
inline int64_t model_opset(const pb::ModelProto& m) {
  int64_t v = 0;
  for (const auto& o : m.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") v = o.version();
  return v ? v : 1;
}

// ---- attributes ------------------------------------------------------------------------------
inline const pb::AttributeProto* find_attr(const pb::NodeProto& n, const std::string& name) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}
inline int64_t attr_i(const pb::NodeProto& n, const std::string& name, int64_t def) {
  const auto* a = find_attr(n, name);
  return a ? a->i() : def;
}
inline float attr_f(const pb::NodeProto& n, const std::string& name, float def) {
  const auto* a = find_attr(n, name);
  return a ? a->f() : def;
}
inline std::string attr_s(const pb::NodeProto& n, const std::string& name, const std::string& def) {
  const auto* a = find_attr(n, name);
  return a ? a->s() : def;
}
inline std::vector<int64_t> attr_ints(const pb::NodeProto& n, const std::string& name,
                                      std::vector<int64_t> def = {}) {
  const auto* a = find_attr(n, name);
  if (!a) return def;
  return {a->ints().begin(), a->ints().end()};
}
inline std::vector<float> attr_floats(const pb::NodeProto& n, const std::string& name) {
  const auto* a = find_attr(n, name);
  if (!a) return {};
  return {a->floats().begin(), a->floats().end()};
}

inline std::string node_label(const pb::NodeProto& n) {
  return "node " + (n.name().empty() ? (n.output_size() ? n.output(0) : std::string("?")) : n.name()) + " (" +
         n.op_type() + ")";
}

// ---- the -s syntax ---------------------------------------------------------------------------
// "(1,3,224,224)", "[1,3,224,224]", "[[1,3,416,416]]", "[(1,3,224,224),(1,10)]", spaces allowed.
inline std::vector<Shape> parse_shapes(const std::string& text) {
  std::string s;
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c))) s += c == '(' ? '[' : c == ')' ? ']' : c;
  if (s.empty()) throw UsageError("-s: empty input shape");
  // Strip one outer bracket level when it encloses a list of lists.
  auto bad = [&]() -> UsageError { return UsageError("-s: cannot parse input shape '" + text + "'"); };
  std::vector<Shape> out;
  size_t depth = 0, max_depth = 0;
  for (char c : s) {
    if (c == '[') max_depth = std::max(max_depth, ++depth);
    else if (c == ']') {
      if (depth == 0) throw bad();
      --depth;
    }
  }
  if (depth != 0) throw bad();
  if (max_depth > 2) throw bad();
  Shape cur;
  std::string num;
  depth = 0;
  bool in_shape = false;
  auto flush = [&]() {
    if (num.empty()) return;
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(num, &used);
    } catch (...) {
      throw bad();
    }
    if (used != num.size() || v <= 0) throw bad();
    cur.push_back(v);
    num.clear();
  };
  const size_t inner = max_depth == 0 ? 0 : max_depth;  // depth at which a shape lives
  if (max_depth == 0) s = "[" + s + "]";
  for (char c : s) {
    if (c == '[') {
      ++depth;
      if (depth == std::max<size_t>(inner, 1)) {
        in_shape = true;
        cur.clear();
      }
    } else if (c == ']') {
      flush();
      if (in_shape && depth == std::max<size_t>(inner, 1)) {
        if (cur.empty()) throw bad();
        out.push_back(cur);
        in_shape = false;
      }
      --depth;
    } else if (c == ',') {
      flush();
    } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '-') {
      if (!in_shape) throw bad();
      num += c;
    } else {
      throw bad();
    }
  }
  if (out.empty()) throw bad();
  return out;
}

// "-i a,b" or "[a,b]" or "['a', 'b']" -> names.
inline std::vector<std::string> parse_names(const std::string& text) {
  std::string s = text;
  auto trim = [](std::string x) {
    const auto b = x.find_first_not_of(" \t");
    const auto e = x.find_last_not_of(" \t");
    return b == std::string::npos ? std::string() : x.substr(b, e - b + 1);
  };
  s = trim(s);
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  std::vector<std::string> out;
  std::string cur;
  auto push = [&]() {
    std::string t = trim(cur);
    if (t.size() >= 2 && (t.front() == '\'' || t.front() == '"') && t.back() == t.front()) t = t.substr(1, t.size() - 2);
    if (!t.empty()) out.push_back(t);
    cur.clear();
  };
  for (char c : s) {
    if (c == ',') push();
    else cur += c;
  }
  push();
  return out;
}

}  // namespace octet::frontends::onnx
