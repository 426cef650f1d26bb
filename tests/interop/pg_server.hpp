// PgServer: a real PostgreSQL server for datastore tests, made by initdb in a temp dir and run as
// the `postgres` user (PostgreSQL refuses root) with password (scram) authentication for the
// role `kong`. Started and stopped by PID; optionally inside a network namespace (`prefix` =
// `ip netns exec <ns>`, which execs in place, so the PID is the server's own) listening on that
// host's address. Needs root (setpriv to the postgres user).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace clusterd::testing {

class PgServer {
  public:
    static constexpr const char* kPassword = "pg-S3cret-14";

    /// `prefix`: run every server command under it (e.g. {"ip","netns","exec",ns}); `listen`:
    /// the address the server listens on (and clients use).
    explicit PgServer(std::vector<std::string> prefix = {}, std::string listen = "127.0.0.1");
    ~PgServer();
    PgServer(const PgServer&) = delete;
    PgServer& operator=(const PgServer&) = delete;

    bool initialised() const { return !bin_.empty() && init_.exit_code == 0; }
    std::string init_output() const { return bin_ + ": " + init_.out + init_.err; }

    /// Starts the server and waits (bounded) until pg_isready answers.
    bool start();
    /// SIGINT = PostgreSQL's fast shutdown; bounded, then SIGKILL.
    void stop();
    std::string url() const;
    std::string url_without_password() const;
    std::string log() const { return child_.log(); }
    std::uint16_t port() const { return port_; }

    /// name -> last_seen_ms of every row (empty on error). Through libpq from this process, so
    /// only for a server on loopback (no prefix).
    std::map<std::string, std::int64_t> rows() const;

  private:
    std::vector<std::string> wrap(std::vector<std::string> argv, bool as_postgres) const;
    std::vector<std::string> prefix_;
    std::string listen_;
    std::string dir_;
    std::uint16_t port_;
    std::string bin_;
    RunResult init_;
    Process child_;
};

} // namespace clusterd::testing
