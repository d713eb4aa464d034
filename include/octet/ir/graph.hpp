// Graph queries over a NetParameter: phase filtering by include/exclude NetStateRules (as
// Caffe's Net::FilterNet), net inputs (`input:` + input_shape/input_dim, or Input layers), and
// a validated dependency graph: producers and consumers of each blob, a topological order and
// the net outputs. Caffe's in-place convention (a top named like one of the layer's bottoms)
// makes a blob name a chain of versions; the graph orders every reader of a version before the
// next in-place writer, so a runtime that shares one buffer per name computes the right values.
// Depends on core/ and the generated proto only; never on engine/.
#pragma once
#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <vector>

#include "octet/core/error.hpp"
#include "octet/core/tensor.hpp"
#include "octet/proto/umodel.pb.h"

namespace octet::ir {

// Caffe's StateMeetsRule.
inline bool state_meets_rule(const ufw::NetState& state, const ufw::NetStateRule& rule) {
  if (rule.has_phase() && rule.phase() != state.phase()) return false;
  if (rule.has_min_level() && state.level() < rule.min_level()) return false;
  if (rule.has_max_level() && state.level() > rule.max_level()) return false;
  auto has_stage = [&](const std::string& s) {
    return std::find(state.stage().begin(), state.stage().end(), s) != state.stage().end();
  };
  for (const auto& s : rule.stage())
    if (!has_stage(s)) return false;
  for (const auto& s : rule.not_stage())
    if (has_stage(s)) return false;
  return true;
}

// A layer with include rules runs when any of them holds; otherwise it runs unless an
// exclude rule holds. Both kinds on one layer is an error, as in Caffe.
inline bool layer_included(const ufw::LayerParameter& layer, const ufw::NetState& state) {
  if (layer.include_size() > 0 && layer.exclude_size() > 0)
    throw ModelError(error_text("layer " + layer.name(), "has both include and exclude rules"));
  if (layer.include_size() > 0) {
    for (const auto& r : layer.include())
      if (state_meets_rule(state, r)) return true;
    return false;
  }
  for (const auto& r : layer.exclude())
    if (state_meets_rule(state, r)) return false;
  return true;
}

// The layers of `net` that run in `state`; everything else (inputs, name) is kept. Takes the
// net by value and drops layers in place, so weights are copied at most once.
inline ufw::NetParameter filter_net(ufw::NetParameter net, const ufw::NetState& state) {
  auto* layers = net.mutable_layer();
  int keep = 0;
  for (int i = 0; i < layers->size(); ++i) {
    if (!layer_included(layers->Get(i), state)) continue;
    if (keep != i) layers->SwapElements(keep, i);
    ++keep;
  }
  layers->DeleteSubrange(keep, layers->size() - keep);
  *net.mutable_state() = state;
  return net;
}

// Filters for `phase` keeping the net's own level and stages (Net(proto, phase) in Caffe).
inline ufw::NetState phase_state(const ufw::NetParameter& net, ufw::Phase phase) {
  ufw::NetState state = net.state();
  state.set_phase(phase);
  return state;
}
inline ufw::NetParameter filter_phase(ufw::NetParameter net, ufw::Phase phase = ufw::TEST) {
  const ufw::NetState state = phase_state(net, phase);
  return filter_net(std::move(net), state);
}

struct NetInput {
  std::string name;
  Shape shape;     // empty when the prototxt gives none
  int layer = -1;  // index of the Input layer declaring it; -1 for `input:` fields
};

// Net inputs in declaration order: `input:` fields first (shapes from input_shape, or
// input_dim in groups of 4), then the tops of Input layers (input_param.shape: one per top,
// or one shared by all tops). With `phase`, Input layers excluded from it are skipped (no
// need to filter, i.e. copy, the whole net first).
inline std::vector<NetInput> net_inputs(const ufw::NetParameter& net, std::optional<ufw::Phase> phase = std::nullopt) {
  std::vector<NetInput> out;
  const int n = net.input_size();
  if (net.input_shape_size() > 0 && net.input_dim_size() > 0)
    throw ModelError("net " + net.name() + ": both input_shape and input_dim are given");
  if (net.input_shape_size() > 0 && net.input_shape_size() != n)
    throw ModelError("net " + net.name() + ": " + std::to_string(n) + " inputs but " +
                     std::to_string(net.input_shape_size()) + " input_shape entries");
  if (net.input_dim_size() > 0 && net.input_dim_size() != 4 * n)
    throw ModelError("net " + net.name() + ": " + std::to_string(n) + " inputs need " + std::to_string(4 * n) +
                     " input_dim values, got " + std::to_string(net.input_dim_size()));
  for (int i = 0; i < n; ++i) {
    NetInput in{net.input(i), {}, -1};
    if (net.input_shape_size() > 0)
      for (auto d : net.input_shape(i).dim()) in.shape.push_back(d);
    if (net.input_dim_size() > 0)
      for (int k = 0; k < 4; ++k) in.shape.push_back(net.input_dim(4 * i + k));
    out.push_back(std::move(in));
  }
  for (int li = 0; li < net.layer_size(); ++li) {
    const auto& l = net.layer(li);
    if (l.type() != "Input") continue;
    if (phase && !layer_included(l, phase_state(net, *phase))) continue;
    const int ns = l.input_param().shape_size();
    if (ns != 0 && ns != 1 && ns != l.top_size())
      throw ModelError(error_text("layer " + l.name(), std::to_string(l.top_size()) + " tops but " +
                                                           std::to_string(ns) + " input_param shapes"));
    for (int t = 0; t < l.top_size(); ++t) {
      NetInput in{l.top(t), {}, li};
      if (ns > 0)
        for (auto d : l.input_param().shape(ns == 1 ? 0 : t).dim()) in.shape.push_back(d);
      out.push_back(std::move(in));
    }
  }
  return out;
}

class Graph {
 public:
  // Validates and analyses `net` (already phase-filtered). `source` (a file name) prefixes
  // error messages. Throws ModelError for a missing bottom, a blob produced by two layers, a
  // layer listing a top twice, and a cycle.
  explicit Graph(const ufw::NetParameter& net, const std::string& source = {}) : source_(source) {
    build(net);
  }

  int num_layers() const { return static_cast<int>(layers_.size()); }
  const std::string& layer_name(int i) const { return layers_[static_cast<size_t>(i)].name; }
  // Execution order: a topological order that equals prototxt order whenever that is one.
  const std::vector<int>& order() const { return order_; }
  // Every blob name in first-appearance order (net inputs first).
  const std::vector<std::string>& blobs() const { return blob_names_; }
  const std::vector<std::string>& inputs() const { return inputs_; }
  // Blobs whose final value no layer reads, in first-appearance order (Caffe's net outputs).
  const std::vector<std::string>& outputs() const { return outputs_; }
  bool has_blob(const std::string& b) const { return blob_index_.count(b) != 0; }
  bool is_input(const std::string& b) const {
    return std::find(inputs_.begin(), inputs_.end(), b) != inputs_.end();
  }
  // Layers writing `b`: its producer first (none for an `input:` blob), then in-place writers.
  std::vector<int> producers(const std::string& b) const {
    const Blob& bl = blob(b);
    std::vector<int> out;
    if (bl.producer >= 0) out.push_back(bl.producer);
    out.insert(out.end(), bl.chain.begin(), bl.chain.end());
    return out;
  }
  // Layers reading `b` (any version, in-place writers included), in execution order.
  std::vector<int> consumers(const std::string& b) const {
    std::vector<int> out = blob(b).readers;
    std::sort(out.begin(), out.end(), [&](int x, int y) { return rank_[size_t(x)] < rank_[size_t(y)]; });
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }
  // Whether layer i writes one of its own bottoms (Caffe in-place).
  bool in_place(int i) const { return layers_[static_cast<size_t>(i)].in_place; }
  // Layers that must run before layer i.
  std::vector<int> predecessors(int i) const {
    std::vector<int> out;
    for (const auto& e : layers_[static_cast<size_t>(i)].preds) out.push_back(e.first);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

 private:
  struct Blob {
    bool net_input = false;      // declared by `input:`
    int producer = -1;           // defining (not in-place) writer
    std::vector<int> chain;      // in-place writers, prototxt order
    std::vector<int> readers;    // every layer reading it
    bool final_read = false;     // someone reads the value after the last writer
  };
  struct Node {
    std::string name;
    bool in_place = false;
    std::vector<std::pair<int, std::string>> preds;  // (layer, blob) this layer waits for
  };

  std::string where(const std::string& what) const { return source_.empty() ? what : source_ + ": " + what; }
  const Blob& blob(const std::string& b) const {
    auto it = blob_index_.find(b);
    if (it == blob_index_.end()) throw ModelError(where("unknown blob '" + b + "'"));
    return blobs_[it->second];
  }
  Blob& add_blob(const std::string& b) {
    auto [it, fresh] = blob_index_.emplace(b, blobs_.size());
    if (fresh) {
      blobs_.emplace_back();
      blob_names_.push_back(b);
    }
    return blobs_[it->second];
  }

  void build(const ufw::NetParameter& net) {
    const int n = net.layer_size();
    layers_.resize(static_cast<size_t>(n));
    for (const auto& in : net.input()) {
      Blob& b = add_blob(in);
      if (b.net_input) throw ModelError(where("net input '" + in + "' is declared twice"));
      b.net_input = true;
      inputs_.push_back(in);
    }
    // Pass 1: who writes what.
    for (int i = 0; i < n; ++i) {
      const auto& l = net.layer(i);
      Node& node = layers_[static_cast<size_t>(i)];
      node.name = l.name();
      std::set<std::string> seen;
      for (const auto& t : l.top()) {
        if (!seen.insert(t).second)
          throw ModelError(where(error_text("layer " + l.name(), "lists top '" + t + "' twice")));
        const bool inplace = std::find(l.bottom().begin(), l.bottom().end(), t) != l.bottom().end();
        Blob& b = add_blob(t);
        if (inplace) {
          node.in_place = true;
          b.chain.push_back(i);
          continue;
        }
        if (b.net_input)
          throw ModelError(where(error_text("layer " + l.name(), "top '" + t + "' is also a net input")));
        if (b.producer >= 0)
          throw ModelError(where("blob '" + t + "' is produced by both layer " + layers_[size_t(b.producer)].name +
                                 " and layer " + l.name() + " (only in-place layers may reuse a top name)"));
        b.producer = i;
      }
      if (l.type() == "Input")
        for (const auto& t : l.top()) inputs_.push_back(t);
    }
    // Pass 2: which version each bottom reads, and the edges that follow.
    for (int i = 0; i < n; ++i) {
      const auto& l = net.layer(i);
      Node& node = layers_[static_cast<size_t>(i)];
      for (const auto& bname : l.bottom()) {
        auto it = blob_index_.find(bname);
        if (it == blob_index_.end() || (!blobs_[it->second].net_input && blobs_[it->second].producer < 0))
          throw ModelError(where(error_text("layer " + l.name(), "bottom blob '" + bname +
                                                                     "' is not produced by any layer nor a net input")));
        Blob& b = blobs_[it->second];
        b.readers.push_back(i);
        const size_t k = b.chain.size();
        auto pos = std::find(b.chain.begin(), b.chain.end(), i);
        size_t v;
        bool writer = pos != b.chain.end();
        if (writer) {
          v = static_cast<size_t>(pos - b.chain.begin());
        } else if (b.net_input || b.producer < i) {
          v = static_cast<size_t>(std::count_if(b.chain.begin(), b.chain.end(), [&](int w) { return w < i; }));
        } else {
          v = k;  // read before its producer in the file: an unordered graph; take the final value
        }
        const int src = v == 0 ? b.producer : b.chain[v - 1];
        if (src >= 0) node.preds.emplace_back(src, bname);
        if (!writer && v < k) layers_[size_t(b.chain[v])].preds.emplace_back(i, bname);
        if (!writer && v == k) b.final_read = true;
      }
    }
    // Topological order, smallest prototxt index first among the ready layers.
    std::vector<std::vector<int>> succ(static_cast<size_t>(n));
    std::vector<int> indeg(static_cast<size_t>(n), 0);
    for (int i = 0; i < n; ++i) {
      std::set<int> ps;
      for (const auto& e : layers_[size_t(i)].preds)
        if (e.first != i) ps.insert(e.first);
      for (int p : ps) {
        succ[size_t(p)].push_back(i);
        ++indeg[size_t(i)];
      }
    }
    std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
    for (int i = 0; i < n; ++i)
      if (indeg[size_t(i)] == 0) ready.push(i);
    while (!ready.empty()) {
      int i = ready.top();
      ready.pop();
      order_.push_back(i);
      for (int s : succ[size_t(i)])
        if (--indeg[size_t(s)] == 0) ready.push(s);
    }
    if (static_cast<int>(order_.size()) != n) throw ModelError(where(describe_cycle(indeg)));
    rank_.assign(static_cast<size_t>(n), 0);
    for (size_t r = 0; r < order_.size(); ++r) rank_[size_t(order_[r])] = static_cast<int>(r);
    for (size_t bi = 0; bi < blobs_.size(); ++bi)
      if (!blobs_[bi].final_read) outputs_.push_back(blob_names_[bi]);
  }

  // Walks predecessors among the layers left unsorted until one repeats: that loop is a cycle.
  // Every blocked layer waits on another blocked one, so the walk always closes.
  std::string describe_cycle(const std::vector<int>& indeg) const {
    int cur = static_cast<int>(std::find_if(indeg.begin(), indeg.end(), [](int d) { return d > 0; }) - indeg.begin());
    std::vector<std::pair<int, std::string>> path;  // (layer, blob it waits for)
    std::map<int, size_t> at;
    while (!at.count(cur)) {
      at[cur] = path.size();
      int next = cur;
      std::string via;
      for (const auto& e : layers_[size_t(cur)].preds)
        if (e.first != cur && indeg[size_t(e.first)] > 0) {
          next = e.first;
          via = e.second;
          break;
        }
      path.emplace_back(cur, via);
      if (next == cur) break;
      cur = next;
    }
    std::string text = "cycle in graph:";
    for (size_t j = at[cur]; j < path.size(); ++j) {
      const int nxt = j + 1 < path.size() ? path[j + 1].first : cur;
      text += std::string(j == at[cur] ? " layer " : ", which") + (j == at[cur] ? layers_[size_t(path[j].first)].name : "") +
              " needs blob '" + path[j].second + "' from layer " + layers_[size_t(nxt)].name;
    }
    return text;
  }

  std::string source_;
  std::vector<Node> layers_;
  std::vector<Blob> blobs_;
  std::vector<std::string> blob_names_;
  std::map<std::string, size_t> blob_index_;
  std::vector<std::string> inputs_;
  std::vector<std::string> outputs_;
  std::vector<int> order_;
  std::vector<int> rank_;
};

}  // namespace octet::ir
