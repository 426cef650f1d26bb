// Running the real serf (and any CLI) from tests, bounded and always reaped. See serf_agent.hpp.
#include "support/serf_agent.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "clusterd/rpc/client.hpp"

extern char** environ;

namespace clusterd::testing {

namespace {

std::vector<char*> make_env(const std::vector<std::string>& extra, std::vector<std::string>& storage) {
    storage.clear();
    for (char** e = environ; *e != nullptr; ++e) storage.emplace_back(*e);
    for (const auto& x : extra) storage.push_back(x);
    std::vector<char*> out;
    for (auto& s : storage) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

pid_t spawn(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env, int out_fd, int err_fd) {
    std::vector<std::string> args = argv;
    std::vector<char*> cargv;
    for (auto& a : args) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    std::vector<std::string> env_storage;
    auto envp = make_env(extra_env, env_storage);
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::setpgid(0, 0);
        int devnull = ::open("/dev/null", O_RDONLY);
        ::dup2(devnull, 0);
        ::dup2(out_fd, 1);
        ::dup2(err_fd, 2);
        ::execvpe(cargv[0], cargv.data(), envp.data());
        ::_exit(127);
    }
    return pid;
}

int wait_bounded(pid_t pid, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (true) {
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) return status;
        if (r < 0) return -1;
        if (std::chrono::steady_clock::now() >= deadline) return -2;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

}  // namespace

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          const std::vector<std::string>& extra_env) {
    CommandResult res;
    int out_pipe[2];
    int err_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) return res;
    const pid_t pid = spawn(argv, extra_env, out_pipe[1], err_pipe[1]);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool out_open = true;
    bool err_open = true;
    bool killed = false;
    while (out_open || err_open) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            ::kill(-pid, SIGKILL);
            ::kill(pid, SIGKILL);
            killed = true;
            break;
        }
        pollfd p[2] = {{out_open ? out_pipe[0] : -1, POLLIN, 0}, {err_open ? err_pipe[0] : -1, POLLIN, 0}};
        if (::poll(p, 2, static_cast<int>(std::min<long>(left.count(), 200))) <= 0) continue;
        char buf[8192];
        for (int i = 0; i < 2; ++i) {
            if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
            const ssize_t n = ::read(p[i].fd, buf, sizeof buf);
            if (n <= 0) {
                (i == 0 ? out_open : err_open) = false;
            } else {
                (i == 0 ? res.out : res.err).append(buf, static_cast<std::size_t>(n));
            }
        }
    }
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    int status = wait_bounded(pid, std::chrono::seconds(5));
    if (status == -2) {
        ::kill(pid, SIGKILL);
        status = wait_bounded(pid, std::chrono::seconds(5));
    }
    if (!killed && status >= 0 && WIFEXITED(status)) res.exit_code = WEXITSTATUS(status);
    return res;
}

std::uint16_t free_loopback_port(const std::string& ip) {
    for (int attempt = 0; attempt < 50; ++attempt) {
        int t = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        ::inet_pton(AF_INET, ip.c_str(), &sa.sin_addr);
        sa.sin_port = 0;
        if (::bind(t, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
            ::close(t);
            continue;
        }
        socklen_t len = sizeof sa;
        ::getsockname(t, reinterpret_cast<sockaddr*>(&sa), &len);
        int u = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        const bool udp_ok = ::bind(u, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
        ::close(u);
        ::close(t);
        if (udp_ok) return ntohs(sa.sin_port);
    }
    return 0;
}

Process::Process(const std::vector<std::string>& argv, const std::string& log_path,
                 const std::vector<std::string>& extra_env) {
    const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    pid_ = spawn(argv, extra_env, fd, fd);
    ::close(fd);
}

Process::~Process() {
    if (pid_ > 0) stop(SIGTERM, std::chrono::milliseconds(3000));
}

Process::Process(Process&& o) noexcept : pid_(o.pid_) { o.pid_ = -1; }

Process& Process::operator=(Process&& o) noexcept {
    if (this != &o) {
        if (pid_ > 0) stop(SIGKILL, std::chrono::milliseconds(1000));
        pid_ = o.pid_;
        o.pid_ = -1;
    }
    return *this;
}

bool Process::running() {
    if (pid_ <= 0) return false;
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
        pid_ = -1;
        return false;
    }
    return true;
}

int Process::stop(int sig, std::chrono::milliseconds grace) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, sig);
    int status = wait_bounded(pid_, grace);
    if (status == -2) {
        ::kill(pid_, SIGKILL);
        status = wait_bounded(pid_, std::chrono::seconds(5));
    }
    pid_ = -1;
    return status;
}

SerfAgent::SerfAgent(SerfAgentOptions opts) : opts_(std::move(opts)) {
    char tmpl[] = "/tmp/clusterd-serf-XXXXXX";
    const char* d = ::mkdtemp(tmpl);
    dir_ = d != nullptr ? d : "/tmp";
    bind_port_ = free_loopback_port(opts_.ip);
    rpc_port_ = free_loopback_port(opts_.ip);
    std::vector<std::string> argv = {opts_.serf_binary, "agent", "-node=" + opts_.node, "-bind=" + bind_addr(),
                                     "-rpc-addr=" + rpc_addr(), "-log-level=debug"};
    for (const auto& [k, v] : opts_.tags) argv.push_back("-tag=" + k + "=" + v);
    if (!opts_.encrypt_key.empty()) argv.push_back("-encrypt=" + opts_.encrypt_key);
    if (!opts_.rpc_auth.empty()) {
        const std::string cfg = dir_ + "/config.json";
        std::ofstream(cfg) << "{\"rpc_auth\": \"" << opts_.rpc_auth << "\"}\n";
        argv.push_back("-config-file=" + cfg);
    }
    for (const auto& a : opts_.extra_args) argv.push_back(a);
    proc_ = Process(argv, dir_ + "/agent.log");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < deadline && proc_.running()) {
        auto c = rpc::Client::connect(rpc_addr(), opts_.rpc_auth, std::chrono::milliseconds(500));
        if (c.ok()) {
            ready_ = true;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

SerfAgent::~SerfAgent() {
    stop();
    if (::testing::Test::HasFailure()) {
        std::cerr << "---- serf agent " << opts_.node << " (" << dir_ << "/agent.log) ----\n" << log() << "---- end ----\n";
    }
}

std::string SerfAgent::log() const {
    std::ifstream f(dir_ + "/agent.log");
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

void SerfAgent::stop() { proc_.stop(SIGTERM, std::chrono::milliseconds(3000)); }

}  // namespace clusterd::testing
