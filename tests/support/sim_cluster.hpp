// The simulator test DSL shared by the swim scenarios (tests/sim, SwimCluster) and the serf
// scenarios (tests/sim_serf, SerfCluster): naming, building a cluster of hosts, joining, stepping
// the simulated clock until a condition holds, and faults (loss, partitions, crashes). A
// scenario reads the same whichever layer it drives:
//
//   SerfCluster c(seed);               // or SwimCluster c(seed, swim::Config::lan())
//   c.add(5);
//   c.star_join();
//   ASSERT_TRUE(c.step_until([&] { return c.all_alive(c.all()); }, 30s));
//   c.partition({0, 1}, {2, 3, 4});
//   ...
//   c.heal();
//
// Derived classes provide `add()` (one host built from their config) and `join(i, seed)`.
// Header-only; links with clusterd_sim.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "clusterd/base/sanitizer.hpp"
#include "clusterd/sim/simulator.hpp"

namespace clusterd::simtest {

/// True in sanitizer builds, where the simulator runs about ten times slower: long studies
/// there run fewer seeds (they are in the sanitizer run for memory errors, not for figures).
using base::sanitized_build;

/// The name of node i in every simulated cluster.
inline std::string node_name(std::size_t i) {
    return "node-" + std::to_string(i);
}

template <typename Derived, typename Host> class SimClusterBase {
  public:
    explicit SimClusterBase(std::uint64_t seed) : sim(seed) {}

    // ---- building ------------------------------------------------------------------------
    /// Adds `n` nodes (Derived::add() each).
    void add(std::size_t n) {
        for (std::size_t i = 0; i < n; ++i)
            self().add();
    }
    Host& host(std::size_t i) { return *sim.template host_as<Host>(i); }
    std::size_t size() const { return sim.size(); }
    /// Every node joins node 0.
    void star_join() {
        for (std::size_t i = 1; i < sim.size(); ++i)
            self().join(i, 0);
    }
    /// Indices 0..n-1, and of every node.
    std::vector<std::size_t> range(std::size_t n) const {
        std::vector<std::size_t> v(n);
        for (std::size_t i = 0; i < n; ++i)
            v[i] = i;
        return v;
    }
    std::vector<std::size_t> all() const { return range(sim.size()); }
    /// Indices of the nodes whose process runs (not crashed).
    std::vector<std::size_t> up() const {
        std::vector<std::size_t> v;
        for (std::size_t i = 0; i < sim.size(); ++i)
            if (sim.is_up(i))
                v.push_back(i);
        return v;
    }

    // ---- stepping ------------------------------------------------------------------------
    /// Runs the simulation until `done()` (checked every `check_every` of simulated time) or
    /// `limit` of simulated time passes; true if done.
    bool step_until(const std::function<bool()>& done, base::Duration limit,
                    base::Duration check_every = std::chrono::milliseconds(100)) {
        return sim.run_until(done, limit, check_every);
    }
    void step_for(base::Duration d) { sim.run_for(d); }
    /// Simulated seconds since the start.
    double seconds() const { return std::chrono::duration<double>(sim.now().since_epoch).count(); }

    // ---- faults --------------------------------------------------------------------------
    /// Loss rate, latency and jitter on every link.
    void loss(double rate, base::Duration delay = std::chrono::milliseconds(1),
              base::Duration jitter = std::chrono::milliseconds(0)) {
        sim.set_default_link(sim::LinkFaults{rate, delay, jitter});
    }
    /// Cuts both directions between the groups (one_way: only a -> b).
    void partition(const std::vector<std::size_t>& a, const std::vector<std::size_t>& b,
                   bool one_way = false) {
        sim.partition(a, b, one_way);
    }
    void heal() { sim.heal(); }
    void crash(std::size_t i) { sim.crash(i); }
    void pause(std::size_t i) { sim.pause(i); }
    void resume(std::size_t i) { sim.resume(i); }

    sim::Simulator sim;

  private:
    Derived& self() { return static_cast<Derived&>(*this); }
};

} // namespace clusterd::simtest
