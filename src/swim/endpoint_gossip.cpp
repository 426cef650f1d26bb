// Endpoint dissemination: piggybacked broadcasts, periodic gossip to random members (dead ones
// too, for GossipToTheDeadTime), push-pull anti-entropy, join and the outbound queue
// (memberlist state.go gossip/pushPull, net.go sendMsg/sendLocalState, memberlist.go Join).
#include "clusterd/swim/timing.hpp"
#include "endpoint_impl.hpp"

namespace clusterd::swim {

namespace {
constexpr std::size_t kCompoundHeaderOverhead = 2; // memberlist compoundHeaderOverhead
constexpr std::size_t kCompoundOverhead = 2;       // per part
constexpr std::size_t kUserMsgOverhead = 1;
} // namespace

void Endpoint::Impl::get_broadcasts(std::size_t overhead, std::size_t limit, std::string_view target,
                                    wire::CompoundBuilder& parts) {
    // The queue's messages are copied once, straight into the packet's buffer.
    std::size_t used = 0;
    queue.get(overhead, limit, nodes.size(), {}, [&](base::ByteView m) {
        used += m.size() + overhead;
        parts.add(m);
    });
    if (delegate) {
        const std::size_t avail = limit > used ? limit - used : 0;
        if (avail > overhead + kUserMsgOverhead) {
            for (auto& user : delegate->get_broadcasts_for(target, overhead + kUserMsgOverhead, avail)) {
                base::Bytes framed;
                framed.reserve(user.size() + 1);
                framed.push_back(static_cast<std::uint8_t>(wire::MsgType::User));
                framed.insert(framed.end(), user.begin(), user.end());
                parts.add(framed);
            }
        }
    }
}

void Endpoint::Impl::send_raw(const Address& to, const std::string& node, base::Bytes msg, bool crc) {
    Transmit t;
    t.kind = Transmit::Kind::Packet;
    t.to = to;
    t.node = node;
    t.msg = std::move(msg);
    t.crc = crc;
    stats.packets_out++;
    count_msgs(t.msg, true);
    out.push_back(std::move(t));
}

void Endpoint::Impl::send_msg(const Address& to, const std::string& node, base::Bytes msg) {
    const std::size_t budget = cfg.udp_buffer_size;
    const std::size_t fixed = msg.size() + kCompoundHeaderOverhead + packet_overhead;
    wire::CompoundBuilder parts;
    parts.add(msg);
    if (budget > fixed)
        get_broadcasts(kCompoundOverhead, budget - fixed, node, parts);
    if (parts.parts() == 1) {
        send_raw(to, node, std::move(msg), false);
        return;
    }
    send_raw(to, node, parts.finish(), false);
}

std::uint64_t Endpoint::Impl::send_stream(const Address& to, const std::string& node, base::Bytes msg) {
    Transmit t;
    t.kind = Transmit::Kind::Stream;
    t.to = to;
    t.node = node;
    t.msg = std::move(msg);
    t.stream_id = ++next_stream_id;
    t.timeout = cfg.tcp_timeout;
    PendingStream ps{StreamKind::User, to};
    ps.started = last_now;
    streams[t.stream_id] = ps;
    count_msgs(t.msg, true);
    out.push_back(std::move(t));
    return next_stream_id;
}

std::size_t Endpoint::Impl::gossip(base::Instant now) {
    stats.gossip_rounds++;
    auto targets = k_random_nodes(static_cast<std::size_t>(cfg.gossip_nodes), [&](const MemberRec& n) {
        if (is_self(n))
            return true;
        switch (n.state()) {
        case State::Alive:
        case State::Suspect:
            return false;
        case State::Dead:
            return (now - nodes.state_change(n)) > cfg.gossip_to_the_dead_time;
        case State::Left:
            return true;
        }
        return true;
    });
    const std::size_t fixed = kCompoundHeaderOverhead + packet_overhead;
    if (cfg.udp_buffer_size <= fixed)
        return 0;
    const std::size_t avail = cfg.udp_buffer_size - fixed;
    std::size_t sent = 0;
    wire::CompoundBuilder parts;
    for (std::uint32_t at : targets) {
        const MemberRec& node = nodes[at];
        parts.clear();
        get_broadcasts(kCompoundOverhead, avail, nodes.name(node), parts);
        if (parts.parts() == 0)
            return sent;
        ++sent;
        const bool crc = nodes.pmax(node) >= 5;
        if (parts.parts() == 1) {
            const base::ByteView only = parts.part(0);
            send_raw(nodes.addr(node), std::string(nodes.name(node)), base::Bytes(only.begin(), only.end()),
                     crc);
        } else {
            send_raw(nodes.addr(node), std::string(nodes.name(node)), parts.finish(), crc);
        }
    }
    return sent;
}

base::Bytes Endpoint::Impl::local_push_pull(bool join) {
    // Encoded a member at a time into one reused state (a push-pull carries every member: the
    // join storm builds N of them at the seed, each N states long).
    const base::Bytes user_state = delegate ? delegate->local_state(join) : base::Bytes{};
    return wire::encode_push_pull(
        join, nodes.size(),
        [&](std::size_t i, wire::PushNodeState& s) {
            const MemberRec& n = nodes[i];
            s.name.assign(nodes.name(n));
            const base::ByteView ip = nodes.ip(n), meta = nodes.meta(n);
            s.addr.assign(ip.begin(), ip.end());
            s.port = nodes.port(n);
            s.meta.assign(meta.begin(), meta.end());
            s.incarnation = n.incarnation;
            s.state = static_cast<wire::NodeState>(n.state());
            const MemberTable::Vsn vsn = nodes.vsn(n);
            s.vsn.assign(vsn.begin(), vsn.end());
        },
        user_state);
}

std::uint64_t Endpoint::Impl::start_push_pull(const Address& to, const std::string& node, bool join,
                                              std::uint64_t join_id) {
    const std::uint64_t id = send_stream(to, node, local_push_pull(join));
    PendingStream& ps = streams[id];
    ps.kind = StreamKind::PushPull;
    ps.join = join;
    ps.join_id = join_id;
    return id;
}

void Endpoint::Impl::push_pull_tick(base::Instant now) {
    (void)now;
    auto peers =
        k_random_nodes(1, [&](const MemberRec& n) { return n.state() != State::Alive || is_self(n); });
    if (peers.empty())
        return;
    const MemberRec& peer = nodes[peers[0]];
    start_push_pull(nodes.addr(peer), std::string(nodes.name(peer)), false, 0);
}

} // namespace clusterd::swim
