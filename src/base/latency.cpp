#include "clusterd/base/latency.hpp"

#include <bit>
#include <cmath>

namespace clusterd::base {

void LatencyHistogram::record(Duration d) {
    const auto us = d.count() <= 0 ? std::uint64_t{0} : static_cast<std::uint64_t>(d.count() / 1000);
    const auto bucket = static_cast<std::size_t>(std::bit_width(us)); // 0 for 0, 1 for 1, 2 for 2..3, ...
    ++buckets_[bucket < buckets_.size() ? bucket : buckets_.size() - 1];
    ++count_;
    sum_us_ += us;
    if (us > max_us_)
        max_us_ = us;
}

std::uint64_t LatencyHistogram::quantile_us(double q) const {
    if (count_ == 0)
        return 0;
    auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
    if (rank == 0)
        rank = 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < buckets_.size(); ++i) {
        seen += buckets_[i];
        if (seen >= rank) {
            const std::uint64_t upper = i == 0 ? 0 : (std::uint64_t{1} << i) - 1;
            return upper < max_us_ ? upper : max_us_;
        }
    }
    return max_us_;
}

} // namespace clusterd::base
