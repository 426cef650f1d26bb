// EndpointHost: a bare swim::Endpoint as a simulated process; see host.hpp.
#include "clusterd/sim/host.hpp"

namespace clusterd::sim {

EndpointHost::EndpointHost(swim::Config config, std::uint64_t seed, base::Instant now)
    : now_(now), ep_(std::move(config), this, seed, now) {}

void EndpointHost::handle_packet(const swim::Address& from, base::ByteView msg, base::Instant now) {
    now_ = now;
    ep_.handle_packet(from, msg, now);
}

void EndpointHost::handle_timeout(base::Instant now) {
    now_ = now;
    ep_.handle_timeout(now);
}

base::Result<base::Bytes> EndpointHost::handle_stream_request(const swim::Address& from, base::ByteView msg,
                                                              base::Instant now) {
    now_ = now;
    return ep_.handle_stream_request(from, msg, now);
}

void EndpointHost::handle_stream_reply(std::uint64_t id, base::ByteView msg, base::Instant now) {
    now_ = now;
    ep_.handle_stream_reply(id, msg, now);
}

void EndpointHost::stream_failed(std::uint64_t id, base::Instant now, std::string_view why,
                                 swim::StreamFailure kind) {
    now_ = now;
    ep_.stream_failed(id, now, why, kind);
}

base::Bytes EndpointHost::node_meta(std::size_t limit) {
    if (meta.size() > limit)
        return {};
    return meta;
}

void EndpointHost::record(Event::Kind kind, const swim::Node& node) {
    if (!keep_events) {
        if (on_event)
            on_event(Event{kind, node.name, node.state, now_});
        return;
    }
    events_.push_back(Event{kind, node.name, node.state, now_});
    if (on_event)
        on_event(events_.back());
}

} // namespace clusterd::sim
