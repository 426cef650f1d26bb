#include "child.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

extern char** environ;

namespace clusterd::testing {
namespace {
std::vector<char*> cstrs(std::vector<std::string>& v) {
    std::vector<char*> out;
    for (auto& s : v) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}
std::vector<std::string> env_with(const std::vector<std::string>& extra) {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
    for (const auto& x : extra) env.push_back(x);
    return env;
}
}  // namespace

Child::Child(const std::vector<std::string>& argv, const std::string& log_path,
             const std::vector<std::string>& extra_env)
    : log_(log_path) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    auto args = argv;
    auto env = env_with(extra_env);
    auto a = cstrs(args);
    auto e = cstrs(env);
    if (posix_spawnp(&pid_, a[0], &fa, nullptr, a.data(), e.data()) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
}

Child::~Child() {
    if (pid_ > 0) stop(SIGKILL, std::chrono::milliseconds(2000));
}

Child::Child(Child&& o) noexcept : pid_(o.pid_), log_(std::move(o.log_)) { o.pid_ = -1; }
Child& Child::operator=(Child&& o) noexcept {
    if (this != &o) {
        if (pid_ > 0) stop(SIGKILL);
        pid_ = o.pid_;
        log_ = std::move(o.log_);
        o.pid_ = -1;
    }
    return *this;
}

bool Child::running() {
    if (pid_ <= 0) return false;
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
        pid_ = -1;
        return false;
    }
    return true;
}

int Child::stop(int sig, std::chrono::milliseconds grace) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, sig);
    const auto deadline = std::chrono::steady_clock::now() + grace;
    int st = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        pid_t r = ::waitpid(pid_, &st, WNOHANG);
        if (r == pid_) {
            pid_ = -1;
            return st;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
    return st;
}

void Child::kill9() { stop(SIGKILL, std::chrono::milliseconds(3000)); }

std::string Child::log() const {
    std::ifstream in(log_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout, const std::string& stdin_data) {
    RunResult res;
    int out_pipe[2], err_pipe[2], in_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0 || pipe2(in_pipe, O_CLOEXEC) != 0) return res;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
    auto args = argv;
    auto a = cstrs(args);
    pid_t pid = -1;
    int rc = posix_spawnp(&pid, a[0], &fa, nullptr, a.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    ::close(in_pipe[0]);
    if (!stdin_data.empty()) {
        ssize_t w = ::write(in_pipe[1], stdin_data.data(), stdin_data.size());
        (void)w;
    }
    ::close(in_pipe[1]);
    if (rc != 0) {
        ::close(out_pipe[0]);
        ::close(err_pipe[0]);
        res.err = std::string("spawn failed: ") + std::strerror(rc);
        return res;
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    int open_fds = 2;
    char buf[4096];
    while (open_fds > 0) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        int n = ::poll(fds, 2, static_cast<int>(left.count()));
        if (n <= 0) continue;
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP)) == 0) continue;
            ssize_t r = ::read(fds[i].fd, buf, sizeof buf);
            if (r <= 0) {
                ::close(fds[i].fd);
                fds[i].fd = -1;
                --open_fds;
            } else {
                (i == 0 ? res.out : res.err).append(buf, static_cast<std::size_t>(r));
            }
        }
    }
    for (auto& f : fds)
        if (f.fd >= 0) ::close(f.fd);
    int st = 0;
    // Output closed: give the process until the deadline to exit.
    while (::waitpid(pid, &st, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() >= deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &st, 0);
            res.exit_code = -1;
            return res;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    res.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return res;
}

std::uint16_t free_port(const std::string& host) {
    static std::mt19937 rng(static_cast<unsigned>(::getpid()) * 7919u +
                            static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()));
    // Never hand out the same port twice in one process: a test that picks 100 ports before
    // starting its agents would otherwise collide with itself (birthday odds ~15 % over 30,000).
    static std::set<std::uint16_t> given;
    for (int attempt = 0; attempt < 200; ++attempt) {
        auto port = static_cast<std::uint16_t>(20000 + rng() % 30000);
        if (given.count(port) != 0) continue;
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(port);
        inet_pton(AF_INET, host.c_str(), &sa.sin_addr);
        int u = ::socket(AF_INET, SOCK_DGRAM, 0);
        int t = ::socket(AF_INET, SOCK_STREAM, 0);
        bool ok = ::bind(u, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 &&
                  ::bind(t, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
        ::close(u);
        ::close(t);
        if (ok) {
            given.insert(port);
            return port;
        }
    }
    return 0;
}

bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds timeout, std::chrono::milliseconds step) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        if (cond()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(step);
    }
}

std::string temp_dir(const std::string& tag) {
    static std::atomic<int> counter{0};
    auto dir = std::filesystem::temp_directory_path() /
               ("clusterd-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir.string();
}

std::string clusterd_bin() {
    const char* b = std::getenv("CLUSTERD_BIN");
    return b != nullptr ? b : "clusterd";
}

}  // namespace clusterd::testing
