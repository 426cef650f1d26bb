// The deterministic simulator: event heap, fake network, faults, process lifecycle; see
// simulator.hpp.
#include "clusterd/sim/simulator.hpp"

#include <cstring>

#include <cstdlib>

namespace clusterd::sim {

Simulator::Simulator(std::uint64_t seed)
    : seed_(seed), net_rng_(base::Rng::mix(seed, 0x6e6574ULL)),
      envelope_(std::make_shared<PlaintextEnvelope>()) {}

Simulator::~Simulator() = default;

std::uint64_t Simulator::seed_from_env(std::uint64_t fallback) {
    const char* env = std::getenv("CLUSTERD_SIM_SEED");
    if (env == nullptr || *env == '\0')
        return fallback;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(env, &end, 0);
    if (end == env)
        return fallback;
    return static_cast<std::uint64_t>(v);
}

swim::Address Simulator::address(std::size_t i) const {
    return swim::Address{base::Bytes{10, static_cast<std::uint8_t>(i / 62500),
                                     static_cast<std::uint8_t>((i / 250) % 250),
                                     static_cast<std::uint8_t>(i % 250 + 1)},
                         7946};
}

std::size_t Simulator::add_node(HostFactory factory, NodeClock clock) {
    const std::size_t i = nodes_.size();
    nodes_.emplace_back();
    nodes_[i].factory = std::move(factory);
    nodes_[i].clock_g0 = base::Instant{};
    nodes_[i].clock_l0 = base::Instant{clock.offset};
    nodes_[i].clock_ppm = clock.ppm;
    nodes_[i].addr = address(i);
    nodes_[i].host = nodes_[i].factory(i, address(i), base::Rng::mix(seed_, i), local_now(i));
    poke(i);
    return i;
}

base::Instant Simulator::local_time(std::size_t i, base::Instant global) const {
    const NodeSlot& s = nodes_[i];
    if (s.clock_ppm == 0)
        return s.clock_l0 + (global - s.clock_g0);
    const __int128 d = static_cast<__int128>((global - s.clock_g0).count());
    const __int128 skew = d * s.clock_ppm / 1000000;
    return s.clock_l0 + base::Duration(static_cast<std::int64_t>(d + skew));
}

base::Instant Simulator::global_time(std::size_t i, base::Instant local) const {
    const NodeSlot& s = nodes_[i];
    if (local == base::Instant::max())
        return local;
    if (local <= s.clock_l0)
        return s.clock_g0;
    if (s.clock_ppm == 0)
        return s.clock_g0 + (local - s.clock_l0);
    const __int128 dl = static_cast<__int128>((local - s.clock_l0).count());
    __int128 d = (dl * 1000000 + (1000000 + s.clock_ppm) - 1) / (1000000 + s.clock_ppm);
    auto at = [&](__int128 x) { return s.clock_g0 + base::Duration(static_cast<std::int64_t>(x)); };
    while (local_time(i, at(d)) < local)
        ++d;
    while (d > 0 && local_time(i, at(d - 1)) >= local)
        --d;
    return at(d);
}

void Simulator::set_clock_rate(std::size_t i, std::int64_t ppm) {
    NodeSlot& s = nodes_[i];
    s.clock_l0 = local_now(i);
    s.clock_g0 = now_;
    s.clock_ppm = ppm;
    s.timer_at = base::Instant::max(); // re-map the pending deadline under the new rate
    poke(i);
}

SimHost* Simulator::host(std::size_t i) {
    return i < nodes_.size() ? nodes_[i].host.get() : nullptr;
}

std::optional<std::size_t> Simulator::index_of(const swim::Address& a) const {
    // The inverse of address(i): 10.(i / 62500).((i / 250) % 250).(i % 250 + 1), port 7946.
    if (a.port != 7946 || a.ip.size() != 4 || a.ip[0] != 10 || a.ip[2] >= 250 || a.ip[3] == 0 ||
        a.ip[3] > 250)
        return std::nullopt;
    const std::size_t i = std::size_t{a.ip[1]} * 62500 + std::size_t{a.ip[2]} * 250 + (a.ip[3] - 1u);
    if (i >= nodes_.size())
        return std::nullopt;
    return i;
}

void Simulator::partition(const std::vector<std::size_t>& a, const std::vector<std::size_t>& b,
                          bool one_way) {
    for (std::size_t x : a) {
        for (std::size_t y : b) {
            block(x, y);
            if (!one_way)
                block(y, x);
        }
    }
}

void Simulator::pause(std::size_t i) {
    nodes_[i].paused = true;
}

void Simulator::resume(std::size_t i) {
    NodeSlot& s = nodes_[i];
    if (!s.paused)
        return;
    s.paused = false;
    std::vector<Event> held = std::move(s.held);
    s.held.clear();
    for (auto& e : held) {
        e.at = now_;
        push(std::move(e));
    }
    s.timer_at = base::Instant::max();
    poke(i);
}

void Simulator::crash(std::size_t i) {
    NodeSlot& s = nodes_[i];
    s.host.reset();
    s.gen++;
    s.paused = false;
    s.held.clear();
    s.open_streams.clear();
    s.timer_at = base::Instant::max();
}

void Simulator::restart(std::size_t i, HostFactory factory) {
    if (nodes_[i].host)
        crash(i);
    NodeSlot& s = nodes_[i];
    if (factory)
        s.factory = std::move(factory);
    s.host = s.factory(i, address(i), base::Rng::mix(base::Rng::mix(seed_, i), s.gen), local_now(i));
    poke(i);
}

void Simulator::poke(std::size_t i) {
    if (!nodes_[i].host || nodes_[i].paused)
        return;
    after_call(i);
}

void Simulator::push(Event e) {
    e.seq = next_seq_++;
    heap_.push_back(std::move(e));
    std::push_heap(heap_.begin(), heap_.end(), Later{});
}

const LinkFaults& Simulator::link(std::size_t from, std::size_t to) const {
    if (links_.empty())
        return default_link_;
    auto it = links_.find({from, to});
    return it == links_.end() ? default_link_ : it->second;
}

base::Duration Simulator::tcp_segment_delay(std::size_t from, std::size_t to, base::Duration rto) {
    const LinkFaults& f = link(from, to);
    base::Duration d{0};
    if (!f.tcp_loss || f.loss <= 0)
        return d;
    for (int tries = 0; tries < 6 && net_rng_.chance(f.loss); ++tries) {
        d += rto;
        rto *= 2;
    }
    return d;
}

base::Duration Simulator::latency(std::size_t from, std::size_t to) {
    const LinkFaults& f = link(from, to);
    base::Duration d = f.delay;
    if (f.jitter.count() > 0)
        d += base::Duration(
            static_cast<std::int64_t>(net_rng_.below(static_cast<std::uint64_t>(f.jitter.count()))));
    return d;
}

void Simulator::mix(const Event& e) {
    // A word at a time (every delivered byte goes through here: byte-wise FNV was 8 % of a
    // large run's CPU).
    auto put = [&](std::uint64_t v) {
        trace_ = (trace_ ^ v) * 0x100000001b3ULL;
        trace_ ^= trace_ >> 29;
    };
    put(static_cast<std::uint64_t>(e.at.since_epoch.count()));
    put(static_cast<std::uint64_t>(e.kind));
    put(e.from);
    put(e.to);
    put(e.data.size());
    std::size_t i = 0;
    for (; i + 8 <= e.data.size(); i += 8) {
        std::uint64_t w;
        std::memcpy(&w, e.data.data() + i, 8);
        put(w);
    }
    std::uint64_t tail = 0;
    for (std::size_t k = 0; i < e.data.size(); ++i, ++k)
        tail |= static_cast<std::uint64_t>(e.data[i]) << (8 * k);
    put(tail);
}

void Simulator::after_call(std::size_t i) {
    NodeSlot& s = nodes_[i];
    if (!s.host)
        return;
    while (auto t = s.host->poll_transmit())
        send(i, std::move(*t));
    base::Instant d = global_time(i, s.host->next_deadline());
    if (d == base::Instant::max()) {
        s.timer_at = d;
        return;
    }
    if (d < now_)
        d = now_;
    if (d != s.timer_at) {
        s.timer_at = d;
        Event e{};
        e.at = d;
        e.kind = EvKind::Timer;
        e.to = i;
        e.to_gen = s.gen;
        push(std::move(e));
    }
}

void Simulator::send(std::size_t from, swim::Transmit t) {
    const auto target = index_of(t.to);
    if (t.kind == swim::Transmit::Kind::Packet) {
        stats_.packets_sent++;
        Envelope& env = envelope_of(from);
        auto sealed =
            env.passthrough() ? base::Result<base::Bytes>(std::move(t.msg)) : env.seal_packet(t.msg, t.crc);
        if (!sealed) {
            stats_.packets_undecodable++;
            return;
        }
        stats_.bytes_sent += sealed->size();
        if (!target || !nodes_[*target].host || cut(from, *target)) {
            stats_.packets_blocked++;
            return;
        }
        const LinkFaults& f = link(from, *target);
        if (f.loss > 0 && net_rng_.chance(f.loss)) {
            stats_.packets_lost++;
            return;
        }
        Event e{};
        e.at = now_ + latency(from, *target);
        e.kind = EvKind::Packet;
        e.to = *target;
        e.to_gen = nodes_[*target].gen;
        e.from = from;
        e.from_gen = nodes_[from].gen;
        e.data = std::move(*sealed);
        push(std::move(e));
        return;
    }
    // A TCP request: it fails fast when nobody listens, times out when the path is cut.
    stats_.streams_opened++;
    NodeSlot& me = nodes_[from];
    const base::Duration timeout = t.timeout.count() > 0 ? t.timeout : std::chrono::seconds(10);
    me.open_streams[t.stream_id] = now_ + timeout;
    Event fail{};
    fail.kind = EvKind::StreamFail;
    fail.to = from;
    fail.to_gen = me.gen;
    fail.from = from;
    fail.stream = t.stream_id;
    if (!target || !nodes_[*target].host) {
        fail.at = now_ + latency(from, from);
        fail.why = "connection refused";
        fail.refused = true;
        push(std::move(fail));
        return;
    }
    fail.at = now_ + timeout;
    fail.why = "i/o timeout";
    push(fail);
    if (cut(from, *target))
        return;
    Envelope& env = envelope_of(from);
    auto sealed = env.passthrough() ? base::Result<base::Bytes>(std::move(t.msg)) : env.seal_stream(t.msg);
    if (!sealed)
        return;
    stats_.bytes_sent += sealed->size();
    Event e{};
    // SYN, SYN-ACK, then the request's data.
    e.at = now_ + latency(from, *target) + tcp_segment_delay(from, *target, std::chrono::seconds(1)) +
           tcp_segment_delay(*target, from, std::chrono::seconds(1)) +
           tcp_segment_delay(from, *target, std::chrono::milliseconds(200));
    e.kind = EvKind::StreamRequest;
    e.to = *target;
    e.to_gen = nodes_[*target].gen;
    e.from = from;
    e.from_gen = me.gen;
    e.stream = t.stream_id;
    e.data = std::move(*sealed);
    push(std::move(e));
}

void Simulator::deliver(Event& e) {
    NodeSlot& s = nodes_[e.to];
    if (!s.host || s.gen != e.to_gen) {
        if (e.kind == EvKind::StreamRequest) {
            // The process died: the requester sees a reset.
            NodeSlot& req = nodes_[e.from];
            if (req.host && req.gen == e.from_gen) {
                Event fail{};
                fail.at = now_ + latency(e.to, e.from);
                fail.kind = EvKind::StreamFail;
                fail.to = e.from;
                fail.to_gen = req.gen;
                fail.from = e.to;
                fail.stream = e.stream;
                fail.why = "connection reset";
                push(std::move(fail));
            }
        }
        if (e.kind == EvKind::Packet)
            stats_.packets_blocked++;
        return;
    }
    if (s.paused) {
        if (e.kind != EvKind::Timer)
            s.held.push_back(std::move(e));
        return;
    }
    events_processed_++;
    SimHost& h = *s.host;
    const base::Instant local = local_now(e.to);
    switch (e.kind) {
    case EvKind::Timer:
        if (e.at != s.timer_at)
            return; // superseded
        s.timer_at = base::Instant::max();
        h.handle_timeout(local);
        break;
    case EvKind::Packet: {
        mix(e);
        const swim::Address& from = nodes_[e.from].addr;
        Envelope& env = envelope_of(e.to);
        if (env.passthrough()) {
            stats_.packets_delivered++;
            h.handle_packet(from, e.data, local);
            break;
        }
        auto msgs = env.open_packet(e.data);
        if (!msgs) {
            stats_.packets_undecodable++;
            return;
        }
        stats_.packets_delivered++;
        for (const auto& m : *msgs)
            h.handle_packet(from, m, local);
        break;
    }
    case EvKind::StreamRequest: {
        mix(e);
        Envelope& env = envelope_of(e.to);
        base::Result<base::Bytes> reply = base::Result<base::Bytes>(base::Bytes{});
        if (env.passthrough()) {
            reply = h.handle_stream_request(nodes_[e.from].addr, e.data, local);
        } else {
            auto msg = env.open_stream(e.data);
            reply = msg ? h.handle_stream_request(nodes_[e.from].addr, *msg, local)
                        : base::Result<base::Bytes>(msg.error());
        }
        NodeSlot& req = nodes_[e.from];
        if (req.host && req.gen == e.from_gen && req.open_streams.count(e.stream)) {
            Event r{};
            r.at = now_ + latency(e.to, e.from) +
                   tcp_segment_delay(e.to, e.from, std::chrono::milliseconds(200));
            r.to = e.from;
            r.to_gen = req.gen;
            r.from = e.to;
            r.stream = e.stream;
            if (!reply) {
                r.kind = EvKind::StreamFail;
                r.why = reply.error().message;
                push(std::move(r));
            } else if (!cut(e.to, e.from) && reply->empty()) {
                r.kind = EvKind::StreamReply; // nothing to send back (user message)
                push(std::move(r));
            } else if (!cut(e.to, e.from)) {
                auto sealed = env.passthrough() ? base::Result<base::Bytes>(std::move(*reply))
                                                : env.seal_stream(*reply);
                if (sealed) {
                    r.kind = EvKind::StreamReply;
                    r.data = std::move(*sealed);
                    push(std::move(r));
                }
            }
        }
        break;
    }
    case EvKind::StreamReply: {
        auto it = s.open_streams.find(e.stream);
        if (it == s.open_streams.end())
            return;
        s.open_streams.erase(it);
        mix(e);
        if (e.data.empty()) {
            h.handle_stream_reply(e.stream, e.data, local);
            break;
        }
        Envelope& env = envelope_of(e.to);
        if (env.passthrough()) {
            h.handle_stream_reply(e.stream, e.data, local);
            break;
        }
        auto msg = env.open_stream(e.data);
        if (!msg) {
            stats_.streams_failed++;
            h.stream_failed(e.stream, local, msg.error().message, swim::StreamFailure::Other);
        } else {
            h.handle_stream_reply(e.stream, *msg, local);
        }
        break;
    }
    case EvKind::StreamFail: {
        auto it = s.open_streams.find(e.stream);
        if (it == s.open_streams.end())
            return;
        s.open_streams.erase(it);
        stats_.streams_failed++;
        h.stream_failed(e.stream, local, e.why,
                        e.refused ? swim::StreamFailure::Refused : swim::StreamFailure::Other);
        break;
    }
    }
    after_call(e.to);
    if (on_step)
        on_step(e.to);
}

void Simulator::run_until(base::Instant t) {
    while (!heap_.empty() && heap_.front().at <= t) {
        std::pop_heap(heap_.begin(), heap_.end(), Later{});
        Event e = std::move(heap_.back());
        heap_.pop_back();
        now_ = e.at;
        deliver(e);
    }
    if (t > now_)
        now_ = t;
}

bool Simulator::run_until(const std::function<bool()>& done, base::Duration limit,
                          base::Duration check_every) {
    const base::Instant end = now_ + limit;
    while (true) {
        if (done())
            return true;
        if (now_ >= end)
            return false;
        base::Instant next = now_ + check_every;
        if (next > end)
            next = end;
        run_until(next);
    }
}

} // namespace clusterd::sim
