// Endpoint failure detection: randomized round-robin probing, direct ping, indirect pings with
// nacks, the TCP fallback ping, Lifeguard awareness updates, and answering pings (memberlist
// state.go probe/probeNode and net.go handlePing/handleIndirectPing/handleAck/handleNack).
#include "endpoint_impl.hpp"

namespace clusterd::swim {

void Endpoint::Impl::probe(base::Instant now) {
    std::size_t checked = 0;
    while (true) {
        if (checked >= nodes.size())
            return;
        if (probe_index >= nodes.size()) {
            reset_nodes(now);
            probe_index = 0;
            checked++;
            continue;
        }
        MemberRec& node = nodes[probe_index];
        probe_index++;
        if (is_self(node) || node.dead_or_left()) {
            checked++;
            continue;
        }
        probe_node(node, now);
        return;
    }
}

void Endpoint::Impl::probe_node(MemberRec& node, base::Instant now) {
    stats.probes++;
    const base::Duration interval = cfg.lifeguard ? awareness.scale(cfg.probe_interval) : cfg.probe_interval;
    wire::Ping ping;
    ping.seq_no = ++seq_no;
    ping.node = std::string(nodes.name(node));
    set_source(ping);

    Probe p;
    p.seq = ping.seq_no;
    p.node = ping.node;
    p.sent = now;
    p.deadline = now + interval;
    probe_state = p;

    if (node.state() == State::Alive) {
        send_msg(nodes.addr(node), p.node, wire::encode(ping));
    } else {
        // Tack a suspect on so that the node can refute as soon as possible.
        std::vector<base::Bytes> msgs{wire::encode(ping),
                                      wire::encode(wire::Suspect{node.incarnation, p.node, cfg.name})};
        send_raw(nodes.addr(node), p.node, wire::encode_compound(msgs), nodes.pmax(node) >= 5);
    }
    probe_timeout_timer = schedule(now + cfg.probe_timeout, Timer{TimerKind::ProbeTimeout, p.seq, {}});
    probe_end_timer = schedule(now + interval, Timer{TimerKind::ProbeEnd, p.seq, {}});
    probe_timers_armed = true;
}

void Endpoint::Impl::probe_timeout(std::uint64_t seq, base::Instant now) {
    if (!probe_state || probe_state->seq != seq || probe_state->acked)
        return;
    Probe& p = *probe_state;
    p.indirect_phase = true;
    const MemberRec* node = lookup(p.node);
    if (!node)
        return; // forgotten meanwhile; probe_end settles it
    const StringPool::Id target = node->name;
    const Address target_addr = nodes.addr(*node);
    const std::uint8_t target_pmax = nodes.pmax(*node);
    auto peers = k_random_nodes(static_cast<std::size_t>(cfg.indirect_checks), [&](const MemberRec& n) {
        return n.name == target || n.state() != State::Alive || is_self(n);
    });
    wire::IndirectPing ind;
    ind.seq_no = static_cast<std::uint32_t>(seq);
    ind.target = target_addr.ip;
    ind.port = target_addr.port;
    ind.node = p.node;
    set_source(ind);
    for (std::uint32_t at : peers) {
        const MemberRec& peer = nodes[at];
        ind.nack = cfg.lifeguard && nodes.pmax(peer) >= 4;
        if (ind.nack)
            p.expected_nacks++;
        stats.indirect_probes++;
        send_msg(nodes.addr(peer), std::string(nodes.name(peer)), wire::encode(ind));
    }
    if (!cfg.disable_tcp_pings && target_pmax >= 3) {
        wire::Ping ping;
        ping.seq_no = static_cast<std::uint32_t>(seq);
        ping.node = p.node;
        set_source(ping);
        stats.tcp_fallback_probes++;
        const std::uint64_t id = send_stream(target_addr, p.node, wire::encode(ping));
        streams[id].kind = StreamKind::Ping;
        streams[id].ping_seq = ping.seq_no;
        // The fallback must answer before the probe ends.
        out.back().timeout = p.deadline - now;
    }
}

void Endpoint::Impl::probe_end(std::uint64_t seq, base::Instant now) {
    if (!probe_state || probe_state->seq != seq)
        return;
    Probe p = *probe_state;
    probe_state.reset();
    stats.probe_time.record(now - p.sent);
    if (!p.acked && !p.fallback_ok) {
        int delta = 0;
        if (p.expected_nacks > 0) {
            if (p.nacks < p.expected_nacks)
                delta += p.expected_nacks - p.nacks;
        } else {
            delta += 1;
        }
        if (cfg.lifeguard)
            awareness.apply_delta(delta);
        stats.probe_failures++;
        if (MemberRec* node = lookup(p.node)) {
            suspect_node(wire::Suspect{node->incarnation, p.node, cfg.name}, now);
        }
    } else if (cfg.lifeguard) {
        awareness.apply_delta(-1);
    }
    if (probe_tick_pending) {
        probe_tick_pending = false;
        probe(now);
    }
}

void Endpoint::Impl::fallback_refused(std::uint64_t seq, base::Instant now) {
    if (!cfg.end_probe_on_refused || !probe_state || probe_state->seq != seq || probe_state->acked ||
        probe_state->fallback_ok)
        return;
    Probe p = *probe_state;
    probe_state.reset();
    disarm_probe_timers();
    stats.probe_time.record(now - p.sent);
    stats.probe_failures++;
    stats.probes_refused++;
    if (MemberRec* node = lookup(p.node))
        suspect_node(wire::Suspect{node->incarnation, p.node, cfg.name}, now);
    if (probe_tick_pending) {
        probe_tick_pending = false;
        probe(now);
    }
}

void Endpoint::Impl::handle_ack(const wire::Ack& a, base::Instant now) {
    if (auto r = rechecks.find(a.seq_no); r != rechecks.end()) {
        note_alive(r->second.node);
        rechecks.erase(r);
        return;
    }
    if (probe_state && probe_state->seq == a.seq_no && !probe_state->acked) {
        Probe& p = *probe_state;
        p.acked = true;
        note_alive(p.node);
        if (!p.indirect_phase) {
            // A direct answer ends the probe at once.
            Probe done = p;
            probe_state.reset();
            disarm_probe_timers(); // both would find the probe over
            stats.probe_time.record(now - done.sent);
            if (cfg.lifeguard)
                awareness.apply_delta(-1);
            if (delegate) {
                if (const MemberRec* node = lookup(done.node))
                    delegate->notify_ping_complete(nodes.node(*node), now - done.sent, a.payload);
            }
            if (probe_tick_pending) {
                probe_tick_pending = false;
                probe(now);
            }
        } else {
            stats.probe_time.record(now - p.sent);
            probe_state.reset();
            if (cfg.lifeguard)
                awareness.apply_delta(-1);
            if (probe_tick_pending) {
                probe_tick_pending = false;
                probe(now);
            }
        }
        return;
    }
    auto it = relays.find(a.seq_no);
    if (it != relays.end() && !it->second.done) {
        it->second.done = true;
        send_msg(it->second.requester, it->second.requester_node,
                 wire::encode(wire::Ack{it->second.their_seq, {}}));
    }
}

void Endpoint::Impl::note_alive(const std::string& node) {
    if (auto it = suspicions.find(node); it != suspicions.end())
        it->second.note_ack();
}

void Endpoint::Impl::recheck_suspect(const std::string& name, base::Instant now) {
    auto it = suspicions.find(name);
    const MemberRec* node = lookup(name);
    if (it == suspicions.end() || !node || node->state() != State::Suspect)
        return;
    stats.suspect_rechecks++;
    wire::Ping ping;
    ping.seq_no = ++seq_no;
    ping.node = name;
    set_source(ping);
    it->second.add_recheck();
    // Entries whose suspicion ended otherwise (refuted, declared dead) are dropped here: an ack
    // cannot come later than a probe interval or so.
    for (auto r = rechecks.begin(); r != rechecks.end();)
        r = now - r->second.sent > 4 * cfg.probe_interval ? rechecks.erase(r) : std::next(r);
    rechecks[ping.seq_no] = Recheck{name, now};
    const Address target = nodes.addr(*node);
    // The suspicion first, so that a node handling the parts in order refutes before it acks
    // (and its ack can carry the refutation back).
    std::vector<base::Bytes> msgs{wire::encode(wire::Suspect{node->incarnation, name, cfg.name}),
                                  wire::encode(ping)};
    send_raw(target, name, wire::encode_compound(msgs), nodes.pmax(*node) >= 5);
    const StringPool::Id target_id = node->name;
    auto peers = k_random_nodes(static_cast<std::size_t>(cfg.indirect_checks), [&](const MemberRec& n) {
        return n.name == target_id || n.state() != State::Alive || is_self(n);
    });
    wire::IndirectPing ind;
    ind.seq_no = ping.seq_no;
    ind.target = target.ip;
    ind.port = target.port;
    ind.node = name;
    set_source(ind);
    ind.nack = false; // no probe waits on nacks here
    for (std::uint32_t at : peers) {
        const MemberRec& peer = nodes[at];
        send_msg(nodes.addr(peer), std::string(nodes.name(peer)), wire::encode(ind));
    }
}

void Endpoint::Impl::handle_nack(const wire::Nack& n) {
    if (probe_state && probe_state->seq == n.seq_no) {
        probe_state->nacks++;
        stats.nacks_received++;
    }
}

void Endpoint::Impl::handle_ping(const wire::Ping& p, const Address& from) {
    if (!p.node.empty() && p.node != cfg.name) {
        stats.pings_wrong_node++;
        return;
    }
    wire::Ack ack;
    ack.seq_no = p.seq_no;
    if (delegate)
        ack.payload = delegate->ack_payload();
    Address to = from;
    if (!p.source_addr.empty() && p.source_port > 0)
        to = Address{p.source_addr, p.source_port};
    send_msg(to, p.source_node, wire::encode(ack));
}

void Endpoint::Impl::handle_indirect_ping(const wire::IndirectPing& ind, const Address& from,
                                          base::Instant now) {
    wire::Ping ping;
    ping.seq_no = ++seq_no;
    ping.node = ind.node;
    set_source(ping);
    Address requester = from;
    if (!ind.source_addr.empty() && ind.source_port > 0)
        requester = Address{ind.source_addr, ind.source_port};
    relays[ping.seq_no] = Relay{ind.seq_no, requester, ind.source_node, ind.nack};
    schedule(now + cfg.probe_timeout, Timer{TimerKind::RelayNack, ping.seq_no, {}});
    const std::uint16_t port = ind.port == 0 ? cfg.advertise_port : ind.port;
    send_msg(Address{ind.target, port}, ind.node, wire::encode(ping));
}

} // namespace clusterd::swim
