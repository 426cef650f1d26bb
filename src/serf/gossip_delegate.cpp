// The endpoint's delegate: Serf message dispatch, broadcasts, push-pull, tags, name conflicts
// and coordinates (see gossip_delegate.hpp).
#include "gossip_delegate.hpp"

#include "clusterd/coord/codec.hpp"

namespace clusterd::serf::detail {

base::Bytes GossipDelegate::node_meta(std::size_t limit) {
    const auto& cfg = core_.config;
    auto b = cfg.protocol_version >= 3 ? wire::encode_tags(cfg.tags) : wire::encode_tags_legacy(cfg.tags);
    if (b.size() > limit) {
        core_.log(Level::Error, "serf: Node tags exceed length limit of " + std::to_string(limit) + " bytes");
        return {};
    }
    return b;
}

void GossipDelegate::notify_msg(base::ByteView buf) {
    if (buf.empty() || core_.shut_down())
        return;
    auto decoded = wire::decode_serf(buf);
    if (!decoded) {
        ++core_.stats.malformed_messages;
        core_.log(Level::Error, "serf: Error decoding message of type " + std::to_string(buf[0]) + ": " +
                                    decoded.error().message);
        return;
    }
    bool rebroadcast = false;
    swim::BroadcastQueue* queue = &members_.queue();
    auto& msg = *decoded;
    if (auto* leave = std::get_if<wire::SerfLeave>(&msg)) {
        rebroadcast = members_.leave_intent(*leave);
    } else if (auto* join = std::get_if<wire::SerfJoin>(&msg)) {
        rebroadcast = members_.join_intent(*join);
    } else if (auto* ev = std::get_if<wire::SerfUserEvent>(&msg)) {
        rebroadcast = events_.handle(*ev);
        queue = &events_.queue();
    } else if (auto* q = std::get_if<wire::SerfQuery>(&msg)) {
        rebroadcast = queries_.handle(*q);
        queue = &queries_.queue();
    } else if (auto* resp = std::get_if<wire::SerfQueryResponse>(&msg)) {
        queries_.handle_response(*resp);
    } else if (auto* relay = std::get_if<wire::SerfRelay>(&msg)) {
        swim::Address dest{relay->dest_ip, static_cast<std::uint16_t>(relay->dest_port)};
        core_.log(Level::Debug, "serf: Relaying response to addr: " + dest.to_string());
        ++core_.stats.relayed;
        core_.endpoint->send_user(dest, relay->inner);
    } else {
        core_.log(Level::Warn, "serf: Received message of unknown type: " + std::to_string(buf[0]));
    }
    if (rebroadcast) {
        queue->queue("", base::Bytes(buf.begin(), buf.end()));
        // A relayed user event, query or leave intent is as urgent here as at its origin: an
        // early round at once (within the same per-node bound, docs/protocol.md section 10).
        if (queue != &members_.queue() || std::holds_alternative<wire::SerfLeave>(msg))
            core_.endpoint->expedite_gossip(core_.now);
    }
}

std::vector<base::Bytes> GossipDelegate::get_broadcasts_for(std::string_view target, std::size_t overhead,
                                                            std::size_t limit) {
    std::size_t n = members_.table().size();
    auto msgs = members_.queue().get(overhead, limit, n);
    std::size_t used = 0;
    for (const auto& m : msgs)
        used += m.size() + overhead;
    for (swim::BroadcastQueue* q : {&queries_.queue(), &events_.queue()}) {
        if (used >= limit)
            break;
        for (auto& m : q->get(overhead, limit - used, n, target)) {
            used += m.size() + overhead;
            msgs.push_back(std::move(m));
        }
    }
    return msgs;
}

bool GossipDelegate::has_queued_broadcasts() const {
    return members_.queue().size() + queries_.queue().size() + events_.queue().size() > 0;
}

base::Bytes GossipDelegate::local_state(bool /*join*/) {
    wire::SerfPushPull pp;
    members_.fill_state(pp);
    events_.fill_state(pp);
    queries_.fill_state(pp);
    return wire::encode_serf(pp);
}

void GossipDelegate::merge_remote_state(base::ByteView buf, bool join) {
    if (buf.empty()) {
        core_.log(Level::Error, "serf: Remote state is zero bytes");
        return;
    }
    if (buf[0] != static_cast<std::uint8_t>(wire::SerfMsgType::PushPull)) {
        core_.log(Level::Error, "serf: Remote state has bad type prefix: " + std::to_string(buf[0]));
        ++core_.stats.malformed_messages;
        return;
    }
    auto decoded = wire::decode_serf(buf);
    if (!decoded || !std::holds_alternative<wire::SerfPushPull>(*decoded)) {
        core_.log(Level::Error, "serf: Failed to decode remote state");
        ++core_.stats.malformed_messages;
        return;
    }
    const auto& pp = std::get<wire::SerfPushPull>(*decoded);
    queries_.merge_state(pp);
    members_.merge_state(pp);
    events_.merge_state(pp, join, lifecycle_.ignoring_old_events());
}

void GossipDelegate::notify_conflict(const swim::Node& existing, const swim::Node& other) {
    if (existing.name != core_.name()) {
        core_.log(Level::Warn, "serf: Name conflict for '" + existing.name + "' both " +
                                   existing.addr.to_string() + " and " + other.addr.to_string() +
                                   " are claiming");
        return;
    }
    core_.log(Level::Error, "serf: Node name conflicts with another node at " + other.addr.to_string() +
                                ". Names must be unique! (Resolution enabled: " +
                                (core_.config.enable_name_conflict_resolution ? "true" : "false") + ")");
    if (!core_.config.enable_name_conflict_resolution)
        return;
    queries_.start_conflict_vote();
}

// ---- coordinates -------------------------------------------------------------------------------

base::Bytes GossipDelegate::ack_payload() {
    if (core_.config.disable_coordinates)
        return {};
    return coord::encode_ping_payload(core_.coord.coordinate());
}

void GossipDelegate::notify_ping_complete(const swim::Node& node, base::Duration rtt,
                                          base::ByteView payload) {
    if (core_.config.disable_coordinates || payload.empty())
        return;
    auto c = coord::decode_ping_payload(payload);
    if (!c) {
        ++core_.stats.coordinate_rejected;
        core_.log(Level::Error, "serf: Failed to decode coordinate from ping: " + c.error().message);
        return;
    }
    const coord::Coordinate before = core_.coord.coordinate();
    auto w = core_.peers.window(node.name);
    auto r = core_.coord.update(w.samples, w.count, *c, rtt);
    if (!r) {
        ++core_.stats.coordinate_rejected;
        core_.log(Level::Debug, "serf: Rejected coordinate from " + node.name + ": " + r.error().message);
        return;
    }
    core_.stats.coordinate_adjustment.record(before.distance_to(core_.coord.coordinate()));
    core_.peers.set(node.name, *c);
    core_.peers.set(core_.name(), core_.coord.coordinate());
}

} // namespace clusterd::serf::detail
