// Simulator scenario at scale: 1,000 swim endpoints converge from a star join (lan profile).
// Prints simulated and wall time and progress. Its own binary, since the message volume of a
// cold 1,000-node start (every node re-gossips each of the 999 others up to 16 times) makes it
// the slowest scenario by far. Seed override: CLUSTERD_SIM_SEED.
#include <gtest/gtest.h>

#include "sim_cluster.hpp"

using namespace clusterd;
using namespace clusterd::simtest;
using namespace std::chrono_literals;

TEST(SwimSim, ThousandNodesConverge) {
    const std::uint64_t seed = sim::Simulator::seed_from_env(1000);
    std::printf("[sim] seed=%llu (override with CLUSTERD_SIM_SEED)\n", static_cast<unsigned long long>(seed));
    SwimCluster c(seed, swim::Config::lan());
    c.sim.set_default_link(sim::LinkFaults{0.0, 1ms, 2ms});
    Stopwatch wall;
    c.add(1000);
    c.star_join();
    auto progress = [&] {
        std::size_t full = 0, min_alive = 1000;
        for (std::size_t i = 0; i < 1000; ++i) {
            const std::size_t a = c.ep(i).num_alive();
            if (a == 1000)
                full++;
            min_alive = std::min(min_alive, a);
        }
        std::printf("[sim] t=%.1f s: %zu/1000 nodes see all, min view %zu, wall %.1f s\n", c.seconds(), full,
                    min_alive, wall.seconds());
        std::fflush(stdout);
        return full == 1000 && c.converged();
    };
    ASSERT_TRUE(c.sim.run_until(progress, 120s, 1s));
    std::printf("[sim] N=1000 converged after %.2f s simulated, %.2f s wall, %llu events\n", c.seconds(),
                wall.seconds(), static_cast<unsigned long long>(c.sim.events_processed()));
}
