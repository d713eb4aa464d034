// The Data layer an importer's `-D lmdb_dir` puts in the test prototxt in place of a plain
// input: type Data, phase TEST, data_param {source, batch_size: 0, backend: LMDB}, so
// calibration can run on the LMDB directly. The checked overload also compares the LMDB's first
// record with the net input shape. Depends on data/lmdb.hpp and the umodel proto only.
#pragma once
#include <string>

#include "octet/data/lmdb.hpp"
#include "octet/proto/umodel.pb.h"

namespace octet::data {

// A Data layer named after, and producing, `top_name` (the net input it replaces).
inline ufw::LayerParameter make_data_layer(const std::string& lmdb_dir, const std::string& top_name) {
  ufw::LayerParameter l;
  l.set_name(top_name);
  l.set_type("Data");
  l.add_top(top_name);
  l.add_include()->set_phase(ufw::TEST);
  auto* d = l.mutable_data_param();
  d->set_source(lmdb_dir);
  d->set_batch_size(0);
  d->set_backend(ufw::DataParameter::LMDB);
  return l;
}

// Same, after checking that records fit the net input `net_shape`: a record of exactly that
// shape keeps batch_size 0; a record without the batch axis ([C,H,W] for an [N,C,H,W] input)
// gets batch_size N so the layer stacks N records. Anything else is a ShapeError naming both
// shapes. Throws IoError when the LMDB cannot be read or is empty.
inline ufw::LayerParameter make_data_layer(const std::string& lmdb_dir, const std::string& top_name,
                                           const Shape& net_shape) {
  auto l = make_data_layer(lmdb_dir, top_name);
  LmdbReader r(lmdb_dir);
  Sample s;
  std::string key;
  if (!r.first(s, &key)) throw IoError(error_text(lmdb_dir, "LMDB is empty"));
  if (s.encoded) return l;  // compressed images: shape known only after decoding
  if (s.shape == net_shape) return l;
  if (s.shape.size() + 1 == net_shape.size() && net_shape[0] >= 1 &&
      std::equal(s.shape.begin(), s.shape.end(), net_shape.begin() + 1)) {
    l.mutable_data_param()->set_batch_size(static_cast<uint32_t>(net_shape[0]));
    return l;
  }
  throw ShapeError(error_text(lmdb_dir, "key '" + key + "'",
                              "record shape " + shape_str(s.shape) + " does not match the net input '" + top_name +
                                  "' shape " + shape_str(net_shape)));
}

}  // namespace octet::data
