#include "support/process.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace clusterd::testing {
namespace {

/// argv/envp storage for posix_spawn: the strings and a null-terminated pointer array.
struct CArgs {
    explicit CArgs(std::vector<std::string> v) : strs(std::move(v)) {
        for (auto& s : strs)
            ptrs.push_back(s.data());
        ptrs.push_back(nullptr);
    }
    std::vector<std::string> strs;
    std::vector<char*> ptrs;
};

/// This process's environment with `extra` ("K=V") added; an extra K replaces an inherited K.
CArgs env_with(const std::vector<std::string>& extra) {
    auto key = [](const std::string& kv) { return kv.substr(0, kv.find('=')); };
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string kv(*e);
        const bool replaced =
            std::any_of(extra.begin(), extra.end(), [&](const std::string& x) { return key(x) == key(kv); });
        if (!replaced)
            env.push_back(kv);
    }
    for (const auto& x : extra)
        env.push_back(x);
    return CArgs(std::move(env));
}

/// waitpid with a bound: the status, -1 if there is no such child, -2 at the deadline.
int wait_bounded(pid_t pid, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (true) {
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0)
            return -1;
        if (std::chrono::steady_clock::now() >= deadline)
            return -2;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

std::chrono::milliseconds ms_until(std::chrono::steady_clock::time_point deadline) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
}

std::string sanitize(std::string s, std::size_t max) {
    for (auto& c : s)
        if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '.' && c != '_')
            c = '_';
    return s.size() > max ? s.substr(0, max) : s;
}

} // namespace

Process::Process(const std::vector<std::string>& argv, const std::string& log_path,
                 const std::vector<std::string>& extra_env)
    : log_(log_path) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    CArgs args(argv);
    auto env = env_with(extra_env);
    if (::posix_spawnp(&pid_, args.ptrs[0], &fa, nullptr, args.ptrs.data(), env.ptrs.data()) != 0)
        pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
}

Process::~Process() {
    if (pid_ > 0)
        stop(SIGTERM, std::chrono::milliseconds(3000));
}

Process::Process(Process&& o) noexcept : pid_(o.pid_), status_(o.status_), log_(std::move(o.log_)) {
    o.pid_ = -1;
}

Process& Process::operator=(Process&& o) noexcept {
    if (this != &o) {
        if (pid_ > 0)
            stop(SIGKILL, std::chrono::milliseconds(2000));
        pid_ = o.pid_;
        status_ = o.status_;
        log_ = std::move(o.log_);
        o.pid_ = -1;
    }
    return *this;
}

void Process::reaped(int status) {
    status_ = status;
    pid_ = -1;
}

bool Process::running() {
    if (pid_ <= 0)
        return false;
    int st = 0;
    const pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
        reaped(st);
        return false;
    }
    if (r < 0) { // not our child any more (reaped elsewhere)
        reaped(-1);
        return false;
    }
    return true;
}

int Process::stop(int sig, std::chrono::milliseconds grace) {
    if (pid_ <= 0)
        return -1;
    ::kill(pid_, sig);
    int st = wait_bounded(pid_, grace);
    if (st == -2) {
        ::kill(pid_, SIGKILL);
        st = wait_bounded(pid_, std::chrono::seconds(10));
    }
    reaped(st);
    return st;
}

void Process::kill9() {
    stop(SIGKILL, std::chrono::milliseconds(3000));
}

bool Process::wait_ready(const std::function<bool()>& ready, std::chrono::milliseconds timeout,
                         std::chrono::milliseconds poll) {
    bool exited = false;
    const bool ok = wait_until(
        [&] {
            if (!running()) {
                exited = true;
                return true;
            }
            return ready();
        },
        timeout, poll);
    return ok && !exited;
}

bool Process::wait_log(const std::string& needle, std::chrono::milliseconds timeout) {
    return wait_ready([&] { return log().find(needle) != std::string::npos; }, timeout,
                      std::chrono::milliseconds(50));
}

std::string Process::log() const {
    return read_file(log_);
}

RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
              const std::string& stdin_data, const std::vector<std::string>& extra_env) {
    RunResult res;
    int out_pipe[2], err_pipe[2], in_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0)
        return res;
    if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
        ::close(out_pipe[0]);
        ::close(out_pipe[1]);
        return res;
    }
    if (::pipe2(in_pipe, O_CLOEXEC) != 0) {
        for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]})
            ::close(fd);
        return res;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    // Its own process group, so a timeout kills whatever the command started as well.
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    CArgs args(argv);
    auto env = env_with(extra_env);
    pid_t pid = -1;
    const int rc = ::posix_spawnp(&pid, args.ptrs[0], &fa, &attr, args.ptrs.data(), env.ptrs.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    ::close(in_pipe[0]);
    if (rc == 0 && !stdin_data.empty()) {
        // A closed pipe (the command does not read stdin) must not kill the test.
        struct sigaction ign {
        }, old{};
        ign.sa_handler = SIG_IGN;
        ::sigaction(SIGPIPE, &ign, &old);
        const ssize_t w = ::write(in_pipe[1], stdin_data.data(), stdin_data.size());
        (void)w;
        ::sigaction(SIGPIPE, &old, nullptr);
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
    bool killed = false;
    char buf[8192];
    while (open_fds > 0) {
        const auto left = ms_until(deadline);
        if (left.count() <= 0) {
            ::kill(-pid, SIGKILL);
            ::kill(pid, SIGKILL);
            killed = true;
            break;
        }
        if (::poll(fds, 2, static_cast<int>(std::min<long>(left.count(), 200))) <= 0)
            continue;
        for (auto& f : fds) {
            if (f.fd < 0 || (f.revents & (POLLIN | POLLHUP | POLLERR)) == 0)
                continue;
            const ssize_t r = ::read(f.fd, buf, sizeof buf);
            if (r <= 0) {
                ::close(f.fd);
                f.fd = -1;
                --open_fds;
            } else {
                (&f == &fds[0] ? res.out : res.err).append(buf, static_cast<std::size_t>(r));
            }
        }
    }
    for (auto& f : fds)
        if (f.fd >= 0)
            ::close(f.fd);
    // Output closed: the process gets until the deadline (at least a moment) to exit.
    const auto left = ms_until(deadline);
    int st = wait_bounded(pid, std::max(left, std::chrono::milliseconds(killed ? 5000 : 100)));
    if (st == -2) {
        ::kill(-pid, SIGKILL);
        ::kill(pid, SIGKILL);
        killed = true;
        st = wait_bounded(pid, std::chrono::seconds(5));
    }
    if (!killed && st >= 0 && WIFEXITED(st))
        res.exit_code = WEXITSTATUS(st);
    return res;
}

std::string temp_dir(const std::string& tag) {
    static std::atomic<int> counter{0};
    std::string test = "notest";
    const auto* unit = ::testing::UnitTest::GetInstance();
    if (const auto* info = unit->current_test_info(); info != nullptr)
        test = std::string(info->test_suite_name()) + "." + info->name();
    else if (const auto* suite = unit->current_test_suite(); suite != nullptr) // SetUpTestSuite
        test = suite->name();
    std::filesystem::path base = std::filesystem::temp_directory_path();
    if (const char* e = std::getenv("CLUSTERD_TEST_OUTPUT_DIR"); e != nullptr && *e != '\0')
        base = e;
    const auto dir = base / ("clusterd-" + sanitize(tag, 16) + "-" + sanitize(test, 28) + "-" +
                             std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir.string();
}

std::string clusterd_bin() {
    const char* b = std::getenv("CLUSTERD_BIN");
    return b != nullptr ? b : "clusterd";
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string write_script(const std::string& dir, const std::string& name, const std::string& body) {
    const std::string path = dir + "/" + name;
    std::ofstream(path) << "#!/bin/sh\n" << body;
    ::chmod(path.c_str(), 0755);
    return path;
}

} // namespace clusterd::testing
