// netlab: a multi-host lab in Linux network namespaces, for tests that need real addresses
// (not 127.0.0.1) and real failures (partitions, loss, link down).
//
// A Lab with N hosts makes N+1 namespaces named "<prefix>-h<i>" and "<prefix>-sw". The switch
// namespace holds a bridge; every host namespace has one veth "eth0" plugged into it, with
// addresses that exist only inside the namespaces (IPv4 10.201.0.<i+1>/16, optional IPv6
// fd00:cd::<i+1>/64). Nothing is created in, or routed to, the caller's own namespace, so no
// lab packet can leave the lab and the host's interfaces are never touched.
//
// Faults are nftables rules on the receiving host ("table inet netlab", chain "in"): drop
// everything (or only UDP / only TCP) from another host's addresses, or a random percentage of
// it. link_down() takes the host's bridge port down (a pulled cable seen from the switch).
// Every host has /etc/netns/<ns>/hosts and resolv.conf (bind-mounted over /etc by
// `ip netns exec`), so host-name tests never reach a real DNS server.
//
// Processes run inside a host with `ip netns exec <ns> argv...`, which execs in place: the PID
// that spawn() returns is the program's own PID. The destructor kills whatever still runs in
// the lab's namespaces (by PID, from `ip netns pids`), deletes the namespaces and the
// /etc/netns directories. For a test killed before its destructor runs, each Lab starts a guard
// (`netlab guard <prefix>`, in its own session) that holds the read end of a pipe only the test
// process can write to: when that pipe closes without the word "done", the guard removes the lab.
// Whatever is still left (no guard binary, guard killed too) is removed by the next Lab's sweep
// (or `netlab sweep`) once its creating process is gone.
//
// Needs root (CAP_SYS_ADMIN + CAP_NET_ADMIN). Every command has a time limit. Errors throw
// std::runtime_error naming the command and its output.
#pragma once

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <sys/types.h>
#include <vector>

#include "support/process.hpp"

namespace clusterd::testing::netlab {

struct Options {
    int hosts = 3;
    bool ipv4 = true;        ///< give every host an IPv4 address
    bool ipv6 = false;       ///< give every host a ULA IPv6 address
    std::set<int> ipv6_only; ///< hosts with IPv6 and no IPv4 (implies ipv6 for them)
    bool guard = true;       ///< start the guard process (see above) if it can be found
    /// Multicast between the hosts (mDNS): the bridge floods multicast (no IGMP snooping) and
    /// every host routes 224.0.0.0/4 to eth0, as a LAN host's default route would.
    bool multicast = false;
};

enum class Proto { All, Udp, Tcp };

/// A reason a lab cannot run here (not root, no `ip`/`nft`), or "" when it can.
std::string unavailable_reason();

class Lab {
  public:
    explicit Lab(Options opts);
    ~Lab();
    Lab(const Lab&) = delete;
    Lab& operator=(const Lab&) = delete;

    /// Removes leftover labs (namespaces, /etc/netns dirs, processes in them) whose creating
    /// process is gone. Returns how many namespaces were removed.
    static int sweep();
    /// Removes every namespace named "<prefix>-*" (and what runs inside, and its /etc/netns
    /// dir). Returns how many namespaces were removed. The guard calls this.
    static int remove_prefix(const std::string& prefix);
    /// The guard binary: $NETLAB_BIN, else the `netlab` built next to the tests, or "".
    static std::string guard_binary();
    /// Removes this lab now (idempotent; the destructor calls it).
    void teardown();

    int size() const { return static_cast<int>(hosts_.size()); }
    const std::string& prefix() const { return prefix_; }
    const std::string& ns(int h) const { return hosts_.at(static_cast<std::size_t>(h)).ns; }
    /// Primary IPv4 ("" for IPv6-only hosts) / IPv6 ("" without IPv6) of host h.
    std::string ipv4(int h) const;
    std::string ipv6(int h) const;
    /// Every address of host h (primary and extra ones), for rules.
    std::vector<std::string> addresses(int h) const;
    /// Adds another IPv4 address to host h (10.201.<k>.<h+1>, k = 1, 2, ...) and returns it.
    std::string add_ipv4(int h);

    /// argv prefixed with `ip netns exec <ns>`.
    std::vector<std::string> in(int h, const std::vector<std::string>& argv) const;
    /// Runs argv inside host h to completion (bounded).
    RunResult run(int h, const std::vector<std::string>& argv,
                  std::chrono::milliseconds timeout = std::chrono::seconds(20),
                  const std::string& stdin_data = "") const;
    /// Starts argv inside host h with stdout+stderr appended to log_path.
    Process spawn(int h, const std::vector<std::string>& argv, const std::string& log_path,
                  const std::vector<std::string>& extra_env = {}) const;

    /// A socket (socket(2) arguments) created inside host h's namespace, for probes from the
    /// test process itself; the caller closes it. Throws on failure.
    int socket_in(int h, int domain, int type) const;

    /// Drops packets from host `from` arriving at host `to` (only that direction).
    void block(int from, int to, Proto p = Proto::All);
    void unblock(int from, int to, Proto p = Proto::All);
    /// Drops `percent`% of packets from `from` arriving at `to` (0 removes the rule).
    void loss(int from, int to, int percent);
    /// Blocks both directions between every host of `a` and every host of `b`.
    void partition(const std::vector<int>& a, const std::vector<int>& b);
    /// Removes every drop/loss rule.
    void heal();
    /// Host h's bridge port down / up.
    void link_down(int h);
    void link_up(int h);

    /// Replaces /etc/netns/<ns(h)>/hosts (localhost lines are kept in front).
    void set_hosts(int h, const std::string& lines);
    /// `nft list ruleset` of host h (for failure messages).
    std::string ruleset(int h) const;

  private:
    struct Rule {
        int from = 0;
        Proto proto = Proto::All;
        int percent = 100;
        bool loss = false; ///< set by loss(), which replaces only its own rules
    };
    struct Host {
        std::string ns;
        std::vector<std::string> v4; ///< primary first
        std::string v6;
        std::vector<Rule> rules; ///< applied on this host's input
    };
    void sh(const std::vector<std::string>& argv, const std::string& stdin_data = "") const;
    void start_guard();
    void stop_guard();
    void apply_rules(int h);

    Options opts_;
    std::string prefix_;
    std::string switch_ns_;
    std::vector<Host> hosts_;
    bool torn_down_ = false;
    int guard_fd_ = -1; ///< write end of the guard's pipe
    pid_t guard_pid_ = -1;
};

} // namespace clusterd::testing::netlab
