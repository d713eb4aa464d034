// The Data layer's preprocessing: a TransformationParameter resolved into one ordered chain of
// steps (RESIZE, CROP, STAND, channel swap, mean blob, per-image standardization), applied to
// CHW images with OpenCV semantics (resize in the record's own element type, INTER_LINEAR by
// default, so uint8 records round exactly as a training pipeline using cv::resize does).
// Two input styles resolve into the same chain: Sophgo's ordered `transform_op` list, or the
// Caffe fields (fixed order resize -> crop -> mean -> scale -> standardization); a parameter
// that mixes them is an error naming the layer. Depends on data/datum.hpp, OpenCV core/imgproc/
// imgcodecs and the umodel proto; nothing from engine/.
#pragma once
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>


#include "octet/core/error.hpp"
#include "octet/data/datum.hpp"
#include "octet/data/image_codecs.hpp"
#include "octet/data/opencv.hpp"
#include "octet/proto/umodel.pb.h"

namespace octet::data {

struct TransformStep {
  enum class Kind { Resize, Crop, Stand, Swap, MeanBlob, Standardize };
  Kind kind = Kind::Stand;
  // Resize: h x w (warp), or side (shorter side, aspect kept), or a ResizeParameter mode.
  int h = 0, w = 0, side = 0;
  int interp = cv::INTER_LINEAR;
  int mode = ufw::ResizeParameter::WARP;
  int border = cv::BORDER_CONSTANT;
  std::vector<float> pad_value;
  // Crop: h x w centred, or a TF central fraction; padding fills a crop larger than the image.
  float fraction = 0.f;
  float padding = 0.f;
  bool allow_pad = false;
  // Stand: (x - mean[c]) * scale[c] / div, with one value broadcast to all channels.
  std::vector<float> mean, scale;
  float div = 1.f;
  // MeanBlob: subtracted element-wise (centre window when larger than the image).
  std::vector<float> blob;  // CHW
  Shape blob_shape;         // [C,H,W]
  std::string source;       // mean file, for messages

  static TransformStep of(Kind k) {
    TransformStep s;
    s.kind = k;
    return s;
  }
  std::string describe() const;
};

namespace detail {

inline std::string list_str(const std::vector<float>& v) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < v.size(); ++i) os << (i ? "," : "") << v[i];
  return os.str() + "]";
}

inline const char* interp_name(int i) {
  switch (i) {
    case cv::INTER_LINEAR: return "linear";
    case cv::INTER_AREA: return "area";
    case cv::INTER_NEAREST: return "nearest";
    case cv::INTER_CUBIC: return "cubic";
    case cv::INTER_LANCZOS4: return "lanczos4";
  }
  return "?";
}

inline int interp_from_proto(int m) {
  switch (m) {
    case ufw::ResizeParameter::AREA: return cv::INTER_AREA;
    case ufw::ResizeParameter::NEAREST: return cv::INTER_NEAREST;
    case ufw::ResizeParameter::CUBIC: return cv::INTER_CUBIC;
    case ufw::ResizeParameter::LANCZOS4: return cv::INTER_LANCZOS4;
    default: return cv::INTER_LINEAR;
  }
}

inline int border_from_proto(int m) {
  switch (m) {
    case ufw::ResizeParameter::MIRRORED: return cv::BORDER_REFLECT101;
    case ufw::ResizeParameter::REPEAT_NEAREST: return cv::BORDER_REPLICATE;
    default: return cv::BORDER_CONSTANT;
  }
}

// Caffe mean.binaryproto: a BlobProto with N-D shape or legacy num/channels/height/width.
inline void load_mean_blob(const std::string& file, TransformStep& st) {
  std::ifstream f(file, std::ios::binary);
  if (!f) throw IoError(error_text(file, "cannot open mean file"));
  ufw::BlobProto b;
  if (!b.ParseFromIstream(&f)) throw IoError(error_text(file, "not a BlobProto mean file"));
  Shape s;
  if (b.has_shape()) {
    for (auto d : b.shape().dim()) s.push_back(d);
  } else {
    s = {b.num(), b.channels(), b.height(), b.width()};
  }
  if (s.size() == 4 && s[0] == 1) s.erase(s.begin());
  if (s.size() != 3) throw IoError(error_text(file, "mean blob shape " + shape_str(s) + " is not [1,C,H,W]"));
  if (b.data_size() != shape_count(s))
    throw IoError(error_text(file, "mean blob has " + std::to_string(b.data_size()) + " values for shape " +
                                       shape_str(s)));
  st.blob.assign(b.data().begin(), b.data().end());
  st.blob_shape = s;
  st.source = file;
}

// CHW planes <-> HWC cv::Mat.
inline cv::Mat chw_to_mat(const void* data, int depth, int c, int h, int w) {
  std::vector<cv::Mat> planes;
  const size_t plane_bytes = static_cast<size_t>(h) * w * CV_ELEM_SIZE(depth);
  for (int i = 0; i < c; ++i)
    planes.emplace_back(h, w, CV_MAKETYPE(depth, 1),
                        const_cast<char*>(static_cast<const char*>(data) + i * plane_bytes));
  cv::Mat out;
  cv::merge(planes, out);
  return out;
}

inline void mat_to_chw(const cv::Mat& m, float* dst) {
  cv::Mat f;
  if (m.depth() != CV_32F) m.convertTo(f, CV_32F);
  else f = m;
  const int c = f.channels(), h = f.rows, w = f.cols;
  std::vector<cv::Mat> planes;
  for (int i = 0; i < c; ++i) planes.emplace_back(h, w, CV_32F, dst + static_cast<size_t>(i) * h * w);
  cv::split(f, planes);
}

inline std::vector<float> per_channel(const std::vector<float>& v, int c, float fill, const char* what) {
  if (v.empty()) return std::vector<float>(static_cast<size_t>(c), fill);
  if (v.size() == 1) return std::vector<float>(static_cast<size_t>(c), v[0]);
  if (static_cast<int>(v.size()) != c)
    throw ShapeError(std::string(what) + " has " + std::to_string(v.size()) + " values for " + std::to_string(c) +
                     " channels");
  return v;
}

}  // namespace detail

inline std::string TransformStep::describe() const {
  std::ostringstream os;
  switch (kind) {
    case Kind::Resize:
      os << "RESIZE ";
      if (side) os << "shorter side " << side;
      else os << h << "x" << w;
      if (mode == ufw::ResizeParameter::FIT_SMALL_SIZE) os << " fit_small_size";
      if (mode == ufw::ResizeParameter::FIT_LARGE_SIZE_AND_PAD) os << " fit_large_size_and_pad";
      os << " (" << detail::interp_name(interp) << ")";
      break;
    case Kind::Crop:
      os << "CROP ";
      if (fraction > 0) os << "central fraction " << fraction;
      else os << h << "x" << w;
      break;
    case Kind::Stand:
      os << "STAND mean " << detail::list_str(mean) << " scale " << detail::list_str(scale) << " div " << div;
      break;
    case Kind::Swap: os << "BGR2RGB"; break;
    case Kind::MeanBlob: os << "MEAN_FILE " << source << " " << shape_str(blob_shape); break;
    case Kind::Standardize: os << "STANDARDIZATION (per image)"; break;
  }
  return os.str();
}

class Transform {
 public:
  Transform() = default;

  // Resolves a layer's transform_param. `layer` names the layer in errors.
  static Transform from_param(const ufw::TransformationParameter& p, const std::string& layer) {
    Transform t;
    const std::string where = "layer " + layer;
    const bool caffe = p.has_scale() || p.has_crop_size() || p.has_mean_file() || p.mean_value_size() ||
                       p.has_resize_param() || p.has_crop_h() || p.has_crop_w() || p.has_crop_fraction() ||
                       p.resize_size() || p.has_standardization();
    if (p.transform_op_size() && caffe)
      throw ModelError(error_text(where, "transform_param mixes transform_op with Caffe fields (scale, mean_value, "
                                         "crop_size, resize_param ...); use one style"));
    using Kind = TransformStep::Kind;
    if (p.transform_op_size()) {
      for (const auto& op : p.transform_op()) {
        // bgr2rgb acts before the op's own work, so STAND means/scales are in the net's order.
        if (op.bgr2rgb()) t.steps_.push_back(TransformStep::of(Kind::Swap));
        switch (op.op()) {
          case ufw::TransformOp::RESIZE: {
            auto s = TransformStep::of(Kind::Resize);
            s.h = static_cast<int>(op.resize_h());
            s.w = static_cast<int>(op.resize_w());
            s.side = static_cast<int>(op.resize_side());
            if (!(s.h > 0 && s.w > 0) && s.side <= 0)
              throw ModelError(error_text(where, "RESIZE transform_op needs resize_h and resize_w, or resize_side"));
            if (s.h > 0 && s.w > 0) s.side = 0;
            t.steps_.push_back(s);
            break;
          }
          case ufw::TransformOp::CROP: {
            auto s = TransformStep::of(Kind::Crop);
            s.h = static_cast<int>(op.crop_h());
            s.w = static_cast<int>(op.crop_w());
            s.fraction = op.crop_fraction();
            s.padding = op.padding();
            s.allow_pad = true;
            if (s.fraction > 0 && (s.h || s.w))
              throw ModelError(error_text(where, "CROP transform_op has both crop_fraction and crop_h/crop_w"));
            if (s.fraction > 1 || (s.fraction <= 0 && (s.h <= 0 || s.w <= 0)))
              throw ModelError(error_text(where, "CROP transform_op needs crop_h and crop_w, or crop_fraction in (0,1]"));
            t.steps_.push_back(s);
            break;
          }
          case ufw::TransformOp::STAND: {
            if (op.has_mean_file()) {
              auto m = TransformStep::of(Kind::MeanBlob);
              detail::load_mean_blob(op.mean_file(), m);
              t.steps_.push_back(m);
            }
            auto s = TransformStep::of(Kind::Stand);
            s.mean.assign(op.mean_value().begin(), op.mean_value().end());
            s.scale.assign(op.scale().begin(), op.scale().end());
            s.div = op.div();
            if (s.div == 0) throw ModelError(error_text(where, "STAND transform_op has div 0"));
            t.steps_.push_back(s);
            break;
          }
          case ufw::TransformOp::NONE: break;
        }
      }
      return t;
    }
    // Caffe fields. mirror is a training-time augmentation (ignored at TEST), as are noise,
    // distortion, expansion and emit constraints.
    if (p.has_resize_param()) {
      const auto& r = p.resize_param();
      if (r.height() > 0 || r.width() > 0) {
        auto s = TransformStep::of(Kind::Resize);
        s.h = static_cast<int>(r.height());
        s.w = static_cast<int>(r.width());
        if (s.h <= 0 || s.w <= 0) throw ModelError(error_text(where, "resize_param needs both height and width"));
        s.mode = r.resize_mode();
        s.border = detail::border_from_proto(r.pad_mode());
        s.pad_value.assign(r.pad_value().begin(), r.pad_value().end());
        if (r.interp_mode_size()) s.interp = detail::interp_from_proto(r.interp_mode(0));
        t.steps_.push_back(s);
      }
    }
    if (p.resize_size()) {
      auto s = TransformStep::of(Kind::Resize);
      if (p.resize_size() == 1) s.side = static_cast<int>(p.resize(0));
      else if (p.resize_size() == 2) s.h = static_cast<int>(p.resize(0)), s.w = static_cast<int>(p.resize(1));
      else throw ModelError(error_text(where, "resize takes 1 (shorter side) or 2 (h, w) values"));
      t.steps_.push_back(s);
    }
    if (p.crop_size() || p.crop_h() || p.crop_w()) {
      auto s = TransformStep::of(Kind::Crop);
      s.h = static_cast<int>(p.crop_h() ? p.crop_h() : p.crop_size());
      s.w = static_cast<int>(p.crop_w() ? p.crop_w() : p.crop_size());
      if (s.h <= 0 || s.w <= 0) throw ModelError(error_text(where, "crop_h and crop_w must both be set"));
      t.steps_.push_back(s);
    }
    if (p.crop_fraction() > 0) {
      if (p.crop_fraction() > 1) throw ModelError(error_text(where, "crop_fraction must be in (0,1]"));
      auto s = TransformStep::of(Kind::Crop);
      s.fraction = p.crop_fraction();
      t.steps_.push_back(s);
    }
    if (p.has_mean_file() && p.mean_value_size())
      throw ModelError(error_text(where, "transform_param has both mean_file and mean_value"));
    if (p.has_mean_file()) {
      auto m = TransformStep::of(Kind::MeanBlob);
      detail::load_mean_blob(p.mean_file(), m);
      t.steps_.push_back(m);
    }
    if (p.mean_value_size() || p.scale() != 1.f) {
      auto s = TransformStep::of(Kind::Stand);
      s.mean.assign(p.mean_value().begin(), p.mean_value().end());
      if (p.scale() != 1.f) s.scale = {p.scale()};
      t.steps_.push_back(s);
    }
    if (p.standardization()) t.steps_.push_back(TransformStep::of(Kind::Standardize));
    return t;
  }

  bool empty() const { return steps_.empty(); }
  const std::vector<TransformStep>& steps() const { return steps_; }
  void add(TransformStep s) { steps_.push_back(std::move(s)); }

  // The resolved chain, one line ("none" when empty), for logs and `ufw info`.
  std::string describe() const {
    if (steps_.empty()) return "none";
    std::string out;
    for (const auto& s : steps_) out += (out.empty() ? "" : " -> ") + s.describe();
    return out;
  }

  // Transforms a record holding one image [C,H,W] / [H,W] or a batch [N,C,H,W] into float32.
  // `out_shape` keeps the record's rank.
  void apply(const Sample& in, std::vector<float>& out, Shape& out_shape) const {
    const Shape& s = in.shape;
    int64_t n = 1, c = 1, h, w;
    if (s.size() == 4) n = s[0], c = s[1], h = s[2], w = s[3];
    else if (s.size() == 3) c = s[0], h = s[1], w = s[2];
    else if (s.size() == 2) h = s[0], w = s[1];
    else throw ShapeError("transform_param needs image records ([C,H,W] or [N,C,H,W]), got " + shape_str(s));
    const int depth = in.dtype == DType::U8 ? CV_8U : CV_32F;
    std::vector<float> tmp;
    const size_t per = static_cast<size_t>(c * h * w);
    if (depth == CV_32F && in.dtype != DType::F32) tmp = to_float(in);
    const char* base = depth == CV_32F && in.dtype != DType::F32 ? reinterpret_cast<const char*>(tmp.data())
                                                                  : reinterpret_cast<const char*>(in.bytes.data());
    out.clear();
    for (int64_t i = 0; i < n; ++i) {
      cv::Mat m = detail::chw_to_mat(base + i * per * CV_ELEM_SIZE(depth), depth, static_cast<int>(c),
                                     static_cast<int>(h), static_cast<int>(w));
      m = run(m);
      const size_t before = out.size();
      out.resize(before + m.total() * m.channels());
      detail::mat_to_chw(m, out.data() + before);
      if (i == 0) {
        if (s.size() == 4) out_shape = {n, m.channels(), m.rows, m.cols};
        else if (s.size() == 3) out_shape = {m.channels(), m.rows, m.cols};
        else {
          if (m.channels() != 1) throw ShapeError("transform produced " + std::to_string(m.channels()) +
                                                  " channels from a [H,W] record");
          out_shape = {m.rows, m.cols};
        }
      }
    }
  }

  // Runs the chain on one HWC image (any depth); returns the result (float after STAND).
  cv::Mat run(cv::Mat m) const {
    using Kind = TransformStep::Kind;
    for (const auto& st : steps_) {
      switch (st.kind) {
        case Kind::Resize: m = resize(m, st); break;
        case Kind::Crop: m = crop(m, st); break;
        case Kind::Swap: {
          if (m.channels() >= 3) {
            std::vector<cv::Mat> p;
            cv::split(m, p);
            std::swap(p[0], p[2]);
            cv::merge(p, m);
          }
          break;
        }
        case Kind::Stand: {
          const int c = m.channels();
          const auto mean = detail::per_channel(st.mean, c, 0.f, "mean_value");
          const auto scale = detail::per_channel(st.scale, c, 1.f, "scale");
          cv::Mat f;
          m.convertTo(f, CV_32F);
          const int64_t px = static_cast<int64_t>(f.total());
          float* d = f.ptr<float>();  // convertTo output is continuous
          std::vector<float> k(static_cast<size_t>(c));
          for (int j = 0; j < c; ++j) k[static_cast<size_t>(j)] = scale[static_cast<size_t>(j)] / st.div;
          for (int64_t i = 0; i < px; ++i)
            for (int j = 0; j < c; ++j) {
              float& v = d[i * c + j];
              v = (v - mean[static_cast<size_t>(j)]) * k[static_cast<size_t>(j)];
            }
          m = f;
          break;
        }
        case Kind::MeanBlob: {
          const int bc = static_cast<int>(st.blob_shape[0]), bh = static_cast<int>(st.blob_shape[1]),
                    bw = static_cast<int>(st.blob_shape[2]);
          if (bc != m.channels() || bh < m.rows || bw < m.cols)
            throw ShapeError(error_text(st.source, "mean blob " + shape_str(st.blob_shape) + " does not cover image [" +
                                                       std::to_string(m.channels()) + "," + std::to_string(m.rows) +
                                                       "," + std::to_string(m.cols) + "]"));
          cv::Mat mean = detail::chw_to_mat(st.blob.data(), CV_32F, bc, bh, bw);
          mean = mean(cv::Rect((bw - m.cols) / 2, (bh - m.rows) / 2, m.cols, m.rows));
          cv::Mat f;
          m.convertTo(f, CV_32F);
          cv::subtract(f, mean, m);
          break;
        }
        case Kind::Standardize: {
          cv::Mat f;
          m.convertTo(f, CV_32F);
          const double count = static_cast<double>(f.total()) * f.channels();
          cv::Mat flat = f.reshape(1);
          const double mean = cv::sum(flat)[0] / count;
          const double var = std::max(0.0, flat.dot(flat) / count - mean * mean);
          const double adj = std::max(std::sqrt(var), 1.0 / std::sqrt(count));
          f.convertTo(m, CV_32F, 1.0 / adj, -mean / adj);
          break;
        }
      }
    }
    return m;
  }

 private:
  static cv::Mat resize(const cv::Mat& m, const TransformStep& st) {
    int th = st.h, tw = st.w;
    if (st.side > 0) {
      const double k = static_cast<double>(st.side) / std::min(m.rows, m.cols);
      th = m.rows <= m.cols ? st.side : static_cast<int>(std::lround(m.rows * k));
      tw = m.cols <= m.rows ? st.side : static_cast<int>(std::lround(m.cols * k));
    } else if (st.mode == ufw::ResizeParameter::FIT_SMALL_SIZE ||
               st.mode == ufw::ResizeParameter::FIT_LARGE_SIZE_AND_PAD) {
      const double kh = static_cast<double>(st.h) / m.rows, kw = static_cast<double>(st.w) / m.cols;
      const double k = st.mode == ufw::ResizeParameter::FIT_SMALL_SIZE ? std::max(kh, kw) : std::min(kh, kw);
      // The side whose factor was chosen lands exactly on its target; the other is rounded.
      if (k == kh) {
        th = st.h;
        tw = std::max(1, static_cast<int>(std::lround(m.cols * k)));
      } else {
        tw = st.w;
        th = std::max(1, static_cast<int>(std::lround(m.rows * k)));
      }
    }
    cv::Mat out;
    if (th != m.rows || tw != m.cols) cv::resize(m, out, cv::Size(tw, th), 0, 0, st.interp);
    else out = m;
    if (st.mode == ufw::ResizeParameter::FIT_LARGE_SIZE_AND_PAD && st.side == 0) {
      const int top = (st.h - th) / 2, left = (st.w - tw) / 2;
      cv::Scalar pad = cv::Scalar::all(st.pad_value.empty() ? 0.0 : st.pad_value[0]);
      if (st.pad_value.size() > 1)
        for (size_t i = 0; i < st.pad_value.size() && i < 4; ++i) pad[static_cast<int>(i)] = st.pad_value[i];
      cv::Mat padded;
      cv::copyMakeBorder(out, padded, top, st.h - th - top, left, st.w - tw - left, st.border, pad);
      out = padded;
    }
    return out;
  }

  static cv::Mat crop(const cv::Mat& m, const TransformStep& st) {
    int ch = st.h, cw = st.w, y, x;
    if (st.fraction > 0) {
      // TF central_crop: start = int((size - size * fraction) / 2), size = size - 2 * start.
      y = static_cast<int>((m.rows - m.rows * static_cast<double>(st.fraction)) / 2);
      x = static_cast<int>((m.cols - m.cols * static_cast<double>(st.fraction)) / 2);
      ch = m.rows - 2 * y;
      cw = m.cols - 2 * x;
      return m(cv::Rect(x, y, cw, ch)).clone();
    }
    if (ch > m.rows || cw > m.cols) {
      if (!st.allow_pad)
        throw ShapeError("crop " + std::to_string(ch) + "x" + std::to_string(cw) + " is larger than the image " +
                         std::to_string(m.rows) + "x" + std::to_string(m.cols));
      // resize-with-crop-or-pad: pad the short sides centrally with `padding`.
      const int ph = std::max(0, ch - m.rows), pw = std::max(0, cw - m.cols);
      cv::Mat src = m, padded;
      // A padding value a uint8 image cannot hold switches the image to float first.
      if (m.depth() == CV_8U && (st.padding < 0 || st.padding > 255 || st.padding != std::floor(st.padding)))
        m.convertTo(src, CV_32F);
      cv::copyMakeBorder(src, padded, ph / 2, ph - ph / 2, pw / 2, pw - pw / 2, cv::BORDER_CONSTANT,
                         cv::Scalar::all(st.padding));
      return crop(padded, st);
    }
    y = (m.rows - ch) / 2;
    x = (m.cols - cw) / 2;
    return m(cv::Rect(x, y, cw, ch)).clone();
  }

  std::vector<TransformStep> steps_;
};

// Decodes an `encoded` record (legacy convert_imageset --encoded) into a uint8 CHW record.
inline void decode_encoded(Sample& s, bool force_gray = false, bool force_color = false) {
  if (!s.encoded) return;
  cv::Mat raw(1, static_cast<int>(s.bytes.size()), CV_8U, s.bytes.data());
  const int flags = force_gray ? cv::IMREAD_GRAYSCALE : force_color ? cv::IMREAD_COLOR : cv::IMREAD_UNCHANGED;
  cv::Mat img = decode_image(raw, flags);
  if (img.empty()) throw IoError("encoded image data cannot be decoded");
  if (img.depth() != CV_8U) img.convertTo(img, CV_8U);
  std::vector<unsigned char> chw(img.total() * img.channels());
  std::vector<cv::Mat> planes;
  for (int i = 0; i < img.channels(); ++i)
    planes.emplace_back(img.rows, img.cols, CV_8U, chw.data() + static_cast<size_t>(i) * img.total());
  cv::split(img, planes);
  s.bytes = std::move(chw);
  s.shape = {img.channels(), img.rows, img.cols};
  s.dtype = DType::U8;
  s.encoded = false;
}

}  // namespace octet::data
