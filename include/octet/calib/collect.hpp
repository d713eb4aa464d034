// Streaming activation statistics for calibration: one pass of `iterations` Data-layer records
// through the fp32 Net, every blob's values fed to a single-pass dyadic TensorStats (Mode B of
// calibration-math.md §1), so memory is fixed (2·th_binnum bins per blob) and the result is an
// integer function of the multiset of values: independent of batch size, order and threads.
// Depends on calib/statistics.hpp, engine/net.hpp (+ the Data layer); never on tools.
#pragma once
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "octet/calib/statistics.hpp"
#include "octet/core/error.hpp"
#include "octet/engine/layers/data.hpp"
#include "octet/engine/net.hpp"

namespace octet::calib {

// Tops that carry labels, not activations (second top of a Data layer): never calibrated.
inline std::set<std::string> label_blobs(const ufw::NetParameter& net) {
  std::set<std::string> s;
  for (const auto& l : net.layer())
    if ((l.type() == "Data" || l.type() == "AnnotatedData") && l.top_size() > 1)
      for (int i = 1; i < l.top_size(); ++i) s.insert(l.top(i));
  return s;
}

// Records the net's Data layer holds (0 when the net has none).
inline size_t data_records(engine::Net& net) {
  for (size_t i = 0; i < net.layers().size(); ++i)
    if (auto* d = dynamic_cast<engine::DataLayer*>(&net.layer(i))) return d->record_count();
  return 0;
}
inline void rewind_data(engine::Net& net) {
  for (size_t i = 0; i < net.layers().size(); ++i)
    if (auto* d = dynamic_cast<engine::DataLayer*>(&net.layer(i))) d->rewind();
}

// A progress bar on stderr when it is a terminal; silent otherwise.
class Progress {
 public:
  Progress(std::string what, int total) : what_(std::move(what)), total_(total), tty_(::isatty(2) != 0) {}
  void step(int done) {
    if (!tty_ || total_ <= 0) return;
    const int w = 30, fill = done * w / total_;
    if (fill == last_ && done != total_) return;
    last_ = fill;
    std::fprintf(stderr, "\r%s [%s%s] %d/%d", what_.c_str(), std::string(fill, '=').c_str(),
                 std::string(w - fill, ' ').c_str(), done, total_);
    if (done == total_) std::fprintf(stderr, "\n");
  }

 private:
  std::string what_;
  int total_;
  bool tty_;
  int last_ = -1;
};

struct CollectResult {
  std::vector<NamedStats> stats;  // blob order of the net
  int iterations = 0;             // records actually used
};

// Runs `iterations` forwards of `net` (which must have a Data layer) and accumulates every
// blob except `skip`. Fewer records than asked: a warning on `warn`, and each record is used
// once. The Data stream is rewound first and left after the last record used.
inline CollectResult collect_statistics(engine::Net& net, int iterations, int binnum, const std::set<std::string>& skip,
                                        std::ostream& warn) {
  validate_binnum(binnum);
  if (iterations < 1) throw UsageError("-iterations must be >= 1");
  const size_t records = data_records(net);
  if (records == 0) throw ModelError("calibration needs a Data layer with an LMDB (data_param.source) in -model");
  int n = iterations;
  if (static_cast<size_t>(n) > records) {
    warn << "warning: the LMDB has " << records << " records, fewer than -iterations=" << iterations << "; using "
         << records << "\n";
    n = static_cast<int>(records);
  }
  rewind_data(net);
  CollectResult r;
  std::vector<std::string> names;
  for (const auto& b : net.blob_names())
    if (!skip.count(b)) names.push_back(b);
  std::vector<TensorStats> st(names.size(), TensorStats::dyadic(binnum));
  std::vector<const engine::FloatTensor*> ptr;
  for (const auto& b : names) ptr.push_back(&net.blob(b));
  // Small blobs are staged over several records and binned together: each histogram update
  // has a fixed cost (scratch sub-histograms, a flush over every bin), and the result depends
  // only on the multiset of values, so grouping changes nothing but the speed. Staging memory
  // is bounded (kStage values per blob), independent of the number of records.
  constexpr size_t kStage = size_t{1} << 16;
  std::vector<std::vector<float>> stage(names.size());
  for (size_t k = 0; k < names.size(); ++k) {
    const size_t n1 = static_cast<size_t>(ptr[k]->size());
    if (n1 > 0 && n1 * 2 <= kStage) stage[k].reserve(kStage / n1 * n1);
  }
  auto flush = [&](size_t k) {
    if (stage[k].empty()) return;
    st[k].update(std::span<const float>(stage[k].data(), stage[k].size()));
    stage[k].clear();
  };
  Progress bar("calibration", n);
  for (int it = 0; it < n; ++it) {
    net.forward();
    for (size_t k = 0; k < names.size(); ++k) {
      const float* d = ptr[k]->data();
      const size_t n1 = static_cast<size_t>(ptr[k]->size());
      if (stage[k].capacity() == 0) {
        st[k].update(std::span<const float>(d, n1));
        continue;
      }
      if (stage[k].size() + n1 > stage[k].capacity()) flush(k);
      stage[k].insert(stage[k].end(), d, d + n1);
    }
    bar.step(it + 1);
  }
  for (size_t k = 0; k < names.size(); ++k) flush(k);
  for (size_t k = 0; k < names.size(); ++k) r.stats.emplace_back(names[k], std::move(st[k]));
  r.iterations = n;
  return r;
}

}  // namespace octet::calib
