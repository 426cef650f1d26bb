// FakeAgent: an in-memory AgentApi for RPC tests. It records every call, answers from fields the
// test sets, and lets the test emit events/logs and drive queries. With `defer = true` completions
// wait in `deferred` until the test runs them (to test request ordering).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "clusterd/rpc/agent_api.hpp"

namespace clusterd::rpc::testing {

class FakeAgent : public AgentApi {
  public:
    std::vector<Member> member_list;
    Tags tags;
    std::vector<std::string> calls; ///< "join a,b replay=1", "event name coalesce=1", ...
    std::string next_error;         ///< error returned by the next error-returning call
    int join_count = -1;            ///< -1: number of addresses
    KeyResponse key_response;
    std::map<std::string, std::map<std::string, std::string>> stats_map;
    std::map<std::string, Coordinate> coords;
    std::optional<StoreListing> store; ///< unset: the AgentApi default (no datastore)
    bool defer = false;
    std::vector<std::function<void()>> deferred;
    bool shutdown_called = false;
    /// Optional hooks (run on the caller's thread right after registration).
    std::function<void(SubscriptionId)> on_query_started;
    std::function<void()> on_events_subscribed;
    std::function<void()> on_logs_subscribed;

    struct RunningQuery {
        QueryParams params;
        QueryCallbacks cbs;
        bool cancelled = false;
    };
    std::map<SubscriptionId, RunningQuery> queries;
    std::map<std::uint64_t, base::Bytes> responses; ///< token -> payload given to respond()

    void run_deferred() {
        auto d = std::move(deferred);
        deferred.clear();
        for (auto& f : d)
            f();
    }
    void emit(const Event& e) {
        auto copy = event_subs_;
        for (auto& [id, cb] : copy)
            if (event_subs_.count(id) != 0)
                cb(e);
    }
    void log(const std::string& line) {
        auto copy = log_subs_;
        for (auto& [id, cb] : copy)
            if (log_subs_.count(id) != 0)
                cb(line);
    }
    std::size_t event_subscribers() const { return event_subs_.size(); }
    std::size_t log_subscribers() const { return log_subs_.size(); }

    std::vector<Member> members() override {
        members_calls++;
        return member_list;
    }
    std::uint64_t members_version() override { return version; }
    int members_calls = 0;
    std::uint64_t version = 0; ///< members_version(); 0 = unknown
    void join(const std::vector<std::string>& addrs, bool replay,
              std::function<void(int, const std::string&)> done) override {
        std::string c = "join";
        for (const auto& a : addrs)
            c += " " + a;
        calls.push_back(c + (replay ? " replay=1" : " replay=0"));
        const int n = join_count >= 0 ? join_count : static_cast<int>(addrs.size());
        finish([done, n, e = take_error()] { done(n, e); });
    }
    void leave(ErrorCallback done) override {
        calls.push_back("leave");
        finish([done, e = take_error()] { done(e); });
    }
    void shutdown() override { shutdown_called = true; }
    void force_leave(const std::string& node, bool prune, ErrorCallback done) override {
        calls.push_back("force-leave " + node + (prune ? " prune=1" : " prune=0"));
        finish([done, e = take_error()] { done(e); });
    }
    void user_event(const std::string& name, const base::Bytes& payload, bool coalesce,
                    ErrorCallback done) override {
        calls.push_back("event " + name + " " + std::string(payload.begin(), payload.end()) +
                        (coalesce ? " coalesce=1" : " coalesce=0"));
        finish([done, e = take_error()] { done(e); });
    }
    void set_tags(const Tags& set, const std::vector<std::string>& remove, ErrorCallback done) override {
        std::string c = "tags";
        for (const auto& r : remove) {
            tags.erase(r);
            c += " -" + r;
        }
        for (const auto& [k, v] : set) {
            tags[k] = v;
            c += " " + k + "=" + v;
        }
        calls.push_back(c);
        finish([done, e = take_error()] { done(e); });
    }
    std::string query(const QueryParams& params, QueryCallbacks callbacks, SubscriptionId& id) override {
        calls.push_back("query " + params.name);
        std::string e = take_error();
        if (!e.empty())
            return e;
        id = ++next_id_;
        queries[id] = RunningQuery{params, std::move(callbacks), false};
        if (on_query_started)
            on_query_started(id);
        return "";
    }
    void cancel_query(SubscriptionId id) override {
        if (auto it = queries.find(id); it != queries.end())
            it->second.cancelled = true;
    }
    std::string respond(std::uint64_t token, const base::Bytes& payload) override {
        calls.push_back("respond " + std::to_string(token));
        responses[token] = payload;
        return take_error();
    }
    void install_key(const std::string& key, std::function<void(const KeyResponse&)> done) override {
        calls.push_back("install-key " + key);
        key_done(done);
    }
    void use_key(const std::string& key, std::function<void(const KeyResponse&)> done) override {
        calls.push_back("use-key " + key);
        key_done(done);
    }
    void remove_key(const std::string& key, std::function<void(const KeyResponse&)> done) override {
        calls.push_back("remove-key " + key);
        key_done(done);
    }
    void list_keys(std::function<void(const KeyResponse&)> done) override {
        calls.push_back("list-keys");
        key_done(done);
    }
    std::map<std::string, std::map<std::string, std::string>> stats() override { return stats_map; }
    void store_list(std::function<void(const std::string&, const StoreListing&)> done) override {
        if (!store)
            return AgentApi::store_list(std::move(done));
        auto l = *store;
        if (defer) {
            deferred.push_back([done, l] { done("", l); });
        } else {
            done("", l);
        }
    }
    std::optional<Coordinate> get_coordinate(const std::string& node) override {
        auto it = coords.find(node);
        if (it == coords.end())
            return std::nullopt;
        return it->second;
    }
    SubscriptionId subscribe_events(std::function<void(const Event&)> cb) override {
        const auto id = ++next_id_;
        event_subs_[id] = std::move(cb);
        if (on_events_subscribed)
            on_events_subscribed();
        return id;
    }
    SubscriptionId subscribe_logs(std::function<void(const std::string&)> cb) override {
        const auto id = ++next_id_;
        log_subs_[id] = std::move(cb);
        if (on_logs_subscribed)
            on_logs_subscribed();
        return id;
    }
    void unsubscribe(SubscriptionId id) override {
        event_subs_.erase(id);
        log_subs_.erase(id);
    }

  private:
    std::string take_error() {
        std::string e = next_error;
        next_error.clear();
        return e;
    }
    void finish(std::function<void()> f) {
        if (defer) {
            deferred.push_back(std::move(f));
        } else {
            f();
        }
    }
    void key_done(const std::function<void(const KeyResponse&)>& done) {
        KeyResponse r = key_response;
        finish([done, r] { done(r); });
    }
    SubscriptionId next_id_ = 0;
    std::map<SubscriptionId, std::function<void(const Event&)>> event_subs_;
    std::map<SubscriptionId, std::function<void(const std::string&)>> log_subs_;
};

} // namespace clusterd::rpc::testing
