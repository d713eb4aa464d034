// dump_tensor_data_use_pb <prototxt> <umodel> <iterations> CPU|INT8_NEURON [-output=DIR]
// Writes every blob of every iteration to .npz (format: octet/eval/dump.hpp).
#include <iostream>

#include "octet/core/flags.hpp"
#include "octet/eval/dump.hpp"

int main(int argc, char** argv) {
  try {
    using octet::cli::FlagKind;
    octet::cli::Flags f("dump_tensor_data_use_pb",
                        {{"output", FlagKind::String, "dump", "output folder"},
                         {"runtime", FlagKind::String, "auto", "INT8_NEURON: auto, engine or simulate"}});
    f.parse(argc, argv);
    const char* usage = "usage: dump_tensor_data_use_pb <prototxt> <umodel> <iterations> CPU|INT8_NEURON [-output=DIR]\n";
    if (f.help()) return std::cout << usage << f.usage(), 0;
    const auto& pos = f.positional();
    if (pos.size() != 4) {
      std::cerr << usage;
      throw octet::UsageError("dump_tensor_data_use_pb: expected 4 arguments, got " + std::to_string(pos.size()));
    }
    octet::eval::DumpOptions o;
    o.model = pos[0];
    o.weights = pos[1];
    size_t used = 0;
    try {
      o.iterations = std::stoi(pos[2], &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != pos[2].size() || o.iterations < 1)
      throw octet::UsageError("dump_tensor_data_use_pb: iterations '" + pos[2] + "' is not a positive integer");
    o.mode = pos[3];
    o.output = f.str("output");
    o.runtime = f.str("runtime");
    return octet::eval::dump_tensors(o, std::cout);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
