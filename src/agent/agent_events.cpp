// The agent's reaction to everything the node produces: log lines, member/user/query events
// (to handlers and RPC streams), query progress (to RPC clients), join results, snapshot lines.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "agent_impl.hpp"
#include "clusterd/agent/state_files.hpp"
#include "clusterd/net/address.hpp"

namespace clusterd::agent {
namespace {

rpc::Member to_rpc(const serf::Member& m) {
    rpc::Member r;
    r.name = m.name;
    r.addr = m.addr;
    r.port = m.port;
    r.tags = m.tags;
    r.status = serf::status_name(m.status);
    r.protocol_min = m.protocol_min;
    r.protocol_max = m.protocol_max;
    r.protocol_cur = m.protocol_cur;
    r.delegate_min = m.delegate_min;
    r.delegate_max = m.delegate_max;
    r.delegate_cur = m.delegate_cur;
    return r;
}

HandlerEventKind handler_kind(serf::EventType t) {
    switch (t) {
    case serf::EventType::MemberJoin:
        return HandlerEventKind::MemberJoin;
    case serf::EventType::MemberLeave:
        return HandlerEventKind::MemberLeave;
    case serf::EventType::MemberFailed:
        return HandlerEventKind::MemberFailed;
    case serf::EventType::MemberUpdate:
        return HandlerEventKind::MemberUpdate;
    case serf::EventType::MemberReap:
        return HandlerEventKind::MemberReap;
    case serf::EventType::User:
        return HandlerEventKind::User;
    case serf::EventType::Query:
        return HandlerEventKind::Query;
    }
    return HandlerEventKind::MemberJoin;
}

LogLevel to_level(serf::LogLine::Level l) {
    switch (l) {
    case serf::LogLine::Level::Debug:
        return LogLevel::Debug;
    case serf::LogLine::Level::Info:
        return LogLevel::Info;
    case serf::LogLine::Level::Warn:
        return LogLevel::Warn;
    case serf::LogLine::Level::Error:
        return LogLevel::Error;
    }
    return LogLevel::Info;
}

} // namespace

std::vector<rpc::Member> Agent::members() {
    std::vector<rpc::Member> out;
    const auto all = node_->members();
    out.reserve(all.size());
    for (const auto& m : all)
        out.push_back(to_rpc(m));
    return out;
}

std::uint64_t Agent::members_version() {
    // Kong polls `members` on a quiet cluster over and over: the RPC layer keeps the encoded
    // answer under this number. A process-wide counter, so no two agents (or node_ instances)
    // ever share a number.
    static std::uint64_t last_version = 0;
    const std::uint64_t gen = node_->members_generation();
    if (members_version_ == 0 || members_version_generation_ != gen) {
        members_version_ = ++last_version;
        members_version_generation_ = gen;
    }
    return members_version_;
}

void Agent::after_activity() {
    if (!node_)
        return;
    while (auto line = node_->poll_log()) {
        // Serf's lines carry their own "serf: " / "memberlist: " prefix.
        const auto& t = line->text;
        auto colon = t.find(": ");
        if (colon != std::string::npos && colon < 16) {
            log_.log(to_level(line->level), t.substr(0, colon), t.substr(colon + 2));
        } else {
            log_.log(to_level(line->level), "serf", t);
        }
    }
    while (auto r = node_->poll_join_result())
        on_join_result(*r);
    while (auto e = node_->poll_event())
        on_event(*e);
    while (auto u = node_->poll_query_update())
        on_query_update(*u);
    write_snapshot();
    // Queries we may still answer: forget those past their deadline.
    const auto now = driver_->now();
    for (auto it = inbound_queries_.begin(); it != inbound_queries_.end();) {
        it = it->second.deadline < now ? inbound_queries_.erase(it) : std::next(it);
    }
    if (leaving_ && node_->leave_complete()) {
        leaving_ = false;
        log_.info("agent", "graceful leave complete");
        auto waiters = std::move(leave_waiters_);
        leave_waiters_.clear();
        for (auto& w : waiters)
            w("");
        if (shutting_down_)
            asio::post(io_, [this] { finish_shutdown(); });
    }
}

void Agent::write_snapshot() {
    retry_state_files();
    if (snapshot_fd_ < 0 || !node_)
        return;
    auto* rec = node_->snapshot_recorder();
    std::string lines = node_->drain_snapshot();
    if (snapshot_failing_)
        return; // retry_state_files writes the whole state once it can
    auto failed = [&](const std::string& why) {
        // Logged once per failure period; the lines are dropped because the recovery writes the
        // complete state (a compaction) rather than appending after a possibly partial line.
        snapshot_failing_ = true;
        snapshot_failed_writes_ = 1;
        log_.error("agent",
                   "snapshot " + cfg_.snapshot_path + ": " + why + " (will retry with a full rewrite)");
    };
    if (rec != nullptr && rec->compaction_due()) {
        // Compact: write the whole state to <path>.tmp, fsync, rename over the snapshot.
        std::string text = rec->compact();
        if (auto st = write_file_atomic(cfg_.snapshot_path, text, 0644); !st) {
            failed("compaction failed: " + st.error().message);
            return;
        }
        ::close(snapshot_fd_);
        snapshot_fd_ = ::open(cfg_.snapshot_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        return;
    }
    if (lines.empty())
        return;
    // Written straight to the kernel: a kill -9 right after a handler ran cannot lose the
    // event clock line that stops the event being replayed on restart.
    std::size_t off = 0;
    while (off < lines.size()) {
        ssize_t n = ::write(snapshot_fd_, lines.data() + off, lines.size() - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            failed(std::string("write failed: ") + std::strerror(errno));
            return;
        }
        off += static_cast<std::size_t>(n);
    }
}

void Agent::retry_state_files() {
    if (!driver_)
        return;
    const auto now = driver_->now();
    if (now - last_state_retry_ < std::chrono::seconds(1))
        return;
    last_state_retry_ = now;
    if (keyring_.writer) {
        keyring_.writer->retry();
        if (auto c = keyring_.writer->take_change()) {
            if (keyring_.writer->pending())
                log_.error("agent", "keyring " + *c);
            else
                log_.info("agent", "keyring " + *c);
        }
    }
    if (snapshot_failing_ && node_ && snapshot_fd_ >= 0) {
        auto* rec = node_->snapshot_recorder();
        if (rec == nullptr)
            return;
        if (auto st = write_file_atomic(cfg_.snapshot_path, rec->compact(), 0644); !st) {
            ++snapshot_failed_writes_;
            return;
        }
        ::close(snapshot_fd_);
        snapshot_fd_ = ::open(cfg_.snapshot_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        snapshot_failing_ = false;
        log_.info("agent", "snapshot " + cfg_.snapshot_path + ": written again (full rewrite) after " +
                               std::to_string(snapshot_failed_writes_) + " failed attempt(s)");
    }
}

void Agent::on_event(const serf::Event& e) {
    HandlerEvent he;
    rpc::Event re;
    std::visit(
        [&](const auto& ev) {
            using T = std::decay_t<decltype(ev)>;
            if constexpr (std::is_same_v<T, serf::MemberEvent>) {
                // The registry remembers when it first saw a member fail (failed-vs-refreshed rule).
                if (registry_)
                    registry_->observe_members(member_views(), wall_now());
                he.kind = handler_kind(ev.type);
                rpc::MemberEvent rme;
                rme.type = serf::event_type_name(ev.type);
                for (const auto& m : ev.members) {
                    he.members.push_back(HandlerMember{m.name, net::ip_string(m.addr), m.tags});
                    rme.members.push_back(to_rpc(m));
                }
                std::string names;
                for (const auto& m : ev.members)
                    names += (names.empty() ? "" : ", ") + m.name;
                log_.info("agent", std::string("Received event: ") + rme.type + " (" + names + ")");
                re = std::move(rme);
            } else if constexpr (std::is_same_v<T, serf::UserEvent>) {
                he.kind = HandlerEventKind::User;
                he.name = ev.name;
                he.ltime = ev.ltime;
                he.payload = base::to_string(ev.payload);
                he.coalesce = ev.coalesce;
                log_.info("agent", "Received event: user-event: " + ev.name);
                re = rpc::UserEvent{ev.ltime, ev.name, ev.payload, ev.coalesce};
            } else {
                const std::uint64_t token = next_token_++;
                inbound_queries_[token] = ev;
                he.kind = HandlerEventKind::Query;
                he.name = ev.name;
                he.ltime = ev.ltime;
                he.payload = base::to_string(ev.payload);
                he.query_id = token;
                log_.info("agent", "Received event: query: " + ev.name);
                re = rpc::QueryEvent{token, ev.ltime, ev.name, ev.payload, ev.deadline};
            }
        },
        e);
    if (dispatcher_)
        dispatcher_->dispatch(he);
    auto subs = event_subs_; // a callback may unsubscribe
    for (auto& [id, cb] : subs)
        cb(re);
}

void Agent::on_query_update(const serf::QueryUpdate& u) {
    std::visit(
        [&](const auto& up) {
            using T = std::decay_t<decltype(up)>;
            if constexpr (std::is_same_v<T, serf::KeyOperationDone>) {
                auto it = key_ops_.find(up.handle);
                if (it == key_ops_.end())
                    return;
                rpc::KeyResponse kr;
                kr.error = up.error;
                kr.messages = up.response.messages;
                kr.keys = up.response.keys;
                kr.num_nodes = static_cast<int>(up.response.num_nodes);
                kr.num_err = static_cast<int>(up.response.num_err);
                kr.num_resp = static_cast<int>(up.response.num_resp);
                auto done = std::move(it->second);
                key_ops_.erase(it);
                done(kr);
            } else {
                auto it = rpc_queries_.find(up.handle);
                if (it == rpc_queries_.end())
                    return;
                if constexpr (std::is_same_v<T, serf::QueryAck>) {
                    if (it->second.on_ack)
                        it->second.on_ack(up.from);
                } else if constexpr (std::is_same_v<T, serf::QueryResponse>) {
                    if (it->second.on_response)
                        it->second.on_response(up.from, up.payload);
                } else {
                    auto cbs = std::move(it->second);
                    rpc_queries_.erase(it);
                    for (auto s = rpc_query_ids_.begin(); s != rpc_query_ids_.end(); ++s) {
                        if (s->second == up.handle) {
                            rpc_query_ids_.erase(s);
                            break;
                        }
                    }
                    if (cbs.on_done)
                        cbs.on_done();
                }
            }
        },
        u);
}

void Agent::on_join_result(const serf::JoinResult& r) {
    auto it = joins_.find(r.join_id);
    if (r.join_id != 0 && it == joins_.end())
        return;
    if (r.join_id == 0) {
        // A retry attempt that could not even start.
        if (cfg_.retry_max_attempts > 0 && retry_attempts_ >= cfg_.retry_max_attempts) {
            log_.error("agent", "max join retry exhausted, exiting");
            begin_shutdown(false, 1);
            return;
        }
        retry_timer_.expires_after(cfg_.retry_interval);
        retry_timer_.async_wait([this](const std::error_code& ec) {
            if (!ec)
                retry_join_tick();
        });
        return;
    }
    auto& pj = it->second;
    if (r.ok) {
        // One entry counts once however many of its addresses answered (Serf counts hosts).
        auto e = pj.entry_of.find(r.seed);
        if (e == pj.entry_of.end() || pj.ok_entries.insert(e->second).second)
            ++pj.ok;
    } else {
        pj.last_error = r.error;
        log_.warn("agent", "join " + r.seed.to_string() + ": " + r.error);
    }
    if (r.remaining > 0)
        return;
    PendingJoin done = std::move(pj);
    joins_.erase(it);
    if (done.ok > 0)
        log_.info("agent", "joined the cluster: " + std::to_string(done.ok) + " node(s) contacted");
    if (done.discovery_id != 0) {
        if (registry_) {
            registry_->on_join_result(done.discovery_id, done.ok, wall_now());
            pump_discovery();
        }
    } else if (done.done) {
        done.done(done.ok, done.ok > 0 ? "" : done.last_error);
    } else if (done.start_join && done.ok == 0) {
        log_.error("agent", "failed to join any -join address: " + done.last_error);
        begin_shutdown(false, 1);
    } else if (done.retry_join && done.ok == 0) {
        on_join_result(serf::JoinResult{});
    }
}

} // namespace clusterd::agent
