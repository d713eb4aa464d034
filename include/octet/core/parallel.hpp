// parallel_for over an index range on OpenMP threads. The thread count is a process-wide
// setting (set_num_threads) so tools can honour -threads=N; kernels never spawn threads
// themselves. Depends on nothing in Octet.
#pragma once
#include <cstdint>
#include <omp.h>

namespace octet {

inline int& num_threads_setting() {
  static int n = 1;
  return n;
}
inline void set_num_threads(int n) {
  num_threads_setting() = n < 1 ? 1 : n;
  omp_set_num_threads(num_threads_setting());
}
inline int num_threads() { return num_threads_setting(); }

// set_num_threads(n) until the end of the scope, then the setting it found.
class ThreadCountScope {
 public:
  explicit ThreadCountScope(int n) : saved_(num_threads()) { set_num_threads(n); }
  ~ThreadCountScope() { set_num_threads(saved_); }
  ThreadCountScope(const ThreadCountScope&) = delete;
  ThreadCountScope& operator=(const ThreadCountScope&) = delete;

 private:
  int saved_;
};

// Calls fn(i) for i in [begin, end). Runs inline when one thread is configured or the range
// is smaller than min_chunk, so tiny layers pay no OpenMP overhead.
template <typename Fn>
void parallel_for(int64_t begin, int64_t end, Fn&& fn, int64_t min_chunk = 1) {
  const int64_t n = end - begin;
  if (n <= 0) return;
  const int threads = num_threads();
  if (threads <= 1 || n < 2 * min_chunk) {
    for (int64_t i = begin; i < end; ++i) fn(i);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = begin; i < end; ++i) fn(i);
}

}  // namespace octet
