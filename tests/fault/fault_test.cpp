// Issue 16: the fault suite. Real `clusterd agent` and `serf agent` processes in network
// namespaces (tests/support/netlab.hpp), faults as nftables drops on the receiving host (UDP and
// TCP, so the TCP fallback cannot hide loss), SIGSTOP/SIGCONT of an agent. Every scenario runs
// a clusterd-only cluster and a serf-only cluster at the same time, each in its own lab, with
// the same schedule applied to both, so each printed figure has clusterd's and serf's value from
// the same run.
//
// A "false failed" is a member marked failed by an observer while the member's process runs.
// It is counted two ways:
//   - log: every "serf: EventMemberFailed: <name>" line in every agent's log (both agents log
//     exactly this line when they mark a member failed), so even a failure that is refuted
//     within a second is counted;
//   - poll: `serf members -format=json` at every host about once a second; the distinct
//     (observer, member) pairs seen "failed".
// The pass figure uses the log count.
//
// CLUSTERD_FAULT_LONG=1 (scripts/fault.sh) runs the loss scenario 10 min per loss rate instead
// of 60 s.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <unistd.h>

#include "lab_cluster.hpp"

using namespace clusterd::testing;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

bool long_run() {
    const char* v = std::getenv("CLUSTERD_FAULT_LONG");
    return v != nullptr && std::string(v) == "1";
}

double since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string fmt(double v, int prec = 1) {
    if (std::isnan(v))
        return "n/a";
    char b[32];
    std::snprintf(b, sizeof b, "%.*f", prec, v);
    return b;
}

std::size_t count_of(const std::string& hay, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + needle.size()))
        ++n;
    return n;
}

constexpr const char* kFailedLine = "serf: EventMemberFailed:";

/// One cluster of one kind in its own lab, with a status poller.
struct Side {
    Kind kind;
    std::unique_ptr<netlab::Lab> lab;
    std::unique_ptr<LabCluster> c;
    std::vector<std::string> names;

    std::mutex mu;
    std::set<std::string> paused;                              ///< agents SIGSTOPped: not polled
    std::set<std::pair<std::string, std::string>> seen_failed; ///< (observer, member), this window
    std::atomic<bool> polling{false};
    std::thread poller;
    std::atomic<int> poll_rounds{0};

    Side(Kind k, int n, const std::string& tag,
         const std::function<std::vector<std::string>(LabCluster&)>& more = {})
        : kind(k) {
        lab = std::make_unique<netlab::Lab>(
            netlab::Options{.hosts = n, .ipv4 = true, .ipv6 = false, .ipv6_only = {}});
        c = std::make_unique<LabCluster>(*lab, tag);
        const auto more_args = more ? more(*c) : std::vector<std::string>{};
        for (int h = 0; h < n; ++h) {
            const std::string name = std::string(k == Kind::Serf ? "s" : "c") + std::to_string(h);
            std::vector<std::string> extra = more_args;
            if (h > 0)
                extra.push_back("-join=" + lab->ipv4(0));
            c->start(k, name, h, extra);
            names.push_back(name);
        }
    }
    ~Side() { stop_polling(); }
    const char* kind_name() const { return kind == Kind::Serf ? "serf" : "clusterd"; }

    /// Total "EventMemberFailed" lines over every agent's log, and the lines themselves.
    std::pair<std::size_t, std::string> failed_lines() {
        std::size_t n = 0;
        std::string lines;
        for (auto& a : c->agents()) {
            const auto log = a.child.log();
            n += count_of(log, kFailedLine);
            for (auto at = log.find(kFailedLine); at != std::string::npos;
                 at = log.find(kFailedLine, at + 1)) {
                auto bol = log.rfind('\n', at);
                bol = bol == std::string::npos ? 0 : bol + 1;
                lines += "  at " + a.name + ": " + log.substr(bol, log.find('\n', at) - bol) + "\n";
            }
        }
        return {n, lines};
    }

    void start_polling() {
        polling = true;
        poller = std::thread([this] {
            // Bounded: stops when asked, and in any case after 45 minutes.
            const auto hard_end = Clock::now() + 45min;
            while (polling && Clock::now() < hard_end) {
                const auto round = Clock::now();
                for (auto& a : c->agents()) {
                    if (!polling)
                        break;
                    {
                        std::lock_guard<std::mutex> g(mu);
                        if (paused.count(a.name) != 0)
                            continue;
                    }
                    auto st = c->statuses(a);
                    std::lock_guard<std::mutex> g(mu);
                    for (const auto& [member, status] : st)
                        if (status == "failed" && paused.count(member) == 0)
                            seen_failed.insert({a.name, member});
                }
                ++poll_rounds;
                const auto left = 1s - (Clock::now() - round);
                if (left > 0s)
                    std::this_thread::sleep_for(left);
            }
        });
    }
    void stop_polling() {
        polling = false;
        if (poller.joinable())
            poller.join();
    }
    std::set<std::pair<std::string, std::string>> take_seen() {
        std::lock_guard<std::mutex> g(mu);
        auto out = std::move(seen_failed);
        seen_failed.clear();
        return out;
    }
    void pause(const std::string& name, bool p) {
        std::lock_guard<std::mutex> g(mu);
        if (p)
            paused.insert(name);
        else
            paused.erase(name);
    }
};

/// Runs f(side) for every side at the same time and waits for all.
/// Both clusters of a cell formed: every agent lists all N alive (at most 60 s per side), then
/// `settle` for a push-pull and a few probe rounds before the first fault.
::testing::AssertionResult formed(Side& cd, Side& sf, std::chrono::seconds settle) {
    for (Side* side : {&cd, &sf})
        if (!side->c->wait_all_alive(side->names, 60s))
            return ::testing::AssertionFailure() << side->c->dump();
    std::this_thread::sleep_for(settle);
    return ::testing::AssertionSuccess();
}

void both(std::vector<Side*> sides, const std::function<void(Side&)>& f) {
    std::vector<std::thread> ts;
    for (auto* s : sides)
        ts.emplace_back([&f, s] { f(*s); });
    for (auto& t : ts)
        t.join();
}

/// Runs f(Clusterd) and f(Serf) at the same time and waits for both.
void both_kinds(const std::function<void(Kind)>& f) {
    std::thread t([&f] { f(Kind::Serf); });
    f(Kind::Clusterd);
    t.join();
}

/// Result of one fault window at one side.
struct Window {
    std::size_t log_failed = 0;
    std::size_t poll_pairs = 0;
    double recover_s = std::nan(""); ///< heal -> all alive everywhere
    std::string detail;
};

std::string pairs_text(const std::set<std::pair<std::string, std::string>>& s) {
    std::string out;
    for (const auto& [o, m] : s)
        out += o + " saw " + m + " failed; ";
    return out;
}

/// Applies `fault` to both sides, holds it `hold`, heals, waits until all alive everywhere,
/// and returns each side's counts for the window (heal and recovery included).
std::vector<Window> run_window(std::vector<Side*> sides, const std::function<void(Side&)>& fault,
                               std::chrono::seconds hold) {
    std::vector<std::size_t> before;
    for (auto* s : sides) {
        before.push_back(s->failed_lines().first);
        s->take_seen();
    }
    both(sides, fault);
    std::this_thread::sleep_for(hold);
    std::vector<Window> out(sides.size());
    both(sides, [](Side& s) { s.lab->heal(); });
    const auto healed = Clock::now();
    both(sides, [&](Side& s) {
        const std::size_t i = static_cast<std::size_t>(&s == sides[0] ? 0 : 1);
        if (s.c->wait_all_alive(s.names, 120s))
            out[i].recover_s = since(healed);
    });
    for (std::size_t i = 0; i < sides.size(); ++i) {
        auto [n, lines] = sides[i]->failed_lines();
        out[i].log_failed = n - before[i];
        auto seen = sides[i]->take_seen();
        out[i].poll_pairs = seen.size();
        out[i].detail = pairs_text(seen) + "\n" + lines;
    }
    return out;
}

void print_row(const std::string& scenario, const std::string& duration, const std::vector<Window>& w,
               int poll_rounds_cd, int poll_rounds_serf) {
    std::printf(
        "FAULT | %s | %s | clusterd: %zu false failed (log), %zu observer/member pairs (poll, %d rounds), "
        "all alive %s s after heal | serf: %zu false failed (log), %zu pairs (poll, %d rounds), all alive %s "
        "s after heal\n",
        scenario.c_str(), duration.c_str(), w[0].log_failed, w[0].poll_pairs, poll_rounds_cd,
        fmt(w[0].recover_s).c_str(), w[1].log_failed, w[1].poll_pairs, poll_rounds_serf,
        fmt(w[1].recover_s).c_str());
    std::fflush(stdout);
}

class Fault : public ::testing::Test {
  protected:
    void SetUp() override {
        const auto why = netlab::unavailable_reason();
        ASSERT_TRUE(why.empty()) << why;
    }
};

} // namespace

// 1. p% random loss on UDP and TCP on every link (every ordered pair), N = 8, p = 5, 20, 40.
TEST_F(Fault, LossOnEveryLink) {
    const auto t_start = Clock::now();
    // CLUSTERD_FAULT_HOLD_S / CLUSTERD_FAULT_RATES (e.g. "40") override the hold and the rates,
    // for measuring one rate longer by hand.
    auto hold = long_run() ? std::chrono::seconds(600) : std::chrono::seconds(60);
    if (const char* v = std::getenv("CLUSTERD_FAULT_HOLD_S"))
        hold = std::chrono::seconds(std::clamp(std::atoi(v), 10, 1800));
    std::vector<int> rates{5, 20, 40};
    if (const char* v = std::getenv("CLUSTERD_FAULT_RATES")) {
        rates.clear();
        for (const char* q = v; *q != 0;) {
            char* end = nullptr;
            const long r = std::strtol(q, &end, 10);
            if (end == q)
                break;
            if (r > 0 && r < 100)
                rates.push_back(static_cast<int>(r));
            q = *end == ',' ? end + 1 : end;
        }
    }
    constexpr int kN = 8;
    Side cd(Kind::Clusterd, kN, "fault-loss-cd");
    Side sf(Kind::Serf, kN, "fault-loss-serf");
    std::vector<Side*> sides{&cd, &sf};
    ASSERT_TRUE(formed(cd, sf, 5s));
    cd.start_polling();
    sf.start_polling();

    for (int p : rates) {
        const int r0 = cd.poll_rounds, s0 = sf.poll_rounds;
        auto w = run_window(
            sides,
            [p](Side& s) {
                for (int a = 0; a < kN; ++a)
                    for (int b = 0; b < kN; ++b)
                        if (a != b)
                            s.lab->loss(a, b, p);
            },
            hold);
        print_row("loss " + std::to_string(p) + "% UDP+TCP every link, N=8",
                  std::to_string(hold.count()) + " s", w, cd.poll_rounds - r0, sf.poll_rounds - s0);
        RecordProperty("loss" + std::to_string(p) + "_clusterd_false_failed",
                       static_cast<int>(w[0].log_failed));
        RecordProperty("loss" + std::to_string(p) + "_serf_false_failed", static_cast<int>(w[1].log_failed));
        EXPECT_FALSE(std::isnan(w[0].recover_s)) << "clusterd did not recover after " << p << "%\n"
                                                 << cd.c->dump();
        if (p <= 20) {
            EXPECT_EQ(w[0].log_failed, 0u) << "clusterd at " << p << "%:\n" << w[0].detail;
            EXPECT_EQ(w[0].poll_pairs, 0u) << "clusterd at " << p << "%:\n" << w[0].detail;
        } else if (hold >= std::chrono::seconds(300)) {
            // Asserted only over a long window: in 60 s the count is 1-5 waves of up to 7
            // observers each, so one short sample says little (see docs/reliability.md for the
            // samples, where clusterd exceeded serf in 3 of 4).
            EXPECT_LE(w[0].log_failed, w[1].log_failed) << "clusterd at " << p << "%:\n"
                                                        << w[0].detail << "serf:\n"
                                                        << w[1].detail;
        } else {
            std::printf(
                "FAULT | loss %d%%: clusterd %s serf in this %lld s sample (asserted in the long version)\n",
                p, w[0].log_failed <= w[1].log_failed ? "<=" : "> (more false failed than)",
                static_cast<long long>(hold.count()));
        }
        if (w[0].log_failed > 0)
            std::printf("clusterd, after %d%% (poll pairs of this window; every EventMemberFailed line so "
                        "far):\n%s\n",
                        p, w[0].detail.c_str());
        if (w[1].log_failed > 0)
            std::printf(
                "serf, after %d%% (poll pairs of this window; every EventMemberFailed line so far):\n%s\n", p,
                w[1].detail.c_str());
        std::this_thread::sleep_for(5s);
    }
    cd.stop_polling();
    sf.stop_polling();
    std::printf("FAULT | loss wall time %.0f s\n", since(t_start));
}

// 2. One-way cut A->B (packets from A dropped at B) for 60 s; then A<->B cut with C, D
// reachable for 60 s. N = 4.
TEST_F(Fault, CutsWithIndirectPaths) {
    const auto t_start = Clock::now();
    constexpr int kN = 4;
    Side cd(Kind::Clusterd, kN, "fault-cut-cd");
    Side sf(Kind::Serf, kN, "fault-cut-serf");
    std::vector<Side*> sides{&cd, &sf};
    ASSERT_TRUE(formed(cd, sf, 5s));
    cd.start_polling();
    sf.start_polling();

    {
        const int r0 = cd.poll_rounds, s0 = sf.poll_rounds;
        auto w = run_window(
            sides, [](Side& s) { s.lab->block(0, 1); }, 60s);
        print_row("one-way cut A->B (UDP+TCP), N=4", "60 s", w, cd.poll_rounds - r0, sf.poll_rounds - s0);
        EXPECT_EQ(w[0].log_failed, 0u) << w[0].detail;
        EXPECT_EQ(w[0].poll_pairs, 0u) << w[0].detail;
        if (w[1].log_failed > 0)
            std::printf("serf detail:\n%s\n", w[1].detail.c_str());
    }
    std::this_thread::sleep_for(5s);
    {
        const int r0 = cd.poll_rounds, s0 = sf.poll_rounds;
        auto w = run_window(
            sides, [](Side& s) { s.lab->partition({0}, {1}); }, 60s);
        print_row("A<->B cut, C and D reach both, N=4", "60 s", w, cd.poll_rounds - r0, sf.poll_rounds - s0);
        EXPECT_EQ(w[0].log_failed, 0u) << w[0].detail;
        EXPECT_EQ(w[0].poll_pairs, 0u) << w[0].detail;
        if (w[1].log_failed > 0)
            std::printf("serf detail:\n%s\n", w[1].detail.c_str());
    }
    cd.stop_polling();
    sf.stop_polling();
    std::printf("FAULT | cuts wall time %.0f s\n", since(t_start));
}

namespace {
struct StopResult {
    std::size_t failed_3s = 0; ///< EventMemberFailed lines from SIGSTOP 3 s until 10 s after CONT
    std::string detail_3s;
    std::size_t failed_10s = 0;          ///< observers that marked the victim failed during SIGSTOP 10 s
    double alive_again_s = std::nan(""); ///< CONT -> every observer reports the victim alive
    std::vector<double> per_observer;
};

/// Observers (all but the victim, in parallel) poll until each reports `victim` alive; returns
/// the seconds from t0 per observer (NaN if not within `limit`).
std::vector<double> time_to_alive(Side& s, const std::string& victim, Clock::time_point t0,
                                  std::chrono::seconds limit) {
    std::vector<LabAgent*> obs;
    for (auto& a : s.c->agents())
        if (a.name != victim)
            obs.push_back(&a);
    std::vector<double> out(obs.size(), std::nan(""));
    std::vector<std::thread> ts;
    for (std::size_t i = 0; i < obs.size(); ++i)
        ts.emplace_back([&, i] {
            while (Clock::now() - t0 < limit) {
                auto st = s.c->statuses(*obs[i]);
                auto it = st.find(victim);
                if (it != st.end() && it->second == "alive") {
                    out[i] = since(t0);
                    return;
                }
                std::this_thread::sleep_for(50ms);
            }
        });
    for (auto& t : ts)
        t.join();
    return out;
}

void sigstop_schedule(Side& s, StopResult& r) {
    auto& victim = s.c->agents()[2];
    const pid_t pid = victim.child.pid();
    // 3 s: nobody may mark it failed (counted from STOP until 10 s after CONT).
    const auto before = s.failed_lines().first;
    ::kill(pid, SIGSTOP);
    std::this_thread::sleep_for(3s);
    ::kill(pid, SIGCONT);
    std::this_thread::sleep_for(10s);
    auto [n3, lines3] = s.failed_lines();
    r.failed_3s = n3 - before;
    r.detail_3s = lines3;
    // Let it settle: all alive everywhere, then a quiet 10 s.
    s.c->wait_all_alive(s.names, 60s);
    std::this_thread::sleep_for(10s);
    // 10 s: may be marked failed; every observer must see it alive <= 2 s after CONT.
    const auto before10 = s.failed_lines().first;
    ::kill(pid, SIGSTOP);
    std::this_thread::sleep_for(10s);
    r.failed_10s = s.failed_lines().first - before10;
    const auto cont = Clock::now();
    ::kill(pid, SIGCONT);
    r.per_observer = time_to_alive(s, victim.name, cont, 30s);
    r.alive_again_s = 0;
    for (double t : r.per_observer)
        r.alive_again_s = std::isnan(t) ? t : std::max(r.alive_again_s, t);
}
} // namespace

// 3. SIGSTOP one agent 3 s, then 10 s. N = 5.
TEST_F(Fault, SigstopAgent) {
    const auto t_start = Clock::now();
    constexpr int kN = 5;
    Side cd(Kind::Clusterd, kN, "fault-stop-cd");
    Side sf(Kind::Serf, kN, "fault-stop-serf");
    ASSERT_TRUE(formed(cd, sf, 5s));
    StopResult rc, rs;
    both({&cd, &sf}, [&](Side& s) { sigstop_schedule(s, &s == &cd ? rc : rs); });
    std::printf("FAULT | SIGSTOP 3 s, N=5 | clusterd: %zu failed | serf: %zu failed\n", rc.failed_3s,
                rs.failed_3s);
    std::printf("FAULT | SIGSTOP 10 s, N=5 | clusterd: marked failed by %zu of 4 observers, all see it alive "
                "%s s after CONT "
                "| serf: marked failed by %zu of 4, all see it alive %s s after CONT\n",
                rc.failed_10s, fmt(rc.alive_again_s, 2).c_str(), rs.failed_10s,
                fmt(rs.alive_again_s, 2).c_str());
    for (auto* r : {&rc, &rs}) {
        std::string per;
        for (double t : r->per_observer)
            per += fmt(t, 2) + " ";
        std::printf("  %s per observer: %s\n", r == &rc ? "clusterd" : "serf", per.c_str());
    }
    std::printf("FAULT | sigstop wall time %.0f s\n", since(t_start));
    EXPECT_EQ(rc.failed_3s, 0u) << rc.detail_3s;
    EXPECT_FALSE(std::isnan(rc.alive_again_s)) << cd.c->dump();
    EXPECT_LE(rc.alive_again_s, 2.0) << cd.c->dump();
}

namespace {
/// A handler that appends "<self> <event>" to <dir>/events for every user event.
std::vector<std::string> event_recorder(LabCluster& c) {
    const std::string path = c.dir() + "/record.sh";
    std::ofstream(path) << "#!/bin/sh\ncat >/dev/null\n"
                           "echo \"$SERF_SELF_NAME $SERF_USER_EVENT\" >> \"" +
                               c.dir() + "/events\"\n";
    std::filesystem::permissions(path, std::filesystem::perms::owner_all);
    return {"-event-handler=user=" + path};
}

/// (node, event) -> times its handler ran.
std::map<std::pair<std::string, std::string>, int> handled(LabCluster& c) {
    std::map<std::pair<std::string, std::string>, int> out;
    std::ifstream in(c.dir() + "/events");
    std::string node, ev;
    while (in >> node >> ev)
        ++out[{node, ev}];
    return out;
}

struct SplitResult {
    double alive_s = std::nan("");  ///< heal -> all alive everywhere
    double events_s = std::nan(""); ///< heal -> every handler ran every event
    int missing = 0, duplicates = 0;
    std::string detail;
};
} // namespace

// Split 3|3 for 60 s with 20 user events sent on each side, then heal: all alive everywhere
// within 2 x reconnect interval (30 s, the default of both) + 10 s; every event handled exactly
// once at every node.
TEST_F(Fault, SplitBrainWithEvents) {
    const auto t_start = Clock::now();
    constexpr int kN = 6;
    Side cd(Kind::Clusterd, kN, "fault-split-cd", event_recorder);
    Side sf(Kind::Serf, kN, "fault-split-serf", event_recorder);
    ASSERT_TRUE(formed(cd, sf, 5s));
    SplitResult rc, rs;
    both({&cd, &sf}, [&](Side& s) {
        SplitResult& r = &s == &cd ? rc : rs;
        s.lab->partition({0, 1, 2}, {3, 4, 5});
        const auto t0 = Clock::now();
        std::this_thread::sleep_for(15s); // each half marks the other failed
        std::vector<std::string> events;
        for (int i = 0; i < 20; ++i)
            for (int side = 0; side < 2; ++side) {
                const std::string ev = "ev-" + std::string(side == 0 ? "a" : "b") + std::to_string(i);
                events.push_back(ev);
                auto& via = s.c->agents()[static_cast<std::size_t>(side == 0 ? i % 3 : 3 + i % 3)];
                auto res = s.c->serf_cli(via, {"event", "-coalesce=false", ev, "x"}, 10s);
                if (res.exit_code != 0)
                    r.detail += "event " + ev + " failed: " + res.err + "\n";
                std::this_thread::sleep_for(250ms);
            }
        const auto rest = 60s - (Clock::now() - t0);
        if (rest > 0s)
            std::this_thread::sleep_for(rest);
        s.lab->heal();
        const auto healed = Clock::now();
        if (s.c->wait_all_alive(s.names, 120s))
            r.alive_s = since(healed);
        const bool all = wait_until(
            [&] {
                auto h = handled(*s.c);
                std::size_t n = 0;
                for (const auto& [k, v] : h)
                    n += v > 0 ? 1 : 0;
                return n >= s.names.size() * events.size();
            },
            60s, 250ms);
        if (all)
            r.events_s = since(healed);
        std::this_thread::sleep_for(5s); // late duplicates
        auto h = handled(*s.c);
        for (const auto& node : s.names)
            for (const auto& ev : events) {
                const int k = h[{node, ev}];
                if (k == 0)
                    ++r.missing;
                if (k > 1)
                    ++r.duplicates;
                if (k != 1)
                    r.detail += node + " ran " + ev + " " + std::to_string(k) + " times\n";
            }
    });
    std::printf("FAULT | split 3|3 60 s, 20 events each side, N=6 | clusterd: all alive %s s after heal, "
                "every event at every "
                "handler %s s after heal, %d missing, %d duplicated | serf: all alive %s s, events %s s, %d "
                "missing, %d "
                "duplicated\n",
                fmt(rc.alive_s).c_str(), fmt(rc.events_s).c_str(), rc.missing, rc.duplicates,
                fmt(rs.alive_s).c_str(), fmt(rs.events_s).c_str(), rs.missing, rs.duplicates);
    if (!rs.detail.empty())
        std::printf("serf detail:\n%s", rs.detail.c_str());
    std::printf("FAULT | split wall time %.0f s\n", since(t_start));
    EXPECT_FALSE(std::isnan(rc.alive_s)) << cd.c->dump();
    EXPECT_LE(rc.alive_s, 2 * 30.0 + 10.0);
    EXPECT_EQ(rc.missing, 0) << rc.detail;
    EXPECT_EQ(rc.duplicates, 0) << rc.detail;
}

namespace {
/// Every `EventMemberFailed` line of every agent's log as (observer, member, line).
struct FailedLine {
    std::string observer, member, line;
};
std::vector<FailedLine> failed_events(Side& s) {
    std::vector<FailedLine> out;
    const std::string needle = kFailedLine;
    for (auto& a : s.c->agents()) {
        const auto log = a.child.log();
        for (auto at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) {
            auto p = at + needle.size();
            while (p < log.size() && log[p] == ' ')
                ++p;
            const auto end = log.find_first_of(" \n", p);
            auto bol = log.rfind('\n', at);
            bol = bol == std::string::npos ? 0 : bol + 1;
            out.push_back({a.name, log.substr(p, end == std::string::npos ? std::string::npos : end - p),
                           log.substr(bol, log.find('\n', at) - bol)});
        }
    }
    return out;
}

/// Counts of failed lines around one victim node.
struct AroundVictim {
    std::size_t healthy = 0; ///< healthy member marked failed by a healthy observer
    std::size_t victim = 0;  ///< the victim marked failed
    std::size_t by_victim = 0;
    std::string healthy_lines;
};
AroundVictim around(Side& s, const std::string& victim) {
    AroundVictim r;
    for (const auto& f : failed_events(s)) {
        if (f.member == victim)
            ++r.victim;
        else if (f.observer == victim)
            ++r.by_victim;
        else {
            ++r.healthy;
            r.healthy_lines += "  at " + f.observer + ": " + f.line + "\n";
        }
    }
    return r;
}

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

bool write_text(const std::string& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
    out.flush();
    return static_cast<bool>(out);
}

/// A CPU cap for some processes: a cgroup of its own with cgroup v2 `cpu.max` where the cpu
/// controller is on the unified hierarchy, else cgroup v1 `cpu.cfs_quota_us` over
/// `cpu.cfs_period_us` (the same CFS bandwidth limit; on this machine the cpu controller is
/// bound to v1, so v2 has no `cpu.max`). The destructor moves the processes back to the root of
/// that hierarchy and removes the cgroup.
class CpuCap {
  public:
    CpuCap(const std::string& tag, int percent) {
        std::ifstream mounts("/proc/self/mounts");
        std::string dev, mnt, type, opts, rest;
        std::string v1;
        while (mounts >> dev >> mnt >> type >> opts && std::getline(mounts, rest)) {
            if (type == "cgroup2" && v2_root_.empty()) {
                std::istringstream ctl(read_text(mnt + "/cgroup.controllers"));
                for (std::string c; ctl >> c;)
                    if (c == "cpu")
                        v2_root_ = mnt;
            }
            if (type == "cgroup") {
                std::istringstream o(opts);
                for (std::string t; std::getline(o, t, ',');)
                    if (t == "cpu")
                        v1 = mnt;
            }
        }
        const std::string name = "clusterd-fault-" + std::to_string(::getpid()) + "-" + tag;
        sweep(v2_root_);
        sweep(v1);
        if (!v2_root_.empty()) {
            root_ = v2_root_;
            write_text(root_ + "/cgroup.subtree_control", "+cpu");
            dir_ = root_ + "/" + name;
            std::filesystem::create_directory(dir_);
            if (!write_text(dir_ + "/cpu.max", std::to_string(percent * 1000) + " 100000"))
                throw std::runtime_error("cannot write " + dir_ + "/cpu.max");
            kind_ = "cgroup v2 cpu.max";
        } else if (!v1.empty()) {
            root_ = v1;
            dir_ = root_ + "/" + name;
            std::filesystem::create_directory(dir_);
            if (!write_text(dir_ + "/cpu.cfs_period_us", "100000") ||
                !write_text(dir_ + "/cpu.cfs_quota_us", std::to_string(percent * 1000)))
                throw std::runtime_error("cannot write the CFS quota under " + dir_);
            kind_ = "cgroup v1 cpu.cfs_quota_us (no cpu controller on cgroup v2 here)";
        } else {
            throw std::runtime_error("no cgroup hierarchy with the cpu controller");
        }
    }
    ~CpuCap() {
        for (pid_t p : pids_)
            write_text(root_ + "/cgroup.procs", std::to_string(p));
        for (int i = 0; i < 50; ++i) {
            if (!std::filesystem::exists(dir_) || ::rmdir(dir_.c_str()) == 0)
                break;
            std::this_thread::sleep_for(100ms);
        }
    }
    CpuCap(const CpuCap&) = delete;
    CpuCap& operator=(const CpuCap&) = delete;

    void add(pid_t pid) {
        if (!write_text(dir_ + "/cgroup.procs", std::to_string(pid)))
            throw std::runtime_error("cannot move " + std::to_string(pid) + " into " + dir_);
        pids_.push_back(pid);
    }
    /// Moves every process out (the cgroup stays until the destructor).
    void release() {
        for (pid_t p : pids_)
            write_text(root_ + "/cgroup.procs", std::to_string(p));
        pids_.clear();
    }
    /// A field of the cgroup's cpu.stat (nr_throttled, throttled_time / throttled_usec, ...).
    long long stat(const std::string& key) const {
        std::istringstream in(read_text(dir_ + "/cpu.stat"));
        std::string k;
        long long v = 0;
        while (in >> k >> v)
            if (k == key)
                return v;
        return -1;
    }
    const std::string& kind() const { return kind_; }

  private:
    /// Removes cgroups "clusterd-fault-<pid>-*" left by a test process that is gone (killed
    /// before its destructor ran), moving anything still in them back to the root first.
    static void sweep(const std::string& root) {
        if (root.empty())
            return;
        std::error_code ec;
        for (std::filesystem::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
            const std::string n = it->path().filename().string();
            if (n.rfind("clusterd-fault-", 0) != 0)
                continue;
            const long pid = std::atol(n.c_str() + 15);
            if (pid <= 0 || ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH)
                continue;
            std::istringstream procs(read_text(it->path().string() + "/cgroup.procs"));
            for (std::string p; procs >> p;)
                write_text(root + "/cgroup.procs", p);
            ::rmdir(it->path().c_str());
        }
    }
    std::string v2_root_, root_, dir_, kind_;
    std::vector<pid_t> pids_;
};

/// utime + stime of a process in seconds (from /proc/PID/stat), NaN if gone.
double cpu_seconds(pid_t pid) {
    const auto text = read_text("/proc/" + std::to_string(pid) + "/stat");
    const auto rp = text.rfind(')');
    if (rp == std::string::npos)
        return std::nan("");
    std::istringstream in(text.substr(rp + 2));
    std::string f;
    std::vector<std::string> fields;
    while (in >> f)
        fields.push_back(f);
    if (fields.size() < 13)
        return std::nan("");
    const double tck = static_cast<double>(::sysconf(_SC_CLK_TCK));
    return (std::stod(fields[11]) + std::stod(fields[12])) / tck; // fields 14 and 15 of stat
}

struct ThrottleResult {
    std::size_t false_failed = 0; ///< healthy nodes marked failed by healthy nodes
    std::string detail;
    std::size_t victim_failed = 0; ///< times the throttled node was marked failed (allowed)
    std::size_t by_victim = 0;     ///< healthy nodes the throttled node marked failed (allowed)
    long long throttled_periods = -1;
    double victim_cpu_s = std::nan("");
    double alive_s = std::nan(""); ///< release -> all alive everywhere
};
} // namespace

// One agent (host 2 of 5) held to 5 % of one CPU for 120 s (30 s in the suite) with a busy
// neighbour process in the same cgroup (so the agent really runs short of CPU and the cap bites:
// an idle agent needs far less than 5 %), then released. Pass: 0 false `failed` of healthy
// nodes as seen by the healthy nodes. The throttled node itself may be marked failed, and may
// itself mark others failed; both are printed.
TEST_F(Fault, CpuThrottledAgent) {
    const auto t_start = Clock::now();
    const auto hold = long_run() ? 120s : 30s;
    constexpr int kN = 5;
    constexpr int kVictim = 2;
    Side cd(Kind::Clusterd, kN, "fault-cpu-cd");
    Side sf(Kind::Serf, kN, "fault-cpu-serf");
    ASSERT_TRUE(formed(cd, sf, 5s));
    ThrottleResult rc, rs;
    std::string cap_kind;
    std::mutex mu;
    both({&cd, &sf}, [&](Side& s) {
        ThrottleResult& r = &s == &cd ? rc : rs;
        auto& victim = s.c->agents()[kVictim];
        const auto before = around(s, victim.name);
        CpuCap cap(std::string(s.kind_name()), 5);
        {
            std::lock_guard<std::mutex> g(mu);
            cap_kind = cap.kind();
        }
        // Ends by itself when the test process is gone (a killed test leaves no busy loop).
        Child busy({"sh", "-c", "while kill -0 " + std::to_string(::getpid()) + " 2>/dev/null; do :; done"},
                   s.c->dir() + "/busy.log");
        cap.add(busy.pid());
        const double cpu0 = cpu_seconds(victim.child.pid());
        cap.add(victim.child.pid());
        std::this_thread::sleep_for(hold);
        r.victim_cpu_s = cpu_seconds(victim.child.pid()) - cpu0;
        r.throttled_periods = cap.stat("nr_throttled");
        cap.release();
        busy.stop(SIGKILL, 2000ms);
        const auto released = Clock::now();
        if (s.c->wait_all_alive(s.names, 60s))
            r.alive_s = since(released);
        std::this_thread::sleep_for(5s); // late verdicts of suspicions started during the hold
        const auto after = around(s, victim.name);
        r.false_failed = after.healthy - before.healthy;
        r.detail = after.healthy_lines;
        r.victim_failed = after.victim - before.victim;
        r.by_victim = after.by_victim - before.by_victim;
    });
    std::printf("FAULT | one agent at 5 %% CPU (%s, busy neighbour in the cgroup) %lld s, N=5 | clusterd: "
                "%zu false failed "
                "of healthy nodes; throttled node marked failed %zu times, it marked %zu healthy failed; "
                "%lld throttled "
                "periods, %.2f s CPU used; all alive %s s after release | serf: %zu false failed; marked "
                "failed %zu, it "
                "marked %zu; %lld throttled periods, %.2f s CPU; all alive %s s\n",
                cap_kind.c_str(), static_cast<long long>(hold.count()), rc.false_failed, rc.victim_failed,
                rc.by_victim, rc.throttled_periods, rc.victim_cpu_s, fmt(rc.alive_s).c_str(), rs.false_failed,
                rs.victim_failed, rs.by_victim, rs.throttled_periods, rs.victim_cpu_s,
                fmt(rs.alive_s).c_str());
    if (rs.false_failed > 0)
        std::printf("serf detail:\n%s", rs.detail.c_str());
    std::printf("FAULT | cpu wall time %.0f s\n", since(t_start));
    EXPECT_GT(rc.throttled_periods, 0) << "the cap never bit";
    EXPECT_EQ(rc.false_failed, 0u) << rc.detail;
    EXPECT_FALSE(std::isnan(rc.alive_s)) << cd.c->dump();
}

namespace {
long long vm_rss_kib(pid_t pid) {
    std::istringstream in(read_text("/proc/" + std::to_string(pid) + "/status"));
    for (std::string line; std::getline(in, line);)
        if (line.rfind("VmRSS:", 0) == 0)
            return std::atoll(line.c_str() + 6);
    return -1;
}
/// Open descriptors of a process: the fewest of 5 samples 200 ms apart (a push-pull connection
/// in flight is not a leak).
long long open_fds(pid_t pid) {
    long long best = -1;
    for (int i = 0; i < 5; ++i) {
        long long n = 0;
        std::error_code ec;
        for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end;
             !ec && it != end; it.increment(ec))
            ++n;
        if (!ec)
            best = best < 0 ? n : std::min(best, n);
        std::this_thread::sleep_for(200ms);
    }
    return best;
}

struct ChurnResult {
    int kills = 0, restarts = 0, starts = 0;
    double converged_s = std::nan(""); ///< end of churn -> every view equals ground truth
    std::string mismatch;              ///< the last mismatch seen while waiting
    std::vector<long long> rss0, rss1, fd0, fd1;
};

/// Every running agent sees every running agent alive and every stopped one failed, left, or
/// not at all. Returns "" or the first mismatch.
std::string view_mismatch(Side& s) {
    std::set<std::string> up;
    for (auto& a : s.c->agents())
        if (a.child.running())
            up.insert(a.name);
    for (auto& a : s.c->agents()) {
        if (!a.child.running())
            continue;
        auto st = s.c->statuses(a);
        if (st.empty())
            return a.name + ": no answer";
        for (const auto& n : s.names) {
            auto it = st.find(n);
            if (up.count(n) != 0) {
                if (it == st.end() || it->second != "alive")
                    return a.name + " sees " + n + " " + (it == st.end() ? "absent" : it->second) +
                           ", truth: alive";
            } else if (it != st.end() && it->second != "failed" && it->second != "left") {
                return a.name + " sees " + n + " " + it->second + ", truth: down";
            }
        }
    }
    return "";
}
} // namespace

// Churn: N = 20, every 2 s one of the churned nodes (all but hosts 0..2) is killed with
// SIGKILL, or killed and started again at once, or (if it is down) started again, for 10 min
// (suite: N = 8 for 40 s). The schedule comes from a fixed seed, the same for both sides. Pass:
// after the churn every view equals ground truth (within 120 s); the long-lived nodes 0..2
// end with VmRSS <= start + 10 % and the same number of open descriptors.
TEST_F(Fault, ChurnKillAndRestart) {
    const auto t_start = Clock::now();
    const bool lng = long_run();
    const int n = lng ? 20 : 8;
    const auto churn = lng ? 600s : 40s;
    constexpr int kStable = 3;
    Side cd(Kind::Clusterd, n, "fault-churn-cd");
    Side sf(Kind::Serf, n, "fault-churn-serf");
    ASSERT_TRUE(cd.c->wait_all_alive(cd.names, 120s)) << cd.c->dump();
    ASSERT_TRUE(sf.c->wait_all_alive(sf.names, 120s)) << sf.c->dump();
    std::this_thread::sleep_for(5s); // push-pulls done, allocator warmed up
    // action: 0 = kill -9, 1 = kill -9 and start again at once (a down node is started again).
    std::mt19937 rng(16);
    std::vector<std::pair<int, int>> steps;
    for (int i = 0; i < static_cast<int>(churn / 2s); ++i)
        steps.push_back({kStable + static_cast<int>(rng() % static_cast<unsigned>(n - kStable)),
                         static_cast<int>(rng() % 2)});
    ChurnResult rc, rs;
    both({&cd, &sf}, [&](Side& s) {
        ChurnResult& r = &s == &cd ? rc : rs;
        for (int h = 0; h < kStable; ++h) {
            const pid_t pid = s.c->agents()[static_cast<std::size_t>(h)].child.pid();
            r.rss0.push_back(vm_rss_kib(pid));
            r.fd0.push_back(open_fds(pid));
        }
        const auto t0 = Clock::now();
        for (std::size_t i = 0; i < steps.size(); ++i) {
            const auto due = t0 + 2s * static_cast<int>(i);
            if (Clock::now() < due)
                std::this_thread::sleep_until(due);
            auto& a = s.c->agents()[static_cast<std::size_t>(steps[i].first)];
            if (!a.child.running()) {
                s.c->restart(a);
                ++r.starts;
            } else if (steps[i].second == 0) {
                a.child.kill9();
                ++r.kills;
            } else {
                a.child.kill9();
                s.c->restart(a);
                ++r.restarts;
            }
        }
        const auto end = Clock::now();
        const bool ok = wait_until(
            [&] {
                r.mismatch = view_mismatch(s);
                return r.mismatch.empty();
            },
            120s, 500ms);
        if (ok)
            r.converged_s = since(end);
        std::this_thread::sleep_for(5s);
        for (int h = 0; h < kStable; ++h) {
            const pid_t pid = s.c->agents()[static_cast<std::size_t>(h)].child.pid();
            r.rss1.push_back(vm_rss_kib(pid));
            r.fd1.push_back(open_fds(pid));
        }
    });
    auto rss_text = [](const ChurnResult& r) {
        std::string t;
        for (std::size_t i = 0; i < r.rss0.size(); ++i)
            t += std::to_string(r.rss0[i]) + "->" + std::to_string(r.rss1[i]) + " KiB/" +
                 std::to_string(r.fd0[i]) + "->" + std::to_string(r.fd1[i]) + " fds; ";
        return t;
    };
    std::printf("FAULT | churn N=%d, one kill -9 or restart every 2 s for %lld s | clusterd: %d kills, %d "
                "kill+restart, %d "
                "starts; views = ground truth %s s after the churn; long-lived nodes %s| serf: %d/%d/%d; "
                "ground truth %s s; "
                "%s\n",
                n, static_cast<long long>(churn.count()), rc.kills, rc.restarts, rc.starts,
                fmt(rc.converged_s).c_str(), rss_text(rc).c_str(), rs.kills, rs.restarts, rs.starts,
                fmt(rs.converged_s).c_str(), rss_text(rs).c_str());
    if (!rs.mismatch.empty())
        std::printf("serf mismatch: %s\n", rs.mismatch.c_str());
    std::printf("FAULT | churn wall time %.0f s\n", since(t_start));
    EXPECT_FALSE(std::isnan(rc.converged_s)) << rc.mismatch << cd.c->dump();
    for (std::size_t i = 0; i < rc.rss0.size(); ++i) {
        EXPECT_GT(rc.rss0[i], 0);
        EXPECT_LE(rc.rss1[i], rc.rss0[i] + rc.rss0[i] / 10) << "node " << i;
        EXPECT_GT(rc.fd0[i], 0);
        EXPECT_LE(rc.fd1[i], rc.fd0[i]) << "node " << i;
    }
}

namespace {
constexpr const char* kKey1 = "kPjXbONy/RArsCdG0LTOCQ==";
constexpr const char* kKey2 = "T9jncgl9mbLus+baTTa7qw==";
constexpr const char* kKey3 = "5K9OtfP7efFrNKe5WCQvXw==";

struct DiskResult {
    int install_full_rc = -2, tags_full_rc = -2, tags_after_rc = -2;
    bool running_full = false, running_after = false;
    bool keyring_intact = false; ///< during the full disk: the old keys, parsable, mode 0600
    std::string keyring_full_text;
    bool keyring_retried = false;     ///< after space came back: the file holds the third key
    long long event_clock_after = -1; ///< highest event-clock line in the snapshot afterwards
    int events_sent = 0;
    std::size_t error_lines = 0; ///< error lines about the state files during the window
    std::size_t recovered_lines = 0;
    std::string log_tail;
    std::string fill_note;
};

std::size_t count_lines_with(const std::string& log, const std::vector<std::string>& all_of) {
    std::size_t n = 0;
    std::istringstream in(log);
    for (std::string line; std::getline(in, line);) {
        bool ok = true;
        for (const auto& w : all_of)
            ok = ok && line.find(w) != std::string::npos;
        n += ok ? 1 : 0;
    }
    return n;
}

/// Keys in a keyring file ([] if it does not parse).
std::vector<std::string> keyring_keys(const std::string& text) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    std::vector<std::string> out;
    if (!j.is_array())
        return out;
    for (const auto& k : j)
        if (k.is_string())
            out.push_back(k.get<std::string>());
    return out;
}
} // namespace

// Disk full under the snapshot, keyring and tags files. Host 0's agent runs in a mount namespace
// of its own with a 512 KiB tmpfs over its state directory (`unshare -m`, so nothing outside
// sees it); the test reaches the files through /proc/PID/root. Schedule: install a key and set a
// tag (written), fill the tmpfs, then for 10 s (60 s long) install a third key, set a tag, send
// user events in batches of 200 until the snapshot append fails; free the space; wait 5 s. Pass (clusterd):
// the agent keeps running; during the full disk the keyring file still holds the old keys (parsable, mode
// 0600, never truncated); the keyring with the third key and a snapshot holding the latest event clock are
// written once there is space (retries); the state files' error and recovery are logged once
// each per file, not per attempt.
TEST_F(Fault, DiskFullUnderStateFiles) {
    const auto t_start = Clock::now();
    const auto hold = long_run() ? 60s : 10s;
    DiskResult rc, rs;
    both_kinds([&](Kind kind) {
        DiskResult& r = kind == Kind::Clusterd ? rc : rs;
        netlab::Lab lab(netlab::Options{.hosts = 2, .ipv4 = true, .ipv6 = false, .ipv6_only = {}});
        LabCluster c(lab, kind == Kind::Serf ? "fault-disk-serf" : "fault-disk-cd");
        const std::string state = c.dir() + "/state";
        std::filesystem::create_directories(state);
        const std::string bin = kind == Kind::Serf ? std::string("serf") : clusterd_bin();
        const std::string name0 = kind == Kind::Serf ? "s0" : "c0";
        // Host 0: a private mount namespace with a tiny tmpfs over `state`, the keyring file
        // created in it, then the agent (unshare and sh exec in place: the PID is the agent's).
        LabAgent v;
        v.kind = kind;
        v.name = name0;
        v.host = 0;
        v.argv = {"unshare",
                  "-m",
                  "--propagation",
                  "private",
                  "sh",
                  "-c",
                  "mount -t tmpfs -o size=512k,mode=0700 fault-disk \"$0\" && printf '[\"%s\"]\\n' \"$1\" > "
                  "\"$0/keyring\" "
                  "&& chmod 600 \"$0/keyring\" && shift && exec \"$@\"",
                  state,
                  kKey1,
                  bin,
                  "agent",
                  "-node=" + name0,
                  "-bind=0.0.0.0:7946",
                  "-rpc-addr=127.0.0.1:7373",
                  "-log-level=debug",
                  "-keyring-file=" + state + "/keyring",
                  "-snapshot=" + state + "/snapshot",
                  "-tags-file=" + state + "/tags"};
        v.child = lab.spawn(0, v.argv, c.dir() + "/" + name0 + ".log");
        c.agents().push_back(std::move(v));
        auto& victim = c.agents().back();
        wait_until([&] { return !c.statuses(victim).empty(); }, 15s, 100ms);
        auto& other = c.start(kind, kind == Kind::Serf ? "s1" : "c1", 1,
                              {"-encrypt=" + std::string(kKey1), "-join=" + lab.ipv4(0)});
        const std::vector<std::string> names{victim.name, other.name};
        if (!c.wait_all_alive(names, 60s)) {
            r.log_tail = "cluster did not form\n" + c.dump();
            return;
        }
        const std::string root = "/proc/" + std::to_string(victim.child.pid()) + "/root" + state;
        // Written while there is space.
        c.serf_cli(other, {"keys", "-install=" + std::string(kKey2)}, 20s);
        c.serf_cli(victim, {"tags", "-set", "role=a"}, 10s);
        std::this_thread::sleep_for(1s);
        const auto log_before = victim.child.log();
        // Fill the tmpfs (dd stops at ENOSPC; 512 KiB at most).
        const std::string pid = std::to_string(victim.child.pid());
        auto filled = run({"nsenter", "-t", pid, "-m", "dd", "if=/dev/zero", "of=" + state + "/fill", "bs=4k",
                           "count=1000"},
                          20s);
        r.fill_note = filled.err.substr(0, 200);
        const auto t_full = Clock::now();
        r.install_full_rc = c.serf_cli(other, {"keys", "-install=" + std::string(kKey3)}, 20s).exit_code;
        r.tags_full_rc = c.serf_cli(victim, {"tags", "-set", "role=b"}, 10s).exit_code;
        // User events sent through the victim itself until its snapshot append fails: the last
        // page of the snapshot file has up to 4 KiB of slack, and a line is added only for an
        // event newer than every earlier one (a burst gossiped from elsewhere arrives shuffled
        // and adds few lines; the sender's own events are in order). Batches of 200 at 200/s,
        // at most 10 batches.
        {
            const char* src = std::getenv("CLUSTERD_SOURCE_DIR");
            const std::string marker =
                kind == Kind::Clusterd ? "will retry with a full rewrite" : "Failed to update snapshot";
            for (int batch = 0;
                 batch < 10 && victim.child.log().find(marker, log_before.size()) == std::string::npos;
                 ++batch) {
                auto res = lab.run(0,
                                   {"python3",
                                    std::string(src != nullptr ? src : ".") + "/tests/fault/rpc_events.py",
                                    "200", "200", "b" + std::to_string(batch) + "-"},
                                   60s);
                int sent = 0, errors = -1;
                std::sscanf(res.out.c_str(), "sent %d errors %d", &sent, &errors);
                r.events_sent += errors == 0 ? sent : 0;
                std::this_thread::sleep_for(500ms);
            }
        }
        const auto rest = hold - (Clock::now() - t_full);
        if (rest > 0s)
            std::this_thread::sleep_for(rest);
        r.running_full = victim.child.running();
        r.keyring_full_text = read_text(root + "/keyring");
        struct stat st {};
        const bool mode_ok = ::stat((root + "/keyring").c_str(), &st) == 0 && (st.st_mode & 0777) == 0600;
        r.keyring_intact = mode_ok && keyring_keys(r.keyring_full_text).size() >= 2;
        // Space back.
        run({"nsenter", "-t", pid, "-m", "rm", "-f", state + "/fill"}, 20s);
        std::this_thread::sleep_for(5s);
        r.tags_after_rc = c.serf_cli(victim, {"tags", "-set", "role=c"}, 10s).exit_code;
        if (c.serf_cli(other, {"event", "-coalesce=false", "disk-after", "x"}, 10s).exit_code == 0)
            ++r.events_sent;
        std::this_thread::sleep_for(3s);
        r.running_after = victim.child.running();
        const auto keys = keyring_keys(read_text(root + "/keyring"));
        r.keyring_retried = std::find(keys.begin(), keys.end(), kKey3) != keys.end();
        std::istringstream snap(read_text(root + "/snapshot"));
        for (std::string line; std::getline(snap, line);)
            if (line.rfind("event-clock: ", 0) == 0)
                r.event_clock_after = std::max(r.event_clock_after, std::atoll(line.c_str() + 13));
        const auto log = victim.child.log().substr(log_before.size());
        if (kind == Kind::Clusterd) {
            r.error_lines = count_lines_with(log, {"will retry"});
            r.recovered_lines = count_lines_with(log, {"written again"});
        } else {
            r.error_lines = count_lines_with(log, {"[ERR]"});
            r.recovered_lines = 0;
        }
        r.log_tail = log.size() > 4000 ? log.substr(log.size() - 4000) : log;
        victim.child.stop(SIGKILL, 2000ms);
    });
    auto row = [](const DiskResult& r) {
        char b[512];
        std::snprintf(
            b, sizeof b,
            "running during/after %s/%s; key install while full exit %d, tags while full exit %d, tags after "
            "exit %d; keyring intact while full %s, third key written after %s; snapshot event-clock %lld "
            "(%d events); %zu error lines, %zu recovery lines",
            r.running_full ? "yes" : "NO", r.running_after ? "yes" : "NO", r.install_full_rc, r.tags_full_rc,
            r.tags_after_rc, r.keyring_intact ? "yes" : "NO", r.keyring_retried ? "yes" : "no",
            r.event_clock_after, r.events_sent, r.error_lines, r.recovered_lines);
        return std::string(b);
    };
    std::printf(
        "FAULT | disk full (512 KiB tmpfs) under snapshot, keyring, tags, %lld s | clusterd: %s | serf: %s\n",
        static_cast<long long>(hold.count()), row(rc).c_str(), row(rs).c_str());
    std::printf("fill: clusterd %s / serf %s\n", rc.fill_note.c_str(), rs.fill_note.c_str());
    std::printf("FAULT | disk wall time %.0f s\n", since(t_start));
    EXPECT_TRUE(rc.running_full) << rc.log_tail;
    EXPECT_TRUE(rc.running_after) << rc.log_tail;
    EXPECT_TRUE(rc.keyring_intact) << rc.keyring_full_text;
    EXPECT_TRUE(rc.keyring_retried) << rc.log_tail;
    EXPECT_EQ(rc.tags_after_rc, 0) << rc.log_tail;
    EXPECT_GE(rc.event_clock_after, rc.events_sent) << rc.log_tail;
    // One error and one recovery line each for the snapshot and the keyring (the tags file is
    // written on request only: a refused `tags -set` is answered with the error, not logged).
    EXPECT_EQ(rc.error_lines, 2u) << rc.log_tail;
    EXPECT_EQ(rc.recovered_lines, 2u) << rc.log_tail;
}

namespace {
struct EventFlood {
    int sent = 0, rpc_errors = -1;
    double send_s = std::nan(""), all_s = std::nan("");
    int missing = 0, duplicates = 0;
    std::string detail, sender_out;
    std::size_t drop_lines = 0; ///< log lines that report dropped events
};
} // namespace

// 10,000 user events at 200/s through one RPC connection to host 1, N = 5, every agent with a
// handler that records (node, event) (suite: 100 at 200/s). Pass: every handler ran every
// event exactly once; any drop is counted and logged (printed here).
TEST_F(Fault, UserEventFlood) {
    const auto t_start = Clock::now();
    // Suite: 100 events (500 handler runs). Each run is a process spawn, and at a load average
    // of 20 on 2 cores (parallel builds) both agents ran only 3-4 handlers a second.
    const int count = long_run() ? 10000 : 100;
    constexpr int kN = 5;
    Side cd(Kind::Clusterd, kN, "fault-flood-cd", event_recorder);
    Side sf(Kind::Serf, kN, "fault-flood-serf", event_recorder);
    ASSERT_TRUE(formed(cd, sf, 3s));
    const std::string script =
        std::string(std::getenv("CLUSTERD_SOURCE_DIR") ? std::getenv("CLUSTERD_SOURCE_DIR") : ".") +
        "/tests/fault/rpc_events.py";
    EventFlood rc, rs;
    both({&cd, &sf}, [&](Side& s) {
        EventFlood& r = &s == &cd ? rc : rs;
        const auto t0 = Clock::now();
        auto res = s.lab->run(1, {"python3", script, std::to_string(count), "200"},
                              std::chrono::seconds(count / 100 + 60));
        r.sender_out = res.out + res.err;
        std::sscanf(res.out.c_str(), "sent %d errors %d", &r.sent, &r.rpc_errors);
        r.send_s = since(t0);
        const std::size_t want = s.names.size() * static_cast<std::size_t>(count);
        const bool all = wait_until(
            [&] {
                std::size_t n = 0;
                for (const auto& [k, v] : handled(*s.c))
                    n += v > 0 ? 1 : 0;
                return n >= want;
            },
            std::chrono::seconds(std::min(count * 2 + 60, 1800)), 1s);
        if (all)
            r.all_s = since(t0);
        std::this_thread::sleep_for(3s);
        auto h = handled(*s.c);
        for (const auto& node : s.names)
            for (int i = 0; i < count; ++i) {
                const int k = h[{node, "ev-" + std::to_string(i)}];
                if (k == 0)
                    ++r.missing;
                if (k > 1)
                    ++r.duplicates;
                if (k != 1 && r.detail.size() < 2000)
                    r.detail += node + " ran ev-" + std::to_string(i) + " " + std::to_string(k) + " times\n";
            }
        for (auto& a : s.c->agents()) {
            const auto log = a.child.log();
            r.drop_lines += count_lines_with(log, {"drop"}) + count_lines_with(log, {"Drop"});
        }
    });
    std::printf("FAULT | %d user events at 200/s, N=5, handler at every node | clusterd: sent %d in %s s (%d "
                "RPC errors); "
                "every handler ran every event %s s after the first; %d missing, %d duplicated; %zu drop "
                "lines | serf: sent %d "
                "in %s s (%d RPC errors); all %s s; %d missing, %d duplicated; %zu drop lines\n",
                count, rc.sent, fmt(rc.send_s).c_str(), rc.rpc_errors, fmt(rc.all_s).c_str(), rc.missing,
                rc.duplicates, rc.drop_lines, rs.sent, fmt(rs.send_s).c_str(), rs.rpc_errors,
                fmt(rs.all_s).c_str(), rs.missing, rs.duplicates, rs.drop_lines);
    if (!rs.detail.empty())
        std::printf("serf detail (first lines):\n%s", rs.detail.c_str());
    std::printf("FAULT | flood wall time %.0f s\n", since(t_start));
    EXPECT_EQ(rc.sent, count) << rc.sender_out;
    EXPECT_EQ(rc.rpc_errors, 0) << rc.sender_out;
    EXPECT_EQ(rc.missing, 0) << rc.detail;
    EXPECT_EQ(rc.duplicates, 0) << rc.detail;
}

// RPC load (loopback inside host 0 of N = 3): 100 slow stream readers (user events; a 4 KiB
// receive buffer, 512 bytes read a second each), 5 fast readers, 1,000 clients connected and
// handshaken at the same time, each then sending one `members` (spread over the 5 s the events
// take), and 500 user events of 256 bytes at 100/s, all at once (tests/fault/rpc_load.py).
// Pass: all 1,000 held at once, p99 of the `members` round trip < 100 ms, no client error,
// every fast reader got every event (a slow reader loses only its own). Long version: 2,000
// clients and 2,000 events.
TEST_F(Fault, RpcLoadWithSlowReaders) {
    const auto t_start = Clock::now();
    const int clients = long_run() ? 2000 : 1000;
    const int events = long_run() ? 2000 : 500;
    constexpr int kN = 3;
    Side cd(Kind::Clusterd, kN, "fault-rpc-cd");
    Side sf(Kind::Serf, kN, "fault-rpc-serf");
    ASSERT_TRUE(formed(cd, sf, 0s));
    const std::string script =
        std::string(std::getenv("CLUSTERD_SOURCE_DIR") ? std::getenv("CLUSTERD_SOURCE_DIR") : ".") +
        "/tests/fault/rpc_load.py";
    struct Load {
        std::string out;
        double p99 = std::nan(""), p50 = std::nan("");
        int held = 0, n = 0, errors = -1, fast_min = -1, slow_min = -1, slow_max = -1, slow_closed = -1;
    } rc, rs;
    both({&cd, &sf}, [&](Side& s) {
        Load& r = &s == &cd ? rc : rs;
        auto res =
            s.lab->run(0, {"python3", script, "100", "5", std::to_string(clients), std::to_string(events)},
                       std::chrono::seconds(clients / 10 + events / 50 + 120));
        r.out = res.out + res.err;
        auto num = [&](const std::string& key) -> double {
            const auto at = res.out.find(key + "=");
            return at == std::string::npos ? std::nan("") : std::atof(res.out.c_str() + at + key.size() + 1);
        };
        r.held = static_cast<int>(num("held"));
        r.n = static_cast<int>(num("n"));
        r.p50 = num("p50");
        r.p99 = num("p99");
        r.errors = static_cast<int>(num("errors"));
        r.fast_min = static_cast<int>(num("fast_min"));
        r.slow_min = static_cast<int>(num("slow_min"));
        r.slow_max = static_cast<int>(num("slow_max"));
        r.slow_closed = static_cast<int>(num("slow_closed"));
    });
    auto row = [](const Load& r) {
        char b[400];
        std::snprintf(b, sizeof b,
                      "%d clients held at once; members p50 %s ms, p99 %s ms over %d clients, %d errors; "
                      "fast readers got >= %d events; slow "
                      "readers got %d..%d, %d closed by the agent",
                      r.held, fmt(r.p50).c_str(), fmt(r.p99).c_str(), r.n, r.errors, r.fast_min, r.slow_min,
                      r.slow_max, r.slow_closed);
        return std::string(b);
    };
    std::printf("FAULT | RPC load: %d clients at once + 100 slow + 5 fast stream readers, %d events | "
                "clusterd: %s | serf: %s\n",
                clients, events, row(rc).c_str(), row(rs).c_str());
    std::printf("clusterd raw: %sserf raw: %s", rc.out.c_str(), rs.out.c_str());
    std::printf("FAULT | rpc wall time %.0f s\n", since(t_start));
    EXPECT_EQ(rc.held, clients) << rc.out;
    EXPECT_EQ(rc.n, clients) << rc.out;
    EXPECT_EQ(rc.errors, 0) << rc.out;
    // The latency bound is asserted when the machine is not oversubscribed (1-minute load
    // average below the number of CPUs); on a machine running parallel builds it is printed.
    double load = 0;
    std::ifstream("/proc/loadavg") >> load;
    const double cpus = static_cast<double>(std::thread::hardware_concurrency());
    if (load < cpus)
        EXPECT_LT(rc.p99, 100.0) << rc.out;
    else
        std::printf(
            "FAULT | rpc: p99 bound not asserted, load average %.1f on %.0f CPUs (clusterd p99 %s ms)\n",
            load, cpus, fmt(rc.p99).c_str());
    EXPECT_EQ(rc.fast_min, events) << rc.out;
}
