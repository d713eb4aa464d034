// lmdb_info DIR: record count, then key, dtype, shape, label and a data summary per record.
#include <iostream>

#include "octet/core/flags.hpp"
#include "octet/data/lmdb.hpp"
#include "octet/data/lmdb_info.hpp"

using octet::cli::FlagKind;

int main(int argc, char** argv) {
  try {
    octet::cli::Flags f("lmdb_info", {{"all", FlagKind::Bool, "false", "list every record"},
                                      {"count", FlagKind::Int, "10", "records to list without --all"}});
    f.parse(argc, argv);
    if (f.help()) {
      std::cout << "usage: lmdb_info <lmdb_dir> [flags]\n" << f.usage();
      return 0;
    }
    if (f.positional().size() != 1) throw octet::UsageError("lmdb_info: give one LMDB folder (see --help)");
    octet::data::LmdbReader r(f.positional()[0]);
    std::cout << f.positional()[0] << ": " << r.size() << " records\n" << octet::data::info_header() << "\n";
    const size_t limit = f.boolean("all") ? r.size() : static_cast<size_t>(std::max<int64_t>(0, f.integer("count")));
    octet::data::Sample s;
    std::string key;
    for (size_t i = 0; i < limit && r.next(s, &key); ++i) std::cout << octet::data::info_line(key, s) << "\n";
    if (limit < r.size()) std::cout << "... (" << r.size() - limit << " more; --all lists them)\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
