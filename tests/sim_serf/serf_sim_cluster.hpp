// Test harness hosting serf::Node in the swim simulator: a SimHost that owns a Node and
// records its events/logs/query updates, plus membership views and snapshot restarts on top of
// the shared simulator DSL (support/sim_cluster.hpp).
#pragma once

#include "clusterd/swim/broadcast_queue.hpp"
#include "clusterd/swim/intern.hpp"

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "clusterd/serf/node.hpp"
#include "clusterd/sim/simulator.hpp"
#include "support/sim_cluster.hpp"

namespace clusterd::serftest {

class SerfHost final : public sim::SimHost {
  public:
    /// `file` (optional) plays the snapshot file: drained records are appended to it and it is
    /// rewritten when the recorder asks for compaction.
    SerfHost(serf::Config cfg, std::uint64_t seed, base::Instant now, std::string* file = nullptr,
             const serf::SnapshotState* restored = nullptr)
        : node(std::move(cfg), seed, now, restored, file ? file->size() : 0), file_(file) {
        drain();
    }

    void handle_packet(const swim::Address& from, base::ByteView msg, base::Instant now) override {
        node.handle_packet(from, msg, now);
        drain();
    }
    void handle_timeout(base::Instant now) override {
        node.handle_timeout(now);
        drain();
    }
    base::Instant next_deadline() const override { return node.next_deadline(); }
    std::optional<swim::Transmit> poll_transmit() override { return node.poll_transmit(); }
    base::Result<base::Bytes> handle_stream_request(const swim::Address& from, base::ByteView msg,
                                                    base::Instant now) override {
        auto r = node.handle_stream_request(from, msg, now);
        drain();
        return r;
    }
    void handle_stream_reply(std::uint64_t id, base::ByteView msg, base::Instant now) override {
        node.handle_stream_reply(id, msg, now);
        drain();
    }
    void stream_failed(std::uint64_t id, base::Instant now, std::string_view why,
                       swim::StreamFailure kind) override {
        node.stream_failed(id, now, why, kind);
        drain();
    }

    /// Moves everything the node produced into the recorded vectors.
    void drain() {
        while (auto e = node.poll_event()) {
            if (on_event)
                on_event(*e);
            events.push_back(std::move(*e));
        }
        while (auto u = node.poll_query_update())
            updates.push_back(std::move(*u));
        while (auto l = node.poll_log())
            logs.push_back(std::move(*l));
        while (auto j = node.poll_join_result())
            joins.push_back(std::move(*j));
        if (file_) {
            *file_ += node.drain_snapshot();
            if (auto* rec = node.snapshot_recorder(); rec && rec->compaction_due())
                *file_ = rec->compact();
        }
    }

    std::size_t count(serf::EventType t, const std::string& member) const {
        std::size_t n = 0;
        for (const auto& e : events)
            if (const auto* m = std::get_if<serf::MemberEvent>(&e); m && m->type == t)
                for (const auto& mem : m->members)
                    n += mem.name == member;
        return n;
    }
    bool logged(const std::string& needle) const {
        for (const auto& l : logs)
            if (l.text.find(needle) != std::string::npos)
                return true;
        return false;
    }

    serf::Node node;
    std::vector<serf::Event> events;
    std::vector<serf::QueryUpdate> updates;
    std::vector<serf::LogLine> logs;
    std::vector<swim::JoinResult> joins;
    std::function<void(const serf::Event&)> on_event;

  private:
    std::string* file_ = nullptr;
};

using simtest::node_name;

class SerfCluster : public simtest::SimClusterBase<SerfCluster, SerfHost> {
  public:
    /// `tweak` adjusts each node's config (name, address already set).
    SerfCluster(std::uint64_t seed, std::function<void(std::size_t, serf::Config&)> tweak = {})
        : SimClusterBase(seed), tweak_(std::move(tweak)) {}
    /// One copy of each queued message across all simulated nodes (issue 19).
    std::shared_ptr<swim::MessagePool> pool_ = std::make_shared<swim::MessagePool>();
    std::shared_ptr<swim::InternPools> intern_ = std::make_shared<swim::InternPools>();
    using SimClusterBase::add;

    std::size_t add(std::optional<std::string> name = std::nullopt) {
        return sim.add_node(
            [this, name](std::size_t i, const swim::Address& addr, std::uint64_t seed, base::Instant now) {
                serf::Config c;
                c.memberlist = swim::Config::lan();
                c.memberlist.name = name ? *name : node_name(i);
                c.memberlist.advertise_addr = addr.ip;
                c.memberlist.advertise_port = addr.port;
                c.memberlist.message_pool = pool_;
                c.memberlist.intern_pools = intern_;
                if (tweak_)
                    tweak_(i, c);
                return std::make_unique<SerfHost>(c, seed, now, c.snapshot ? &files[i] : nullptr);
            });
    }
    serf::Node& node(std::size_t i) { return host(i).node; }

    void join(std::size_t i, std::size_t seed_node) {
        auto r = node(i).join({sim.address(seed_node)}, false, sim.now());
        (void)r;
        host(i).drain();
        sim.poke(i);
    }
    /// Status of `member` as node `viewer` sees it (None when unknown).
    serf::MemberStatus status(std::size_t viewer, const std::string& member) {
        auto m = node(viewer).member(member);
        return m ? m->status : serf::MemberStatus::None;
    }
    /// Every up node sees every node in `alive` as Alive.
    bool all_alive(const std::vector<std::size_t>& alive) {
        for (std::size_t v = 0; v < sim.size(); ++v) {
            if (!sim.is_up(v))
                continue;
            for (std::size_t a : alive)
                if (status(v, node_name(a)) != serf::MemberStatus::Alive)
                    return false;
        }
        return true;
    }
    /// Restart node i as a new process that replays its snapshot file and re-joins from it.
    void restart_from_snapshot(std::size_t i) {
        sim.restart(
            i, [this](std::size_t idx, const swim::Address& addr, std::uint64_t seed, base::Instant now) {
                serf::Config c;
                c.memberlist = swim::Config::lan();
                c.memberlist.name = node_name(idx);
                c.memberlist.advertise_addr = addr.ip;
                c.memberlist.advertise_port = addr.port;
                c.memberlist.message_pool = pool_;
                c.memberlist.intern_pools = intern_;
                if (tweak_)
                    tweak_(idx, c);
                auto state = serf::SnapshotState::replay(files[idx], c.rejoin_after_leave);
                auto h = std::make_unique<SerfHost>(c, seed, now, &files[idx], &state);
                h->node.rejoin_previous(now);
                h->drain();
                return h;
            });
    }

    std::map<std::size_t, std::string> files; ///< snapshot "files" by node index

  private:
    std::function<void(std::size_t, serf::Config&)> tweak_;
};

} // namespace clusterd::serftest
