// The simulation swarm: real serf::Node (and its swim::Endpoint) cores in the deterministic
// simulator under random fault schedules drawn from a seed (cluster size, loss, delay, jitter,
// one- and two-way partitions and heals, pauses, crashes, restarts with and without a
// snapshot, graceful leaves, per-node clock offsets and rate skew, user events), with an
// invariant checker after every simulator step. See docs/reliability.md ("Simulation swarm").
//
//   serf_swarm                      seeds 1..200 (the ctest entry)
//   serf_swarm --seeds 10000        seeds 1..10000
//   serf_swarm --first 500 --seeds 100
//   serf_swarm --seed 42 --verbose  one seed, printing the schedule as it runs
//   CLUSTERD_SWARM_PER_SEED=1 serf_swarm ...   one line per passing seed (convergence time)
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "clusterd/base/rng.hpp"
#include "clusterd/serf/node.hpp"
#include "clusterd/sim/simulator.hpp"
#include "clusterd/swim/timing.hpp"
#include "clusterd/wire/serf_messages.hpp"
#include "sim_serf/serf_sim_cluster.hpp"

using namespace clusterd;
using namespace std::chrono_literals;
using serf::MemberStatus;
using serftest::SerfHost;

namespace {

double secs(base::Duration d) {
    return std::chrono::duration<double>(d).count();
}
double secs(base::Instant t) {
    return secs(t.since_epoch);
}

struct Failure {
    std::uint64_t step = 0;
    base::Instant at{};
    std::string invariant;
    std::string detail;
};

/// Figures of one run (for the summary line).
struct RunStats {
    std::size_t nodes = 0;
    double sim_seconds = 0;
    double converge_seconds = 0; ///< after the heal
    double bound_seconds = 0;
    std::uint64_t steps = 0;
    std::size_t user_events = 0;
    std::size_t crashes = 0, restarts = 0, pauses = 0, partitions = 0, leaves = 0;
    std::size_t max_swim_queue = 0, max_serf_queue = 0, max_intents = 0;
    std::size_t excused = 0;        ///< (event, node) pairs not required: below the node's event min time
    std::size_t operator_joins = 0; ///< islands bridged at the heal
};

/// What the checker remembers about one member as one process sees it.
struct Track {
    std::optional<std::uint32_t> inc;           ///< last incarnation held by the endpoint
    std::optional<std::uint32_t> dead_inc;      ///< incarnation at which the endpoint held it dead/left
    std::optional<base::Instant> dead_since;    ///< observer's local time when it first held it dead
    std::optional<std::uint32_t> serf_down_inc; ///< incarnation when Serf showed it failed/left
    bool serf_down = false;
    int last_state = -1;                  ///< for --verbose tracing of swim state changes
    int last_status = -1;                 ///< ... and of Serf status changes
    std::uint64_t last_ltime_key = ~0ULL; ///< ... and of status Lamport times
};

/// One running process of one node slot.
struct Proc {
    std::uint64_t gen = 0;
    serf::LamportTime member_time = 0, event_time = 0, query_time = 0;
    std::vector<Track> tracks;            ///< by member index
    std::map<std::string, int> delivered; ///< user event name -> deliveries
    std::size_t joins_seen = 0;           ///< entries of host.joins already looked at
    std::uint64_t forgotten = 0;          ///< the endpoint's forgotten-node count at the last check
    std::size_t logs_seen = 0;            ///< --verbose: log lines already looked at
    std::optional<std::uint64_t> join_id; ///< the start/retry join in flight
    bool joined = false;                  ///< a start/retry join succeeded once
    base::Instant next_join_retry = base::Instant::max();
};

struct SentEvent {
    std::string name;
    std::size_t from;
    std::uint64_t from_gen;
    std::vector<std::uint64_t> gens; ///< every slot's process generation when it was sent
    base::Instant at;
    serf::LamportTime ltime = 0;
};

enum class Fate : std::uint8_t { Running, Crashed, Leaving, Left };

class Swarm {
  public:
    Swarm(std::uint64_t seed, bool verbose)
        : seed_(seed), verbose_(verbose), rng_(base::Rng::mix(seed, 0x5a4a12ULL)), sim_(seed) {}

    std::optional<Failure> run(RunStats& st);

  private:
    // ---- setup -------------------------------------------------------------------------------
    serf::Config config_for(std::size_t i, const swim::Address& addr) const {
        serf::Config c;
        c.memberlist = swim::Config::lan();
        c.memberlist.name = names_[i];
        c.memberlist.advertise_addr = addr.ip;
        c.memberlist.advertise_port = addr.port;
        c.reconnect_interval = kReconnectInterval;
        c.snapshot = snapshot_[i];
        return c;
    }
    std::unique_ptr<sim::SimHost> make_host(std::size_t i, const swim::Address& addr, std::uint64_t seed,
                                            base::Instant now) {
        serf::Config c = config_for(i, addr);
        std::unique_ptr<SerfHost> h;
        if (c.snapshot && !files_[i].empty()) {
            auto state = serf::SnapshotState::replay(files_[i], c.rejoin_after_leave);
            h = std::make_unique<SerfHost>(c, seed, now, &files_[i], &state);
            h->node.rejoin_previous(now);
        } else {
            h = std::make_unique<SerfHost>(c, seed, now, c.snapshot ? &files_[i] : nullptr);
        }
        Proc& p = procs_[i];
        // The swarm writes the snapshot synchronously (after every call), so a process restored
        // from it starts with at least the member clock its predecessor had last.
        if (c.snapshot && !files_[i].empty() && h->node.clocks().member < p.member_time)
            fail("Lamport clocks never go backwards",
                 names_[i] + " restored member clock " + std::to_string(h->node.clocks().member) +
                     " from its snapshot, the previous process had " + std::to_string(p.member_time));
        p = Proc{};
        p.gen = ++gen_counter_;
        p.tracks.assign(n_, Track{});
        h->on_event = [this, i](const serf::Event& e) { on_event(i, e); };
        return h;
    }
    SerfHost& host(std::size_t i) { return *static_cast<SerfHost*>(sim_.host(i)); }
    serf::Node& node(std::size_t i) { return host(i).node; }
    base::Instant lnow(std::size_t i) const { return sim_.local_now(i); }

    void log(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
        if (!verbose_)
            return;
        std::printf("[t=%8.3f] ", secs(sim_.now()));
        va_list ap;
        va_start(ap, fmt);
        std::vprintf(fmt, ap);
        va_end(ap);
        std::printf("\n");
    }

    // ---- invariants ----------------------------------------------------------------------------
    void fail(std::string invariant, std::string detail) {
        if (failure_)
            return;
        failure_ = Failure{steps_, sim_.now(), std::move(invariant), std::move(detail)};
    }
    void on_event(std::size_t i, const serf::Event& e) {
        if (const auto* m = std::get_if<serf::MemberEvent>(&e); m && verbose_) {
            for (const auto& mem : m->members) {
                const std::optional<swim::Node> sn = node(i).endpoint().find(mem.name);
                log("  %s: %s %s (incarnation %u)", names_[i].c_str(), serf::event_type_name(m->type),
                    mem.name.c_str(), sn ? sn->incarnation : 0u);
            }
        }
        const auto* u = std::get_if<serf::UserEvent>(&e);
        if (!u)
            return;
        if (!sent_names_.count(u->name)) {
            fail("user event delivered exactly once",
                 names_[i] + " delivered an event nobody sent: " + u->name);
            return;
        }
        log("  %s: user event %s (Lamport time %" PRIu64 ")", names_[i].c_str(), u->name.c_str(), u->ltime);
        int n = ++procs_[i].delivered[u->name];
        if (n > 1)
            fail("user event delivered exactly once",
                 names_[i] + " delivered " + u->name + " " + std::to_string(n) + " times (duplicate)");
    }
    void check(std::size_t i) {
        ++steps_;
        if (failure_ || !sim_.is_up(i))
            return;
        const serf::Node& nd = node(i);
        Proc& p = procs_[i];
        auto lamport = [&](const char* which, serf::LamportTime now, serf::LamportTime& last) {
            if (now < last)
                fail("Lamport clocks never go backwards", names_[i] + " " + which + " clock went from " +
                                                              std::to_string(last) + " to " +
                                                              std::to_string(now));
            last = now;
        };
        lamport("member", nd.clocks().member, p.member_time);
        lamport("event", nd.clocks().event, p.event_time);
        lamport("query", nd.clocks().query, p.query_time);

        const swim::Endpoint& ep = nd.endpoint();
        // A node can be forgotten and learned again within one step (an ack in a compound packet
        // starts the next probe round, which forgets the long dead; the next message in the same
        // packet is an old alive about it). Such a member was dead here for more than
        // gossip_to_the_dead_time when this step forgot something: start over for it.
        const bool forgot_now = ep.stats().forgotten != p.forgotten;
        p.forgotten = ep.stats().forgotten;
        const base::Instant local = lnow(i);
        const base::Duration dead_time = nd.config().memberlist.gossip_to_the_dead_time;
        for (std::size_t m = 0; m < n_; ++m) {
            Track& t = p.tracks[m];
            const std::optional<swim::Node> sn = ep.find(names_[m]);
            if (sn && forgot_now && t.dead_since && local - *t.dead_since > dead_time &&
                !sn->dead_or_left()) {
                log("    %s: swim %s forgotten and learned again in one step", names_[i].c_str(),
                    names_[m].c_str());
                const int ls = t.last_status;
                t = Track{};
                t.last_status = ls;
            }
            if (!sn) {
                // Forgotten (gossip_to_the_dead_time) or never known: it may be (re-)learned at
                // any incarnation. Keep only the --verbose trace state.
                const int ls = t.last_status;
                if (verbose_ && t.inc)
                    log("    %s: swim %s forgotten", names_[i].c_str(), names_[m].c_str());
                t = Track{};
                t.last_status = ls;
            } else {
                if (t.inc && sn->incarnation < *t.inc)
                    fail("incarnations only rise", names_[i] + " holds " + names_[m] + " at incarnation " +
                                                       std::to_string(sn->incarnation) + " after " +
                                                       std::to_string(*t.inc));
                if (verbose_ && (static_cast<int>(sn->state) != t.last_state || t.inc != sn->incarnation))
                    log("    %s: swim %s %s incarnation %u", names_[i].c_str(), names_[m].c_str(),
                        swim::state_name(sn->state), sn->incarnation);
                t.last_state = static_cast<int>(sn->state);
                t.inc = sn->incarnation;
                if (sn->dead_or_left()) {
                    if (!t.dead_inc || *t.dead_inc < sn->incarnation)
                        t.dead_inc = sn->incarnation;
                    if (!t.dead_since && sn->state == swim::State::Dead)
                        t.dead_since = local; // Left is never forgotten
                } else if (t.dead_inc) {
                    if (sn->incarnation <= *t.dead_inc)
                        fail("dead never comes back without a higher incarnation",
                             names_[i] + " holds " + names_[m] + " " + swim::state_name(sn->state) +
                                 " at incarnation " + std::to_string(sn->incarnation) +
                                 " after dead/left at " + std::to_string(*t.dead_inc));
                    t.dead_inc.reset();
                    t.dead_since.reset();
                }
            }
            const MemberStatus s = nd.member_status(names_[m]);
            if (verbose_ && static_cast<int>(s) != t.last_status)
                log("    %s: serf %s %s", names_[i].c_str(), names_[m].c_str(), serf::status_name(s));
            t.last_status = static_cast<int>(s);
            if (verbose_ && s != MemberStatus::None) {
                auto d = wire::decode_serf(node(i).delegate().local_state(false));
                if (d) {
                    const auto& pp = std::get<wire::SerfPushPull>(*d);
                    auto it = pp.status_ltimes.find(names_[m]);
                    const bool on_left = std::find(pp.left_members.begin(), pp.left_members.end(),
                                                   names_[m]) != pp.left_members.end();
                    const std::uint64_t key = (it == pp.status_ltimes.end() ? 0 : it->second) * 2 + on_left;
                    if (key != t.last_ltime_key) {
                        t.last_ltime_key = key;
                        log("    %s: serf %s status time %" PRIu64 "%s (member clock %" PRIu64 ")",
                            names_[i].c_str(), names_[m].c_str(), key / 2, on_left ? " (sent as left)" : "",
                            pp.ltime);
                    }
                }
            }
            if (s == MemberStatus::Failed || s == MemberStatus::Left) {
                if (!t.serf_down) {
                    t.serf_down = true;
                    if (sn)
                        t.serf_down_inc = sn->incarnation;
                }
            } else if (s == MemberStatus::Alive && t.serf_down) {
                if (t.serf_down_inc && (!sn || sn->incarnation <= *t.serf_down_inc))
                    fail("dead never comes back without a higher incarnation",
                         names_[i] + " shows " + names_[m] + " alive again in Serf at incarnation " +
                             (sn ? std::to_string(sn->incarnation) : std::string("?")) +
                             " after failed/left at " + std::to_string(*t.serf_down_inc));
                t.serf_down = false;
                t.serf_down_inc.reset();
            }
        }

        // Queues: the limits the cores have.
        const std::size_t swim_q = ep.queued_broadcasts();
        if (swim_q > n_) // memberlist's queue holds at most one broadcast per node name
            fail("queues stay bounded", names_[i] + " memberlist queue " + std::to_string(swim_q) + " > " +
                                            std::to_string(n_) + " node names");
        const std::size_t depth = nd.config().max_queue_depth;
        for (auto [what, q] :
             {std::pair{"intent", nd.gauges().intent_queue}, std::pair{"event", nd.gauges().event_queue},
              std::pair{"query", nd.gauges().query_queue}}) {
            if (q > depth)
                fail("queues stay bounded", names_[i] + " serf " + what + " queue " + std::to_string(q) +
                                                " > max_queue_depth " + std::to_string(depth));
            max_serf_queue_ = std::max(max_serf_queue_, q);
        }
        if (nd.gauges().intent_buffer > n_) // intents are kept per node name, one each
            fail("queues stay bounded", names_[i] + " intent buffer " +
                                            std::to_string(nd.gauges().intent_buffer) + " > " +
                                            std::to_string(n_) + " node names");
        if (nd.gauges().event_buffer_slots != nd.config().event_buffer)
            fail("queues stay bounded",
                 names_[i] + " event buffer has " + std::to_string(nd.gauges().event_buffer_slots) +
                     " slots, config says " + std::to_string(nd.config().event_buffer));
        if (nd.gauges().pending_outputs > 3 * 4096)
            fail("queues stay bounded",
                 names_[i] + " output queues hold " + std::to_string(nd.gauges().pending_outputs));
        max_swim_queue_ = std::max(max_swim_queue_, swim_q);
        max_intents_ = std::max(max_intents_, nd.gauges().intent_buffer);

        if (verbose_) {
            const auto& logs = host(i).logs;
            for (; p.logs_seen < logs.size(); ++p.logs_seen)
                if (logs[p.logs_seen].text.find("Refut") != std::string::npos)
                    log("  %s: %s", names_[i].c_str(), logs[p.logs_seen].text.c_str());
        }
        // Join results (the agent's retry_join): retry every kJoinRetry until one succeeds.
        auto& joins = host(i).joins;
        for (; p.joins_seen < joins.size(); ++p.joins_seen) {
            const auto& r = joins[p.joins_seen];
            log("  %s: join %" PRIu64 " seed %s %s%s (%zu remaining)", names_[i].c_str(), r.join_id,
                r.seed.to_string().c_str(), r.ok ? "ok" : "failed: ", r.error.c_str(), r.remaining);
            if (!p.join_id || r.join_id != *p.join_id)
                continue;
            if (r.ok)
                p.joined = true;
            if (r.remaining == 0) {
                p.join_id.reset();
                if (!p.joined)
                    p.next_join_retry = sim_.now() + kJoinRetry;
            }
        }
    }

    // ---- actions -----------------------------------------------------------------------------
    bool running(std::size_t i) const { return fate_[i] == Fate::Running && sim_.is_up(i); }
    std::size_t count_running() const {
        std::size_t c = 0;
        for (std::size_t i = 0; i < n_; ++i)
            c += running(i);
        return c;
    }
    std::optional<std::size_t> pick(const std::function<bool(std::size_t)>& ok) {
        std::vector<std::size_t> c;
        for (std::size_t i = 0; i < n_; ++i)
            if (ok(i))
                c.push_back(i);
        if (c.empty())
            return std::nullopt;
        return c[rng_.below(c.size())];
    }
    /// The agent's start_join/retry_join: three random other nodes (the first time, node-0, the
    /// node that formed the cluster, and two random ones).
    void start_join(std::size_t i, bool bootstrap = false) {
        std::vector<swim::Address> seeds;
        std::vector<std::size_t> others;
        for (std::size_t j = bootstrap ? 1 : 0; j < n_; ++j)
            if (j != i)
                others.push_back(j);
        rng_.shuffle(others);
        if (bootstrap)
            seeds.push_back(sim_.address(0));
        for (std::size_t k = 0; k < others.size() && seeds.size() < 3; ++k)
            seeds.push_back(sim_.address(others[k]));
        // The agent's start_join: ignore_old (replay_on_join is off by default).
        auto r = node(i).join(seeds, true, lnow(i));
        Proc& p = procs_[i];
        p.next_join_retry = base::Instant::max();
        if (r)
            p.join_id = *r;
        host(i).drain();
        sim_.poke(i);
    }
    void crash(std::size_t i, bool for_good) {
        sim_.crash(i);
        procs_[i].gen = ++gen_counter_;
        if (for_good)
            fate_[i] = Fate::Crashed;
    }
    void restart(std::size_t i) {
        sim_.restart(i);
        fate_[i] = Fate::Running;
        start_join(i);
    }
    void user_event(std::size_t i) {
        std::string name = "ev-" + std::to_string(sent_.size());
        sent_names_.insert(name);
        SentEvent ev{name, i, procs_[i].gen, {}, sim_.now(), node(i).clocks().event};
        for (std::size_t j = 0; j < n_; ++j)
            ev.gens.push_back(sim_.is_up(j) ? procs_[j].gen : 0);
        sent_.push_back(std::move(ev));
        auto payload = base::to_bytes("p" + std::to_string(rng_.below(1000)));
        auto st = node(i).user_event(name, payload, false, lnow(i));
        if (!st) {
            fail("user event accepted", names_[i] + ": " + st.error().message);
            return;
        }
        host(i).drain();
        sim_.poke(i);
    }
    std::vector<std::size_t> shuffled_all() {
        std::vector<std::size_t> v(n_);
        for (std::size_t i = 0; i < n_; ++i)
            v[i] = i;
        rng_.shuffle(v);
        return v;
    }
    /// Must node j (have) deliver(ed) `ev`? The sender and j stayed up (same process) since it
    /// was sent, and j's event minimum time (ignore-old join, snapshot restore) does not exclude it.
    bool required(const SentEvent& ev, std::size_t j) {
        if (!running(ev.from) || procs_[ev.from].gen != ev.from_gen)
            return false;
        if (!running(j) || procs_[j].gen != ev.gens[j])
            return false;
        if (ev.ltime < node(j).clocks().event_min) {
            excused_.insert({ev.name, j});
            return false;
        }
        return true;
    }
    /// Live nodes that know nothing of each other (not even as failed) can never merge: Serf's
    /// reconnect only dials members it knows, and a push-pull does not introduce a member it
    /// reports as suspect or dead. That happens when processes restart while partitioned and
    /// the only node they both joined dies. An operator would `serf join` the islands; so does
    /// the swarm, once, 25 s after the heal if the views have not converged by then (counted in
    /// the summary).
    void bridge_islands(RunStats& st) {
        std::vector<std::size_t> comp(n_, n_);
        std::vector<std::size_t> live;
        for (std::size_t i = 0; i < n_; ++i)
            if (running(i))
                live.push_back(i);
        // Knowing a member as left does not help: Serf's reconnect dials only failed members,
        // and memberlist neither probes nor gossips to left ones.
        auto knows = [&](std::size_t a, std::size_t b) {
            const MemberStatus ms = node(a).member_status(names_[b]);
            return ms == MemberStatus::Alive || ms == MemberStatus::Leaving || ms == MemberStatus::Failed;
        };
        std::vector<std::size_t> roots;
        for (std::size_t r : live) {
            if (comp[r] != n_)
                continue;
            roots.push_back(r);
            std::vector<std::size_t> stack{r};
            comp[r] = r;
            while (!stack.empty()) {
                std::size_t a = stack.back();
                stack.pop_back();
                for (std::size_t b : live)
                    if (comp[b] == n_ && (knows(a, b) || knows(b, a))) {
                        comp[b] = r;
                        stack.push_back(b);
                    }
            }
        }
        for (std::size_t k = 1; k < roots.size(); ++k) {
            log("islands: operator joins %s to %s", names_[roots[k]].c_str(), names_[roots[0]].c_str());
            ++st.operator_joins;
            (void)node(roots[k]).join({sim_.address(roots[0])}, true, lnow(roots[k])); // `serf join`
            host(roots[k]).drain();
            sim_.poke(roots[k]);
        }
    }
    void random_action(RunStats& st);
    void housekeeping();
    bool converged(std::string* why);
    base::Duration convergence_bound() const;

    static constexpr base::Duration kReconnectInterval = 10s;
    static constexpr base::Duration kJoinRetry = 10s;
    static constexpr base::Duration kStable = 10s;
    static constexpr base::Duration kIslandGrace = 15s; ///< > tcp_timeout: a join has settled

    std::uint64_t seed_;
    bool verbose_;
    base::Rng rng_;
    sim::Simulator sim_;
    std::size_t n_ = 0;
    std::vector<std::string> names_;
    std::vector<bool> snapshot_;
    std::map<std::size_t, std::string> files_;
    std::vector<Proc> procs_;
    std::vector<Fate> fate_;
    std::vector<bool> ever_left_; ///< an earlier process of the node left gracefully
    std::uint64_t gen_counter_ = 0;
    std::vector<SentEvent> sent_;
    std::set<std::string> sent_names_;
    std::multimap<base::Instant, std::function<void()>> timed_; ///< resumes, restarts, heals
    std::optional<Failure> failure_;
    std::uint64_t steps_ = 0;
    std::size_t max_swim_queue_ = 0, max_serf_queue_ = 0, max_intents_ = 0;
    bool partitioned_ = false;
    std::set<std::pair<std::string, std::size_t>> excused_; ///< (event, node) below the min time
};

void Swarm::random_action(RunStats& st) {
    const std::uint64_t roll = rng_.below(100);
    if (roll < 30) { // a user event
        if (auto i = pick([&](std::size_t j) {
                return running(j) && !sim_.is_paused(j) && node(j).state() == serf::NodeState::Alive;
            })) {
            log("user event ev-%zu from %s", sent_.size(), names_[*i].c_str());
            user_event(*i);
        }
    } else if (roll < 42) { // loss, delay and jitter for every link
        static constexpr double losses[] = {0.0, 0.02, 0.05, 0.1, 0.2, 0.4};
        sim::LinkFaults f{losses[rng_.below(6)], std::chrono::milliseconds(1 + rng_.below(20)),
                          std::chrono::milliseconds(rng_.below(30))};
        log("links: loss %.2f delay %.0f ms jitter %.0f ms", f.loss, secs(f.delay) * 1000,
            secs(f.jitter) * 1000);
        sim_.set_default_link(f);
        if (rng_.chance(0.3))
            sim_.clear_links();
    } else if (roll < 48) { // one bad directed link
        std::size_t a = rng_.below(n_), b = rng_.below(n_);
        if (a != b) {
            sim::LinkFaults f{0.3 + 0.7 * rng_.unit(), std::chrono::milliseconds(1 + rng_.below(200)),
                              std::chrono::milliseconds(rng_.below(50))};
            log("link %s -> %s: loss %.2f delay %.0f ms", names_[a].c_str(), names_[b].c_str(), f.loss,
                secs(f.delay) * 1000);
            sim_.set_link(a, b, f);
        }
    } else if (roll < 58) { // a partition (2 or 3 groups, or one node cut off; sometimes one-way)
        auto v = shuffled_all();
        const std::size_t groups = 2 + rng_.below(2);
        std::vector<std::vector<std::size_t>> g(groups);
        const bool isolate = rng_.chance(0.3);
        for (std::size_t k = 0; k < v.size(); ++k)
            g[isolate ? (k == 0 ? 0 : 1) : rng_.below(groups)].push_back(v[k]);
        const bool one_way = rng_.chance(0.2);
        std::string desc;
        for (std::size_t x = 0; x < groups; ++x) {
            desc += x ? " | " : "";
            for (std::size_t y : g[x])
                desc += std::to_string(y) + " ";
            for (std::size_t y = x + 1; y < groups; ++y)
                sim_.partition(g[x], g[y], one_way);
        }
        log("partition%s: %s", one_way ? " (one way)" : "", desc.c_str());
        partitioned_ = true;
        ++st.partitions;
        const base::Duration len = std::chrono::milliseconds(500 + rng_.below(25000));
        timed_.emplace(sim_.now() + len, [this] {
            log("heal partitions");
            sim_.heal();
            partitioned_ = false;
        });
    } else if (roll < 68) { // pause a process
        if (auto i = pick([&](std::size_t j) { return sim_.is_up(j) && !sim_.is_paused(j); })) {
            const base::Duration len = std::chrono::milliseconds(100 + rng_.below(15000));
            log("pause %s for %.3f s", names_[*i].c_str(), secs(len));
            sim_.pause(*i);
            ++st.pauses;
            const std::uint64_t gen = procs_[*i].gen;
            timed_.emplace(sim_.now() + len, [this, i = *i, gen] {
                if (procs_[i].gen != gen || !sim_.is_paused(i))
                    return;
                log("resume %s", names_[i].c_str());
                sim_.resume(i);
            });
        }
    } else if (roll < 77) { // crash (sometimes restarted later, sometimes for good)
        if (count_running() > 2) {
            if (auto i = pick([&](std::size_t j) { return running(j); })) {
                const bool later = rng_.chance(0.6);
                log("crash %s%s", names_[*i].c_str(), later ? " (restart later)" : "");
                crash(*i, true);
                ++st.crashes;
                if (later) {
                    const base::Duration len = std::chrono::milliseconds(200 + rng_.below(20000));
                    timed_.emplace(sim_.now() + len, [this, i = *i] {
                        if (fate_[i] != Fate::Crashed || sim_.is_up(i))
                            return;
                        log("restart %s (snapshot %s)", names_[i].c_str(), snapshot_[i] ? "yes" : "no");
                        restart(i);
                    });
                }
            }
        }
    } else if (roll < 85) { // restart in place (kill -9 and start again)
        if (auto i = pick([&](std::size_t j) { return running(j); })) {
            log("restart %s now (snapshot %s)", names_[*i].c_str(), snapshot_[*i] ? "yes" : "no");
            crash(*i, false);
            restart(*i);
            ++st.restarts;
        }
    } else if (roll < 89) { // graceful leave, then the process exits
        if (count_running() > 2) {
            if (auto i = pick([&](std::size_t j) {
                    return running(j) && !sim_.is_paused(j) && node(j).state() == serf::NodeState::Alive;
                })) {
                log("leave %s", names_[*i].c_str());
                fate_[*i] = Fate::Leaving;
                (void)node(*i).leave(lnow(*i));
                host(*i).drain();
                sim_.poke(*i);
                ++st.leaves;
            }
        }
    } else if (roll < 95) { // clock rate skew
        const std::size_t i = rng_.below(n_);
        const std::int64_t ppm = rng_.chance(0.3) ? 0 : static_cast<std::int64_t>(rng_.below(100001)) - 50000;
        log("clock of %s: %+" PRId64 " ppm", names_[i].c_str(), ppm);
        sim_.set_clock_rate(i, ppm);
    } else if (roll < 97) { // a query (moves the query clocks; nobody answers, it times out)
        if (auto i = pick([&](std::size_t j) {
                return running(j) && !sim_.is_paused(j) && node(j).state() == serf::NodeState::Alive;
            })) {
            log("query from %s", names_[*i].c_str());
            serf::QueryParams qp;
            qp.request_ack = rng_.chance(0.5);
            auto r = node(*i).query("q", base::to_bytes("x"), qp, lnow(*i));
            if (!r)
                fail("query accepted", names_[*i] + ": " + r.error().message);
            host(*i).drain();
            sim_.poke(*i);
        }
    } else if (roll < 99) { // new tags: a new alive message with a higher incarnation
        if (auto i = pick([&](std::size_t j) {
                return running(j) && !sim_.is_paused(j) && node(j).state() == serf::NodeState::Alive;
            })) {
            log("new tags on %s", names_[*i].c_str());
            auto r = node(*i).set_tags({{"v", std::to_string(rng_.below(1000))}}, lnow(*i));
            if (!r)
                fail("tags accepted", names_[*i] + ": " + r.error().message);
            host(*i).drain();
            sim_.poke(*i);
        }
    } else { // nothing for a while
    }
}

void Swarm::housekeeping() {
    for (std::size_t i = 0; i < n_; ++i) {
        if (!sim_.is_up(i) || sim_.is_paused(i))
            continue;
        if (fate_[i] == Fate::Leaving && node(i).leave_complete()) {
            log("%s left; process exits", names_[i].c_str());
            node(i).shutdown();
            crash(i, false);
            fate_[i] = Fate::Left;
            ever_left_[i] = true;
            if (rng_.chance(0.4)) { // the agent is started again later
                const base::Duration len = std::chrono::milliseconds(500 + rng_.below(20000));
                timed_.emplace(sim_.now() + len, [this, i] {
                    if (fate_[i] != Fate::Left || sim_.is_up(i))
                        return;
                    log("start %s again after its leave (snapshot %s)", names_[i].c_str(),
                        snapshot_[i] ? "yes" : "no");
                    restart(i);
                });
            }
            continue;
        }
        Proc& p = procs_[i];
        if (fate_[i] == Fate::Running && !p.joined && !p.join_id && sim_.now() >= p.next_join_retry &&
            node(i).state() == serf::NodeState::Alive) {
            log("retry join of %s", names_[i].c_str());
            start_join(i);
        }
    }
}

/// After the heal, how long until every view must equal ground truth and every event must have
/// arrived (see docs/reliability.md for the reasoning):
///   refute/detect:  awareness_max x probe_interval (probe period at the worst Lifeguard score)
///                   + max suspicion timeout (suspicion_max_timeout_mult x the minimum)
///   re-merge:       4 x reconnect_interval (Serf's randomly throttled reconnect) + the agent's
///                   retry_join interval
///   leave:          2 x broadcast_timeout + leave_propagate_delay (a leave still in progress)
///   events:         10 x push_pull_interval: a user event that gossip could not carry across a
///                   partition spreads afterwards only by push-pull anti-entropy (Serf does not
///                   re-gossip events it learns from a push-pull), one random peer per node per
///                   interval
base::Duration Swarm::convergence_bound() const {
    serf::Config c = config_for(0, sim_.address(0));
    const auto& m = c.memberlist;
    const base::Duration susp_max =
        swim::suspicion_timeout(m.suspicion_mult, n_, m.probe_interval) * m.suspicion_max_timeout_mult;
    return m.probe_interval * m.awareness_max_multiplier + susp_max + 4 * c.reconnect_interval + kJoinRetry +
           10 * swim::push_pull_scale(m.push_pull_interval, n_) + 2 * c.broadcast_timeout +
           c.leave_propagate_delay;
}

bool Swarm::converged(std::string* why) {
    auto say = [&](std::string s) {
        if (why)
            *why = std::move(s);
        return false;
    };
    for (std::size_t i = 0; i < n_; ++i)
        if (fate_[i] == Fate::Leaving)
            return say(names_[i] + " is still leaving");
    for (std::size_t v = 0; v < n_; ++v) {
        if (!running(v))
            continue;
        for (std::size_t m = 0; m < n_; ++m) {
            const MemberStatus s = node(v).member_status(names_[m]);
            bool ok;
            if (running(m)) {
                // Alive in Serf, and alive (not suspect) in memberlist: a suspicion still running
                // may yet end in a (false) death that the member then refutes.
                const std::optional<swim::Node> sn = node(v).endpoint().find(names_[m]);
                ok = s == MemberStatus::Alive && sn && sn->state == swim::State::Alive;
                if (s == MemberStatus::Alive && !ok)
                    return say(names_[v] + " still suspects " + names_[m]);
            } else if (fate_[m] == Fate::Crashed) // or left, if an earlier process of it left
                ok = s == MemberStatus::Failed || s == MemberStatus::None ||
                     (ever_left_[m] && s == MemberStatus::Left);
            else // left: left, or failed where the leave never arrived before the process exited
                ok = s == MemberStatus::Left || s == MemberStatus::Failed || s == MemberStatus::None;
            if (!ok && why) {
                // Diagnostics: the status Lamport times this node and the member itself hold.
                auto st_time = [&](std::size_t who) -> std::string {
                    if (!sim_.is_up(who))
                        return "-";
                    auto d = wire::decode_serf(node(who).delegate().local_state(false));
                    if (!d)
                        return "?";
                    const auto& pp = std::get<wire::SerfPushPull>(*d);
                    auto it = pp.status_ltimes.find(names_[m]);
                    return it == pp.status_ltimes.end() ? "none" : std::to_string(it->second);
                };
                *why = " (status time " + st_time(v) + " here, " + st_time(m) + " at " + names_[m] + ")";
            }
            if (!ok)
                return say(names_[v] + " sees " + names_[m] + " " + serf::status_name(s) + ", truth: " +
                           (running(m)                  ? "alive"
                            : fate_[m] == Fate::Crashed ? "crashed"
                                                        : "left") +
                           (why ? *why : std::string()));
        }
    }
    for (const auto& ev : sent_) {
        for (std::size_t j = 0; j < n_; ++j) {
            if (!required(ev, j))
                continue;
            auto it = procs_[j].delivered.find(ev.name);
            if (it == procs_[j].delivered.end())
                return say(names_[j] + " has not delivered " + ev.name + " (Lamport time " +
                           std::to_string(ev.ltime) + " from " + names_[ev.from] + "; its event clock " +
                           std::to_string(node(j).clocks().event) + ", minimum " +
                           std::to_string(node(j).clocks().event_min) + ", old events dropped " +
                           std::to_string(node(j).stats().user_events_old) + ")");
        }
    }
    return true;
}

std::optional<Failure> Swarm::run(RunStats& st) {
    n_ = 3 + rng_.below(22); // 3..24
    names_.resize(n_);
    snapshot_.resize(n_);
    procs_.resize(n_);
    fate_.assign(n_, Fate::Running);
    ever_left_.assign(n_, false);
    for (std::size_t i = 0; i < n_; ++i) {
        names_[i] = serftest::node_name(i);
        snapshot_[i] = rng_.chance(0.5);
    }
    sim_.on_step = [this](std::size_t i) { check(i); };
    const base::Duration fault_phase = std::chrono::seconds(20 + rng_.below(71)); // 20..90 s
    log("seed %" PRIu64 ": %zu nodes, faults for %.0f s", seed_, n_, secs(fault_phase));
    for (std::size_t i = 0; i < n_; ++i) {
        sim::NodeClock clock;
        clock.offset = std::chrono::seconds(rng_.below(100000)); // a boot-time epoch per machine
        clock.ppm = rng_.chance(0.5) ? static_cast<std::int64_t>(rng_.below(20001)) - 10000 : 0;
        sim_.add_node([this](std::size_t idx, const swim::Address& addr, std::uint64_t seed,
                             base::Instant now) { return make_host(idx, addr, seed, now); },
                      clock);
    }
    for (std::size_t i = 1; i < n_; ++i)
        start_join(i, true);
    procs_[0].joined = true; // the first agent starts alone
    // The cluster forms without faults first (a deployment that worked before things broke).
    while (!failure_ && !converged(nullptr) && sim_.now() < base::Instant{} + 30s)
        sim_.run_for(100ms);
    if (!failure_ && !converged(nullptr))
        fail("the cluster forms", "not converged 30 s after the start");
    log("cluster formed");

    const base::Instant fault_end = sim_.now() + fault_phase;
    base::Instant next_action = sim_.now() + std::chrono::milliseconds(rng_.below(3000));
    auto advance_to = [&](base::Instant limit) {
        while (!failure_ && sim_.now() < limit) {
            base::Instant t = std::min(limit, sim_.now() + 250ms);
            if (!timed_.empty())
                t = std::min(t, timed_.begin()->first);
            sim_.run_until(t);
            while (!timed_.empty() && timed_.begin()->first <= sim_.now()) {
                auto f = std::move(timed_.begin()->second);
                timed_.erase(timed_.begin());
                f();
            }
            housekeeping();
        }
    };
    while (!failure_ && sim_.now() < fault_end) {
        advance_to(std::min(next_action, fault_end));
        if (failure_ || sim_.now() >= fault_end)
            break;
        random_action(st);
        next_action = sim_.now() + std::chrono::milliseconds(100 + rng_.below(2500));
    }

    // Heal everything: links, partitions, paused processes; pending restarts happen now.
    if (!failure_) {
        log("heal everything");
        sim_.heal();
        sim_.clear_links();
        sim_.set_default_link(sim::LinkFaults{0.0, std::chrono::milliseconds(1 + rng_.below(5)),
                                              std::chrono::milliseconds(rng_.below(3))});
        std::vector<std::function<void()>> pending;
        for (auto& [t, f] : timed_)
            pending.push_back(std::move(f));
        timed_.clear();
        for (auto& f : pending)
            f(); // resumes, restarts, heals (all due now)
        for (std::size_t i = 0; i < n_; ++i)
            if (sim_.is_paused(i))
                sim_.resume(i);
        sim_.heal();
    }
    const base::Instant healed = sim_.now();
    bool bridged = false;
    const base::Duration bound = convergence_bound();
    st.bound_seconds = secs(bound);
    // Converged = ground truth everywhere, held without a break for kStable (a probe that was in
    // flight at the heal can still start a suspicion, which a refutation then clears). It must
    // begin within the bound.
    std::optional<base::Instant> since;
    while (!failure_) {
        if (converged(nullptr)) {
            if (!since)
                since = sim_.now();
            if (sim_.now() - *since >= kStable)
                break;
        } else {
            since.reset();
            if (sim_.now() - healed > bound)
                break;
            // Joins still in flight at the heal (a restart at the heal, retry_join every 10 s)
            // settle first; whoever is then cut off from the rest is an island.
            if (!bridged && sim_.now() - healed >= kJoinRetry + kIslandGrace) {
                bridged = true;
                bridge_islands(st);
            }
        }
        advance_to(sim_.now() + 250ms);
    }
    st.converge_seconds = secs((since ? *since : sim_.now()) - healed);
    if (!failure_ && !since) {
        std::string why;
        converged(&why);
        fail("views converge to ground truth after the heal",
             "not within " + std::to_string(static_cast<int>(secs(bound))) + " s: " + why);
    }
    if (!failure_) {
        for (const auto& ev : sent_) {
            for (std::size_t j = 0; j < n_; ++j) {
                if (!required(ev, j))
                    continue;
                auto it = procs_[j].delivered.find(ev.name);
                if (it == procs_[j].delivered.end() || it->second != 1)
                    fail("user event delivered exactly once",
                         names_[j] + " delivered " + ev.name + " " +
                             std::to_string(it == procs_[j].delivered.end() ? 0 : it->second) + " times");
            }
        }
    }
    st.nodes = n_;
    st.sim_seconds = secs(sim_.now());
    st.steps = steps_;
    st.user_events = sent_.size();
    st.max_swim_queue = max_swim_queue_;
    st.max_serf_queue = max_serf_queue_;
    st.max_intents = max_intents_;
    st.excused = excused_.size();
    log("done: %s after %.3f s of %.0f s bound", failure_ ? "FAILED" : "converged", st.converge_seconds,
        st.bound_seconds);
    if (verbose_)
        for (std::size_t i = 0; i < n_; ++i)
            if (sim_.is_up(i)) {
                std::string ring;
                if (auto d = wire::decode_serf(node(i).delegate().local_state(false))) {
                    const auto& pp = std::get<wire::SerfPushPull>(*d);
                    for (const auto& slot : pp.events)
                        if (slot) {
                            ring += " " + std::to_string(slot->ltime) + ":";
                            for (const auto& e : slot->events)
                                ring += e.name + ",";
                        }
                }
                log("%s: %" PRIu64 " push-pulls (%" PRIu64 " incompatible, %" PRIu64
                    " malformed), %zu user events delivered, %" PRIu64 " duplicates dropped; ring%s",
                    names_[i].c_str(), node(i).endpoint().stats().push_pulls,
                    node(i).endpoint().stats().incompatible, node(i).endpoint().stats().malformed,
                    procs_[i].delivered.size(), node(i).stats().user_events_duplicate, ring.c_str());
            }
    return failure_;
}

[[noreturn]] void usage(const char* argv0) {
    std::fprintf(stderr,
                 "usage: %s [--seeds COUNT] [--first SEED] [--seed SEED] [--verbose]\n"
                 "  default: seeds 1..200; --seed N runs only seed N\n",
                 argv0);
    std::exit(2);
}

} // namespace

int main(int argc, char** argv) {
    std::uint64_t first = 1, count = 200;
    bool verbose = false;
    auto num = [&](int& k) -> std::uint64_t {
        if (k + 1 >= argc)
            usage(argv[0]);
        char* end = nullptr;
        const unsigned long long v = std::strtoull(argv[++k], &end, 0);
        if (end == argv[k] || *end != '\0')
            usage(argv[0]);
        return v;
    };
    for (int k = 1; k < argc; ++k) {
        if (!std::strcmp(argv[k], "--seeds"))
            count = num(k);
        else if (!std::strcmp(argv[k], "--first"))
            first = num(k);
        else if (!std::strcmp(argv[k], "--seed")) {
            first = num(k);
            count = 1;
        } else if (!std::strcmp(argv[k], "--verbose"))
            verbose = true;
        else
            usage(argv[0]);
    }
    const auto wall0 = std::chrono::steady_clock::now();
    std::size_t failed = 0;
    RunStats total;
    double sim_total = 0, worst_converge = 0;
    std::uint64_t worst_seed = 0, steps = 0;
    std::size_t events = 0, min_n = 1000, max_n = 0;
    for (std::uint64_t s = first; s < first + count; ++s) {
        RunStats st;
        Swarm swarm(s, verbose);
        auto f = swarm.run(st);
        sim_total += st.sim_seconds;
        steps += st.steps;
        events += st.user_events;
        min_n = std::min(min_n, st.nodes);
        max_n = std::max(max_n, st.nodes);
        total.crashes += st.crashes;
        total.restarts += st.restarts;
        total.pauses += st.pauses;
        total.partitions += st.partitions;
        total.leaves += st.leaves;
        total.excused += st.excused;
        total.operator_joins += st.operator_joins;
        total.max_swim_queue = std::max(total.max_swim_queue, st.max_swim_queue);
        total.max_serf_queue = std::max(total.max_serf_queue, st.max_serf_queue);
        total.max_intents = std::max(total.max_intents, st.max_intents);
        if (!f && st.converge_seconds > worst_converge) {
            worst_converge = st.converge_seconds;
            worst_seed = s;
        }
        if (count >= 1000 && (s - first + 1) % 1000 == 0)
            std::fprintf(stderr, "swarm: %" PRIu64 "/%" PRIu64 " seeds, %zu failed, %.0f s\n", s - first + 1,
                         count, failed + (f ? 1 : 0),
                         std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count());
        if (f) {
            ++failed;
            std::printf("swarm: seed %" PRIu64 " FAILED (%zu nodes) at step %" PRIu64 ", t=%.3f s: %s: %s\n",
                        s, st.nodes, f->step, secs(f->at), f->invariant.c_str(), f->detail.c_str());
            std::printf("swarm: replay: %s --seed %" PRIu64 " --verbose\n", argv[0], s);
            std::fflush(stdout);
        } else if (verbose || std::getenv("CLUSTERD_SWARM_PER_SEED")) {
            std::printf("swarm: seed %" PRIu64
                        " ok: %zu nodes, converged %.3f s after the heal (bound %.0f s)\n",
                        s, st.nodes, st.converge_seconds, st.bound_seconds);
        }
    }
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    std::printf(
        "swarm: %" PRIu64 " seeds (%" PRIu64 "..%" PRIu64 "), %zu failed, %.1f s wall; %zu..%zu nodes, "
        "%.0f simulated s, %" PRIu64 " checked steps, %zu user events, %zu crashes, %zu restarts, "
        "%zu pauses, %zu partitions, %zu leaves, %zu event deliveries excused by the ignore-old minimum "
        "time, %zu islands joined by the operator; slowest convergence %.2f s after the heal (seed %" PRIu64
        "); max queues: memberlist %zu, serf %zu, intents %zu\n",
        count, first, first + count - 1, failed, wall, min_n, max_n, sim_total, steps, events, total.crashes,
        total.restarts, total.pauses, total.partitions, total.leaves, total.excused, total.operator_joins,
        worst_converge, worst_seed, total.max_swim_queue, total.max_serf_queue, total.max_intents);
    return failed ? 1 : 0;
}
