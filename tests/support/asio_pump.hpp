// pump_until: wait_until for tests that drive an io_context on their own thread (a net::Driver,
// a store adapter, the handler runner): the io_context runs in small slices between checks
// instead of the thread sleeping. Header-only.
#pragma once

#include <asio/io_context.hpp>
#include <chrono>
#include <functional>

#include "support/wait.hpp"

namespace clusterd::testing {

/// Runs `io` in `slice`s until `cond` holds or `limit` passes; returns the last cond().
inline bool pump_until(asio::io_context& io, const std::function<bool()>& cond,
                       std::chrono::milliseconds limit,
                       std::chrono::milliseconds slice = std::chrono::milliseconds(10)) {
    return wait_until(
        [&] {
            if (io.stopped())
                io.restart();
            io.run_for(slice);
            return cond();
        },
        limit, std::chrono::milliseconds(0));
}

} // namespace clusterd::testing
