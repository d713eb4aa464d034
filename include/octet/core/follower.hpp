// A second thread that runs work(i) for i = 0, 1, 2, ... in order, each item only once the
// owning thread has released it (release(n): items below n may run). The owner keeps going and
// meets the follower again at drain(), which waits until every released item has run and
// rethrows the first exception work threw (later items are then skipped, not run).
// For work that can trail a producer by a little, such as calibration statistics reading each
// layer's output while the next layers run. One owner thread; items are released in order.
// Both threads spin briefly before sleeping: the gaps inside a forward are microseconds, and a
// futex wake-up costs about as much as the work of a small layer.
// Depends on nothing in Octet.
#pragma once
#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <thread>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace octet {

class Follower {
 public:
  explicit Follower(std::function<void(std::uint64_t)> work) : work_(std::move(work)), thread_([this] { run(); }) {}
  Follower(const Follower&) = delete;
  Follower& operator=(const Follower&) = delete;
  // Items released but not yet run are skipped: the owner may be unwinding from an exception,
  // and what they would read is about to go.
  ~Follower() {
    released_.fetch_or(kStop, std::memory_order_release);
    released_.notify_one();
    thread_.join();
  }

  // Items [0, n) may run. n never decreases (and stays below 2^63).
  void release(std::uint64_t n) {
    released_.store(n, std::memory_order_release);
    released_.notify_one();
  }

  // Waits until every released item has run (or been skipped after a failure); rethrows the
  // first exception work threw, once.
  void drain() {
    const std::uint64_t want = released_.load(std::memory_order_relaxed) & ~kStop;
    wait_until(done_, [&](std::uint64_t d) { return d >= want; });
    if (failed_.load(std::memory_order_acquire) && error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

 private:
  static void pause() {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#else
    std::this_thread::yield();
#endif
  }

  // Spins (a few tens of microseconds), then sleeps on a until ready(a) holds.
  template <class Ready>
  static std::uint64_t wait_until(const std::atomic<std::uint64_t>& a, Ready&& ready) {
    for (int spin = 0; spin < 2048; ++spin) {
      const std::uint64_t v = a.load(std::memory_order_acquire);
      if (ready(v)) return v;
      pause();
    }
    for (;;) {
      const std::uint64_t v = a.load(std::memory_order_acquire);
      if (ready(v)) return v;
      a.wait(v, std::memory_order_acquire);
    }
  }

  void run() {
    std::uint64_t next = 0;
    for (;;) {
      const std::uint64_t r = wait_until(released_, [&](std::uint64_t v) { return v > next; });
      if (r & kStop) return;
      for (; next < r; ++next) {
        if (released_.load(std::memory_order_relaxed) & kStop) return;
        if (failed_.load(std::memory_order_relaxed)) continue;
        try {
          work_(next);
        } catch (...) {
          error_ = std::current_exception();  // published by the release store of done_
          failed_.store(true, std::memory_order_release);
        }
      }
      done_.store(next, std::memory_order_release);
      done_.notify_one();
    }
  }

  // The top bit of released_ asks the thread to stop: one word, so one futex, wakes it for both.
  static constexpr std::uint64_t kStop = std::uint64_t{1} << 63;

  std::function<void(std::uint64_t)> work_;
  std::atomic<std::uint64_t> released_{0}, done_{0};
  std::atomic<bool> failed_{false};
  std::exception_ptr error_;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace octet
