// Loading and saving the umodel pair: a text prototxt (topology, no weights) and an optional
// binary weights file (.fp32umodel / .int8umodel / Caffe .caffemodel: a serialized
// ufw::NetParameter whose layers carry blobs). Weights are merged into the prototxt's layers by
// name, the way Caffe's Net::CopyTrainedLayersFrom does. Saves are atomic (temp + rename).
// Depends on core/, ir/blob.hpp and the generated proto; never on engine/.
#pragma once
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/text_format.h>

#include <climits>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "octet/core/atomic_file.hpp"
#include "octet/core/error.hpp"
#include "octet/ir/blob.hpp"
#include "octet/proto/umodel.pb.h"

namespace octet::ir {

inline std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(error_text(path, std::string("cannot open: ") + std::strerror(errno)));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw IoError(error_text(path, "read failed"));
  return ss.str();
}

namespace detail {
// Keeps the first syntax error as "file:line:col: message" (1-based, as editors count).
class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  explicit FirstErrorCollector(std::string file) : file_(std::move(file)) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column, const std::string& message) override {
    if (!first_.empty()) return;
    first_ = file_ + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " + message;
    if (message.find("no field named \"layers\"") != std::string::npos)
      first_ += " (pre-2015 Caffe V1 'layers { type: CONVOLUTION }' syntax is not supported; "
                "upgrade it with Caffe's upgrade_net_proto_text)";
  }
  void AddWarning(int, google::protobuf::io::ColumnNumber, const std::string&) override {}
  const std::string& first() const { return first_; }

 private:
  std::string file_;
  std::string first_;
};
}  // namespace detail

// Parses prototxt text; `source` names it in errors ("net.prototxt:12:5: ...").
inline ufw::NetParameter parse_prototxt(const std::string& text, const std::string& source = "<prototxt>") {
  ufw::NetParameter net;
  google::protobuf::TextFormat::Parser parser;
  detail::FirstErrorCollector errors(source);
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text, &net))
    throw ModelError(errors.first().empty() ? source + ": cannot parse prototxt" : errors.first());
  return net;
}

inline ufw::NetParameter load_prototxt(const std::string& path) { return parse_prototxt(read_file_bytes(path), path); }

// Checks that every blob holds as many values as its shape says: a weights file cut at a
// field boundary still parses, and this is where such truncation shows.
inline void check_blob_sizes(const ufw::NetParameter& net, const std::string& source) {
  auto check = [&](const ufw::LayerParameter& l) {
    for (int j = 0; j < l.blobs_size(); ++j) {
      const auto& b = l.blobs(j);
      const int64_t want = blob_element_count(b);
      const int64_t have = blob_value_count(b);
      // A blob with no values at all is a shape-only placeholder (Caffe writes those for
      // layers whose blobs were never filled); anything in between is corrupt.
      if (have != want && have != 0)
        throw ModelError(error_text(source, "layer " + l.name(),
                                    "blob " + std::to_string(j) + " " + shape_str(blob_shape(b)) + " needs " +
                                        std::to_string(want) + " values but holds " + std::to_string(have) +
                                        " (truncated or corrupt file)"));
    }
  };
  for (const auto& l : net.layer()) check(l);
}

// Parses binary weights (any serialized NetParameter, Caffe .caffemodel included).
inline ufw::NetParameter parse_weights(const std::string& bytes, const std::string& source = "<weights>") {
  if (bytes.empty()) throw ModelError(error_text(source, "empty weights file"));
  ufw::NetParameter net;
  google::protobuf::io::ArrayInputStream raw(bytes.data(), static_cast<int>(bytes.size()));
  google::protobuf::io::CodedInputStream coded(&raw);
  coded.SetTotalBytesLimit(INT_MAX);
  if (bytes.size() > static_cast<size_t>(INT_MAX))
    throw IoError(error_text(source, "weights file larger than 2 GiB (protobuf limit)"));
  if (!net.ParseFromCodedStream(&coded) || !coded.ConsumedEntireMessage())
    throw ModelError(error_text(source, "cannot parse weights (truncated or not a umodel/caffemodel file)"));
  if (net.layer_size() == 0) {
    // Pre-2015 caffemodels keep layers in field 2 (V1LayerParameter), which this schema omits.
    const auto& unknown = net.GetReflection()->GetUnknownFields(net);
    for (int i = 0; i < unknown.field_count(); ++i)
      if (unknown.field(i).number() == 2)
        throw UnsupportedError(error_text(source, "V1-format caffemodel ('layers' field); upgrade it with "
                                                  "Caffe's upgrade_net_proto_binary"));
    if (unknown.field_count() > 0)
      throw ModelError(error_text(source, "no layers found (not a umodel/caffemodel file)"));
  }
  check_blob_sizes(net, source);
  return net;
}

inline ufw::NetParameter load_weights(const std::string& path) { return parse_weights(read_file_bytes(path), path); }

struct MergeReport {
  std::vector<std::string> merged;   // prototxt layers that received blobs
  std::vector<std::string> ignored;  // weights layers with blobs and no prototxt layer of that name
};

// Copies blobs from `weights` into the same-named layers of `net` (Caffe's CopyTrainedLayersFrom):
// weights layers absent from `net` are ignored; when a `net` layer already has blobs, the count
// and every shape must match (legacy 4-D shapes match their N-D equivalent).
inline MergeReport merge_weights(ufw::NetParameter& net, const ufw::NetParameter& weights,
                                 const std::string& source = "<weights>") {
  std::multimap<std::string, int> by_name;
  for (int i = 0; i < net.layer_size(); ++i) by_name.emplace(net.layer(i).name(), i);
  MergeReport report;
  for (const auto& src : weights.layer()) {
    const bool has_int8 = src.top_quant_size() != 0 || src.has_int8_param();
    if (src.blobs_size() == 0 && !has_int8) continue;
    auto [lo, hi] = by_name.equal_range(src.name());
    if (lo == hi) {
      report.ignored.push_back(src.name());
      continue;
    }
    for (auto it = lo; it != hi; ++it) {
      auto* dst = net.mutable_layer(it->second);
      // The int8 umodel's weights file is authoritative for quantisation (docs/int8-umodel.md).
      if (src.top_quant_size() != 0) *dst->mutable_top_quant() = src.top_quant();
      if (src.has_int8_param()) *dst->mutable_int8_param() = src.int8_param();
      if (src.blobs_size() == 0) {
        report.merged.push_back(dst->name());
        continue;
      }
      if (dst->blobs_size() != 0) {
        if (dst->blobs_size() != src.blobs_size())
          throw ModelError(error_text(source, "layer " + src.name(),
                                      "weights have " + std::to_string(src.blobs_size()) + " blobs, model has " +
                                          std::to_string(dst->blobs_size())));
        for (int j = 0; j < src.blobs_size(); ++j) {
          const Shape want = blob_shape(dst->blobs(j));
          if (!blob_shape_compatible(src.blobs(j), want))
            throw ModelError(error_text(source, "layer " + src.name(),
                                        "blob " + std::to_string(j) + " shape " + shape_str(blob_shape(src.blobs(j))) +
                                            " in weights, " + shape_str(want) + " in model"));
        }
      }
      *dst->mutable_blobs() = src.blobs();
      for (auto& b : *dst->mutable_blobs()) blob_to_float_storage(b);
      report.merged.push_back(dst->name());
    }
  }
  return report;
}

// Loads prototxt + optional weights (empty path: none) into one NetParameter.
inline ufw::NetParameter load_umodel(const std::string& prototxt, const std::string& weights = {},
                                     MergeReport* report = nullptr) {
  ufw::NetParameter net = load_prototxt(prototxt);
  if (!weights.empty()) {
    auto r = merge_weights(net, load_weights(weights), weights);
    if (report) *report = std::move(r);
  }
  return net;
}

// Prototxt text of `net` without blobs (the topology half of the pair).
inline std::string prototxt_text(const ufw::NetParameter& net) {
  ufw::NetParameter topo = net;
  for (auto& l : *topo.mutable_layer()) l.clear_blobs();
  google::protobuf::TextFormat::Printer printer;
  std::string out;
  if (!printer.PrintToString(topo, &out)) throw ModelError("cannot print prototxt for net " + net.name());
  return out;
}

// Weights bytes: every layer that has blobs or int8 quantisation, with its name, type, blobs and
// top_quant/int8_param only (the prototxt carries everything else), as Caffe's caffemodel does
// for the fields that matter.
inline std::string weights_bytes(const ufw::NetParameter& net) {
  ufw::NetParameter w;
  w.set_name(net.name());
  for (const auto& l : net.layer()) {
    if (l.blobs_size() == 0 && l.top_quant_size() == 0 && !l.has_int8_param()) continue;
    auto* d = w.add_layer();
    d->set_name(l.name());
    d->set_type(l.type());
    *d->mutable_blobs() = l.blobs();
    *d->mutable_top_quant() = l.top_quant();
    if (l.has_int8_param()) *d->mutable_int8_param() = l.int8_param();
  }
  std::string out;
  if (!w.SerializeToString(&out)) throw ModelError("cannot serialize weights for net " + net.name());
  return out;
}

inline void save_prototxt(const ufw::NetParameter& net, const std::string& path) {
  atomic_write(path, prototxt_text(net));
}

inline void save_weights(const ufw::NetParameter& net, const std::string& path) {
  atomic_write(path, weights_bytes(net));
}

inline void save_umodel(const ufw::NetParameter& net, const std::string& prototxt, const std::string& weights) {
  save_prototxt(net, prototxt);
  save_weights(net, weights);
}

}  // namespace octet::ir
