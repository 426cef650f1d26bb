// The agent's HTTP endpoints (docs/operations.md, "HTTP listener"): health and readiness probes,
// Kong's GET /cluster, Serf's member records, the event stream (SSE), coordinates, the metrics
// hook and the status page. Everything answers from the agent's state on the loop; nothing
// here blocks. The listener and its limits are http::Server's.
#include <nlohmann/json.hpp>

#include "agent_impl.hpp"
#include "clusterd/base/bytes.hpp"
#include "clusterd/http/server.hpp"
#include "clusterd/net/address.hpp"

namespace clusterd::agent {

extern const unsigned char kStatusPage[];
extern const std::size_t kStatusPage_size;

namespace {

/// HTTP connections the agent holds at once (http::ServerConfig's default is 64).
constexpr std::size_t kHttpMaxConnections = 512;

using Json = nlohmann::ordered_json;

/// JSON text; bytes that are not UTF-8 (names and tags come from the network) become U+FFFD.
std::string dump(const Json& j, int indent = -1) {
    return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

http::Response json_response(const Json& j, int status = 200) {
    http::Response r;
    r.status = status;
    r.content_type = "application/json";
    r.body = dump(j) + "\n";
    return r;
}

std::string address_of(const rpc::Member& m) {
    return net::join_host_port(net::ip_string(m.addr), m.port);
}

/// Serf's `members -format json` record (cmd/serf/command/members.go): field order kept.
Json serf_member(const rpc::Member& m) {
    Json tags = Json::object();
    for (const auto& [k, v] : m.tags)
        tags[k] = v;
    return Json{
        {"name", m.name},
        {"addr", address_of(m)},
        {"port", m.port},
        {"tags", tags},
        {"status", m.status},
        {"protocol", Json{{"min", m.delegate_min}, {"max", m.delegate_max}, {"version", m.delegate_cur}}}};
}

/// The RPC `stream` record of an event as JSON (Serf's IPC field names); "" for query events,
/// which the event stream does not carry.
std::string sse_record(const rpc::Event& e) {
    std::string type;
    Json j;
    if (const auto* me = std::get_if<rpc::MemberEvent>(&e)) {
        type = me->type;
        Json members = Json::array();
        for (const auto& m : me->members) {
            Json tags = Json::object();
            for (const auto& [k, v] : m.tags)
                tags[k] = v;
            members.push_back(Json{{"Name", m.name},
                                   {"Addr", net::ip_string(m.addr)},
                                   {"Port", m.port},
                                   {"Tags", tags},
                                   {"Status", m.status},
                                   {"ProtocolMin", m.protocol_min},
                                   {"ProtocolMax", m.protocol_max},
                                   {"ProtocolCur", m.protocol_cur},
                                   {"DelegateMin", m.delegate_min},
                                   {"DelegateMax", m.delegate_max},
                                   {"DelegateCur", m.delegate_cur}});
        }
        j = Json{{"Event", type}, {"Members", members}};
    } else if (const auto* ue = std::get_if<rpc::UserEvent>(&e)) {
        type = "user";
        // Payload as Go's encoding/json writes a []byte: base64.
        j = Json{{"Event", "user"},
                 {"LTime", ue->ltime},
                 {"Name", ue->name},
                 {"Payload", base::base64_encode(ue->payload)},
                 {"Coalesce", ue->coalesce}};
    } else {
        return "";
    }
    return "event: " + type + "\ndata: " + dump(j) + "\n\n";
}

std::string replace_all(std::string s, std::string_view from, const std::string& to) {
    for (auto p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
        s.replace(p, from.size(), to);
    return s;
}

std::string format_rtt(double ms) {
    char buf[32];
    std::snprintf(buf, sizeof buf, ms < 1 ? "%.2f ms" : "%.1f ms", ms);
    return buf;
}

} // namespace

/// The routes, over the agent's private state (a friend of Agent).
class HttpApi {
  public:
    explicit HttpApi(Agent& a) : a_(a) {
        router_.get("/", [this](const http::Request&) { return page(); });
        router_.get("/v1/health", [this](const http::Request&) { return health(); });
        router_.get("/v1/ready", [this](const http::Request&) { return ready(); });
        router_.get("/cluster", [this](const http::Request& r) { return cluster(r); });
        router_.get("/cluster/", [this](const http::Request& r) { return cluster(r); });
        router_.get("/v1/members", [this](const http::Request&) { return members(); });
        router_.get("/v1/coordinates", [this](const http::Request&) { return coordinates(); });
        router_.get("/v1/events", [this](const http::Request&) { return events(); });
        router_.get("/metrics", [this](const http::Request& r) { return metrics(r); });
    }

    base::Status start() {
        http::ServerConfig sc;
        sc.bind = a_.cfg_.http_addr;
        sc.token = a_.cfg_.http_token;
        // 200 scrapers, probes and status pages at once (issue 17's load test) fit; the agent's
        // open-file limit leaves 1,024 descriptors beside the RPC clients (agent.cpp).
        sc.max_connections = kHttpMaxConnections;
        sc.log = [this](const char* level, const std::string& msg) {
            auto lv = parse_log_level(level);
            a_.log_.log(lv ? *lv : LogLevel::Info, "agent.http", msg);
        };
        auto s = http::Server::start(a_.io_, sc, [this](const http::Request& r) { return router_.route(r); });
        if (!s)
            return s.error();
        server_ = std::move(*s);
        return base::ok_status();
    }
    void stop() {
        if (server_)
            server_->stop();
    }
    void stats(std::map<std::string, std::string>& out) const {
        if (!server_)
            return;
        const auto& c = server_->counters();
        out["http_connections"] = std::to_string(server_->connections());
        out["http_accepted"] = std::to_string(c.accepted);
        out["http_requests"] = std::to_string(c.requests);
        out["http_refused"] = std::to_string(c.refused_over_cap);
        out["http_evicted_idle"] = std::to_string(c.evicted_idle);
        out["http_unauthorized"] = std::to_string(c.unauthorized);
        out["http_rejected"] = std::to_string(c.rejected);
        out["http_timed_out"] = std::to_string(c.timed_out);
        out["http_write_stalled"] = std::to_string(c.write_stalled);
        out["http_stream_dropped"] = std::to_string(c.stream_dropped);
        out["http_handler_errors"] = std::to_string(c.handler_errors);
    }
    std::string bound() const {
        if (!server_)
            return "";
        const auto ep = server_->local_endpoint();
        return net::join_host_port(ep.address().to_string(), ep.port());
    }

  private:
    /// Why the agent is not serving, or "" when it is.
    std::string not_running() const {
        if (a_.shutting_down_)
            return "shutting down";
        if (!a_.node_)
            return "starting";
        switch (a_.node_->state()) {
        case serf::NodeState::Alive:
            return "";
        case serf::NodeState::Leaving:
            return "leaving the cluster";
        case serf::NodeState::Left:
            return "left the cluster";
        case serf::NodeState::Shutdown:
            return "shut down";
        }
        return "unknown state";
    }

    std::size_t alive_members() const {
        std::size_t n = 0;
        for (const auto& m : a_.node_->members())
            n += m.status == serf::MemberStatus::Alive ? 1 : 0;
        return n;
    }

    http::Response health() const {
        // The handler runs on the agent's one loop: answering at all means the loop turns.
        const std::string why = not_running();
        Json j{{"status", why.empty() ? "ok" : "unavailable"}, {"node", a_.cfg_.node_name}};
        if (!why.empty())
            j["reason"] = why;
        else
            j["members_alive"] = alive_members();
        // How late the loop has been running its timers (the same figures as `info`'s runtime).
        const auto& lag = a_.driver_->stats().loop_lag;
        j["loop_lag_p99_us"] = lag.quantile_us(0.99);
        j["loop_lag_max_us"] = lag.max_us();
        return json_response(j, why.empty() ? 200 : 503);
    }

    http::Response ready() const {
        std::string why = not_running();
        const bool wants_join = !a_.cfg_.start_join.empty() || !a_.cfg_.retry_join.empty();
        Json j{{"node", a_.cfg_.node_name}};
        if (why.empty()) {
            const auto alive = alive_members();
            j["members_alive"] = alive;
            if (a_.registry_) {
                const auto st = a_.registry_->status().state;
                j["datastore"] = discovery::state_name(st);
                if (st != discovery::StoreState::Up)
                    why = std::string("datastore ") + discovery::state_name(st) + " (" + a_.datastore_shown_ +
                          ")";
            }
            if (why.empty() && wants_join && alive < 2)
                why = "not joined yet (join configured, no other member alive)";
        }
        j["status"] = why.empty() ? "ready" : "not ready";
        if (!why.empty())
            j["reason"] = why;
        return json_response(j, why.empty() ? 200 : 503);
    }

    http::Response cluster(const http::Request& req) const {
        // Kong 0.x Admin API: {"data":[{"address","name","status"}],"total":N}, ?status= filter.
        const auto filter = req.query_param("status");
        Json data = Json::array();
        for (const auto& m : a_.members()) {
            if (filter && !filter->empty() && m.status != *filter)
                continue;
            data.push_back(Json{{"address", address_of(m)}, {"name", m.name}, {"status", m.status}});
        }
        const auto total = data.size();
        return json_response(Json{{"data", std::move(data)}, {"total", total}});
    }

    http::Response members() const {
        Json list = Json::array();
        for (const auto& m : a_.members())
            list.push_back(serf_member(m));
        return json_response(Json{{"members", std::move(list)}});
    }

    /// name -> estimated RTT from this node in milliseconds (members with a coordinate only).
    std::map<std::string, double> rtts() const {
        std::map<std::string, double> out;
        const auto self = a_.node_->local_coordinate();
        if (!self)
            return out;
        for (const auto& m : a_.node_->members()) {
            if (m.name == a_.node_->name())
                continue;
            if (auto c = a_.node_->coordinate_of(m.name); c && c->is_compatible_with(*self))
                out[m.name] = std::chrono::duration<double, std::milli>(self->distance_to(*c)).count();
        }
        return out;
    }

    http::Response coordinates() const {
        Json list = Json::array();
        const auto rtt = rtts();
        for (const auto& m : a_.node_->members()) {
            const bool self = m.name == a_.node_->name();
            auto c = self ? a_.node_->local_coordinate() : a_.node_->coordinate_of(m.name);
            if (!c)
                continue;
            Json j{{"name", m.name},
                   {"vec", c->vec},
                   {"error", c->error},
                   {"adjustment", c->adjustment},
                   {"height", c->height}};
            if (auto it = rtt.find(m.name); it != rtt.end())
                j["rtt_ms"] = it->second;
            else if (self)
                j["rtt_ms"] = 0.0;
            list.push_back(std::move(j));
        }
        return json_response(Json{{"self", a_.node_->name()}, {"coordinates", std::move(list)}});
    }

    http::Response events() {
        http::Response r;
        r.content_type = "text/event-stream; charset=utf-8";
        r.headers.emplace_back("X-Accel-Buffering", "no");
        std::weak_ptr<int> life = a_.alive_;
        Agent* agent = &a_;
        r.stream = [agent, life](std::shared_ptr<http::StreamSink> sink) -> std::function<void()> {
            sink->write("retry: 2000\n\n");
            const auto id = agent->subscribe_events([sink](const rpc::Event& e) {
                if (auto text = sse_record(e); !text.empty())
                    sink->write(text); // false: dropped for not keeping up; the close unsubscribes
            });
            return [agent, life, id] {
                if (!life.expired())
                    agent->unsubscribe(id);
            };
        };
        return r;
    }

    http::Response metrics(const http::Request& req) const {
        const auto* accept = req.header("accept");
        const bool om =
            accept != nullptr && accept->find("application/openmetrics-text") != std::string::npos;
        http::Response r;
        r.content_type = om ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                            : "text/plain; version=0.0.4; charset=utf-8";
        r.body = a_.metrics_text(om);
        return r;
    }

    http::Response page() const {
        auto members = a_.members();
        std::sort(members.begin(), members.end(),
                  [](const auto& x, const auto& y) { return x.name < y.name; });
        const auto rtt = rtts();
        std::map<std::string, int> counts;
        std::string rows;
        for (const auto& m : members) {
            ++counts[m.status];
            std::string tags;
            for (const auto& [k, v] : m.tags)
                tags += (tags.empty() ? "" : ", ") + k + "=" + v;
            std::string status_class;
            for (char c : m.status)
                if (c >= 'a' && c <= 'z')
                    status_class += c;
            const bool self = m.name == a_.node_->name();
            const auto it = rtt.find(m.name);
            rows += std::string("<tr") + (self ? " class=\"self\"" : "") + " data-name=\"" +
                    http::html_escape(m.name) + "\" data-status=\"" + http::html_escape(m.status) +
                    "\"><td>" + http::html_escape(m.name) + "</td><td>" + http::html_escape(address_of(m)) +
                    "</td><td><span class=\"st st-" + status_class + "\">" + http::html_escape(m.status) +
                    "</span></td><td class=\"tags\">" + http::html_escape(tags) + "</td><td class=\"rtt\">" +
                    (self              ? std::string("—")
                     : it != rtt.end() ? format_rtt(it->second)
                                       : std::string()) +
                    "</td></tr>\n";
        }
        std::string summary = std::to_string(members.size()) + " members: ";
        bool first = true;
        for (const auto& [status, n] : counts) {
            summary += (first ? "" : ", ") + std::to_string(n) + " " + status;
            first = false;
        }
        std::string html(reinterpret_cast<const char*>(kStatusPage), kStatusPage_size);
        html = replace_all(std::move(html), "{{ROWS}}", rows);
        html = replace_all(std::move(html), "{{SUMMARY}}", http::html_escape(summary));
        html = replace_all(std::move(html), "{{NODE}}", http::html_escape(a_.cfg_.node_name));
        http::Response r;
        r.content_type = "text/html; charset=utf-8";
        r.headers.emplace_back("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; "
                                                          "style-src 'unsafe-inline'; img-src 'self' data:");
        r.body = std::move(html);
        return r;
    }

    Agent& a_;
    http::Router router_;
    std::unique_ptr<http::Server> server_;
};

base::Status Agent::check_http() const {
    if (cfg_.http_addr.empty())
        return base::ok_status();
    http::ServerConfig sc;
    sc.bind = cfg_.http_addr;
    sc.token = cfg_.http_token;
    if (auto ep = http::Server::check_config(sc); !ep)
        return ep.error();
    return base::ok_status();
}

base::Status Agent::start_http() {
    if (cfg_.http_addr.empty())
        return base::ok_status();
    auto api = std::make_shared<HttpApi>(*this);
    if (auto st = api->start(); !st)
        return st.error();
    http_ = std::move(api);
    log_.info("agent", "HTTP listener on " + http_->bound() +
                           (cfg_.http_token.empty() ? " (loopback, no token)" : " (bearer token required)"));
    return base::ok_status();
}

void Agent::http_stats(std::map<std::string, std::string>& out) const {
    if (http_)
        http_->stats(out);
}

void Agent::stop_http() {
    if (http_)
        http_->stop();
}

} // namespace clusterd::agent
