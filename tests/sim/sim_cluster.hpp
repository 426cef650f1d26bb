// Test harness over sim::Simulator for clusters of bare swim endpoints: convergence checks and
// false-positive counting on top of the shared simulator DSL (support/sim_cluster.hpp).
#pragma once

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "clusterd/sim/simulator.hpp"
#include "clusterd/swim/broadcast_queue.hpp"
#include "clusterd/swim/intern.hpp"
#include "support/sim_cluster.hpp"

namespace clusterd::simtest {

class SwimCluster : public SimClusterBase<SwimCluster, sim::EndpointHost> {
  public:
    SwimCluster(std::uint64_t seed, swim::Config base) : SimClusterBase(seed), base_(std::move(base)) {
        // One copy of each queued message across all simulated nodes (issue 19).
        if (!base_.message_pool)
            base_.message_pool = std::make_shared<swim::MessagePool>();
        // ... and of each member name and alive payload in the member tables.
        if (!base_.intern_pools)
            base_.intern_pools = std::make_shared<swim::InternPools>();
    }
    using SimClusterBase::add;
    /// The pools every simulated node's member table and queues share.
    const std::shared_ptr<swim::InternPools>& intern_pools() const { return base_.intern_pools; }
    const std::shared_ptr<swim::MessagePool>& message_pool() const { return base_.message_pool; }

    std::size_t add() {
        return sim.add_node(
            [this](std::size_t i, const swim::Address& addr, std::uint64_t seed, base::Instant now) {
                swim::Config c = base_;
                c.name = node_name(i);
                c.advertise_addr = addr.ip;
                c.advertise_port = addr.port;
                return std::make_unique<sim::EndpointHost>(c, seed, now);
            });
    }
    swim::Endpoint& ep(std::size_t i) { return host(i).endpoint(); }

    void join(std::size_t i, std::size_t seed_node) {
        ep(i).join({sim.address(seed_node)}, sim.now());
        sim.poke(i);
    }
    /// Every up node sees exactly the up nodes as alive.
    bool converged() {
        std::vector<std::size_t> up;
        for (std::size_t i = 0; i < sim.size(); ++i)
            if (sim.is_up(i))
                up.push_back(i);
        for (std::size_t i : up) {
            swim::Endpoint& e = ep(i);
            if (e.num_alive() != up.size())
                return false;
            for (std::size_t j : up) {
                if (e.state_of(node_name(j)) != swim::State::Alive)
                    return false;
            }
        }
        return true;
    }

    /// Leave events with state Dead about nodes in `alive_set` (nodes that never failed).
    std::size_t false_deaths() {
        std::size_t count = 0;
        for (std::size_t i = 0; i < sim.size(); ++i) {
            if (!sim.is_up(i))
                continue;
            for (const auto& ev : host(i).events())
                if (ev.kind == sim::EndpointHost::Event::Kind::Leave && ev.state == swim::State::Dead)
                    count++;
        }
        return count;
    }

  private:
    swim::Config base_;
};

/// Wall-clock stopwatch for test reports (tests only; never in the simulated code).
class Stopwatch {
  public:
    Stopwatch() : start_(std::chrono::steady_clock::now()) {}
    double seconds() const {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    }

  private:
    std::chrono::steady_clock::time_point start_;
};

} // namespace clusterd::simtest
