// The agent's side of datastore discovery: the pure discovery::Registry decides, this file
// carries its requests to the store adapter (whose worker thread posts the answers back to the
// io_context), turns its join requests into serf joins, and logs its lines.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>

#include "agent_impl.hpp"
#include "clusterd/base/version.hpp"
#include "clusterd/net/address.hpp"
#include "clusterd/store/store.hpp"

namespace clusterd::agent {

base::Status Agent::open_datastore() {
    if (cfg_.datastore.empty())
        return base::ok_status();
    auto url = store::parse_datastore_url(cfg_.datastore);
    if (!url)
        return url.error();
    std::string password;
    if (!cfg_.datastore_password_file.empty()) {
        std::ifstream in(cfg_.datastore_password_file);
        if (!in || !std::getline(in, password))
            return base::make_error("config", "datastore_password_file " + cfg_.datastore_password_file +
                                                  ": cannot read the password (" + std::strerror(errno) +
                                                  ")");
        while (!password.empty() && (password.back() == '\r' || password.back() == ' '))
            password.pop_back();
    }
    auto st = store::open_store(io_, *url, password);
    if (!st)
        return st.error();
    store_ = std::move(*st);
    datastore_shown_ = url->redacted;
    return base::ok_status();
}

void Agent::start_discovery() {
    if (!store_)
        return;
    discovery::Options o;
    o.name = cfg_.node_name;
    o.address = net::join_host_port(advertise_host_, static_cast<std::uint16_t>(advertise_port_));
    o.protocol_min = base::kSerfProtocolMin;
    o.protocol_max = base::kSerfProtocolMax;
    o.ttl = std::chrono::seconds(cfg_.ttl_on_failure);
    o.refresh = cfg_.datastore_refresh_interval;
    std::random_device rd;
    registry_ = std::make_unique<discovery::Registry>(o, (std::uint64_t{rd()} << 32) ^ rd());
    log_.info("discovery",
              "datastore " + datastore_shown_ + ": registering as " + o.name + " at " + o.address +
                  " (ttl_on_failure " + std::to_string(cfg_.ttl_on_failure) + " s, refresh every " +
                  std::to_string(std::chrono::duration_cast<std::chrono::seconds>(o.refresh).count()) +
                  " s)");
    registry_->start(wall_now());
    pump_discovery();
}

std::vector<discovery::MemberView> Agent::member_views() const {
    std::vector<discovery::MemberView> out;
    if (!node_)
        return out;
    for (const auto& m : node_->members()) {
        discovery::MemberView v;
        v.name = m.name;
        v.address = serf::host_port(m.addr, m.port);
        switch (m.status) {
        case serf::MemberStatus::Leaving:
            v.status = discovery::MemberView::Status::Leaving;
            break;
        case serf::MemberStatus::Left:
            v.status = discovery::MemberView::Status::Left;
            break;
        case serf::MemberStatus::Failed:
            v.status = discovery::MemberView::Status::Failed;
            break;
        default:
            v.status = discovery::MemberView::Status::Alive;
            break;
        }
        out.push_back(std::move(v));
    }
    return out;
}

void Agent::pump_discovery() {
    if (!registry_ || pumping_discovery_)
        return;
    pumping_discovery_ = true;
    auto now = wall_now();
    registry_->observe_members(member_views(), now);
    registry_->tick(now);
    while (auto op = registry_->poll_store_op(now)) {
        std::weak_ptr<int> alive = alive_;
        store_->execute(*op, [this, alive](discovery::StoreResult r) {
            if (alive.expired() || !registry_)
                return;
            const auto t = wall_now();
            registry_->observe_members(member_views(), t);
            registry_->on_store_result(r, t);
            pump_discovery();
        });
    }
    while (auto j = registry_->poll_join())
        start_discovery_join(*j);
    while (auto l = registry_->poll_log()) {
        const LogLevel lv = l->level == discovery::LogLine::Level::Debug  ? LogLevel::Debug
                            : l->level == discovery::LogLine::Level::Info ? LogLevel::Info
                            : l->level == discovery::LogLine::Level::Warn ? LogLevel::Warn
                                                                          : LogLevel::Error;
        log_.log(lv, "discovery", l->text);
    }
    const auto deadline = registry_->next_deadline();
    if (deadline == base::Instant::max() || shutting_down_) {
        discovery_timer_.cancel();
    } else {
        now = wall_now();
        discovery_timer_.expires_after(deadline > now ? deadline - now : base::Duration{0});
        std::weak_ptr<int> alive = alive_;
        discovery_timer_.async_wait([this, alive](const std::error_code& ec) {
            if (ec || alive.expired())
                return;
            pump_discovery();
        });
    }
    pumping_discovery_ = false;
}

void Agent::start_discovery_join(const discovery::JoinRequest& j) {
    std::string names;
    for (std::size_t i = 0; i < j.names.size(); ++i)
        names += (i ? ", " : "") + j.names[i] + " (" + j.addresses[i] + ")";
    log_.info("discovery", "joining from the datastore: " + names);
    auto fail = [&](const std::string& why) {
        log_.warn("discovery", "join from the datastore: " + why);
        registry_->on_join_result(j.id, 0, wall_now());
    };
    if (shutting_down_)
        return;
    auto seeds = resolve(j.addresses);
    if (!seeds)
        return fail(seeds.error().message);
    auto id = start_join_with(*seeds);
    if (!id)
        return fail(id.error().message);
    joins_[*id].discovery_id = j.id;
    driver_->kick();
}

void Agent::store_list(std::function<void(const std::string&, const rpc::StoreListing&)> done) {
    if (!store_)
        return rpc::AgentApi::store_list(std::move(done));
    std::weak_ptr<int> alive = alive_;
    store_->list([this, alive, done = std::move(done)](discovery::StoreResult r) {
        if (alive.expired())
            return;
        rpc::StoreListing out;
        out.store = datastore_shown_;
        out.state = registry_ ? discovery::state_name(registry_->status().state) : "unknown";
        out.now_ms = discovery::to_ms(wall_now());
        if (!r.status.ok())
            return done("datastore " + datastore_shown_ + ": " + r.status.error().message, out);
        for (const auto& raw : r.rows) {
            rpc::StoreRow row;
            row.name = raw.name;
            row.addr = raw.address;
            if (auto p = discovery::parse_row(raw)) {
                row.created_ms = discovery::to_ms(p->created);
                row.last_seen_ms = discovery::to_ms(p->last_seen);
                row.expires_ms = discovery::to_ms(p->expires);
            } else {
                row.problem = p.error().message;
            }
            out.rows.push_back(std::move(row));
        }
        // Newest first, the order discovery joins in.
        std::stable_sort(
            out.rows.begin(), out.rows.end(),
            [](const rpc::StoreRow& a, const rpc::StoreRow& b) { return a.last_seen_ms > b.last_seen_ms; });
        done("", out);
    });
}

void Agent::discovery_leave() {
    if (!registry_)
        return;
    registry_->leave(wall_now());
    pump_discovery();
}

} // namespace clusterd::agent
