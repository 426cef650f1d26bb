// Runs an io_context in small slices until a condition holds or a time limit passes (tests that
// drive a net::Driver on the test's own thread). Header-only.
#pragma once

#include <asio/io_context.hpp>
#include <chrono>
#include <functional>

namespace clusterd::testing {

inline bool pump_until(asio::io_context& io, const std::function<bool()>& cond, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        io.run_for(std::chrono::milliseconds(10));
        if (io.stopped()) io.restart();
        if (cond()) return true;
    }
    return cond();
}

}  // namespace clusterd::testing
