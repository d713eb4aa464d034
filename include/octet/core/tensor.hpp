// Tensor<T>: a contiguous, row-major (NCHW for images) N-D array that either owns its storage
// or views someone else's (Eigen-Map style, no copy). Shape is a small vector of int64 dims.
// Depends only on core/error.hpp: kernels receive raw pointers + shapes, never Tensors.
#pragma once
#include <cstdint>
#include <cstring>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "octet/core/error.hpp"

namespace octet {

using Shape = std::vector<int64_t>;

inline int64_t shape_count(const Shape& s, size_t begin = 0, size_t end = SIZE_MAX) {
  end = std::min(end, s.size());
  int64_t n = 1;
  for (size_t i = begin; i < end; ++i) n *= s[i];
  return n;
}

inline std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}

// Resolves a possibly negative axis against a rank, as numpy and Caffe do.
inline int canonical_axis(int axis, size_t rank) {
  const int r = static_cast<int>(rank);
  if (axis < -r || axis >= r)
    throw ShapeError("axis " + std::to_string(axis) + " out of range for rank " + std::to_string(r));
  return axis < 0 ? axis + r : axis;
}

enum class DType : uint8_t { F32, I8, U8, I16, I32, U16, U32, F16 };

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::I8: case DType::U8: return 1;
    case DType::I16: case DType::U16: case DType::F16: return 2;
    default: return 4;
  }
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "float32";
    case DType::I8: return "int8";
    case DType::U8: return "uint8";
    case DType::I16: return "int16";
    case DType::I32: return "int32";
    case DType::U16: return "uint16";
    case DType::U32: return "uint32";
    case DType::F16: return "float16";
  }
  return "?";
}

template <typename T>
class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape, T fill = T{}) : shape_(std::move(shape)) {
    own_.assign(static_cast<size_t>(shape_count(shape_)), fill);
    data_ = own_.data();
  }
  // Non-owning view over memory that outlives the tensor.
  static Tensor view(T* data, Shape shape) {
    Tensor t;
    t.shape_ = std::move(shape);
    t.data_ = data;
    return t;
  }

  Tensor(const Tensor& o) : shape_(o.shape_) {
    if (o.owns()) {
      own_ = o.own_;
      data_ = own_.data();
    } else {
      data_ = o.data_;
    }
  }
  Tensor& operator=(const Tensor& o) {
    if (this != &o) {
      Tensor tmp(o);
      *this = std::move(tmp);
    }
    return *this;
  }
  Tensor(Tensor&& o) noexcept { *this = std::move(o); }
  Tensor& operator=(Tensor&& o) noexcept {
    if (this == &o) return *this;
    const bool owned = o.owns();
    shape_ = std::move(o.shape_);
    own_ = std::move(o.own_);
    data_ = owned ? own_.data() : o.data_;
    o.data_ = nullptr;
    o.own_.clear();
    o.shape_.clear();
    return *this;
  }

  // Resizes owned storage; growing reallocates, shrinking keeps capacity (no hot-loop allocs).
  void reshape(Shape shape) {
    const auto n = static_cast<size_t>(shape_count(shape));
    if (!owns() && data_ != nullptr && n > static_cast<size_t>(size()))
      throw ShapeError("cannot grow a tensor view from " + shape_str(shape_) + " to " + shape_str(shape));
    shape_ = std::move(shape);
    if (owns() || data_ == nullptr) {
      own_.resize(n);
      data_ = own_.data();
    }
  }
  // Same element count, new dims: no data movement.
  void reinterpret(Shape shape) {
    if (shape_count(shape) != size())
      throw ShapeError("cannot view " + shape_str(shape_) + " as " + shape_str(shape));
    shape_ = std::move(shape);
  }

  bool owns() const { return data_ != nullptr && !own_.empty() && data_ == own_.data(); }
  const Shape& shape() const { return shape_; }
  int64_t dim(int i) const { return shape_[static_cast<size_t>(canonical_axis(i, shape_.size()))]; }
  size_t rank() const { return shape_.size(); }
  int64_t size() const { return shape_.empty() && data_ == nullptr ? 0 : shape_count(shape_); }
  T* data() { return data_; }
  const T* data() const { return data_; }
  T& operator[](int64_t i) { return data_[i]; }
  const T& operator[](int64_t i) const { return data_[i]; }
  std::span<T> span() { return {data_, static_cast<size_t>(size())}; }
  std::span<const T> span() const { return {data_, static_cast<size_t>(size())}; }
  void fill(T v) { std::fill(data_, data_ + size(), v); }

 private:
  Shape shape_;
  std::vector<T> own_;
  T* data_ = nullptr;
};

}  // namespace octet
