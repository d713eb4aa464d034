// fp32 runtime layers that move or reshape data: Concat, Slice, Split, Flatten, Reshape,
// Dropout (identity at inference), Permute / Transpose, Tile, Interp, Upsample, Pad,
// Reduction (Caffe) and Reduce (ONNX-style). Shapes and plans are computed in reshape();
// forward only calls kernels/. Flatten/Reshape/Dropout/Split copy when their top is a
// different buffer and do nothing when the Net aliases it with the bottom.
// Depends on core/, kernels/, engine/layer.hpp and engine/layers/elementwise.hpp (helpers).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "octet/core/error.hpp"
#include "octet/core/tensor.hpp"
#include "octet/engine/layer.hpp"
#include "octet/engine/layers/elementwise.hpp"
#include "octet/kernels/pad.hpp"
#include "octet/kernels/reduce.hpp"
#include "octet/kernels/resize.hpp"
#include "octet/kernels/shape_ops.hpp"

namespace octet::engine {

namespace elementwise_detail {
inline void copy_if_distinct(const FloatTensor& src, FloatTensor& dst) {
  if (dst.data() != src.data() && src.size() > 0)
    std::memcpy(dst.data(), src.data(), sizeof(float) * static_cast<size_t>(src.size()));
}
inline size_t expect_tops(const ufw::LayerParameter& p, const char* type) {
  if (p.top_size() < 1) throw ModelError(std::string(type) + " needs at least one top");
  return static_cast<size_t>(p.top_size());
}
}  // namespace elementwise_detail

// Base for layers that only move data: they report no arithmetic.
class DataMoveLayer : public Layer {
 public:
  using Layer::Layer;
  int64_t flops(const std::vector<Shape>&, const std::vector<Shape>&) const override { return 0; }
};

class ConcatLayer : public DataMoveLayer {
 public:
  explicit ConcatLayer(const ufw::LayerParameter& p) : DataMoveLayer(p) {
    const auto& c = p.concat_param();
    axis_ = c.has_concat_dim() ? static_cast<int>(c.concat_dim()) : c.axis();
  }
  std::vector<Shape> reshape(const std::vector<Shape>& bottoms) override {
    elementwise_detail::expect_bottoms(bottoms, 1, SIZE_MAX);
    shapes_ = bottoms;
    ptrs_.resize(bottoms.size());
    return {kernels::concat_shape(bottoms, axis_)};
  }
  void forward(const std::vector<const FloatTensor*>& bottoms, const std::vector<FloatTensor*>& tops) override {
    for (size_t i = 0; i < bottoms.size(); ++i) ptrs_[i] = bottoms[i]->data();
    kernels::concat<float>(axis_, shapes_, ptrs_, tops[0]->data());
  }

 private:
  int axis_ = 1;
  std::vector<Shape> shapes_;
  std::vector<const float*> ptrs_;
};

class SliceLayer : public DataMoveLayer {
 public:
  explicit SliceLayer(const ufw::LayerParameter& p) : DataMoveLayer(p) {
    const auto& s = p.slice_param();
    axis_ = s.has_slice_dim() ? static_cast<int>(s.slice_dim()) : s.axis();
    for (auto v : s.slice_point()) points_.push_back(v);
    tops_ = elementwise_detail::expect_tops(p, "Slice");
  }
  std::vector<Shape> reshape(const std::vector<Shape>& bottoms) override {
    elementwise_detail::expect_bottoms(bottoms, 1, 1);
    out_shapes_ = kernels::slice_shapes(bottoms[0], axis_, points_, tops_);
    ptrs_.resize(tops_);
    return out_shapes_;
  }
  void forward(const std::vector<const FloatTensor*>& bottoms, const std::vector<FloatTensor*>& tops) override {
    for (size_t i = 0; i < tops.size(); ++i) ptrs_[i] = tops[i]->data();
    kernels::slice<float>(axis_, bottoms[0]->shape(), bottoms[0]->data(), out_shapes_, ptrs_);
  }

 private:
  int axis_ = 1;
  size_t tops_ = 1;
  std::vector<int64_t> points_;
  std::vector<Shape> out_shapes_;
  std::vector<float*> ptrs_;
};

class SplitLayer : public DataMoveLayer {
 public:
  explicit SplitLayer(const ufw::LayerParameter& p) : DataMoveLayer(p) { tops_ = elementwise_detail::expect_tops(p, "Split"); }
  std::vector<Shape> reshape(const std::vector<Shape>& bottoms) override {
    elementwise_detail::expect_bottoms(bottoms, 1, 1);
    return std::vector<Shape>(tops_, bottoms[0]);
  }
  void forward(const std::vector<const FloatTensor*>& bottoms, const std::vector<FloatTensor*>& tops) override {
    for (auto* t : tops) elementwise_detail::copy_if_distinct(*bottoms[0], *t);
  }
  bool supports_in_place() const override { return true; }

 private:
  size_t tops_ = 1;
};

// Flatten, Reshape and Dropout: same values, possibly new dims.
class CopyLayer : public DataMoveLayer {
 public:
  using DataMoveLayer::DataMoveLayer;
  void forward(const std::vector<const FloatTensor*>& bottoms, const std::vector<FloatTensor*>& tops) override {
    elementwise_detail::copy_if_distinct(*bottoms[0], *tops[0]);
  }
  bool supports_in_place() const override { return true; }
};

class FlattenLayer : public CopyLayer {
 public:
  using CopyLayer::CopyLayer;
  std::vector<Shape> reshape(const std::vector<Shape>& bottoms) override {
    elementwise_detail::expect_bottoms(bottoms, 1, 1);
    const auto& f = param().flatten_param();
    return {kernels::flatten_shape(bottoms[0], f.axis(), f.end_axis())};
  }
};

class ReshapeLayer : public CopyLayer {
 public:
  explicit ReshapeLayer(const ufw::LayerParameter& p) : CopyLayer(p) {
    if (!p.reshape_param().has_shape()) throw ModelError("Reshape needs reshape_param { shape { dim: ... } }");
    for (auto d : p.reshape_param().shape().dim()) dims_.push_back(d);
  }
  std::vector<Shape> reshape(const std::vector<Shape>& bottoms) override {
    elementwise_detail::expect_bottoms(bottoms, 1, 1);
    const auto& r = param().reshape_param();
    return {kernels::reshape_shape(bottoms[0], dims_, r.axis(), r.num_axes())};
  }

 private:
  std::vector<int64_t> dims_;
};

class DropoutLayer : public CopyLayer {
 public:
  using CopyLayer::CopyLayer;
  std::vector<Shape> reshape(const std::vector<Shape>& bottoms) override {
    elementwise_detail::expect_bottoms(bottoms, 1, 1);
    return {bottoms[0]};
  }
};

// Permute (Caffe-SSD, order may list only the leading axes) and Transpose (numpy; empty
// order reverses the axes).
class TransposeLayer : public DataMoveLayer {
 public:
  explicit TransposeLayer(const ufw::LayerParameter& p) : DataMoveLayer(p) {
    permute_ = p.type() == "Permute";
    if (permute_)
      for (auto v : p.permute_param().order()) given_.push_back(static_cast<int>(v));
    else
      for (auto v : p.transpose_param().order()) given_.push_back(v);
  }
  std::vector<Shape> reshape(const std::vector<Shape>& bottoms) override {
    elementwise_detail::expect_bottoms(bottoms, 1, 1);
    const size_t rank = bottoms[0].size();
    order_ = permute_ ? kernels::permute_order(given_, rank) : kernels::transpose_order(given_, rank);
    return {kernels::transpose_shape(bottoms[0], order_)};
  }
  void forward(const std::vector<const FloatTensor*>& bottoms, const std::vector<FloatTensor*>& tops) override {
    kernels::transpose<float>(bottoms[0]->shape(), order_, bottoms[0]->data(), tops[0]->data());
  }

 private:
  bool permute_ = false;
  std::vector<int> given_, order_;
};

class TileLayer : public DataMoveLayer {
 public:
  explicit TileLayer(const ufw::LayerParameter& p) : DataMoveLayer(p) {
    if (!p.tile_param().has_tiles()) throw ModelError("Tile needs tile_param { tiles }");
  }
  std::vector<Shape> reshape(const std::vector<Shape>& bottoms) override {
    elementwise_detail::expect_bottoms(bottoms, 1, 1);
    const auto& t = param().tile_param();
    return {kernels::tile_shape(bottoms[0], t.axis(), t.tiles())};
  }
  void forward(const std::vector<const FloatTensor*>& bottoms, const std::vector<FloatTensor*>& tops) override {
    const auto& t = param().tile_param();
    kernels::tile<float>(bottoms[0]->shape(), t.axis(), t.tiles(), bottoms[0]->data(), tops[0]->data());
  }
};

// Interp: resize of the two innermost axes. Output size, in priority order: a second
// bottom's spatial dims; height/width; scale_h/scale_w (floor(in * scale), and the
// coordinate mapping then uses the scale itself); PSPNet zoom_factor/shrink_factor.
class InterpLayer : public Layer {
 public:
  explicit InterpLayer(const ufw::LayerParameter& p) : Layer(p) {
    const auto& ip = p.interp_param();
    if (ip.pad_beg() != 0 || ip.pad_end() != 0)
      throw UnsupportedError("interp_param pad_beg/pad_end are not supported");
    if ((ip.height() > 0) != (ip.width() > 0)) throw ModelError("interp_param needs both height and width");
    if (ip.zoom_factor() < 1 || ip.shrink_factor() < 1) throw ModelError("interp_param zoom/shrink factors must be >= 1");
    k_.mode = ip.mode() == ufw::InterpParameter::NEAREST ? kernels::ResizeMode::Nearest : kernels::ResizeMode::Bilinear;
    k_.coord = static_cast<kernels::CoordTransform>(ip.coordinate_transform());  // same order as the proto
    k_.nearest = static_cast<kernels::NearestMode>(ip.nearest_mode());
  }
  std::vector<Shape> reshape(const std::vector<Shape>& bottoms) override {
    elementwise_detail::expect_bottoms(bottoms, 1, 2);
    const Shape& s = bottoms[0];
    if (s.size() < 2) throw ShapeError("needs a bottom of rank >= 2, got " + shape_str(s));
    const auto& ip = param().interp_param();
    const int64_t ih = s[s.size() - 2], iw = s[s.size() - 1];
    k_.scale_h = k_.scale_w = 0.f;
    if (bottoms.size() == 2) {
      const Shape& r = bottoms[1];
      if (r.size() < 2) throw ShapeError("size reference bottom must have rank >= 2, got " + shape_str(r));
      k_.out_h = r[r.size() - 2];
      k_.out_w = r[r.size() - 1];
    } else if (ip.height() > 0) {
      k_.out_h = ip.height();
      k_.out_w = ip.width();
    } else if (ip.scale_h() > 0 || ip.scale_w() > 0) {
      k_.scale_h = ip.scale_h() > 0 ? ip.scale_h() : ip.scale_w();
      k_.scale_w = ip.scale_w() > 0 ? ip.scale_w() : ip.scale_h();
      k_.out_h = static_cast<int64_t>(std::floor(double(ih) * double(k_.scale_h)));
      k_.out_w = static_cast<int64_t>(std::floor(double(iw) * double(k_.scale_w)));
    } else if (ip.zoom_factor() != 1 || ip.shrink_factor() != 1) {
      auto size = [&](int64_t in) {
        int64_t out = in;
        if (ip.shrink_factor() != 1) out = (out - 1) / ip.shrink_factor() + 1;
        if (ip.zoom_factor() != 1) out = out + (out - 1) * (ip.zoom_factor() - 1);
        return out;
      };
      k_.out_h = size(ih);
      k_.out_w = size(iw);
    } else {
      throw ModelError("interp_param needs height/width, scale_h/scale_w or zoom/shrink factors");
    }
    plan_ = kernels::make_resize_plan(k_, ih, iw);
    Shape out = s;
    out[s.size() - 2] = k_.out_h;
    out[s.size() - 1] = k_.out_w;
    return {out};
  }
  void forward(const std::vector<const FloatTensor*>& bottoms, const std::vector<FloatTensor*>& tops) override {
    const Shape& s = bottoms[0]->shape();
    kernels::resize(plan_, shape_count(s, 0, s.size() - 2), bottoms[0]->data(), tops[0]->data());
  }
  int64_t flops(const std::vector<Shape>&, const std::vector<Shape>& tops) const override {
    return (k_.mode == kernels::ResizeMode::Bilinear ? 3 : 0) * shape_count(tops[0]);
  }

 private:
  kernels::ResizeParams k_;
  kernels::ResizePlan plan_;
};

class UpsampleLayer : public DataMoveLayer {
 public:
  explicit UpsampleLayer(const ufw::LayerParameter& p) : DataMoveLayer(p) {
    const auto& u = p.upsample_param();
    sh_ = u.has_scale_h() ? u.scale_h() : u.scale();
    sw_ = u.has_scale_w() ? u.scale_w() : u.scale();
    if (sh_ < 1 || sw_ < 1) throw ModelError("upsample_param scales must be >= 1");
  }
  std::vector<Shape> reshape(const std::vector<Shape>& bottoms) override {
    elementwise_detail::expect_bottoms(bottoms, 1, 1);
    Shape s = bottoms[0];
    if (s.size() < 2) throw ShapeError("needs a bottom of rank >= 2, got " + shape_str(s));
    s[s.size() - 2] *= sh_;
    s[s.size() - 1] *= sw_;
    return {s};
  }
  void forward(const std::vector<const FloatTensor*>& bottoms, const std::vector<FloatTensor*>& tops) override {
    const Shape& s = bottoms[0]->shape();
    kernels::upsample_nearest<float>(shape_count(s, 0, s.size() - 2), s[s.size() - 2], s[s.size() - 1], sh_, sw_,
                                     bottoms[0]->data(), tops[0]->data());
  }

 private:
  int64_t sh_ = 2, sw_ = 2;
};

class PadLayer : public DataMoveLayer {
 public:
  explicit PadLayer(const ufw::LayerParameter& p) : DataMoveLayer(p) {
    const auto& q = p.pad_param();
    for (auto v : q.pads()) given_.push_back(v);
    mode_ = static_cast<kernels::PadMode>(q.mode());  // same order as the proto
    value_ = q.value();
  }
  std::vector<Shape> reshape(const std::vector<Shape>& bottoms) override {
    elementwise_detail::expect_bottoms(bottoms, 1, 1);
    pads_ = given_;
    if (pads_.empty()) pads_.assign(2 * bottoms[0].size(), 0);  // no pads: identity
    kernels::check_pad({pads_, mode_, value_}, bottoms[0]);
    return {kernels::pad_shape(bottoms[0], pads_)};
  }
  void forward(const std::vector<const FloatTensor*>& bottoms, const std::vector<FloatTensor*>& tops) override {
    kernels::pad<float>({pads_, mode_, value_}, bottoms[0]->shape(), bottoms[0]->data(), tops[0]->data());
  }

 private:
  std::vector<int64_t> given_, pads_;
  kernels::PadMode mode_ = kernels::PadMode::Constant;
  float value_ = 0.f;
};

// Reduction (Caffe) and Reduce (ReduceParameter) share one kernel.
class ReduceLayer : public Layer {
 public:
  explicit ReduceLayer(const ufw::LayerParameter& p) : Layer(p) {
    caffe_ = p.type() == "Reduction";
    if (!caffe_) {
      const auto& r = p.reduce_param();
      k_.op = static_cast<kernels::ReduceOp>(r.operation());  // same order as the proto
      k_.axes.assign(r.axes().begin(), r.axes().end());
      k_.keepdims = r.keepdims();
    }
  }
  std::vector<Shape> reshape(const std::vector<Shape>& bottoms) override {
    elementwise_detail::expect_bottoms(bottoms, 1, 1);
    if (caffe_) {
      const auto& r = param().reduction_param();
      k_ = kernels::caffe_reduction_params(static_cast<kernels::CaffeReductionOp>(r.operation()), r.axis(),
                                           bottoms[0].size(), r.coeff());
    }
    return {kernels::reduce_shape(bottoms[0], k_)};
  }
  void forward(const std::vector<const FloatTensor*>& bottoms, const std::vector<FloatTensor*>& tops) override {
    kernels::reduce<float>(k_, bottoms[0]->shape(), bottoms[0]->data(), tops[0]->data());
  }
  int64_t flops(const std::vector<Shape>& bottoms, const std::vector<Shape>&) const override {
    return shape_count(bottoms[0]);
  }

 private:
  bool caffe_ = false;
  kernels::ReduceParams k_;
};

inline void register_shape_layers(LayerRegistry& r) {
  r.add("Concat", make<ConcatLayer>);
  r.add("Slice", make<SliceLayer>);
  r.add("Split", make<SplitLayer>);
  r.add("Flatten", make<FlattenLayer>);
  r.add("Reshape", make<ReshapeLayer>);
  r.add("Dropout", make<DropoutLayer>);
  r.add("Permute", make<TransposeLayer>);
  r.add("Transpose", make<TransposeLayer>);
  r.add("Tile", make<TileLayer>);
  r.add("Interp", make<InterpLayer>);
  r.add("Upsample", make<UpsampleLayer>);
  r.add("Pad", make<PadLayer>);
  r.add("Reduction", make<ReduceLayer>);
  r.add("Reduce", make<ReduceLayer>);
}

}  // namespace octet::engine
