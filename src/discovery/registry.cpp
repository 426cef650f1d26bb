// The registry state machine (see include/clusterd/discovery/registry.hpp). Pure: time and
// randomness come in as arguments, store requests, joins and log lines go out through queues.
#include "clusterd/discovery/registry.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

namespace clusterd::discovery {
namespace {

bool parse_i64(const std::string& s, std::int64_t& out) {
    if (s.empty())
        return false;
    const char* b = s.data();
    const char* e = b + s.size();
    auto [p, ec] = std::from_chars(b, e, out);
    return ec == std::errc{} && p == e;
}

bool host_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-' || c == '_';
}

/// "host:port" or "[v6]:port" with a port 1..65535 and a plausible host.
bool valid_address(const std::string& a) {
    std::string host, port;
    if (!a.empty() && a.front() == '[') {
        const auto close = a.find(']');
        if (close == std::string::npos || close + 1 >= a.size() || a[close + 1] != ':')
            return false;
        host = a.substr(1, close - 1);
        port = a.substr(close + 2);
        if (host.empty() || host.find(':') == std::string::npos)
            return false;
        for (char c : host)
            if (std::isxdigit(static_cast<unsigned char>(c)) == 0 && c != ':' && c != '.' && c != '%')
                return false;
    } else {
        const auto colon = a.rfind(':');
        if (colon == std::string::npos)
            return false;
        host = a.substr(0, colon);
        port = a.substr(colon + 1);
        if (host.empty() || host.size() > 253)
            return false;
        for (char c : host)
            if (!host_char(c))
                return false;
    }
    std::int64_t p = 0;
    return parse_i64(port, p) && p >= 1 && p <= 65535;
}

std::string printable(const std::string& s) {
    std::string out;
    for (char c : s.substr(0, 64))
        out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
    if (s.size() > 64)
        out += "...";
    return out;
}

} // namespace

std::int64_t to_ms(base::Instant t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.since_epoch).count();
}

base::Instant from_ms(std::int64_t ms) {
    return base::Instant{std::chrono::milliseconds(ms)};
}

base::Result<Row> parse_row(const StoredRow& raw) {
    auto bad = [](const std::string& why) -> base::Result<Row> { return base::make_error("bad_row", why); };
    Row r;
    if (raw.name.empty() || raw.name.size() > 256)
        return bad("name is empty or longer than 256 bytes");
    for (char c : raw.name)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            return bad("name holds control characters");
    r.name = raw.name;
    if (!valid_address(raw.address))
        return bad("address '" + printable(raw.address) + "' is not ip:port");
    r.address = raw.address;
    std::int64_t pmin = 0, pmax = 0, created = 0, seen = 0, expires = 0;
    if (!parse_i64(raw.protocol_min, pmin) || !parse_i64(raw.protocol_max, pmax) || pmin < 0 || pmax > 255 ||
        pmin > pmax)
        return bad("protocol range '" + printable(raw.protocol_min) + "-" + printable(raw.protocol_max) +
                   "' is not two numbers 0..255, lowest first");
    r.protocol_min = static_cast<int>(pmin);
    r.protocol_max = static_cast<int>(pmax);
    // Milliseconds since 1970 fit int64 for 292 million years; refuse what would overflow ns.
    constexpr std::int64_t kMaxMs = std::numeric_limits<std::int64_t>::max() / 1000000;
    if (!parse_i64(raw.created_ms, created) || !parse_i64(raw.last_seen_ms, seen) ||
        !parse_i64(raw.expires_ms, expires) || created < 0 || expires > kMaxMs)
        return bad("times are not milliseconds since the epoch");
    if (!(created <= seen && seen <= expires))
        return bad("times out of order (created <= last seen <= expires)");
    r.created = from_ms(created);
    r.last_seen = from_ms(seen);
    r.expires = from_ms(expires);
    return r;
}

StoredRow to_stored(const Row& row) {
    return StoredRow{row.name,
                     row.address,
                     std::to_string(row.protocol_min),
                     std::to_string(row.protocol_max),
                     std::to_string(to_ms(row.created)),
                     std::to_string(to_ms(row.last_seen)),
                     std::to_string(to_ms(row.expires))};
}

const char* op_name(OpKind k) {
    switch (k) {
    case OpKind::Register:
        return "register";
    case OpKind::Delete:
        return "delete";
    case OpKind::List:
        return "list";
    case OpKind::Prune:
        return "prune";
    }
    return "?";
}

const char* state_name(StoreState s) {
    switch (s) {
    case StoreState::Unknown:
        return "unknown";
    case StoreState::Up:
        return "up";
    case StoreState::Down:
        return "down";
    }
    return "?";
}

void Store::execute(const StoreOp& op, Done done) {
    auto tagged = [id = op.id, done = std::move(done)](StoreResult r) {
        r.id = id;
        done(std::move(r));
    };
    switch (op.kind) {
    case OpKind::Register:
        register_row(op.row, op.now, std::move(tagged));
        return;
    case OpKind::List:
        list(std::move(tagged));
        return;
    case OpKind::Delete:
        remove(op.name, op.address, std::move(tagged));
        return;
    case OpKind::Prune:
        prune(op.now, std::move(tagged));
        return;
    }
}

Registry::Registry(Options opts, std::uint64_t seed) : opts_(std::move(opts)), rng_(seed) {}

void Registry::log(LogLine::Level lv, std::string text) {
    logs_.push_back(LogLine{lv, std::move(text)});
}

std::optional<LogLine> Registry::poll_log() {
    if (logs_.empty())
        return std::nullopt;
    LogLine l = std::move(logs_.front());
    logs_.pop_front();
    return l;
}

base::Duration Registry::jitter(base::Duration d) {
    // Up to 10% earlier, so nodes started together do not hit the store in lockstep.
    const auto cut = static_cast<base::Duration::rep>(static_cast<double>(d.count()) * 0.1 * rng_.unit());
    return d - base::Duration{cut};
}

Row Registry::own_row(base::Instant now) const {
    return Row{opts_.name, opts_.address, opts_.protocol_min, opts_.protocol_max,
               created_,   now,           now + opts_.ttl};
}

void Registry::queue(StoreOp op) {
    op.id = next_id_++;
    ops_.push_back(std::move(op));
}

void Registry::start(base::Instant now) {
    if (started_)
        return;
    started_ = true;
    created_ = now;
    refresh_cycle(now);
}

void Registry::refresh_cycle(base::Instant now) {
    StoreOp reg;
    reg.kind = OpKind::Register;
    reg.row = own_row(now);
    reg.now = now;
    queue(std::move(reg));
    StoreOp list;
    list.kind = OpKind::List;
    queue(std::move(list));
    next_refresh_ = now + jitter(opts_.refresh);
}

void Registry::leave(base::Instant /*now*/) {
    if (leaving_)
        return;
    leaving_ = true;
    ops_.clear();
    // The delete goes out at once, even with a request in flight (its answer is then ignored):
    // the agent may exit before that answer comes back. The store runs requests in order.
    op_in_flight_ = false;
    pending_.clear();
    join_out_.reset();
    next_refresh_ = next_relist_ = base::Instant::max();
    if (!started_)
        return;
    StoreOp del;
    del.kind = OpKind::Delete;
    del.name = opts_.name;
    del.address = opts_.address;
    queue(std::move(del));
}

void Registry::forget(const std::string& name) {
    if (leaving_ || !started_)
        return;
    StoreOp del;
    del.kind = OpKind::Delete;
    del.name = name;
    queue(std::move(del));
    std::erase_if(rows_, [&](const Row& r) { return r.name == name; });
}

void Registry::observe_members(const std::vector<MemberView>& members, base::Instant now) {
    members_.clear();
    for (const auto& m : members) {
        if (m.name == opts_.name)
            continue;
        members_[m.name] = m;
        if (m.status == MemberView::Status::Failed || m.status == MemberView::Status::Left) {
            gone_since_.emplace(m.name, now); // keeps the first time it was seen gone
        } else {
            gone_since_.erase(m.name);
        }
    }
    // A reaped member keeps its gone_since_ entry: its old row stays untrusted after the reap.
}

std::optional<StoreOp> Registry::poll_store_op(base::Instant now) {
    if (op_in_flight_ || ops_.empty())
        return std::nullopt;
    StoreOp op = std::move(ops_.front());
    ops_.pop_front();
    if (op.kind == OpKind::Register && !leaving_) {
        op.row = own_row(now); // written as of when it leaves, not when it was queued
        op.now = now;
    }
    op_in_flight_ = true;
    in_flight_id_ = op.id;
    in_flight_kind_ = op.kind;
    return op;
}

void Registry::note_conflict(const std::string& address) {
    if (conflict_logged_ == address)
        return; // one line per conflicting holder
    conflict_logged_ = address;
    log(LogLine::Level::Error, "datastore: node name '" + opts_.name + "' is registered by " +
                                   printable(address) + ", not by this node (" + opts_.address +
                                   "); the row is left alone (give this node another name)");
}

void Registry::store_ok(base::Instant now) {
    if (status_.state != StoreState::Up) {
        log(LogLine::Level::Info,
            status_.state == StoreState::Down ? "datastore is reachable again" : "datastore is reachable");
        status_.state = StoreState::Up;
    }
    store_backoff_ = base::Duration{0};
    status_.last_ok = now;
}

void Registry::store_failed(const base::Error& e, base::Instant now) {
    status_.last_error = e.message;
    if (status_.state != StoreState::Down) {
        log(LogLine::Level::Warn,
            "datastore is down: " + e.message + " (the cluster keeps running; retrying with backoff)");
        status_.state = StoreState::Down;
    }
    ops_.clear();
    if (leaving_)
        return; // the leave's delete failed: the row expires by itself
    const base::Duration cap = std::min(opts_.store_retry_max, opts_.refresh);
    store_backoff_ = store_backoff_.count() == 0 ? opts_.store_retry_min : std::min(store_backoff_ * 2, cap);
    next_refresh_ = now + jitter(store_backoff_);
    next_relist_ = base::Instant::max();
}

void Registry::on_store_result(const StoreResult& r, base::Instant now) {
    if (!op_in_flight_ || r.id != in_flight_id_)
        return;
    op_in_flight_ = false;
    if (!r.status) {
        store_failed(r.status.error(), now);
        return;
    }
    store_ok(now);
    switch (in_flight_kind_) {
    case OpKind::Register:
        if (r.conflict) {
            status_.registered = false;
            status_.conflict = true;
            note_conflict(r.conflict_address);
        } else {
            if (status_.conflict)
                log(LogLine::Level::Info, "datastore: node name conflict resolved");
            status_.registered = true;
            status_.conflict = false;
            conflict_logged_.clear();
        }
        break;
    case OpKind::List:
        if (!leaving_)
            handle_list(r.rows, now);
        break;
    case OpKind::Delete:
    case OpKind::Prune:
        break;
    }
}

void Registry::handle_list(const std::vector<StoredRow>& raw, base::Instant now) {
    rows_.clear();
    bool expired = false;
    std::size_t live = 0;
    for (const auto& s : raw) {
        auto parsed = parse_row(s);
        std::string why;
        if (!parsed) {
            why = parsed.error().message;
        } else if (parsed->protocol_max < opts_.protocol_min || parsed->protocol_min > opts_.protocol_max) {
            why = "protocol range " + std::to_string(parsed->protocol_min) + "-" +
                  std::to_string(parsed->protocol_max) + " does not overlap this node's " +
                  std::to_string(opts_.protocol_min) + "-" + std::to_string(opts_.protocol_max);
        }
        if (!why.empty()) {
            ++status_.rows_skipped;
            const std::string key = s.name + '\x1f' + s.address + '\x1f' + s.protocol_min + '\x1f' +
                                    s.protocol_max + '\x1f' + s.created_ms;
            if (warned_.insert(key).second)
                log(LogLine::Level::Warn, "datastore: skipping row '" + printable(s.name) + "': " + why);
            continue;
        }
        Row row = std::move(*parsed);
        if (row.expires <= now) {
            expired = true;
            continue;
        }
        ++live;
        if (row.name == opts_.name && row.address != opts_.address) {
            status_.conflict = true;
            note_conflict(row.address);
        }
        rows_.push_back(std::move(row));
    }
    std::sort(rows_.begin(), rows_.end(), [](const Row& a, const Row& b) {
        return a.last_seen != b.last_seen ? a.last_seen > b.last_seen : a.name < b.name;
    });
    status_.live_rows = live;
    if (expired) {
        StoreOp prune;
        prune.kind = OpKind::Prune;
        prune.now = now;
        queue(std::move(prune));
    }
    plan_joins(now);
}

void Registry::plan_joins(base::Instant now) {
    if (leaving_ || join_in_flight_ != 0)
        return; // a round is running; the next list replans
    pending_.clear();
    for (const auto& r : rows_) {
        if (r.name == opts_.name)
            continue;
        if (r.address == opts_.address) {
            // Another name at this node's own address: an earlier incarnation of this node
            // (a generated name changes on restart). Nobody else can hold the address.
            StoreOp del;
            del.kind = OpKind::Delete;
            del.name = r.name;
            del.address = r.address;
            queue(std::move(del));
            log(LogLine::Level::Info,
                "datastore: removing stale row '" + r.name + "' at this node's address " + r.address);
            continue;
        }
        auto m = members_.find(r.name);
        if (m != members_.end()) {
            const auto st = m->second.status;
            if (st == MemberView::Status::Alive || st == MemberView::Status::Leaving)
                continue; // in the cluster
            auto gone = gone_since_.find(r.name);
            if (gone != gone_since_.end() && r.last_seen <= gone->second)
                continue; // older than the failure
        } else if (auto gone = gone_since_.find(r.name);
                   gone != gone_since_.end() && r.last_seen <= gone->second) {
            continue; // failed and reaped, and the row was not refreshed since
        }
        pending_.push_back(r);
    }
    status_.candidates = pending_.size();
    if (pending_.empty()) {
        join_backoff_ = base::Duration{0};
        next_relist_ = base::Instant::max();
        return;
    }
    next_join_batch(now);
}

void Registry::next_join_batch(base::Instant now) {
    if (pending_.empty()) {
        // Every candidate was tried and none answered: list again later, backing off.
        join_backoff_ = join_backoff_.count() == 0 ? opts_.join_retry_min
                                                   : std::min(join_backoff_ * 2, opts_.join_retry_max);
        next_relist_ = now + jitter(join_backoff_);
        return;
    }
    JoinRequest req;
    req.id = next_id_++;
    const std::size_t n = std::min(std::max<std::size_t>(opts_.join_batch, 1), pending_.size());
    for (std::size_t i = 0; i < n; ++i) {
        req.addresses.push_back(pending_[i].address);
        req.names.push_back(pending_[i].name);
    }
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
    join_in_flight_ = req.id;
    ++status_.joins_started;
    join_out_ = std::move(req);
}

std::optional<JoinRequest> Registry::poll_join() {
    auto out = std::move(join_out_);
    join_out_.reset();
    return out;
}

void Registry::on_join_result(std::uint64_t id, int joined, base::Instant now) {
    if (id == 0 || id != join_in_flight_)
        return;
    join_in_flight_ = 0;
    if (leaving_)
        return;
    if (joined > 0) {
        // Joined: gossip brings the rest. List again soon to catch rows of other partitions.
        pending_.clear();
        join_backoff_ = base::Duration{0};
        next_relist_ = now + jitter(opts_.join_retry_min);
        return;
    }
    next_join_batch(now);
}

base::Instant Registry::next_deadline() const {
    if (leaving_ || !started_)
        return base::Instant::max();
    return std::min(next_refresh_, next_relist_);
}

void Registry::tick(base::Instant now) {
    if (leaving_ || !started_)
        return;
    if (now >= next_refresh_) {
        next_refresh_ = base::Instant::max();
        refresh_cycle(now);
    }
    if (now >= next_relist_) {
        next_relist_ = base::Instant::max();
        const bool list_queued =
            std::any_of(ops_.begin(), ops_.end(), [](const StoreOp& o) { return o.kind == OpKind::List; });
        if (!list_queued) {
            StoreOp list;
            list.kind = OpKind::List;
            queue(std::move(list));
        }
    }
}

} // namespace clusterd::discovery
