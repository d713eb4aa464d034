// available_cpus: the affinity mask and a cgroup v2 quota, not every online CPU.
#include <catch2/catch.hpp>

#include <sched.h>

#include <thread>

#include "octet/core/cpus.hpp"

TEST_CASE("cgroup_cpu_limit reads a cgroup v2 cpu.max line, rounding up", "[core]") {
  using octet::cgroup_cpu_limit;
  CHECK(cgroup_cpu_limit("max 100000") == 0);
  CHECK(cgroup_cpu_limit("100000 100000") == 1);
  CHECK(cgroup_cpu_limit("150000 100000") == 2);  // 1.5 CPUs: a second thread still gets half a CPU
  CHECK(cgroup_cpu_limit("50000 100000") == 1);
  CHECK(cgroup_cpu_limit("400000 100000") == 4);
  // Unreadable or meaningless lines set no limit rather than throw.
  CHECK(cgroup_cpu_limit("") == 0);
  CHECK(cgroup_cpu_limit("garbage") == 0);
  CHECK(cgroup_cpu_limit("x 100000") == 0);
  CHECK(cgroup_cpu_limit("100000 0") == 0);
  CHECK(cgroup_cpu_limit("-1 100000") == 0);
}

TEST_CASE("available_cpus follows the affinity mask", "[core]") {
  const int all = octet::available_cpus();
  CHECK(all >= 1);
  if (std::thread::hardware_concurrency() > 0) CHECK(all <= static_cast<int>(std::thread::hardware_concurrency()));
  cpu_set_t saved;
  REQUIRE(sched_getaffinity(0, sizeof(saved), &saved) == 0);
  int first = 0;
  while (!CPU_ISSET(first, &saved)) ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  REQUIRE(sched_setaffinity(0, sizeof(one), &one) == 0);
  const int pinned = octet::available_cpus();
  REQUIRE(sched_setaffinity(0, sizeof(saved), &saved) == 0);
  CHECK(pinned == 1);
  CHECK(octet::available_cpus() == all);
}
