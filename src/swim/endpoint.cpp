// swim::Endpoint public API: input dispatch (packets, streams, timers), commands (join, leave,
// update_meta, user messages) and queries. The protocol logic lives in endpoint_*.cpp.
#include "clusterd/swim/endpoint.hpp"

#include <array>

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>

#include "clusterd/swim/timing.hpp"
#include "endpoint_impl.hpp"

namespace clusterd::swim {

namespace {
constexpr int kMaxCompoundDepth = 2;
}

Endpoint::Endpoint(Config config, Delegate* delegate, std::uint64_t seed, base::Instant now)
    : impl_(std::make_unique<Impl>(std::move(config), delegate, seed, now)) {}

Endpoint::~Endpoint() = default;

// ---- timers ------------------------------------------------------------------------------------

void Endpoint::Impl::fire(const Timer& t, base::Instant now) {
    switch (t.kind) {
    case TimerKind::Start:
        break; // ensure_started() already ran
    case TimerKind::ProbeTick:
        schedule(now + cfg.probe_interval, Timer{TimerKind::ProbeTick, 0, {}});
        if (gossip_parked && !nothing_queued())
            wake_gossip(now);
        if (probe_state) {
            probe_tick_pending = true; // a Go ticker keeps one missed tick
        } else {
            probe(now);
        }
        break;
    case TimerKind::GossipTick:
        early_rounds = 0;
        after_gossip_round(now, gossip(now));
        if (cfg.park_idle_gossip && !early_gossip_scheduled && nothing_queued()) {
            gossip_parked = true;
            gossip_next = now + cfg.gossip_interval;
        } else {
            schedule(now + cfg.gossip_interval, Timer{TimerKind::GossipTick, 0, {}});
        }
        break;
    case TimerKind::GossipEarly:
        early_gossip_scheduled = false;
        if (early_rounds < cfg.max_early_rounds) {
            early_rounds++;
            stats.early_gossip_rounds++;
            after_gossip_round(now, gossip(now));
        }
        break;
    case TimerKind::PushPullTick:
        schedule(now + push_pull_scale(cfg.push_pull_interval, nodes.size()),
                 Timer{TimerKind::PushPullTick, 0, {}});
        push_pull_tick(now);
        break;
    case TimerKind::ProbeTimeout:
        probe_timers_armed = false; // this one left the map
        probe_timeout(t.id, now);
        break;
    case TimerKind::ProbeEnd:
        probe_timers_armed = false;
        probe_end(t.id, now);
        break;
    case TimerKind::AckExpire:
        break;
    case TimerKind::RelayNack: {
        auto it = relays.find(static_cast<std::uint32_t>(t.id));
        if (it == relays.end())
            break;
        Relay r = it->second;
        relays.erase(it);
        if (!r.done && r.nack)
            send_msg(r.requester, r.requester_node, wire::encode(wire::Nack{r.their_seq}));
        break;
    }
    case TimerKind::SuspicionRecheck: {
        auto it = suspicions.find(t.name);
        if (it == suspicions.end() || it->second.incarnation() != t.id)
            break;
        const int remaining = cfg.recheck_attempts - it->second.rechecks();
        if (remaining <= 0 || it->second.deadline() - remaining * cfg.probe_timeout > now)
            break; // done, or a stale timer (the deadline moved)
        recheck_suspect(t.name, now);
        if (remaining > 1)
            schedule(now + cfg.probe_timeout, Timer{TimerKind::SuspicionRecheck, t.id, t.name});
        break;
    }
    case TimerKind::SuspicionCheck: {
        auto it = suspicions.find(t.name);
        if (it == suspicions.end() || it->second.deadline() > now)
            break;
        MemberRec* node = lookup(t.name);
        const std::uint32_t suspected = it->second.incarnation();
        if (cfg.recheck_suspects && it->second.acked() &&
            it->second.renewals() < cfg.max_suspicion_renewals && node && node->state() == State::Suspect &&
            node->incarnation == suspected) {
            // It answered us since it came under suspicion: alive, just not refuting yet (the
            // recheck carried the suspicion to it). Suspect it again, at the minimum timeout.
            const int renewals = it->second.renewals() + 1;
            const base::Duration min =
                suspicion_timeout(cfg.suspicion_mult, nodes.size(), cfg.probe_interval);
            it->second = Suspicion(cfg.name, 0, min, min, now, suspected);
            it->second.set_renewals(renewals);
            stats.suspicions_renewed++;
            schedule_suspicion(t.name, it->second, now);
            break;
        }
        suspicions.erase(it);
        // Still suspect at the incarnation this suspicion was raised for (a refutation would
        // have raised it and ended the suspicion).
        if (node && node->state() == State::Suspect && node->incarnation == suspected) {
            const wire::Dead dead{node->incarnation, std::string(nodes.name(*node)), cfg.name};
            dead_node(dead, now);
            if (cfg.dead_announce_peers > 0 &&
                (!last_dead_announce || now - *last_dead_announce >= cfg.probe_interval)) {
                last_dead_announce = now;
                announce(wire::encode(dead), cfg.dead_announce_peers);
            }
        }
        break;
    }
    }
}

void Endpoint::handle_timeout(base::Instant now) {
    Impl& m = *impl_;
    m.last_now = now;
    m.ensure_started(now);
    while (!m.timers.empty() && m.timers.begin()->first <= now) {
        auto node = m.timers.extract(m.timers.begin());
        m.fire(node.mapped(), now);
    }
}

base::Instant Endpoint::next_deadline() const {
    if (impl_->timers.empty())
        return base::Instant::max();
    return impl_->timers.begin()->first;
}

// ---- packets -----------------------------------------------------------------------------------

void Endpoint::Impl::dispatch(const Address& from, base::ByteView msg, base::Instant now, int depth,
                              const wire::AliveView* alive) {
    if (msg.empty()) {
        stats.malformed++;
        return;
    }
    const auto type = static_cast<wire::MsgType>(msg[0]);
    if (type == wire::MsgType::Compound) {
        if (depth >= kMaxCompoundDepth) {
            stats.malformed++;
            return;
        }
        auto parts = wire::split_compound(msg);
        if (!parts) {
            stats.malformed++;
            return;
        }
        stats.malformed += parts->truncated;
        // Start loading every part's dedup slot before handling the first: in a large cluster
        // the table is cold and each lookup is a cache miss; this overlaps them.
        const bool dedup = cfg.dedup_window.count() > 0 && !seen.empty();
        std::array<std::uint64_t, wire::kMaxCompoundParts> hashes; // of the gossip states
        if (dedup)
            for (std::size_t p = 0; p < parts->parts.size(); ++p)
                if (is_gossip_state(parts->parts[p])) {
                    hashes[p] = seen_hash(parts->parts[p]);
                    __builtin_prefetch(&seen[hashes[p] & (seen.size() - 1)]);
                }
        // Likewise the member lookups of the alive parts that are not known duplicates: each is
        // a chain of misses (position slot, record, address blob), walked a link at a time for
        // all parts together.
        // The views are kept for the parts' own handling (stale_alive), which need not decode
        // them again.
        constexpr std::size_t kViewed = 64;
        std::array<wire::AliveView, kViewed> views;
        std::array<std::uint8_t, kViewed> part_of; // index into parts (at most 255 of them)
        std::size_t k = 0;
        if (parts->parts.size() > 1) {
            for (std::size_t p = 0; p < parts->parts.size() && k < kViewed; ++p) {
                const base::ByteView part = parts->parts[p];
                if (part.empty() || part[0] != static_cast<std::uint8_t>(wire::MsgType::Alive))
                    continue;
                if (dedup) {
                    const std::uint64_t h = hashes[p]; // an alive part is a gossip state
                    if (seen[h & (seen.size() - 1)].hash == h)
                        continue; // handled before: dropped without a lookup
                }
                if (auto v = wire::decode_alive_view(part)) {
                    views[k] = *v;
                    part_of[k++] = static_cast<std::uint8_t>(p);
                }
            }
            std::array<MemberTable::Prefetch, kViewed> pf;
            for (std::size_t i = 0; i < k; ++i)
                pf[i].name = views[i].node;
            for (int stage = 0; stage < MemberTable::kPrefetchStages; ++stage)
                for (std::size_t i = 0; i < k; ++i)
                    nodes.prefetch(pf[i], stage);
        }
        std::size_t next = 0;
        for (std::size_t p = 0; p < parts->parts.size(); ++p) {
            const wire::AliveView* viewed = nullptr;
            if (next < k && part_of[next] == p)
                viewed = &views[next++];
            dispatch(from, parts->parts[p], now, depth + 1, viewed);
        }
        return;
    }
    count_msgs(msg, false);
    if (type == wire::MsgType::User) {
        if (delegate)
            delegate->notify_msg(msg.subspan(1));
        return;
    }
    if (is_gossip_state(msg) && seen_recently(msg, now)) {
        stats.duplicates++;
        return;
    }
    if (type == wire::MsgType::Alive) {
        // Viewed once (a compound's part comes viewed): the stale check and the handling both
        // use the view, which holds exactly what wire::decode() would (the same reader over
        // the same field list). An alive message the view cannot read is decoded below, which
        // fails the same way and counts it.
        std::optional<wire::AliveView> own;
        if (alive == nullptr) {
            if (auto v = wire::decode_alive_view(msg)) {
                own = *v;
                alive = &*own;
            }
        }
        if (alive != nullptr) {
            if (stale_alive(msg, alive)) {
                stats.stale_alives++;
                return;
            }
            // A reused message (its buffers grow once), unless a delegate called back into us
            // while one is being handled.
            wire::Alive local;
            wire::Alive& m = alive_in_use ? local : alive_in;
            m.incarnation = alive->incarnation;
            m.node.assign(alive->node);
            m.addr.assign(alive->addr.begin(), alive->addr.end());
            m.port = alive->port == 0 ? cfg.advertise_port : alive->port;
            m.meta.assign(alive->meta.begin(), alive->meta.end());
            m.vsn.assign(alive->vsn.begin(), alive->vsn.end());
            const bool outer = !alive_in_use;
            alive_in_use = true;
            alive_node(m, now, false);
            if (outer)
                alive_in_use = false;
            return;
        }
    }
    auto decoded = wire::decode(msg);
    if (!decoded) {
        if (decoded.error().code == "unexpected_type") {
            stats.unexpected++;
        } else {
            stats.malformed++;
        }
        return;
    }
    std::visit(
        [&](auto& m) {
            using T = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<T, wire::Ping>) {
                handle_ping(m, from);
            } else if constexpr (std::is_same_v<T, wire::IndirectPing>) {
                handle_indirect_ping(m, from, now);
            } else if constexpr (std::is_same_v<T, wire::Ack>) {
                handle_ack(m, now);
            } else if constexpr (std::is_same_v<T, wire::Nack>) {
                handle_nack(m);
            } else if constexpr (std::is_same_v<T, wire::Suspect>) {
                suspect_node(m, now);
            } else if constexpr (std::is_same_v<T, wire::Alive>) {
                if (m.port == 0)
                    m.port = cfg.advertise_port;
                alive_node(m, now, false);
            } else if constexpr (std::is_same_v<T, wire::Dead>) {
                dead_node(m, now);
            } else {
                stats.unexpected++;
            }
        },
        decoded.value());
}

bool Endpoint::Impl::stale_alive(base::ByteView msg, const wire::AliveView* viewed) const {
    // Exactly the cases in which alive_node() would return without any effect: a known remote
    // member, same address, an incarnation not newer than ours, nothing malformed.
    std::optional<wire::AliveView> own;
    if (viewed == nullptr) {
        auto d = wire::decode_alive_view(msg);
        if (!d)
            return false;
        own = *d;
        viewed = &*own;
    }
    const wire::AliveView* v = viewed;
    if (v->node == cfg.name || v->incarnation == std::numeric_limits<std::uint32_t>::max())
        return false;
    if (v->vsn.size() >= 3 && (v->vsn[0] == 0 || v->vsn[1] == 0 || v->vsn[0] > v->vsn[1]))
        return false;
    if (v->addr.size() != 4 && v->addr.size() != 16)
        return false;
    const MemberRec* state = lookup(v->node);
    if (state == nullptr || v->incarnation > state->incarnation)
        return false;
    const std::uint16_t port = v->port == 0 ? cfg.advertise_port : v->port;
    const base::ByteView ip = nodes.ip(*state);
    return port == nodes.port(*state) && std::equal(ip.begin(), ip.end(), v->addr.begin(), v->addr.end());
}

std::uint64_t Endpoint::Impl::seen_hash(base::ByteView msg) {
    // FNV-style over 8-byte words, then the tail; never 0 (0 marks an empty slot).
    std::uint64_t h = 0xcbf29ce484222325ULL ^ msg.size();
    std::size_t i = 0;
    for (; i + 8 <= msg.size(); i += 8) {
        std::uint64_t w;
        std::memcpy(&w, msg.data() + i, 8);
        h = (h ^ w) * 0x100000001b3ULL;
        h ^= h >> 29;
    }
    for (; i < msg.size(); ++i)
        h = (h ^ msg[i]) * 0x100000001b3ULL;
    h ^= h >> 32;
    return h == 0 ? 1 : h;
}

bool Endpoint::Impl::seen_recently(base::ByteView msg, base::Instant now) {
    if (cfg.dedup_window.count() <= 0)
        return false;
    constexpr std::size_t kSlots = 4096;
    if (seen.empty())
        seen.resize(kSlots);
    const std::uint64_t h = seen_hash(msg);
    SeenSlot& slot = seen[h & (kSlots - 1)];
    // An alive message we handled before cannot change anything while no node has been
    // forgotten (incarnations only grow; reset_nodes() clears this cache), so it has no expiry.
    const bool alive = msg[0] == static_cast<std::uint8_t>(wire::MsgType::Alive);
    if (slot.hash == h && (alive || now - slot.at < cfg.dedup_window))
        return true;
    slot.hash = h;
    slot.at = now;
    return false;
}

void Endpoint::Impl::count_msgs(base::ByteView msg, bool sent, int depth) {
    if (msg.empty())
        return;
    if (msg[0] == static_cast<std::uint8_t>(wire::MsgType::Compound) && depth < kMaxCompoundDepth) {
        if (auto parts = wire::split_compound(msg)) {
            for (const auto& part : parts->parts)
                count_msgs(part, sent, depth + 1);
            return;
        }
    }
    const std::size_t t = std::min<std::size_t>(msg[0], Stats::kOtherMsgType);
    (sent ? stats.msgs_out : stats.msgs_in)[t]++;
    (sent ? stats.msg_bytes_out : stats.msg_bytes_in)[t] += msg.size();
}

void Endpoint::handle_packet(const Address& from, base::ByteView msg, base::Instant now) {
    Impl& m = *impl_;
    m.last_now = now;
    m.ensure_started(now);
    m.stats.packets_in++;
    m.dispatch(from, msg, now, 0);
}

// ---- streams -----------------------------------------------------------------------------------

base::Result<base::Bytes> Endpoint::handle_stream_request(const Address& from, base::ByteView msg,
                                                          base::Instant now) {
    Impl& m = *impl_;
    m.last_now = now;
    m.ensure_started(now);
    if (msg.empty()) {
        m.stats.malformed++;
        return base::make_error("truncated", "empty stream request");
    }
    m.count_msgs(msg, false);
    const auto type = static_cast<wire::MsgType>(msg[0]);
    switch (type) {
    case wire::MsgType::PushPull: {
        auto pp = wire::decode_push_pull_view(msg);
        if (!pp) {
            m.stats.malformed++;
            return pp.error();
        }
        // Reply first, then merge (memberlist handleConn order).
        base::Bytes reply = m.local_push_pull(pp->join);
        if (auto st = m.merge_remote(*pp, now); !st)
            return st.error();
        return reply;
    }
    case wire::MsgType::Ping: {
        auto decoded = wire::decode(msg);
        if (!decoded || !std::holds_alternative<wire::Ping>(*decoded)) {
            m.stats.malformed++;
            return base::make_error("malformed", "bad stream ping");
        }
        const auto& p = std::get<wire::Ping>(*decoded);
        if (!p.node.empty() && p.node != m.cfg.name) {
            m.stats.pings_wrong_node++;
            return base::make_error("wrong_node",
                                    "ping for node '" + p.node + "' but we are '" + m.cfg.name + "'");
        }
        wire::Ack ack{p.seq_no, m.delegate ? m.delegate->ack_payload() : base::Bytes{}};
        return wire::encode(ack);
    }
    case wire::MsgType::User: {
        auto payload = wire::decode_stream_user(msg);
        if (!payload) {
            m.stats.malformed++;
            return payload.error();
        }
        if (m.delegate)
            m.delegate->notify_msg(*payload);
        return base::Bytes{};
    }
    default:
        m.stats.unexpected++;
        (void)from;
        return base::make_error("unexpected_type",
                                "unexpected stream message type " + std::to_string(msg[0]));
    }
}

void Endpoint::handle_stream_reply(std::uint64_t stream_id, base::ByteView msg, base::Instant now) {
    Impl& m = *impl_;
    m.last_now = now;
    m.ensure_started(now);
    auto it = m.streams.find(stream_id);
    if (it == m.streams.end())
        return;
    Impl::PendingStream ps = it->second;
    m.streams.erase(it);
    m.count_msgs(msg, false);
    switch (ps.kind) {
    case Impl::StreamKind::PushPull: {
        m.stats.push_pull_time.record(now - ps.started);
        std::string error;
        if (!msg.empty() && msg[0] == static_cast<std::uint8_t>(wire::MsgType::Err)) {
            auto e = wire::decode(msg);
            error = (e && std::holds_alternative<wire::ErrResp>(*e)) ? std::get<wire::ErrResp>(*e).error
                                                                     : "remote error";
        } else {
            auto pp = wire::decode_push_pull_view(msg);
            if (!pp) {
                m.stats.malformed++;
                error = pp.error().message;
            } else if (auto st = m.merge_remote(*pp, now); !st) {
                error = st.error().message;
            }
        }
        if (ps.join) {
            auto& remaining = m.join_remaining[ps.join_id];
            if (remaining > 0)
                remaining--;
            m.join_results.push_back(JoinResult{ps.join_id, ps.to, error.empty(), error, remaining});
            if (remaining == 0)
                m.join_remaining.erase(ps.join_id);
        }
        break;
    }
    case Impl::StreamKind::Ping: {
        auto decoded = wire::decode(msg);
        if (decoded && std::holds_alternative<wire::Ack>(*decoded) &&
            std::get<wire::Ack>(*decoded).seq_no == ps.ping_seq && m.probe_state &&
            m.probe_state->seq == ps.ping_seq) {
            m.probe_state->fallback_ok = true;
            m.note_alive(m.probe_state->node);
        }
        break;
    }
    case Impl::StreamKind::User:
        break;
    }
}

void Endpoint::stream_failed(std::uint64_t stream_id, base::Instant now, std::string_view why,
                             StreamFailure kind) {
    Impl& m = *impl_;
    m.last_now = now;
    auto it = m.streams.find(stream_id);
    if (it == m.streams.end())
        return;
    Impl::PendingStream ps = it->second;
    m.streams.erase(it);
    if (ps.kind == Impl::StreamKind::Ping && kind == StreamFailure::Refused)
        m.fallback_refused(ps.ping_seq, now);
    if (ps.kind == Impl::StreamKind::PushPull && ps.join) {
        auto& remaining = m.join_remaining[ps.join_id];
        if (remaining > 0)
            remaining--;
        std::string error = why.empty() ? std::string("stream failed") : std::string(why);
        m.join_results.push_back(JoinResult{ps.join_id, ps.to, false, error, remaining});
        if (remaining == 0)
            m.join_remaining.erase(ps.join_id);
    }
}

// ---- outputs -----------------------------------------------------------------------------------

std::optional<Transmit> Endpoint::poll_transmit() {
    if (impl_->out.empty())
        return std::nullopt;
    Transmit t = std::move(impl_->out.front());
    impl_->out.pop_front();
    return t;
}

std::optional<JoinResult> Endpoint::poll_join_result() {
    if (impl_->join_results.empty())
        return std::nullopt;
    JoinResult r = std::move(impl_->join_results.front());
    impl_->join_results.pop_front();
    return r;
}

// ---- commands ----------------------------------------------------------------------------------

std::uint64_t Endpoint::join(const std::vector<Address>& seeds, base::Instant now) {
    Impl& m = *impl_;
    m.last_now = now;
    m.ensure_started(now);
    const std::uint64_t id = ++m.next_join_id;
    if (seeds.empty())
        return id;
    m.join_remaining[id] = seeds.size();
    for (const auto& seed : seeds)
        m.start_push_pull(seed, "", true, id);
    return id;
}

void Endpoint::leave(base::Instant now) {
    Impl& m = *impl_;
    m.last_now = now;
    m.ensure_started(now);
    if (m.left)
        return;
    m.left = true;
    const wire::Dead dead{m.self().incarnation, m.cfg.name, m.cfg.name};
    m.announce(wire::encode(dead), m.cfg.leave_announce_peers); // straight to the members, once
    m.dead_node(dead, now);                                     // and gossiped as memberlist does
    m.expedite(now);
    bool any_alive = false;
    for (const MemberRec& n : m.nodes) {
        if (!m.is_self(n) && !n.dead_or_left())
            any_alive = true;
    }
    if (!any_alive)
        m.leave_finished = true;
}

void Endpoint::Impl::announce(const base::Bytes& packet, std::size_t cap) {
    std::vector<std::uint32_t> peers;
    for (std::uint32_t at = 0; at < nodes.size(); ++at)
        if (!is_self(nodes[at]) && !nodes[at].dead_or_left())
            peers.push_back(at);
    const std::size_t count = std::min(peers.size(), cap);
    for (std::size_t i = 0; i < count; ++i) // the first `count` of a random permutation
        std::swap(peers[i], peers[i + rng.below(peers.size() - i)]);
    peers.resize(count);
    for (std::uint32_t at : peers) {
        const MemberRec& peer = nodes[at];
        send_raw(nodes.addr(peer), std::string(nodes.name(peer)), packet, nodes.pmax(peer) >= 5);
        stats.announcements++;
    }
}

void Endpoint::announce_leave_intent(base::Instant now, base::ByteView user_msg) {
    Impl& m = *impl_;
    m.last_now = now;
    m.ensure_started(now);
    if (m.left)
        return;
    base::Bytes packet;
    packet.reserve(user_msg.size() + 1);
    packet.push_back(static_cast<std::uint8_t>(wire::MsgType::User));
    packet.insert(packet.end(), user_msg.begin(), user_msg.end());
    m.announce(packet, m.cfg.leave_announce_peers);
}

bool Endpoint::Impl::nothing_queued() const {
    return queue.size() == 0 && (delegate == nullptr || !delegate->has_queued_broadcasts());
}

void Endpoint::Impl::wake_gossip(base::Instant now) {
    if (!gossip_parked)
        return;
    gossip_parked = false;
    // Back on the grid the tick never left: the first tick instant at or after now.
    base::Instant at = gossip_next;
    if (at < now) {
        const auto behind = now - at;
        at +=
            ((behind + cfg.gossip_interval - base::Duration(1)) / cfg.gossip_interval) * cfg.gossip_interval;
        early_rounds = 0; // at least one regular tick passed while parked
    }
    schedule(at, Timer{TimerKind::GossipTick, 0, {}});
}

void Endpoint::wake_gossip(base::Instant now) {
    // Not an input: last_now (the latest time an input brought) is left as it is.
    impl_->wake_gossip(now);
}

void Endpoint::Impl::expedite(base::Instant now) {
    if (!cfg.expedite_broadcasts || early_rounds >= cfg.max_early_rounds || early_gossip_scheduled)
        return;
    early_gossip_scheduled = true;
    schedule(now, Timer{TimerKind::GossipEarly, 0, {}});
}

void Endpoint::Impl::after_gossip_round(base::Instant now, std::size_t sent) {
    if (sent == 0 || !cfg.expedite_broadcasts || early_gossip_scheduled ||
        early_rounds >= cfg.max_early_rounds || delegate == nullptr || !delegate->has_queued_broadcasts())
        return;
    early_gossip_scheduled = true;
    schedule(now + cfg.gossip_interval / (cfg.max_early_rounds + 1), Timer{TimerKind::GossipEarly, 0, {}});
}

void Endpoint::expedite_gossip(base::Instant now) {
    Impl& m = *impl_;
    m.last_now = now;
    m.ensure_started(now);
    m.expedite(now);
}

bool Endpoint::leave_done() const {
    return impl_->left && impl_->leave_finished;
}
bool Endpoint::has_left() const {
    return impl_->left;
}

void Endpoint::update_meta(base::Instant now) {
    Impl& m = *impl_;
    m.last_now = now;
    m.ensure_started(now);
    base::Bytes meta;
    if (m.delegate) {
        meta = m.delegate->node_meta(m.cfg.meta_max_size);
        if (meta.size() > m.cfg.meta_max_size)
            meta.clear();
    }
    wire::Alive a = m.alive_msg_for(m.self());
    a.incarnation = ++m.incarnation;
    a.meta = std::move(meta);
    m.alive_node(a, now, true);
}

void Endpoint::send_user(const Address& to, base::ByteView payload) {
    base::Bytes msg;
    msg.reserve(payload.size() + 1);
    msg.push_back(static_cast<std::uint8_t>(wire::MsgType::User));
    msg.insert(msg.end(), payload.begin(), payload.end());
    impl_->send_raw(to, "", std::move(msg), false);
}

std::uint64_t Endpoint::send_user_reliable(const Address& to, base::ByteView payload) {
    return impl_->send_stream(to, "", wire::encode_stream_user(payload));
}

void Endpoint::set_packet_overhead(std::size_t bytes) {
    impl_->packet_overhead = bytes;
}

// ---- queries -----------------------------------------------------------------------------------

std::vector<Node> Endpoint::members() const {
    std::vector<Node> out;
    out.reserve(impl_->nodes.size());
    for (const MemberRec& n : impl_->nodes)
        out.push_back(impl_->nodes.node(n));
    return out;
}

std::optional<Node> Endpoint::find(std::string_view name) const {
    const MemberRec* r = impl_->lookup(name);
    if (r == nullptr)
        return std::nullopt;
    return impl_->nodes.node(*r);
}
std::optional<State> Endpoint::state_of(std::string_view name) const {
    const MemberRec* r = impl_->lookup(name);
    if (r == nullptr)
        return std::nullopt;
    return r->state();
}
Node Endpoint::local_node() const {
    return impl_->nodes.node(*impl_->lookup(impl_->cfg.name));
}

std::size_t Endpoint::num_alive() const {
    return impl_->nodes.live();
}

std::size_t Endpoint::estimated_nodes() const {
    return impl_->nodes.size();
}
int Endpoint::health_score() const {
    return impl_->awareness.score();
}
std::size_t Endpoint::queued_broadcasts() const {
    return impl_->queue.size();
}
const Config& Endpoint::config() const {
    return impl_->cfg;
}
const Stats& Endpoint::stats() const {
    return impl_->stats;
}

} // namespace clusterd::swim
