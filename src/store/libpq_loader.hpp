// libpq, loaded on first use: an agent without a PostgreSQL datastore never maps libpq and the
// libraries it pulls in (libssl, GnuTLS, Kerberos, LDAP, SASL, p11-kit: about 450 KiB of
// relocated, private pages per process with BIND_NOW). The PostgreSQL adapter calls libpq only
// through this table. libpq-fe.h supplies the types; the calls are resolved from libpq.so.5.
#pragma once

#include <libpq-fe.h>

#include "clusterd/base/result.hpp"

namespace clusterd::store {

struct LibPq {
    decltype(&::PQconnectdb) connectdb = nullptr;
    decltype(&::PQstatus) status = nullptr;
    decltype(&::PQerrorMessage) error_message = nullptr;
    decltype(&::PQfinish) finish = nullptr;
    decltype(&::PQexec) exec = nullptr;
    decltype(&::PQexecParams) exec_params = nullptr;
    decltype(&::PQresultStatus) result_status = nullptr;
    decltype(&::PQntuples) ntuples = nullptr;
    decltype(&::PQgetvalue) getvalue = nullptr;
    decltype(&::PQclear) clear = nullptr;
};

/// The library Debian's libpq5 installs.
inline constexpr const char* kLibPqSoname = "libpq.so.5";

/// Loads `soname` (once per soname; later calls return the same table) and resolves every
/// function above, or says why not. The table stays valid for the life of the process.
base::Result<const LibPq*> load_libpq(const char* soname = kLibPqSoname);

} // namespace clusterd::store
