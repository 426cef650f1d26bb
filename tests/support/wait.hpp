// wait_until: the one bounded poll loop of the test suite. Every test that waits for something
// to happen (a member alive, a record written, a port answering) waits through this, so each
// wait has a time limit and a failure says "not within <timeout>" instead of hanging.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace clusterd::testing {

/// Evaluates `pred` until it returns true or `timeout` has passed, sleeping `poll` between
/// tries; `pred` runs at least once and once more at the deadline. Returns the last result.
inline bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                       std::chrono::milliseconds poll = std::chrono::milliseconds(100)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        if (pred())
            return true;
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline)
            return false;
        std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(poll, deadline - now));
    }
}

} // namespace clusterd::testing
