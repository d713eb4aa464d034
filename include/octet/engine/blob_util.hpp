// Reading float weights out of a ufw::BlobProto: its shape (N-D `shape` or Caffe's legacy
// num/channels/height/width) and its values (`data`, or `double_data` for old Caffe files).
// For layers and passes that consume blobs; depends only on core/, ir/blob.hpp (the one
// definition of a blob's shape, so layers and the IR never disagree) and the generated proto.
#pragma once
#include <algorithm>
#include <span>
#include <string>

#include "octet/core/error.hpp"
#include "octet/core/tensor.hpp"
#include "octet/ir/blob.hpp"
#include "octet/proto/umodel.pb.h"

namespace octet::engine {

// Legacy 4-D fields win only when `shape` is absent, as in Caffe's FromProto; see ir/blob.hpp.
using ir::blob_shape;

// Zero-copy view of float `data`; throws ModelError when the blob stores doubles only or
// when the value count disagrees with the shape. `what` names the blob in the message.
inline std::span<const float> blob_floats(const ufw::BlobProto& b, const std::string& what = "blob") {
  const Shape s = blob_shape(b);
  const int64_t want = shape_count(s);
  if (b.data_size() == 0 && b.double_data_size() != 0)
    throw ModelError(error_text(what, "holds double_data; use blob_to_tensor"));
  if (b.data_size() != want)
    throw ModelError(error_text(what, "has " + std::to_string(b.data_size()) + " values but shape " +
                                          shape_str(s)));
  return {b.data().data(), static_cast<size_t>(b.data_size())};
}

// Owning copy with shape; accepts float or double storage.
inline Tensor<float> blob_to_tensor(const ufw::BlobProto& b, const std::string& what = "blob") {
  const Shape s = blob_shape(b);
  const int64_t want = shape_count(s);
  Tensor<float> t(s);
  if (b.data_size() == 0 && b.double_data_size() != 0) {
    if (b.double_data_size() != want)
      throw ModelError(error_text(what, "has " + std::to_string(b.double_data_size()) +
                                            " values but shape " + shape_str(s)));
    for (int64_t i = 0; i < want; ++i) t[i] = static_cast<float>(b.double_data(static_cast<int>(i)));
    return t;
  }
  const auto v = blob_floats(b, what);
  std::copy(v.begin(), v.end(), t.data());
  return t;
}

}  // namespace octet::engine
