// The Data layer (also AnnotatedData): a data source that feeds tops `data` (and optionally `label`) from an LMDB of
// ufw.Datum records (data_param.source), applying the layer's transform_param. batch_size 0
// gives one record per forward exactly as stored (the ufwio convention, which `-D` writes);
// batch_size N stacks N records ([N,...record], or concatenated along axis 0 for 4-D records).
// The stream cycles to the first record after the last. Top shapes come from the first record;
// a later record of another shape is an error naming both shapes.
// Depends on engine/layer.hpp and data/ (LMDB, transforms); not on the Net.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "octet/data/lmdb.hpp"
#include "octet/data/transform.hpp"
#include "octet/engine/layer.hpp"

namespace octet::engine {

class DataLayer : public Layer {
 public:
  explicit DataLayer(const ufw::LayerParameter& p) : Layer(p) {
    if (!p.has_data_param() || p.data_param().source().empty())
      throw ModelError(error_text("layer " + p.name(), "Data layer needs data_param.source (an LMDB folder)"));
    // Caffe's default backend is LEVELDB; only an explicit LEVELDB is refused.
    if (p.data_param().has_backend() && p.data_param().backend() != ufw::DataParameter::LMDB)
      throw UnsupportedError(error_text("layer " + p.name(), "data_param.backend LEVELDB is not supported; use LMDB"));
    if (p.top_size() < 1 || p.top_size() > 2)
      throw ModelError(error_text("layer " + p.name(), "Data layer has tops data [, label], got " +
                                                            std::to_string(p.top_size())));
    transform_ = data::Transform::from_param(p.transform_param(), p.name());
    force_gray_ = p.transform_param().force_gray();
    force_color_ = p.transform_param().force_color();
    batch_ = static_cast<int64_t>(p.data_param().batch_size());
    source_ = p.data_param().source();
  }

  bool is_data_source() const override { return true; }

  std::vector<Shape> reshape(const std::vector<Shape>& bottoms) override {
    if (!bottoms.empty()) throw ShapeError("Data layer takes no bottoms");
    open();
    data::Sample first;
    std::string key;
    if (!reader_->first(first, &key)) throw IoError(error_text(source_, "LMDB is empty"));
    record_shape_ = prepare(first, key);
    Shape top;
    if (batch_ == 0) {
      top = record_shape_;
    } else if (record_shape_.size() == 4) {
      top = record_shape_;
      top[0] *= batch_;
    } else {
      top = record_shape_;
      top.insert(top.begin(), batch_);
    }
    std::vector<Shape> out{top};
    if (param().top_size() == 2) out.push_back({batch_ == 0 ? 1 : batch_});
    return out;
  }

  void forward(const std::vector<const FloatTensor*>& bottoms, const std::vector<FloatTensor*>& tops) override {
    (void)bottoms;
    if (!reader_) reshape({});
    const int64_t records = batch_ == 0 ? 1 : batch_;
    const int64_t per = shape_count(record_shape_);
    if (tops.empty() || tops[0]->size() != per * records)
      throw ShapeError("Data layer top is not sized to " + std::to_string(records) + " x " + shape_str(record_shape_));
    float* dst = tops[0]->data();
    for (int64_t r = 0; r < records; ++r) {
      reader_->next_cycling(sample_, &key_);
      if (transform_.empty() && !sample_.encoded) {
        check_shape(sample_.shape);
        data::to_float(sample_, dst + r * per);
      } else {
        const Shape s = prepare(sample_, key_);
        check_shape(s);
        std::copy(buf_.begin(), buf_.end(), dst + r * per);
      }
      if (tops.size() > 1) tops[1]->data()[r] = static_cast<float>(sample_.label.value_or(0));
    }
  }

  // Records in the LMDB (for tools that run one pass over a test set).
  size_t record_count() {
    open();
    return reader_->size();
  }
  // Restarts the stream at the first record.
  void rewind() {
    if (reader_) reader_->rewind();
  }
  const data::Transform& transform() const { return transform_; }

 private:
  void open() {
    if (reader_) return;
    reader_ = std::make_unique<data::LmdbReader>(source_);
    reader_->set_annotated(type() == "AnnotatedData");
  }

  // Decodes/transforms a record into buf_ (when needed) and returns its output shape.
  Shape prepare(data::Sample& s, const std::string& key) {
    try {
      data::decode_encoded(s, force_gray_, force_color_);
      if (transform_.empty()) {
        buf_.resize(static_cast<size_t>(s.count()));
        data::to_float(s, buf_.data());
        return s.shape;
      }
      Shape out;
      transform_.apply(s, buf_, out);
      return out;
    } catch (const Error& e) {
      throw IoError(error_text(source_, "key '" + key + "'", e.what()));
    }
  }

  void check_shape(const Shape& s) const {
    if (s != record_shape_)
      throw ShapeError(error_text(source_, "key '" + key_ + "'",
                                  "record shape " + shape_str(s) + " does not match the net input shape " +
                                      shape_str(record_shape_) + " (set by the first record)"));
  }

  data::Transform transform_;
  bool force_gray_ = false, force_color_ = false;
  int64_t batch_ = 0;
  std::string source_;
  std::unique_ptr<data::LmdbReader> reader_;
  Shape record_shape_;
  data::Sample sample_;
  std::string key_;
  std::vector<float> buf_;
};

// AnnotatedData (Caffe-SSD) reads the image Datum of each AnnotatedDatum; boxes are not used.
inline void register_data_layers(LayerRegistry& r) {
  r.add("Data", make<DataLayer>);
  r.add("AnnotatedData", make<DataLayer>);
}

}  // namespace octet::engine
