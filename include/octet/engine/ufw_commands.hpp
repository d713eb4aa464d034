// The sub-commands of the `ufw` tool (forward, bench, info, init_weights, test_fp32/test_int8) as plain functions
// over option structs, so tests and other tools can call them without a process. Flag parsing
// stays in tools/ufw/main.cpp. Depends on engine/, ir/ and io/npy.hpp.
#pragma once
#include <cstdio>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "octet/core/error.hpp"
#include "octet/core/flags.hpp"
#include "octet/core/parallel.hpp"
#include "octet/data/lmdb.hpp"
#include "octet/engine/init_weights.hpp"
#include "octet/engine/int8_net.hpp"
#include "octet/engine/net.hpp"
#include "octet/engine/net_bench.hpp"
#include "octet/io/npy.hpp"
#include "octet/ir/umodel.hpp"

namespace octet::engine::ufw_cmd {

struct ModelArgs {
  std::string model;                        // prototxt
  std::string weights;                      // may be empty
  const LayerRegistry* registry = nullptr;  // null: default_registry()
};

// prototxt + weights merged; warns on `warn` when the weights file matches no prototxt layer
// (a mismatched pair, which Caffe would accept silently).
inline ufw::NetParameter load_model(const ModelArgs& m, std::ostream& warn) {
  ir::MergeReport rep;
  ufw::NetParameter net = ir::load_umodel(m.model, m.weights, &rep);
  if (!m.weights.empty() && rep.merged.empty() && !rep.ignored.empty())
    warn << "warning: " << m.weights << ": none of its " << rep.ignored.size() << " weighted layers is in "
         << m.model << "\n";
  return net;
}

inline NetOptions net_options(const ModelArgs& m) {
  NetOptions o;
  o.registry = m.registry;
  o.model_file = m.model;
  o.weights_file = m.weights;
  return o;
}

inline Shape parse_shape(const std::string& text, const std::string& flag) {
  Shape s;
  std::string cur;
  auto flush = [&] {
    if (cur.empty()) throw UsageError("-" + flag + "=" + text + ": empty dimension");
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(cur, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != cur.size() || v <= 0) throw UsageError("-" + flag + "=" + text + ": '" + cur + "' is not a positive integer");
    s.push_back(v);
    cur.clear();
  };
  for (char c : text) {
    if (c == ',' || c == 'x') flush();
    else if (c != ' ') cur += c;
  }
  flush();
  return s;
}

// -shape for bench/info: one shape per input in net-input order, separated by ';'
// ("1,3,224,224" or "2,3,8;2,5"). With a single shape for a multi-input net, the other inputs
// keep their prototxt shapes with the batch (first) dimension taken from it.
inline std::map<std::string, Shape> shape_overrides(const ufw::NetParameter& param, const std::string& text,
                                                    const std::string& command) {
  std::map<std::string, Shape> out;
  if (text.empty()) return out;
  const auto ins = ir::net_inputs(param, ufw::TEST);
  std::vector<Shape> shapes;
  std::string cur;
  for (char c : text + ";") {
    if (c == ';') {
      if (!cur.empty()) shapes.push_back(parse_shape(cur, "shape"));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (ins.empty()) throw UsageError("ufw " + command + ": -shape given but the net has no inputs");
  if (shapes.size() > ins.size())
    throw UsageError("ufw " + command + ": -shape has " + std::to_string(shapes.size()) + " shapes for " +
                     std::to_string(ins.size()) + " net inputs");
  for (size_t i = 0; i < ins.size(); ++i) {
    if (i < shapes.size()) {
      out[ins[i].name] = shapes[i];
    } else if (shapes.size() == 1 && !ins[i].shape.empty()) {
      Shape s = ins[i].shape;
      s[0] = shapes[0][0];
      out[ins[i].name] = s;
    }
  }
  return out;
}

// ---- forward -----------------------------------------------------------------------------
struct ForwardOptions {
  ModelArgs model;
  std::vector<std::string> inputs;  // "path" (net input order) or "name=path"; .npy or .npz
  std::string output;               // .npz
  std::string blobs;                // "" = net outputs, "all", or a comma list of blob names
  int threads = 1;
};

inline int forward(const ForwardOptions& o, std::ostream& out, std::ostream& err) {
  if (o.output.empty()) throw UsageError("ufw forward: -output=<file.npz> is required");
  set_num_threads(o.threads);
  const ufw::NetParameter param = load_model(o.model, err);

  // Read every input first: a bad file fails before any work, and the shapes can drive the
  // net's input shapes (a batch-8 .npy runs the net at batch 8).
  std::vector<std::pair<std::string, Tensor<float>>> given;  // (name or "" for positional, tensor)
  std::vector<std::string> given_src;
  for (const auto& item : o.inputs) {
    std::string name, path = item;
    if (auto eq = item.find('='); eq != std::string::npos) {
      name = item.substr(0, eq);
      path = item.substr(eq + 1);
    }
    if (path.size() > 4 && path.compare(path.size() - 4, 4, ".npz") == 0) {
      for (auto& [k, t] : io::read_npz(path)) {
        given.emplace_back(k, std::move(t));
        given_src.push_back(path + "[" + k + "]");
      }
    } else {
      given.emplace_back(name, io::read_npy(path));
      given_src.push_back(path);
    }
  }
  std::vector<std::string> names;
  {
    // Input names come from the prototxt without building the net (shapes may change).
    const auto ins = ir::net_inputs(param, ufw::TEST);
    for (const auto& in : ins) names.push_back(in.name);
  }
  std::map<std::string, size_t> assign;
  size_t next_positional = 0;
  for (size_t i = 0; i < given.size(); ++i) {
    std::string name = given[i].first;
    if (name.empty()) {
      if (next_positional >= names.size())
        throw UsageError("ufw forward: " + given_src[i] + ": more inputs than the net has (" + std::to_string(names.size()) + ")");
      name = names[next_positional++];
    } else if (std::find(names.begin(), names.end(), name) == names.end()) {
      throw UsageError("ufw forward: " + given_src[i] + ": '" + name + "' is not a net input");
    }
    if (assign.count(name)) throw UsageError("ufw forward: input '" + name + "' given twice");
    assign[name] = i;
  }
  for (const auto& n : names)
    if (!assign.count(n)) throw UsageError("ufw forward: no data for net input '" + n + "'");

  NetOptions no = net_options(o.model);
  const auto declared = ir::net_inputs(param, ufw::TEST);
  for (const auto& in : declared) {
    Tensor<float>& t = given[assign[in.name]].second;
    // A file without the batch axis (CHW for an NCHW input) is accepted as batch 1.
    if (!in.shape.empty() && t.shape() != in.shape && shape_count(t.shape()) == shape_count(in.shape) &&
        t.rank() + 1 == in.shape.size())
      t.reinterpret(in.shape);
    if (t.shape() != in.shape) no.input_shapes[in.name] = t.shape();
  }
  Net net(param, no);
  for (const auto& n : names) net.set_input(n, given[assign[n]].second);
  net.forward();

  std::vector<std::string> keys;
  if (o.blobs.empty()) keys = net.output_names();
  else if (o.blobs == "all") keys = net.blob_names();
  else keys = cli::split_commas(o.blobs);
  std::vector<std::pair<std::string, const Tensor<float>*>> arrays;
  for (const auto& k : keys) arrays.emplace_back(k, &net.blob(k));
  io::write_npz(o.output, arrays);
  out << "wrote " << o.output << ": " << arrays.size() << (arrays.size() == 1 ? " blob" : " blobs");
  if (arrays.size() <= 8) {
    for (size_t i = 0; i < arrays.size(); ++i)
      out << (i ? ", " : " (") << arrays[i].first << " " << shape_str(arrays[i].second->shape());
    out << (arrays.empty() ? "" : ")");
  }
  out << "\n";
  return 0;
}

// ---- bench -------------------------------------------------------------------------------
struct BenchOptions {
  ModelArgs model;
  std::string shape;  // input shapes (see shape_overrides); empty: the prototxt's
  int iters = 50;
  int warmup = 5;
  int threads = 1;
  uint64_t seed = 1;
  bool profile = false;  // also print per-layer times
};

// Builds the net for benchmarking with -shape applied; inputs get seeded random values.
inline Net& prepare_bench_net(std::unique_ptr<Net>& holder, const BenchOptions& o, std::ostream& err) {
  const ufw::NetParameter param = load_model(o.model, err);
  NetOptions no = net_options(o.model);
  no.input_shapes = shape_overrides(param, o.shape, "bench");
  no.fuse = true;  // bench times the net outputs only, so conv+BN+Scale+ReLU run as one layer
  holder = std::make_unique<Net>(param, no);
  fill_random_inputs(*holder, o.seed);
  return *holder;
}

inline int bench(const BenchOptions& o, std::ostream& out, std::ostream& err) {
  if (o.iters < 1) throw UsageError("ufw bench: -iters must be >= 1");
  if (o.threads < 1) throw UsageError("ufw bench: -threads must be >= 1");
  set_num_threads(o.threads);
  std::unique_ptr<Net> holder;
  Net& net = prepare_bench_net(holder, o, err);
  out << bench_forward(net, o.iters, o.warmup).json() << "\n";
  if (o.profile) out << profile_table(profile_forward(net, o.iters, 0));
  return 0;
}

// ---- info --------------------------------------------------------------------------------
struct InfoOptions {
  ModelArgs model;
  std::string shape;  // optional input shapes (see shape_overrides)
};

inline std::string human_count(int64_t n) {
  char buf[64];
  if (n >= 1000000000) std::snprintf(buf, sizeof buf, "%.2fG", static_cast<double>(n) / 1e9);
  else if (n >= 1000000) std::snprintf(buf, sizeof buf, "%.2fM", static_cast<double>(n) / 1e6);
  else if (n >= 1000) std::snprintf(buf, sizeof buf, "%.1fK", static_cast<double>(n) / 1e3);
  else std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(n));
  return buf;
}

// Prints one line per layer "name  type  bottoms -> tops  flops  params", then the totals.
// Without weights the shapes still resolve: weighted layers get random blobs of the right
// shape first (their parameter counts are exact).
inline int info(const InfoOptions& o, std::ostream& out, std::ostream& err) {
  ufw::NetParameter param = load_model(o.model, err);
  NetOptions no = net_options(o.model);
  no.input_shapes = shape_overrides(param, o.shape, "info");
  if (o.model.weights.empty()) param = init_random_weights(param, 1, no);
  Net net(param, no);
  auto blob_list = [](const std::vector<std::string>& names, const std::vector<Shape>& shapes) {
    std::string s;
    for (size_t i = 0; i < names.size(); ++i) s += (i ? ", " : "") + names[i] + shape_str(shapes[i]);
    return s.empty() ? std::string("-") : s;
  };
  out << "net " << (net.name().empty() ? std::string("(unnamed)") : net.name()) << ": " << net.layers().size()
      << " layers, inputs:";
  for (const auto& n : net.input_names()) out << " " << n << shape_str(net.blob_shape(n));
  out << ", outputs:";
  for (const auto& n : net.output_names()) out << " " << n << shape_str(net.blob_shape(n));
  out << "\n";
  for (const auto& l : net.layers()) {
    out << "  " << l.name << "  " << l.type << "  " << blob_list(l.bottoms, l.bottom_shapes) << " -> "
        << blob_list(l.tops, l.top_shapes) << (l.in_place ? " (in place)" : "") << "  flops=" << l.flops
        << "  params=" << l.params << "\n";
  }
  out << "total params: " << net.param_count() << " (" << human_count(net.param_count()) << ")"
      << (o.model.weights.empty() ? ", no weights given" : "") << "\n";
  out << "total flops: " << net.flops() << " (" << human_count(net.flops()) << ")\n";
  return 0;
}

// ---- init_weights ------------------------------------------------------------------------
struct InitOptions {
  std::string model;
  std::string output;  // .fp32umodel
  uint64_t seed = 1;
  const LayerRegistry* registry = nullptr;
};

inline int init_weights(const InitOptions& o, std::ostream& out, std::ostream&) {
  if (o.output.empty()) throw UsageError("ufw init_weights: -output=<file.fp32umodel> is required");
  const ufw::NetParameter param = ir::load_prototxt(o.model);
  NetOptions no;
  no.registry = o.registry;
  no.model_file = o.model;
  const ufw::NetParameter filled = init_random_weights(param, o.seed, no);
  ir::save_weights(filled, o.output);
  int layers = 0;
  for (const auto& l : filled.layer()) layers += l.blobs_size() > 0;
  out << "wrote " << o.output << ": random weights (seed " << o.seed << ") for " << layers << " layers\n";
  return 0;
}

// ---- test_fp32 / test_int8 -----------------------------------------------------------------
// Runs the net on its Data layer and reports top-k accuracy in NNTC's log format
// (nntc-reference.md §5). Accuracy layers (top_k, their tops) define what is measured; a net
// without them is scored on its single output against the Data layer's labels (top-1, top-5).
struct TestOptions {
  ModelArgs model;
  int iterations = 0;  // records to run; 0: every record of the LMDB
  bool int8 = false;
  int threads = 1;
};

struct AccuracySpec {
  std::string layer, top, pred, label;
  int k = 1;
  double sum = 0;
};

// Fraction of the batch whose label is within the k largest scores (ties count against).
inline double topk_accuracy(const FloatTensor& pred, const FloatTensor& label, int k) {
  const int64_t n = label.size();
  if (n <= 0 || pred.size() % n != 0) throw ShapeError("accuracy: " + std::to_string(pred.size()) +
                                                       " scores do not split into " + std::to_string(n) + " samples");
  const int64_t c = pred.size() / n;
  int64_t ok = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* p = pred.data() + i * c;
    const auto y = static_cast<int64_t>(label.data()[i]);
    if (y < 0 || y >= c) continue;
    int64_t above = 0;
    for (int64_t j = 0; j < c; ++j) above += p[j] > p[y];
    ok += above < k;
  }
  return static_cast<double>(ok) / static_cast<double>(n);
}

inline int test(const TestOptions& o, std::ostream& out, std::ostream& err) {
  const std::string cmd = o.int8 ? "test_int8" : "test_fp32";
  if (o.iterations < 0) throw UsageError("ufw " + cmd + ": -iterations must be >= 0");
  set_num_threads(o.threads);
  ufw::NetParameter net = ir::filter_phase(load_model(o.model, err), ufw::TEST);
  // Accuracy layers are evaluated here, not by the runtime.
  std::vector<AccuracySpec> acc;
  ufw::NetParameter run = net;
  run.clear_layer();
  int data_layer = -1;
  for (const auto& l : net.layer()) {
    if (l.type() == "Accuracy") {
      if (l.bottom_size() < 2 || l.top_size() < 1) throw ModelError(o.model.model + ": layer " + l.name() + ": Accuracy needs bottoms (scores, label) and a top");
      acc.push_back({l.name(), l.top(0), l.bottom(0), l.bottom(1), static_cast<int>(l.accuracy_param().top_k()), 0});
      continue;
    }
    if ((l.type() == "Data" || l.type() == "AnnotatedData") && data_layer < 0) data_layer = run.layer_size();
    *run.add_layer() = l;
  }
  if (data_layer < 0) throw ModelError(o.model.model + ": " + cmd + " needs a Data layer (use a *_test_* prototxt)");
  auto* dl = run.mutable_layer(data_layer);
  if (acc.empty()) {
    if (dl->top_size() < 2) {
      std::string label = "label";
      while (std::any_of(run.layer().begin(), run.layer().end(), [&](const auto& l) {
        return std::find(l.top().begin(), l.top().end(), label) != l.top().end();
      }))
        label = "_" + label;
      dl->add_top(label);
      if (dl->top_quant_size() > 0) dl->add_top_quant()->set_dtype(ufw::BlobProto::FP32);
    }
    const auto outs = ir::Graph(run, o.model.model).outputs();
    std::vector<std::string> scores;
    for (const auto& b : outs)
      if (b != dl->top(1)) scores.push_back(b);
    if (scores.size() != 1)
      throw ModelError(o.model.model + ": the net has " + std::to_string(scores.size()) +
                       " outputs; add Accuracy layers to say which one is scored");
    acc.push_back({"Accuracy1", "acc/top-1", scores[0], dl->top(1), 1, 0});
    acc.push_back({"Accuracy5", "acc/top-5", scores[0], dl->top(1), 5, 0});
  }
  const std::string source = dl->data_param().source();
  const size_t records = data::LmdbReader(source).size();
  int n = o.iterations == 0 ? static_cast<int>(records) : o.iterations;
  if (static_cast<size_t>(n) > records) {
    err << "warning: " << source << " has " << records << " records, fewer than -iterations=" << o.iterations
        << "; using " << records << "\n";
    n = static_cast<int>(records);
  }
  std::unique_ptr<Net> fnet;
  std::unique_ptr<Int8Net> qnet;
  if (o.int8) {
    Int8NetOptions io;
    io.registry = o.model.registry;
    io.model_file = o.model.model;
    io.weights_file = o.model.weights;
    qnet = std::make_unique<Int8Net>(run, io);
  } else {
    fnet = std::make_unique<Net>(run, net_options(o.model));
  }
  for (int it = 0; it < n; ++it) {
    if (qnet) qnet->forward();
    else fnet->forward();
    for (auto& a : acc) {
      if (qnet) a.sum += topk_accuracy(qnet->blob_float(a.pred), qnet->blob_float(a.label), a.k);
      else a.sum += topk_accuracy(fnet->blob(a.pred), fnet->blob(a.label), a.k);
    }
  }
  char buf[64];
  for (const auto& a : acc) {
    std::snprintf(buf, sizeof buf, "%.4f", n ? a.sum / n : 0.0);
    out << a.top << " = " << buf << "\n";
  }
  for (const auto& a : acc) {
    std::snprintf(buf, sizeof buf, "%.4f", n ? a.sum / n : 0.0);
    out << "mean score of " << a.layer << "-" << a.top << " is " << buf << "\n";
  }
  out << cmd << ": " << n << " iterations\n";
  return 0;
}

}  // namespace octet::engine::ufw_cmd
