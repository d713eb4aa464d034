// Outputs that are either complete or absent: write to a temporary sibling, then rename
// over the target (rename is atomic within a filesystem). A failure or exception before
// commit() removes the temporary, so a good old file is never replaced by a half-written one.
// Depends only on core/error.hpp and the standard library.
#pragma once
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "octet/core/error.hpp"

namespace octet {

namespace fs = std::filesystem;

// A temporary path next to `target` (same directory, so rename never crosses filesystems).
inline fs::path temp_sibling(const fs::path& target) {
  static int counter = 0;
  fs::path dir = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  return dir / ("." + target.filename().string() + ".tmp." + std::to_string(::getpid()) + "." +
                std::to_string(counter++));
}

// Writes a file or directory at a temp path; commit() renames it onto the target.
class AtomicPath {
 public:
  explicit AtomicPath(fs::path target) : target_(std::move(target)), temp_(temp_sibling(target_)) {}
  ~AtomicPath() {
    if (!committed_) {
      std::error_code ec;
      fs::remove_all(temp_, ec);
    }
  }
  AtomicPath(const AtomicPath&) = delete;
  AtomicPath& operator=(const AtomicPath&) = delete;

  const fs::path& temp() const { return temp_; }
  const fs::path& target() const { return target_; }

  void commit() {
    std::error_code ec;
    // A directory target must be removed first: rename cannot replace a non-empty directory.
    if (fs::is_directory(temp_) && fs::exists(target_)) fs::remove_all(target_, ec);
    fs::rename(temp_, target_, ec);
    if (ec) throw IoError(error_text(target_.string(), "cannot move output into place: " + ec.message()));
    committed_ = true;
  }

 private:
  fs::path target_;
  fs::path temp_;
  bool committed_ = false;
};

// Writes bytes to `path` atomically; creates the parent directory if needed.
inline void atomic_write(const fs::path& path, std::string_view bytes) {
  if (!path.parent_path().empty()) {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    if (ec) throw IoError(error_text(path.string(), "cannot create directory: " + ec.message()));
  }
  AtomicPath out(path);
  {
    std::ofstream f(out.temp(), std::ios::binary | std::ios::trunc);
    if (!f) throw IoError(error_text(path.string(), "cannot open for writing"));
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    f.flush();
    if (!f) throw IoError(error_text(path.string(), "write failed (disk full?)"));
  }
  out.commit();
}

}  // namespace octet
