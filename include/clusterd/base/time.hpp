// clusterd::base time types. Pure: nothing here reads a clock. The daemon's drivers (net,
// agent) and the simulator are the only places that turn a real or virtual clock into an Instant.
#pragma once

#include <chrono>
#include <cstdint>

namespace clusterd::base {

/// A span of time in integer nanoseconds (Go's time.Duration has the same unit and width).
using Duration = std::chrono::nanoseconds;

/// A point on a monotonic timeline that starts wherever the driver says it starts.
struct Instant {
    Duration since_epoch{0};

    friend constexpr auto operator<=>(const Instant&, const Instant&) = default;
    constexpr Instant operator+(Duration d) const { return Instant{since_epoch + d}; }
    constexpr Instant operator-(Duration d) const { return Instant{since_epoch - d}; }
    constexpr Duration operator-(Instant o) const { return since_epoch - o.since_epoch; }
    constexpr Instant& operator+=(Duration d) {
        since_epoch += d;
        return *this;
    }
    static constexpr Instant max() { return Instant{Duration::max()}; }
    static constexpr Instant zero() { return Instant{Duration{0}}; }
};

using std::chrono_literals::operator""ms;
using std::chrono_literals::operator""s;
using std::chrono_literals::operator""us;
using std::chrono_literals::operator""min;
using std::chrono_literals::operator""h;

} // namespace clusterd::base
