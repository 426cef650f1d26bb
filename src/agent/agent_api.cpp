// The agent's side of the RPC protocol (rpc::AgentApi) on top of serf::Node.
#include <sys/utsname.h>
#include <thread>

#include "agent_impl.hpp"
#include "clusterd/agent/state_files.hpp"
#include "clusterd/base/version.hpp"

namespace clusterd::agent {

void Agent::join(const std::vector<std::string>& addrs, bool replay,
                 std::function<void(int, const std::string&)> done) {
    auto seeds = resolve(addrs);
    if (!seeds) {
        done(0, seeds.error().message);
        return;
    }
    auto id = node_->join(seeds->addrs, !replay, driver_->now());
    if (!id) {
        done(0, id.error().message);
        return;
    }
    auto& pj = joins_[*id];
    pj.entry_of = seeds->entry_of;
    pj.done = std::move(done);
    driver_->kick();
}

void Agent::leave(rpc::ErrorCallback done) {
    if (node_->state() != serf::NodeState::Alive) {
        done(node_->state() == serf::NodeState::Left ? "" : "agent is not alive");
        return;
    }
    leave_waiters_.push_back(std::move(done));
    discovery_leave();
    if (!leaving_) {
        leaving_ = true;
        auto st = node_->leave(driver_->now());
        if (!st) {
            leaving_ = false;
            auto waiters = std::move(leave_waiters_);
            leave_waiters_.clear();
            for (auto& w : waiters)
                w(st.error().message);
            return;
        }
        driver_->kick();
    }
}

void Agent::shutdown() {
    // RPC `leave` finished and its reply is out: the agent exits, as Serf's does.
    shutting_down_ = true;
    asio::post(io_, [this] { finish_shutdown(); });
}

void Agent::force_leave(const std::string& node, bool prune, rpc::ErrorCallback done) {
    auto st = node_->force_leave(node, prune, driver_->now());
    driver_->kick();
    if (st && prune && registry_) {
        registry_->forget(node);
        pump_discovery();
    }
    done(st ? "" : st.error().message);
}

void Agent::user_event(const std::string& name, const base::Bytes& payload, bool coalesce,
                       rpc::ErrorCallback done) {
    auto st = node_->user_event(name, payload, coalesce, driver_->now());
    driver_->kick();
    done(st ? "" : st.error().message);
}

void Agent::set_tags(const rpc::Tags& set, const std::vector<std::string>& remove, rpc::ErrorCallback done) {
    auto tags = node_->tags();
    for (const auto& k : remove)
        tags.erase(k);
    for (const auto& [k, v] : set)
        tags[k] = v;
    if (!cfg_.tags_file.empty()) {
        if (auto st = write_tags_file(cfg_.tags_file, tags); !st) {
            done(st.error().message);
            return;
        }
    }
    auto st = node_->set_tags(tags, driver_->now());
    driver_->kick();
    done(st ? "" : st.error().message);
}

std::string Agent::query(const rpc::QueryParams& params, rpc::QueryCallbacks callbacks,
                         rpc::SubscriptionId& id) {
    // Serf's agent keeps its internal queries to itself, except a bare _serf_ping.
    if (params.name.rfind(serf::kInternalQueryPrefix, 0) == 0 &&
        !(params.name == "_serf_ping" && params.payload.empty()))
        return "Queries cannot contain the '_serf_' prefix";
    serf::QueryParams qp;
    qp.filter_nodes = params.filter_nodes;
    qp.filter_tags = params.filter_tags;
    qp.request_ack = params.request_ack;
    qp.relay_factor = params.relay_factor;
    qp.timeout = params.timeout;
    auto handle = node_->query(params.name, params.payload, qp, driver_->now());
    if (!handle)
        return handle.error().message;
    id = next_sub_++;
    rpc_queries_[*handle] = std::move(callbacks);
    rpc_query_ids_[id] = *handle;
    driver_->kick();
    return "";
}

void Agent::cancel_query(rpc::SubscriptionId id) {
    auto it = rpc_query_ids_.find(id);
    if (it == rpc_query_ids_.end())
        return;
    rpc_queries_.erase(it->second);
    rpc_query_ids_.erase(it);
}

std::string Agent::respond(std::uint64_t token, const base::Bytes& payload) {
    auto it = inbound_queries_.find(token);
    if (it == inbound_queries_.end())
        return "No pending queries matching ID";
    if (it->second.deadline < driver_->now()) {
        inbound_queries_.erase(it);
        return "Query response past the deadline";
    }
    auto st = node_->respond(it->second, payload, driver_->now());
    driver_->kick();
    return st ? "" : st.error().message;
}

void Agent::key_op(serf::KeyOp op, const std::string& key,
                   std::function<void(const rpc::KeyResponse&)> done) {
    auto handle = node_->key_operation(op, key, 0, driver_->now());
    if (!handle) {
        rpc::KeyResponse kr;
        kr.error = handle.error().message;
        done(kr);
        return;
    }
    key_ops_[*handle] = std::move(done);
    driver_->kick();
}

void Agent::install_key(const std::string& key, std::function<void(const rpc::KeyResponse&)> done) {
    key_op(serf::KeyOp::Install, key, std::move(done));
}
void Agent::use_key(const std::string& key, std::function<void(const rpc::KeyResponse&)> done) {
    key_op(serf::KeyOp::Use, key, std::move(done));
}
void Agent::remove_key(const std::string& key, std::function<void(const rpc::KeyResponse&)> done) {
    key_op(serf::KeyOp::Remove, key, std::move(done));
}
void Agent::list_keys(std::function<void(const rpc::KeyResponse&)> done) {
    key_op(serf::KeyOp::List, "", std::move(done));
}

std::map<std::string, std::map<std::string, std::string>> Agent::stats() {
    std::map<std::string, std::map<std::string, std::string>> s;
    s["agent"]["name"] = node_->name();
    utsname u{};
    ::uname(&u);
    s["runtime"]["os"] = "linux";
    s["runtime"]["arch"] = std::string(u.machine) == "x86_64" ? "amd64" : u.machine;
    s["runtime"]["version"] = std::string("clusterd ") + base::version();
    s["runtime"]["max_procs"] = "1";
    s["runtime"]["goroutines"] = "0";
    s["runtime"]["cpu_count"] = std::to_string(std::thread::hardware_concurrency());
    // clusterd additions (Serf's `info` prints any extra keys): how late the event loop runs
    // its timers, and the handler runner's backlog.
    const auto& lag = driver_->stats().loop_lag;
    s["runtime"]["loop_lag_p99_us"] = std::to_string(lag.quantile_us(0.99));
    s["runtime"]["loop_lag_max_us"] = std::to_string(lag.max_us());
    s["runtime"]["loop_lag_samples"] = std::to_string(lag.count());
    if (runner_) {
        s["runtime"]["handlers_pending"] = std::to_string(runner_->pending());
        s["runtime"]["handlers_completed"] = std::to_string(runner_->completed());
        s["runtime"]["handlers_dropped"] = std::to_string(runner_->dropped());
    }
    // clusterd: the gossip and RPC listeners' limits (docs/operations.md, "Connection limits"):
    // every stream or connection refused, evicted or dropped is counted here.
    auto& nw = s["network"];
    const auto& dst = driver_->stats();
    nw["tcp_open"] = std::to_string(dst.tcp_open);
    nw["tcp_refused"] = std::to_string(dst.tcp_refused);
    nw["tcp_refused_per_ip"] = std::to_string(dst.tcp_refused_per_ip);
    nw["tcp_evicted"] = std::to_string(dst.tcp_evicted);
    nw["tcp_header_timeouts"] = std::to_string(dst.tcp_header_timeouts);
    nw["tcp_buffer_evicted"] = std::to_string(dst.tcp_buffer_evicted);
    nw["tcp_buffered_bytes"] = std::to_string(dst.tcp_buffered);
    nw["tcp_buffered_peak_bytes"] = std::to_string(dst.tcp_buffered_peak);
    for (const auto& [code, n] : dst.drops)
        nw["dropped_" + code] = std::to_string(n);
    if (rpc_) {
        const auto& rc = rpc_->counters();
        nw["rpc_connections"] = std::to_string(rpc_->connections());
        nw["rpc_refused"] = std::to_string(rc.refused_over_cap);
        nw["rpc_evicted"] = std::to_string(rc.evicted);
        nw["rpc_timed_out"] = std::to_string(rc.timed_out);
        nw["rpc_auth_timed_out"] = std::to_string(rc.auth_timed_out);
    }
    http_stats(nw);
    auto& sf = s["serf"];
    sf["members"] = std::to_string(node_->members().size());
    sf["failed"] = std::to_string(node_->gauges().num_failed);
    sf["left"] = std::to_string(node_->gauges().num_left);
    sf["health_score"] = std::to_string(node_->endpoint().health_score());
    sf["member_time"] = std::to_string(node_->clocks().member);
    sf["event_time"] = std::to_string(node_->clocks().event);
    sf["query_time"] = std::to_string(node_->clocks().query);
    sf["intent_queue"] = std::to_string(node_->gauges().intent_queue);
    sf["event_queue"] = std::to_string(node_->gauges().event_queue);
    sf["query_queue"] = std::to_string(node_->gauges().query_queue);
    sf["encrypted"] = keyring_.enabled() ? "true" : "false";
    if (!cfg_.disable_coordinates)
        sf["coordinate_resets"] = std::to_string(node_->gauges().coordinate_resets);
    auto& tags = s["tags"];
    for (const auto& [k, v] : node_->tags())
        tags[k] = v;
    if (registry_) {
        // clusterd: the node registry (Kong's cluster model); never shows credentials.
        const auto& st = registry_->status();
        auto& ds = s["datastore"];
        ds["url"] = datastore_shown_;
        ds["state"] = discovery::state_name(st.state);
        ds["last_error"] = st.last_error;
        ds["registered"] = st.registered ? "true" : "false";
        ds["name_conflict"] = st.conflict ? "true" : "false";
        ds["live_rows"] = std::to_string(st.live_rows);
        ds["unjoined_rows"] = std::to_string(st.candidates);
        ds["joins_started"] = std::to_string(st.joins_started);
        ds["rows_skipped"] = std::to_string(st.rows_skipped);
        ds["ttl_on_failure"] = std::to_string(cfg_.ttl_on_failure);
        ds["last_ok_age_s"] =
            st.last_ok == base::Instant::zero()
                ? std::string("never")
                : std::to_string(
                      std::chrono::duration_cast<std::chrono::seconds>(wall_now() - st.last_ok).count());
    }
    if (mdns_) {
        // clusterd: mDNS discovery (-discover); malformed packets are dropped and counted here.
        const auto& ms = mdns_->stats();
        auto& md = s["mdns"];
        md["cluster"] = cfg_.discover;
        md["interface"] = mdns_->where();
        md["packets"] = std::to_string(ms.packets);
        md["malformed"] = std::to_string(ms.malformed);
        md["ignored"] = std::to_string(ms.ignored);
        md["queries_sent"] = std::to_string(ms.queries_sent);
        md["queries_answered"] = std::to_string(ms.queries_answered);
        md["peers_found"] = std::to_string(ms.peers_found);
        md["joins"] = std::to_string(ms.joins_requested);
        md["last_error"] = ms.last_error;
    }
    auto& eh = s["event_handlers"];
    if (dispatcher_) {
        for (const auto& spec : dispatcher_->specs())
            eh[spec.filter.event + ":" + spec.filter.name] = spec.script;
    }
    return s;
}

std::optional<rpc::Coordinate> Agent::get_coordinate(const std::string& node) {
    std::optional<coord::Coordinate> c =
        node == node_->name() ? node_->local_coordinate() : node_->coordinate_of(node);
    if (!c)
        return std::nullopt;
    return rpc::Coordinate{c->vec, c->error, c->adjustment, c->height};
}

rpc::SubscriptionId Agent::subscribe_events(std::function<void(const rpc::Event&)> cb) {
    auto id = next_sub_++;
    event_subs_[id] = std::move(cb);
    return id;
}

rpc::SubscriptionId Agent::subscribe_logs(std::function<void(const std::string&)> cb) {
    auto id = next_sub_++;
    log_subs_[id] = log_.subscribe(LogLevel::Trace, std::move(cb));
    return id;
}

void Agent::unsubscribe(rpc::SubscriptionId id) {
    event_subs_.erase(id);
    if (auto it = log_subs_.find(id); it != log_subs_.end()) {
        log_.unsubscribe(it->second);
        log_subs_.erase(it);
    }
    cancel_query(id);
}

} // namespace clusterd::agent
