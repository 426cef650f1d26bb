#include "support/netlab.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace clusterd::testing::netlab {
namespace fs = std::filesystem;

namespace {

constexpr auto kCmdTimeout = std::chrono::seconds(15);
const char* const kRunNetns = "/run/netns";
const char* const kEtcNetns = "/etc/netns";

std::string join_args(const std::vector<std::string>& argv) {
    std::string s;
    for (const auto& a : argv)
        s += (s.empty() ? "" : " ") + a;
    return s;
}

bool process_alive(pid_t pid) {
    return ::kill(pid, 0) == 0 || errno == EPERM;
}

std::vector<pid_t> pids_in(const std::string& ns) {
    std::vector<pid_t> out;
    auto r = run({"ip", "netns", "pids", ns}, kCmdTimeout);
    std::istringstream in(r.out);
    long p = 0;
    while (in >> p)
        if (p > 1 && p != ::getpid())
            out.push_back(static_cast<pid_t>(p));
    return out;
}

// Kills what still runs inside `ns` (by PID), deletes the namespace and its /etc/netns dir.
void remove_ns(const std::string& ns) {
    for (int round = 0; round < 30; ++round) {
        auto pids = pids_in(ns);
        if (pids.empty())
            break;
        for (pid_t p : pids)
            ::kill(p, SIGKILL);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    run({"ip", "netns", "del", ns}, kCmdTimeout);
    std::error_code ec;
    fs::remove_all(fs::path(kEtcNetns) / ns, ec);
}

std::string proto_match(Proto p) {
    switch (p) {
    case Proto::Udp:
        return " meta l4proto udp";
    case Proto::Tcp:
        return " meta l4proto tcp";
    case Proto::All:
        break;
    }
    return "";
}

std::atomic<int> g_lab_counter{0};

} // namespace

std::string unavailable_reason() {
    if (::geteuid() != 0)
        return "netlab needs root (network namespaces, nftables); run the lab tests as root";
    if (run({"ip", "-V"}, kCmdTimeout).exit_code != 0)
        return "netlab needs `ip` (iproute2)";
    if (run({"nft", "--version"}, kCmdTimeout).exit_code != 0)
        return "netlab needs `nft` (nftables)";
    return "";
}

int Lab::remove_prefix(const std::string& prefix) {
    std::set<std::string> names;
    std::error_code ec;
    for (const char* dir : {kRunNetns, kEtcNetns}) {
        if (!fs::is_directory(dir, ec))
            continue;
        for (const auto& e : fs::directory_iterator(dir, ec)) {
            const auto n = e.path().filename().string();
            if (n.rfind(prefix + "-", 0) == 0)
                names.insert(n);
        }
    }
    // Hosts first, the switch last (as teardown does).
    int removed = 0;
    for (const auto& n : names)
        if (n != prefix + "-sw") {
            remove_ns(n);
            ++removed;
        }
    if (names.count(prefix + "-sw") > 0) {
        remove_ns(prefix + "-sw");
        ++removed;
    }
    return removed;
}

std::string Lab::guard_binary() {
    if (const char* e = std::getenv("NETLAB_BIN"); e != nullptr && *e != '\0')
        return e;
#ifdef CLUSTERD_NETLAB_BIN
    if (::access(CLUSTERD_NETLAB_BIN, X_OK) == 0)
        return CLUSTERD_NETLAB_BIN;
#endif
    return "";
}

void Lab::start_guard() {
    const std::string bin = guard_binary();
    if (bin.empty())
        return;
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
        return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[0], 0); // dup2 clears O_CLOEXEC on fd 0
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    // Its own session: a Ctrl-C or a kill of the test's process group does not reach it.
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
    std::string a0 = bin, a1 = "guard", a2 = prefix_;
    char* argv[] = {a0.data(), a1.data(), a2.data(), nullptr};
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, bin.c_str(), &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    ::close(fds[0]);
    if (rc != 0) {
        ::close(fds[1]);
        return;
    }
    guard_fd_ = fds[1];
    guard_pid_ = pid;
}

void Lab::stop_guard() {
    if (guard_fd_ < 0)
        return;
    const char done[] = "done\n";
    if (::write(guard_fd_, done, sizeof done - 1) < 0) {
        // The guard is gone; nothing to tell it.
    }
    ::close(guard_fd_);
    guard_fd_ = -1;
    for (int i = 0; i < 100; ++i) {
        int st = 0;
        if (::waitpid(guard_pid_, &st, WNOHANG) != 0)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    guard_pid_ = -1;
}

int Lab::sweep() {
    static const std::regex kName(R"(^cdl([0-9]+)x[0-9]+-(h[0-9]+|sw)$)");
    std::set<std::string> names;
    std::error_code ec;
    for (const char* dir : {kRunNetns, kEtcNetns}) {
        if (!fs::is_directory(dir, ec))
            continue;
        for (const auto& e : fs::directory_iterator(dir, ec))
            names.insert(e.path().filename().string());
    }
    int removed = 0;
    for (const auto& n : names) {
        std::smatch m;
        if (!std::regex_match(n, m, kName))
            continue;
        const auto owner = static_cast<pid_t>(std::stol(m[1].str()));
        if (owner == ::getpid() || process_alive(owner))
            continue;
        remove_ns(n);
        ++removed;
    }
    return removed;
}

void Lab::sh(const std::vector<std::string>& argv, const std::string& stdin_data) const {
    auto r = clusterd::testing::run(argv, kCmdTimeout, stdin_data);
    if (r.exit_code != 0)
        throw std::runtime_error("netlab: `" + join_args(argv) + "` failed (exit " +
                                 std::to_string(r.exit_code) + "): " + r.err + r.out +
                                 (stdin_data.empty() ? "" : "\ninput:\n" + stdin_data));
}

Lab::Lab(Options opts) : opts_(std::move(opts)) {
    if (auto why = unavailable_reason(); !why.empty())
        throw std::runtime_error(why);
    if (opts_.hosts < 1 || opts_.hosts > 200)
        throw std::runtime_error("netlab: hosts must be 1..200");
    sweep();
    prefix_ = "cdl" + std::to_string(::getpid()) + "x" + std::to_string(g_lab_counter++);
    switch_ns_ = prefix_ + "-sw";
    if (opts_.guard)
        start_guard();
    // A name taken already was left by an earlier process with our PID (PID reuse): not ours.
    for (int h = -1; h < opts_.hosts; ++h) {
        const std::string n = h < 0 ? switch_ns_ : prefix_ + "-h" + std::to_string(h);
        std::error_code ec;
        if (fs::exists(fs::path(kRunNetns) / n, ec) || fs::exists(fs::path(kEtcNetns) / n, ec))
            remove_ns(n);
    }
    try {
        sh({"ip", "netns", "add", switch_ns_});
        sh({"ip", "-n", switch_ns_, "link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay",
            "0"});
        if (opts_.multicast)
            sh({"ip", "-n", switch_ns_, "link", "set", "br0", "type", "bridge", "mcast_snooping", "0"});
        sh({"ip", "-n", switch_ns_, "link", "set", "br0", "up"});
        for (int h = 0; h < opts_.hosts; ++h) {
            Host host;
            host.ns = prefix_ + "-h" + std::to_string(h);
            const bool v6only = opts_.ipv6_only.count(h) > 0;
            if (opts_.ipv4 && !v6only)
                host.v4.push_back("10.201.0." + std::to_string(h + 1));
            if (opts_.ipv6 || v6only)
                host.v6 = "fd00:cd::" + std::to_string(h + 1);
            hosts_.push_back(host);
            const std::string port = "p" + std::to_string(h);
            sh({"ip", "netns", "add", host.ns});
            // Both ends are created directly in their namespaces: nothing appears in ours.
            sh({"ip", "link", "add", "eth0", "netns", host.ns, "type", "veth", "peer", "name", port, "netns",
                switch_ns_});
            sh({"ip", "-n", switch_ns_, "link", "set", port, "master", "br0", "up"});
            sh({"ip", "netns", "exec", host.ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.keep_addr_on_down=1",
                "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.accept_dad=0",
                "net.ipv6.conf.eth0.accept_dad=0"});
            sh({"ip", "-n", host.ns, "link", "set", "lo", "up"});
            for (const auto& a : host.v4)
                sh({"ip", "-n", host.ns, "addr", "add", a + "/16", "dev", "eth0"});
            if (!host.v6.empty())
                sh({"ip", "-n", host.ns, "addr", "add", host.v6 + "/64", "dev", "eth0", "nodad"});
            sh({"ip", "-n", host.ns, "link", "set", "eth0", "up"});
            if (opts_.multicast && !host.v4.empty())
                sh({"ip", "-n", host.ns, "route", "add", "224.0.0.0/4", "dev", "eth0"});
            // Own resolver files: names come from `hosts`, DNS goes nowhere (loopback, 1 try).
            fs::create_directories(fs::path(kEtcNetns) / host.ns);
            std::ofstream(fs::path(kEtcNetns) / host.ns / "resolv.conf")
                << "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n";
            set_hosts(h, "");
            sh({"ip", "netns", "exec", host.ns, "nft", "-f", "-"},
               "table inet netlab {\n chain in {\n  type filter hook input priority 0; policy accept;\n "
               "}\n}\n");
        }
    } catch (...) {
        teardown();
        throw;
    }
}

Lab::~Lab() {
    teardown();
}

void Lab::teardown() {
    if (torn_down_)
        return;
    torn_down_ = true;
    for (const auto& h : hosts_)
        remove_ns(h.ns);
    if (!switch_ns_.empty())
        remove_ns(switch_ns_);
    stop_guard();
}

std::string Lab::ipv4(int h) const {
    const auto& v = hosts_.at(static_cast<std::size_t>(h)).v4;
    return v.empty() ? "" : v.front();
}
std::string Lab::ipv6(int h) const {
    return hosts_.at(static_cast<std::size_t>(h)).v6;
}

std::vector<std::string> Lab::addresses(int h) const {
    const auto& host = hosts_.at(static_cast<std::size_t>(h));
    auto out = host.v4;
    if (!host.v6.empty())
        out.push_back(host.v6);
    return out;
}

std::string Lab::add_ipv4(int h) {
    auto& host = hosts_.at(static_cast<std::size_t>(h));
    const std::string a =
        "10.201." + std::to_string(host.v4.empty() ? 1 : host.v4.size()) + "." + std::to_string(h + 1);
    sh({"ip", "-n", host.ns, "addr", "add", a + "/16", "dev", "eth0"});
    host.v4.push_back(a);
    // Rules that name this host as a source must cover the new address too.
    for (int other = 0; other < size(); ++other)
        apply_rules(other);
    return a;
}

std::vector<std::string> Lab::in(int h, const std::vector<std::string>& argv) const {
    std::vector<std::string> out{"ip", "netns", "exec", ns(h)};
    out.insert(out.end(), argv.begin(), argv.end());
    return out;
}

RunResult Lab::run(int h, const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                   const std::string& stdin_data) const {
    return clusterd::testing::run(in(h, argv), timeout, stdin_data);
}

Process Lab::spawn(int h, const std::vector<std::string>& argv, const std::string& log_path,
                   const std::vector<std::string>& extra_env) const {
    return Process(in(h, argv), log_path, extra_env);
}

int Lab::socket_in(int h, int domain, int type) const {
    // setns(CLONE_NEWNET) switches only the calling thread; a socket keeps the namespace it
    // was made in after the thread switches back.
    const int self = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    const int target = ::open((std::string(kRunNetns) + "/" + ns(h)).c_str(), O_RDONLY | O_CLOEXEC);
    if (self < 0 || target < 0) {
        if (self >= 0)
            ::close(self);
        if (target >= 0)
            ::close(target);
        throw std::runtime_error("netlab: cannot open namespace files for " + ns(h) + ": " +
                                 std::strerror(errno));
    }
    int fd = -1, err = 0;
    if (::setns(target, CLONE_NEWNET) == 0) {
        fd = ::socket(domain, type | SOCK_CLOEXEC, 0);
        err = errno;
        if (::setns(self, CLONE_NEWNET) != 0)
            std::abort(); // never keep running in the lab
    } else {
        err = errno;
    }
    ::close(self);
    ::close(target);
    if (fd < 0)
        throw std::runtime_error("netlab: socket in " + ns(h) + ": " + std::strerror(err));
    return fd;
}

void Lab::apply_rules(int h) {
    const auto& host = hosts_.at(static_cast<std::size_t>(h));
    std::string script = "flush chain inet netlab in\n";
    for (const auto& r : host.rules) {
        std::string v4set, v6set;
        for (const auto& a : addresses(r.from)) {
            auto& set = a.find(':') == std::string::npos ? v4set : v6set;
            set += (set.empty() ? "" : ", ") + a;
        }
        const std::string tail =
            proto_match(r.proto) +
            (r.percent < 100 ? " numgen random mod 100 < " + std::to_string(r.percent) : "") + " drop\n";
        if (!v4set.empty())
            script += "add rule inet netlab in ip saddr { " + v4set + " }" + tail;
        if (!v6set.empty())
            script += "add rule inet netlab in ip6 saddr { " + v6set + " }" + tail;
    }
    sh(in(h, {"nft", "-f", "-"}), script);
}

void Lab::block(int from, int to, Proto p) {
    auto& rules = hosts_.at(static_cast<std::size_t>(to)).rules;
    for (const auto& r : rules)
        if (r.from == from && r.proto == p && !r.loss)
            return;
    rules.push_back(Rule{from, p, 100, false});
    apply_rules(to);
}

void Lab::unblock(int from, int to, Proto p) {
    auto& rules = hosts_.at(static_cast<std::size_t>(to)).rules;
    std::erase_if(rules, [&](const Rule& r) { return r.from == from && r.proto == p && !r.loss; });
    apply_rules(to);
}

void Lab::loss(int from, int to, int percent) {
    auto& rules = hosts_.at(static_cast<std::size_t>(to)).rules;
    std::erase_if(rules, [&](const Rule& r) { return r.from == from && r.loss; });
    if (percent > 0)
        rules.push_back(Rule{from, Proto::All, std::min(percent, 100), true});
    apply_rules(to);
}

void Lab::partition(const std::vector<int>& a, const std::vector<int>& b) {
    for (int x : a) {
        for (int y : b) {
            auto& rx = hosts_.at(static_cast<std::size_t>(x)).rules;
            auto& ry = hosts_.at(static_cast<std::size_t>(y)).rules;
            rx.push_back(Rule{y, Proto::All, 100, false});
            ry.push_back(Rule{x, Proto::All, 100, false});
        }
    }
    for (int h = 0; h < size(); ++h)
        apply_rules(h);
}

void Lab::heal() {
    for (int h = 0; h < size(); ++h) {
        hosts_[static_cast<std::size_t>(h)].rules.clear();
        apply_rules(h);
    }
}

void Lab::link_down(int h) {
    sh({"ip", "-n", switch_ns_, "link", "set", "p" + std::to_string(h), "down"});
}
void Lab::link_up(int h) {
    sh({"ip", "-n", switch_ns_, "link", "set", "p" + std::to_string(h), "up"});
}

void Lab::set_hosts(int h, const std::string& lines) {
    std::ofstream out(fs::path(kEtcNetns) / ns(h) / "hosts", std::ios::trunc);
    out << "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n" << lines;
    if (!lines.empty() && lines.back() != '\n')
        out << "\n";
    if (!out)
        throw std::runtime_error("netlab: cannot write hosts file for " + ns(h));
}

std::string Lab::ruleset(int h) const {
    return run(h, {"nft", "list", "ruleset"}, kCmdTimeout).out;
}

} // namespace clusterd::testing::netlab
