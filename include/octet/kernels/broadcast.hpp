// Numpy broadcasting for binary elementwise kernels: the output shape of two operands and a
// "plan" that folds the broadcast into the fewest loop dimensions, so the hot loop is a
// contiguous inner run (same-shape, scalar and per-channel cases all reduce to 1-3 dims).
// Depends only on core/.
#pragma once
#include <array>
#include <cstdint>
#include <string>

#include "octet/core/error.hpp"
#include "octet/core/tensor.hpp"

namespace octet::kernels {

// numpy: align trailing dims; each pair must be equal or contain a 1.
inline Shape broadcast_shape(const Shape& a, const Shape& b) {
  const size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    const int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    const int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1)
      throw ShapeError("cannot broadcast " + shape_str(a) + " with " + shape_str(b));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// Element strides of an operand of shape `s` read as if it had shape `out` (0 on broadcast
// dims). `out` must be a valid broadcast target of `s`.
inline Shape broadcast_strides(const Shape& s, const Shape& out) {
  Shape st(out.size(), 0);
  int64_t step = 1;
  for (size_t k = 0; k < s.size(); ++k) {
    const size_t i = s.size() - 1 - k;
    const size_t o = out.size() - 1 - k;
    st[o] = s[i] == 1 ? 0 : step;
    step *= s[i];
  }
  return st;
}

// Loop nest for out = op(a, b) after merging adjacent dims with the same broadcast pattern
// and dropping size-1 dims. dims[rank-1] is the innermost; strides are 0 or contiguous.
struct BroadcastPlan {
  static constexpr int kMaxRank = 8;
  int rank = 0;  // 0 means a single element
  std::array<int64_t, kMaxRank> dims{};
  std::array<int64_t, kMaxRank> stride_a{};
  std::array<int64_t, kMaxRank> stride_b{};
  int64_t count = 1;
  bool too_deep = false;  // pattern alternates more than kMaxRank times: use the generic path
};

inline BroadcastPlan make_broadcast_plan(const Shape& a, const Shape& b) {
  const Shape out = broadcast_shape(a, b);
  const Shape sa = broadcast_strides(a, out), sb = broadcast_strides(b, out);
  BroadcastPlan p;
  p.count = shape_count(out);
  // Walk dims from the innermost so merged strides are those of the innermost member.
  std::array<int64_t, BroadcastPlan::kMaxRank> d{}, xa{}, xb{};
  int n = 0;
  for (size_t k = out.size(); k-- > 0;) {
    if (out[k] == 1) continue;
    const bool ba = sa[k] == 0, bb = sb[k] == 0;
    if (n > 0 && (xa[n - 1] == 0) == ba && (xb[n - 1] == 0) == bb) {
      d[n - 1] *= out[k];
      continue;
    }
    if (n == BroadcastPlan::kMaxRank) {
      p.too_deep = true;
      return p;
    }
    d[n] = out[k];
    xa[n] = sa[k];
    xb[n] = sb[k];
    ++n;
  }
  p.rank = n;
  for (int i = 0; i < n; ++i) {
    p.dims[i] = d[n - 1 - i];
    p.stride_a[i] = xa[n - 1 - i];
    p.stride_b[i] = xb[n - 1 - i];
  }
  return p;
}

}  // namespace octet::kernels
