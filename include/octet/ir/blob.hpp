// BlobProto helpers for the umodel IR: a blob's shape (N-D `shape` or Caffe's legacy
// num/channels/height/width), its value count, conversion to/from Tensor<float>, and the
// parameter-blob shapes that Caffe's weighted layers expect given their bottom shapes (used to
// check merged weights, to accept legacy 4-D blobs, and to create random weights).
// Depends on core/ and the generated umodel proto only; never on engine/ (layers do their own
// checks; this is the IR's view of Caffe's layouts).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "octet/core/error.hpp"
#include "octet/core/tensor.hpp"
#include "octet/proto/umodel.pb.h"

namespace octet::ir {

inline bool blob_has_legacy_shape(const ufw::BlobProto& b) {
  return b.has_num() || b.has_channels() || b.has_height() || b.has_width();
}

// The blob's dims: N-D `shape` when present, else the legacy 4-D fields, else 1-D of the value
// count. engine/blob_util.hpp uses this one too, so the IR and the layers never disagree.
inline Shape blob_shape(const ufw::BlobProto& b) {
  Shape s;
  if (b.has_shape()) {
    for (auto d : b.shape().dim()) s.push_back(d);
    return s;
  }
  if (blob_has_legacy_shape(b)) return {b.num(), b.channels(), b.height(), b.width()};
  const int n = b.data_size() ? b.data_size() : b.double_data_size();
  if (n) s.push_back(n);
  return s;
}

inline void set_blob_shape(ufw::BlobProto& b, const Shape& s) {
  b.clear_num();
  b.clear_channels();
  b.clear_height();
  b.clear_width();
  auto* bs = b.mutable_shape();
  bs->clear_dim();
  for (auto d : s) bs->add_dim(d);
}

// Number of stored values and which field holds them (fp32, fp64, int8 or int32 data).
inline int64_t blob_value_count(const ufw::BlobProto& b) {
  if (b.data_size() > 0) return b.data_size();
  if (b.double_data_size() > 0) return b.double_data_size();
  if (!b.int8_data().empty()) return static_cast<int64_t>(b.int8_data().size());
  if (b.int32_data_size() > 0) return b.int32_data_size();
  return 0;
}

// Converts fp64 values to fp32 in place, as Caffe does when loading a float net.
inline void blob_to_float_storage(ufw::BlobProto& b) {
  if (b.data_size() == 0 && b.double_data_size() > 0) {
    b.mutable_data()->Reserve(b.double_data_size());
    for (double v : b.double_data()) b.add_data(static_cast<float>(v));
    b.clear_double_data();
  }
}

inline ufw::BlobProto tensor_to_blob(const Tensor<float>& t) {
  ufw::BlobProto b;
  set_blob_shape(b, t.shape());
  b.mutable_data()->Add(t.data(), t.data() + t.size());
  return b;
}

// Whether `stored` may stand for `expected`: equal, or (for a legacy 4-D blob) equal once
// `expected` is left-padded with 1s to rank 4, as Caffe's Blob::ShapeEquals allows.
inline bool blob_shape_compatible(const ufw::BlobProto& stored, const Shape& expected) {
  const Shape s = blob_shape(stored);
  if (s == expected) return true;
  if (stored.has_shape() || !blob_has_legacy_shape(stored) || expected.size() > 4) return false;
  Shape padded(4 - expected.size(), 1);
  padded.insert(padded.end(), expected.begin(), expected.end());
  return s == padded;
}

namespace detail {
inline int64_t conv_spatial(const google::protobuf::RepeatedField<uint32_t>& rep, bool has_hw, uint32_t h,
                            uint32_t w, size_t i, size_t n, const char* what) {
  if (has_hw) {
    if (n != 2) throw ModelError(std::string(what) + "_h/_w need 2 spatial axes");
    return i == 0 ? h : w;
  }
  if (rep.empty()) throw ModelError(std::string(what) + "_size is not set");
  if (rep.size() != 1 && static_cast<size_t>(rep.size()) != n)
    throw ModelError(std::string(what) + "_size has " + std::to_string(rep.size()) + " values for " +
                     std::to_string(n) + " spatial axes");
  return rep.size() == 1 ? rep.Get(0) : rep.Get(static_cast<int>(i));
}
}  // namespace detail

// Parameter blob shapes of Caffe's weighted layers (Convolution, Deconvolution, InnerProduct,
// BatchNorm, Scale, Bias, PReLU, Embed) for the given bottom shapes, in Caffe's blob order.
// nullopt for types whose layout the IR does not know (their layers check their own blobs).
inline std::optional<std::vector<Shape>> expected_param_shapes(const ufw::LayerParameter& lp,
                                                              const std::vector<Shape>& bottoms) {
  const std::string& type = lp.type();
  auto need_bottom = [&](size_t rank_at_least) -> const Shape& {
    if (bottoms.empty() || bottoms[0].size() < rank_at_least)
      throw ShapeError("needs a bottom of rank >= " + std::to_string(rank_at_least));
    return bottoms[0];
  };
  if (type == "Convolution" || type == "Deconvolution") {
    const auto& cp = lp.convolution_param();
    const Shape& b = need_bottom(2);
    const int axis = canonical_axis(cp.axis(), b.size());
    const size_t nsp = b.size() - static_cast<size_t>(axis) - 1;
    const int64_t group = cp.group() == 0 ? 1 : cp.group();
    const int64_t cin = b[static_cast<size_t>(axis)];
    const int64_t cout = cp.num_output();
    if (cin % group != 0 || cout % group != 0)
      throw ShapeError("group " + std::to_string(group) + " does not divide channels " + std::to_string(cin) +
                       " -> " + std::to_string(cout));
    Shape w = type == "Convolution" ? Shape{cout, cin / group} : Shape{cin, cout / group};
    const bool hw = cp.has_kernel_h() || cp.has_kernel_w();
    for (size_t i = 0; i < nsp; ++i)
      w.push_back(detail::conv_spatial(cp.kernel_size(), hw, cp.kernel_h(), cp.kernel_w(), i, nsp, "kernel"));
    std::vector<Shape> out{w};
    if (cp.bias_term()) out.push_back({cout});
    return out;
  }
  if (type == "InnerProduct") {
    const auto& ip = lp.inner_product_param();
    const Shape& b = need_bottom(1);
    const int axis = canonical_axis(ip.axis(), b.size());
    const int64_t k = shape_count(b, static_cast<size_t>(axis));
    const int64_t n = ip.num_output();
    std::vector<Shape> out{ip.transpose() ? Shape{k, n} : Shape{n, k}};
    if (ip.bias_term()) out.push_back({n});
    return out;
  }
  if (type == "BatchNorm") {
    const Shape& b = need_bottom(1);
    const int64_t c = b.size() == 1 ? 1 : b[1];
    return std::vector<Shape>{{c}, {c}, {1}};
  }
  if (type == "Scale" || type == "Bias") {
    const Shape& b = need_bottom(1);
    const bool scale = type == "Scale";
    const int axis_p = scale ? lp.scale_param().axis() : lp.bias_param().axis();
    const int num_axes = scale ? lp.scale_param().num_axes() : lp.bias_param().num_axes();
    std::vector<Shape> out;
    if (bottoms.size() < 2) {
      const auto axis = static_cast<size_t>(canonical_axis(axis_p, b.size()));
      const size_t end = num_axes < 0 ? b.size() : axis + static_cast<size_t>(num_axes);
      if (end > b.size()) throw ShapeError("axis + num_axes exceeds bottom rank " + std::to_string(b.size()));
      out.push_back(Shape(b.begin() + static_cast<std::ptrdiff_t>(axis), b.begin() + static_cast<std::ptrdiff_t>(end)));
    }
    if (scale && lp.scale_param().bias_term()) out.push_back(bottoms.size() < 2 ? out[0] : bottoms[1]);
    return out;
  }
  if (type == "PReLU") {
    const Shape& b = need_bottom(1);
    const int64_t c = b.size() == 1 ? 1 : b[1];
    return std::vector<Shape>{{lp.prelu_param().channel_shared() ? 1 : c}};
  }
  if (type == "Embed") {
    const auto& ep = lp.embed_param();
    std::vector<Shape> out{{static_cast<int64_t>(ep.input_dim()), static_cast<int64_t>(ep.num_output())}};
    if (ep.bias_term()) out.push_back({static_cast<int64_t>(ep.num_output())});
    return out;
  }
  return std::nullopt;
}

inline int64_t blob_element_count(const ufw::BlobProto& b) { return shape_count(blob_shape(b)); }

}  // namespace octet::ir
