// memberlist scaling formulas; see timing.hpp.
#include "clusterd/swim/timing.hpp"

#include <algorithm>
#include <cmath>

namespace clusterd::swim {

base::Duration suspicion_timeout(int suspicion_mult, std::size_t n, base::Duration interval) {
    const double node_scale = std::max(1.0, std::log10(std::max(1.0, static_cast<double>(n))));
    // Go: Duration(mult) * Duration(nodeScale*1000) * interval / 1000 (integer arithmetic).
    const auto scaled = static_cast<std::int64_t>(node_scale * 1000.0);
    return base::Duration(static_cast<std::int64_t>(suspicion_mult) * scaled * interval.count() / 1000);
}

int retransmit_limit(int retransmit_mult, std::size_t n) {
    const double node_scale = std::ceil(std::log10(static_cast<double>(n) + 1.0));
    return retransmit_mult * static_cast<int>(node_scale);
}

base::Duration push_pull_scale(base::Duration interval, std::size_t n) {
    constexpr double kThreshold = 32.0;
    if (static_cast<double>(n) <= kThreshold)
        return interval;
    const double mult = std::ceil(std::log2(static_cast<double>(n)) - std::log2(kThreshold)) + 1.0;
    return interval * static_cast<std::int64_t>(mult);
}

base::Duration suspicion_total(int n, int k, base::Duration min, base::Duration max) {
    if (k < 1)
        return min;
    const double frac = std::log(static_cast<double>(n) + 1.0) / std::log(static_cast<double>(k) + 1.0);
    const double max_s = std::chrono::duration<double>(max).count();
    const double min_s = std::chrono::duration<double>(min).count();
    const double raw = max_s - frac * (max_s - min_s);
    auto timeout = std::chrono::duration_cast<base::Duration>(
        std::chrono::milliseconds(static_cast<std::int64_t>(std::floor(1000.0 * raw))));
    return std::max(timeout, min);
}

} // namespace clusterd::swim
