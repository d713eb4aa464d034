// The scored ONNX backend-test set (issue 3, item 4) and how to feed one case: which cases
// count, which graph inputs are weights in disguise (node tests pass Conv's W, Pad's pads,
// Slice's starts... as inputs; a deployed model has them as initializers), and reading the
// stored inputs/outputs. Shared by the reference-interpreter test and the conformance suite.
#pragma once
#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "octet/frontends/onnx/model.hpp"

namespace octet::testing_onnx {

namespace fs = std::filesystem;
namespace ox = octet::frontends::onnx;

inline const char* kDataRoot = "/usr/include/onnx/backend/test/data";

struct Case {
  std::string dir;   // node, pytorch-converted, ...
  std::string name;  // test_xxx
  fs::path path;
};

inline bool has_token(const std::string& name, const std::string& tok) {
  // "1d" / "3d" as its own underscore-separated word or at a word end (AvgPool1d, Conv3d).
  for (size_t p = name.find(tok); p != std::string::npos; p = name.find(tok, p + 1)) {
    const size_t e = p + tok.size();
    const bool end_ok = e == name.size() || name[e] == '_';
    if (end_ok) return true;
  }
  return false;
}

inline const std::set<std::string>& scored_ops() {
  static const std::set<std::string> ops = {
      "Conv", "ConvTranspose", "AveragePool", "MaxPool", "GlobalAveragePool", "GlobalMaxPool", "BatchNormalization",
      "InstanceNormalization", "LRN", "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Sigmoid", "Tanh", "HardSigmoid",
      "HardSwish", "Softmax", "LogSoftmax", "Clip", "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Mean", "Sum",
      "Neg", "Reciprocal", "Abs", "Exp", "Sqrt", "Erf", "Concat", "Split", "Slice", "Reshape", "Flatten",
      "Transpose", "Squeeze", "Unsqueeze", "Gemm", "MatMul", "Resize", "Upsample", "Pad", "ReduceMean", "ReduceSum",
      "Tile", "Expand", "Shape", "Gather", "Constant", "Identity", "DepthToSpace", "SpaceToDepth"};
  return ops;
}

inline std::set<std::string> initializer_names(const ox::pb::GraphProto& g) {
  std::set<std::string> s;
  for (const auto& t : g.initializer()) s.insert(t.name());
  return s;
}

// Inputs the test data feeds (graph inputs that are not initializers), in order.
inline std::vector<const ox::pb::ValueInfoProto*> fed_inputs(const ox::pb::GraphProto& g) {
  const auto init = initializer_names(g);
  std::vector<const ox::pb::ValueInfoProto*> out;
  for (const auto& i : g.input())
    if (!init.count(i.name())) out.push_back(&i);
  return out;
}

// Whether the case belongs to the scored set; `why` says why not.
inline bool is_scored(const Case& c, std::string* why = nullptr) {
  auto no = [&](const std::string& w) {
    if (why) *why = w;
    return false;
  };
  const std::string& n = c.name;
  if (c.dir == "simple") {
    if (n.rfind("test_expand_shape_model", 0) == 0 || n == "test_single_relu_model") return true;
    return no("not a scored simple/ model");
  }
  if (has_token(n, "1d") || has_token(n, "3d") || n.find("1d_") != std::string::npos ||
      n.find("3d_") != std::string::npos)
    return no("1-D/3-D variant");
  if (c.dir == "pytorch-converted" || c.dir == "pytorch-operator") {
    for (const char* bad : {"Embedding", "RNN", "LSTM", "GRU", "rnn", "lstm", "gru"})
      if (n.find(bad) != std::string::npos) return no("RNN/Embedding");
    return true;
  }
  if (c.dir != "node") return no("directory not scored");
  for (const char* bad : {"_expanded", "training", "cubic", "crop_and_resize", "argmax"})
    if (n.find(bad) != std::string::npos) return no(std::string("excluded variant (") + bad + ")");
  ox::pb::ModelProto m;
  try {
    m = ox::load_model((c.path / "model.onnx").string());
  } catch (const std::exception& e) {
    return no(e.what());
  }
  std::string op;
  for (const auto& node : m.graph().node())
    if (node.op_type() != "Constant") {
      op = node.op_type();
      break;
    }
  if (op.empty() && m.graph().node_size()) op = "Constant";
  if (!scored_ops().count(op)) return no("operator " + op + " not in the scored list");
  for (const auto* in : fed_inputs(m.graph())) {
    if (!in->type().has_tensor_type()) return no("optional/sequence typed");
    const int e = in->type().tensor_type().elem_type();
    if (e != ox::pb::TensorProto::FLOAT && e != ox::pb::TensorProto::INT64 && e != ox::pb::TensorProto::DOUBLE)
      return no("integer/bool/float16 typed");
  }
  const auto fed = fed_inputs(m.graph());
  if (!fed.empty() && fed[0]->type().tensor_type().elem_type() == ox::pb::TensorProto::INT64)
    return no("integer typed");
  return true;
}

inline std::vector<Case> all_cases() {
  std::vector<Case> out;
  for (const char* d : {"node", "pytorch-converted", "pytorch-operator", "simple"}) {
    const fs::path root = fs::path(kDataRoot) / d;
    if (!fs::exists(root)) continue;
    for (const auto& e : fs::directory_iterator(root))
      if (e.is_directory() && fs::exists(e.path() / "model.onnx"))
        out.push_back({d, e.path().filename().string(), e.path()});
  }
  std::sort(out.begin(), out.end(), [](const Case& a, const Case& b) { return a.dir + a.name < b.dir + b.name; });
  return out;
}

// Input slots that carry weights or shape parameters; bound to initializers for import.
inline bool is_param_slot(const std::string& op, int slot) {
  if (slot == 0) return op == "ConstantOfShape";
  static const std::set<std::string> any_slot = {"Conv", "ConvTranspose", "BatchNormalization", "InstanceNormalization",
                                                 "PRelu", "Clip", "Gemm", "Pad", "Resize", "Upsample", "Slice",
                                                 "Reshape", "Expand", "Tile", "Gather", "Split", "Squeeze",
                                                 "Unsqueeze", "ReduceSum", "ReduceMean"};
  return any_slot.count(op) != 0;
}

struct Loaded {
  ox::pb::ModelProto model;                 // with parameter inputs turned into initializers
  std::vector<std::string> input_names;     // remaining runtime inputs
  std::vector<ox::Value> inputs;            // their values
  std::vector<std::string> output_names;
  std::vector<ox::Value> outputs;           // expected
  std::map<std::string, ox::Value> all_fed; // every fed input, for the reference interpreter
};

inline Loaded load_case(const Case& c) {
  Loaded L;
  L.model = ox::load_model((c.path / "model.onnx").string());
  const fs::path ds = c.path / "test_data_set_0";
  auto* g = L.model.mutable_graph();
  const auto fed = fed_inputs(*g);
  std::set<std::string> bind;
  std::vector<std::pair<std::string, ox::Value>> vals;
  for (size_t i = 0; i < fed.size(); ++i) {
    const auto t = ox::load_tensor_pb((ds / ("input_" + std::to_string(i) + ".pb")).string());
    ox::Value v = ox::decode_tensor(t, "input_" + std::to_string(i));
    const std::string& name = fed[i]->name();
    L.all_fed[name] = v;
    // Integer tensors are shape parameters, and -s cannot spell a 0-D input.
    bool param = v.is_int() || v.rank() == 0;
    for (const auto& node : g->node())
      for (int k = 0; k < node.input_size(); ++k)
        if (node.input(k) == name && is_param_slot(node.op_type(), k)) param = true;
    if (param) {
      bind.insert(name);
      auto* init = g->add_initializer();
      *init = t;
      init->set_name(name);
    } else {
      L.input_names.push_back(name);
      L.inputs.push_back(v);
    }
  }
  // Drop bound inputs from the graph's input list, as an exporter would for weights.
  auto* inputs = g->mutable_input();
  for (int i = inputs->size() - 1; i >= 0; --i)
    if (bind.count(inputs->Get(i).name())) inputs->DeleteSubrange(i, 1);
  for (int i = 0; i < g->output_size(); ++i) {
    L.output_names.push_back(g->output(i).name());
    const auto t = ox::load_tensor_pb((ds / ("output_" + std::to_string(i) + ".pb")).string());
    L.outputs.push_back(ox::decode_tensor(t, "output_" + std::to_string(i)));
  }
  return L;
}

// rtol 1e-3, atol 1e-4, NaN equals NaN, shapes must match (element counts for scalars).
inline bool close(const ox::Value& want, const std::vector<double>& got, const Shape& got_shape, std::string* why) {
  if (shape_count(want.shape) != shape_count(got_shape) || (want.shape != got_shape && !want.shape.empty() && !got_shape.empty())) {
    if (why) *why = "shape " + shape_str(got_shape) + " != expected " + shape_str(want.shape);
    return false;
  }
  double worst = 0;
  int64_t bad = -1;
  for (size_t i = 0; i < want.v.size(); ++i) {
    const double a = want.v[i], b = got[i];
    if (std::isnan(a) && std::isnan(b)) continue;
    if (std::isinf(a) && a == b) continue;
    const double err = std::abs(a - b), tol = 1e-4 + 1e-3 * std::abs(a);
    if (!(err <= tol)) {
      if (bad < 0 || err > worst) {
        worst = err;
        bad = static_cast<int64_t>(i);
      }
    }
  }
  if (bad >= 0) {
    if (why)
      *why = "mismatch at " + std::to_string(bad) + ": got " + std::to_string(got[bad]) + " want " +
             std::to_string(want.v[bad]);
    return false;
  }
  return true;
}

}  // namespace octet::testing_onnx
