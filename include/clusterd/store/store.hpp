// clusterd::store: the datastore adapters behind discovery::Store, and the datastore URL.
// Store IO never runs on the event loop: each adapter owns one worker thread with a queue;
// results are posted back to the io_context the adapter was built with (docs/architecture.md).
#pragma once

#include <asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "clusterd/base/result.hpp"
#include "clusterd/discovery/registry.hpp"

namespace clusterd::store {

/// A parsed `datastore` setting.
struct DatastoreUrl {
    enum class Kind { Sqlite, Postgres, Etcd };
    Kind kind = Kind::Sqlite;
    std::string url;      ///< as given (may hold a password: never log it)
    std::string path;     ///< sqlite: the database file
    std::string redacted; ///< the URL with any password replaced by "***" (for logs and info)
};

/// Parses `sqlite:PATH` (also `sqlite://PATH`), `postgres://…`/`postgresql://…` and
/// `etcd://host:port[,host:port…]/prefix` (the etcd form is checked fully here).
base::Result<DatastoreUrl> parse_datastore_url(const std::string& text);

/// Opens the adapter for `url` on `io` (the database itself is opened on first use, in the
/// worker thread). `password` (from datastore_password_file; "" = none) is passed to backends
/// that authenticate. Errors for backends this build does not have.
base::Result<std::unique_ptr<discovery::Store>> open_store(asio::io_context& io, const DatastoreUrl& url,
                                                           const std::string& password = "");

/// The SQLite adapter: WAL mode, a busy timeout, file mode 0600, schema created on first use.
std::unique_ptr<discovery::Store> make_sqlite_store(asio::io_context& io, const std::string& path);

/// The PostgreSQL adapter (libpq on the worker thread, loaded on first use: an error when
/// libpq.so.5 is missing). `url` is a libpq connection URI; `shown` is the same without
/// credentials.
base::Result<std::unique_ptr<discovery::Store>>
make_postgres_store(asio::io_context& io, const std::string& url, const std::string& shown);

namespace etcd {
struct EtcdUrl;
}
/// The etcd v3 adapter (JSON gateway over HTTP/1.1, asio on the worker thread; see
/// etcd_codec.hpp for the layout). `deadline` bounds each exchange with one endpoint (connect,
/// request and answer); the next listed endpoint is tried after it. `shown`: the URL for users.
std::unique_ptr<discovery::Store>
make_etcd_store(asio::io_context& io, const etcd::EtcdUrl& url, const std::string& shown,
                std::chrono::milliseconds deadline = std::chrono::seconds(3));

/// Schema version this build writes and reads (the `schema_version` key of clusterd_meta).
inline constexpr int kSqliteSchemaVersion = 1;

} // namespace clusterd::store
