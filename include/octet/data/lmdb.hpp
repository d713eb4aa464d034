// LmdbWriter / LmdbReader: Datum LMDBs in the ufwio layout (docs/data.md, nntc-reference §4), on
// lmdb++. The writer appends keys `{index:010d}__{user_key}` in order, commits every N records
// and doubles the map when it is full; the reader walks records in key (= insertion) order and
// also reads legacy Caffe Datums. StagedDir builds an output folder next to its target and
// renames it into place, so a failed conversion never leaves a half-written LMDB there.
// Depends on data/datum.hpp and lmdb++ only (no OpenCV, no engine).
#pragma once
#include <lmdb++.h>

#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <unistd.h>

#include "octet/core/error.hpp"
#include "octet/data/datum.hpp"

namespace octet::data {

namespace fs = std::filesystem;

struct LmdbWriterOptions {
  size_t commit_every = 100;             // ufwio's queue_size
  size_t initial_map_size = 64u << 20;   // bytes; doubled on MDB_MAP_FULL
  size_t max_map_size = size_t{1} << 40; // growth past this is an error, not a silent stop
  bool overwrite = true;                 // ufwio replaces an existing LMDB without checks
};

class LmdbWriter {
 public:
  explicit LmdbWriter(const fs::path& dir, LmdbWriterOptions opt = {})
      : dir_(dir), opt_(opt), map_size_(opt.initial_map_size), env_(nullptr) {
    if (opt_.commit_every == 0) opt_.commit_every = 1;
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) throw IoError(error_text(dir_.string(), "cannot create LMDB folder", ec.message()));
    if (opt_.overwrite) {
      fs::remove(dir_ / "data.mdb", ec);
      fs::remove(dir_ / "lock.mdb", ec);
    }
    try {
      env_ = lmdb::env::create();
      env_.set_mapsize(map_size_);
      // Durability comes from the explicit sync in close(), before anyone renames the folder
      // into place. The lock file is kept so lock-using readers (py-lmdb's default) can open
      // the LMDB read-only.
      env_.open(dir_.c_str(), MDB_NOSYNC | MDB_NOMETASYNC, 0664);
    } catch (const lmdb::error& e) {
      throw IoError(error_text(dir_.string(), "cannot open LMDB for writing", e.what()));
    }
  }
  LmdbWriter(const LmdbWriter&) = delete;
  LmdbWriter& operator=(const LmdbWriter&) = delete;
  ~LmdbWriter() {
    try {
      close();
    } catch (...) {
      // Destructors must not throw; callers that care call close() themselves.
    }
  }

  // Appends one record; returns its key.
  std::string put(const Sample& s, std::string_view user_key = {}) {
    return put_value(encode_datum(s), user_key);
  }
  // Appends an already serialized Datum.
  std::string put_value(std::string value, std::string_view user_key = {}) {
    if (closed_) throw IoError(error_text(dir_.string(), "put after close"));
    std::string key = make_key(next_index_++, user_key);
    pending_.emplace_back(key, std::move(value));
    if (pending_.size() >= opt_.commit_every) flush();
    return key;
  }

  // Commits pending records in one transaction, growing the map (x2) until they fit.
  void flush() {
    if (pending_.empty() || !env_.handle()) return;
    for (;;) {
      // Raw C calls for the transaction: mdb_txn_commit frees the handle even when it fails
      // (MDB_MAP_FULL can surface at commit), and lmdb::txn would then abort it a second time.
      MDB_txn* txn = nullptr;
      int rc = ::mdb_txn_begin(env_.handle(), nullptr, 0, &txn);
      if (rc == MDB_SUCCESS) {
        MDB_dbi dbi = 0;
        rc = ::mdb_dbi_open(txn, nullptr, 0, &dbi);
        for (size_t i = 0; rc == MDB_SUCCESS && i < pending_.size(); ++i) {
          auto& [k, v] = pending_[i];
          MDB_val key{k.size(), k.data()}, val{v.size(), v.data()};
          rc = ::mdb_put(txn, dbi, &key, &val, MDB_APPEND);
          if (rc == MDB_KEYEXIST) {
            ::mdb_txn_abort(txn);
            throw IoError(error_text(dir_.string(), k, "key is not greater than the previous one"));
          }
        }
        if (rc == MDB_SUCCESS) rc = ::mdb_txn_commit(txn);
        else ::mdb_txn_abort(txn);
      }
      if (rc == MDB_SUCCESS) break;
      if (rc == MDB_MAP_FULL) {
        grow();
        continue;
      }
      throw IoError(error_text(dir_.string(), "write failed", ::mdb_strerror(rc)));
    }
    written_ += pending_.size();
    pending_.clear();
  }

  // Flushes, syncs to disk and closes the environment.
  void close() {
    if (closed_) return;
    closed_ = true;
    flush();
    try {
      env_.sync(true);
    } catch (const lmdb::error& e) {
      throw IoError(error_text(dir_.string(), "sync failed", e.what()));
    }
    env_.close();
  }

  size_t count() const { return static_cast<size_t>(next_index_); }
  size_t committed() const { return written_; }
  size_t map_size() const { return map_size_; }
  const fs::path& path() const { return dir_; }

 private:
  void grow() {
    const size_t next = map_size_ * 2;
    if (next > opt_.max_map_size || next < map_size_)
      throw IoError(error_text(dir_.string(), "LMDB map full at " + std::to_string(map_size_) +
                                                  " bytes and the size limit forbids doubling it"));
    try {
      env_.set_mapsize(next);
    } catch (const lmdb::error& e) {
      throw IoError(error_text(dir_.string(), "cannot grow LMDB map to " + std::to_string(next), e.what()));
    }
    map_size_ = next;
  }

  fs::path dir_;
  LmdbWriterOptions opt_;
  size_t map_size_;
  lmdb::env env_;
  std::vector<std::pair<std::string, std::string>> pending_;
  uint64_t next_index_ = 0;
  size_t written_ = 0;
  bool closed_ = false;
};

class LmdbReader {
 public:
  explicit LmdbReader(const fs::path& dir) : dir_(dir), env_(nullptr), txn_(nullptr), dbi_(0), cur_(nullptr) {
    if (!fs::is_directory(dir_)) throw IoError(error_text(dir_.string(), "no such LMDB folder"));
    if (!fs::exists(dir_ / "data.mdb")) throw IoError(error_text(dir_.string(), "not an LMDB (no data.mdb)"));
    try {
      env_ = lmdb::env::create();
      // Read-only and lock-free so read-only folders and concurrent ufwio writers' files work.
      env_.open(dir_.c_str(), MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS, 0664);
      txn_ = lmdb::txn::begin(env_.handle(), nullptr, MDB_RDONLY);
      dbi_ = lmdb::dbi::open(txn_, nullptr);
      cur_ = lmdb::cursor::open(txn_, dbi_);
      size_ = dbi_.size(txn_);
    } catch (const lmdb::error& e) {
      throw IoError(error_text(dir_.string(), "cannot open LMDB", e.what()));
    }
  }

  size_t size() const { return size_; }
  const fs::path& path() const { return dir_; }

  // Next record in key order without decoding (views into the map, valid until the next call).
  // Returns false at the end.
  bool next_raw(std::string_view& key, std::string_view& value) {
    MDB_val k{}, v{};
    bool found;
    try {
      found = cur_.get(&k, &v, started_ ? MDB_NEXT : MDB_FIRST);
    } catch (const lmdb::error& e) {
      throw IoError(error_text(dir_.string(), "read failed", e.what()));
    }
    started_ = true;
    if (!found) return false;
    key = {static_cast<const char*>(k.mv_data), k.mv_size};
    value = {static_cast<const char*>(v.mv_data), v.mv_size};
    return true;
  }

  // Next decoded record; `key` (if given) receives its LMDB key. Throws IoError naming the LMDB
  // and the key for a corrupt record.
  bool next(Sample& out, std::string* key = nullptr) {
    std::string_view k, v;
    if (!next_raw(k, v)) return false;
    decode(k, v, out);
    if (key) key->assign(k);
    last_key_.assign(k);
    return true;
  }

  // Like next(), but starts over at the first record after the last one.
  void next_cycling(Sample& out, std::string* key = nullptr) {
    if (next(out, key)) return;
    rewind();
    if (!next(out, key)) throw IoError(error_text(dir_.string(), "LMDB is empty"));
  }

  void rewind() { started_ = false; }

  // The first record, without moving the sequential position.
  bool first(Sample& out, std::string* key = nullptr) {
    MDB_val k{}, v{};
    try {
      auto c = lmdb::cursor::open(txn_, dbi_);
      if (!c.get(&k, &v, MDB_FIRST)) return false;
    } catch (const lmdb::error& e) {
      throw IoError(error_text(dir_.string(), "read failed", e.what()));
    }
    std::string_view ks{static_cast<const char*>(k.mv_data), k.mv_size};
    decode(ks, {static_cast<const char*>(v.mv_data), v.mv_size}, out);
    if (key) key->assign(ks);
    return true;
  }

  const std::string& last_key() const { return last_key_; }

  // Values are AnnotatedDatum (Caffe-SSD AnnotatedData LMDBs): decode their inner Datum.
  void set_annotated(bool on) { annotated_ = on; }

 private:
  void decode(std::string_view k, std::string_view v, Sample& out) {
    try {
      decode_datum(annotated_ ? annotated_datum_payload(v) : v, out);
    } catch (const Error& e) {
      throw IoError(error_text(dir_.string(), "key '" + std::string(k) + "'", e.what()));
    }
  }

  fs::path dir_;
  lmdb::env env_;
  lmdb::txn txn_;
  lmdb::dbi dbi_;
  lmdb::cursor cur_;
  size_t size_ = 0;
  bool started_ = false;
  bool annotated_ = false;
  std::string last_key_;
};

// A folder built beside its target and renamed into place by commit(); destroyed (with its
// contents) if commit() never happens. An existing target is replaced only after the new one
// is complete.
class StagedDir {
 public:
  explicit StagedDir(const fs::path& target) : target_(fs::absolute(target).lexically_normal()) {
    if (target_.filename().empty()) target_ = target_.parent_path();
    std::error_code ec;
    fs::create_directories(target_.parent_path(), ec);
    if (ec) throw IoError(error_text(target_.parent_path().string(), "cannot create folder", ec.message()));
    std::random_device rd;
    for (int attempt = 0; attempt < 100; ++attempt) {
      fs::path p = target_.parent_path() /
                   ("." + target_.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" +
                    std::to_string(rd() % 1000000));
      if (fs::create_directory(p, ec)) {
        tmp_ = p;
        return;
      }
    }
    throw IoError(error_text(target_.string(), "cannot create a temporary folder beside it"));
  }
  StagedDir(const StagedDir&) = delete;
  StagedDir& operator=(const StagedDir&) = delete;
  ~StagedDir() {
    if (!committed_) {
      std::error_code ec;
      fs::remove_all(tmp_, ec);
    }
  }

  const fs::path& path() const { return tmp_; }
  const fs::path& target() const { return target_; }

  void commit() {
    std::error_code ec;
    fs::path old;
    if (fs::exists(fs::symlink_status(target_))) {
      old = tmp_.string() + ".old";
      fs::rename(target_, old, ec);
      if (ec) throw IoError(error_text(target_.string(), "cannot move the existing folder aside", ec.message()));
    }
    fs::rename(tmp_, target_, ec);
    if (ec) {
      std::error_code ec2;
      if (!old.empty()) fs::rename(old, target_, ec2);
      throw IoError(error_text(target_.string(), "cannot rename the new folder into place", ec.message()));
    }
    committed_ = true;
    if (!old.empty()) fs::remove_all(old, ec);
  }

 private:
  fs::path target_;
  fs::path tmp_;
  bool committed_ = false;
};

}  // namespace octet::data
