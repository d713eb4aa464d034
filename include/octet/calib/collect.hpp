// Streaming activation statistics for calibration: one pass of `iterations` Data-layer records
// through the fp32 Net, every blob's values fed to a single-pass dyadic TensorStats (Mode B of
// calibration-math.md §1), so memory is fixed (2·th_binnum bins per blob) and the result is an
// integer function of the multiset of values: independent of batch size, order and threads.
// Blobs whose threshold never needs a histogram are collected range-only.
// Depends on calib/statistics.hpp, engine/net.hpp (+ the Data layer); never on tools.
#pragma once
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "octet/calib/statistics.hpp"
#include "octet/core/error.hpp"
#include "octet/core/follower.hpp"
#include "octet/core/parallel.hpp"
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

// How collect_statistics shares the threads between the forwards and the statistics: the
// kernels' octet::num_threads(), plus one of the statistics' own when collect_statistics is
// given a helper thread. With one thread and no helper it is always `serial`. The result is
// the same for all three.
enum class CollectSchedule {
  automatic,  // the faster of the two below, timed on the first forwards
  serial,     // each layer's statistics right after it, on the forward's thread
  pipelined,  // the statistics on a thread of their own, trailing the forward
};

struct CollectResult {
  std::vector<NamedStats> stats;  // blob order of the net
  int iterations = 0;             // records actually used
  bool pipelined = false;         // which schedule ran the forwards after the automatic choice
};

// Runs `iterations` forwards of `net` (which must have a Data layer) and accumulates every
// blob except `skip`; blobs in `range_only` (histogram_free_blobs: thresholds propagated or
// explicit) get RangeStats alone, every other one the dyadic histogram too. Fewer records than
// asked: a warning on `warn`, and each record is used once. The Data stream is rewound first
// and left after the last record used. `schedule` only changes the speed (see CollectSchedule);
// octet::num_threads() is as it was on return. `helper_thread`: the statistics may have a
// thread beyond num_threads() (a CPU the kernels leave idle), so pipelined forwards keep all
// num_threads() instead of giving one up.
inline CollectResult collect_statistics(engine::Net& net, int iterations, int binnum, const std::set<std::string>& skip,
                                        const std::set<std::string>& range_only, std::ostream& warn,
                                        CollectSchedule schedule = CollectSchedule::automatic,
                                        bool helper_thread = false) {
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
  // Each blob is read right after the last layer that writes it (Net::final_writers), while
  // the layer's output is still in cache, instead of after the whole forward: the same values,
  // since nothing writes the blob after that layer. (On ResNet8 a whole forward fits L2, so this
  // alone measured no faster; it is what lets a ReLU's input and output share one read below.)
  // Blobs no layer writes are read after the forward. StreamingStats has no per-call fixed cost worth
  // batching (its lane histogram persists between forwards), so each blob is read in place.
  const auto writers = net.final_writers();
  const auto& all = net.blob_names();
  std::vector<std::string> names;
  std::vector<StreamingStats> st;
  std::vector<std::span<const float>> data;  // forward() does not reallocate blobs
  std::vector<std::optional<size_t>> writer;  // per stat
  std::map<std::string, size_t> index;
  st.reserve(all.size());
  for (size_t b = 0; b < all.size(); ++b) {
    if (skip.count(all[b])) continue;
    index[all[b]] = names.size();
    names.push_back(all[b]);
    st.emplace_back(binnum, !range_only.count(all[b]));
    const engine::FloatTensor& t = net.blob(all[b]);
    data.emplace_back(t.data(), static_cast<size_t>(t.size()));
    writer.push_back(writers[b]);
  }
  // A range-only x read by a ReLU (slope 0, own top y, y histogrammed and final after the ReLU):
  // x and y are collected together at the ReLU from one read of x (StreamingStats::update_relu).
  // x's last writer ran before the ReLU and nothing writes x later, so it still holds its values.
  constexpr size_t kNone = ~size_t{0};
  std::vector<size_t> relu_of(names.size(), kNone);  // x -> y
  std::vector<bool> paired(names.size(), false);
  for (size_t k = 0; k < net.layers().size(); ++k) {
    const auto& L = net.layers()[k];
    if (L.type != "ReLU" || L.bottoms.size() != 1 || L.tops.size() != 1 || L.bottoms[0] == L.tops[0]) continue;
    const auto* relu = dynamic_cast<const engine::ReluLayer*>(&net.layer(k));
    if (!relu || relu->param().relu_param().negative_slope() != 0.0f) continue;
    const auto xi = index.find(L.bottoms[0]), yi = index.find(L.tops[0]);
    if (xi == index.end() || yi == index.end()) continue;
    const size_t x = xi->second, y = yi->second;
    if (paired[x] || paired[y] || writer[y] != k || !writer[x] || *writer[x] >= k || !range_only.count(names[x]) ||
        range_only.count(names[y]) || data[x].size() != data[y].size())
      continue;
    relu_of[x] = y;
    paired[x] = paired[y] = true;
  }
  // after_layer[k]: the stats read once layer k has run (a pair: x then its ReLU output y).
  std::vector<std::vector<std::pair<size_t, size_t>>> after_layer(net.layers().size());
  std::vector<size_t> after_forward;
  for (size_t k = 0; k < names.size(); ++k) {
    if (relu_of[k] != kNone) {
      after_layer[*writer[relu_of[k]]].emplace_back(k, relu_of[k]);
      continue;
    }
    if (paired[k]) continue;  // a ReLU output, read with its input
    if (writer[k])
      after_layer[*writer[k]].emplace_back(k, kNone);
    else
      after_forward.push_back(k);
  }
  auto read_layer = [&](size_t layer) {
    for (const auto& [a, b] : after_layer[layer]) {
      if (b == kNone)
        st[a].update(data[a]);
      else
        StreamingStats::update_relu(st[a], st[b], data[a], data[b]);
    }
  };
  auto read_rest = [&] {
    for (size_t k : after_forward) st[k].update(data[k]);
  };
  // Pipelined: the statistics run on a thread of their own, a layer or two behind the forward,
  // which runs on the other threads (or on all of them, given a helper thread). Each forward
  // ends at a barrier (drain): the next one overwrites the blobs. Worth it when the forward
  // cannot use every thread itself (a small net at batch 1) or a CPU is idle; `automatic`
  // times both schedules on a few forwards and keeps the faster. The statistics are the same
  // either way (they do not depend on order).
  const int threads = octet::num_threads();
  const int forward_threads = helper_thread ? threads : threads - 1;
  const size_t L = net.layers().size();
  std::optional<Follower> follower;
  if (forward_threads >= 1 && schedule != CollectSchedule::serial)
    follower.emplace([&](std::uint64_t item) {
      const auto k = static_cast<size_t>(item % (L + 1));
      k < L ? read_layer(k) : read_rest();
    });
  std::uint64_t released = 0;
  auto forward = [&](bool pipelined) {
    if (!pipelined) {
      net.forward(read_layer);
      read_rest();
      return;
    }
    for (auto& s : st) s.set_threaded(false);
    const ThreadCountScope fewer(forward_threads);
    net.forward([&](size_t k) { follower->release(released + k + 1); });
    released += L + 1;
    follower->release(released);
    follower->drain();
    for (auto& s : st) s.set_threaded(true);
  };
  // automatic: forward 0 warms up; 1..2·kTrials alternate the schedules, timed, and the
  // faster minimum wins (a forward is short: one preemption can double it, so not the sums).
  constexpr int kTrials = 4;
  bool pipelined = schedule == CollectSchedule::pipelined && follower;
  const bool choose = schedule == CollectSchedule::automatic && follower && n > 4 * kTrials;
  double serial_s = HUGE_VAL, pipelined_s = HUGE_VAL;
  Progress bar("calibration", n);
  for (int it = 0; it < n; ++it) {
    if (choose && it >= 1 && it <= 2 * kTrials) {
      const bool p = it % 2 == 0;
      const auto t0 = std::chrono::steady_clock::now();
      forward(p);
      double& best = p ? pipelined_s : serial_s;
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      if (it == 2 * kTrials) pipelined = pipelined_s < serial_s;
    } else {
      forward(pipelined);
    }
    bar.step(it + 1);
  }
  for (size_t k = 0; k < names.size(); ++k) r.stats.emplace_back(names[k], std::move(st[k]).release());
  r.iterations = n;
  r.pipelined = pipelined;
  return r;
}
inline CollectResult collect_statistics(engine::Net& net, int iterations, int binnum, const std::set<std::string>& skip,
                                        std::ostream& warn) {
  return collect_statistics(net, iterations, binnum, skip, {}, warn);
}

}  // namespace octet::calib
