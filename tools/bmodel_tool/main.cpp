// bmodel_tool: inspect a bmodel like the vendor's model tool (--info, --print as JSON).
#include <iostream>

#include "octet/bm168x/bmodel.hpp"
#include "octet/core/flags.hpp"

int main(int argc, char** argv) {
  using octet::cli::FlagKind;
  try {
    octet::cli::Flags f("bmodel_tool", {{"info", FlagKind::String, "", "print a summary of the bmodel"},
                                        {"print", FlagKind::String, "", "print every table as JSON"}});
    f.parse(argc, argv);
    if (f.help() || (!f.has("info") && !f.has("print"))) {
      std::cout << "usage: bmodel_tool --info <file.bmodel> | --print <file.bmodel>\n" << f.usage();
      return f.help() ? 0 : 1;
    }
    if (f.has("info")) std::cout << octet::bm168x::info_text(octet::bm168x::BmodelFile::load(f.str("info")));
    if (f.has("print")) std::cout << octet::bm168x::print_json(octet::bm168x::BmodelFile::load(f.str("print")));
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
