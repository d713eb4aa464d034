// The int8 engine (engine/int8_net.hpp) as a BlobSource for the comparison, the tensor dump
// and the search. Blobs are handed out dequantised (Int8Net::blob_float), cached per forward so
// repeated reads of one blob cost one conversion. compare_command.hpp picks this up with
// __has_include, so the eval tools build with or without the int8 runtime.
// Depends on engine/int8_net.hpp and eval/compare.hpp.
#pragma once
#include <map>
#include <memory>
#include <string>

#include "octet/engine/int8_net.hpp"
#include "octet/eval/compare.hpp"

namespace octet::eval {

class Int8EngineSource : public BlobSource {
 public:
  explicit Int8EngineSource(const ufw::NetParameter& p) : net_(p) {}
  void forward() override {
    net_.forward();
    cache_.clear();
  }
  const FloatTensor& blob(const std::string& name) override {
    auto it = cache_.find(name);
    if (it == cache_.end()) it = cache_.emplace(name, net_.blob_float(name)).first;
    return it->second;
  }
  engine::Int8Net& net() { return net_; }

 private:
  engine::Int8Net net_;
  std::map<std::string, FloatTensor> cache_;
};

inline NetFactory int8_engine_factory() {
  return [](const ufw::NetParameter& p) { return std::make_unique<Int8EngineSource>(p); };
}

}  // namespace octet::eval
