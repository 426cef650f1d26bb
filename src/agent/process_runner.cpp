// ProcessRunner: handler scripts as child processes driven entirely by asio (see the header).
// Spawn: posix_spawn in a new process group; stdin is a memfd (no SIGPIPE, no blocking writes);
// stdout+stderr share one pipe read asynchronously; exit is seen through a pidfd (or, on kernels
// without pidfd_open, a 20 ms WNOHANG poll). The pid is reaped with waitpid(pid) only.
#include "clusterd/agent/process_runner.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/post.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <cerrno>
#include <cstring>
#include <deque>
#include <optional>

namespace clusterd::agent {
namespace {

std::string errno_text(const char* what, int err) {
    return std::string(what) + ": " + std::strerror(err);
}

std::string seconds_text(std::chrono::nanoseconds d) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    if (ms % 1000 == 0)
        return std::to_string(ms / 1000) + "s";
    return std::to_string(ms) + "ms";
}

int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

} // namespace

bool runs_without_shell(const std::string& script) {
    if (script.empty() || script.find('/') == std::string::npos)
        return false; // a bare name is looked up in PATH by the shell
    for (const char c : script) {
        const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                           c == '/' || c == '.' || c == '_' || c == '-' || c == '+' || c == ',' || c == '@' ||
                           c == '%' || c == ':';
        if (!plain)
            return false;
    }
    return true;
}

struct ProcessRunner::Impl : std::enable_shared_from_this<ProcessRunner::Impl> {
    struct Queued {
        HandlerJob job;
        Callback done;
    };
    struct Active {
        Active(asio::io_context& io) : out(io), pidfd(io), slow(io), deadline(io), kill(io), poll(io) {}
        HandlerJob job;
        Callback done;
        pid_t pid = -1;
        asio::posix::stream_descriptor out;
        asio::posix::stream_descriptor pidfd;
        asio::steady_timer slow, deadline, kill, poll;
        std::array<char, 4096> chunk{};
        std::string buf;
        std::uint64_t total = 0;
        bool read_outstanding = false;
        bool exited = false;
        bool finished = false;
        int status = 0;
        bool reaped = false;
        bool timed_out = false;
        std::uint64_t gen = 0;
        std::chrono::steady_clock::time_point start;
    };

    asio::io_context& io;
    RunnerOptions opts;
    LogSink log;
    std::deque<Queued> queue;
    std::unique_ptr<Active> active;
    std::uint64_t completed = 0;
    std::uint64_t dropped = 0;
    RunnerStats stats;
    std::uint64_t generation = 0;
    bool stopped = false;

    /// The active job if it is still generation `gen`; handlers of finished jobs get nullptr.
    Active* current(std::uint64_t gen) const { return active && active->gen == gen ? active.get() : nullptr; }

    Impl(asio::io_context& io_ctx, RunnerOptions o, LogSink l)
        : io(io_ctx), opts(std::move(o)), log(std::move(l)) {}

    void say(LogLevel level, const std::string& msg) const {
        if (log)
            log(level, msg);
    }

    void start_next() {
        if (stopped || active || queue.empty())
            return;
        Queued q = std::move(queue.front());
        queue.pop_front();
        spawn(std::move(q));
    }

    void fail_spawn(Queued& q, const std::string& why) {
        HandlerResult r;
        r.script = q.job.script;
        r.spawn_error = why;
        ++completed;
        ++stats.failed;
        ++stats.spawn_failed;
        asio::post(io, [self = shared_from_this(), done = std::move(q.done), r = std::move(r)] {
            if (done && !self->stopped)
                done(r);
        });
        asio::post(io, [self = shared_from_this()] { self->start_next(); });
    }

    void spawn(Queued q) {
        int in_fd = ::memfd_create("clusterd-handler-stdin", MFD_CLOEXEC);
        if (in_fd < 0)
            return fail_spawn(q, errno_text("memfd_create", errno));
        const std::string& data = q.job.stdin_data;
        for (std::size_t off = 0; off < data.size();) {
            const ssize_t n = ::write(in_fd, data.data() + off, data.size() - off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                const int e = errno;
                ::close(in_fd);
                return fail_spawn(q, errno_text("writing handler stdin", e));
            }
            off += static_cast<std::size_t>(n);
        }
        ::lseek(in_fd, 0, SEEK_SET);
        int out_fds[2];
        if (::pipe2(out_fds, O_CLOEXEC) != 0) {
            const int e = errno;
            ::close(in_fd);
            return fail_spawn(q, errno_text("pipe2", e));
        }

        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
        posix_spawn_file_actions_adddup2(&fa, out_fds[1], 1);
        posix_spawn_file_actions_adddup2(&fa, out_fds[1], 2);
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        sigset_t none, defaults;
        sigemptyset(&none);
        sigemptyset(&defaults);
        for (int s : {SIGPIPE, SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM})
            sigaddset(&defaults, s);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &defaults);
        posix_spawnattr_setpgroup(&attr, 0);
        posix_spawnattr_setflags(&attr,
                                 POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

        std::vector<char*> argv{const_cast<char*>(opts.shell.c_str()), const_cast<char*>("-c"),
                                const_cast<char*>(q.job.script.c_str()), nullptr};
        std::vector<char*> envp;
        envp.reserve(q.job.env.size() + 1);
        for (auto& e : q.job.env)
            envp.push_back(const_cast<char*>(e.c_str()));
        envp.push_back(nullptr);

        pid_t pid = -1;
        int rc = -1;
        if (runs_without_shell(q.job.script)) {
            // `sh -c /path/to/script` would fork a shell only to run one file: run the file
            // itself (the same argv[0], environment and stdin); anything exec refuses (not
            // executable, no #! line, missing) goes to the shell below, which reports or
            // handles it exactly as before.
            std::vector<char*> direct{const_cast<char*>(q.job.script.c_str()), nullptr};
            rc = ::posix_spawn(&pid, q.job.script.c_str(), &fa, &attr, direct.data(), envp.data());
            if (rc == 0)
                ++stats.direct;
        }
        if (rc != 0)
            rc = ::posix_spawn(&pid, opts.shell.c_str(), &fa, &attr, argv.data(), envp.data());
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        ::close(in_fd);
        ::close(out_fds[1]);
        if (rc != 0) {
            ::close(out_fds[0]);
            return fail_spawn(q, errno_text("posix_spawn", rc));
        }

        active = std::make_unique<Active>(io);
        Active& a = *active;
        a.job = std::move(q.job);
        a.done = std::move(q.done);
        a.pid = pid;
        a.gen = ++generation;
        a.start = std::chrono::steady_clock::now();
        a.out.assign(out_fds[0]);
        a.out.non_blocking(true);
        read_more();

        const int pfd = open_pidfd(pid);
        if (pfd >= 0) {
            a.pidfd.assign(pfd);
            a.pidfd.async_wait(asio::posix::stream_descriptor::wait_read,
                               [self = shared_from_this(), g = a.gen](const std::error_code& ec) {
                                   Active* p = self->current(g);
                                   if (ec || p == nullptr)
                                       return;
                                   self->on_exit_signalled();
                               });
        } else {
            poll_exit();
        }

        a.slow.expires_after(opts.slow_warning);
        a.slow.async_wait([self = shared_from_this(), g = a.gen](const std::error_code& ec) {
            Active* p = self->current(g);
            if (ec || p == nullptr)
                return;
            self->say(LogLevel::Warn, "agent: Script '" + p->job.script + "' slow, execution exceeding " +
                                          seconds_text(self->opts.slow_warning));
        });
        arm_timeout();
    }

    void arm_timeout() {
        if (!active || opts.timeout.count() <= 0)
            return;
        Active& a = *active;
        a.deadline.expires_at(a.start +
                              std::chrono::duration_cast<std::chrono::steady_clock::duration>(opts.timeout));
        a.deadline.async_wait([self = shared_from_this(), g = a.gen](const std::error_code& ec) {
            Active* p = self->current(g);
            if (ec || p == nullptr || p->exited)
                return;
            p->timed_out = true;
            self->say(LogLevel::Error, "agent: Script '" + p->job.script + "' timed out after " +
                                           seconds_text(self->opts.timeout) + ", sending SIGTERM");
            ::kill(-p->pid, SIGTERM);
            p->kill.expires_after(self->opts.kill_grace);
            p->kill.async_wait([self, g](const std::error_code& ec2) {
                Active* q = self->current(g);
                if (ec2 || q == nullptr || q->exited)
                    return;
                self->say(LogLevel::Error,
                          "agent: Script '" + q->job.script + "' ignored SIGTERM, sending SIGKILL");
                ::kill(-q->pid, SIGKILL);
            });
        });
    }

    void poll_exit() {
        Active& a = *active;
        a.poll.expires_after(std::chrono::milliseconds(20));
        a.poll.async_wait([self = shared_from_this(), g = a.gen](const std::error_code& ec) {
            Active* p = self->current(g);
            if (ec || p == nullptr)
                return;
            if (self->try_reap())
                self->on_exited();
            else
                self->poll_exit();
        });
    }

    /// Non-blocking waitpid for the active child; true once it has exited (or is gone).
    bool try_reap() {
        Active& a = *active;
        int status = 0;
        pid_t r;
        do {
            r = ::waitpid(a.pid, &status, WNOHANG);
        } while (r < 0 && errno == EINTR);
        if (r == a.pid) {
            a.status = status;
            a.reaped = true;
            return true;
        }
        if (r < 0) { // ECHILD: somebody else reaped it; the status is lost
            say(LogLevel::Warn,
                "agent: Script '" + a.job.script + "': exit status lost (child reaped elsewhere)");
            return true;
        }
        return false;
    }

    void on_exit_signalled() {
        if (try_reap()) {
            on_exited();
        } else { // spurious wake-up: wait again
            Active& a = *active;
            a.pidfd.async_wait(asio::posix::stream_descriptor::wait_read,
                               [self = shared_from_this(), g = a.gen](const std::error_code& ec) {
                                   Active* p = self->current(g);
                                   if (ec || p == nullptr)
                                       return;
                                   self->on_exit_signalled();
                               });
        }
    }

    void on_exited() {
        Active& a = *active;
        a.exited = true;
        std::error_code ignored;
        a.slow.cancel();
        a.deadline.cancel();
        a.kill.cancel();
        if (a.read_outstanding) {
            a.out.cancel(ignored); // the read handler drains and finishes
        } else {
            drain_and_finish();
        }
    }

    void append(const char* data, std::size_t n) {
        Active& a = *active;
        a.total += n;
        a.buf.append(data, n);
        if (a.buf.size() > 2 * opts.max_output)
            a.buf.erase(0, a.buf.size() - opts.max_output);
    }

    void read_more() {
        Active& a = *active;
        a.read_outstanding = true;
        a.out.async_read_some(asio::buffer(a.chunk), [self = shared_from_this(),
                                                      g = a.gen](const std::error_code& ec, std::size_t n) {
            Active* p = self->current(g);
            if (p == nullptr)
                return;
            p->read_outstanding = false;
            self->append(p->chunk.data(), n);
            if (p->exited)
                return self->drain_and_finish();
            if (!ec)
                return self->read_more();
            // EOF or error: wait for the exit notification (a grandchild may still hold the pipe,
            // but then we never get EOF and this branch is not reached).
        });
    }

    void drain_and_finish() {
        Active& a = *active;
        if (a.out.is_open()) {
            std::error_code ec;
            for (int i = 0; i < 64; ++i) { // at most a pipe buffer is left once the child has exited
                const std::size_t n = a.out.read_some(asio::buffer(a.chunk), ec);
                append(a.chunk.data(), n);
                if (ec)
                    break;
            }
        }
        finish();
    }

    void finish() {
        std::unique_ptr<Active> a = std::move(active);
        std::error_code ignored;
        a->out.close(ignored);
        a->pidfd.close(ignored);
        a->poll.cancel();
        HandlerResult r;
        r.script = a->job.script;
        r.output_total = a->total;
        r.truncated = a->total > opts.max_output;
        r.output = a->buf.size() > opts.max_output ? a->buf.substr(a->buf.size() - opts.max_output) : a->buf;
        r.timed_out = a->timed_out;
        r.elapsed = std::chrono::steady_clock::now() - a->start;
        if (a->reaped) {
            if (WIFEXITED(a->status)) {
                r.exited = true;
                r.exit_code = WEXITSTATUS(a->status);
            } else if (WIFSIGNALED(a->status)) {
                r.term_signal = WTERMSIG(a->status);
            }
        }
        if (r.truncated)
            say(LogLevel::Warn, "agent: Script '" + r.script + "' generated " +
                                    std::to_string(r.output_total) + " bytes of output, truncated to " +
                                    std::to_string(opts.max_output));
        say(LogLevel::Debug, "agent: Event '" + a->job.label + "' script output: " + r.output);
        ++completed;
        stats.duration.record(std::chrono::duration_cast<base::Duration>(r.elapsed));
        if (!r.success())
            ++stats.failed;
        if (r.timed_out)
            ++stats.timed_out;
        asio::post(io, [self = shared_from_this(), done = std::move(a->done), r = std::move(r)] {
            if (done && !self->stopped)
                done(r); // never call back into a destroyed owner
        });
        // Destroying `a` cancels its pending operations; their handlers find no current job for
        // their generation and return without touching it.
        cancel_all(*a);
        a.reset();
        asio::post(io, [self = shared_from_this()] { self->start_next(); });
    }

    void cancel_all(Active& a) {
        std::error_code ignored;
        a.slow.cancel();
        a.deadline.cancel();
        a.kill.cancel();
        a.poll.cancel();
        a.out.close(ignored);
        a.pidfd.close(ignored);
    }

    void shutdown() {
        stopped = true;
        queue.clear();
        if (active) {
            ::kill(-active->pid, SIGKILL);
            if (!active->reaped) {
                int status = 0;
                while (::waitpid(active->pid, &status, 0) < 0 && errno == EINTR) {
                }
            }
            cancel_all(*active);
            active.reset();
        }
    }
};

ProcessRunner::ProcessRunner(asio::io_context& io, RunnerOptions options, LogSink log)
    : impl_(std::make_shared<Impl>(io, std::move(options), std::move(log))) {}

ProcessRunner::~ProcessRunner() {
    impl_->shutdown();
}

bool ProcessRunner::submit(HandlerJob job, Callback done) {
    if (impl_->stopped)
        return false;
    if (impl_->opts.max_queue != 0 && impl_->queue.size() >= impl_->opts.max_queue) {
        ++impl_->dropped;
        impl_->say(LogLevel::Error, "agent: handler queue full (" + std::to_string(impl_->opts.max_queue) +
                                        " waiting), dropping '" + job.label + "' event for script '" +
                                        job.script + "'");
        return false;
    }
    impl_->queue.push_back(Impl::Queued{std::move(job), std::move(done)});
    asio::post(impl_->io, [self = impl_] { self->start_next(); });
    return true;
}

const RunnerStats& ProcessRunner::stats() const {
    return impl_->stats;
}

std::uint64_t ProcessRunner::dropped() const {
    return impl_->dropped;
}

std::size_t ProcessRunner::pending() const {
    return impl_->queue.size() + (impl_->active ? 1 : 0);
}

std::uint64_t ProcessRunner::completed() const {
    return impl_->completed;
}

void ProcessRunner::set_timeout(std::chrono::nanoseconds timeout) {
    impl_->opts.timeout = timeout;
}

} // namespace clusterd::agent
