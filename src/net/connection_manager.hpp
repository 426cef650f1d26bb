// net::ConnectionManager (as in asio's HTTP server example): the registry of incoming TCP
// streams behind the driver's DoS limits: the cap on streams open at once (a newcomer evicts the
// oldest stream of the address holding the most), the cap per source address, and the budget of
// stream bytes buffered across connections (a reader that would pass it evicts the streams
// holding more than it, largest first, or fails). It holds weak references only; each stream's
// coroutine owns its stream (rule 5). Private to src/net.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "clusterd/net/driver.hpp"
#include "stream_session.hpp"

namespace clusterd::net {

class ConnectionManager {
  public:
    /// Counts and logs a drop (the driver's rate-limited drop log).
    using DropFn = std::function<void(const std::string& code, const std::string& what)>;

    ConnectionManager(const DriverOptions& opts, DriverStats& stats, DropFn drop)
        : opts_(opts), stats_(stats), drop_(std::move(drop)) {}

    /// Admits an accepted stream from `ip`: its id, or 0 when refused (over the per-address cap,
    /// or at the global cap with nothing to evict; counted). The caller closes a refused stream.
    std::uint64_t admit(const std::shared_ptr<GuardedStream>& stream, const std::string& ip);
    /// Forgets an incoming stream at its end: frees its slot and its bytes.
    void release(std::uint64_t id);
    /// Raises stream `id`'s charge (`charged`) to `need` bytes; id 0 (outgoing) is not charged.
    /// False when the budget cannot make room (the caller drops its own stream).
    bool charge_to(std::uint64_t id, std::size_t& charged, std::size_t need);

  private:
    struct InConn {
        std::weak_ptr<GuardedStream> stream;
        std::string ip;
        std::uint64_t seq = 0;    ///< accept order (oldest first)
        std::size_t buffered = 0; ///< bytes charged to the budget
    };
    void evict(std::uint64_t id, const char* code);
    bool evict_for_newcomer();
    bool charge(std::uint64_t id, std::size_t n);

    const DriverOptions& opts_;
    DriverStats& stats_;
    DropFn drop_;
    std::map<std::uint64_t, InConn> in_conns_;
    std::map<std::string, std::size_t> per_ip_;
    std::uint64_t next_conn_ = 1;
};

} // namespace clusterd::net
