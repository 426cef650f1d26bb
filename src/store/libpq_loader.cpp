// See libpq_loader.hpp.
#include "libpq_loader.hpp"

#include <dlfcn.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace clusterd::store {
namespace {

template <typename F> bool resolve(void* lib, const char* name, F& slot, std::string& missing) {
    void* sym = ::dlsym(lib, name);
    if (sym == nullptr) {
        missing += missing.empty() ? name : std::string(", ") + name;
        return false;
    }
    slot = reinterpret_cast<F>(sym);
    return true;
}

} // namespace

base::Result<const LibPq*> load_libpq(const char* soname) {
    static std::mutex mu;
    static std::map<std::string, std::unique_ptr<LibPq>> loaded; // never unloaded
    const std::lock_guard<std::mutex> lock(mu);
    if (auto it = loaded.find(soname); it != loaded.end())
        return static_cast<const LibPq*>(it->second.get());
    void* lib = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
        const char* why = ::dlerror();
        return base::make_error("datastore",
                                std::string("the PostgreSQL datastore needs libpq (Debian package "
                                            "libpq5), which could not be loaded: ") +
                                    (why != nullptr ? why : soname));
    }
    auto pq = std::make_unique<LibPq>();
    std::string missing;
    resolve(lib, "PQconnectdb", pq->connectdb, missing);
    resolve(lib, "PQstatus", pq->status, missing);
    resolve(lib, "PQerrorMessage", pq->error_message, missing);
    resolve(lib, "PQfinish", pq->finish, missing);
    resolve(lib, "PQexec", pq->exec, missing);
    resolve(lib, "PQexecParams", pq->exec_params, missing);
    resolve(lib, "PQresultStatus", pq->result_status, missing);
    resolve(lib, "PQntuples", pq->ntuples, missing);
    resolve(lib, "PQgetvalue", pq->getvalue, missing);
    resolve(lib, "PQclear", pq->clear, missing);
    if (!missing.empty()) {
        ::dlclose(lib);
        return base::make_error("datastore", std::string(soname) + " lacks " + missing);
    }
    const LibPq* out = pq.get();
    loaded.emplace(soname, std::move(pq));
    return out;
}

} // namespace clusterd::store
