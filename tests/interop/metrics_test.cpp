// Issue 17, the agent side of metrics: a real clusterd agent in a mixed cluster with a real serf
// agent pushes its metrics to a statsd listener (UDP) and a statsite listener (TCP) in this test,
// with go-metrics' keys, and the counters move by exactly what happened (5 user events fired at
// the serf agent -> serf.events.deploy grows by 5, never more); SIGUSR1 dumps the Prometheus text
// to the log, which the strict parser of tests/unit/metrics and `promtool check metrics` accept.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/cluster.hpp"
#include "support/ports.hpp"
#include "support/wait.hpp"
#include "unit/metrics/exposition_parser.hpp"

using namespace clusterd::testing;
using namespace std::chrono_literals;

namespace {

int bound_socket(int type, std::uint16_t port) {
    int fd = ::socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return -1;
    }
    if (type == SOCK_STREAM)
        ::listen(fd, 4);
    return fd;
}

/// Everything the statsd and statsite listeners received so far, as lines.
struct Listeners {
    int udp = -1, tcp = -1, conn = -1;
    std::vector<std::string> udp_lines;
    std::string tcp_text;
    std::size_t datagrams = 0, max_datagram = 0;

    void poll_once() {
        char buf[65536];
        while (true) {
            ssize_t n = ::recv(udp, buf, sizeof buf, 0);
            if (n <= 0)
                break;
            ++datagrams;
            max_datagram = std::max(max_datagram, static_cast<std::size_t>(n));
            std::string d(buf, static_cast<std::size_t>(n));
            std::size_t pos = 0;
            while (pos < d.size()) {
                auto nl = d.find('\n', pos);
                if (nl == std::string::npos)
                    nl = d.size();
                udp_lines.push_back(d.substr(pos, nl - pos));
                pos = nl + 1;
            }
        }
        if (conn < 0)
            conn = ::accept4(tcp, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (conn >= 0) {
            while (true) {
                ssize_t n = ::recv(conn, buf, sizeof buf, 0);
                if (n <= 0)
                    break;
                tcp_text.append(buf, static_cast<std::size_t>(n));
            }
        }
    }
    std::vector<std::string> tcp_lines() const {
        std::vector<std::string> out;
        std::size_t pos = 0;
        while (true) {
            auto nl = tcp_text.find('\n', pos);
            if (nl == std::string::npos)
                break;
            out.push_back(tcp_text.substr(pos, nl - pos));
            pos = nl + 1;
        }
        return out;
    }
    ~Listeners() {
        for (int fd : {udp, tcp, conn})
            if (fd >= 0)
                ::close(fd);
    }
};

/// Sum of the values of "key:value|type" lines with exactly this key and type.
double sum_of(const std::vector<std::string>& lines, const std::string& key, const std::string& type) {
    double s = 0;
    for (const auto& l : lines) {
        if (l.rfind(key + ":", 0) != 0)
            continue;
        auto bar = l.find('|');
        if (bar == std::string::npos || l.substr(bar + 1) != type)
            continue;
        s += std::stod(l.substr(key.size() + 1, bar - key.size() - 1));
    }
    return s;
}

bool any_line_starting(const std::vector<std::string>& lines, const std::string& prefix) {
    for (const auto& l : lines)
        if (l.rfind(prefix, 0) == 0)
            return true;
    return false;
}

} // namespace

TEST(MetricsAgent, StatsdStatsiteAndSigusr1DumpCountWhatHappened) {
    const auto udp_port = free_port("127.0.0.1");
    const auto tcp_port = free_port("127.0.0.1");
    Listeners ls;
    ls.udp = bound_socket(SOCK_DGRAM, udp_port);
    ls.tcp = bound_socket(SOCK_STREAM, tcp_port);
    ASSERT_GE(ls.udp, 0);
    ASSERT_GE(ls.tcp, 0);

    Cluster c("metrics");
    const std::string conf = c.dir() + "/metrics.json";
    {
        std::ofstream f(conf);
        f << R"({"statsd_addr": "127.0.0.1:)" << udp_port << R"(", "statsite_addr": "127.0.0.1:)" << tcp_port
          << R"(", "metrics_interval": "200ms"})";
    }
    auto& s1 = c.start(Kind::Serf, "s1");
    // a handler that fails on every deploy event: 5 runs, 5 failures
    auto& d1 = c.start(Kind::Clusterd, "d1",
                       {"-config-file=" + conf, "-event-handler=user:deploy=exit 3",
                        "-datastore=sqlite:" + c.dir() + "/nodes.db"},
                       &s1);
    ASSERT_TRUE(c.wait_all_alive({"s1", "d1"}, 30s)) << c.dump();

    for (int i = 0; i < 5; ++i) {
        // not coalesced, so the handler runs for each (serf.events counts coalesced ones too)
        auto r = c.serf_cli(s1, {"event", "-coalesce=false", "deploy", "v" + std::to_string(i)});
        ASSERT_EQ(r.exit_code, 0) << r.err;
    }
    // a name that needs escaping in the text formats and cleaning in statsd keys
    {
        auto r = c.serf_cli(s1, {"event", "-coalesce=false", "we\"ird\\na:me", "x"});
        ASSERT_EQ(r.exit_code, 0) << r.err;
    }
    const std::string events_key = "serf-agent.serf.events.deploy";
    ASSERT_TRUE(wait_until(
        [&] {
            ls.poll_once();
            return sum_of(ls.udp_lines, events_key, "c") >= 5 && sum_of(ls.tcp_lines(), events_key, "c") >= 5;
        },
        30s, 50ms))
        << "statsd: " << sum_of(ls.udp_lines, events_key, "c")
        << " statsite: " << sum_of(ls.tcp_lines(), events_key, "c") << "\n"
        << c.dump();
    // several more pushes: increments only, the total stays 5
    const std::size_t seen = ls.udp_lines.size();
    ASSERT_TRUE(wait_until(
        [&] {
            ls.poll_once();
            // and at least one probe finished (one a second), so its timer went out
            return ls.udp_lines.size() >= seen + 40 &&
                   any_line_starting(ls.udp_lines, "serf-agent.memberlist.probeNode:");
        },
        10s, 50ms));
    EXPECT_EQ(sum_of(ls.udp_lines, events_key, "c"), 5);
    EXPECT_EQ(sum_of(ls.tcp_lines(), events_key, "c"), 5);
    EXPECT_EQ(sum_of(ls.udp_lines, "serf-agent.serf.events", "c"), 6); // Serf's total key too
    EXPECT_EQ(sum_of(ls.udp_lines, "serf-agent.serf.events.we_ird_na_me", "c"), 1);
    EXPECT_EQ(sum_of(ls.udp_lines, "serf-agent.serf.member.join", "c"), 2); // s1 and d1
    EXPECT_EQ(sum_of(ls.tcp_lines(), "serf-agent.serf.member.join", "c"), 2);
    EXPECT_GT(sum_of(ls.udp_lines, "serf-agent.memberlist.msg.alive", "c"), 0);
    EXPECT_GT(sum_of(ls.udp_lines, "serf-agent.memberlist.udp.sent", "c"), 0);
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    EXPECT_TRUE(
        any_line_starting(ls.udp_lines, std::string("serf-agent.") + host + ".memberlist.health.score:"));
    EXPECT_TRUE(any_line_starting(ls.udp_lines, "serf-agent.memberlist.probeNode:"))
        << "a timer sample (|ms)";
    EXPECT_LE(ls.max_datagram, 1400u);

    auto handler_errors = [&] {
        const std::string log = d1.child.log(), needle = "Error invoking script 'exit 3': exit status 3";
        std::size_t n = 0;
        for (auto at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1))
            ++n;
        return n;
    };
    ASSERT_TRUE(wait_until([&] { return handler_errors() >= 5; }, 20s)) << c.dump();
    ASSERT_TRUE(d1.child.wait_log("datastore is reachable", 20s)) << c.dump();

    // SIGUSR1: the dump in the log, in the text format promtool reads
    ASSERT_EQ(::kill(d1.child.pid(), SIGUSR1), 0);
    ASSERT_TRUE(d1.child.wait_log("# end of metrics dump", 10s)) << c.dump();
    ASSERT_TRUE(d1.child.running()) << "SIGUSR1 must not stop the agent";
    const std::string log = d1.child.log();
    const std::string head = "Prometheus text format 0.0.4:\n";
    const auto b = log.rfind(head);
    const auto e = log.rfind("# end of metrics dump");
    ASSERT_TRUE(b != std::string::npos && e != std::string::npos && e > b);
    const std::string text = log.substr(b + head.size(), e - b - head.size());
    std::ofstream(c.dir() + "/metrics.prom") << text;

    ParsedExposition p;
    ASSERT_NO_THROW(p = parse_exposition(text, false)) << text;
    EXPECT_EQ(p.value("serf_events_total", {{"name", "deploy"}}), 5) << text;
    EXPECT_EQ(p.value("serf_events_total", {{"name", "we\"ird\\na:me"}}), 1) << text;
    EXPECT_EQ(p.value("serf_member_join_total"), 2);
    EXPECT_EQ(p.value("clusterd_store_state", {{"state", "up"}}), 1);
    EXPECT_EQ(p.value("clusterd_store_state", {{"state", "down"}}), 0);
    EXPECT_EQ(p.value("clusterd_members", {{"status", "alive"}}), 2);
    EXPECT_EQ(p.value("clusterd_members", {{"status", "failed"}}), 0);
    EXPECT_GT(p.value("memberlist_msg_alive_total"), 0);
    EXPECT_GT(p.value("memberlist_udp_received_bytes_total"), 0);
    EXPECT_GT(p.value("memberlist_probe_node_count"), 0);
    EXPECT_GT(p.value("process_resident_memory_bytes"), 1e6);
    EXPECT_GT(p.value("process_open_fds"), 3);
    EXPECT_GT(p.value("process_start_time_seconds"), 1.7e9);
    EXPECT_EQ(p.value("clusterd_handler_runs_total"), 5);
    EXPECT_EQ(p.value("clusterd_handler_failures_total"), 5);
    EXPECT_EQ(p.value("clusterd_handler_timeouts_total"), 0);
    EXPECT_EQ(p.value("clusterd_handler_duration_seconds_count"), 5);
    EXPECT_GE(p.value("clusterd_rpc_requests_total", {{"command", "members-filtered"}}),
              1); // wait_all_alive asked
    for (const char* fam : {"memberlist_msg_suspect_total",
                            "memberlist_msg_dead_total",
                            "memberlist_health_score",
                            "memberlist_push_pull_node",
                            "memberlist_gossip_total",
                            "memberlist_udp_sent_bytes_total",
                            "serf_member_left_total",
                            "serf_member_failed_total",
                            "serf_member_update_total",
                            "serf_member_reap_total",
                            "serf_queries_total",
                            "serf_queue_depth",
                            "serf_coordinate_adjustment_seconds",
                            "clusterd_messages_received_total",
                            "clusterd_decode_failures_total",
                            "clusterd_dropped_packets_total",
                            "clusterd_handler_runs_total",
                            "clusterd_handler_duration_seconds",
                            "clusterd_rpc_auth_failures_total",
                            "process_cpu_seconds_total"})
        EXPECT_NE(p.family(fam), nullptr) << fam;
    EXPECT_EQ(p.value("serf_queue_depth", {{"queue", "intent"}}) >= 0, true);

    auto r = run({"promtool", "check", "metrics"}, 30s, text);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err << "\n" << text;
}
