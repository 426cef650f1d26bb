// serf::LamportClock: the logical clock Serf keeps three of (members, user events, queries).
// Witnessing time t moves the clock to t+1 when t is not older than the current value.
#pragma once

#include <cstdint>

namespace clusterd::serf {

using LamportTime = std::uint64_t;

class LamportClock {
  public:
    LamportTime time() const { return counter_; }
    /// Advances and returns the new time.
    LamportTime increment() { return ++counter_; }
    /// Observes a time from elsewhere: afterwards time() > v.
    void witness(LamportTime v) {
        if (v >= counter_)
            counter_ = v + 1;
    }

  private:
    LamportTime counter_ = 0;
};

} // namespace clusterd::serf
