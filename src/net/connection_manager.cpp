// Incoming-stream caps, eviction and the buffered-bytes budget (see connection_manager.hpp).
#include "connection_manager.hpp"

#include <algorithm>

namespace clusterd::net {

std::uint64_t ConnectionManager::admit(const std::shared_ptr<GuardedStream>& stream, const std::string& ip) {
    const auto pit = per_ip_.find(ip);
    if (opts_.max_tcp_connections_per_ip > 0 && pit != per_ip_.end() &&
        pit->second >= opts_.max_tcp_connections_per_ip) {
        ++stats_.tcp_refused_per_ip;
        drop_("per_ip_limit", "tcp stream from " + ip + ": " + std::to_string(pit->second) +
                                  " streams from that address already open");
        return 0;
    }
    if (in_conns_.size() >= opts_.max_tcp_connections && !evict_for_newcomer()) {
        ++stats_.tcp_refused;
        return 0;
    }
    const auto id = next_conn_++;
    in_conns_[id] = InConn{stream, ip, id, 0};
    ++per_ip_[ip];
    stats_.tcp_open = in_conns_.size();
    return id;
}

void ConnectionManager::release(std::uint64_t id) {
    auto it = in_conns_.find(id);
    if (it == in_conns_.end())
        return;
    stats_.tcp_buffered -= it->second.buffered;
    auto pit = per_ip_.find(it->second.ip);
    if (pit != per_ip_.end() && --pit->second == 0)
        per_ip_.erase(pit);
    in_conns_.erase(it);
    stats_.tcp_open = in_conns_.size();
}

void ConnectionManager::evict(std::uint64_t id, const char* code) {
    auto it = in_conns_.find(id);
    if (it == in_conns_.end())
        return;
    if (auto st = it->second.stream.lock())
        st->close_for(code);
    release(id);
}

bool ConnectionManager::evict_for_newcomer() {
    std::string busiest;
    std::size_t most = 0;
    for (const auto& [ip, n] : per_ip_) {
        if (n > most) {
            most = n;
            busiest = ip;
        }
    }
    std::uint64_t victim = 0, victim_seq = 0;
    for (const auto& [id, c] : in_conns_) {
        if (c.ip != busiest)
            continue;
        if (victim == 0 || c.seq < victim_seq) {
            victim = id;
            victim_seq = c.seq;
        }
    }
    if (victim == 0)
        return false;
    ++stats_.tcp_evicted;
    drop_("evicted",
          "tcp stream from " + busiest +
              ": connection limit reached, evicted the oldest stream of the address holding the most (" +
              std::to_string(most) + ")");
    evict(victim, "evicted");
    return true;
}

bool ConnectionManager::charge(std::uint64_t id, std::size_t n) {
    auto it = in_conns_.find(id);
    if (it == in_conns_.end())
        return false; // evicted meanwhile
    const std::size_t mine = it->second.buffered + n;
    while (stats_.tcp_buffered + n > opts_.max_buffered_stream_bytes) {
        std::uint64_t victim = 0;
        std::size_t most = mine;
        for (const auto& [oid, c] : in_conns_) {
            if (oid != id && c.buffered > most) {
                most = c.buffered;
                victim = oid;
            }
        }
        if (victim == 0)
            return false;
        ++stats_.tcp_buffer_evicted;
        drop_("buffer_cap", "tcp stream from " + in_conns_[victim].ip +
                                ": buffered stream bytes at the cap (" +
                                std::to_string(opts_.max_buffered_stream_bytes) +
                                "), evicted the stream holding " + std::to_string(most) + " bytes");
        evict(victim, "buffer_cap");
    }
    it = in_conns_.find(id);
    it->second.buffered += n;
    stats_.tcp_buffered += n;
    stats_.tcp_buffered_peak = std::max(stats_.tcp_buffered_peak, stats_.tcp_buffered);
    return true;
}

bool ConnectionManager::charge_to(std::uint64_t id, std::size_t& charged, std::size_t need) {
    if (id == 0 || need <= charged)
        return true;
    if (!charge(id, need - charged))
        return false;
    charged = need;
    return true;
}

} // namespace clusterd::net
