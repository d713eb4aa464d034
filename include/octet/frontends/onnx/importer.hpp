// ONNX -> fp32 umodel (ufw::NetParameter) conversion, the core of on_to_umodel.
//
// The graph is first run once by the reference interpreter at the static input shape given by
// -s: that yields every tensor's shape, and every tensor that does not depend on a net input
// (initializers, Constant, Shape of anything, and whatever is computed only from those) is a
// folded constant. Only the remaining "live" nodes become layers; constants become weights or
// layer parameters (Reshape dims, Slice ranges, Resize sizes...), or a Parameter layer where a
// live layer needs a constant bottom or a graph output is constant.
//
// Layer conventions: Caffe types where Caffe has one (Convolution, Deconvolution, Pooling,
// InnerProduct, BatchNorm + Scale kept separate, Eltwise, Concat, Slice, Reshape, ReLU,
// ReLU6, PReLU, ELU, Sigmoid, TanH, Softmax, LRN, Power, Tile), Octet extension types otherwise
// (BinaryOp, UnaryOp, MatMul, Interp, Pad, Reduce, Gather, Expand, Transpose, HardSigmoid,
// HardSwish, InstanceNorm, DepthToSpace, SpaceToDepth, LogSoftmax, Clip). Graph input and
// output tensor names are kept as blob names; layer names are the ONNX node names.
//
// Depends on core/, frontends/onnx/{model,reference}.hpp and the ufw schema; never on engine/.
#pragma once
#include <cfloat>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "octet/frontends/onnx/model.hpp"
#include "octet/frontends/onnx/reference.hpp"
#include "octet/proto/umodel.pb.h"

namespace octet::frontends::onnx {

struct ImportOptions {
  std::vector<Shape> input_shapes;        // one per net input (-s), in input order
  std::vector<std::string> input_names;   // -i: the graph inputs that are net inputs (default: all non-initializer inputs)
  std::vector<std::string> output_names;  // -o: tensors to output (default: graph outputs)
  std::string net_name;
  std::string source = "<onnx>";          // file name, for messages
};

struct ImportResult {
  ufw::NetParameter net;
  std::vector<std::string> inputs;              // net input blob names (= ONNX names)
  std::vector<std::string> outputs;             // net output blob names (= ONNX names)
  std::map<std::string, std::string> blob_of;   // ONNX tensor -> blob holding the same values
  std::map<std::string, Shape> shapes;          // ONNX tensor -> static shape
  std::set<std::string> constants;              // ONNX tensors folded to constants
  int64_t opset = 0;
};

namespace import_detail {

inline void fill_blob(ufw::BlobProto* b, const std::vector<double>& v, const Shape& shape) {
  auto* s = b->mutable_shape();
  s->clear_dim();
  for (int64_t d : shape) s->add_dim(d);
  b->clear_data();
  b->mutable_data()->Reserve(static_cast<int>(v.size()));
  for (double x : v) b->add_data(static_cast<float>(x));
}

inline const std::set<std::string>& convertible_ops() {
  static const std::set<std::string> ops = {
      "Abs", "Add", "AveragePool", "BatchNormalization", "Cast", "Ceil", "Clip", "Concat", "Conv", "ConvTranspose",
      "DepthToSpace", "Div", "Dropout", "Elu", "Erf", "Exp", "Expand", "Flatten", "Floor", "Gather", "Gemm",
      "GlobalAveragePool", "GlobalMaxPool", "HardSigmoid", "HardSwish", "Identity", "InstanceNormalization", "LRN",
      "LeakyRelu", "Log", "LogSoftmax", "MatMul", "Max", "MaxPool", "Mean", "Min", "Mul", "Neg", "PRelu", "Pad",
      "Pow", "Reciprocal", "ReduceL2", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum",
      "ReduceSumSquare", "Relu", "Reshape", "Resize", "Selu", "Sigmoid", "Slice", "Softmax", "Split", "Sqrt",
      "Squeeze", "Sub", "Sum", "Tanh", "Tile", "Transpose", "Unsqueeze", "Upsample", "SpaceToDepth", "Softplus"};
  return ops;
}

class Converter {
 public:
  Converter(const pb::ModelProto& m, const ImportOptions& o) : m_(m), g_(m.graph()), o_(o), ref_(model_opset(m)) {
    r_.opset = model_opset(m);
  }

  ImportResult run() {
    check_ops_known();
    collect_io();
    dry_run();
    mark_constants();
    select_live();
    check_ops_convertible();
    emit_inputs();
    find_fusions();
    for (int i = 0; i < g_.node_size(); ++i)
      if (live_[i] && !fused_away_.count(i)) convert(i);
    finish_outputs();
    return std::move(r_);
  }

 private:
  const pb::ModelProto& m_;
  const pb::GraphProto& g_;
  const ImportOptions& o_;
  Reference ref_;
  ImportResult r_;
  std::map<std::string, Value> env_;
  std::set<std::string> init_names_;
  std::vector<bool> live_;
  std::set<int> fused_away_;
  std::map<int, int> hardswish_;  // Mul node -> HardSigmoid node fused into it
  std::map<int, int> matmul_bias_;  // MatMul node -> Add node whose constant becomes its bias
  std::set<std::string> layer_names_;
  std::set<std::string> param_layers_;  // constants already materialised as Parameter layers

  std::string where() const { return o_.source; }

  // ---- analysis -------------------------------------------------------------------------------
  void check_ops_known() {
    std::map<std::string, std::vector<std::string>> bad;
    for (const auto& n : g_.node()) {
      const bool std_domain = n.domain().empty() || n.domain() == "ai.onnx";
      if (!std_domain || !Reference::supported_ops().count(n.op_type()))
        bad[(std_domain ? "" : n.domain() + ".") + n.op_type()].push_back(n.name().empty() ? n.output(0) : n.name());
    }
    throw_unsupported(bad);
  }

  void throw_unsupported(const std::map<std::string, std::vector<std::string>>& bad) const {
    if (bad.empty()) return;
    std::string msg = "unsupported ONNX operators: ";
    bool first = true;
    for (const auto& [op, names] : bad) {
      msg += (first ? "" : "; ") + op + " (";
      for (size_t i = 0; i < names.size(); ++i) {
        if (i == 8) {
          msg += ", ... " + std::to_string(names.size() - 8) + " more";
          break;
        }
        msg += (i ? ", " : "") + names[i];
      }
      msg += ")";
      first = false;
    }
    throw UnsupportedError(error_text(where(), msg));
  }

  void collect_io() {
    for (const auto& t : g_.initializer()) init_names_.insert(t.name());
    std::vector<const pb::ValueInfoProto*> graph_inputs;
    for (const auto& i : g_.input())
      if (!init_names_.count(i.name())) graph_inputs.push_back(&i);
    std::vector<const pb::ValueInfoProto*> chosen;
    if (!o_.input_names.empty()) {
      for (const auto& name : o_.input_names) {
        const pb::ValueInfoProto* found = nullptr;
        for (const auto& i : g_.input())
          if (i.name() == name) found = &i;
        if (!found) {
          std::string have;
          for (auto* i : graph_inputs) have += (have.empty() ? "" : ", ") + i->name();
          throw UsageError(error_text(where(), "-i: '" + name + "' is not a graph input (inputs: " + have + ")"));
        }
        chosen.push_back(found);
      }
      for (auto* i : graph_inputs) {
        bool listed = false;
        for (auto* c : chosen) listed |= c == i;
        if (!listed)
          throw UsageError(error_text(where(), "graph input '" + i->name() + "' is not listed in -i and has no value"));
      }
    } else {
      chosen = graph_inputs;
    }
    if (chosen.empty()) {
      // A graph of constants only (e.g. a Constant node test): no net input.
    }
    if (o_.input_shapes.size() != chosen.size())
      throw UsageError(error_text(where(), "-s gives " + std::to_string(o_.input_shapes.size()) + " shape(s) but the model has " +
                                               std::to_string(chosen.size()) + " input(s)" +
                                               (chosen.empty() ? "" : " (first: " + chosen[0]->name() + ")")));
    for (size_t k = 0; k < chosen.size(); ++k) {
      const auto& vi = *chosen[k];
      const Shape& s = o_.input_shapes[k];
      if (!vi.type().has_tensor_type())
        throw UnsupportedError(error_text(where(), "input " + vi.name(), "is not a tensor"));
      const int e = vi.type().tensor_type().elem_type();
      if (e != pb::TensorProto::FLOAT && e != pb::TensorProto::DOUBLE && e != pb::TensorProto::FLOAT16 && e != 0)
        throw UnsupportedError(error_text(where(), "input " + vi.name(), std::string("element type ") + elem_name(e) +
                                                                            " is not supported (float inputs only)"));
      if (vi.type().tensor_type().has_shape()) {
        const auto& dims = vi.type().tensor_type().shape().dim();
        if (dims.size() != static_cast<int>(s.size()))
          throw ShapeError(error_text(where(), "input " + vi.name(), "-s shape " + shape_str(s) + " has rank " +
                                                                        std::to_string(s.size()) + ", model declares rank " +
                                                                        std::to_string(dims.size())));
        for (int d = 0; d < dims.size(); ++d)
          if (dims[d].has_dim_value() && dims[d].dim_value() > 0 && dims[d].dim_value() != s[d])
            throw ShapeError(error_text(where(), "input " + vi.name(), "-s shape " + shape_str(s) + " differs from the model's " +
                                                                          declared(vi) + " at axis " + std::to_string(d)));
      }
      r_.inputs.push_back(vi.name());
      env_[vi.name()] = Value(s, pb::TensorProto::FLOAT, 0.0);
    }
    std::set<std::string> produced(init_names_.begin(), init_names_.end());
    for (const auto& i : g_.input()) produced.insert(i.name());
    for (const auto& n : g_.node()) {
      for (const auto& in : n.input())
        if (!in.empty() && !produced.count(in))
          throw ModelError(error_text(where(), node_label(n), "input '" + in + "' is not produced by any node, graph input or initializer (missing initializer?)"));
      for (const auto& out : n.output()) produced.insert(out);
    }
    if (!o_.output_names.empty()) {
      for (const auto& name : o_.output_names)
        if (!produced.count(name))
          throw UsageError(error_text(where(), "-o: '" + name + "' is not a tensor of the graph"));
      r_.outputs = o_.output_names;
    } else {
      for (const auto& o : g_.output()) r_.outputs.push_back(o.name());
    }
  }

  static std::string declared(const pb::ValueInfoProto& vi) {
    std::string s = "[";
    const auto& dims = vi.type().tensor_type().shape().dim();
    for (int d = 0; d < dims.size(); ++d)
      s += (d ? "," : "") + (dims[d].has_dim_value() ? std::to_string(dims[d].dim_value()) : dims[d].dim_param().empty() ? "?" : dims[d].dim_param());
    return s + "]";
  }

  void dry_run() {
    try {
      env_ = run_graph(g_, r_.opset, env_);
    } catch (const Error& e) {
      const std::string w = e.what();
      throw ModelError(error_text(where(), w + " (with the input shape(s) from -s)"));
    }
    for (const auto& [k, v] : env_) r_.shapes[k] = v.shape;
  }

  void mark_constants() {
    std::set<std::string>& c = r_.constants;
    c.insert(init_names_.begin(), init_names_.end());
    for (const auto& i : r_.inputs) c.erase(i);
    for (const auto& n : g_.node()) {
      bool k = true;
      if (n.op_type() != "Shape" && n.op_type() != "Size")
        for (const auto& in : n.input())
          if (!in.empty() && !c.count(in)) k = false;
      for (const auto& out : n.output()) {
        // An empty tensor has no values to compute: it is as constant as its shape.
        const auto it = env_.find(out);
        if (k || (it != env_.end() && it->second.v.empty())) c.insert(out);
      }
    }
  }

  void select_live() {
    std::set<std::string> need(r_.outputs.begin(), r_.outputs.end());
    live_.assign(g_.node_size(), false);
    for (int i = g_.node_size() - 1; i >= 0; --i) {
      const auto& n = g_.node(i);
      bool used = false;
      for (const auto& out : n.output()) used |= need.count(out) != 0;
      if (!used) continue;
      bool is_const = true;
      for (const auto& out : n.output())
        if (!out.empty()) is_const &= r_.constants.count(out) != 0;
      if (is_const) continue;
      live_[i] = true;
      for (const auto& in : n.input())
        if (!in.empty() && !r_.constants.count(in)) need.insert(in);
    }
  }

  void check_ops_convertible() {
    std::map<std::string, std::vector<std::string>> bad;
    for (int i = 0; i < g_.node_size(); ++i)
      if (live_[i] && !convertible_ops().count(g_.node(i).op_type()))
        bad[g_.node(i).op_type()].push_back(g_.node(i).name().empty() ? g_.node(i).output(0) : g_.node(i).name());
    if (!bad.empty()) {
      std::map<std::string, std::vector<std::string>> b2;
      for (auto& [k, v] : bad) b2[k + " on non-constant data"] = v;
      throw_unsupported(b2);
    }
  }

  // x * HardSigmoid(x, 1/6, 1/2) -> HardSwish, as exporters write it before opset 14.
  void find_fusions() {
    std::map<std::string, int> producer;
    std::map<std::string, int> uses;
    for (int i = 0; i < g_.node_size(); ++i) {
      if (!live_[i]) continue;
      for (const auto& o : g_.node(i).output()) producer[o] = i;
      for (const auto& in : g_.node(i).input()) ++uses[in];
    }
    for (const auto& o : r_.outputs) ++uses[o];
    // MatMul(x, W) + b, as PyTorch exports Linear on 3-D inputs: InnerProduct with bias.
    for (int i = 0; i < g_.node_size(); ++i) {
      const auto& n = g_.node(i);
      if (!live_[i] || n.op_type() != "Add" || n.input_size() != 2) continue;
      for (int side = 0; side < 2; ++side) {
        auto it = producer.find(n.input(side));
        const std::string& c = n.input(1 - side);
        if (it == producer.end() || !is_const(c) || uses[n.input(side)] != 1) continue;
        const auto& mm = g_.node(it->second);
        if (mm.op_type() != "MatMul" || !is_const(mm.input(1)) || shape(mm.input(1)).size() != 2 ||
            shape(mm.input(0)).size() < 2 || is_const(mm.input(0)))
          continue;
        const int64_t N = shape(mm.input(1))[1];
        const Shape& cs = shape(c);
        bool row = shape_count(cs) == N && !cs.empty() && cs.back() == N;
        if (!row || shape(n.output(0)) != shape(mm.output(0))) continue;
        matmul_bias_[it->second] = i;
        fused_away_.insert(i);
        break;
      }
    }
    for (int i = 0; i < g_.node_size(); ++i) {
      const auto& n = g_.node(i);
      if (!live_[i] || n.op_type() != "Mul" || n.input_size() != 2) continue;
      for (int side = 0; side < 2; ++side) {
        auto it = producer.find(n.input(side));
        if (it == producer.end()) continue;
        const auto& h = g_.node(it->second);
        if (h.op_type() != "HardSigmoid" || h.input(0) != n.input(1 - side) || uses[h.output(0)] != 1) continue;
        if (std::abs(attr_f(h, "alpha", 0.2f) - 1.0f / 6) > 1e-5f || std::abs(attr_f(h, "beta", 0.5f) - 0.5f) > 1e-6f) continue;
        hardswish_[i] = it->second;
        fused_away_.insert(it->second);
        break;
      }
    }
  }

  // ---- emission helpers -----------------------------------------------------------------------
  std::string unique_layer_name(const std::string& base) {
    std::string n = base.empty() ? "layer" : base;
    if (layer_names_.insert(n).second) return n;
    for (int k = 1;; ++k)
      if (layer_names_.insert(n + "_" + std::to_string(k)).second) return n + "_" + std::to_string(k);
  }

  ufw::LayerParameter* add(const std::string& type, const std::string& name, const std::vector<std::string>& bottoms,
                           const std::vector<std::string>& tops) {
    auto* l = r_.net.add_layer();
    l->set_name(unique_layer_name(name));
    l->set_type(type);
    for (const auto& b : bottoms) l->add_bottom(b);
    for (const auto& t : tops) l->add_top(t);
    return l;
  }

  void emit_inputs() {
    r_.net.set_name(o_.net_name);
    for (size_t k = 0; k < r_.inputs.size(); ++k) {
      auto* l = add("Input", r_.inputs[k], {}, {r_.inputs[k]});
      auto* s = l->mutable_input_param()->add_shape();
      for (int64_t d : o_.input_shapes[k]) s->add_dim(d);
      r_.blob_of[r_.inputs[k]] = r_.inputs[k];
    }
  }

  const Value& val(const std::string& t) const {
    auto it = env_.find(t);
    if (it == env_.end()) throw ModelError("tensor '" + t + "' has no value");
    return it->second;
  }
  const Shape& shape(const std::string& t) const { return val(t).shape; }
  bool is_const(const std::string& t) const { return r_.constants.count(t) != 0; }

  // Blob of a live tensor, or a Parameter layer holding a constant.
  std::string blob(const std::string& t) {
    if (is_const(t)) {
      const std::string name = t;
      if (!param_layers_.count(name)) {
        auto* l = add("Parameter", name + "_const", {}, {name});
        const Value& v = val(t);
        auto* s = l->mutable_parameter_param()->mutable_shape();
        for (int64_t d : v.shape) s->add_dim(d);
        fill_blob(l->add_blobs(), v.v, v.shape);
        param_layers_.insert(name);
        r_.blob_of[t] = name;
      }
      return name;
    }
    auto it = r_.blob_of.find(t);
    if (it == r_.blob_of.end()) throw ModelError("tensor '" + t + "' was not converted before use");
    return it->second;
  }

  void produce(const std::string& t, const std::string& b) { r_.blob_of[t] = b; }

  static std::string lname(const pb::NodeProto& n) { return n.name().empty() ? n.output(0) : n.name(); }

  // ---- conversion -----------------------------------------------------------------------------
  void convert(int idx) {
    const pb::NodeProto& n = g_.node(idx);
    try {
      convert_node(idx, n);
    } catch (const Error& e) {
      const std::string w = e.what();
      if (w.find(where()) == 0) throw;
      throw UnsupportedError(error_text(where(), node_label(n), w));
    }
  }

  void convert_node(int idx, const pb::NodeProto& n) {
    const std::string& op = n.op_type();
    const std::string name = lname(n);
    const std::string out = n.output(0);
    auto in = [&](int i) -> std::string { return i < n.input_size() ? n.input(i) : std::string(); };
    auto has_in = [&](int i) { return i < n.input_size() && !n.input(i).empty(); };
    auto need_const = [&](int i, const char* what) -> const Value& {
      if (!has_in(i)) throw ModelError(std::string("missing ") + what);
      if (!is_const(in(i))) throw UnsupportedError(std::string(what) + " must be a constant (it depends on a net input)");
      return val(in(i));
    };
    auto simple = [&](const std::string& type) -> ufw::LayerParameter* {
      auto* l = add(type, name, {blob(in(0))}, {out});
      produce(out, out);
      return l;
    };
    if (op == "Identity" || op == "Dropout" ||
        (op == "Cast" && !Value::is_integer_elem(static_cast<int>(attr_i(n, "to", 1))))) {
      produce(out, blob(in(0)));
      return;
    }
    if (op == "Cast") throw UnsupportedError("Cast to an integer type on non-constant data");
    if (op == "Conv") return conv(n, name);
    if (op == "ConvTranspose") return deconv(n, name);
    if (op == "MaxPool" || op == "AveragePool") return pool(n, name);
    if (op == "GlobalAveragePool" || op == "GlobalMaxPool") {
      lift_2d(n, name, [&](const std::string& x, const std::string& y, const std::string& lname2) {
        auto* l = add("Pooling", lname2, {x}, {y});
        auto* p = l->mutable_pooling_param();
        p->set_pool(op == "GlobalMaxPool" ? ufw::PoolingParameter::MAX : ufw::PoolingParameter::AVE);
        p->set_global_pooling(true);
      });
      return;
    }
    if (op == "BatchNormalization") {
      const Value &sc = need_const(1, "scale"), &bi = need_const(2, "B"), &mu = need_const(3, "mean"), &va = need_const(4, "var");
      if (attr_i(n, "training_mode", 0)) throw UnsupportedError("training_mode BatchNormalization");
      const int64_t C = sc.size();
      const std::string mid = out + "_bn";
      auto* bn = add("BatchNorm", name, {blob(in(0))}, {mid});
      bn->mutable_batch_norm_param()->set_use_global_stats(true);
      bn->mutable_batch_norm_param()->set_eps(attr_f(n, "epsilon", 1e-5f));
      fill_blob(bn->add_blobs(), mu.v, {C});
      fill_blob(bn->add_blobs(), va.v, {C});
      fill_blob(bn->add_blobs(), {1.0}, {1});
      auto* s = add("Scale", name + "_scale", {mid}, {out});
      s->mutable_scale_param()->set_axis(1);
      s->mutable_scale_param()->set_bias_term(true);
      fill_blob(s->add_blobs(), sc.v, {C});
      fill_blob(s->add_blobs(), bi.v, {C});
      produce(out, out);
      return;
    }
    if (op == "InstanceNormalization") {
      const Value &sc = need_const(1, "scale"), &bi = need_const(2, "B");
      auto* l = simple("InstanceNorm");
      l->mutable_instance_norm_param()->set_eps(attr_f(n, "epsilon", 1e-5f));
      fill_blob(l->add_blobs(), sc.v, {sc.size()});
      fill_blob(l->add_blobs(), bi.v, {bi.size()});
      return;
    }
    if (op == "LRN") {
      auto* l = simple("LRN");
      auto* p = l->mutable_lrn_param();
      p->set_local_size(static_cast<uint32_t>(attr_i(n, "size", 1)));
      p->set_alpha(attr_f(n, "alpha", 1e-4f));
      p->set_beta(attr_f(n, "beta", 0.75f));
      p->set_k(attr_f(n, "bias", 1.0f));
      return;
    }
    if (op == "Relu") return void(simple("ReLU"));
    if (op == "LeakyRelu") return void(simple("ReLU")->mutable_relu_param()->set_negative_slope(attr_f(n, "alpha", 0.01f)));
    if (op == "PRelu") return prelu(n, name);
    if (op == "Elu") return void(simple("ELU")->mutable_elu_param()->set_alpha(attr_f(n, "alpha", 1.0f)));
    if (op == "Selu") {
      const std::string mid = out + "_elu";
      add("ELU", name, {blob(in(0))}, {mid})->mutable_elu_param()->set_alpha(attr_f(n, "alpha", 1.67326319217681884765625f));
      add("Power", name + "_gamma", {mid}, {out})->mutable_power_param()->set_scale(attr_f(n, "gamma", 1.05070102214813232421875f));
      produce(out, out);
      return;
    }
    if (op == "Sigmoid") return void(simple("Sigmoid"));
    if (op == "Tanh") return void(simple("TanH"));
    if (op == "HardSigmoid") {
      auto* p = simple("HardSigmoid")->mutable_hard_sigmoid_param();
      p->set_alpha(attr_f(n, "alpha", 0.2f));
      p->set_beta(attr_f(n, "beta", 0.5f));
      return;
    }
    if (op == "HardSwish") {
      auto* p = simple("HardSwish")->mutable_hard_sigmoid_param();
      p->set_alpha(1.0f / 6);
      p->set_beta(0.5f);
      return;
    }
    if (op == "Softplus") {
      // log(1 + exp(x)): Exp then Log with shift 1.
      const std::string mid = out + "_exp";
      add("UnaryOp", name + "_exp", {blob(in(0))}, {mid})->mutable_unary_op_param()->set_operation(ufw::UnaryOpParameter::EXP);
      add("Log", name, {mid}, {out})->mutable_log_param()->set_shift(1.0f);
      produce(out, out);
      return;
    }
    if (op == "Softmax" || op == "LogSoftmax") return softmax(n, name);
    if (op == "Clip") return clip(n, name);
    if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Pow") {
      if (op == "Mul" && hardswish_.count(idx)) {
        const auto& h = g_.node(hardswish_[idx]);
        auto* p = add("HardSwish", name, {blob(h.input(0))}, {out})->mutable_hard_sigmoid_param();
        p->set_alpha(1.0f / 6);
        p->set_beta(0.5f);
        produce(out, out);
        return;
      }
      return binary(n, name, op, in(0), in(1), out);
    }
    if (op == "Max" || op == "Min" || op == "Sum" || op == "Mean") return nary(n, name);
    if (op == "Neg" || op == "Reciprocal" || op == "Abs" || op == "Exp" || op == "Sqrt" || op == "Erf" || op == "Log" ||
        op == "Floor" || op == "Ceil") {
      static const std::map<std::string, ufw::UnaryOpParameter::Op> m = {
          {"Neg", ufw::UnaryOpParameter::NEG}, {"Reciprocal", ufw::UnaryOpParameter::RECIPROCAL},
          {"Abs", ufw::UnaryOpParameter::ABS}, {"Exp", ufw::UnaryOpParameter::EXP},
          {"Sqrt", ufw::UnaryOpParameter::SQRT}, {"Erf", ufw::UnaryOpParameter::ERF},
          {"Log", ufw::UnaryOpParameter::LOG}, {"Floor", ufw::UnaryOpParameter::FLOOR},
          {"Ceil", ufw::UnaryOpParameter::CEIL}};
      simple("UnaryOp")->mutable_unary_op_param()->set_operation(m.at(op));
      return;
    }
    if (op == "Concat") {
      std::vector<std::string> bs;
      for (const auto& i : n.input())
        if (!i.empty() && shape_count(shape(i)) > 0) bs.push_back(blob(i));
      if (bs.size() == 1) {
        produce(out, bs[0]);
        return;
      }
      auto* l = add("Concat", name, bs, {out});
      l->mutable_concat_param()->set_axis(canonical_axis(static_cast<int>(attr_i(n, "axis", 0)), shape(out).size()));
      produce(out, out);
      return;
    }
    if (op == "Split") {
      const int axis = canonical_axis(static_cast<int>(attr_i(n, "axis", 0)), shape(in(0)).size());
      std::vector<std::string> tops;
      auto* l = add("Slice", name, {blob(in(0))}, {});
      l->mutable_slice_param()->set_axis(axis);
      int64_t pos = 0;
      for (int k = 0; k < n.output_size(); ++k) {
        const std::string t = n.output(k).empty() ? out + "_split_unused_" + std::to_string(k) : n.output(k);
        l->add_top(t);
        if (k > 0) l->mutable_slice_param()->add_slice_point(static_cast<uint32_t>(pos));
        pos += shape(n.output(k).empty() ? out : n.output(k))[axis];
        if (!n.output(k).empty()) produce(n.output(k), t);
      }
      if (n.output_size() == 1) {  // a one-way split is a copy
        r_.net.mutable_layer()->RemoveLast();
        produce(out, blob(in(0)));
      }
      return;
    }
    if (op == "Slice") return slice(n, name);
    if (op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze") {
      reshape_to(blob(in(0)), shape(out), name, out);
      return;
    }
    if (op == "Transpose") {
      auto perm = attr_ints(n, "perm");
      const size_t r = shape(in(0)).size();
      if (perm.empty())
        for (int64_t i = static_cast<int64_t>(r) - 1; i >= 0; --i) perm.push_back(i);
      bool ident = true;
      for (size_t i = 0; i < perm.size(); ++i) ident &= perm[i] == static_cast<int64_t>(i);
      if (ident) {
        produce(out, blob(in(0)));
        return;
      }
      auto* l = simple("Transpose");
      for (int64_t p : perm) l->mutable_transpose_param()->add_order(static_cast<int>(p < 0 ? p + static_cast<int64_t>(r) : p));
      return;
    }
    if (op == "Gemm") return gemm(n, name);
    if (op == "MatMul") return matmul(n, name);
    if (op == "Resize" || op == "Upsample") return resize(n, name);
    if (op == "Pad") {
      const Shape& xs = shape(in(0));
      std::vector<int64_t> pads;
      double value = 0;
      if (r_.opset < 11) {
        pads = attr_ints(n, "pads");
        value = attr_f(n, "value", 0.0f);
      } else {
        pads = need_const(1, "pads").ints();
        if (has_in(2)) value = need_const(2, "constant_value").v.at(0);
      }
      bool zero = true;
      for (int64_t p : pads) zero &= p == 0;
      if (zero) {
        produce(out, blob(in(0)));
        return;
      }
      if (pads.size() != 2 * xs.size()) throw ShapeError("pads length must be twice the rank");
      auto* l = simple("Pad");
      auto* p = l->mutable_pad_param();
      for (int64_t v : pads) p->add_pads(static_cast<int>(v));
      const std::string mode = attr_s(n, "mode", "constant");
      p->set_mode(mode == "reflect" ? ufw::PadParameter::REFLECT : mode == "edge" ? ufw::PadParameter::EDGE : ufw::PadParameter::CONSTANT);
      p->set_value(static_cast<float>(value));
      return;
    }
    if (op.rfind("Reduce", 0) == 0) return reduce(n, name);
    if (op == "Tile") {
      const auto reps = need_const(1, "repeats").ints();
      std::string cur = blob(in(0));
      Shape cs = shape(in(0));
      std::vector<size_t> axes;
      for (size_t a = 0; a < reps.size(); ++a)
        if (reps[a] != 1) axes.push_back(a);
      if (axes.empty()) {
        produce(out, cur);
        return;
      }
      for (size_t k = 0; k < axes.size(); ++k) {
        const std::string t = k + 1 == axes.size() ? out : out + "_tile" + std::to_string(k);
        auto* l = add("Tile", k == 0 ? name : name + "_" + std::to_string(k), {cur}, {t});
        l->mutable_tile_param()->set_axis(static_cast<int>(axes[k]));
        l->mutable_tile_param()->set_tiles(static_cast<int>(reps[axes[k]]));
        cur = t;
      }
      produce(out, out);
      return;
    }
    if (op == "Expand") {
      if (shape(out) == shape(in(0))) {
        produce(out, blob(in(0)));
        return;
      }
      auto* l = simple("Expand");
      for (int64_t d : shape(out)) l->mutable_expand_param()->mutable_shape()->add_dim(d);
      return;
    }
    if (op == "Gather") {
      const int axis = canonical_axis(static_cast<int>(attr_i(n, "axis", 0)), shape(in(0)).size());
      if (is_const(in(1))) {
        Value idx = val(in(1));
        for (double& v : idx.v)
          if (v < 0) v += static_cast<double>(shape(in(0))[axis]);
        auto* l = simple("Gather");
        l->mutable_gather_param()->set_axis(axis);
        fill_blob(l->add_blobs(), idx.v, idx.shape);
      } else {
        auto* l = add("Gather", name, {blob(in(0)), blob(in(1))}, {out});
        l->mutable_gather_param()->set_axis(axis);
        produce(out, out);
      }
      return;
    }
    if (op == "DepthToSpace" || op == "SpaceToDepth") {
      auto* p = simple(op)->mutable_space_to_depth_param();
      p->set_block_size(static_cast<uint32_t>(attr_i(n, "blocksize", 2)));
      p->set_crd(attr_s(n, "mode", "DCR") == "CRD");
      return;
    }
    throw UnsupportedError("no conversion for " + op);
  }

  void reshape_to(const std::string& b, const Shape& s, const std::string& name, const std::string& out) {
    auto* l = add("Reshape", name, {b}, {out});
    auto* sh = l->mutable_reshape_param()->mutable_shape();
    for (int64_t d : s) sh->add_dim(d);
    produce(out, out);
  }

  // Runs `body(x4, y4, name)` on a 4-D view: 1-D spatial ops (rank 3) are lifted to H = 1.
  template <typename F>
  void lift_2d(const pb::NodeProto& n, const std::string& name, F&& body) {
    const Shape& xs = shape(n.input(0));
    const std::string out = n.output(0);
    if (xs.size() == 4) {
      body(blob(n.input(0)), out, name);
      produce(out, out);
      return;
    }
    if (xs.size() != 3) throw UnsupportedError(std::to_string(xs.size() - 2) + "-D spatial op");
    const std::string x4 = out + "_in4d", y4 = out + "_out4d";
    reshape_to(blob(n.input(0)), {xs[0], xs[1], 1, xs[2]}, name + "_to4d", x4);
    body(x4, y4, name);
    reshape_to(y4, shape(out), name + "_from4d", out);
  }

  static pb::NodeProto lifted(const pb::NodeProto& n, size_t spatial) {
    return spatial == 2 ? n : lift_node_1d(n);
  }

  static Shape lift_shape(const Shape& s) {
    if (s.size() != 3) return s;
    return {s[0], s[1], 1, s[2]};
  }

  void conv(const pb::NodeProto& n0, const std::string& name) {
    if (!is_const(n0.input(1))) throw UnsupportedError("Conv with non-constant weights");
    const pb::NodeProto n = lifted(n0, shape(n0.input(0)).size() - 2);
    Value w = val(n.input(1));
    w.shape = lift_shape(w.shape);
    const Shape xs = lift_shape(shape(n.input(0)));
    auto ks = attr_ints(n, "kernel_shape", {w.shape[2], w.shape[3]});
    const Reference::Geometry gm = Reference::geometry(n, xs, ks, false);
    lift_2d(n0, name, [&](const std::string& x, const std::string& y, const std::string& ln) {
      auto* l = add("Convolution", ln, {x}, {y});
      auto* p = l->mutable_convolution_param();
      p->set_num_output(static_cast<uint32_t>(w.shape[0]));
      p->set_kernel_h(static_cast<uint32_t>(ks[0]));
      p->set_kernel_w(static_cast<uint32_t>(ks[1]));
      p->set_stride_h(static_cast<uint32_t>(gm.stride[0]));
      p->set_stride_w(static_cast<uint32_t>(gm.stride[1]));
      p->set_pad_h(static_cast<uint32_t>(gm.pad_begin[0]));
      p->set_pad_w(static_cast<uint32_t>(gm.pad_begin[1]));
      if (gm.pad_end[0] != gm.pad_begin[0] || gm.pad_end[1] != gm.pad_begin[1]) {
        p->set_pad_h_end(static_cast<uint32_t>(gm.pad_end[0]));
        p->set_pad_w_end(static_cast<uint32_t>(gm.pad_end[1]));
      }
      if (gm.dilation[0] != 1 || gm.dilation[1] != 1) {
        p->add_dilation(static_cast<uint32_t>(gm.dilation[0]));
        p->add_dilation(static_cast<uint32_t>(gm.dilation[1]));
      }
      p->set_group(static_cast<uint32_t>(attr_i(n, "group", 1)));
      fill_blob(l->add_blobs(), w.v, w.shape);
      const bool bias = n.input_size() > 2 && !n.input(2).empty();
      p->set_bias_term(bias);
      if (bias) {
        if (!is_const(n.input(2))) throw UnsupportedError("Conv with non-constant bias");
        fill_blob(l->add_blobs(), val(n.input(2)).v, {w.shape[0]});
      }
    });
  }

  void deconv(const pb::NodeProto& n0, const std::string& name) {
    if (!is_const(n0.input(1))) throw UnsupportedError("ConvTranspose with non-constant weights");
    const pb::NodeProto n = lifted(n0, shape(n0.input(0)).size() - 2);
    Value w = val(n.input(1));
    w.shape = lift_shape(w.shape);
    const Shape xs = lift_shape(shape(n.input(0)));
    const int64_t group = attr_i(n, "group", 1);
    auto ks = attr_ints(n, "kernel_shape", {w.shape[2], w.shape[3]});
    auto st = attr_ints(n, "strides", {1, 1});
    auto dl = attr_ints(n, "dilations", {1, 1});
    std::vector<int64_t> pb_, pe, op, outd;
    Reference::deconv_geometry(n, xs, w.shape, pb_, pe, op, outd);
    for (int i = 0; i < 2; ++i) {
      if (pb_[i] < 0) throw UnsupportedError("ConvTranspose output_shape needing negative begin padding");
      if (pe[i] < 0) {
        op[i] -= pe[i];
        pe[i] = 0;
      }
    }
    lift_2d(n0, name, [&](const std::string& x, const std::string& y, const std::string& ln) {
      auto* l = add("Deconvolution", ln, {x}, {y});
      auto* p = l->mutable_convolution_param();
      p->set_num_output(static_cast<uint32_t>(w.shape[1] * group));
      p->set_kernel_h(static_cast<uint32_t>(ks[0]));
      p->set_kernel_w(static_cast<uint32_t>(ks[1]));
      p->set_stride_h(static_cast<uint32_t>(st[0]));
      p->set_stride_w(static_cast<uint32_t>(st[1]));
      p->set_pad_h(static_cast<uint32_t>(pb_[0]));
      p->set_pad_w(static_cast<uint32_t>(pb_[1]));
      if (pe[0] != pb_[0] || pe[1] != pb_[1]) {
        p->set_pad_h_end(static_cast<uint32_t>(pe[0]));
        p->set_pad_w_end(static_cast<uint32_t>(pe[1]));
      }
      if (op[0] || op[1]) {
        p->set_output_pad_h(static_cast<uint32_t>(op[0]));
        p->set_output_pad_w(static_cast<uint32_t>(op[1]));
      }
      if (dl[0] != 1 || dl[1] != 1) {
        p->add_dilation(static_cast<uint32_t>(dl[0]));
        p->add_dilation(static_cast<uint32_t>(dl[1]));
      }
      p->set_group(static_cast<uint32_t>(group));
      fill_blob(l->add_blobs(), w.v, w.shape);
      const bool bias = n.input_size() > 2 && !n.input(2).empty();
      p->set_bias_term(bias);
      if (bias) {
        if (!is_const(n.input(2))) throw UnsupportedError("ConvTranspose with non-constant bias");
        fill_blob(l->add_blobs(), val(n.input(2)).v, {w.shape[1] * group});
      }
    });
  }

  void pool(const pb::NodeProto& n0, const std::string& name) {
    const pb::NodeProto n = lifted(n0, shape(n0.input(0)).size() - 2);
    const Shape xs = lift_shape(shape(n0.input(0)));
    const bool ceil = attr_i(n, "ceil_mode", 0) != 0;
    const auto ks = attr_ints(n, "kernel_shape");
    const Reference::Geometry gm = Reference::geometry(n, xs, ks, ceil);
    if (gm.dilation[0] != 1 || gm.dilation[1] != 1) {
      if (n.op_type() != "MaxPool" || xs.size() != 4 || shape(n0.input(0)).size() != 4)
        throw UnsupportedError("average pooling with dilations");
      return dilated_max_pool(n, name, xs, ks, gm);
    }
    if (n.output_size() > 1 && !n.output(1).empty()) throw UnsupportedError("MaxPool Indices output");
    lift_2d(n0, name, [&](const std::string& x, const std::string& y, const std::string& ln) {
      auto* l = add("Pooling", ln, {x}, {y});
      auto* p = l->mutable_pooling_param();
      const bool mx = n.op_type() == "MaxPool";
      p->set_pool(mx ? ufw::PoolingParameter::MAX : ufw::PoolingParameter::AVE);
      p->set_kernel_h(static_cast<uint32_t>(ks.at(0)));
      p->set_kernel_w(static_cast<uint32_t>(ks.at(1)));
      p->set_stride_h(static_cast<uint32_t>(gm.stride[0]));
      p->set_stride_w(static_cast<uint32_t>(gm.stride[1]));
      p->set_pad_h(static_cast<uint32_t>(gm.pad_begin[0]));
      p->set_pad_w(static_cast<uint32_t>(gm.pad_begin[1]));
      p->set_pad_h_end(static_cast<uint32_t>(gm.pad_end[0]));
      p->set_pad_w_end(static_cast<uint32_t>(gm.pad_end[1]));
      p->set_round_mode(ceil ? ufw::PoolingParameter::CEIL : ufw::PoolingParameter::FLOOR);
      if (!mx) p->set_count_include_pad(attr_i(n, "count_include_pad", 0) != 0);
    });
  }

  // Pooling has no dilation field: a dilated MaxPool is the elementwise max of its kh*kw
  // taps, each tap a strided gather of the (-FLT_MAX padded) input.
  void dilated_max_pool(const pb::NodeProto& n, const std::string& name, const Shape& xs, const std::vector<int64_t>& ks,
                        const Reference::Geometry& gm) {
    const std::string out = n.output(0);
    std::string x = blob(n.input(0));
    int64_t pad_end[2];
    for (int a = 0; a < 2; ++a)
      pad_end[a] = std::max<int64_t>(gm.pad_end[a], (gm.out[a] - 1) * gm.stride[a] + (ks[a] - 1) * gm.dilation[a] + 1 -
                                                        xs[2 + a] - gm.pad_begin[a]);
    if (gm.pad_begin[0] || gm.pad_begin[1] || pad_end[0] || pad_end[1]) {
      const std::string padded = out + "_padded";
      auto* p = add("Pad", name + "_pad", {x}, {padded})->mutable_pad_param();
      for (int64_t v : {int64_t{0}, int64_t{0}, gm.pad_begin[0], gm.pad_begin[1], int64_t{0}, int64_t{0}, pad_end[0], pad_end[1]})
        p->add_pads(static_cast<int>(v));
      p->set_mode(ufw::PadParameter::CONSTANT);
      p->set_value(-FLT_MAX);
      x = padded;
    }
    std::vector<std::string> taps;
    for (int64_t i = 0; i < ks[0]; ++i) {
      const std::string rows = out + "_r" + std::to_string(i);
      std::vector<double> ri, ci;
      for (int64_t o = 0; o < gm.out[0]; ++o) ri.push_back(static_cast<double>(i * gm.dilation[0] + o * gm.stride[0]));
      auto* lr = add("Gather", name + "_r" + std::to_string(i), {x}, {rows});
      lr->mutable_gather_param()->set_axis(2);
      fill_blob(lr->add_blobs(), ri, {gm.out[0]});
      for (int64_t j = 0; j < ks[1]; ++j) {
        std::vector<double> cj;
        for (int64_t o = 0; o < gm.out[1]; ++o) cj.push_back(static_cast<double>(j * gm.dilation[1] + o * gm.stride[1]));
        const std::string tap = out + "_t" + std::to_string(i) + "_" + std::to_string(j);
        auto* lc = add("Gather", name + "_t" + std::to_string(i) + "_" + std::to_string(j), {rows}, {tap});
        lc->mutable_gather_param()->set_axis(3);
        fill_blob(lc->add_blobs(), cj, {gm.out[1]});
        taps.push_back(tap);
      }
    }
    if (taps.size() == 1) {
      produce(out, taps[0]);
      return;
    }
    add("Eltwise", name, taps, {out})->mutable_eltwise_param()->set_operation(ufw::EltwiseParameter::MAX);
    produce(out, out);
  }

  void prelu(const pb::NodeProto& n, const std::string& name) {
    const std::string out = n.output(0);
    if (!is_const(n.input(1))) {
      binary(n, name, "PRelu", n.input(0), n.input(1), out);
      return;
    }
    const Value& s = val(n.input(1));
    const Shape& xs = shape(n.input(0));
    const int64_t C = xs.size() > 1 ? xs[1] : 1;
    // Per-channel slopes ([C], [C,1,1], [1,C,1,1]) or one shared slope are Caffe PReLU.
    bool per_channel = false;
    if (xs.size() >= 2 && s.size() == C) {
      if (r_.opset < 7) {
        per_channel = true;  // before opset 7 a [C] slope meant channels, not numpy alignment
      } else {
        // numpy alignment: the slope's one non-1 dim must land on axis 1.
        const size_t off = xs.size() - s.rank();
        per_channel = s.rank() <= xs.size();
        for (size_t i = 0; i < s.rank() && per_channel; ++i)
          if (s.shape[i] != 1 && off + i != 1) per_channel = false;
      }
    }
    if (s.size() == 1) {
      auto* l = add("PReLU", name, {blob(n.input(0))}, {out});
      l->mutable_prelu_param()->set_channel_shared(true);
      fill_blob(l->add_blobs(), s.v, {1});
      produce(out, out);
      return;
    }
    if (per_channel) {
      auto* l = add("PReLU", name, {blob(n.input(0))}, {out});
      fill_blob(l->add_blobs(), s.v, {C});
      produce(out, out);
      return;
    }
    // General broadcast slope: relu(x) + slope * min(x, 0).
    const std::string x = blob(n.input(0)), pos = out + "_pos", neg = out + "_neg", sneg = out + "_sneg";
    add("ReLU", name + "_pos", {x}, {pos});
    auto* mn = add("BinaryOp", name + "_neg", {x}, {neg});
    mn->mutable_binary_op_param()->set_operation(ufw::BinaryOpParameter::MIN);
    fill_blob(mn->add_blobs(), {0.0}, {});
    auto* mul = add("BinaryOp", name + "_slope", {neg}, {sneg});
    mul->mutable_binary_op_param()->set_operation(ufw::BinaryOpParameter::MUL);
    fill_blob(mul->add_blobs(), s.v, s.shape);
    auto* sum = add("Eltwise", name, {pos, sneg}, {out});
    sum->mutable_eltwise_param()->set_operation(ufw::EltwiseParameter::SUM);
    produce(out, out);
  }

  void softmax(const pb::NodeProto& n, const std::string& name) {
    const std::string out = n.output(0);
    const Shape& xs = shape(n.input(0));
    const int r = static_cast<int>(xs.size());
    const int axis = canonical_axis(static_cast<int>(attr_i(n, "axis", r_.opset >= 13 ? -1 : 1)), xs.size());
    const std::string type = n.op_type() == "Softmax" ? "Softmax" : "LogSoftmax";
    if (r_.opset >= 13 || axis == r - 1) {
      add(type, name, {blob(n.input(0))}, {out})->mutable_softmax_param()->set_axis(axis);
      produce(out, out);
      return;
    }
    // Before opset 13 the input is coerced to 2-D at `axis`.
    const std::string a = out + "_2d", b = out + "_2d_sm";
    reshape_to(blob(n.input(0)), {shape_count(xs, 0, axis), shape_count(xs, axis)}, name + "_to2d", a);
    add(type, name, {a}, {b})->mutable_softmax_param()->set_axis(1);
    reshape_to(b, xs, name + "_back", out);
  }

  void clip(const pb::NodeProto& n, const std::string& name) {
    const std::string out = n.output(0);
    double lo = -INFINITY, hi = INFINITY;
    if (r_.opset < 11) {
      lo = attr_f(n, "min", -FLT_MAX);
      hi = attr_f(n, "max", FLT_MAX);
    } else {
      if (n.input_size() > 1 && !n.input(1).empty()) {
        if (!is_const(n.input(1))) throw UnsupportedError("Clip with non-constant min");
        lo = val(n.input(1)).v.at(0);
      }
      if (n.input_size() > 2 && !n.input(2).empty()) {
        if (!is_const(n.input(2))) throw UnsupportedError("Clip with non-constant max");
        hi = val(n.input(2)).v.at(0);
      }
    }
    if (lo <= -FLT_MAX) lo = -INFINITY;
    if (hi >= FLT_MAX) hi = INFINITY;
    const std::string x = blob(n.input(0));
    if (std::isinf(lo) && std::isinf(hi)) {
      produce(out, x);
      return;
    }
    if (lo == 0 && hi == 6) add("ReLU6", name, {x}, {out});
    else if (lo == 0 && std::isinf(hi)) add("ReLU", name, {x}, {out});
    else {
      auto* p = add("Clip", name, {x}, {out})->mutable_clip_param();
      p->set_min(std::isinf(lo) ? -FLT_MAX : static_cast<float>(lo));
      p->set_max(std::isinf(hi) ? FLT_MAX : static_cast<float>(hi));
    }
    produce(out, out);
  }

  static ufw::BinaryOpParameter::Op binop(const std::string& op) {
    if (op == "Add" || op == "Sum" || op == "Mean") return ufw::BinaryOpParameter::ADD;
    if (op == "Sub") return ufw::BinaryOpParameter::SUB;
    if (op == "Mul") return ufw::BinaryOpParameter::MUL;
    if (op == "Div") return ufw::BinaryOpParameter::DIV;
    if (op == "Pow") return ufw::BinaryOpParameter::POW;
    if (op == "Max") return ufw::BinaryOpParameter::MAX;
    if (op == "Min") return ufw::BinaryOpParameter::MIN;
    throw UnsupportedError("no binary op for " + op);
  }

  // out = a (op) b with numpy broadcasting; at least one side is live.
  void binary(const pb::NodeProto& n, const std::string& name, const std::string& op, const std::string& a,
              const std::string& b, const std::string& out) {
    (void)n;
    const bool ca = is_const(a), cb = is_const(b);
    const Shape& os = shape(out);
    if (op == "PRelu") {
      // relu(a) + b * min(a, 0), both live.
      const std::string pos = out + "_pos", neg = out + "_neg", sneg = out + "_sneg";
      add("ReLU", name + "_pos", {blob(a)}, {pos});
      auto* mn = add("BinaryOp", name + "_neg", {blob(a)}, {neg});
      mn->mutable_binary_op_param()->set_operation(ufw::BinaryOpParameter::MIN);
      fill_blob(mn->add_blobs(), {0.0}, {});
      add("BinaryOp", name + "_slope", {neg, blob(b)}, {sneg})->mutable_binary_op_param()->set_operation(ufw::BinaryOpParameter::MUL);
      add("Eltwise", name, {pos, sneg}, {out})->mutable_eltwise_param()->set_operation(ufw::EltwiseParameter::SUM);
      produce(out, out);
      return;
    }
    if (!ca && !cb) {
      if (shape(a) == shape(b) && (op == "Add" || op == "Sub" || op == "Mul" || op == "Max")) {
        auto* l = add("Eltwise", name, {blob(a), blob(b)}, {out});
        auto* p = l->mutable_eltwise_param();
        if (op == "Mul") p->set_operation(ufw::EltwiseParameter::PROD);
        else if (op == "Max") p->set_operation(ufw::EltwiseParameter::MAX);
        else p->set_operation(ufw::EltwiseParameter::SUM);
        if (op == "Sub") {
          p->add_coeff(1.0f);
          p->add_coeff(-1.0f);
        }
      } else {
        add("BinaryOp", name, {blob(a), blob(b)}, {out})->mutable_binary_op_param()->set_operation(binop(op));
      }
      produce(out, out);
      return;
    }
    const std::string& live = ca ? b : a;
    const Value& c = val(ca ? a : b);
    // A scalar constant that does not change the live shape is a Power layer.
    if (c.size() == 1 && shape(live) == os) {
      const double k = c.v[0];
      auto power = [&](double power, double scale, double shift) {
        auto* p = add("Power", name, {blob(live)}, {out})->mutable_power_param();
        p->set_power(static_cast<float>(power));
        p->set_scale(static_cast<float>(scale));
        p->set_shift(static_cast<float>(shift));
        produce(out, out);
      };
      if (op == "Add") return power(1, 1, k);
      if (op == "Sub") return ca ? power(1, -1, k) : power(1, 1, -k);
      if (op == "Mul") return power(1, k, 0);
      if (op == "Div" && cb && k != 0) return power(1, 1.0 / k, 0);
      if (op == "Pow" && cb) return power(k, 1, 0);
    }
    auto* l = add("BinaryOp", name, {blob(live)}, {out});
    l->mutable_binary_op_param()->set_operation(binop(op));
    l->mutable_binary_op_param()->set_const_first(ca);
    fill_blob(l->add_blobs(), c.v, c.shape);
    produce(out, out);
  }

  void nary(const pb::NodeProto& n, const std::string& name) {
    const std::string& op = n.op_type();
    const std::string out = n.output(0);
    std::vector<std::string> xs;
    for (const auto& i : n.input())
      if (!i.empty()) xs.push_back(i);
    if (xs.size() == 1) {
      produce(out, blob(xs[0]));
      return;
    }
    bool same = true, any_const = false;
    for (const auto& x : xs) {
      same &= shape(x) == shape(out);
      any_const |= is_const(x);
    }
    if (same && !any_const && op != "Min") {
      std::vector<std::string> bs;
      for (const auto& x : xs) bs.push_back(blob(x));
      auto* p = add("Eltwise", name, bs, {out})->mutable_eltwise_param();
      p->set_operation(op == "Max" ? ufw::EltwiseParameter::MAX : ufw::EltwiseParameter::SUM);
      if (op == "Mean")
        for (size_t k = 0; k < xs.size(); ++k) p->add_coeff(1.0f / static_cast<float>(xs.size()));
      produce(out, out);
      return;
    }
    // Chain of binary ops (then a 1/n scale for Mean), folding constants pairwise.
    const std::string bop = op == "Mean" || op == "Sum" ? "Add" : op;
    std::string acc = xs[0];
    for (size_t k = 1; k < xs.size(); ++k) {
      const bool last = k + 1 == xs.size() && op != "Mean";
      const std::string t = last ? out : out + "_acc" + std::to_string(k);
      // Intermediate tensors get shapes/values registered for the next step.
      std::vector<const Value*> pair{&val(acc), &val(xs[k])};
      pb::NodeProto tmp;
      tmp.set_op_type(bop);
      env_[t] = ref_.run(tmp, pair)[0];
      const bool both_const = is_const(acc) && is_const(xs[k]);
      if (both_const) {
        r_.constants.insert(t);
      } else {
        binary(n, k == 1 ? name : name + "_" + std::to_string(k), bop, acc, xs[k], t);
      }
      acc = t;
    }
    if (op == "Mean") {
      auto* p = add("Power", name + "_mean", {blob(acc)}, {out})->mutable_power_param();
      p->set_scale(1.0f / static_cast<float>(xs.size()));
      produce(out, out);
    }
  }

  void slice(const pb::NodeProto& n, const std::string& name) {
    const std::string out = n.output(0);
    const Shape xs = shape(n.input(0));
    std::vector<int64_t> starts, ends, axes, steps;
    auto cint = [&](int i) {
      if (!is_const(n.input(i))) throw UnsupportedError("Slice with non-constant starts/ends/axes/steps");
      return val(n.input(i)).ints();
    };
    if (r_.opset < 10) {
      starts = attr_ints(n, "starts");
      ends = attr_ints(n, "ends");
      axes = attr_ints(n, "axes");
    } else {
      starts = cint(1);
      ends = cint(2);
      if (n.input_size() > 3 && !n.input(3).empty()) axes = cint(3);
      if (n.input_size() > 4 && !n.input(4).empty()) steps = cint(4);
    }
    if (axes.empty())
      for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
    if (steps.empty()) steps.assign(starts.size(), 1);
    std::string cur = blob(n.input(0));
    Shape cs = xs;
    std::vector<size_t> todo;
    std::vector<int64_t> first(starts.size()), count(starts.size());
    for (size_t i = 0; i < starts.size(); ++i) {
      const int axis = canonical_axis(static_cast<int>(axes[i]), xs.size());
      Reference::slice_range(xs[axis], starts[i], ends[i], steps[i], first[i], count[i]);
      axes[i] = axis;
      if (!(steps[i] == 1 && first[i] == 0 && count[i] == xs[axis])) todo.push_back(i);
    }
    if (todo.empty()) {
      produce(out, cur);
      return;
    }
    for (size_t k = 0; k < todo.size(); ++k) {
      const size_t i = todo[k];
      const int axis = static_cast<int>(axes[i]);
      const std::string t = k + 1 == todo.size() ? out : out + "_s" + std::to_string(k);
      const std::string ln = k == 0 ? name : name + "_" + std::to_string(k);
      if (count[i] <= 0) throw UnsupportedError("Slice producing an empty tensor");
      if (steps[i] == 1) {
        auto* l = add("Slice", ln, {cur}, {});
        l->mutable_slice_param()->set_axis(axis);
        if (first[i] > 0) {
          l->add_top(t + "_head_unused");
          l->mutable_slice_param()->add_slice_point(static_cast<uint32_t>(first[i]));
        }
        l->add_top(t);
        if (first[i] + count[i] < cs[axis]) {
          l->mutable_slice_param()->add_slice_point(static_cast<uint32_t>(first[i] + count[i]));
          l->add_top(t + "_tail_unused");
        }
      } else {
        std::vector<double> idx;
        for (int64_t j = 0; j < count[i]; ++j) idx.push_back(static_cast<double>(first[i] + j * steps[i]));
        auto* l = add("Gather", ln, {cur}, {t});
        l->mutable_gather_param()->set_axis(axis);
        fill_blob(l->add_blobs(), idx, {count[i]});
      }
      cs[axis] = count[i];
      cur = t;
    }
    produce(out, out);
  }

  void gemm(const pb::NodeProto& n, const std::string& name) {
    const std::string out = n.output(0);
    const double alpha = attr_f(n, "alpha", 1.0f), beta = attr_f(n, "beta", 1.0f);
    const bool ta = attr_i(n, "transA", 0) != 0, tb = attr_i(n, "transB", 0) != 0;
    std::string a = blob(n.input(0));
    const Shape as = shape(n.input(0));
    if (is_const(n.input(0))) throw UnsupportedError("Gemm with a constant A");
    if (ta) {
      const std::string t = out + "_At";
      auto* l = add("Transpose", name + "_transA", {a}, {t});
      l->mutable_transpose_param()->add_order(1);
      l->mutable_transpose_param()->add_order(0);
      a = t;
    }
    const Shape& os = shape(out);
    const int64_t N = os[1];
    const bool has_c = n.input_size() > 2 && !n.input(2).empty();
    const bool c_const = has_c && is_const(n.input(2));
    bool c_is_row = false;
    if (c_const) {
      const Shape& cs = shape(n.input(2));
      c_is_row = shape_count(cs) == 1 || (shape_count(cs) == N && cs.back() == N);
    }
    const std::string ip_out = (has_c && !c_is_row) ? out + "_mm" : out;
    if (is_const(n.input(1))) {
      const Value& b = val(n.input(1));
      const int64_t K = ta ? as[0] : as[1];
      // InnerProduct weights are [N, K]: B itself when transB, else B transposed.
      std::vector<double> w(static_cast<size_t>(N * K));
      for (int64_t i = 0; i < N; ++i)
        for (int64_t k = 0; k < K; ++k) w[i * K + k] = alpha * (tb ? b.v[i * K + k] : b.v[k * N + i]);
      auto* l = add("InnerProduct", name, {a}, {ip_out});
      auto* p = l->mutable_inner_product_param();
      p->set_num_output(static_cast<uint32_t>(N));
      p->set_axis(1);
      fill_blob(l->add_blobs(), w, {N, K});
      p->set_bias_term(c_is_row);
      if (c_is_row) {
        const Value& c = val(n.input(2));
        std::vector<double> bias(static_cast<size_t>(N));
        for (int64_t i = 0; i < N; ++i) bias[i] = beta * c.v[c.size() == 1 ? 0 : i];
        fill_blob(l->add_blobs(), bias, {N});
      }
    } else {
      const std::string mm = alpha == 1.0 ? ip_out : out + "_mm_raw";
      auto* l = add("MatMul", name, {a, blob(n.input(1))}, {mm});
      l->mutable_matmul_param()->set_transpose_b(tb);
      if (alpha != 1.0) add("Power", name + "_alpha", {mm}, {ip_out})->mutable_power_param()->set_scale(static_cast<float>(alpha));
    }
    produce(ip_out, ip_out);
    env_[ip_out] = Value(os, pb::TensorProto::FLOAT);
    if (has_c && !c_is_row) {
      if (c_const) {
        auto* l = add("BinaryOp", name + "_bias", {ip_out}, {out});
        l->mutable_binary_op_param()->set_operation(ufw::BinaryOpParameter::ADD);
        const Value& c = val(n.input(2));
        std::vector<double> cv = c.v;
        for (double& v : cv) v *= beta;
        fill_blob(l->add_blobs(), cv, c.shape);
      } else {
        std::string c = blob(n.input(2));
        if (beta != 1.0) {
          const std::string cs = out + "_c_scaled";
          add("Power", name + "_beta", {c}, {cs})->mutable_power_param()->set_scale(static_cast<float>(beta));
          c = cs;
        }
        auto* l = add("BinaryOp", name + "_bias", {ip_out, c}, {out});
        l->mutable_binary_op_param()->set_operation(ufw::BinaryOpParameter::ADD);
      }
      produce(out, out);
    }
  }

  void matmul(const pb::NodeProto& n, const std::string& name) {
    const Shape as = shape(n.input(0)), bs = shape(n.input(1));
    const pb::NodeProto* bias_add = nullptr;
    for (int i = 0; i < g_.node_size(); ++i)
      if (&g_.node(i) == &n && matmul_bias_.count(i)) bias_add = &g_.node(matmul_bias_.at(i));
    const std::string out = bias_add ? bias_add->output(0) : n.output(0);
    if (is_const(n.input(1)) && bs.size() == 2 && as.size() >= 2) {
      const Value& b = val(n.input(1));
      const int64_t K = bs[0], N = bs[1];
      std::vector<double> w(static_cast<size_t>(N * K));
      for (int64_t i = 0; i < N; ++i)
        for (int64_t k = 0; k < K; ++k) w[i * K + k] = b.v[k * N + i];
      auto* l = add("InnerProduct", name, {blob(n.input(0))}, {out});
      auto* p = l->mutable_inner_product_param();
      p->set_num_output(static_cast<uint32_t>(N));
      p->set_axis(static_cast<int>(as.size()) - 1);
      p->set_bias_term(bias_add != nullptr);
      fill_blob(l->add_blobs(), w, {N, K});
      if (bias_add) {
        const std::string& c = bias_add->input(0) == n.output(0) ? bias_add->input(1) : bias_add->input(0);
        fill_blob(l->add_blobs(), val(c).v, {N});
      }
      produce(out, out);
      return;
    }
    if (is_const(n.input(1))) {
      auto* l = add("MatMul", name, {blob(n.input(0))}, {out});
      l->mutable_matmul_param();
      fill_blob(l->add_blobs(), val(n.input(1)).v, bs);
    } else {
      add("MatMul", name, {blob(n.input(0)), blob(n.input(1))}, {out})->mutable_matmul_param();
    }
    produce(out, out);
  }

  void resize(const pb::NodeProto& n, const std::string& name) {
    std::vector<const Value*> ins;
    for (int i = 0; i < n.input_size(); ++i) {
      if (n.input(i).empty()) {
        ins.push_back(nullptr);
        continue;
      }
      if (i > 0 && !is_const(n.input(i))) throw UnsupportedError(n.op_type() + " with non-constant scales/sizes");
      ins.push_back(&val(n.input(i)));
    }
    const Reference::ResizePlan p = ref_.resize_plan(n, ins);
    const Shape& xs = shape(n.input(0));
    const std::string out = n.output(0);
    if (xs.size() != 4) throw UnsupportedError("Resize of a " + std::to_string(xs.size()) + "-D tensor (4-D only)");
    if (p.out[0] != xs[0] || p.out[1] != xs[1]) throw UnsupportedError("Resize of the batch or channel axis");
    if (p.out == xs && p.scale[2] == 1.0 && p.scale[3] == 1.0) {
      produce(out, blob(n.input(0)));
      return;
    }
    auto* l = add("Interp", name, {blob(n.input(0))}, {out});
    auto* ip = l->mutable_interp_param();
    ip->set_mode(p.mode == "nearest" ? ufw::InterpParameter::NEAREST : ufw::InterpParameter::BILINEAR);
    static const std::map<std::string, ufw::InterpParameter::CoordinateTransform> ct = {
        {"half_pixel", ufw::InterpParameter::HALF_PIXEL},
        {"align_corners", ufw::InterpParameter::ALIGN_CORNERS},
        {"asymmetric", ufw::InterpParameter::ASYMMETRIC},
        {"pytorch_half_pixel", ufw::InterpParameter::PYTORCH_HALF_PIXEL}};
    std::string coord = p.coord, nearest = p.nearest;
    if (coord == "tf_half_pixel_for_nn" && p.mode == "nearest") {
      // tf_half_pixel_for_nn maps to half_pixel + 0.5: round_prefer_floor(c + 0.5) == ceil(c)
      // and floor(c + 0.5) == round_prefer_ceil(c).
      coord = "half_pixel";
      if (nearest == "round_prefer_floor") nearest = "ceil";
      else if (nearest == "floor") nearest = "round_prefer_ceil";
      else throw UnsupportedError("tf_half_pixel_for_nn with nearest_mode " + nearest);
    }
    if (!ct.count(coord)) throw UnsupportedError("coordinate_transformation_mode " + coord);
    ip->set_coordinate_transform(ct.at(coord));
    static const std::map<std::string, ufw::InterpParameter::NearestMode> nm = {
        {"round_prefer_floor", ufw::InterpParameter::ROUND_PREFER_FLOOR},
        {"round_prefer_ceil", ufw::InterpParameter::ROUND_PREFER_CEIL},
        {"floor", ufw::InterpParameter::FLOOR},
        {"ceil", ufw::InterpParameter::CEIL},
        {"simple", ufw::InterpParameter::FLOOR}};
    if (p.mode == "nearest") {
      if (!nm.count(nearest)) throw UnsupportedError("nearest_mode " + nearest);
      if (nearest == "simple" && (p.scale[2] < 1 || p.scale[3] < 1)) throw UnsupportedError("opset-10 nearest downsampling");
      ip->set_nearest_mode(nm.at(nearest));
    }
    // Sizes given: the layer derives scale = out/in. Scales given: keep the exact factor, which
    // the coordinate mapping uses even when out/in differs (floor of in*scale).
    const bool by_scale = std::abs(p.scale[2] * static_cast<double>(xs[2]) - static_cast<double>(p.out[2])) > 1e-9 ||
                          std::abs(p.scale[3] * static_cast<double>(xs[3]) - static_cast<double>(p.out[3])) > 1e-9;
    if (by_scale) {
      ip->set_scale_h(static_cast<float>(p.scale[2]));
      ip->set_scale_w(static_cast<float>(p.scale[3]));
    } else {
      ip->set_height(static_cast<int>(p.out[2]));
      ip->set_width(static_cast<int>(p.out[3]));
    }
    produce(out, out);
  }

  void reduce(const pb::NodeProto& n, const std::string& name) {
    const std::string& op = n.op_type();
    const std::string out = n.output(0);
    const Shape& xs = shape(n.input(0));
    std::vector<int64_t> axes;
    const bool axes_input = op == "ReduceSum" ? r_.opset >= 13 : r_.opset >= 18;
    if (axes_input) {
      if (n.input_size() > 1 && !n.input(1).empty()) {
        if (!is_const(n.input(1))) throw UnsupportedError("non-constant axes");
        axes = val(n.input(1)).ints();
      }
      if (axes.empty() && attr_i(n, "noop_with_empty_axes", 0)) {
        produce(out, blob(n.input(0)));
        return;
      }
    } else {
      axes = attr_ints(n, "axes");
    }
    if (axes.empty())
      for (size_t i = 0; i < xs.size(); ++i) axes.push_back(static_cast<int64_t>(i));
    static const std::map<std::string, ufw::ReduceParameter::Op> m = {
        {"ReduceMean", ufw::ReduceParameter::MEAN}, {"ReduceSum", ufw::ReduceParameter::SUM},
        {"ReduceMax", ufw::ReduceParameter::MAX},   {"ReduceMin", ufw::ReduceParameter::MIN},
        {"ReduceProd", ufw::ReduceParameter::PROD}, {"ReduceL2", ufw::ReduceParameter::L2},
        {"ReduceSumSquare", ufw::ReduceParameter::SUMSQ}};
    auto* l = add("Reduce", name, {blob(n.input(0))}, {out});
    auto* p = l->mutable_reduce_param();
    p->set_operation(m.at(op));
    std::set<int> sorted;
    for (int64_t a : axes) sorted.insert(canonical_axis(static_cast<int>(a), xs.size()));
    for (int a : sorted) p->add_axes(a);
    p->set_keepdims(attr_i(n, "keepdims", 1) != 0);
    produce(out, out);
  }

  // ---- outputs ----------------------------------------------------------------------------------
  void finish_outputs() {
    std::set<std::string> inputs(r_.inputs.begin(), r_.inputs.end());
    std::set<std::string> taken;  // blobs already claimed by an output name
    for (const auto& o : r_.outputs) {
      if (is_const(o) && !r_.blob_of.count(o)) {
        blob(o);  // a Parameter layer whose top is the output name
        taken.insert(o);
        continue;
      }
      auto it = r_.blob_of.find(o);
      if (it == r_.blob_of.end()) throw ModelError("output '" + o + "' was not converted");
      const std::string b = it->second;
      if (b == o) {
        taken.insert(o);
        continue;
      }
      const bool outputs_own = std::find(r_.outputs.begin(), r_.outputs.end(), b) != r_.outputs.end();
      if (inputs.count(b) || taken.count(b) || outputs_own || param_layers_.count(b)) {
        reshape_to(b, shape(o), o + "_copy", o);  // a named copy keeps both blobs
      } else {
        for (auto& l : *r_.net.mutable_layer()) {
          for (auto& t : *l.mutable_top())
            if (t == b) t = o;
          for (auto& t : *l.mutable_bottom())
            if (t == b) t = o;
        }
        for (auto& [k, v] : r_.blob_of)
          if (v == b) v = o;
      }
      r_.blob_of[o] = o;
      taken.insert(o);
    }
    // Every live tensor maps to a blob; record folded constants' shapes too.
    for (const auto& [k, v] : env_) r_.shapes[k] = v.shape;
  }
};

}  // namespace import_detail

// Converts `model` for the static input shapes in `opt`. Throws UnsupportedError listing every
// unsupported operator (with node names) before anything else happens.
inline ImportResult import_onnx(const pb::ModelProto& model, const ImportOptions& opt) {
  import_detail::Converter c(model, opt);
  return c.run();
}

}  // namespace octet::frontends::onnx
