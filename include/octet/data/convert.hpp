// create_lmdb's conversion: one source (image folder or list, IDX, npy) -> per-sample
// preprocessing (gray, resize, bgr2rgb, HWC->CHW, (pixel - mean) * scale, dtype) -> an LMDB in
// the ufwio layout, built in a folder beside the target and renamed into place. Order is the
// source's sorted order, or a seeded (reproducible) shuffle of it; --offset/--limit select from
// that order. Depends on data/ (datum, lmdb, sources, opencv); nothing from engine/.
#pragma once
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "octet/core/error.hpp"
#include "octet/data/lmdb.hpp"
#include "octet/data/image_codecs.hpp"
#include "octet/data/opencv.hpp"
#include "octet/data/sources.hpp"

namespace octet::data {

struct ConvertOptions {
  // Exactly one source.
  std::string image_root;   // --imageset_rootfolder
  std::string image_list;   // --list (paths relative to image_root)
  std::string idx;          // --idx
  std::string idx_labels;   // --idx_labels
  std::string npy;          // --npy
  std::string output;       // --imageset_lmdbfolder (default: image_root)
  int resize_h = 0, resize_w = 0;
  bool shuffle = false;
  uint32_t seed = 3;        // convert_imageset.py's fixed seed
  bool bgr2rgb = false, gray = false, strict = false;
  bool batch_dim = false;   // store [1,C,H,W] instead of [C,H,W]
  std::vector<float> mean, scale;
  DType dtype = DType::F32;
  int64_t limit = 0;        // 0 = all
  int64_t offset = 0;
  LmdbWriterOptions writer;
  bool progress = true;     // a bar on stderr, only when it is a terminal
};

struct ConvertStats {
  size_t written = 0;
  size_t skipped = 0;
  std::string first_skipped;
  std::string output;
};

// A one-line progress bar on stderr when it is a TTY; silent otherwise.
class Progress {
 public:
  Progress(size_t total, std::string label, bool enabled = true)
      : total_(total), label_(std::move(label)), on_(enabled && ::isatty(STDERR_FILENO)) {}
  ~Progress() { finish(); }
  void tick(size_t done) {
    if (!on_) return;
    const auto now = std::chrono::steady_clock::now();
    if (done < total_ && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const int width = 30;
    const int fill = total_ ? static_cast<int>(static_cast<double>(done) / static_cast<double>(total_) * width) : width;
    std::fprintf(stderr, "\r%s [%.*s%*s] %zu/%zu", label_.c_str(), fill, "##############################",
                 width - fill, "", done, total_);
    std::fflush(stderr);
    drawn_ = true;
  }
  void finish() {
    if (on_ && drawn_) std::fprintf(stderr, "\n");
    drawn_ = false;
  }

 private:
  size_t total_;
  std::string label_;
  bool on_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_{};
};

// Deterministic on every platform (std::shuffle's use of the engine is unspecified).
inline void seeded_shuffle(std::vector<size_t>& v, uint32_t seed) {
  std::mt19937 rng(seed);
  for (size_t i = v.size(); i > 1; --i) {
    const size_t j = static_cast<size_t>(rng() % i);
    std::swap(v[i - 1], v[j]);
  }
}

namespace detail {

// HWC image -> CHW record (+ mean/scale, dtype) appended to `out`.
inline void image_to_sample(const cv::Mat& img, const ConvertOptions& o, Sample& out) {
  const int c = img.channels(), h = img.rows, w = img.cols;
  out.shape = {c, h, w};
  if (o.batch_dim) out.shape.insert(out.shape.begin(), 1);
  const size_t plane = static_cast<size_t>(h) * static_cast<size_t>(w);
  out.dtype = o.dtype;
  if (o.dtype == DType::U8) {
    if (img.depth() != CV_8U) throw UsageError("--dtype uint8 needs uint8 source data");
    out.bytes.resize(plane * static_cast<size_t>(c));
    std::vector<cv::Mat> planes;
    for (int i = 0; i < c; ++i) planes.emplace_back(h, w, CV_8U, out.bytes.data() + static_cast<size_t>(i) * plane);
    cv::split(img, planes);
    return;
  }
  out.bytes.resize(plane * static_cast<size_t>(c) * 4);
  float* dst = reinterpret_cast<float*>(out.bytes.data());
  std::vector<cv::Mat> planes;
  for (int i = 0; i < c; ++i) planes.emplace_back(h, w, CV_32F, dst + static_cast<size_t>(i) * plane);
  if (c == 1) {
    img.convertTo(planes[0], CV_32F);
  } else {
    cv::Mat f;
    img.convertTo(f, CV_32F);
    cv::split(f, planes);
  }
  if (o.mean.empty() && o.scale.empty()) return;
  auto pick = [&](const std::vector<float>& v, int i, float dflt) {
    if (v.empty()) return dflt;
    if (v.size() == 1) return v[0];
    if (static_cast<int>(v.size()) != c)
      throw UsageError("--mean/--scale have " + std::to_string(v.size()) + " values for " + std::to_string(c) +
                       " channels");
    return v[static_cast<size_t>(i)];
  };
  for (int i = 0; i < c; ++i) {
    const float m = pick(o.mean, i, 0.f), s = pick(o.scale, i, 1.f);
    float* p = dst + static_cast<size_t>(i) * plane;
    for (size_t k = 0; k < plane; ++k) p[k] = (p[k] - m) * s;
  }
}

// gray / resize / bgr2rgb on an HWC image, in that order (the reference converter's order).
inline cv::Mat preprocess_image(cv::Mat img, const ConvertOptions& o) {
  if (o.gray && img.channels() == 3) cv::cvtColor(img, img, cv::COLOR_BGR2GRAY);
  if (o.gray && img.channels() == 4) cv::cvtColor(img, img, cv::COLOR_BGRA2GRAY);
  if (o.resize_h > 0 || o.resize_w > 0) {
    const int th = o.resize_h > 0 ? o.resize_h : img.rows, tw = o.resize_w > 0 ? o.resize_w : img.cols;
    if (th != img.rows || tw != img.cols) {
      cv::Mat r;
      cv::resize(img, r, cv::Size(tw, th), 0, 0, cv::INTER_LINEAR);
      img = r;
    }
  }
  if (o.bgr2rgb && img.channels() == 3) cv::cvtColor(img, img, cv::COLOR_BGR2RGB);
  if (o.bgr2rgb && img.channels() == 4) cv::cvtColor(img, img, cv::COLOR_BGRA2RGBA);
  return img;
}

// A tensor item (npy/IDX record) as an HWC Mat, when it is an image ([H,W] or [C,H,W]).
inline bool item_as_image(const Sample& s, cv::Mat& out, std::vector<float>& scratch) {
  if (s.shape.size() != 2 && s.shape.size() != 3) return false;
  const int c = s.shape.size() == 3 ? static_cast<int>(s.shape[0]) : 1;
  const int h = static_cast<int>(s.shape[s.shape.size() - 2]), w = static_cast<int>(s.shape.back());
  if (c < 1 || c > CV_CN_MAX) return false;
  const void* data = s.bytes.data();
  int depth = CV_8U;
  if (s.dtype != DType::U8) {
    depth = CV_32F;
    if (s.dtype != DType::F32) {
      scratch = to_float(s);
      data = scratch.data();
    }
  }
  std::vector<cv::Mat> planes;
  const size_t plane = static_cast<size_t>(h) * static_cast<size_t>(w) * (depth == CV_8U ? 1 : 4);
  for (int i = 0; i < c; ++i)
    planes.emplace_back(h, w, CV_MAKETYPE(depth, 1),
                        const_cast<unsigned char*>(static_cast<const unsigned char*>(data) + static_cast<size_t>(i) * plane));
  if (c == 1) out = planes[0];
  else cv::merge(planes, out);
  return true;
}

}  // namespace detail

// Runs a conversion. Throws UsageError for bad options, IoError for unreadable inputs, a
// corrupt source, an empty selection or a failed write; on any error nothing is left at the
// output path (an LMDB already there is kept).
inline ConvertStats convert_to_lmdb(const ConvertOptions& o) {
  const int sources = !o.image_root.empty() + !o.idx.empty() + !o.npy.empty();
  if (sources != 1)
    throw UsageError("give exactly one source: --imageset_rootfolder, --idx or --npy");
  if (!o.image_list.empty() && o.image_root.empty()) throw UsageError("--list needs --imageset_rootfolder");
  if (!o.idx_labels.empty() && o.idx.empty()) throw UsageError("--idx_labels needs --idx");
  if (o.dtype != DType::F32 && o.dtype != DType::U8) throw UsageError("--dtype must be float32 or uint8");
  if (o.dtype == DType::U8 && (!o.mean.empty() || !o.scale.empty()))
    throw UsageError("--dtype uint8 cannot hold (pixel - mean) * scale; use float32");
  if (o.limit < 0 || o.offset < 0) throw UsageError("--limit and --offset must be >= 0");
  if (o.resize_h < 0 || o.resize_w < 0) throw UsageError("--resize_height/--resize_width must be >= 0");
  const std::string output = !o.output.empty() ? o.output : o.image_root;
  if (output.empty()) throw UsageError("--imageset_lmdbfolder is required");

  // The source as an indexable list.
  std::string source_name;
  std::vector<ImageEntry> images;
  Array array, labels;
  size_t total = 0;
  if (!o.image_root.empty()) {
    source_name = o.image_list.empty() ? o.image_root : o.image_list;
    images = o.image_list.empty() ? list_image_folder(o.image_root) : read_image_list(o.image_list);
    total = images.size();
  } else if (!o.idx.empty()) {
    source_name = o.idx;
    array = read_idx(o.idx);
    if (!o.idx_labels.empty()) {
      labels = read_idx(o.idx_labels);
      if (labels.shape.size() != 1 || labels.shape[0] != array.shape[0])
        throw IoError(error_text(o.idx_labels, "label file shape " + shape_str(labels.shape) +
                                                   " does not match " + std::to_string(array.shape[0]) + " images"));
    }
    total = static_cast<size_t>(array.shape[0]);
  } else {
    source_name = o.npy;
    array = read_npy(o.npy);
    if (array.shape.empty()) throw IoError(error_text(o.npy, "a 0-d array has no records"));
    total = static_cast<size_t>(array.shape[0]);
  }
  if (total == 0) throw IoError(error_text(source_name, "source is empty"));

  std::vector<size_t> order(total);
  for (size_t i = 0; i < total; ++i) order[i] = i;
  if (o.shuffle) seeded_shuffle(order, o.seed);
  const size_t begin = std::min(total, static_cast<size_t>(o.offset));
  size_t end = total;
  if (o.limit > 0) end = std::min(total, begin + static_cast<size_t>(o.limit));
  if (begin >= end)
    throw IoError(error_text(source_name, "--offset " + std::to_string(o.offset) + " leaves no records of " +
                                              std::to_string(total)));

  // An output folder that holds other files too (the image root itself, by default) gets only
  // data.mdb/lock.mdb replaced; otherwise the whole folder is renamed into place.
  const fs::path target(output);
  bool files_only = false;
  if (fs::is_directory(target))
    for (const auto& e : fs::directory_iterator(target)) {
      const auto n = e.path().filename().string();
      if (n != "data.mdb" && n != "lock.mdb") files_only = true;
    }
  StagedDir staged(files_only ? target / ".octet_lmdb" : target);

  ConvertStats st;
  st.output = output;
  {
    LmdbWriter w(staged.path(), o.writer);
    Progress bar(end - begin, "create_lmdb", o.progress);
    Sample s;
    std::vector<float> scratch;
    for (size_t n = begin; n < end; ++n) {
      const size_t i = order[n];
      std::string key;
      if (!images.empty()) {
        const auto& im = images[i];
        const fs::path file = fs::path(o.image_root) / im.rel;
        cv::Mat img = read_image(file.string(), o.gray ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR);
        if (img.empty()) {
          if (o.strict) throw IoError(error_text(file.string(), "cannot read image"));
          if (!st.skipped++) st.first_skipped = file.string();
          bar.tick(n - begin + 1);
          continue;
        }
        detail::image_to_sample(detail::preprocess_image(img, o), o, s);
        s.label = im.label;
        key = im.rel;
      } else {
        Sample item = array.item(static_cast<int64_t>(i));
        cv::Mat img;
        if (detail::item_as_image(item, img, scratch)) {
          // An [H,W] item (IDX images) becomes a one-channel [1,H,W] record, like a gray image.
          detail::image_to_sample(detail::preprocess_image(img, o), o, s);
        } else {
          if (o.resize_h || o.resize_w || o.bgr2rgb || o.gray)
            throw UsageError(error_text(source_name, "records of shape " + shape_str(item.shape) +
                                                         " are not images; resize/bgr2rgb/gray do not apply"));
          if (o.dtype == DType::U8 && item.dtype != DType::U8) throw UsageError("--dtype uint8 needs uint8 source data");
          s.shape = item.shape;
          if (o.batch_dim) s.shape.insert(s.shape.begin(), 1);
          s.dtype = o.dtype;
          if (o.dtype == DType::U8) {
            s.bytes = std::move(item.bytes);
          } else {
            auto f = to_float(item);
            const int64_t c = item.shape.empty() ? 1 : item.shape[0];
            const int64_t per = c ? static_cast<int64_t>(f.size()) / c : 0;
            for (int64_t ch = 0; ch < c; ++ch) {
              const float m = o.mean.empty() ? 0.f : o.mean.size() == 1 ? o.mean[0] : o.mean.at(static_cast<size_t>(ch));
              const float k = o.scale.empty() ? 1.f : o.scale.size() == 1 ? o.scale[0] : o.scale.at(static_cast<size_t>(ch));
              for (int64_t e = 0; e < per; ++e) f[static_cast<size_t>(ch * per + e)] = (f[static_cast<size_t>(ch * per + e)] - m) * k;
            }
            s.bytes.resize(f.size() * 4);
            if (!f.empty()) std::memcpy(s.bytes.data(), f.data(), s.bytes.size());
          }
        }
        s.label.reset();
        if (!labels.shape.empty()) {
          int32_t lab = 0;
          Sample l = labels.item(static_cast<int64_t>(i));
          float v;
          to_float(l, &v);
          lab = static_cast<int32_t>(v);
          s.label = lab;
        }
      }
      w.put(s, key);
      ++st.written;
      bar.tick(n - begin + 1);
    }
    bar.finish();
    w.close();
  }
  if (st.written == 0)
    throw IoError(error_text(source_name, "no readable images (" + std::to_string(st.skipped) + " skipped, first " +
                                              st.first_skipped + ")"));
  if (files_only) {
    // Replace the two LMDB files one by one (each rename is atomic).
    for (const char* f : {"data.mdb", "lock.mdb"}) {
      std::error_code ec;
      if (fs::exists(staged.path() / f)) {
        fs::rename(staged.path() / f, target / f, ec);
        if (ec) throw IoError(error_text((target / f).string(), "cannot move into place", ec.message()));
      } else {
        fs::remove(target / f, ec);
      }
    }
  } else {
    staged.commit();
  }
  return st;
}

}  // namespace octet::data
