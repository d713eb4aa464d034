// BM1684X (default) and BM1684 chip constants: NPU count, local memory per NPU and its banks,
// EU count per dtype, alignment, DDR/local/static/L2 address bases (bm168x.md §2, §5).
// Pure data; depends only on the standard library and core/error.hpp.
#pragma once
#include <cstdint>
#include <string>

#include "octet/core/error.hpp"

namespace octet::bm168x {

enum class ChipKind { BM1684X, BM1684 };

struct Chip {
  ChipKind kind;
  const char* name;
  int npu_num;                    // lanes
  std::uint32_t local_mem_bytes;  // per NPU
  int bank_num;                   // per NPU
  std::uint32_t bank_bytes;
  int eu_bytes;                   // EU width per NPU in bytes: EU count = eu_bytes / element bytes
  int ic_parallel;                // int8 conv weight IC packing (vendor layout; 0 = none)
  std::uint64_t alignment;        // global / coeff alignment
  std::uint64_t ddr_base;
  std::uint64_t coeff_start;      // CoeffMem.address
  std::uint64_t local_window_base;
  std::uint64_t local_window_end;
  std::uint64_t static_mem_base;  // lookup tables
  std::uint32_t static_mem_bytes;
  std::uint64_t l2_base;
  std::uint64_t l2_bytes;
  int id_bits;                    // cmd_id width
  bool fixed_128b_slots;          // BM1684: every command is a 128-byte slot

  std::uint64_t total_local_bytes() const { return std::uint64_t(npu_num) * local_mem_bytes; }
  int eu_num(int elem_bytes) const { return eu_bytes / elem_bytes; }
};

inline constexpr Chip kBM1684X{ChipKind::BM1684X, "BM1684X", 64, 1u << 18, 16, 16u << 10, 64, 64, 0x1000,
                               0x100000000ull, 0x100000000ull, 0x08000000ull, 0x09000000ull,
                               0x09000000ull, 16u << 10, 0x10000000ull, 0x1FB000ull, 20, false};
inline constexpr Chip kBM1684{ChipKind::BM1684, "BM1684", 64, 1u << 19, 8, 64u << 10, 128, 0, 0x1000,
                              0x100000000ull, 0x105100000ull, 0x08000000ull, 0x10000000ull,
                              0, 0, 0x10000000ull + 0x22000 + 0x80000, 0, 16, true};

inline const Chip& chip_by_name(const std::string& name) {
  if (name == "BM1684X" || name == "bm1684x" || name == "BM1686") return kBM1684X;
  if (name == "BM1684" || name == "bm1684") return kBM1684;
  throw UsageError(error_text("target", name, "unknown chip (expected BM1684X or BM1684)"));
}

constexpr std::uint64_t align_up(std::uint64_t x, std::uint64_t a) { return (x + a - 1) / a * a; }
constexpr std::uint64_t ceil_div(std::uint64_t x, std::uint64_t a) { return (x + a - 1) / a; }

}  // namespace octet::bm168x
