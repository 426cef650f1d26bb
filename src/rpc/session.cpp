// The per-connection IPC state machine (see session.hpp).
#include "clusterd/rpc/session.hpp"

#include <regex>

#include "clusterd/rpc/msgpack.hpp"
#include "clusterd/rpc/protocol.hpp"

namespace clusterd::rpc {

bool constant_time_equal(std::string_view a, std::string_view b) {
    const std::size_t n = a.size() > b.size() ? a.size() : b.size();
    unsigned diff = a.size() == b.size() ? 0U : 1U;
    for (std::size_t i = 0; i < n; ++i) {
        const auto x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0U;
        const auto y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0U;
        diff |= x ^ y;
    }
    return diff == 0;
}

Session::Session(AgentApi& agent, SessionConfig config) : agent_(agent), cfg_(std::move(config)) {}

Session::~Session() {
    life_.reset();
    for (auto& [seq, s] : streams_) agent_.unsubscribe(s.sub);
    if (monitor_) agent_.unsubscribe(monitor_->sub);
    for (auto& [seq, id] : queries_) agent_.cancel_query(id);
}

void Session::feed(base::ByteView data) {
    if (closing_) return;
    // Compact consumed input before growing the buffer.
    if (in_pos_ > 0 && in_pos_ == in_.size()) {
        in_.clear();
        in_pos_ = 0;
    } else if (in_pos_ > 4096 && in_pos_ * 2 > in_.size()) {
        in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(in_pos_));
        if (need_ > 0) need_ -= std::min(need_, in_pos_);
        in_pos_ = 0;
    }
    in_.insert(in_.end(), data.begin(), data.end());
    // While the agent works on a request, later ones wait here; bound how much may pile up.
    if (busy_ && buffered() > 4 * cfg_.max_request_bytes) {
        close("too many requests queued behind a pending one");
        return;
    }
    process();
}

base::Bytes Session::take_output() {
    base::Bytes all;
    all.reserve(out_bytes_);
    for (auto& o : out_) {
        all.insert(all.end(), o.bytes.begin(), o.bytes.end());
        if (o.counted) {
            auto it = queued_.find(o.stream);
            if (it != queued_.end() && --it->second == 0) queued_.erase(it);
        }
    }
    out_.clear();
    out_bytes_ = 0;
    return all;
}

void Session::close(std::string reason) {
    if (!closing_) {
        closing_ = true;
        close_reason_ = std::move(reason);
    }
    if (on_output_) on_output_();
}

void Session::reply(std::uint64_t seq, std::string_view error) {
    Out o;
    encode(o.bytes, ResponseHeader{seq, std::string(error)});
    out_bytes_ += o.bytes.size();
    out_.push_back(std::move(o));
    if (on_output_) on_output_();
}

void Session::reply(std::uint64_t seq, std::string_view error, const base::Bytes& body) {
    Out o;
    encode(o.bytes, ResponseHeader{seq, std::string(error)});
    o.bytes.insert(o.bytes.end(), body.begin(), body.end());
    out_bytes_ += o.bytes.size();
    out_.push_back(std::move(o));
    if (on_output_) on_output_();
}

bool Session::push_record(std::uint64_t stream, base::Bytes frame) {
    if (closing_) return false;
    auto& n = queued_[stream];
    if (n >= cfg_.stream_queue_limit) {
        ++counters_.dropped_records;
        return false;
    }
    if (out_bytes_ + frame.size() > cfg_.max_output_bytes) {
        ++counters_.dropped_records;
        close("output buffer limit reached");
        return false;
    }
    ++n;
    Out o;
    o.stream = stream;
    o.counted = true;
    o.bytes = std::move(frame);
    out_bytes_ += o.bytes.size();
    out_.push_back(std::move(o));
    if (on_output_) on_output_();
    return true;
}

std::function<void()> Session::guard(std::function<void()> fn) {
    std::weak_ptr<int> w = life_;
    return [w, fn = std::move(fn)] {
        if (!w.expired()) fn();
    };
}

void Session::finish_async() {
    busy_ = false;
    if (!processing_) process();
}

void Session::expire(base::Instant now) {
    for (auto it = pending_.begin(); it != pending_.end();) {
        if (it->second.deadline < now) {
            it = pending_.erase(it);
        } else {
            ++it;
        }
    }
}

void Session::process() {
    processing_ = true;
    while (!busy_ && !closing_ && in_pos_ < in_.size()) {
        if (need_ > in_.size()) break;
        const base::ByteView view(in_.data() + in_pos_, in_.size() - in_pos_);
        mp::Value hv;
        auto hr = mp::decode(view, hv, cfg_.max_request_bytes);
        if (hr.status == mp::Status::Error) {
            close("malformed request header: " + hr.error);
            break;
        }
        if (hr.status == mp::Status::NeedMore) {
            if (view.size() > cfg_.max_request_bytes) close("request too large");
            need_ = in_pos_ + std::max<std::size_t>(hr.need_bytes, view.size() + 1);
            break;
        }
        RequestHeader header;
        if (auto st = decode(hv, header); !st.ok()) {
            close("bad request header: " + st.error().message);
            break;
        }
        if (header.command != cmd::kHandshake && version_ == 0) {
            reply(header.seq, err::kHandshakeRequired);
            close(std::string(err::kHandshakeRequired));
            break;
        }
        if (!is_known_command(header.command)) {
            reply(header.seq, err::kUnsupportedCommand);
            close("unsupported command '" + header.command + "'");
            break;
        }
        mp::Value body;
        std::size_t used = hr.consumed;
        const bool has_body = command_has_body(header.command);
        if (has_body) {
            auto br = mp::decode(view.subspan(hr.consumed), body, cfg_.max_request_bytes);
            if (br.status == mp::Status::Error) {
                close("malformed " + header.command + " body: " + br.error);
                break;
            }
            if (br.status == mp::Status::NeedMore) {
                if (view.size() > cfg_.max_request_bytes) close("request too large");
                need_ = in_pos_ + hr.consumed + std::max<std::size_t>(br.need_bytes, view.size() - hr.consumed + 1);
                break;
            }
            used += br.consumed;
        }
        if (used > cfg_.max_request_bytes) {
            close("request too large");
            break;
        }
        in_pos_ += used;
        need_ = 0;
        ++counters_.requests;
        if (!cfg_.auth_key.empty() && !authed_ && header.command != cmd::kAuth &&
            header.command != cmd::kHandshake) {
            reply(header.seq, err::kAuthRequired);
            continue;
        }
        if (!dispatch(header.command, header.seq, has_body ? &body : nullptr)) break;
    }
    processing_ = false;
}

namespace {
template <typename T>
bool parse_body(const mp::Value* body, T& out) {
    return body != nullptr && decode(*body, out).ok();
}
}  // namespace

bool Session::dispatch(const std::string& c, std::uint64_t seq, const mp::Value* body) {
    auto bad_body = [&] {
        close("malformed " + c + " body");
        return false;
    };
    if (c == cmd::kHandshake) {
        HandshakeRequest req;
        if (!parse_body(body, req)) return bad_body();
        if (req.version < kIpcVersion || req.version > kIpcVersion) {
            reply(seq, err::kUnsupportedIpcVersion);
        } else if (version_ != 0) {
            reply(seq, err::kDuplicateHandshake);
        } else {
            version_ = req.version;
            reply(seq, "");
        }
        return true;
    }
    if (c == cmd::kAuth) {
        AuthRequest req;
        if (!parse_body(body, req)) return bad_body();
        if (constant_time_equal(req.auth_key, cfg_.auth_key)) {
            authed_ = true;
            reply(seq, "");
        } else {
            ++counters_.auth_failures;
            reply(seq, err::kInvalidAuthToken);
            if (cfg_.max_auth_failures > 0 &&
                counters_.auth_failures >= static_cast<std::uint64_t>(cfg_.max_auth_failures)) {
                close("too many invalid authentication tokens");
                return false;
            }
        }
        return true;
    }
    if (c == cmd::kMembers || c == cmd::kMembersFiltered) {
        do_members(seq, body, c == cmd::kMembersFiltered);
        return !closing_;
    }
    if (c == cmd::kStream) {
        if (body == nullptr) return bad_body();
        do_stream(seq, *body);
        return !closing_;
    }
    if (c == cmd::kMonitor) {
        if (body == nullptr) return bad_body();
        do_monitor(seq, *body);
        return !closing_;
    }
    if (c == cmd::kStop) {
        if (body == nullptr) return bad_body();
        do_stop(seq, *body);
        return !closing_;
    }
    if (c == cmd::kQuery) {
        if (body == nullptr) return bad_body();
        do_query(seq, *body);
        return !closing_;
    }
    if (c == cmd::kRespond) {
        if (body == nullptr) return bad_body();
        do_respond(seq, *body);
        return !closing_;
    }
    if (c == cmd::kInstallKey || c == cmd::kUseKey || c == cmd::kRemoveKey || c == cmd::kListKeys) {
        do_key(seq, c, body);
        return !closing_;
    }
    if (c == cmd::kStats) {
        base::Bytes b;
        encode(b, agent_.stats());
        reply(seq, "", b);
        return true;
    }
    if (c == cmd::kGetCoordinate) {
        CoordinateRequest req;
        if (!parse_body(body, req)) return bad_body();
        CoordinateResponse resp;
        if (auto co = agent_.get_coordinate(req.node)) {
            resp.coord = *co;
            resp.ok = true;
        }
        base::Bytes b;
        encode(b, resp);
        reply(seq, "", b);
        return true;
    }
    // The remaining commands wait on the agent: one at a time, replies in request order.
    auto done = [this, seq](const std::string& error) {
        reply(seq, error);
        finish_async();
    };
    if (c == cmd::kEvent) {
        EventRequest req;
        if (!parse_body(body, req)) return bad_body();
        busy_ = true;
        std::weak_ptr<int> w = life_;
        agent_.user_event(req.name, req.payload, req.coalesce, [w, done](const std::string& e) {
            if (!w.expired()) done(e);
        });
        return true;
    }
    if (c == cmd::kForceLeave) {
        ForceLeaveRequest req;
        if (!parse_body(body, req)) return bad_body();
        busy_ = true;
        std::weak_ptr<int> w = life_;
        agent_.force_leave(req.node, req.prune, [w, done](const std::string& e) {
            if (!w.expired()) done(e);
        });
        return true;
    }
    if (c == cmd::kTags) {
        TagsRequest req;
        if (!parse_body(body, req)) return bad_body();
        busy_ = true;
        std::weak_ptr<int> w = life_;
        agent_.set_tags(req.tags, req.delete_tags, [w, done](const std::string& e) {
            if (!w.expired()) done(e);
        });
        return true;
    }
    if (c == cmd::kJoin) {
        JoinRequest req;
        if (!parse_body(body, req)) return bad_body();
        busy_ = true;
        std::weak_ptr<int> w = life_;
        agent_.join(req.existing, req.replay, [w, this, seq](int n, const std::string& e) {
            if (w.expired()) return;
            base::Bytes b;
            encode(b, JoinResponse{static_cast<std::int32_t>(n)});
            reply(seq, e, b);
            finish_async();
        });
        return true;
    }
    if (c == cmd::kStoreList) {
        busy_ = true;
        std::weak_ptr<int> w = life_;
        agent_.store_list([w, this, seq](const std::string& e, const StoreListing& listing) {
            if (w.expired()) return;
            base::Bytes b;
            encode(b, listing);
            reply(seq, e, b);
            finish_async();
        });
        return true;
    }
    if (c == cmd::kLeave) {
        busy_ = true;
        std::weak_ptr<int> w = life_;
        agent_.leave([w, this, seq](const std::string& e) {
            if (w.expired()) return;
            reply(seq, e);
            // The connection stays open: the agent's shutdown closes it. Closing it here races
            // with Serf's Go client, which may then report "client closed" instead of the reply.
            leave_replied_ = e.empty();
            finish_async();
        });
        return true;
    }
    return bad_body();  // unreachable: every known command is handled above
}

namespace {

/// The last unfiltered `members` answer, encoded. Keyed by the full member list (compared
/// field by field), so it can never be stale: a changed member means a fresh encoding. Polling
/// clients (Kong asks `members` over and over on a quiet cluster) then cost a list copy and a
/// compare instead of a msgpack encoding. One per thread: the daemon runs one io_context thread.
struct MembersBodyCache {
    std::vector<Member> members;
    base::Bytes body;
    bool valid = false;
};

const base::Bytes& encoded_members(std::vector<Member>&& all) {
    static thread_local MembersBodyCache cache;
    if (cache.valid && cache.members == all) return cache.body;
    MembersResponse resp;
    resp.members = std::move(all);
    cache.body.clear();
    encode(cache.body, resp);
    cache.members = std::move(resp.members);
    cache.valid = true;
    return cache.body;
}

}  // namespace

void Session::do_members(std::uint64_t seq, const mp::Value* body, bool filtered) {
    std::vector<Member> all = agent_.members();
    if (!filtered) {
        reply(seq, "", encoded_members(std::move(all)));
        return;
    }
    MembersResponse resp;
    std::string error;
    {
        MembersFilteredRequest req;
        if (!parse_body(body, req)) {
            close("malformed members-filtered body");
            return;
        }
        try {
            // Serf anchors each expression as ^expr$ (not ^(?:expr)$); so do we.
            std::map<std::string, std::regex> tag_re;
            for (const auto& [k, re] : req.tags) tag_re.emplace(k, std::regex("^" + re + "$"));
            const std::regex status_re("^" + req.status + "$");
            const std::regex name_re("^" + req.name + "$");
            for (auto& m : all) {
                bool ok = true;
                for (const auto& [k, re] : tag_re) {
                    auto it = m.tags.find(k);
                    if (!std::regex_search(it == m.tags.end() ? std::string() : it->second, re)) {
                        ok = false;
                        break;
                    }
                }
                if (ok && !req.status.empty() && !std::regex_search(m.status, status_re)) ok = false;
                if (ok && !req.name.empty() && !std::regex_search(m.name, name_re)) ok = false;
                if (ok) resp.members.push_back(std::move(m));
            }
        } catch (const std::regex_error& e) {
            resp.members.clear();
            error = std::string("Failed to compile regex: ") + e.what();
        }
    }
    base::Bytes b;
    encode(b, resp);
    reply(seq, error, b);
}

void Session::do_stream(std::uint64_t seq, const mp::Value& body) {
    StreamRequest req;
    if (!decode(body, req).ok()) return close("malformed stream body");
    auto filters = parse_event_filter(req.type);
    for (const auto& f : filters) {
        if (!f.valid()) return reply(seq, err::kInvalidFilter);
    }
    if (streams_.count(seq) != 0) return reply(seq, err::kStreamExists);
    reply(seq, "");
    Stream s;
    s.filters = std::move(filters);
    std::weak_ptr<int> w = life_;
    s.sub = agent_.subscribe_events([w, this, seq](const Event& e) {
        if (!w.expired()) on_event(seq, e);
    });
    streams_[seq] = std::move(s);
}

void Session::on_event(std::uint64_t seq, const Event& e) {
    auto it = streams_.find(seq);
    if (it == streams_.end()) return;
    bool match = false;
    for (const auto& f : it->second.filters) match = match || f.matches(e);
    if (!match) return;
    base::Bytes frame;
    encode(frame, ResponseHeader{seq, ""});
    if (const auto* m = std::get_if<MemberEvent>(&e)) {
        encode(frame, *m);
    } else if (const auto* u = std::get_if<UserEvent>(&e)) {
        encode(frame, UserEventRecord{u->ltime, u->name, u->payload, u->coalesce});
    } else {
        const auto& q = std::get<QueryEvent>(e);
        if (queued_[seq] >= cfg_.stream_queue_limit) {
            ++counters_.dropped_records;
            return;
        }
        const std::uint64_t id = ++next_query_id_;
        pending_[id] = Pending{q.token, q.deadline};
        while (pending_.size() > cfg_.max_pending_queries) pending_.erase(pending_.begin());
        encode(frame, QueryEventRecord{id, q.ltime, q.name, q.payload});
    }
    push_record(seq, std::move(frame));
}

void Session::do_monitor(std::uint64_t seq, const mp::Value& body) {
    MonitorRequest req;
    if (!decode(body, req).ok()) return close("malformed monitor body");
    const std::string level = normalize_log_level(req.log_level);
    if (level.empty()) {
        std::string up;
        for (char ch : req.log_level) up.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
        return reply(seq, "Unknown log level: " + up);
    }
    if (monitor_) return reply(seq, err::kMonitorExists);
    reply(seq, "");
    monitor_ = Monitor{seq, level, 0};
    std::weak_ptr<int> w = life_;
    monitor_->sub = agent_.subscribe_logs([w, this](const std::string& line) {
        if (!w.expired()) on_log(line);
    });
}

void Session::on_log(const std::string& line) {
    if (!monitor_ || !log_line_passes(line, monitor_->level)) return;
    base::Bytes frame;
    encode(frame, ResponseHeader{monitor_->seq, ""});
    encode(frame, LogRecord{line});
    push_record(monitor_->seq, std::move(frame));
}

void Session::do_stop(std::uint64_t seq, const mp::Value& body) {
    StopRequest req;
    if (!decode(body, req).ok()) return close("malformed stop body");
    if (monitor_ && monitor_->seq == req.stop) {
        agent_.unsubscribe(monitor_->sub);
        monitor_.reset();
    }
    if (auto it = streams_.find(req.stop); it != streams_.end()) {
        agent_.unsubscribe(it->second.sub);
        streams_.erase(it);
    }
    reply(seq, "");
}

void Session::do_query(std::uint64_t seq, const mp::Value& body) {
    QueryRequest req;
    if (!decode(body, req).ok()) return close("malformed query body");
    std::weak_ptr<int> w = life_;
    auto record = [w, this, seq](std::string_view type, const std::string& from, const base::Bytes& payload) {
        if (w.expired()) return;
        base::Bytes frame;
        encode(frame, ResponseHeader{seq, ""});
        encode(frame, QueryRecord{std::string(type), from, payload});
        push_record(seq, std::move(frame));
    };
    QueryCallbacks cbs;
    cbs.on_ack = [record](const std::string& from) { record(rec::kAck, from, {}); };
    cbs.on_response = [record](const std::string& from, const base::Bytes& p) { record(rec::kResponse, from, p); };
    auto finished = std::make_shared<bool>(false);
    cbs.on_done = [w, this, seq, record, finished] {
        *finished = true;
        if (w.expired()) return;
        record(rec::kDone, "", {});
        queries_.erase(seq);
    };
    const std::size_t mark = out_.size();
    SubscriptionId id = 0;
    const std::string error = agent_.query(req.params, std::move(cbs), id);
    if (!error.empty()) return reply(seq, error);
    // Records the agent produced synchronously must follow the reply.
    Out o;
    encode(o.bytes, ResponseHeader{seq, ""});
    out_bytes_ += o.bytes.size();
    out_.insert(out_.begin() + static_cast<std::ptrdiff_t>(std::min(mark, out_.size())), std::move(o));
    if (on_output_) on_output_();
    if (!*finished) queries_[seq] = id;
}

void Session::do_respond(std::uint64_t seq, const mp::Value& body) {
    RespondRequest req;
    if (!decode(body, req).ok()) return close("malformed respond body");
    auto it = pending_.find(req.id);
    if (it == pending_.end()) return reply(seq, err::kInvalidQueryId);
    reply(seq, agent_.respond(it->second.token, req.payload));
}

void Session::do_key(std::uint64_t seq, const std::string& c, const mp::Value* body) {
    KeyRequest req;
    if (c != cmd::kListKeys && !parse_body(body, req)) return close("malformed " + c + " body");
    const bool with_keys = c == cmd::kListKeys;
    std::weak_ptr<int> w = life_;
    auto done = [w, this, seq, with_keys](const KeyResponse& r) {
        if (w.expired()) return;
        base::Bytes b;
        encode(b, r, with_keys);
        reply(seq, r.error, b);
        finish_async();
    };
    busy_ = true;
    if (c == cmd::kInstallKey) {
        agent_.install_key(req.key, done);
    } else if (c == cmd::kUseKey) {
        agent_.use_key(req.key, done);
    } else if (c == cmd::kRemoveKey) {
        agent_.remove_key(req.key, done);
    } else {
        agent_.list_keys(done);
    }
}

}  // namespace clusterd::rpc
