// The agent's metrics (docs/metrics.md): one metrics::Registry filled at scrape time from the
// counters the cores, the driver, the RPC server, the handler runner and the datastore registry
// keep; Agent::metrics_text for the HTTP listener, the statsd (UDP) and statsite (TCP) pushes
// every metrics_interval on the io_context, and the SIGUSR1 dump to the log. The process_*
// figures come from /proc here, never from the pure metrics module.
#include <asio.hpp>
#include <dirent.h>
#include <fstream>
#include <sstream>
#include <sys/resource.h>
#include <unistd.h>

#include "agent_impl.hpp"
#include "clusterd/base/version.hpp"
#include "clusterd/metrics/registry.hpp"

namespace clusterd::agent {

namespace {

// memberlist type bytes 0..13; 14 and 15 ("other") never both appear (see swim::Stats).
constexpr const char* kMsgTypeNames[] = {
    "ping", "indirect_ping", "ack",     "suspect", "alive",   "dead", "push_pull", "compound",
    "user", "compress",      "encrypt", "nack",    "has_crc", "err",  "unknown",   "other"};

bool is_decrypt_code(const std::string& code) {
    return code == "decrypt_failed" || code == "no_key" || code == "no_nonce" || code == "not_encrypted";
}

struct ProcStat {
    bool ok = false;
    double cpu_seconds = 0, start_time = 0, rss_bytes = 0, vsize_bytes = 0;
};

ProcStat read_proc_stat() {
    ProcStat p;
    std::ifstream f("/proc/self/stat");
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    // the command name (field 2) is in parentheses and may hold spaces: fields start after ')'
    const auto close = text.rfind(')');
    if (close == std::string::npos)
        return p;
    std::istringstream in(text.substr(close + 2));
    std::vector<std::string> fields; // fields[0] is field 3 (state)
    std::string tok;
    while (in >> tok && fields.size() < 30)
        fields.push_back(tok);
    if (fields.size() < 22)
        return p;
    const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
    p.cpu_seconds = (std::stod(fields[11]) + std::stod(fields[12])) / ticks; // utime, stime
    const double start_ticks = std::stod(fields[19]);                        // starttime
    p.vsize_bytes = std::stod(fields[20]);
    p.rss_bytes = std::stod(fields[21]) * page;
    std::ifstream st("/proc/stat");
    std::string line;
    while (std::getline(st, line)) {
        if (line.rfind("btime ", 0) == 0) {
            p.start_time = std::stod(line.substr(6)) + start_ticks / ticks;
            break;
        }
    }
    p.ok = true;
    return p;
}

double count_open_fds() {
    DIR* d = ::opendir("/proc/self/fd");
    if (!d)
        return 0;
    double n = 0;
    while (const dirent* e = ::readdir(d))
        if (e->d_name[0] != '.')
            n += 1;
    ::closedir(d);
    return n - 1; // the directory stream's own descriptor
}

} // namespace

/// The registry and the push sinks. Completion handlers hold a shared_ptr to this (rule 5).
struct AgentMetrics : std::enable_shared_from_this<AgentMetrics> {
    explicit AgentMetrics(asio::io_context& io) : timer(io), udp(io), tcp(io) {}

    metrics::Registry reg;
    metrics::StatsdOptions statsd_opts;
    metrics::StatsdState statsd_state, statsite_state;
    asio::steady_timer timer;

    asio::ip::udp::socket udp;
    std::optional<asio::ip::udp::endpoint> statsd_ep;
    std::size_t udp_in_flight = 0;

    asio::ip::tcp::socket tcp;
    std::optional<asio::ip::tcp::endpoint> statsite_ep;
    bool tcp_connected = false, tcp_busy = false;
    std::string tcp_pending; ///< lines waiting for the connection (bounded)
    bool stopped = false;
    std::uint64_t push_errors = 0, push_dropped = 0;

    // families (registered once; the registry keeps them in this order)
    metrics::Family *msg_alive, *msg_suspect, *msg_dead, *health, *probe, *push_pull, *gossip;
    metrics::Family *udp_sent, *udp_recv, *tcp_sent, *tcp_recv, *tcp_accept, *tcp_connect;
    metrics::Family *m_join, *m_left, *m_failed, *m_update, *m_reap, *events, *queries, *queue_depth,
        *coord_adj, *coord_rejected;
    metrics::Family *members, *msgs_in, *msgs_out, *bytes_in, *bytes_out, *packets_in, *packets_out;
    metrics::Family *decode_fail, *decrypt_fail, *dropped, *send_errors, *tcp_open, *loop_lag;
    metrics::Family *h_runs, *h_fail, *h_timeout, *h_dropped, *h_pending, *h_duration;
    metrics::Family *rpc_req, *rpc_auth_fail, *rpc_conns, *rpc_refused;
    metrics::Family *store_up, *store_registered, *store_live_rows, *store_joins, *store_skipped;
    metrics::Family *p_cpu, *p_rss, *p_vsize, *p_fds, *p_max_fds, *p_start, *info;

    void define() {
        using metrics::power_of_two_bounds;
        auto& r = reg;
        const std::size_t cap = serf::NameCounts::kMaxNames;
        // memberlist
        msg_alive =
            &r.counter("memberlist_msg_alive", "Alive messages that updated a member (memberlist.msg.alive).")
                 .statsd("memberlist.msg.alive");
        msg_suspect = &r.counter("memberlist_msg_suspect", "Members suspected (memberlist.msg.suspect).")
                           .statsd("memberlist.msg.suspect");
        msg_dead = &r.counter("memberlist_msg_dead",
                              "Dead or left messages that marked a member (memberlist.msg.dead).")
                        .statsd("memberlist.msg.dead");
        health = &r.gauge("memberlist_health_score",
                          "Lifeguard awareness score, 0 is healthy (memberlist.health.score).")
                      .statsd("memberlist.health.score");
        probe = &r.histogram("memberlist_probe_node",
                             "Seconds from a probe's ping to its ack or its end (memberlist.probeNode).",
                             power_of_two_bounds(7, 15))
                     .statsd("memberlist.probeNode", 1000);
        push_pull = &r.histogram("memberlist_push_pull_node",
                                 "Seconds from a push-pull request to its reply (memberlist.pushPullNode).",
                                 power_of_two_bounds(10, 14))
                         .statsd("memberlist.pushPullNode", 1000);
        gossip = &r.counter("memberlist_gossip", "Gossip rounds run (memberlist.gossip is their duration).")
                      .statsd("memberlist.gossip");
        udp_sent = &r.counter("memberlist_udp_sent_bytes", "UDP bytes sent (memberlist.udp.sent).")
                        .statsd("memberlist.udp.sent");
        udp_recv =
            &r.counter("memberlist_udp_received_bytes", "UDP bytes received (memberlist.udp.received).")
                 .statsd("memberlist.udp.received");
        tcp_sent = &r.counter("memberlist_tcp_sent_bytes", "TCP bytes sent (memberlist.tcp.sent).")
                        .statsd("memberlist.tcp.sent");
        tcp_recv = &r.counter("memberlist_tcp_received_bytes", "TCP bytes received.")
                        .statsd("memberlist.tcp.received");
        tcp_accept = &r.counter("memberlist_tcp_accept", "TCP streams accepted (memberlist.tcp.accept).")
                          .statsd("memberlist.tcp.accept");
        tcp_connect =
            &r.counter("memberlist_tcp_connect", "TCP streams opened to peers (memberlist.tcp.connect).")
                 .statsd("memberlist.tcp.connect");
        // serf
        m_join = &r.counter("serf_member_join", "Member join events (serf.member.join).")
                      .statsd("serf.member.join");
        m_left = &r.counter("serf_member_left", "Member leave events (serf.member.left).")
                      .statsd("serf.member.left");
        m_failed = &r.counter("serf_member_failed", "Member failed events (serf.member.failed).")
                        .statsd("serf.member.failed");
        m_update = &r.counter("serf_member_update", "Member update events (serf.member.update).")
                        .statsd("serf.member.update");
        m_reap =
            &r.counter("serf_member_reap", "Members reaped (serf.member.reap).").statsd("serf.member.reap");
        events = &r.counter("serf_events",
                            "New user events, by name; at most " + std::to_string(cap) +
                                " names, the rest as name=\"other\" (serf.events.<name>).",
                            {"name"})
                      .statsd("serf.events")
                      .statsd_total()
                      .cap("name", cap);
        queries = &r.counter("serf_queries",
                             "New queries, by name; at most " + std::to_string(cap) +
                                 " names, the rest as name=\"other\" (serf.queries.<name>).",
                             {"name"})
                       .statsd("serf.queries")
                       .statsd_total()
                       .cap("name", cap);
        queue_depth =
            &r.gauge("serf_queue_depth", "Broadcasts waiting, by queue (serf.queue.<Queue>).", {"queue"})
                 .statsd("serf.queue");
        coord_adj = &r.histogram("serf_coordinate_adjustment_seconds",
                                 "How far each accepted coordinate update moved our coordinate "
                                 "(serf.coordinate.adjustment-ms, in ms there).",
                                 power_of_two_bounds(3, 18))
                         .statsd("serf.coordinate.adjustment-ms", 1000);
        coord_rejected =
            &r.counter("serf_coordinate_rejected", "Coordinates refused (serf.coordinate.rejected).")
                 .statsd("serf.coordinate.rejected");
        // clusterd
        members = &r.gauge("clusterd_members", "Members known to this node, by status.", {"status"});
        msgs_in = &r.counter("clusterd_messages_received", "Plaintext memberlist messages received, by type.",
                             {"type"});
        msgs_out =
            &r.counter("clusterd_messages_sent", "Plaintext memberlist messages sent, by type.", {"type"});
        bytes_in =
            &r.counter("clusterd_message_received_bytes", "Bytes of messages received, by type.", {"type"});
        bytes_out = &r.counter("clusterd_message_sent_bytes", "Bytes of messages sent, by type.", {"type"});
        packets_in =
            &r.counter("clusterd_packets_received", "UDP packets and TCP streams received.", {"transport"});
        packets_out = &r.counter("clusterd_packets_sent", "UDP packets and TCP streams sent.", {"transport"});
        decode_fail = &r.counter("clusterd_decode_failures",
                                 "Input that did not decode, by layer and reason.", {"layer", "reason"})
                           .cap("reason", 32);
        decrypt_fail = &r.counter("clusterd_decrypt_failures",
                                  "Packets and streams that did not decrypt, by reason.", {"reason"})
                            .cap("reason", 32);
        dropped =
            &r.counter("clusterd_dropped_packets", "Packets and streams dropped, by reason.", {"reason"})
                 .cap("reason", 48);
        send_errors = &r.counter("clusterd_send_errors", "Sends the socket refused.");
        tcp_open = &r.gauge("clusterd_tcp_streams_open", "Incoming gossip TCP streams open.");
        loop_lag =
            &r.histogram("clusterd_loop_lag_seconds", "How late the protocol timer ran after its deadline.",
                         power_of_two_bounds(6, 16))
                 .statsd("clusterd.loop.lag", 1000);
        h_runs = &r.counter("clusterd_handler_runs", "Event handler scripts finished.");
        h_fail = &r.counter("clusterd_handler_failures",
                            "Handler scripts that did not exit 0 (timeouts and spawn failures included).");
        h_timeout = &r.counter("clusterd_handler_timeouts", "Handler scripts killed at handler_timeout.");
        h_dropped =
            &r.counter("clusterd_handler_dropped", "Handler runs refused because the queue was full.");
        h_pending = &r.gauge("clusterd_handlers_pending", "Handler runs queued or running.");
        h_duration = &r.histogram("clusterd_handler_duration_seconds", "Handler script run time.",
                                  power_of_two_bounds(10, 17))
                          .statsd("agent.invoke", 1000);
        rpc_req = &r.counter("clusterd_rpc_requests", "RPC requests, by command.", {"command"})
                       .statsd("agent.ipc.command")
                       .statsd_total()
                       .cap("command", 48);
        rpc_auth_fail = &r.counter("clusterd_rpc_auth_failures", "RPC auth requests with a wrong token.");
        rpc_conns = &r.gauge("clusterd_rpc_connections", "RPC connections open.");
        rpc_refused = &r.counter("clusterd_rpc_refused", "RPC connections refused or evicted at the cap.");
        store_up = &r.gauge("clusterd_store_state",
                            "Datastore state: 1 for the current one (unknown, up, down).", {"state"});
        store_registered = &r.gauge("clusterd_store_registered", "1 when this node's row is written.");
        store_live_rows = &r.gauge("clusterd_store_live_rows", "Live rows in the last datastore listing.");
        store_joins = &r.counter("clusterd_store_joins_started", "Joins started from datastore rows.");
        store_skipped =
            &r.counter("clusterd_store_rows_skipped", "Corrupt or incompatible datastore rows seen.");
        p_cpu = &r.counter("process_cpu_seconds", "User and system CPU time spent, seconds.");
        p_rss = &r.gauge("process_resident_memory_bytes", "Resident memory size, bytes.");
        p_vsize = &r.gauge("process_virtual_memory_bytes", "Virtual memory size, bytes.");
        p_fds = &r.gauge("process_open_fds", "Open file descriptors.");
        p_max_fds = &r.gauge("process_max_fds", "The open file descriptor limit.");
        p_start = &r.gauge("process_start_time_seconds",
                           "Start time of the process since the Unix epoch, seconds.");
        info = &r.gauge("clusterd_build_info", "Always 1; the version in a label.", {"version"});
    }

    void push_statsd() {
        if (!statsd_ep || stopped)
            return;
        auto lines = metrics::encode_statsd(reg, statsd_opts, statsd_state);
        for (auto& d : metrics::pack_datagrams(lines, 1400)) {
            if (udp_in_flight >= 256) {
                ++push_dropped;
                continue;
            }
            auto buf = std::make_shared<std::string>(std::move(d));
            ++udp_in_flight;
            udp.async_send_to(asio::buffer(*buf), *statsd_ep,
                              [self = shared_from_this(), buf](const std::error_code& ec, std::size_t) {
                                  --self->udp_in_flight;
                                  if (ec)
                                      ++self->push_errors;
                              });
        }
    }

    void push_statsite() {
        if (!statsite_ep || stopped)
            return;
        std::string text;
        for (const auto& l : metrics::encode_statsd(reg, statsd_opts, statsite_state))
            text += l;
        if (tcp_pending.size() + text.size() > (1u << 20)) {
            ++push_dropped; // the collector is not reading: keep at most 1 MiB
        } else {
            tcp_pending += text;
        }
        if (!tcp_connected) {
            if (tcp_busy)
                return;
            tcp_busy = true;
            tcp.async_connect(*statsite_ep, [self = shared_from_this()](const std::error_code& ec) {
                self->tcp_busy = false;
                if (self->stopped)
                    return;
                if (ec) {
                    ++self->push_errors;
                    std::error_code ignored;
                    self->tcp.close(ignored);
                    return; // retried at the next push
                }
                self->tcp_connected = true;
                self->flush_tcp();
            });
            return;
        }
        flush_tcp();
    }

    void flush_tcp() {
        if (tcp_busy || tcp_pending.empty() || !tcp_connected)
            return;
        tcp_busy = true;
        auto buf = std::make_shared<std::string>(std::move(tcp_pending));
        tcp_pending.clear();
        asio::async_write(tcp, asio::buffer(*buf),
                          [self = shared_from_this(), buf](const std::error_code& ec, std::size_t) {
                              self->tcp_busy = false;
                              if (self->stopped)
                                  return;
                              if (ec) {
                                  ++self->push_errors;
                                  self->tcp_connected = false;
                                  std::error_code ignored;
                                  self->tcp.close(ignored);
                                  return;
                              }
                              self->flush_tcp();
                          });
    }

    void stop() {
        stopped = true;
        timer.cancel();
        std::error_code ignored;
        udp.close(ignored);
        tcp.close(ignored);
    }
};

void Agent::collect_metrics() {
    auto& m = *metrics_;
    const auto& es = node_->endpoint().stats();
    const auto& ns = node_->stats();
    const auto g = node_->gauges();
    const auto& ds = driver_->stats();
    auto d = [](auto v) { return static_cast<double>(v); };

    m.msg_alive->sync(d(es.msg_alive));
    m.msg_suspect->sync(d(es.msg_suspect));
    m.msg_dead->sync(d(es.msg_dead));
    m.health->set(node_->endpoint().health_score());
    m.probe->set_latency({}, es.probe_time);
    m.push_pull->set_latency({}, es.push_pull_time);
    m.gossip->sync(d(es.gossip_rounds));
    m.udp_sent->sync(d(ds.udp_bytes_out));
    m.udp_recv->sync(d(ds.udp_bytes_in));
    m.tcp_sent->sync(d(ds.tcp_bytes_out));
    m.tcp_recv->sync(d(ds.tcp_bytes_in));
    m.tcp_accept->sync(d(ds.tcp_in));
    m.tcp_connect->sync(d(ds.tcp_out));

    m.m_join->sync(d(ns.member_join));
    m.m_left->sync(d(ns.member_left));
    m.m_failed->sync(d(ns.member_failed));
    m.m_update->sync(d(ns.member_update));
    m.m_reap->sync(d(ns.member_reap));
    // one source per series: names past the core's cap, and an event really named "other",
    // share the series name="other"
    auto by_name = [&](metrics::Family& f, const serf::NameCounts& counts) {
        std::map<std::string, std::uint64_t> folded = counts.by_name;
        if (counts.other > 0)
            folded[std::string(metrics::kOtherLabelValue)] += counts.other;
        for (const auto& [name, n] : folded)
            f.sync({name}, d(n));
    };
    by_name(*m.events, ns.user_events_by_name);
    by_name(*m.queries, ns.queries_by_name);
    m.queue_depth->set({"intent"}, d(g.intent_queue));
    m.queue_depth->set({"event"}, d(g.event_queue));
    m.queue_depth->set({"query"}, d(g.query_queue));
    m.coord_adj->set_latency({}, ns.coordinate_adjustment);
    m.coord_rejected->sync(d(ns.coordinate_rejected));

    std::map<std::string, double> by_status{{"alive", 0}, {"leaving", 0}, {"left", 0}, {"failed", 0}};
    for (const auto& mem : node_->members())
        by_status[serf::status_name(mem.status)] += 1;
    for (const auto& [s, n] : by_status)
        m.members->set({s}, n);
    for (std::size_t t = 0; t < es.msgs_in.size(); ++t) {
        if (es.msgs_in[t] == 0 && es.msgs_out[t] == 0)
            continue;
        const std::string type = kMsgTypeNames[t];
        m.msgs_in->sync({type}, d(es.msgs_in[t]));
        m.msgs_out->sync({type}, d(es.msgs_out[t]));
        m.bytes_in->sync({type}, d(es.msg_bytes_in[t]));
        m.bytes_out->sync({type}, d(es.msg_bytes_out[t]));
    }
    m.packets_in->sync({"udp"}, d(ds.udp_in));
    m.packets_in->sync({"tcp"}, d(ds.tcp_in));
    m.packets_out->sync({"udp"}, d(ds.udp_out));
    m.packets_out->sync({"tcp"}, d(ds.tcp_out));
    for (const auto& [code, n] : ds.drops) {
        m.dropped->sync({code}, d(n));
        if (is_decrypt_code(code))
            m.decrypt_fail->sync({code}, d(n));
        else
            m.decode_fail->sync({"envelope", code}, d(n));
    }
    m.dropped->sync({"duplicate"}, d(es.duplicates));
    m.dropped->sync({"wrong_node"}, d(es.pings_wrong_node));
    m.dropped->sync({"tcp_refused"}, d(ds.tcp_refused + ds.tcp_refused_per_ip));
    m.dropped->sync({"tcp_evicted"}, d(ds.tcp_evicted + ds.tcp_buffer_evicted));
    m.dropped->sync({"tcp_header_timeout"}, d(ds.tcp_header_timeouts));
    m.dropped->sync({"event_queue_full"}, d(ns.events_dropped));
    m.dropped->sync({"user_event_too_old"}, d(ns.user_events_old));
    m.dropped->sync({"intent_broadcast_pruned"}, d(ns.intent_broadcasts_pruned));
    m.dropped->sync({"event_broadcast_pruned"}, d(ns.event_broadcasts_pruned));
    m.dropped->sync({"query_broadcast_pruned"}, d(ns.query_broadcasts_pruned));
    m.decode_fail->sync({"memberlist", "malformed"}, d(es.malformed));
    m.decode_fail->sync({"memberlist", "unexpected"}, d(es.unexpected));
    m.decode_fail->sync({"serf", "malformed"}, d(ns.malformed_messages));
    m.send_errors->sync(d(ds.send_errors));
    m.tcp_open->set(d(ds.tcp_open));
    m.loop_lag->set_latency({}, ds.loop_lag);

    if (runner_) {
        const auto& rs = runner_->stats();
        m.h_runs->sync(d(runner_->completed()));
        m.h_fail->sync(d(rs.failed));
        m.h_timeout->sync(d(rs.timed_out));
        m.h_dropped->sync(d(runner_->dropped()));
        m.h_pending->set(d(runner_->pending()));
        m.h_duration->set_latency({}, rs.duration);
    }
    if (rpc_) {
        const auto t = rpc_->session_totals();
        for (const auto& [cmd, n] : t.by_command)
            m.rpc_req->sync({cmd}, d(n));
        m.rpc_auth_fail->sync(d(t.auth_failures));
        m.rpc_conns->set(d(rpc_->connections()));
        m.rpc_refused->sync(d(rpc_->counters().refused_over_cap + rpc_->counters().evicted));
    }
    if (registry_) {
        const auto& st = registry_->status();
        for (auto s :
             {discovery::StoreState::Unknown, discovery::StoreState::Up, discovery::StoreState::Down})
            m.store_up->set({discovery::state_name(s)}, st.state == s ? 1 : 0);
        m.store_registered->set(st.registered ? 1 : 0);
        m.store_live_rows->set(d(st.live_rows));
        m.store_joins->sync(d(st.joins_started));
        m.store_skipped->sync(d(st.rows_skipped));
    }
    if (auto p = read_proc_stat(); p.ok) {
        m.p_cpu->sync(p.cpu_seconds);
        m.p_rss->set(p.rss_bytes);
        m.p_vsize->set(p.vsize_bytes);
        m.p_start->set(p.start_time);
    }
    m.p_fds->set(count_open_fds());
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        m.p_max_fds->set(d(rl.rlim_cur));
    m.info->set({std::string(base::version())}, 1);
}

std::string Agent::metrics_text(bool openmetrics) {
    if (!metrics_ || !node_ || !driver_)
        return openmetrics ? "# EOF\n" : "";
    collect_metrics();
    return openmetrics ? metrics::render_openmetrics(metrics_->reg)
                       : metrics::render_prometheus(metrics_->reg);
}

void Agent::start_metrics() {
    metrics_ = std::make_shared<AgentMetrics>(io_);
    metrics_->define();
    auto& m = *metrics_;
    if (cfg_.statsd_addr.empty() && cfg_.statsite_addr.empty())
        return;
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0)
        m.statsd_opts.hostname = host; // go-metrics puts the host name into gauge keys when a sink is set
    // A numeric address (or localhost) is used at once; a host name is resolved off the loop by
    // asio's resolver and the sink starts when the answer comes (go-metrics dials the name).
    auto use = [this](bool udp, const asio::ip::address& ip, std::uint16_t port) {
        auto& mm = *metrics_;
        if (udp) {
            std::error_code ec;
            mm.statsd_ep = asio::ip::udp::endpoint(ip, port);
            mm.udp.open(mm.statsd_ep->protocol(), ec);
            if (ec) {
                log_.warn("agent",
                          "statsd_addr '" + cfg_.statsd_addr + "': " + ec.message() + "; statsd disabled");
                mm.statsd_ep.reset();
            }
        } else {
            mm.statsite_ep = asio::ip::tcp::endpoint(ip, port);
        }
    };
    for (bool udp : {true, false}) {
        const std::string& addr = udp ? cfg_.statsd_addr : cfg_.statsite_addr;
        const char* key = udp ? "statsd_addr" : "statsite_addr";
        if (addr.empty())
            continue;
        if (auto ep = rpc::parse_endpoint(addr)) {
            use(udp, ep->address(), ep->port());
            continue;
        }
        const auto colon = addr.rfind(':');
        if (colon == std::string::npos || colon == 0 || addr[0] == '[') {
            log_.warn("agent", std::string(key) + " '" + addr + "': expected host:port; disabled");
            continue;
        }
        auto resolver = std::make_shared<asio::ip::tcp::resolver>(io_);
        std::weak_ptr<int> alive = alive_;
        resolver->async_resolve(
            addr.substr(0, colon), addr.substr(colon + 1),
            [this, alive, resolver, udp, key, addr, use](const std::error_code& ec,
                                                         asio::ip::tcp::resolver::results_type res) {
                if (alive.expired() || !metrics_ || metrics_->stopped)
                    return;
                if (ec || res.empty()) {
                    log_.warn("agent", std::string(key) + " '" + addr + "': " +
                                           (ec ? ec.message() : std::string("no address")) + "; disabled");
                    return;
                }
                use(udp, res.begin()->endpoint().address(), res.begin()->endpoint().port());
            });
    }
    metrics_tick();
}

void Agent::metrics_tick() {
    auto m = metrics_;
    if (!m || m->stopped)
        return;
    m->timer.expires_after(cfg_.metrics_interval);
    std::weak_ptr<int> alive = alive_;
    m->timer.async_wait([this, m, alive](const std::error_code& ec) {
        if (ec || alive.expired() || m->stopped || shutting_down_)
            return;
        collect_metrics();
        m->push_statsd();
        m->push_statsite();
        metrics_tick();
    });
}

void Agent::stop_metrics() {
    if (!metrics_)
        return;
    // one last push, as go-metrics' sinks flush what they hold on shutdown
    if (node_ && driver_ && !metrics_->stopped) {
        collect_metrics();
        metrics_->push_statsd();
    }
    metrics_->stop();
}

void Agent::dump_metrics() {
    const std::string text = metrics_text(false);
    log_.info("agent",
              "metrics dump (SIGUSR1), Prometheus text format 0.0.4:\n" + text + "# end of metrics dump");
}

} // namespace clusterd::agent
