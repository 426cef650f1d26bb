// The etcd v3 datastore adapter: a Backend run by WorkerStore's thread (worker_store.hpp). It
// speaks etcd's JSON gateway over HTTP/1.1 with asio on a private io_context that only this
// worker thread runs, every exchange under one deadline (connect + request + answer), so the
// agent's event loop never waits for etcd. Requests go to the endpoint that answered last; a
// connect error, a timeout, a broken answer or a 5xx moves on to the next listed endpoint.
//
// Layout under the URL's prefix P (etcd_codec.hpp has the encodings):
//   P/schema_version   "1", written on first use by a create-if-absent txn
//   P/nodes/<name>     the row as JSON, attached to this node's lease (TTL = ttl_on_failure),
//                      so etcd deletes a dead node's row by itself
// Register is read, then a txn that puts only if the key's mod_revision is still the one read
// (or the key is still absent): the conflict check and the write are one atomic step.
#include <array>
#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <charconv>
#include <optional>

#include "clusterd/store/etcd_codec.hpp"
#include "clusterd/store/store.hpp"
#include "worker_store.hpp"

namespace clusterd::store {
namespace {

using discovery::StoreResult;
using etcd::HttpResponse;
using etcd::Kv;

constexpr int kWriteAttempts = 5; ///< txn retries when another writer changed the key in between

bool parse_i64(const std::string& s, std::int64_t& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return !s.empty() && ec == std::errc() && p == s.data() + s.size();
}

/// One HTTP exchange on the private io_context. Handlers hold the shared_ptr (rule 5), and the
/// context is run until every handler has finished, so nothing outlives the exchange.
struct Exchange : std::enable_shared_from_this<Exchange> {
    explicit Exchange(asio::io_context& io) : sock(io), timer(io), resolver(io) {}
    asio::ip::tcp::socket sock;
    asio::steady_timer timer;
    asio::ip::tcp::resolver resolver;
    etcd::ResponseParser parser;
    std::string request;
    std::array<char, 16384> buf{};
    std::string error; ///< "" when the answer was read
    bool timed_out = false;
    bool finished = false;

    void finish(std::string why) {
        if (finished)
            return;
        finished = true;
        error = std::move(why);
        timer.cancel();
    }

    void start(const etcd::Endpoint& ep, bool connected, std::chrono::milliseconds deadline) {
        auto self = shared_from_this();
        timer.expires_after(deadline);
        timer.async_wait([self](const asio::error_code& ec) {
            if (ec || self->finished)
                return;
            self->timed_out = true;
            self->resolver.cancel();
            asio::error_code ignored;
            self->sock.close(ignored);
        });
        if (connected) {
            send();
            return;
        }
        resolver.async_resolve(
            ep.host, std::to_string(ep.port),
            [self](const asio::error_code& ec, const asio::ip::tcp::resolver::results_type& rs) {
                if (ec)
                    return self->finish("cannot resolve: " + ec.message());
                self->connect(rs);
            });
    }

    void connect(const asio::ip::tcp::resolver::results_type& rs) {
        if (timed_out)
            return finish("timed out"); // the deadline fired between two steps
        auto self = shared_from_this();
        asio::async_connect(sock, rs, [self](const asio::error_code& ec, const asio::ip::tcp::endpoint&) {
            if (ec)
                return self->finish("connect: " + ec.message());
            asio::error_code ignored;
            self->sock.set_option(asio::ip::tcp::no_delay(true), ignored);
            self->send();
        });
    }

    void send() {
        if (timed_out)
            return finish("timed out"); // the deadline fired between two steps
        auto self = shared_from_this();
        asio::async_write(sock, asio::buffer(request), [self](const asio::error_code& ec, std::size_t) {
            if (ec)
                return self->finish("sending: " + ec.message());
            self->receive();
        });
    }

    void receive() {
        if (timed_out)
            return finish("timed out"); // the deadline fired between two steps
        auto self = shared_from_this();
        sock.async_read_some(asio::buffer(buf), [self](const asio::error_code& ec, std::size_t n) {
            using State = etcd::ResponseParser::State;
            State st = self->parser.state();
            if (n > 0)
                st = self->parser.feed(self->buf.data(), n);
            if (st == State::NeedMore && ec == asio::error::eof)
                st = self->parser.finish();
            if (st == State::Done)
                return self->finish("");
            if (st == State::Failed)
                return self->finish(self->parser.error());
            if (ec)
                return self->finish("reading: " + ec.message());
            self->receive();
        });
    }
};

/// HTTP/1.1 to a list of endpoints with failover; one kept-alive connection.
class Client {
  public:
    Client(std::vector<etcd::Endpoint> eps, std::chrono::milliseconds deadline)
        : eps_(std::move(eps)), deadline_(deadline) {}

    /// POSTs to the endpoint that answered last, then to the others in order. An answer with a
    /// status below 500 is returned as it is; the error after every endpoint failed names them.
    base::Result<HttpResponse> post(const std::string& path, const std::string& body) {
        std::string tried;
        for (std::size_t k = 0; k < eps_.size(); ++k) {
            const std::size_t idx = (current_ + k) % eps_.size();
            auto r = exchange(idx, etcd::http_post(eps_[idx], path, body));
            std::string why;
            if (!r)
                why = r.error().message;
            else if (r->status >= 500)
                why = etcd::http_error(*r).message;
            if (why.empty()) {
                current_ = idx;
                return r;
            }
            idle_.reset();
            tried += (tried.empty() ? "" : "; ") + eps_[idx].shown() + ": " + why;
        }
        return base::make_error("etcd", eps_.size() == 1 ? tried : "no endpoint answered (" + tried + ")");
    }

  private:
    base::Result<HttpResponse> exchange(std::size_t idx, const std::string& request) {
        const bool reuse = idle_.has_value() && idle_idx_ == idx;
        auto ex = std::make_shared<Exchange>(io_);
        ex->request = request;
        if (reuse)
            ex->sock = std::move(*idle_);
        idle_.reset();
        run(ex, idx, reuse);
        if (reuse && !ex->error.empty() && !ex->timed_out && !ex->parser.started()) {
            // The kept-alive connection had been closed by etcd: once more on a new one.
            ex = std::make_shared<Exchange>(io_);
            ex->request = request;
            run(ex, idx, false);
        }
        if (ex->timed_out) {
            const auto ms = deadline_.count();
            return base::make_error("etcd",
                                    "no answer within " + (ms % 1000 == 0 ? std::to_string(ms / 1000) + " s"
                                                                          : std::to_string(ms) + " ms"));
        }
        if (!ex->error.empty())
            return base::make_error("etcd", ex->error);
        HttpResponse resp = ex->parser.response();
        if (resp.keep_alive) {
            idle_.emplace(std::move(ex->sock));
            idle_idx_ = idx;
        }
        return resp;
    }

    void run(const std::shared_ptr<Exchange>& ex, std::size_t idx, bool connected) {
        io_.restart();
        ex->start(eps_[idx], connected, deadline_);
        io_.run();
    }

    asio::io_context io_;
    std::vector<etcd::Endpoint> eps_;
    std::chrono::milliseconds deadline_;
    std::size_t current_ = 0;
    std::optional<asio::ip::tcp::socket> idle_;
    std::size_t idle_idx_ = 0;
};

class Etcd final : public Backend {
  public:
    Etcd(etcd::EtcdUrl url, std::string shown, std::chrono::milliseconds deadline)
        : url_(std::move(url)), shown_(std::move(shown)), client_(url_.endpoints, deadline) {}

    StoreResult register_row(const discovery::Row& row, base::Instant now) override {
        return run("writing the node row", [&]() -> StoreResult {
            // The lease outlives the row by nothing: ttl_on_failure rounded up to whole seconds.
            const auto ttl_ms = discovery::to_ms(row.expires) - discovery::to_ms(now);
            const std::int64_t ttl_s = std::max<std::int64_t>(60, (ttl_ms + 999) / 1000);
            const std::string key = url_.node_key(row.name);
            for (int attempt = 0; attempt < kWriteAttempts; ++attempt) {
                auto lease = ensure_lease(ttl_s);
                if (!lease)
                    return failed(lease.error());
                auto cur = get(key);
                if (!cur)
                    return failed(cur.error());
                discovery::Row out = row;
                std::int64_t rev = 0;
                if (cur->has_value()) {
                    const Kv& kv = **cur;
                    rev = kv.mod_revision;
                    const auto old = etcd::decode_row(row.name, kv.value);
                    std::int64_t expires = 0, created = 0;
                    if (parse_i64(old.expires_ms, expires) && expires > discovery::to_ms(now) &&
                        old.address != row.address) {
                        StoreResult r;
                        r.conflict = true;
                        r.conflict_address = old.address;
                        return r;
                    }
                    if (old.address == row.address && parse_i64(old.created_ms, created))
                        out.created = discovery::from_ms(created);
                }
                auto resp =
                    client_.post("/v3/kv/txn", etcd::put_if_request(key, etcd::encode_row(out), *lease, rev));
                if (!resp)
                    return failed(resp.error());
                if (resp->status / 100 != 2) {
                    if (etcd::lease_not_found(*resp)) { // expired between keepalive and put
                        lease_id_ = 0;
                        continue;
                    }
                    return failed(etcd::http_error(*resp));
                }
                auto txn = etcd::decode_txn(resp->body);
                if (!txn)
                    return failed(txn.error());
                if (txn->succeeded)
                    return StoreResult{};
                // Another writer changed the key since it was read: read it again.
            }
            return failed(base::make_error("etcd", "the row kept changing under other writers"));
        });
    }

    StoreResult list() override {
        return run("listing nodes", [&]() -> StoreResult {
            auto kvs = range_prefix();
            if (!kvs)
                return failed(kvs.error());
            StoreResult r;
            r.rows = etcd::rows_of(url_.nodes_prefix(), *kvs);
            return r;
        });
    }

    StoreResult remove(const std::string& name, const std::string& address) override {
        return run("deleting a node row", [&]() -> StoreResult {
            const std::string key = url_.node_key(name);
            if (address.empty()) {
                auto resp = call("/v3/kv/deleterange", etcd::delete_request(key));
                if (!resp)
                    return failed(resp.error());
                return StoreResult{};
            }
            for (int attempt = 0; attempt < kWriteAttempts; ++attempt) {
                auto cur = get(key);
                if (!cur)
                    return failed(cur.error());
                if (!cur->has_value())
                    return StoreResult{};
                const Kv& kv = **cur;
                if (etcd::decode_row(name, kv.value).address != address)
                    return StoreResult{};
                auto resp = call("/v3/kv/txn", etcd::delete_if_request(key, kv.mod_revision));
                if (!resp)
                    return failed(resp.error());
                auto txn = etcd::decode_txn(resp->body);
                if (!txn)
                    return failed(txn.error());
                // The lease is left to expire: other keys may share it, and revoking would delete them.
                if (txn->succeeded)
                    return StoreResult{};
            }
            return failed(base::make_error("etcd", "the row kept changing under other writers"));
        });
    }

    StoreResult prune(base::Instant now) override {
        // Leases delete the rows this adapter writes; this catches rows written without one.
        // Each delete is conditional on the mod_revision listed, so a row refreshed in between
        // stays.
        return run("pruning expired rows", [&]() -> StoreResult {
            auto kvs = range_prefix();
            if (!kvs)
                return failed(kvs.error());
            for (const auto& kv : *kvs) {
                if (kv.key.rfind(url_.nodes_prefix(), 0) != 0)
                    continue;
                const auto row = etcd::decode_row(kv.key.substr(url_.nodes_prefix().size()), kv.value);
                std::int64_t expires = 0;
                if (!parse_i64(row.expires_ms, expires) || expires > discovery::to_ms(now))
                    continue;
                auto resp = call("/v3/kv/txn", etcd::delete_if_request(kv.key, kv.mod_revision));
                if (!resp)
                    return failed(resp.error());
                auto txn = etcd::decode_txn(resp->body);
                if (!txn)
                    return failed(txn.error());
            }
            return StoreResult{};
        });
    }

  private:
    static StoreResult failed(const base::Error& e) {
        StoreResult r;
        r.status = e;
        return r;
    }

    /// Schema check first (once, and again after any error), then `fn`; errors get one prefix.
    template <typename Fn> StoreResult run(const char* what, Fn&& fn) {
        StoreResult r;
        if (!schema_ok_) {
            if (auto st = ensure_schema(); !st)
                r.status = st.error();
        }
        if (r.status)
            r = fn();
        if (!r.status) {
            schema_ok_ = false;
            r.status =
                base::make_error("datastore", "etcd " + std::string(what) + ": " + r.status.error().message);
        }
        return r;
    }

    /// A POST whose answer must be 2xx.
    base::Result<HttpResponse> call(const std::string& path, const std::string& body) {
        auto resp = client_.post(path, body);
        if (!resp)
            return resp.error();
        if (resp->status / 100 != 2)
            return etcd::http_error(*resp);
        return resp;
    }

    base::Status ensure_schema() {
        const std::string version = std::to_string(etcd::kSchemaVersion);
        auto resp = call("/v3/kv/txn", etcd::put_if_request(url_.schema_key(), version, 0, 0));
        if (!resp)
            return resp.error();
        auto txn = etcd::decode_txn(resp->body);
        if (!txn)
            return txn.error();
        if (!txn->succeeded) {
            const std::string found = txn->kvs.empty() ? "" : txn->kvs.front().value;
            if (found != version) {
                std::string shown;
                for (char c : found.substr(0, 40))
                    shown += (static_cast<unsigned char>(c) < 0x20) ? '?' : c;
                return base::make_error("etcd", shown_ + ": schema version '" + shown +
                                                    "' is not the one this clusterd uses (" + version + ")");
            }
        }
        schema_ok_ = true;
        return base::ok_status();
    }

    /// This node's lease, kept alive; granted again when etcd no longer has it.
    base::Result<std::int64_t> ensure_lease(std::int64_t ttl_s) {
        if (lease_id_ != 0 && lease_ttl_ == ttl_s) {
            auto resp = client_.post("/v3/lease/keepalive", etcd::lease_id_request(lease_id_));
            if (!resp)
                return resp.error();
            if (resp->status / 100 == 2) {
                auto ttl = etcd::decode_keepalive(resp->body);
                if (!ttl)
                    return ttl.error();
                if (*ttl > 0)
                    return lease_id_;
            } else if (!etcd::lease_not_found(*resp)) {
                return etcd::http_error(*resp);
            }
            lease_id_ = 0; // expired (etcd was unreachable for longer than the TTL): a new one
        }
        auto resp = call("/v3/lease/grant", etcd::lease_grant_request(ttl_s));
        if (!resp)
            return resp.error();
        auto id = etcd::decode_lease_grant(resp->body);
        if (!id)
            return id.error();
        lease_id_ = *id;
        lease_ttl_ = ttl_s;
        return lease_id_;
    }

    base::Result<std::optional<Kv>> get(const std::string& key) {
        auto resp = call("/v3/kv/range", etcd::range_request(key));
        if (!resp)
            return resp.error();
        auto kvs = etcd::decode_range(resp->body);
        if (!kvs)
            return kvs.error();
        for (auto& kv : *kvs)
            if (kv.key == key)
                return std::optional<Kv>(std::move(kv));
        return std::optional<Kv>();
    }

    base::Result<std::vector<Kv>> range_prefix() {
        const std::string p = url_.nodes_prefix();
        auto resp = call("/v3/kv/range", etcd::range_request(p, etcd::prefix_end(p)));
        if (!resp)
            return resp.error();
        return etcd::decode_range(resp->body);
    }

    etcd::EtcdUrl url_;
    std::string shown_;
    Client client_;
    bool schema_ok_ = false;
    std::int64_t lease_id_ = 0;
    std::int64_t lease_ttl_ = 0;
};

} // namespace

std::unique_ptr<discovery::Store> make_etcd_store(asio::io_context& io, const etcd::EtcdUrl& url,
                                                  const std::string& shown,
                                                  std::chrono::milliseconds deadline) {
    return std::make_unique<WorkerStore>(io, shown, std::make_unique<Etcd>(url, shown, deadline));
}

} // namespace clusterd::store
