// The independent ONNX reference interpreter: evaluates an ONNX graph node by node with the
// operator semantics of the ONNX specification (opsets 1-17 as exporters use them), in double
// precision, with no conversion rewrites. Two users: the importer folds constant subgraphs
// (shape arithmetic) and learns every tensor's static shape with it, and `on_to_umodel --cmp`
// checks a converted umodel against it. Simple loops over flat arrays; Eigen only for GEMMs.
// Depends on core/, frontends/onnx/model.hpp and Eigen; never on engine/ or the ufw schema.
#pragma once
// GCC 12 false -Wmaybe-uninitialized in its AVX-512 header when Eigen's GEMM is inlined
// (GCC bug 105593); silenced where that header is first parsed, as kernels/gemm.hpp does.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#include <Eigen/Core>
#pragma GCC diagnostic pop
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "octet/frontends/onnx/model.hpp"

namespace octet::frontends::onnx {

namespace detail {

inline std::vector<int64_t> strides_of(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (int i = static_cast<int>(s.size()) - 2; i >= 0; --i) st[i] = st[i + 1] * s[i + 1];
  return st;
}

inline Shape broadcast_shapes(const std::vector<Shape>& shapes, const std::string& where) {
  size_t r = 0;
  for (const auto& s : shapes) r = std::max(r, s.size());
  Shape out(r, 1);
  for (const auto& s : shapes) {
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t& o = out[r - s.size() + i];
      const int64_t d = s[i];
      if (d == o || d == 1) continue;
      if (o == 1) {
        o = d;
        continue;
      }
      throw ShapeError(error_text(where, "shapes do not broadcast"));
    }
  }
  // A zero-sized dim wins over 1.
  for (const auto& s : shapes)
    for (size_t i = 0; i < s.size(); ++i)
      if (s[i] == 0) out[r - s.size() + i] = 0;
  return out;
}

// Strides of `s` viewed at rank/shape `out` with 0 for broadcast dims.
inline std::vector<int64_t> bcast_strides(const Shape& s, const Shape& out) {
  std::vector<int64_t> st(out.size(), 0);
  const auto own = strides_of(s);
  const size_t off = out.size() - s.size();
  for (size_t i = 0; i < s.size(); ++i) st[off + i] = s[i] == 1 ? 0 : own[i];
  return st;
}

// Calls f(out_index, in_offsets...) for every element of a broadcast.
template <typename F>
void for_each_bcast(const Shape& out, const std::vector<std::vector<int64_t>>& sts, F&& f) {
  const int64_t n = shape_count(out);
  const size_t r = out.size();
  std::vector<int64_t> idx(r, 0), off(sts.size(), 0);
  for (int64_t i = 0; i < n; ++i) {
    f(i, off);
    for (int d = static_cast<int>(r) - 1; d >= 0; --d) {
      ++idx[d];
      for (size_t k = 0; k < sts.size(); ++k) off[k] += sts[k][d];
      if (idx[d] < out[d]) break;
      for (size_t k = 0; k < sts.size(); ++k) off[k] -= sts[k][d] * idx[d];
      idx[d] = 0;
    }
  }
}

inline Value nary(const std::vector<const Value*>& in, int out_elem, const std::string& where,
                  const std::function<double(const double*)>& f) {
  std::vector<Shape> shapes;
  for (auto* v : in) shapes.push_back(v->shape);
  Value out(broadcast_shapes(shapes, where), out_elem);
  std::vector<std::vector<int64_t>> sts;
  for (auto* v : in) sts.push_back(bcast_strides(v->shape, out.shape));
  std::vector<double> args(in.size());
  for_each_bcast(out.shape, sts, [&](int64_t i, const std::vector<int64_t>& off) {
    for (size_t k = 0; k < in.size(); ++k) args[k] = in[k]->v[off[k]];
    out.v[i] = f(args.data());
  });
  return out;
}

inline Value transpose(const Value& x, const std::vector<int64_t>& perm) {
  Shape os(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) os[i] = x.shape[perm[i]];
  Value out(os, x.elem);
  const auto ist = strides_of(x.shape);
  std::vector<std::vector<int64_t>> sts(1, std::vector<int64_t>(perm.size()));
  for (size_t i = 0; i < perm.size(); ++i) sts[0][i] = ist[perm[i]];
  for_each_bcast(os, sts, [&](int64_t i, const std::vector<int64_t>& off) { out.v[i] = x.v[off[0]]; });
  return out;
}

inline double round_half_even(double x) { return std::nearbyint(x); }

// Rounds to float32 when the element type is float: ONNX computes in float, and folded
// constants or comparisons should not carry more precision than the model itself.
inline void to_elem(Value& v) {
  if (v.elem == pb::TensorProto::FLOAT)
    for (double& x : v.v) x = static_cast<double>(static_cast<float>(x));
}

// Resize coordinate mapping shared by Resize and Upsample.
inline double resize_coord(const std::string& mode, double x, double scale, int64_t in_len, double out_len) {
  if (mode == "half_pixel") return (x + 0.5) / scale - 0.5;
  if (mode == "pytorch_half_pixel") return out_len > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
  if (mode == "align_corners") return out_len == 1 ? 0.0 : x * static_cast<double>(in_len - 1) / (out_len - 1);
  if (mode == "asymmetric") return x / scale;
  if (mode == "tf_half_pixel_for_nn") return (x + 0.5) / scale;
  throw UnsupportedError("Resize: coordinate_transformation_mode '" + mode + "' is not supported");
}

inline int64_t nearest_index(const std::string& mode, double x, bool downsample) {
  if (mode == "round_prefer_floor") return x == std::floor(x) + 0.5 ? static_cast<int64_t>(std::floor(x)) : static_cast<int64_t>(std::round(x));
  if (mode == "round_prefer_ceil") return static_cast<int64_t>(std::round(x));
  if (mode == "floor") return static_cast<int64_t>(std::floor(x));
  if (mode == "ceil") return static_cast<int64_t>(std::ceil(x));
  if (mode == "simple") return downsample ? static_cast<int64_t>(std::ceil(x)) : static_cast<int64_t>(x);
  throw UnsupportedError("Resize: nearest_mode '" + mode + "' is not supported");
}

}  // namespace detail

// A 1-D Conv/Pool node's attributes as 2-D ones with a leading H axis of size 1.
inline pb::NodeProto lift_node_1d(const pb::NodeProto& n) {
  pb::NodeProto c = n;
  for (auto& a : *c.mutable_attribute()) {
    const std::string& k = a.name();
    if (k == "kernel_shape" || k == "strides" || k == "dilations" || k == "output_padding" || k == "output_shape") {
      std::vector<int64_t> v(a.ints().begin(), a.ints().end());
      a.clear_ints();
      a.add_ints(1);
      for (int64_t x : v) a.add_ints(x);
    } else if (k == "pads" && a.ints_size() == 2) {
      std::vector<int64_t> v(a.ints().begin(), a.ints().end());
      a.clear_ints();
      for (int64_t x : {int64_t{0}, v[0], int64_t{0}, v[1]}) a.add_ints(x);
    }
  }
  return c;
}

// Evaluates single nodes. Missing optional inputs are nullptr.
class Reference {
 public:
  explicit Reference(int64_t opset) : opset_(opset) {}

  static const std::set<std::string>& supported_ops() {
    static const std::set<std::string> ops = {
        "Abs", "Add", "And", "ArgMax", "AveragePool", "BatchNormalization", "Cast", "Ceil", "Clip", "Concat",
        "Constant", "ConstantOfShape", "Conv", "ConvTranspose", "DepthToSpace", "Div", "Dropout", "Elu", "Equal",
        "Erf", "Exp", "Expand", "Flatten", "Floor", "Gather", "Gemm", "GlobalAveragePool", "GlobalMaxPool",
        "Greater", "GreaterOrEqual", "HardSigmoid", "HardSwish", "Identity", "InstanceNormalization", "LRN",
        "LeakyRelu", "Less", "LessOrEqual", "Log", "LogSoftmax", "MatMul", "Max", "MaxPool", "Mean", "Min", "Mod",
        "Mul", "Neg", "Not", "Or", "PRelu", "Pad", "Pow", "Range", "Reciprocal", "ReduceL2", "ReduceMax",
        "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum", "ReduceSumSquare", "Relu", "Reshape", "Resize",
        "Round", "Selu", "Shape", "Sigmoid", "Sign", "Size", "Slice", "Softmax", "Softplus", "Softsign",
        "SpaceToDepth", "Split", "Sqrt", "Squeeze", "Sub", "Sum", "Tanh", "Tile", "Transpose", "Unsqueeze",
        "Upsample", "Where", "Xor"};
    return ops;
  }

  std::vector<Value> run(const pb::NodeProto& n, const std::vector<const Value*>& in) const {
    try {
      auto out = dispatch(n, in);
      for (auto& o : out) detail::to_elem(o);
      return out;
    } catch (const Error& e) {
      const std::string w = e.what();
      if (w.rfind("node ", 0) == 0) throw;
      throw ModelError(error_text(node_label(n), w));
    }
  }

 private:
  int64_t opset_;

  static const Value& need(const std::vector<const Value*>& in, size_t i, const char* what) {
    if (i >= in.size() || !in[i]) throw ModelError(std::string("missing input ") + what);
    return *in[i];
  }
  static bool has(const std::vector<const Value*>& in, size_t i) { return i < in.size() && in[i] && true; }

  static Value unary(const Value& x, const std::function<double(double)>& f) {
    Value out = x;
    for (double& v : out.v) v = f(v);
    return out;
  }

  std::vector<Value> dispatch(const pb::NodeProto& n, const std::vector<const Value*>& in) const {
    const std::string& op = n.op_type();
    const std::string where = node_label(n);
    auto X = [&]() -> const Value& { return need(in, 0, "X"); };
    if ((op == "Conv" || op == "ConvTranspose" || op == "MaxPool" || op == "AveragePool") && X().rank() == 3) {
      const pb::NodeProto n2 = lift_node_1d(n);
      auto lift = [](Value v) {
        v.shape.insert(v.shape.begin() + 2, 1);
        return v;
      };
      const Value x4 = lift(X());
      Value w4;
      std::vector<const Value*> in2 = in;
      in2[0] = &x4;
      if (op == "Conv" || op == "ConvTranspose") {
        w4 = lift(need(in, 1, "W"));
        in2[1] = &w4;
      }
      auto outs = dispatch(n2, in2);
      for (auto& o : outs) o.shape.erase(o.shape.begin() + 2);
      return outs;
    }
    auto one = [](Value v) { return std::vector<Value>{std::move(v)}; };
    using detail::nary;
    // ---- elementwise unary ----
    if (op == "Relu") return one(unary(X(), [](double v) { return v > 0 ? v : 0.0; }));
    if (op == "LeakyRelu") {
      const double a = attr_f(n, "alpha", 0.01f);
      return one(unary(X(), [a](double v) { return v >= 0 ? v : a * v; }));
    }
    if (op == "Elu") {
      const double a = attr_f(n, "alpha", 1.0f);
      return one(unary(X(), [a](double v) { return v >= 0 ? v : a * (std::exp(v) - 1); }));
    }
    if (op == "Selu") {
      const double a = attr_f(n, "alpha", 1.67326319217681884765625f), g = attr_f(n, "gamma", 1.05070102214813232421875f);
      return one(unary(X(), [a, g](double v) { return v > 0 ? g * v : g * a * (std::exp(v) - 1); }));
    }
    if (op == "Sigmoid") return one(unary(X(), [](double v) { return 1.0 / (1.0 + std::exp(-v)); }));
    if (op == "Tanh") return one(unary(X(), [](double v) { return std::tanh(v); }));
    if (op == "HardSigmoid") {
      const double a = attr_f(n, "alpha", 0.2f), b = attr_f(n, "beta", 0.5f);
      return one(unary(X(), [a, b](double v) { return std::max(0.0, std::min(1.0, a * v + b)); }));
    }
    if (op == "HardSwish")
      return one(unary(X(), [](double v) { return v * std::max(0.0, std::min(1.0, v / 6.0 + 0.5)); }));
    if (op == "Softplus") return one(unary(X(), [](double v) { return std::log1p(std::exp(v)); }));
    if (op == "Softsign") return one(unary(X(), [](double v) { return v / (1 + std::abs(v)); }));
    if (op == "Neg") return one(unary(X(), [](double v) { return -v; }));
    if (op == "Abs") return one(unary(X(), [](double v) { return std::abs(v); }));
    if (op == "Exp") return one(unary(X(), [](double v) { return std::exp(v); }));
    if (op == "Log") return one(unary(X(), [](double v) { return std::log(v); }));
    if (op == "Sqrt") return one(unary(X(), [](double v) { return std::sqrt(v); }));
    if (op == "Erf") return one(unary(X(), [](double v) { return std::erf(v); }));
    if (op == "Floor") return one(unary(X(), [](double v) { return std::floor(v); }));
    if (op == "Ceil") return one(unary(X(), [](double v) { return std::ceil(v); }));
    if (op == "Round") return one(unary(X(), [](double v) { return detail::round_half_even(v); }));
    if (op == "Sign") return one(unary(X(), [](double v) { return static_cast<double>((v > 0) - (v < 0)); }));
    if (op == "Not") return one(unary(X(), [](double v) { return v == 0 ? 1.0 : 0.0; }));
    if (op == "Reciprocal") {
      const bool i = X().is_int();
      return one(unary(X(), [i](double v) { return i ? std::trunc(1.0 / v) : 1.0 / v; }));
    }
    if (op == "Identity") return one(X());
    if (op == "Dropout") {
      std::vector<Value> out{X()};
      if (n.output_size() > 1) out.emplace_back(X().shape, pb::TensorProto::BOOL, 1.0);
      return out;
    }
    if (op == "Cast") {
      Value o = X();
      o.elem = static_cast<int>(attr_i(n, "to", pb::TensorProto::FLOAT));
      if (o.is_int())
        for (double& v : o.v) v = o.elem == pb::TensorProto::BOOL ? (v != 0) : std::trunc(v);
      return one(o);
    }
    if (op == "Clip") {
      double lo = -std::numeric_limits<double>::infinity(), hi = std::numeric_limits<double>::infinity();
      if (opset_ < 11) {
        lo = attr_f(n, "min", -std::numeric_limits<float>::max());
        hi = attr_f(n, "max", std::numeric_limits<float>::max());
      } else {
        if (has(in, 1) && in[1]->size()) lo = in[1]->v[0];
        if (has(in, 2) && in[2]->size()) hi = in[2]->v[0];
      }
      return one(unary(X(), [lo, hi](double v) { return std::min(hi, std::max(lo, v)); }));
    }
    // ---- elementwise binary / n-ary ----
    auto bin = [&](const std::function<double(double, double)>& f, int elem) {
      return one(nary({&need(in, 0, "A"), &need(in, 1, "B")}, elem, where, [&f](const double* a) { return f(a[0], a[1]); }));
    };
    const int e0 = has(in, 0) ? in[0]->elem : pb::TensorProto::FLOAT;
    const bool ints = has(in, 0) && in[0]->is_int();
    if (op == "Add") return bin([](double a, double b) { return a + b; }, e0);
    if (op == "Sub") return bin([](double a, double b) { return a - b; }, e0);
    if (op == "Mul") return bin([](double a, double b) { return a * b; }, e0);
    if (op == "Div") return bin([ints](double a, double b) { return ints ? std::trunc(a / b) : a / b; }, e0);
    if (op == "Mod") {
      const bool fm = attr_i(n, "fmod", 0) != 0;
      return bin([fm](double a, double b) {
        if (fm) return std::fmod(a, b);
        double r = std::fmod(a, b);
        if (r != 0 && ((r < 0) != (b < 0))) r += b;
        return r;
      }, e0);
    }
    if (op == "Pow") return bin([ints](double a, double b) { return ints ? std::trunc(std::pow(a, b)) : std::pow(a, b); }, e0);
    if (op == "PRelu" && opset_ < 7 && has(in, 1) && in[1]->rank() == 1 && X().rank() > 2 && in[1]->size() == X().shape[1]) {
      Value s = *in[1];  // before opset 7 a [C] slope meant channels
      s.shape.resize(X().rank() - 1, 1);
      return one(nary({&X(), &s}, e0, where, [](const double* a) { return a[0] < 0 ? a[0] * a[1] : a[0]; }));
    }
    if (op == "PRelu") return bin([](double a, double s) { return a < 0 ? a * s : a; }, e0);
    if (op == "Equal") return bin([](double a, double b) { return double(a == b); }, pb::TensorProto::BOOL);
    if (op == "Less") return bin([](double a, double b) { return double(a < b); }, pb::TensorProto::BOOL);
    if (op == "LessOrEqual") return bin([](double a, double b) { return double(a <= b); }, pb::TensorProto::BOOL);
    if (op == "Greater") return bin([](double a, double b) { return double(a > b); }, pb::TensorProto::BOOL);
    if (op == "GreaterOrEqual") return bin([](double a, double b) { return double(a >= b); }, pb::TensorProto::BOOL);
    if (op == "And") return bin([](double a, double b) { return double(a != 0 && b != 0); }, pb::TensorProto::BOOL);
    if (op == "Or") return bin([](double a, double b) { return double(a != 0 || b != 0); }, pb::TensorProto::BOOL);
    if (op == "Xor") return bin([](double a, double b) { return double((a != 0) != (b != 0)); }, pb::TensorProto::BOOL);
    if (op == "Where") {
      return one(nary({&need(in, 0, "C"), &need(in, 1, "X"), &need(in, 2, "Y")}, in[1]->elem, where,
                      [](const double* a) { return a[0] != 0 ? a[1] : a[2]; }));
    }
    if (op == "Max" || op == "Min" || op == "Sum" || op == "Mean") {
      std::vector<const Value*> xs;
      for (auto* v : in)
        if (v) xs.push_back(v);
      if (xs.empty()) throw ModelError("no inputs");
      const size_t k = xs.size();
      return one(nary(xs, xs[0]->elem, where, [&op, k](const double* a) {
        double r = a[0];
        for (size_t i = 1; i < k; ++i) {
          if (op == "Max") r = std::max(r, a[i]);
          else if (op == "Min") r = std::min(r, a[i]);
          else r += a[i];
        }
        return op == "Mean" ? r / static_cast<double>(k) : r;
      }));
    }
    // ---- constants and shapes ----
    if (op == "Constant") {
      const auto* a = n.attribute_size() ? &n.attribute(0) : nullptr;
      if (!a) throw ModelError("Constant without value");
      if (a->name() == "value") return one(decode_tensor(a->t(), where));
      if (a->name() == "value_float") return one(Value::scalar(a->f()));
      if (a->name() == "value_int") return one(Value::scalar(static_cast<double>(a->i()), pb::TensorProto::INT64));
      if (a->name() == "value_floats") {
        Value v({static_cast<int64_t>(a->floats_size())}, pb::TensorProto::FLOAT);
        for (int i = 0; i < a->floats_size(); ++i) v.v[i] = a->floats(i);
        return one(v);
      }
      if (a->name() == "value_ints") return one(Value::vec({a->ints().begin(), a->ints().end()}));
      throw UnsupportedError("Constant attribute '" + a->name() + "' is not supported");
    }
    if (op == "Shape") {
      const auto r = static_cast<int64_t>(X().rank());
      int64_t s = attr_i(n, "start", 0), e = attr_i(n, "end", r);
      if (s < 0) s += r;
      if (e < 0) e += r;
      s = std::clamp<int64_t>(s, 0, r);
      e = std::clamp<int64_t>(e, 0, r);
      std::vector<int64_t> dims;
      for (int64_t i = s; i < e; ++i) dims.push_back(X().shape[i]);
      return one(Value::vec(dims));
    }
    if (op == "Size") return one(Value::scalar(static_cast<double>(X().size()), pb::TensorProto::INT64));
    if (op == "ConstantOfShape") {
      Shape s;
      for (int64_t d : need(in, 0, "shape").ints()) s.push_back(d);
      Value o(s, pb::TensorProto::FLOAT, 0.0);
      if (const auto* a = find_attr(n, "value")) {
        Value c = decode_tensor(a->t(), where);
        o.elem = c.elem;
        std::fill(o.v.begin(), o.v.end(), c.v.empty() ? 0.0 : c.v[0]);
      }
      return one(o);
    }
    if (op == "Range") {
      const double s = need(in, 0, "start").v.at(0), l = need(in, 1, "limit").v.at(0), d = need(in, 2, "delta").v.at(0);
      const int64_t cnt = std::max<int64_t>(0, static_cast<int64_t>(std::ceil((l - s) / d)));
      Value o({cnt}, in[0]->elem);
      for (int64_t i = 0; i < cnt; ++i) o.v[i] = s + static_cast<double>(i) * d;
      return one(o);
    }
    // ---- layout ----
    if (op == "Reshape") {
      const Value& x = X();
      auto dims = need(in, 1, "shape").ints();
      const bool allowzero = attr_i(n, "allowzero", 0) != 0;
      Shape s;
      int neg = -1;
      int64_t known = 1;
      for (size_t i = 0; i < dims.size(); ++i) {
        int64_t d = dims[i];
        if (d == 0 && !allowzero) {
          if (i >= x.rank()) throw ShapeError("Reshape: 0 refers past the input rank");
          d = x.shape[i];
        }
        if (d == -1) {
          if (neg >= 0) throw ShapeError("Reshape: two -1 dims");
          neg = static_cast<int>(i);
          s.push_back(1);
          continue;
        }
        if (d < 0) throw ShapeError("Reshape: negative dim");
        known *= d;
        s.push_back(d);
      }
      if (neg >= 0) s[neg] = known ? x.size() / known : 0;
      if (shape_count(s) != x.size())
        throw ShapeError("Reshape: cannot reshape " + shape_str(x.shape) + " to " + shape_str(s));
      Value o = x;
      o.shape = s;
      return one(o);
    }
    if (op == "Flatten") {
      const Value& x = X();
      int64_t axis = attr_i(n, "axis", 1);
      if (axis < 0) axis += static_cast<int64_t>(x.rank());
      Value o = x;
      o.shape = {shape_count(x.shape, 0, axis), shape_count(x.shape, axis)};
      return one(o);
    }
    if (op == "Squeeze" || op == "Unsqueeze") {
      const Value& x = X();
      std::vector<int64_t> axes = opset_ >= 13 ? (has(in, 1) ? in[1]->ints() : std::vector<int64_t>{})
                                               : attr_ints(n, "axes");
      Value o = x;
      if (op == "Squeeze") {
        const auto r = static_cast<int64_t>(x.rank());
        std::set<int64_t> ax;
        for (int64_t a : axes) ax.insert(a < 0 ? a + r : a);
        o.shape.clear();
        for (int64_t i = 0; i < r; ++i) {
          if (axes.empty() ? x.shape[i] == 1 : ax.count(i) != 0) {
            if (x.shape[i] != 1) throw ShapeError("Squeeze: axis " + std::to_string(i) + " is not 1");
            continue;
          }
          o.shape.push_back(x.shape[i]);
        }
      } else {
        const auto r = static_cast<int64_t>(x.rank() + axes.size());
        std::set<int64_t> ax;
        for (int64_t a : axes) ax.insert(a < 0 ? a + r : a);
        o.shape.clear();
        size_t j = 0;
        for (int64_t i = 0; i < r; ++i) o.shape.push_back(ax.count(i) ? 1 : x.shape[j++]);
      }
      return one(o);
    }
    if (op == "Transpose") {
      const Value& x = X();
      auto perm = attr_ints(n, "perm");
      if (perm.empty())
        for (int64_t i = static_cast<int64_t>(x.rank()) - 1; i >= 0; --i) perm.push_back(i);
      return one(detail::transpose(x, perm));
    }
    if (op == "Concat") {
      std::vector<const Value*> xs;
      for (auto* v : in)
        if (v) xs.push_back(v);
      const int axis = canonical_axis(static_cast<int>(attr_i(n, "axis", 0)), xs.at(0)->rank());
      Shape s = xs[0]->shape;
      s[axis] = 0;
      for (auto* v : xs) {
        if (v->rank() != s.size()) throw ShapeError("Concat: rank mismatch");
        s[axis] += v->shape[axis];
      }
      Value o(s, xs[0]->elem);
      const int64_t outer = shape_count(s, 0, axis), inner = shape_count(s, axis + 1);
      int64_t pos = 0;
      for (auto* v : xs) {
        const int64_t len = v->shape[axis] * inner;
        for (int64_t b = 0; b < outer; ++b)
          std::copy_n(v->v.begin() + b * len, len, o.v.begin() + b * s[axis] * inner + pos);
        pos += len;
      }
      return one(o);
    }
    if (op == "Split") {
      const Value& x = X();
      const int axis = canonical_axis(static_cast<int>(attr_i(n, "axis", 0)), x.rank());
      std::vector<int64_t> parts = opset_ >= 13 ? (has(in, 1) ? in[1]->ints() : std::vector<int64_t>{})
                                                : attr_ints(n, "split");
      const int64_t k = n.output_size();
      if (parts.empty()) {
        const int64_t len = x.shape[axis];
        const int64_t each = (len + k - 1) / k;
        for (int64_t i = 0; i < k; ++i) parts.push_back(std::min(each, len - each * i));
      }
      std::vector<Value> outs;
      int64_t start = 0;
      for (int64_t p : parts) {
        outs.push_back(slice_axis(x, axis, start, p, 1));
        start += p;
      }
      return outs;
    }
    if (op == "Slice") {
      const Value& x = X();
      std::vector<int64_t> starts, ends, axes, steps;
      if (opset_ < 10) {
        starts = attr_ints(n, "starts");
        ends = attr_ints(n, "ends");
        axes = attr_ints(n, "axes");
      } else {
        starts = need(in, 1, "starts").ints();
        ends = need(in, 2, "ends").ints();
        if (has(in, 3)) axes = in[3]->ints();
        if (has(in, 4)) steps = in[4]->ints();
      }
      if (axes.empty())
        for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
      if (steps.empty()) steps.assign(starts.size(), 1);
      Value o = x;
      for (size_t i = 0; i < starts.size(); ++i) {
        const int axis = canonical_axis(static_cast<int>(axes[i]), x.rank());
        int64_t b, len;
        slice_range(o.shape[axis], starts[i], ends[i], steps[i], b, len);
        o = slice_axis(o, axis, b, len, steps[i]);
      }
      return one(o);
    }
    if (op == "Gather") {
      const Value& x = X();
      const Value& idx = need(in, 1, "indices");
      const int axis = canonical_axis(static_cast<int>(attr_i(n, "axis", 0)), x.rank());
      Shape s(x.shape.begin(), x.shape.begin() + axis);
      s.insert(s.end(), idx.shape.begin(), idx.shape.end());
      s.insert(s.end(), x.shape.begin() + axis + 1, x.shape.end());
      Value o(s, x.elem);
      const int64_t outer = shape_count(x.shape, 0, axis), inner = shape_count(x.shape, axis + 1), len = x.shape[axis];
      const int64_t k = idx.size();
      for (int64_t b = 0; b < outer; ++b)
        for (int64_t j = 0; j < k; ++j) {
          int64_t id = static_cast<int64_t>(idx.v[j]);
          if (id < 0) id += len;
          if (id < 0 || id >= len) throw ShapeError("Gather: index out of range");
          std::copy_n(x.v.begin() + (b * len + id) * inner, inner, o.v.begin() + (b * k + j) * inner);
        }
      return one(o);
    }
    if (op == "Expand") {
      const Value& x = X();
      Shape want;
      for (int64_t d : need(in, 1, "shape").ints()) want.push_back(d);
      return one(broadcast_to(x, detail::broadcast_shapes({x.shape, want}, where)));
    }
    if (op == "Tile") {
      const Value& x = X();
      const auto reps = need(in, 1, "repeats").ints();
      if (reps.size() != x.rank()) throw ShapeError("Tile: repeats length differs from rank");
      Shape s = x.shape;
      for (size_t i = 0; i < s.size(); ++i) s[i] *= reps[i];
      Value o(s, x.elem);
      const auto ost = detail::strides_of(s), ist = detail::strides_of(x.shape);
      for (int64_t i = 0; i < o.size(); ++i) {
        int64_t r = i, off = 0;
        for (size_t d = 0; d < s.size(); ++d) {
          const int64_t c = r / ost[d];
          r %= ost[d];
          off += (c % x.shape[d]) * ist[d];
        }
        o.v[i] = x.v[off];
      }
      return one(o);
    }
    if (op == "DepthToSpace" || op == "SpaceToDepth") {
      const Value& x = X();
      if (x.rank() != 4) throw ShapeError(op + ": needs a 4-D input");
      const int64_t b = attr_i(n, "blocksize", 2);
      const int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
      if (op == "DepthToSpace") {
        const bool crd = attr_s(n, "mode", "DCR") == "CRD";
        Value r = x;
        r.shape = crd ? Shape{N, C / (b * b), b, b, H, W} : Shape{N, b, b, C / (b * b), H, W};
        Value t = detail::transpose(r, crd ? std::vector<int64_t>{0, 1, 4, 2, 5, 3} : std::vector<int64_t>{0, 3, 4, 1, 5, 2});
        t.shape = {N, C / (b * b), H * b, W * b};
        return one(t);
      }
      Value r = x;
      r.shape = {N, C, H / b, b, W / b, b};
      Value t = detail::transpose(r, {0, 3, 5, 1, 2, 4});
      t.shape = {N, C * b * b, H / b, W / b};
      return one(t);
    }
    if (op == "Pad") return one(pad(n, in));
    // ---- reductions ----
    if (op.rfind("Reduce", 0) == 0) return one(reduce(n, in));
    if (op == "ArgMax") {
      const Value& x = X();
      const int axis = canonical_axis(static_cast<int>(attr_i(n, "axis", 0)), x.rank());
      const bool keep = attr_i(n, "keepdims", 1) != 0;
      Shape s = x.shape;
      s[axis] = 1;
      Value o(s, pb::TensorProto::INT64);
      const int64_t outer = shape_count(x.shape, 0, axis), inner = shape_count(x.shape, axis + 1), len = x.shape[axis];
      for (int64_t b = 0; b < outer; ++b)
        for (int64_t j = 0; j < inner; ++j) {
          int64_t best = 0;
          for (int64_t k = 1; k < len; ++k)
            if (x.v[(b * len + k) * inner + j] > x.v[(b * len + best) * inner + j]) best = k;
          o.v[b * inner + j] = static_cast<double>(best);
        }
      if (!keep) o.shape.erase(o.shape.begin() + axis);
      return one(o);
    }
    if (op == "Softmax" || op == "LogSoftmax") {
      const Value& x = X();
      const bool log = op == "LogSoftmax";
      const int axis = canonical_axis(static_cast<int>(attr_i(n, "axis", opset_ >= 13 ? -1 : 1)), x.rank());
      // Before opset 13 the input is coerced to 2-D at `axis`; from 13 it is one axis.
      const int64_t outer = shape_count(x.shape, 0, axis);
      const int64_t len = opset_ >= 13 ? x.shape[axis] : shape_count(x.shape, axis);
      const int64_t inner = opset_ >= 13 ? shape_count(x.shape, axis + 1) : 1;
      Value o = x;
      for (int64_t b = 0; b < outer; ++b)
        for (int64_t j = 0; j < inner; ++j) {
          double m = -std::numeric_limits<double>::infinity(), sum = 0;
          for (int64_t k = 0; k < len; ++k) m = std::max(m, x.v[(b * len + k) * inner + j]);
          for (int64_t k = 0; k < len; ++k) sum += std::exp(x.v[(b * len + k) * inner + j] - m);
          for (int64_t k = 0; k < len; ++k) {
            const double z = x.v[(b * len + k) * inner + j] - m;
            o.v[(b * len + k) * inner + j] = log ? z - std::log(sum) : std::exp(z) / sum;
          }
        }
      return one(o);
    }
    // ---- normalisation ----
    if (op == "BatchNormalization") {
      const Value& x = X();
      if (attr_i(n, "training_mode", 0) != 0) throw UnsupportedError("BatchNormalization: training_mode is not supported");
      const Value &sc = need(in, 1, "scale"), &bi = need(in, 2, "B"), &mu = need(in, 3, "mean"), &va = need(in, 4, "var");
      const double eps = attr_f(n, "epsilon", 1e-5f);
      Value o = x;
      const int64_t N = x.shape.at(0), C = x.rank() > 1 ? x.shape[1] : 1, inner = shape_count(x.shape, 2);
      for (int64_t b = 0; b < N; ++b)
        for (int64_t c = 0; c < C; ++c) {
          const double a = sc.v[c] / std::sqrt(va.v[c] + eps), s = bi.v[c] - mu.v[c] * a;
          double* p = o.v.data() + (b * C + c) * inner;
          for (int64_t k = 0; k < inner; ++k) p[k] = p[k] * a + s;
        }
      return one(o);
    }
    if (op == "InstanceNormalization") {
      const Value& x = X();
      const Value &sc = need(in, 1, "scale"), &bi = need(in, 2, "B");
      const double eps = attr_f(n, "epsilon", 1e-5f);
      Value o = x;
      const int64_t N = x.shape.at(0), C = x.shape.at(1), inner = shape_count(x.shape, 2);
      for (int64_t b = 0; b < N; ++b)
        for (int64_t c = 0; c < C; ++c) {
          double* p = o.v.data() + (b * C + c) * inner;
          double m = 0, v = 0;
          for (int64_t k = 0; k < inner; ++k) m += p[k];
          m /= static_cast<double>(inner);
          for (int64_t k = 0; k < inner; ++k) v += (p[k] - m) * (p[k] - m);
          v /= static_cast<double>(inner);
          const double a = sc.v[c] / std::sqrt(v + eps);
          for (int64_t k = 0; k < inner; ++k) p[k] = (p[k] - m) * a + bi.v[c];
        }
      return one(o);
    }
    if (op == "LRN") {
      const Value& x = X();
      const double alpha = attr_f(n, "alpha", 1e-4f), beta = attr_f(n, "beta", 0.75f), bias = attr_f(n, "bias", 1.0f);
      const int64_t size = attr_i(n, "size", 1);
      const int64_t N = x.shape.at(0), C = x.shape.at(1), inner = shape_count(x.shape, 2);
      const int64_t lo = (size - 1) / 2, hi = (size - 1) - lo;
      Value o = x;
      for (int64_t b = 0; b < N; ++b)
        for (int64_t c = 0; c < C; ++c)
          for (int64_t k = 0; k < inner; ++k) {
            double sq = 0;
            for (int64_t j = std::max<int64_t>(0, c - lo); j <= std::min(C - 1, c + hi); ++j) {
              const double t = x.v[(b * C + j) * inner + k];
              sq += t * t;
            }
            o.v[(b * C + c) * inner + k] = x.v[(b * C + c) * inner + k] / std::pow(bias + alpha / static_cast<double>(size) * sq, beta);
          }
      return one(o);
    }
    // ---- linear algebra and convolution ----
    if (op == "MatMul") return one(matmul(need(in, 0, "A"), need(in, 1, "B")));
    if (op == "Gemm") {
      Value a = need(in, 0, "A"), b = need(in, 1, "B");
      if (a.rank() != 2 || b.rank() != 2) throw ShapeError("Gemm: A and B must be 2-D");
      if (attr_i(n, "transA", 0)) a = detail::transpose(a, {1, 0});
      if (attr_i(n, "transB", 0)) b = detail::transpose(b, {1, 0});
      Value y = matmul(a, b);
      const double alpha = attr_f(n, "alpha", 1.0f), beta = attr_f(n, "beta", 1.0f);
      for (double& v : y.v) v *= alpha;
      if (has(in, 2)) {
        const Value& c = *in[2];
        y = nary({&y, &c}, y.elem, where, [beta](const double* p) { return p[0] + beta * p[1]; });
      }
      return one(y);
    }
    if (op == "Conv") return one(conv(n, in));
    if (op == "ConvTranspose") return one(conv_transpose(n, in));
    if (op == "MaxPool" || op == "AveragePool") {
      auto outs = std::vector<Value>{pool(n, X(), op == "MaxPool")};
      if (n.output_size() > 1) throw UnsupportedError("MaxPool: the Indices output is not supported");
      return outs;
    }
    if (op == "GlobalAveragePool" || op == "GlobalMaxPool") {
      const Value& x = X();
      const bool mx = op == "GlobalMaxPool";
      Shape s = x.shape;
      for (size_t i = 2; i < s.size(); ++i) s[i] = 1;
      Value o(s, x.elem);
      const int64_t inner = shape_count(x.shape, 2);
      for (int64_t i = 0; i < shape_count(x.shape, 0, 2); ++i) {
        double acc = mx ? -std::numeric_limits<double>::infinity() : 0.0;
        for (int64_t k = 0; k < inner; ++k) acc = mx ? std::max(acc, x.v[i * inner + k]) : acc + x.v[i * inner + k];
        o.v[i] = mx ? acc : acc / static_cast<double>(inner);
      }
      return one(o);
    }
    if (op == "Resize" || op == "Upsample") return one(resize(n, in));
    throw UnsupportedError("op " + op + " is not supported by the reference interpreter");
  }

 public:
  // ONNX Slice index normalisation for one axis: first index and element count.
  static void slice_range(int64_t dim, int64_t start, int64_t end, int64_t step, int64_t& first, int64_t& count) {
    if (step == 0) throw ShapeError("Slice: step 0");
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
      count = end > start ? (end - start + step - 1) / step : 0;
    } else {
      start = std::clamp<int64_t>(start, 0, dim - 1);
      end = std::clamp<int64_t>(end, -1, dim - 1);
      count = start > end ? (start - end - step - 1) / (-step) : 0;
    }
    first = start;
  }

  static Value slice_axis(const Value& x, int axis, int64_t first, int64_t count, int64_t step) {
    Shape s = x.shape;
    s[axis] = count;
    Value o(s, x.elem);
    const int64_t outer = shape_count(x.shape, 0, axis), inner = shape_count(x.shape, axis + 1), len = x.shape[axis];
    for (int64_t b = 0; b < outer; ++b)
      for (int64_t j = 0; j < count; ++j)
        std::copy_n(x.v.begin() + (b * len + first + j * step) * inner, inner, o.v.begin() + (b * count + j) * inner);
    return o;
  }

  static Value broadcast_to(const Value& x, const Shape& s) {
    Value o(s, x.elem);
    detail::for_each_bcast(s, {detail::bcast_strides(x.shape, s)},
                           [&](int64_t i, const std::vector<int64_t>& off) { o.v[i] = x.v[off[0]]; });
    return o;
  }

  static Value matmul(const Value& a0, const Value& b0) {
    Value a = a0, b = b0;
    const bool a1 = a.rank() == 1, b1 = b.rank() == 1;
    if (a1) a.shape = {1, a.shape[0]};
    if (b1) b.shape = {b.shape[0], 1};
    const int64_t M = a.shape[a.rank() - 2], K = a.shape[a.rank() - 1], N = b.shape[b.rank() - 1];
    if (b.shape[b.rank() - 2] != K) throw ShapeError("MatMul: inner dimensions differ (" + shape_str(a0.shape) + " x " + shape_str(b0.shape) + ")");
    Shape ab(a.shape.begin(), a.shape.end() - 2), bb(b.shape.begin(), b.shape.end() - 2);
    Shape batch = detail::broadcast_shapes({ab, bb}, "MatMul");
    Shape os = batch;
    os.push_back(M);
    os.push_back(N);
    Value o(os, a.elem);
    const auto ast = detail::bcast_strides(ab, batch), bst = detail::bcast_strides(bb, batch);
    using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    detail::for_each_bcast(batch, {ast, bst}, [&](int64_t i, const std::vector<int64_t>& off) {
      Eigen::Map<const Mat> A(a.v.data() + off[0] * M * K, M, K);
      Eigen::Map<const Mat> B(b.v.data() + off[1] * K * N, K, N);
      Eigen::Map<Mat> C(o.v.data() + i * M * N, M, N);
      C.noalias() = A * B;
    });
    if (a1) o.shape.erase(o.shape.end() - 2);
    if (b1) o.shape.erase(o.shape.end() - 1);
    return o;
  }

  // Resolved spatial geometry of a Conv / Pool: pads (begin, end) per spatial axis and output dims.
  struct Geometry {
    std::vector<int64_t> kernel, stride, dilation, pad_begin, pad_end, out;
  };

  static Geometry geometry(const pb::NodeProto& n, const Shape& x, const std::vector<int64_t>& kernel, bool ceil_mode) {
    const size_t sp = x.size() - 2;
    Geometry g;
    g.kernel = kernel;
    g.stride = attr_ints(n, "strides", std::vector<int64_t>(sp, 1));
    g.dilation = attr_ints(n, "dilations", std::vector<int64_t>(sp, 1));
    auto pads = attr_ints(n, "pads", std::vector<int64_t>(2 * sp, 0));
    if (g.kernel.size() != sp || g.stride.size() != sp || g.dilation.size() != sp || pads.size() != 2 * sp)
      throw ShapeError("kernel/strides/dilations/pads do not match the input rank");
    const std::string ap = attr_s(n, "auto_pad", "NOTSET");
    for (size_t i = 0; i < sp; ++i) {
      const int64_t in = x[2 + i], k = (g.kernel[i] - 1) * g.dilation[i] + 1, s = g.stride[i];
      int64_t pb_ = pads[i], pe = pads[sp + i], out;
      if (ap == "SAME_UPPER" || ap == "SAME_LOWER") {
        out = (in + s - 1) / s;
        const int64_t total = std::max<int64_t>(0, (out - 1) * s + k - in);
        pb_ = ap == "SAME_UPPER" ? total / 2 : total - total / 2;
        pe = total - pb_;
      } else {
        if (ap == "VALID") pb_ = pe = 0;
        const int64_t span = in + pb_ + pe - k;
        if (span < 0) throw ShapeError("kernel larger than padded input");
        out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
        // ceil_mode must not start a window in the end padding.
        if (ceil_mode && (out - 1) * s >= in + pb_) --out;
      }
      g.pad_begin.push_back(pb_);
      g.pad_end.push_back(pe);
      g.out.push_back(out);
    }
    return g;
  }

 private:
  static Value conv(const pb::NodeProto& n, const std::vector<const Value*>& in) {
    const Value &x = need(in, 0, "X"), &w = need(in, 1, "W");
    if (x.rank() != 4 || w.rank() != 4) throw UnsupportedError("Conv: only 2-D convolution is supported");
    const int64_t group = attr_i(n, "group", 1);
    auto ks = attr_ints(n, "kernel_shape", {w.shape[2], w.shape[3]});
    Geometry g = geometry(n, x.shape, ks, false);
    const int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3], M = w.shape[0];
    const int64_t Cg = C / group, Mg = M / group, kh = ks[0], kw = ks[1], OH = g.out[0], OW = g.out[1];
    if (w.shape[1] != Cg || M % group) throw ShapeError("Conv: weight shape does not match input channels / group");
    Value o({N, M, OH, OW}, x.elem);
    using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    Mat col(Cg * kh * kw, OH * OW);
    for (int64_t b = 0; b < N; ++b)
      for (int64_t gi = 0; gi < group; ++gi) {
        for (int64_t c = 0; c < Cg; ++c)
          for (int64_t i = 0; i < kh; ++i)
            for (int64_t j = 0; j < kw; ++j) {
              const int64_t row = (c * kh + i) * kw + j;
              const double* src = x.v.data() + ((b * C) + gi * Cg + c) * H * W;
              for (int64_t oy = 0; oy < OH; ++oy) {
                const int64_t iy = oy * g.stride[0] - g.pad_begin[0] + i * g.dilation[0];
                for (int64_t ox = 0; ox < OW; ++ox) {
                  const int64_t ix = ox * g.stride[1] - g.pad_begin[1] + j * g.dilation[1];
                  col(row, oy * OW + ox) = (iy >= 0 && iy < H && ix >= 0 && ix < W) ? src[iy * W + ix] : 0.0;
                }
              }
            }
        Eigen::Map<const Mat> Wm(w.v.data() + gi * Mg * Cg * kh * kw, Mg, Cg * kh * kw);
        Eigen::Map<Mat> Y(o.v.data() + (b * M + gi * Mg) * OH * OW, Mg, OH * OW);
        Y.noalias() = Wm * col;
      }
    if (has(in, 2)) {
      const Value& bias = *in[2];
      for (int64_t b = 0; b < N; ++b)
        for (int64_t m = 0; m < M; ++m)
          for (int64_t k = 0; k < OH * OW; ++k) o.v[(b * M + m) * OH * OW + k] += bias.v[m];
    }
    return o;
  }

 public:
  // ConvTranspose geometry: pads (may be negative when output_shape asks for extra rows).
  static void deconv_geometry(const pb::NodeProto& n, const Shape& x, const Shape& w, std::vector<int64_t>& pads_b,
                              std::vector<int64_t>& pads_e, std::vector<int64_t>& outp, std::vector<int64_t>& out) {
    const size_t sp = 2;
    auto ks = attr_ints(n, "kernel_shape", {w[2], w[3]});
    auto st = attr_ints(n, "strides", std::vector<int64_t>(sp, 1));
    auto dl = attr_ints(n, "dilations", std::vector<int64_t>(sp, 1));
    auto pads = attr_ints(n, "pads", std::vector<int64_t>(2 * sp, 0));
    outp = attr_ints(n, "output_padding", std::vector<int64_t>(sp, 0));
    auto oshape = attr_ints(n, "output_shape");
    const std::string ap = attr_s(n, "auto_pad", "NOTSET");
    pads_b.assign(sp, 0);
    pads_e.assign(sp, 0);
    out.assign(sp, 0);
    if (oshape.size() > sp) oshape.erase(oshape.begin(), oshape.end() - sp);
    for (size_t i = 0; i < sp; ++i) {
      const int64_t in = x[2 + i], k = (ks[i] - 1) * dl[i] + 1;
      const int64_t full = st[i] * (in - 1) + outp[i] + k;
      if (!oshape.empty() || ap == "SAME_UPPER" || ap == "SAME_LOWER") {
        const int64_t want = !oshape.empty() ? oshape[i] : in * st[i];
        const int64_t total = full - want;
        // Python-style floor division so that a negative total (extra output) splits the ONNX way.
        const int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
        if (ap == "SAME_UPPER") {
          pads_b[i] = half;
          pads_e[i] = total - half;
        } else {
          pads_b[i] = total - half;
          pads_e[i] = half;
        }
        out[i] = want;
      } else {
        if (ap != "VALID") {
          pads_b[i] = pads[i];
          pads_e[i] = pads[sp + i];
        }
        out[i] = full - pads_b[i] - pads_e[i];
      }
    }
  }

 private:
  static Value conv_transpose(const pb::NodeProto& n, const std::vector<const Value*>& in) {
    const Value &x = need(in, 0, "X"), &w = need(in, 1, "W");
    if (x.rank() != 4 || w.rank() != 4) throw UnsupportedError("ConvTranspose: only 2-D is supported");
    const int64_t group = attr_i(n, "group", 1);
    auto ks = attr_ints(n, "kernel_shape", {w.shape[2], w.shape[3]});
    auto st = attr_ints(n, "strides", {1, 1});
    auto dl = attr_ints(n, "dilations", {1, 1});
    std::vector<int64_t> pb_, pe, op, out;
    deconv_geometry(n, x.shape, w.shape, pb_, pe, op, out);
    const int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
    const int64_t Cg = C / group, Mg = w.shape[1], M = Mg * group, OH = out[0], OW = out[1];
    Value o({N, M, OH, OW}, x.elem);
    for (int64_t b = 0; b < N; ++b)
      for (int64_t gi = 0; gi < group; ++gi)
        for (int64_t c = 0; c < Cg; ++c)
          for (int64_t iy = 0; iy < H; ++iy)
            for (int64_t ix = 0; ix < W; ++ix) {
              const double xv = x.v[((b * C + gi * Cg + c) * H + iy) * W + ix];
              if (xv == 0) continue;
              for (int64_t m = 0; m < Mg; ++m)
                for (int64_t i = 0; i < ks[0]; ++i) {
                  const int64_t oy = iy * st[0] + i * dl[0] - pb_[0];
                  if (oy < 0 || oy >= OH) continue;
                  for (int64_t j = 0; j < ks[1]; ++j) {
                    const int64_t ox = ix * st[1] + j * dl[1] - pb_[1];
                    if (ox < 0 || ox >= OW) continue;
                    o.v[((b * M + gi * Mg + m) * OH + oy) * OW + ox] +=
                        xv * w.v[(((gi * Cg + c) * Mg + m) * ks[0] + i) * ks[1] + j];
                  }
                }
            }
    if (has(in, 2))
      for (int64_t b = 0; b < N; ++b)
        for (int64_t m = 0; m < M; ++m)
          for (int64_t k = 0; k < OH * OW; ++k) o.v[(b * M + m) * OH * OW + k] += in[2]->v[m];
    return o;
  }

  static Value pool(const pb::NodeProto& n, const Value& x, bool is_max) {
    if (x.rank() != 4) throw UnsupportedError(n.op_type() + ": only 2-D pooling is supported");
    Geometry g = geometry(n, x.shape, attr_ints(n, "kernel_shape"), attr_i(n, "ceil_mode", 0) != 0);
    const bool include_pad = attr_i(n, "count_include_pad", 0) != 0;
    const int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3], OH = g.out[0], OW = g.out[1];
    Value o({N, C, OH, OW}, x.elem);
    for (int64_t p = 0; p < N * C; ++p)
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox) {
          const int64_t y0 = oy * g.stride[0] - g.pad_begin[0], x0 = ox * g.stride[1] - g.pad_begin[1];
          double acc = is_max ? -std::numeric_limits<double>::infinity() : 0.0;
          int64_t cnt = 0, cnt_pad = 0;
          for (int64_t i = 0; i < g.kernel[0]; ++i)
            for (int64_t j = 0; j < g.kernel[1]; ++j) {
              const int64_t iy = y0 + i * g.dilation[0], ix = x0 + j * g.dilation[1];
              // Cells in the declared padding count for count_include_pad; cells beyond it
              // (ceil_mode overhang) never do.
              if (iy < H + g.pad_end[0] && ix < W + g.pad_end[1]) ++cnt_pad;
              if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
              const double v = x.v[(p * H + iy) * W + ix];
              acc = is_max ? std::max(acc, v) : acc + v;
              ++cnt;
            }
          o.v[(p * OH + oy) * OW + ox] = is_max ? acc : acc / static_cast<double>(include_pad ? cnt_pad : cnt);
        }
    return o;
  }

  Value pad(const pb::NodeProto& n, const std::vector<const Value*>& in) const {
    const Value& x = need(in, 0, "data");
    std::vector<int64_t> pads;
    double value = 0;
    if (opset_ < 11) {
      pads = attr_ints(n, "pads");
      value = attr_f(n, "value", 0.0f);
    } else {
      pads = need(in, 1, "pads").ints();
      if (has(in, 2) && in[2]->size()) value = in[2]->v[0];
    }
    const std::string mode = attr_s(n, "mode", "constant");
    const size_t r = x.rank();
    if (pads.size() != 2 * r) throw ShapeError("Pad: pads length must be twice the rank");
    Shape s = x.shape;
    for (size_t i = 0; i < r; ++i) s[i] += pads[i] + pads[r + i];
    Value o(s, x.elem, value);
    const auto ost = detail::strides_of(s), ist = detail::strides_of(x.shape);
    for (int64_t i = 0; i < o.size(); ++i) {
      int64_t rem = i, off = 0;
      bool outside = false;
      for (size_t d = 0; d < r; ++d) {
        int64_t c = rem / ost[d] - pads[d];
        rem %= ost[d];
        const int64_t L = x.shape[d];
        if (c < 0 || c >= L) {
          if (mode == "constant") {
            outside = true;
            break;
          }
          if (mode == "edge") {
            c = std::clamp<int64_t>(c, 0, L - 1);
          } else if (mode == "reflect") {
            if (L == 1) c = 0;
            while (c < 0 || c >= L) c = c < 0 ? -c : 2 * (L - 1) - c;
          } else {
            throw UnsupportedError("Pad: mode '" + mode + "' is not supported");
          }
        }
        off += c * ist[d];
      }
      if (!outside) o.v[i] = x.v[off];
    }
    return o;
  }

  Value reduce(const pb::NodeProto& n, const std::vector<const Value*>& in) const {
    const Value& x = need(in, 0, "data");
    const std::string& op = n.op_type();
    std::vector<int64_t> axes;
    const bool axes_input = op == "ReduceSum" ? opset_ >= 13 : opset_ >= 18;
    if (axes_input) {
      if (has(in, 1)) axes = in[1]->ints();
    } else {
      axes = attr_ints(n, "axes");
    }
    const bool keep = attr_i(n, "keepdims", 1) != 0;
    const auto r = static_cast<int64_t>(x.rank());
    std::vector<bool> red(r, false);
    if (axes.empty()) {
      if (axes_input && attr_i(n, "noop_with_empty_axes", 0)) return x;
      std::fill(red.begin(), red.end(), true);
    }
    for (int64_t a : axes) red[a < 0 ? a + r : a] = true;
    Shape ks;
    for (int64_t i = 0; i < r; ++i) ks.push_back(red[i] ? 1 : x.shape[i]);
    Value o(ks, x.elem);
    const bool mx = op == "ReduceMax", mn = op == "ReduceMin", prod = op == "ReduceProd";
    const double init = mx ? -std::numeric_limits<double>::infinity() : mn ? std::numeric_limits<double>::infinity() : prod ? 1.0 : 0.0;
    std::fill(o.v.begin(), o.v.end(), init);
    std::vector<int64_t> cnt(o.v.size(), 0);
    detail::for_each_bcast(x.shape, {detail::bcast_strides(ks, x.shape)}, [&](int64_t i, const std::vector<int64_t>& off) {
      const double v = x.v[i];
      double& a = o.v[off[0]];
      if (mx) a = std::max(a, v);
      else if (mn) a = std::min(a, v);
      else if (prod) a *= v;
      else if (op == "ReduceSumSquare" || op == "ReduceL2") a += v * v;
      else a += v;
      ++cnt[off[0]];
    });
    for (size_t i = 0; i < o.v.size(); ++i) {
      if (op == "ReduceMean") o.v[i] /= static_cast<double>(std::max<int64_t>(1, cnt[i]));
      if (op == "ReduceL2") o.v[i] = std::sqrt(o.v[i]);
    }
    if (!keep) {
      Shape s;
      for (int64_t i = 0; i < r; ++i)
        if (!red[i]) s.push_back(x.shape[i]);
      o.shape = s;
    }
    return o;
  }

 public:
  // Resolved Resize parameters: output dims and per-axis scale used for coordinate mapping.
  struct ResizePlan {
    Shape out;
    std::vector<double> scale;
    std::string mode, coord, nearest;
  };

  ResizePlan resize_plan(const pb::NodeProto& n, const std::vector<const Value*>& in) const {
    const Value& x = need(in, 0, "X");
    ResizePlan p;
    p.mode = attr_s(n, "mode", "nearest");
    const size_t r = x.rank();
    std::vector<double> scales;
    std::vector<int64_t> sizes;
    if (n.op_type() == "Upsample" || opset_ < 11) {
      if (opset_ < 9 || (n.op_type() == "Upsample" && opset_ < 9)) {
        for (float f : attr_floats(n, "scales")) scales.push_back(f);
      } else {
        for (double d : need(in, 1, "scales").v) scales.push_back(d);
      }
      p.coord = "asymmetric";
      p.nearest = "simple";
    } else {
      p.coord = attr_s(n, "coordinate_transformation_mode", "half_pixel");
      p.nearest = attr_s(n, "nearest_mode", "round_prefer_floor");
      if (has(in, 3) && in[3]->size()) sizes = in[3]->ints();
      else if (has(in, 2) && in[2]->size()) scales = in[2]->v;
      else throw ModelError("Resize: neither scales nor sizes given");
    }
    if (p.mode == "linear" || p.mode == "bilinear") p.mode = "linear";
    if (p.mode == "cubic") throw UnsupportedError("Resize: cubic mode is not supported");
    if (p.coord == "tf_crop_and_resize") throw UnsupportedError("Resize: tf_crop_and_resize is not supported");
    if (!sizes.empty()) {
      if (sizes.size() != r) throw ShapeError("Resize: sizes length differs from rank");
      for (size_t i = 0; i < r; ++i) {
        p.out.push_back(sizes[i]);
        p.scale.push_back(static_cast<double>(sizes[i]) / static_cast<double>(x.shape[i]));
      }
    } else {
      if (scales.size() != r) throw ShapeError("Resize: scales length differs from rank");
      for (size_t i = 0; i < r; ++i) {
        p.out.push_back(static_cast<int64_t>(std::floor(static_cast<double>(x.shape[i]) * static_cast<float>(scales[i]))));
        p.scale.push_back(static_cast<float>(scales[i]));
      }
    }
    return p;
  }

 private:
  Value resize(const pb::NodeProto& n, const std::vector<const Value*>& in) const {
    const Value& x = need(in, 0, "X");
    const ResizePlan p = resize_plan(n, in);
    const size_t r = x.rank();
    Value o(p.out, x.elem);
    // Separable: per axis, the two source indices and weights (nearest: one index).
    std::vector<std::vector<int64_t>> i0(r), i1(r);
    std::vector<std::vector<double>> wt(r);
    for (size_t d = 0; d < r; ++d) {
      const int64_t L = x.shape[d];
      for (int64_t k = 0; k < p.out[d]; ++k) {
        const double c = p.out[d] == L && p.scale[d] == 1.0 ? static_cast<double>(k)
                                                             : detail::resize_coord(p.coord, static_cast<double>(k), p.scale[d], L, static_cast<double>(L) * p.scale[d]);
        if (p.mode == "nearest") {
          const int64_t id = p.out[d] == L && p.scale[d] == 1.0 ? k : detail::nearest_index(p.nearest, c, p.scale[d] < 1.0);
          i0[d].push_back(std::clamp<int64_t>(id, 0, L - 1));
          i1[d].push_back(i0[d].back());
          wt[d].push_back(0.0);
        } else {
          const double cc = std::clamp(c, 0.0, static_cast<double>(L - 1));
          const int64_t a = static_cast<int64_t>(std::floor(cc));
          i0[d].push_back(a);
          i1[d].push_back(std::min(a + 1, L - 1));
          wt[d].push_back(cc - static_cast<double>(a));
        }
      }
    }
    const auto ist = detail::strides_of(x.shape), ost = detail::strides_of(p.out);
    for (int64_t i = 0; i < o.size(); ++i) {
      std::vector<int64_t> idx(r);
      int64_t rem = i;
      for (size_t d = 0; d < r; ++d) {
        idx[d] = rem / ost[d];
        rem %= ost[d];
      }
      // Sum over the 2^r corners (r is small; weights are zero on axes that do not resize).
      double acc = 0;
      const int corners = 1 << r;
      for (int m = 0; m < corners; ++m) {
        double w = 1;
        int64_t off = 0;
        for (size_t d = 0; d < r && w != 0; ++d) {
          const bool hi = (m >> d) & 1;
          const double t = wt[d][idx[d]];
          w *= hi ? t : 1 - t;
          off += (hi ? i1[d][idx[d]] : i0[d][idx[d]]) * ist[d];
        }
        if (w != 0) acc += w * x.v[off];
      }
      o.v[i] = acc;
    }
    return o;
  }
};

// Runs a whole graph. `inputs` maps graph input names to values (initializers are added, and
// an input that is also an initializer takes the user's value when given). Returns every
// tensor computed (all intermediates), which --cmp and the importer both need.
inline std::map<std::string, Value> run_graph(const pb::GraphProto& g, int64_t opset, std::map<std::string, Value> env) {
  for (const auto& t : g.initializer())
    if (!env.count(t.name())) env[t.name()] = decode_tensor(t, "initializer " + t.name());
  Reference ref(opset);
  for (const auto& n : g.node()) {
    std::vector<const Value*> in;
    for (const auto& name : n.input()) {
      if (name.empty()) {
        in.push_back(nullptr);
        continue;
      }
      auto it = env.find(name);
      if (it == env.end()) throw ModelError(error_text(node_label(n), "input '" + name + "' is not produced by any node, input or initializer"));
      in.push_back(&it->second);
    }
    auto out = ref.run(n, in);
    for (int i = 0; i < n.output_size() && i < static_cast<int>(out.size()); ++i)
      if (!n.output(i).empty()) env[n.output(i)] = std::move(out[i]);
  }
  return env;
}

}  // namespace octet::frontends::onnx
