// The one exception hierarchy of Octet. Tools catch octet::Error at main and print
// `error: <what()>` on one line, so what() must already name file, layer/key and problem.
// Depends on nothing but the standard library.
#pragma once
#include <stdexcept>
#include <string>
#include <utility>

namespace octet {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Malformed or inconsistent model description (prototxt, weights, ONNX graph).
class ModelError : public Error {
 public:
  using Error::Error;
};

// Shape mismatch between what a layer needs and what it was given.
class ShapeError : public Error {
 public:
  using Error::Error;
};

// A file that cannot be read or written, or whose bytes are not what they claim to be.
class IoError : public Error {
 public:
  using Error::Error;
};

// Bad command-line flag or option value.
class UsageError : public Error {
 public:
  using Error::Error;
};

// A layer type, op or attribute that Octet does not implement (yet).
class UnsupportedError : public Error {
 public:
  using Error::Error;
};

// Joins context pieces into the house error format "a: b: c".
template <typename... Parts>
std::string error_text(Parts&&... parts) {
  std::string out;
  ((out += (out.empty() ? "" : ": "), out += std::string(std::forward<Parts>(parts))), ...);
  return out;
}

}  // namespace octet
