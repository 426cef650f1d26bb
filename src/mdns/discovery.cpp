// Serf's mDNS discovery as a pure state machine (see discovery.hpp).
#include "clusterd/mdns/discovery.hpp"

#include <algorithm>

namespace clusterd::mdns {

namespace {

std::string hex4(unsigned v) {
    static const char* d = "0123456789abcdef";
    std::string s;
    bool lead = true;
    for (int shift = 12; shift >= 0; shift -= 4) {
        const unsigned n = (v >> shift) & 0xF;
        if (lead && n == 0 && shift > 0)
            continue;
        lead = false;
        s += d[n];
    }
    return s;
}

// RFC 5952 text (longest zero run compressed), as Go prints an IPv6 address.
std::string ip_text(const base::Bytes& ip) {
    if (ip.size() == 4)
        return std::to_string(ip[0]) + "." + std::to_string(ip[1]) + "." + std::to_string(ip[2]) + "." +
               std::to_string(ip[3]);
    if (ip.size() != 16)
        return "?";
    unsigned w[8];
    for (int i = 0; i < 8; ++i)
        w[i] = (unsigned{ip[2 * i]} << 8) | ip[2 * i + 1];
    int best = -1, best_len = 0;
    for (int i = 0; i < 8;) {
        if (w[i] != 0) {
            ++i;
            continue;
        }
        int j = i;
        while (j < 8 && w[j] == 0)
            ++j;
        if (j - i > best_len && j - i >= 2) {
            best = i;
            best_len = j - i;
        }
        i = j;
    }
    std::string s;
    for (int i = 0; i < 8; ++i) {
        if (i == best) {
            s += "::";
            i += best_len - 1;
            continue;
        }
        if (!s.empty() && s.back() != ':')
            s += ":";
        s += hex4(w[i]);
    }
    return s;
}

} // namespace

std::string endpoint_text(const base::Bytes& ip, std::uint16_t port) {
    const std::string h = ip_text(ip);
    return (ip.size() == 16 ? "[" + h + "]" : h) + ":" + std::to_string(port);
}

Discovery::Discovery(Options o) : o_(std::move(o)) {
    if (o_.addr.size() != 4 && o_.addr.size() != 16)
        announce_error_ = "the advertise address is neither IPv4 nor IPv6";
    // The records must encode; otherwise the node only browses (and says why).
    Message probe;
    probe.flags = Message::kResponse | Message::kAuthoritative;
    probe.answers = answer(Question{service_name(), kTypePtr, kClassIn, false});
    if (auto enc = encode(probe); !enc && announce_error_.empty())
        announce_error_ = enc.error().message;
    if (auto enc = encode(query()); !enc)
        announce_error_ = enc.error().message;
}

Name Discovery::service_name() const {
    return name_from_text("_serf_" + o_.cluster + "._tcp.local");
}

Name Discovery::instance_name() const {
    // As hashicorp/mdns builds it from text: a dot in the node name starts a new label.
    Name n = name_from_text(o_.instance);
    for (auto& l : service_name())
        n.push_back(l);
    return n;
}

Record Discovery::srv() const {
    Record r;
    r.name = instance_name();
    r.type = kTypeSrv;
    r.ttl = o_.ttl;
    r.priority = 10;
    r.weight = 1;
    r.port = o_.port;
    r.target = name_from_text(o_.host);
    return r;
}

Record Discovery::txt() const {
    Record r;
    r.name = instance_name();
    r.type = kTypeTxt;
    r.ttl = o_.ttl;
    r.txt = {"Serf '" + o_.cluster + "' cluster"};
    return r;
}

std::optional<Record> Discovery::address() const {
    if (o_.addr.size() != 4 && o_.addr.size() != 16)
        return std::nullopt;
    Record r;
    r.name = name_from_text(o_.host);
    r.type = o_.addr.size() == 4 ? kTypeA : kTypeAaaa;
    r.ttl = o_.ttl;
    std::copy(o_.addr.begin(), o_.addr.end(), r.addr.begin());
    return r;
}

std::vector<Record> Discovery::answer(const Question& q) const {
    std::vector<Record> out;
    if (q.klass != kClassIn && q.klass != kClassAny)
        return out;
    const auto a = address();
    auto instance_records = [&](std::uint16_t type) {
        // hashicorp/mdns's order: SRV then its address records, then TXT.
        if (type == kTypeAny || type == kTypeSrv) {
            out.push_back(srv());
            if (a)
                out.push_back(*a);
        }
        if (type == kTypeAny || type == kTypeTxt)
            out.push_back(txt());
    };
    if (same_name(q.name, Name{"_services", "_dns-sd", "_udp", "local"})) {
        if (q.type == kTypePtr || q.type == kTypeAny) {
            Record r;
            r.name = q.name;
            r.type = kTypePtr;
            r.ttl = o_.ttl;
            r.target = service_name();
            out.push_back(std::move(r));
        }
    } else if (same_name(q.name, service_name())) {
        if (q.type == kTypePtr || q.type == kTypeAny) {
            Record r;
            r.name = q.name;
            r.type = kTypePtr;
            r.ttl = o_.ttl;
            r.target = instance_name();
            out.push_back(std::move(r));
            instance_records(kTypeAny);
        }
    } else if (same_name(q.name, instance_name())) {
        instance_records(q.type);
    } else if (same_name(q.name, name_from_text(o_.host)) && a && (q.type == a->type || q.type == kTypeAny)) {
        out.push_back(*a);
    }
    return out;
}

Message Discovery::query() const {
    Message m;
    m.id = o_.query_id;
    m.questions.push_back(Question{service_name(), kTypePtr, kClassIn, false});
    return m;
}

void Discovery::start(base::Instant now) {
    started_ = true;
    next_query_ = now;
    if (announce_error_.empty() && o_.announcements > 0) {
        announcements_left_ = o_.announcements;
        next_announce_ = now;
    }
    if (!announce_error_.empty())
        logs_.push_back("not announcing this node (" + announce_error_ + "); browsing only");
    tick(now);
}

void Discovery::send(Datagram::Kind kind, const Endpoint& to, const Message& m) {
    auto bytes = encode(m);
    if (!bytes)
        return; // checked at construction; an answer to a stranger's question is ours too
    out_.push_back(Datagram{kind, to, std::move(*bytes)});
}

void Discovery::send_both(Datagram::Kind kind, const Message& m) {
    send(kind, Endpoint{base::Bytes(kGroupV4.begin(), kGroupV4.end()), kPort}, m);
    send(kind, Endpoint{base::Bytes(kGroupV6.begin(), kGroupV6.end()), kPort}, m);
}

void Discovery::tick(base::Instant now) {
    if (!started_)
        return;
    if (now >= next_query_) {
        send_both(Datagram::Kind::Query, query());
        ++stats_.queries_sent;
        next_query_ = now + o_.poll_interval;
    }
    if (announcements_left_ > 0 && now >= next_announce_) {
        Message m;
        m.flags = Message::kResponse | Message::kAuthoritative;
        m.answers = answer(Question{service_name(), kTypePtr, kClassIn, false});
        send_both(Datagram::Kind::Response, m);
        --announcements_left_;
        next_announce_ = announcements_left_ > 0 ? now + std::chrono::seconds(1) : base::Instant::max();
    }
    if (now >= quiet_until_) {
        quiet_until_ = base::Instant::max();
        if (!batch_.empty()) {
            JoinRequest j;
            j.id = next_id_++;
            for (const auto& a : batch_) {
                j.addresses.push_back(a);
                j.names.push_back(peers_[a]);
            }
            pending_[j.id] = batch_;
            batch_.clear();
            ++stats_.joins_requested;
            joins_.push_back(std::move(j));
        }
    }
}

base::Instant Discovery::next_deadline() const {
    if (!started_)
        return base::Instant::max();
    return std::min({next_query_, next_announce_, quiet_until_});
}

void Discovery::on_packet(std::span<const std::uint8_t> bytes, const Endpoint& from, base::Instant now) {
    ++stats_.packets;
    auto m = decode(bytes);
    if (!m) {
        ++stats_.malformed;
        stats_.last_error = m.error().message;
        logs_.push_back("dropped a malformed packet from " + endpoint_text(from.ip, from.port) + ": " +
                        m.error().message);
        return;
    }
    // RFC 6762 §18: only standard queries/responses with rcode 0 are processed.
    if (m->opcode() != 0 || m->rcode() != 0) {
        ++stats_.ignored;
        return;
    }
    if (m->is_response())
        handle_response(*m, now);
    else if (!(m->flags & Message::kTruncated))
        handle_query(*m, from);
    else
        ++stats_.ignored;
}

void Discovery::handle_query(const Message& m, const Endpoint& from) {
    if (!announce_error_.empty() || !started_)
        return;
    if (m.id == o_.query_id &&
        std::find(own_ports_.begin(), own_ports_.end(), from.port) != own_ports_.end()) {
        ++stats_.ignored; // our own query, looped back
        return;
    }
    std::vector<Record> answers;
    bool unicast = from.port != kPort; // RFC 6762 §6.7: a one-shot querier gets a unicast reply
    for (const auto& q : m.questions) {
        auto recs = answer(q);
        if (!recs.empty() && q.unicast_response)
            unicast = true;
        answers.insert(answers.end(), recs.begin(), recs.end());
    }
    if (answers.empty())
        return;
    Message r;
    r.flags = Message::kResponse | Message::kAuthoritative;
    r.answers = std::move(answers);
    ++stats_.queries_answered;
    if (unicast) {
        // Addressed to the asker: echo its id and questions (RFC 6762 §6.7).
        r.id = m.id;
        r.questions = m.questions;
        for (auto& q : r.questions)
            q.unicast_response = false;
        send(Datagram::Kind::Response, from, r);
    } else {
        send(Datagram::Kind::Response,
             from.ip.size() == 16 ? Endpoint{base::Bytes(kGroupV6.begin(), kGroupV6.end()), kPort}
                                  : Endpoint{base::Bytes(kGroupV4.begin(), kGroupV4.end()), kPort},
             r);
    }
}

void Discovery::handle_response(const Message& m, base::Instant now) {
    const Name service = service_name();
    std::vector<const Record*> all;
    for (const auto* sec : {&m.answers, &m.additionals})
        for (const auto& r : *sec)
            all.push_back(&r);
    bool added = false;
    for (const Record* srv : all) {
        if (srv->type != kTypeSrv || srv->ttl == 0 || srv->port == 0)
            continue;
        // "<instance>._serf_<cluster>._tcp.local."
        if (srv->name.size() <= service.size() || !ends_with(srv->name, service))
            continue;
        Name inst(srv->name.begin(), srv->name.end() - static_cast<std::ptrdiff_t>(service.size()));
        std::string instance;
        for (const auto& l : inst)
            instance += (instance.empty() ? "" : ".") + l;
        // The address of the SRV's target in the same message (hashicorp/mdns reads one
        // response's records together); A first, else AAAA.
        const Record* addr = nullptr;
        for (const Record* r : all) {
            if ((r->type != kTypeA && r->type != kTypeAaaa) || r->ttl == 0 ||
                !same_name(r->name, srv->target))
                continue;
            if (!addr || (addr->type == kTypeAaaa && r->type == kTypeA))
                addr = r;
        }
        if (!addr)
            continue;
        base::Bytes ip(addr->addr.begin(), addr->addr.begin() + (addr->type == kTypeA ? 4 : 16));
        const std::string where = endpoint_text(ip, srv->port);
        if (same_name(inst, name_from_text(o_.instance)) || (ip == o_.addr && srv->port == o_.port))
            continue; // ourselves
        if (!peers_.count(where)) {
            if (peers_.size() >= kMaxPeers)
                continue; // bounded: a flood of made-up peers cannot grow the table
            ++stats_.peers_found;
            logs_.push_back("found " + instance + " at " + where);
        }
        peers_[where] = instance;
        if (joined_.count(where) || std::find(batch_.begin(), batch_.end(), where) != batch_.end())
            continue;
        batch_.push_back(where);
        added = true;
    }
    if (added)
        quiet_until_ = now + o_.quiet_interval;
}

void Discovery::on_join_result(std::uint64_t id, int joined) {
    auto it = pending_.find(id);
    if (it == pending_.end())
        return;
    // Serf remembers every address it tried; clusterd forgets a batch none of whose peers
    // answered, so the next poll tries it again.
    if (joined <= 0) {
        for (const auto& a : it->second)
            joined_.erase(a);
        logs_.push_back("join of " + std::to_string(it->second.size()) +
                        " discovered peer(s) failed; retrying after the next query");
    }
    pending_.erase(it);
}

std::optional<Datagram> Discovery::poll_transmit() {
    if (out_.empty())
        return std::nullopt;
    auto d = std::move(out_.front());
    out_.pop_front();
    return d;
}

std::optional<JoinRequest> Discovery::poll_join() {
    if (joins_.empty())
        return std::nullopt;
    auto j = std::move(joins_.front());
    joins_.pop_front();
    for (const auto& a : j.addresses)
        joined_.insert(a);
    return j;
}

std::optional<std::string> Discovery::poll_log() {
    if (logs_.empty())
        return std::nullopt;
    auto l = std::move(logs_.front());
    logs_.pop_front();
    return l;
}

} // namespace clusterd::mdns
