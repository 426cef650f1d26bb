// A real etcd cluster for datastore tests: N members of /usr/bin/etcd on loopback ports
// (free_port), each with its own data dir under one temp dir, formed with --initial-cluster.
// Members are started and stopped by PID (Process: SIGTERM, a bounded wait, then SIGKILL); the
// destructor stops every member and removes the data. etcdctl reads what the adapter wrote.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace clusterd::testing {

class EtcdCluster {
  public:
    explicit EtcdCluster(int members = 3) : dir_(temp_dir("etcd")) {
        for (int i = 0; i < members; ++i) { // free_port never repeats a port within the process
            const std::uint16_t client = free_port();
            const std::uint16_t peer = free_port();
            members_.push_back(Member{"e" + std::to_string(i), client, peer, {}});
        }
        token_ = "clusterd-test-" + std::to_string(::getpid()) + "-" +
                 std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1000000);
    }
    ~EtcdCluster() {
        for (std::size_t i = 0; i < members_.size(); ++i)
            stop(i);
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    EtcdCluster(const EtcdCluster&) = delete;
    EtcdCluster& operator=(const EtcdCluster&) = delete;

    static bool available() {
        return ::access("/usr/bin/etcd", X_OK) == 0 && ::access("/usr/bin/etcdctl", X_OK) == 0;
    }

    /// Starts every member and waits (bounded) until each answers a health check.
    bool start(std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
        std::string initial;
        for (const auto& m : members_)
            initial += (initial.empty() ? "" : ",") + m.name + "=http://127.0.0.1:" + std::to_string(m.peer);
        for (auto& m : members_) {
            const std::string client = "http://127.0.0.1:" + std::to_string(m.client);
            const std::string peer = "http://127.0.0.1:" + std::to_string(m.peer);
            m.child = Process({"/usr/bin/etcd",
                               "--name",
                               m.name,
                               "--data-dir",
                               dir_ + "/" + m.name,
                               "--listen-client-urls",
                               client,
                               "--advertise-client-urls",
                               client,
                               "--listen-peer-urls",
                               peer,
                               "--initial-advertise-peer-urls",
                               peer,
                               "--initial-cluster",
                               initial,
                               "--initial-cluster-token",
                               token_,
                               "--initial-cluster-state",
                               "new",
                               "--log-level",
                               "warn"},
                              dir_ + "/" + m.name + ".log");
        }
        return wait_until(
            [&] {
                for (std::size_t i = 0; i < members_.size(); ++i)
                    if (!healthy(i))
                        return false;
                return true;
            },
            timeout, std::chrono::milliseconds(300));
    }
    /// SIGTERM, at most 10 s, then SIGKILL.
    void stop(std::size_t i) {
        if (i < members_.size() && members_[i].child.pid() > 0)
            members_[i].child.stop(SIGTERM, std::chrono::seconds(10));
    }
    /// SIGKILL: a member that crashes.
    void kill9(std::size_t i) {
        if (i < members_.size() && members_[i].child.pid() > 0)
            members_[i].child.kill9();
    }
    bool running(std::size_t i) { return members_[i].child.running(); }
    std::size_t size() const { return members_.size(); }
    std::uint16_t client_port(std::size_t i) const { return members_[i].client; }

    /// `etcd://127.0.0.1:c0,127.0.0.1:c1,…` + prefix (in member order: the first listed is e0).
    std::string url(const std::string& prefix) const {
        std::string u = "etcd://";
        for (std::size_t i = 0; i < members_.size(); ++i)
            u += (i ? ",127.0.0.1:" : "127.0.0.1:") + std::to_string(members_[i].client);
        return u + prefix;
    }
    std::string endpoints() const {
        std::string e;
        for (std::size_t i = 0; i < members_.size(); ++i)
            e += (i ? ",http://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(members_[i].client);
        return e;
    }
    bool healthy(std::size_t i) {
        auto r =
            run({"/usr/bin/etcdctl", "--endpoints=http://127.0.0.1:" + std::to_string(members_[i].client),
                 "--command-timeout=2s", "endpoint", "health"},
                std::chrono::seconds(5));
        return r.exit_code == 0;
    }
    /// etcdctl against every member (it fails over by itself).
    RunResult ctl(std::vector<std::string> args, const std::string& stdin_data = "") {
        std::vector<std::string> argv{"/usr/bin/etcdctl", "--endpoints=" + endpoints(),
                                      "--command-timeout=3s"};
        argv.insert(argv.end(), args.begin(), args.end());
        return run(argv, std::chrono::seconds(15), stdin_data);
    }
    /// key -> value of every key under `prefix` (empty on error).
    std::map<std::string, std::string> get_prefix(const std::string& prefix) {
        std::map<std::string, std::string> out;
        auto r = ctl({"get", "--prefix", prefix});
        if (r.exit_code != 0)
            return out;
        // Alternating lines: key, value (values here are one-line JSON).
        std::vector<std::string> lines;
        std::size_t pos = 0;
        while (pos < r.out.size()) {
            auto nl = r.out.find('\n', pos);
            if (nl == std::string::npos)
                nl = r.out.size();
            lines.push_back(r.out.substr(pos, nl - pos));
            pos = nl + 1;
        }
        for (std::size_t i = 0; i + 1 < lines.size(); i += 2)
            out[lines[i]] = lines[i + 1];
        return out;
    }
    std::string log(std::size_t i) const { return members_[i].child.log(); }
    const std::string& dir() const { return dir_; }

  private:
    struct Member {
        std::string name;
        std::uint16_t client = 0;
        std::uint16_t peer = 0;
        Process child;
    };
    std::string dir_;
    std::string token_;
    std::vector<Member> members_;
};

} // namespace clusterd::testing
