// OpenCV's image codecs (imread, imdecode), loaded on first use instead of linked. Linking
// libopencv_imgcodecs pulls in its whole dependency tree: GDAL, GDCM, poppler, HDF5, about 120
// shared libraries. Their relocations and initialisers cost every tool about 0.1 s at start,
// even though only encoded LMDB records and create_lmdb's image files need a decoder (an empty
// main linked with it: 0.11 s; without it: under 0.01 s).
// Depends on data/opencv.hpp, core/error.hpp; OCTET_OPENCV_IMGCODECS (the library's path) comes
// from CMake.
#pragma once
#include <dlfcn.h>

#include <string>

#include "octet/core/error.hpp"
#include "octet/data/opencv.hpp"

#ifndef OCTET_OPENCV_IMGCODECS
#define OCTET_OPENCV_IMGCODECS "libopencv_imgcodecs.so.406"
#endif

namespace octet::data {

namespace detail {

struct ImageCodecs {
  cv::Mat (*imdecode)(const cv::_InputArray&, int) = nullptr;
  cv::Mat (*imread)(const std::string&, int) = nullptr;
};

// Loaded once per process; a library that cannot be loaded is an IoError naming it.
inline const ImageCodecs& image_codecs() {
  static const ImageCodecs c = [] {
    void* h = ::dlopen(OCTET_OPENCV_IMGCODECS, RTLD_NOW | RTLD_LOCAL);
    if (!h) throw IoError(error_text(OCTET_OPENCV_IMGCODECS, std::string("cannot load the image codecs: ") + ::dlerror()));
    // The C++ symbols of cv::imdecode(InputArray, int) and cv::imread(const std::string&, int).
    ImageCodecs r;
    r.imdecode = reinterpret_cast<decltype(r.imdecode)>(::dlsym(h, "_ZN2cv8imdecodeERKNS_11_InputArrayEi"));
    r.imread = reinterpret_cast<decltype(r.imread)>(
        ::dlsym(h, "_ZN2cv6imreadERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEEi"));
    if (!r.imdecode || !r.imread)
      throw IoError(error_text(OCTET_OPENCV_IMGCODECS, "has no cv::imdecode / cv::imread of OpenCV 4"));
    return r;
  }();
  return c;
}

}  // namespace detail

// cv::imdecode(raw, flags).
inline cv::Mat decode_image(const cv::Mat& raw, int flags) { return detail::image_codecs().imdecode(raw, flags); }

// cv::imread(path, flags).
inline cv::Mat read_image(const std::string& path, int flags) { return detail::image_codecs().imread(path, flags); }

}  // namespace octet::data
