// PgServer (see pg_server.hpp).
#include "pg_server.hpp"

#include <libpq-fe.h>
#include <signal.h>

#include <filesystem>
#include <fstream>

namespace clusterd::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

/// The newest /usr/lib/postgresql/<v>/bin holding postgres and initdb ("" when none).
std::string pg_bindir() {
    std::string best;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
        const auto bin = e.path() / "bin";
        if (fs::exists(bin / "postgres") && fs::exists(bin / "initdb") && bin.string() > best)
            best = bin.string();
    }
    return best;
}

} // namespace

PgServer::PgServer(std::vector<std::string> prefix, std::string listen)
    : prefix_(std::move(prefix)), listen_(std::move(listen)), dir_(temp_dir("pg")), port_(free_port()) {
    bin_ = pg_bindir();
    std::ofstream(dir_ + "/pw") << kPassword << "\n";
    fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
    run({"chown", "-R", "postgres:postgres", dir_});
    init_ = run(wrap({bin_ + "/initdb", "-D", dir_ + "/data", "-U", "kong", "--pwfile=" + dir_ + "/pw",
                      "--auth=scram-sha-256", "-E", "UTF8"},
                     true),
                120s);
    // Clients come from other hosts in namespace tests: let them in with the password.
    std::ofstream(dir_ + "/data/pg_hba.conf", std::ios::app) << "host all all 0.0.0.0/0 scram-sha-256\n";
}

PgServer::~PgServer() {
    stop();
    std::error_code ec;
    fs::remove_all(dir_, ec);
}

std::vector<std::string> PgServer::wrap(std::vector<std::string> argv, bool as_postgres) const {
    std::vector<std::string> out = prefix_;
    if (as_postgres)
        out.insert(out.end(), {"setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"});
    out.insert(out.end(), argv.begin(), argv.end());
    return out;
}

bool PgServer::start() {
    child_ = Process(wrap({bin_ + "/postgres", "-D", dir_ + "/data", "-p", std::to_string(port_), "-k", dir_,
                           "-c", "listen_addresses=" + listen_},
                          true),
                     dir_ + "/postgres.log");
    const auto ready =
        wrap({bin_ + "/pg_isready", "-q", "-h", listen_, "-p", std::to_string(port_), "-t", "2"}, false);
    return wait_until([&] { return run(ready, 5s).exit_code == 0; }, 30s, 200ms);
}

void PgServer::stop() {
    if (child_.pid() > 0)
        child_.stop(SIGINT, 15s);
}

std::string PgServer::url() const {
    return "postgres://kong:" + std::string(kPassword) + "@" + listen_ + ":" + std::to_string(port_) +
           "/postgres?sslmode=disable";
}

std::string PgServer::url_without_password() const {
    return "postgres://kong@" + listen_ + ":" + std::to_string(port_) + "/postgres?sslmode=disable";
}

std::map<std::string, std::int64_t> PgServer::rows() const {
    std::map<std::string, std::int64_t> out;
    PGconn* c = PQconnectdb((url() + "&connect_timeout=5").c_str());
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult* r = PQexec(c, "SELECT name, last_seen_ms FROM clusterd_nodes");
        if (PQresultStatus(r) == PGRES_TUPLES_OK)
            for (int i = 0; i < PQntuples(r); ++i)
                out[PQgetvalue(r, i, 0)] = std::stoll(PQgetvalue(r, i, 1));
        PQclear(r);
    }
    PQfinish(c);
    return out;
}

} // namespace clusterd::testing
