// The datastore URL and the adapter factory.
#include "clusterd/store/store.hpp"

#include "clusterd/config/config.hpp"
#include "clusterd/store/etcd_codec.hpp"

namespace clusterd::store {
namespace {

bool starts_with(const std::string& s, const char* p) {
    return s.rfind(p, 0) == 0;
}

} // namespace

base::Result<DatastoreUrl> parse_datastore_url(const std::string& text) {
    DatastoreUrl u;
    u.url = text;
    u.redacted = config::redact_datastore(text);
    if (starts_with(text, "sqlite:")) {
        u.kind = DatastoreUrl::Kind::Sqlite;
        u.path = text.substr(starts_with(text, "sqlite://") ? 9 : 7);
        if (u.path.empty())
            return base::make_error("datastore",
                                    "sqlite: needs a file path, e.g. sqlite:/var/lib/clusterd/nodes.db");
        return u;
    }
    if (starts_with(text, "postgres://") || starts_with(text, "postgresql://")) {
        u.kind = DatastoreUrl::Kind::Postgres;
        return u;
    }
    if (starts_with(text, "etcd://")) {
        u.kind = DatastoreUrl::Kind::Etcd;
        if (auto e = etcd::parse_url(text); !e)
            return e.error();
        return u;
    }
    return base::make_error(
        "datastore", "unknown datastore '" + u.redacted +
                         "' (use sqlite:PATH, postgres://user@host:port/db or etcd://host:port/prefix)");
}

base::Result<std::unique_ptr<discovery::Store>> open_store(asio::io_context& io, const DatastoreUrl& url,
                                                           const std::string& password) {
    switch (url.kind) {
    case DatastoreUrl::Kind::Sqlite:
        if (!password.empty())
            return base::make_error("datastore",
                                    "datastore_password_file: an SQLite datastore takes no password");
        return make_sqlite_store(io, url.path);
    case DatastoreUrl::Kind::Postgres: {
        std::string conn = url.url;
        if (!password.empty())
            conn += (conn.find('?') == std::string::npos ? "?" : "&") + std::string("password=") +
                    config::percent_encode(password);
        return make_postgres_store(io, conn, url.redacted);
    }
    case DatastoreUrl::Kind::Etcd: {
        if (!password.empty())
            return base::make_error("datastore",
                                    "datastore_password_file: the etcd datastore takes no password "
                                    "(this build does not speak etcd authentication)");
        auto e = etcd::parse_url(url.url);
        if (!e)
            return e.error();
        return make_etcd_store(io, *e, url.redacted);
    }
    }
    return base::make_error("datastore", "unknown datastore kind");
}

} // namespace clusterd::store
