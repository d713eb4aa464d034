// How many CPUs this process may actually run on: its affinity mask, capped by a cgroup v2 CPU
// quota when one is set (a container limited to 1.5 CPUs on a 64-core host gets 2, not 64).
// std::thread::hardware_concurrency() counts every online CPU and sees neither. Linux; other
// systems fall back to hardware_concurrency(). Depends on nothing in Octet.
#pragma once
#include <algorithm>
#include <fstream>
#include <string>
#include <thread>

#if defined(__linux__)
#include <sched.h>
#endif

namespace octet {

// CPUs allowed by a cgroup v2 `cpu.max` line ("<quota> <period>" or "max <period>"), rounded
// up; 0 when the line sets no limit or cannot be read.
inline int cgroup_cpu_limit(const std::string& cpu_max_line) {
  const auto sp = cpu_max_line.find(' ');
  if (sp == std::string::npos || cpu_max_line.compare(0, sp, "max") == 0) return 0;
  try {
    const long long quota = std::stoll(cpu_max_line.substr(0, sp));
    const long long period = std::stoll(cpu_max_line.substr(sp + 1));
    if (quota <= 0 || period <= 0) return 0;
    return static_cast<int>(std::min<long long>((quota + period - 1) / period, 1 << 20));
  } catch (const std::exception&) {
    return 0;
  }
}

inline int available_cpus() {
  int n = static_cast<int>(std::thread::hardware_concurrency());
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) n = CPU_COUNT(&set);
  std::ifstream f("/sys/fs/cgroup/cpu.max");
  std::string line;
  if (f && std::getline(f, line)) {
    const int limit = cgroup_cpu_limit(line);
    if (limit > 0) n = std::min(n, limit);
  }
#endif
  return std::max(n, 1);
}

}  // namespace octet
