// Follower: a thread running released items in order, met again at drain().
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "octet/core/follower.hpp"

using octet::Follower;

TEST_CASE("Follower runs every released item once, in order, and drain waits for them", "[core]") {
  std::vector<std::uint64_t> ran;  // written by the follower only, read after drain()
  Follower f([&](std::uint64_t i) { ran.push_back(i); });
  f.drain();  // nothing released: returns at once
  CHECK(ran.empty());
  std::uint64_t n = 0;
  for (int round = 0; round < 200; ++round) {
    // Releases of 1, 2 or 3 items, some repeated (a release that adds nothing), then a drain.
    for (int step = 0; step < 5; ++step) {
      n += static_cast<std::uint64_t>((round + step) % 4);
      f.release(n);
    }
    f.drain();
    REQUIRE(ran.size() == n);
  }
  for (std::uint64_t i = 0; i < ran.size(); ++i) REQUIRE(ran[i] == i);
  f.drain();
  CHECK(ran.size() == n);
}

TEST_CASE("Follower sees what the owner wrote before releasing an item", "[core]") {
  // The calibration use: the owner writes a buffer, releases it, and rewrites it only after
  // drain(). Every item must see its own round's values, never the next round's.
  constexpr int kRounds = 300, kItems = 8, kSize = 256;
  std::vector<std::vector<int>> buf(kItems, std::vector<int>(kSize));
  int bad = 0;  // follower only
  Follower f([&](std::uint64_t item) {
    const int round = static_cast<int>(item / kItems), k = static_cast<int>(item % kItems);
    for (int v : buf[static_cast<size_t>(k)]) bad += v != round * 1000 + k;
  });
  std::uint64_t released = 0;
  for (int round = 0; round < kRounds; ++round) {
    for (int k = 0; k < kItems; ++k) {
      for (int& v : buf[static_cast<size_t>(k)]) v = round * 1000 + k;
      f.release(++released);
    }
    f.drain();
  }
  CHECK(bad == 0);
}

TEST_CASE("Follower: the first exception reaches drain once, and later items are skipped", "[core]") {
  std::vector<std::uint64_t> ran;
  Follower f([&](std::uint64_t i) {
    if (i == 5 || i == 7) throw std::runtime_error("item " + std::to_string(i));
    ran.push_back(i);
  });
  f.release(3);
  f.drain();
  f.release(10);
  CHECK_THROWS_WITH(f.drain(), "item 5");
  CHECK(ran == std::vector<std::uint64_t>{0, 1, 2, 3, 4});
  f.release(12);
  CHECK_NOTHROW(f.drain());  // reported once; the follower now skips everything
  CHECK(ran.size() == 5);
}

TEST_CASE("Follower: destroying it with items pending stops it after a prefix of them", "[core]") {
  std::vector<std::uint64_t> ran;
  {
    Follower f([&](std::uint64_t i) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      ran.push_back(i);
    });
    f.release(100000);  // ~20 s of work if it ran it all
  }  // must return promptly, not after the work
  CHECK(ran.size() < 100000);
  for (std::uint64_t i = 0; i < ran.size(); ++i) REQUIRE(ran[i] == i);
}

TEST_CASE("Follower: a drain after a long idle spell wakes the sleeping thread", "[core]") {
  std::atomic<int> count{0};
  Follower f([&](std::uint64_t) { ++count; });
  f.release(1);
  f.drain();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // past the spin: it sleeps now
  f.release(3);
  f.drain();
  CHECK(count == 3);
}
