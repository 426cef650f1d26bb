// A fixed-size latency histogram: 64 power-of-two buckets of microseconds, so recording is
// O(1) with no allocation and quantiles are exact to within a factor of two (the bucket's upper
// bound is reported). The maximum is kept exactly. Pure: the caller measures the time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "clusterd/base/time.hpp"

namespace clusterd::base {

class LatencyHistogram {
  public:
    void record(Duration d);
    std::uint64_t count() const { return count_; }
    /// Upper bound (in microseconds) of the bucket holding quantile q (0 < q <= 1); 0 when empty.
    std::uint64_t quantile_us(double q) const;
    std::uint64_t max_us() const { return max_us_; }
    /// Sum of every recorded value, microseconds.
    std::uint64_t sum_us() const { return sum_us_; }
    static constexpr std::size_t kBuckets = 64;
    /// Values in bucket i: [2^(i-1), 2^i) microseconds (bucket 0: under 1 us).
    std::uint64_t bucket(std::size_t i) const { return i < kBuckets ? buckets_[i] : 0; }
    void reset() { *this = LatencyHistogram{}; }

  private:
    std::array<std::uint64_t, 64> buckets_{}; // bucket i: [2^(i-1), 2^i) us; bucket 0: < 1 us
    std::uint64_t count_ = 0;
    std::uint64_t max_us_ = 0;
    std::uint64_t sum_us_ = 0;
};

} // namespace clusterd::base
