// Issue 13: clusterd and a real `serf agent` on separate hosts of a netlab (network namespaces,
// 10.201.0.0/16, every agent bound to 0.0.0.0:7946 as Kong ran them). One cell per way Serf is
// started: without -advertise (it then gossips its own address as IPv4-mapped IPv6, 16 bytes)
// and with -advertise. In each cell: membership, user events (timed), queries, reachability,
// key install/use/remove, failure detection timed against a serf-only cluster measured at the
// same time in a second lab, force-leave -prune, and a 45 s link-down partition and its heal.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "lab_cluster.hpp"

using namespace clusterd::testing;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {
const char* kK1 = "kPjXbONy/RArsCdG0LTOCQ==";
const char* kK2 = "QHOYjmYlxSCBhdfiolhtDQ==";

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

/// Seconds from now until each observer reports `victim` failed (NaN if not within `limit`).
std::vector<double> time_to_failed(LabCluster& c, const std::vector<LabAgent*>& observers,
                                   const std::string& victim, Clock::time_point t0,
                                   std::chrono::seconds limit) {
    std::vector<double> out(observers.size(), std::nan(""));
    std::size_t left = observers.size();
    while (left > 0 && Clock::now() - t0 < limit) {
        for (std::size_t i = 0; i < observers.size(); ++i) {
            if (!std::isnan(out[i]))
                continue;
            auto s = c.statuses(*observers[i]);
            auto it = s.find(victim);
            if (it != s.end() && it->second == "failed") {
                out[i] = seconds_since(t0);
                --left;
            }
        }
        std::this_thread::sleep_for(50ms);
    }
    return out;
}

double mean(const std::vector<double>& v) {
    double s = 0;
    for (double x : v)
        s += x;
    return v.empty() ? std::nan("") : s / static_cast<double>(v.size());
}

std::string fmt(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.2f", v);
    return b;
}

/// A recording handler: appends "<name> <monotonic seconds>" to <dir>/<kind>.events.
std::string recorder(const std::string& dir) {
    const std::string path = dir + "/record.sh";
    std::ofstream(path) << "#!/bin/sh\ncat >/dev/null\n"
                           "echo \"$SERF_SELF_NAME $(cut -d' ' -f1 /proc/uptime)\" >> \"" +
                               dir + "/$SERF_USER_EVENT.events\"\n";
    std::filesystem::permissions(path, std::filesystem::perms::owner_all);
    const std::string q = dir + "/answer.sh";
    std::ofstream(q) << "#!/bin/sh\ncat >/dev/null\necho \"pong from $SERF_SELF_NAME\"\n";
    std::filesystem::permissions(q, std::filesystem::perms::owner_all);
    return path;
}

double uptime_now() {
    std::ifstream in("/proc/uptime");
    double u = 0;
    in >> u;
    return u;
}

std::map<std::string, double> event_times(const std::string& file) {
    std::map<std::string, double> out;
    std::ifstream in(file);
    std::string name;
    double t = 0;
    while (in >> name >> t)
        out.emplace(name, t);
    return out;
}

/// A 4-host serf-only cluster in its own lab: the reference failure-detection figure.
struct SerfOnly {
    netlab::Lab lab{netlab::Options{.hosts = 4, .ipv4 = true, .ipv6 = false, .ipv6_only = {}}};
    LabCluster c{lab, "lab-serfonly"};
    std::vector<double> times; ///< per observer and round
    void start(bool advertise) {
        for (int h = 0; h < 4; ++h) {
            std::vector<std::string> extra{"-encrypt=" + std::string(kK1)};
            if (advertise)
                extra.push_back("-advertise=" + lab.ipv4(h) + ":7946");
            if (h > 0)
                extra.push_back("-join=" + lab.ipv4(0));
            c.start(Kind::Serf, "r" + std::to_string(h), h, extra);
        }
    }
};

class SerfMatrix : public ::testing::TestWithParam<bool> {};

} // namespace

TEST_P(SerfMatrix, MixedClusterOnRealAddresses) {
    const auto why = netlab::unavailable_reason();
    ASSERT_TRUE(why.empty()) << why;
    const bool serf_advertise = GetParam();
    const auto test_start = Clock::now();

    netlab::Lab lab({.hosts = 4, .ipv4 = true, .ipv6 = false, .ipv6_only = {}});
    LabCluster c(lab, serf_advertise ? "lab-serf-adv" : "lab-serf-noadv");
    const std::string rec = recorder(c.dir());
    const std::vector<std::string> handlers{"-event-handler=user=" + rec,
                                            "-event-handler=query:ping=" + c.dir() + "/answer.sh"};

    // Serf on h0, as Kong ran it: 0.0.0.0:7946, with or without -advertise.
    std::vector<std::string> serf_extra{"-encrypt=" + std::string(kK1)};
    if (serf_advertise)
        serf_extra.push_back("-advertise=" + lab.ipv4(0) + ":7946");
    serf_extra.insert(serf_extra.end(), handlers.begin(), handlers.end());
    auto& s0 = c.start(Kind::Serf, "s0", 0, serf_extra);
    std::vector<LabAgent*> cds;
    for (int h = 1; h < 4; ++h) {
        std::vector<std::string> extra{"-encrypt=" + std::string(kK1), "-join=" + lab.ipv4(0)};
        extra.insert(extra.end(), handlers.begin(), handlers.end());
        cds.push_back(&c.start(Kind::Clusterd, "c" + std::to_string(h), h, extra));
    }
    auto& c1 = *cds[0];
    auto& c2 = *cds[1];
    auto& c3 = *cds[2];

    // Reference cluster, started now so it has settled when the failure cell runs.
    SerfOnly ref;
    ref.start(serf_advertise);

    // --- membership: everyone alive everywhere, each at its lab address.
    ASSERT_TRUE(c.wait_all_alive({"s0", "c1", "c2", "c3"}, 30s)) << c.dump();
    {
        auto j = c.members_json(c1);
        for (const auto& m : j["members"]) {
            const std::string name = m.value("name", "");
            const std::string addr = m.value("addr", "");
            const int host = name == "s0" ? 0 : name[1] - '0';
            EXPECT_EQ(addr, lab.ipv4(host) + ":7946") << name;
        }
    }
    // The serf node must be reachable over UDP from clusterd: no "other probes failed" at serf
    // for clusterd targets, and clusterd sent no packet that failed.
    std::this_thread::sleep_for(5s); // several probe rounds
    EXPECT_EQ(s0.child.log().find("but other probes failed"), std::string::npos) << c.dump();
    for (auto* a : cds)
        EXPECT_EQ(a->child.log().find("udp send to"), std::string::npos) << a->name << c.dump();
    // Gossip carries each address as its owner announced it (16 bytes for this serf without
    // -advertise): a rewritten copy would be an address conflict at memberlist or at clusterd.
    EXPECT_EQ(s0.child.log().find("Conflicting address"), std::string::npos) << c.dump();
    for (auto* a : cds)
        EXPECT_EQ(a->child.log().find("Name conflict"), std::string::npos) << a->name << c.dump();

    // --- user events, both directions, timed (not coalesced).
    for (auto [via, ev] : {std::pair<LabAgent*, std::string>{&c1, "from-clusterd"}, {&s0, "from-serf"}}) {
        const double t0 = uptime_now();
        auto r = c.serf_cli(*via, {"event", "-coalesce=false", ev, "payload"});
        ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
        const std::string file = c.dir() + "/" + ev + ".events";
        EXPECT_TRUE(wait_until([&] { return event_times(file).size() == 4; }, 15s)) << ev << c.dump();
        for (const auto& [name, t] : event_times(file)) {
            RecordProperty("event_" + ev + "_" + name + "_s", fmt(t - t0));
            EXPECT_LT(t - t0, 3.0) << ev << " reached " << name << " late";
        }
    }

    // --- queries and reachability from both kinds: every node acks and answers.
    for (auto* via : {&s0, &c1}) {
        auto r = c.serf_cli(*via, {"query", "-format=json", "-timeout=5s", "ping", "x"}, 20s);
        ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
        auto j = nlohmann::json::parse(r.out, nullptr, false);
        ASSERT_FALSE(j.is_discarded()) << r.out;
        EXPECT_EQ(j["Acks"].size(), 4u) << via->name << ": " << r.out;
        EXPECT_EQ(j["Responses"].size(), 4u) << via->name << ": " << r.out;
        auto reach = c.serf_cli(*via, {"reachability"}, 20s);
        EXPECT_NE(reach.out.find("Successfully contacted all live nodes"), std::string::npos)
            << via->name << ": " << reach.out << reach.err << c.dump();
    }

    // --- keys: install through clusterd, use through serf, remove through clusterd: 4/4 each.
    {
        auto in = c.serf_cli(c1, {"keys", "-install=" + std::string(kK2)}, 20s);
        EXPECT_EQ(in.exit_code, 0) << in.out << in.err;
        auto use = c.serf_cli(s0, {"keys", "-use=" + std::string(kK2)}, 20s);
        EXPECT_EQ(use.exit_code, 0) << use.out << use.err;
        auto rm = c.serf_cli(c2, {"keys", "-remove=" + std::string(kK1)}, 20s);
        EXPECT_EQ(rm.exit_code, 0) << rm.out << rm.err;
        auto list = c.serf_cli(s0, {"keys", "-list"}, 20s);
        const auto at = list.out.find(kK2);
        ASSERT_NE(at, std::string::npos) << list.out << list.err;
        const auto line = list.out.substr(at, list.out.find('\n', at) - at);
        EXPECT_NE(line.find("[4/4]"), std::string::npos) << list.out;
        EXPECT_EQ(list.out.find(kK1), std::string::npos) << list.out;
        // The cluster still gossips on the new key; a restarted node must bring it.
        EXPECT_TRUE(c.wait_all_alive({"s0", "c1", "c2", "c3"}, 15s)) << c.dump();
        for (auto& arg : c3.argv)
            if (arg == "-encrypt=" + std::string(kK1))
                arg = "-encrypt=" + std::string(kK2);
    }

    // --- failure detection: kill -9 a clusterd node here and a serf node in the reference
    // cluster at the same moment; observers: serf s0 and clusterd c1 here, r0..r2 there.
    ASSERT_TRUE(ref.c.wait_all_alive({"r0", "r1", "r2", "r3"}, 30s)) << ref.c.dump();
    std::vector<double> mixed_serf, mixed_cd, reference;
    for (int round = 0; round < 2; ++round) {
        if (round > 0) {
            c.restart(c3);
            ref.c.restart(ref.c.agent("r3"));
            ASSERT_TRUE(c.wait_all_alive({"s0", "c1", "c2", "c3"}, 40s)) << c.dump();
            ASSERT_TRUE(ref.c.wait_all_alive({"r0", "r1", "r2", "r3"}, 40s)) << ref.c.dump();
            std::this_thread::sleep_for(3s);
        }
        const auto t0 = Clock::now();
        c3.child.kill9();
        ref.c.agent("r3").child.kill9();
        auto ref_fut = std::async(std::launch::async, [&] {
            return time_to_failed(ref.c, {&ref.c.agent("r0"), &ref.c.agent("r1"), &ref.c.agent("r2")}, "r3",
                                  t0, 60s);
        });
        auto mine = time_to_failed(c, {&s0, &c1}, "c3", t0, 60s);
        auto theirs = ref_fut.get();
        ASSERT_FALSE(std::isnan(mine[0])) << "serf never saw c3 fail" << c.dump();
        ASSERT_FALSE(std::isnan(mine[1])) << "clusterd never saw c3 fail" << c.dump();
        for (double t : theirs)
            ASSERT_FALSE(std::isnan(t)) << ref.c.dump();
        std::printf(
            "[ lab ] round %d: serf observer %.2f s, clusterd observer %.2f s; serf-only %.2f %.2f %.2f s\n",
            round, mine[0], mine[1], theirs[0], theirs[1], theirs[2]);
        mixed_serf.push_back(mine[0]);
        mixed_cd.push_back(mine[1]);
        reference.insert(reference.end(), theirs.begin(), theirs.end());
    }
    const double ref_s = mean(reference), serf_s = mean(mixed_serf), cd_s = mean(mixed_cd);
    RecordProperty("detect_serf_only_s", fmt(ref_s));
    RecordProperty("detect_mixed_serf_observer_s", fmt(serf_s));
    RecordProperty("detect_mixed_clusterd_observer_s", fmt(cd_s));
    std::printf(
        "[ lab ] failure detection (mean of 2 rounds): serf-only %.2f s, mixed: serf observer %.2f s, "
        "clusterd observer %.2f s\n",
        ref_s, serf_s, cd_s);
    // 1.2x the reference, plus the 0.05-0.3 s it takes to poll the observers once.
    EXPECT_LE(serf_s, 1.2 * ref_s + 0.3) << c.dump();
    EXPECT_LE(cd_s, 1.2 * ref_s + 0.3) << c.dump();

    // --- force-leave -prune through clusterd: c3 disappears from every member list.
    {
        auto r = c.serf_cli(c1, {"force-leave", "-prune", "c3"});
        EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
        for (auto* via : {&s0, &c1, &c2})
            EXPECT_TRUE(wait_until([&] { return c.statuses(*via).count("c3") == 0; }, 15s))
                << via->name << " still lists c3" << c.dump();
    }

    // --- partition: c2's link down for 45 s, then up; everyone alive again.
    lab.link_down(2);
    const auto cut = Clock::now();
    EXPECT_TRUE(c.wait_status(s0, "c2", "failed", 40s)) << c.dump();
    EXPECT_TRUE(c.wait_status(c1, "c2", "failed", 40s)) << c.dump();
    EXPECT_TRUE(c.wait_status(c2, "s0", "failed", 40s)) << c.dump();
    std::this_thread::sleep_for(45s - (Clock::now() - cut));
    lab.link_up(2);
    const auto healed = Clock::now();
    EXPECT_TRUE(c.wait_all_alive({"s0", "c1", "c2"}, 75s)) << c.dump();
    RecordProperty("heal_s", fmt(seconds_since(healed)));
    std::printf("[ lab ] partition healed in %.1f s; cell took %.0f s\n", seconds_since(healed),
                seconds_since(test_start));
}

INSTANTIATE_TEST_SUITE_P(SerfBinding, SerfMatrix, ::testing::Values(false, true),
                         [](const auto& p) { return p.param ? "SerfAdvertise" : "SerfNoAdvertise"; });
