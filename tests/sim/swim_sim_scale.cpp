// swim_sim_scale: one point of the simulator scale curve. Starts N swim endpoints on the
// deterministic simulator (lan profile, 1-2 ms links), every node joins node 0 at t=0, and runs
// until every node lists all N alive or a simulated-time cap passes. Prints one JSON line:
// convergence time (simulated), wall time, packets/bytes/streams per node, peak RSS.
// Exit 0 = converged, 1 = not converged within the cap, 2 = bad arguments.
//
//   swim_sim_scale --nodes N [--seed S] [--cap SIM_SECONDS] [--loss P] [--quiet] [--no-thp]
//
// The heap is backed by transparent huge pages (the process re-executes itself once with glibc's
// glibc.malloc.hugetlb=1 tunable; --no-thp, or that tunable already set, leaves it as it is): a
// large simulation touches gigabytes at random, and 2 MiB pages took 12 % off the CPU time of
// 5,000 nodes (TLB misses). Only speed changes; the trace hash does not.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <unistd.h>

#include "sim_cluster.hpp"

using namespace clusterd;
using namespace std::chrono_literals;
using simtest::Stopwatch;
using simtest::SwimCluster;

namespace {

struct Options {
    std::size_t nodes = 100;
    std::uint64_t seed = 1;
    double cap_seconds = 0; // 0: chosen from N
    double loss = 0.0;
    bool quiet = false;
    bool thp = true;
};

bool parse(int argc, char** argv, Options& o) {
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a.rfind("--", 0) == 0)
            a.erase(0, 1); // accept -flag and --flag
        std::string value;
        if (auto eq = a.find('='); eq != std::string::npos) {
            value = a.substr(eq + 1);
            a.erase(eq);
        } else if (a != "-quiet" && a != "-no-thp") {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "swim_sim_scale: %s needs a value\n", argv[i]);
                return false;
            }
            value = argv[++i];
        }
        char* end = nullptr;
        if (a == "-nodes") {
            o.nodes = std::strtoull(value.c_str(), &end, 10);
            if (*end != '\0' || o.nodes < 2 || o.nodes > 100000) {
                std::fprintf(stderr, "swim_sim_scale: --nodes must be 2..100000, got '%s'\n", value.c_str());
                return false;
            }
        } else if (a == "-seed") {
            o.seed = std::strtoull(value.c_str(), &end, 10);
        } else if (a == "-cap") {
            o.cap_seconds = std::strtod(value.c_str(), &end);
        } else if (a == "-loss") {
            o.loss = std::strtod(value.c_str(), &end);
            if (o.loss < 0 || o.loss >= 1) {
                std::fprintf(stderr, "swim_sim_scale: --loss must be in [0,1)\n");
                return false;
            }
        } else if (a == "-quiet") {
            o.quiet = true;
        } else if (a == "-no-thp") {
            o.thp = false;
        } else {
            std::fprintf(stderr, "swim_sim_scale: unknown flag %s\n", argv[i]);
            return false;
        }
    }
    return true;
}

/// VmHWM of this process (getrusage's ru_maxrss survives execve and would report the
/// launcher's peak when that was larger).
/// A field of /proc/self/status in MiB ("VmHWM:" peak, "VmRSS:" now).
double status_mib(const char* field) {
    std::FILE* f = std::fopen("/proc/self/status", "r");
    if (f == nullptr)
        return 0.0;
    char line[256];
    double kib = 0.0;
    const std::size_t len = std::strlen(field);
    while (std::fgets(line, sizeof line, f) != nullptr) {
        if (std::strncmp(line, field, len) == 0) {
            kib = std::strtod(line + len, nullptr);
            break;
        }
    }
    std::fclose(f);
    return kib / 1024.0;
}
double peak_rss_mib() {
    return status_mib("VmHWM:");
}
double rss_mib() {
    return status_mib("VmRSS:");
}

/// Re-executes this program with glibc's malloc told to madvise its heap for transparent huge
/// pages (glibc reads tunables only at start). Returns only if that is not done (already set,
/// or the exec failed: the run goes on with small pages).
void use_huge_pages(char** argv) {
    const char* cur = std::getenv("GLIBC_TUNABLES");
    std::string t = cur != nullptr ? cur : "";
    if (t.find("glibc.malloc.hugetlb") != std::string::npos)
        return;
    t += t.empty() ? "glibc.malloc.hugetlb=1" : ":glibc.malloc.hugetlb=1";
    if (::setenv("GLIBC_TUNABLES", t.c_str(), 1) != 0)
        return;
    ::execv("/proc/self/exe", argv);
}

} // namespace

int main(int argc, char** argv) {
    Options o;
    if (!parse(argc, argv, o))
        return 2;
    if (o.thp)
        use_huge_pages(argv);
    const std::size_t n = o.nodes;
    // The join storm is bandwidth-bound (every node must hear of every other through gossip),
    // so convergence grows about linearly with N: 28 s at 1,000, 110 s at 3,000 simulated.
    // Allow 60 ms of simulated time per node on top of two minutes.
    const double cap = o.cap_seconds > 0 ? o.cap_seconds : 120.0 + 0.06 * static_cast<double>(n);

    SwimCluster c(o.seed, swim::Config::lan());
    c.sim.set_default_link(sim::LinkFaults{o.loss, 1ms, 2ms});
    Stopwatch wall;
    c.add(n);
    for (std::size_t i = 0; i < n; ++i)
        c.host(i).keep_events = false;
    c.star_join();

    std::size_t full = 0;
    auto done = [&] {
        full = 0;
        std::size_t min_view = n;
        std::size_t queued = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const swim::Endpoint& e = c.ep(i);
            queued += e.queued_broadcasts();
            const std::size_t seen = e.estimated_nodes() == n ? e.num_alive() : 0;
            if (seen == n)
                full++;
            min_view = std::min(min_view, e.estimated_nodes());
        }
        if (!o.quiet)
            std::fprintf(stderr,
                         "[sim] N=%zu t=%.1f s: %zu nodes see all, min view %zu, %zu broadcasts queued, "
                         "RSS %.0f MiB, wall %.1f s\n",
                         n, c.seconds(), full, min_view, queued, rss_mib(), wall.seconds());
        return full == n;
    };
    const auto limit = std::chrono::duration_cast<base::Duration>(std::chrono::duration<double>(cap));
    const bool ok = c.sim.run_until(done, limit, 500ms);
    const auto& st = c.sim.net_stats();
    const double per = static_cast<double>(n);
    std::printf(
        "{\"nodes\": %zu, \"seed\": %llu, \"converged\": %s, \"sim_seconds\": %.3f, \"wall_seconds\": %.3f, "
        "\"nodes_seeing_all\": %zu, \"packets_per_node\": %.1f, \"bytes_per_node\": %.0f, "
        "\"streams_per_node\": %.2f, \"events\": %llu, \"peak_rss_mib\": %.1f, \"loss\": %.3f, "
        "\"trace\": \"%016llx\"}\n",
        n, static_cast<unsigned long long>(o.seed), ok ? "true" : "false", c.seconds(), wall.seconds(), full,
        static_cast<double>(st.packets_sent) / per, static_cast<double>(st.bytes_sent) / per,
        static_cast<double>(st.streams_opened) / per,
        static_cast<unsigned long long>(c.sim.events_processed()), peak_rss_mib(), o.loss,
        static_cast<unsigned long long>(c.sim.trace_hash()));
    std::fflush(stdout);
    return ok ? 0 : 1;
}
