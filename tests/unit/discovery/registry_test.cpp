// The registry state machine on a fake store and a fake clock: what it writes, which rows it
// trusts, whom it joins and in which order, backoff, the failed-vs-refreshed rule, corrupt
// rows, name conflicts, store down/up, leave and force-leave -prune.
#include <gtest/gtest.h>

#include <map>

#include "clusterd/discovery/registry.hpp"

namespace clusterd::discovery {
namespace {

using namespace std::chrono_literals;
using base::Instant;

/// A store in memory that answers synchronously (the harness delivers the answer later).
struct FakeStore {
    std::map<std::string, StoredRow> rows;
    bool down = false;
    std::vector<StoreOp> seen;

    StoreResult apply(const StoreOp& op) {
        seen.push_back(op);
        StoreResult r;
        r.id = op.id;
        if (down) {
            r.status = base::make_error("datastore", "connection refused");
            return r;
        }
        switch (op.kind) {
        case OpKind::Register: {
            auto it = rows.find(op.row.name);
            if (it != rows.end()) {
                auto parsed = parse_row(it->second);
                if (parsed && parsed->address != op.row.address && parsed->expires > op.now) {
                    r.conflict = true;
                    r.conflict_address = parsed->address;
                    return r;
                }
            }
            Row row = op.row;
            if (it != rows.end()) {
                auto parsed = parse_row(it->second);
                if (parsed && parsed->address == row.address)
                    row.created = parsed->created;
            }
            rows[row.name] = to_stored(row);
            return r;
        }
        case OpKind::List:
            for (const auto& [n, row] : rows)
                r.rows.push_back(row);
            return r;
        case OpKind::Delete: {
            auto it = rows.find(op.name);
            if (it != rows.end() && (op.address.empty() || it->second.address == op.address))
                rows.erase(it);
            return r;
        }
        case OpKind::Prune:
            std::erase_if(rows, [&](const auto& kv) {
                auto parsed = parse_row(kv.second);
                return parsed && parsed->expires <= op.now;
            });
            return r;
        }
        return r;
    }
};

Instant t0() {
    return Instant{std::chrono::milliseconds(1'700'000'000'000LL)};
}

Row row_of(const std::string& name, const std::string& addr, Instant seen, base::Duration ttl = 3600s) {
    return Row{name, addr, 2, 5, seen, seen, seen + ttl};
}

struct Harness {
    Options opts;
    FakeStore store;
    std::unique_ptr<Registry> reg;
    Instant now = t0();
    std::vector<JoinRequest> joins;
    std::vector<LogLine> logs;
    std::vector<MemberView> members;

    explicit Harness(Options o = {}) {
        if (o.name.empty()) {
            o.name = "self";
            o.address = "10.0.0.1:7946";
        }
        opts = o;
        reg = std::make_unique<Registry>(opts, 42);
    }

    void put(const Row& r) { store.rows[r.name] = to_stored(r); }

    /// Runs every queued store op and collects joins and logs.
    void pump() {
        for (int guard = 0; guard < 100; ++guard) {
            reg->observe_members(members, now);
            auto op = reg->poll_store_op(now);
            if (!op)
                break;
            reg->on_store_result(store.apply(*op), now);
        }
        while (auto j = reg->poll_join())
            joins.push_back(*j);
        while (auto l = reg->poll_log())
            logs.push_back(*l);
    }
    /// Advances the fake clock to the registry's next deadline (bounded by `limit`) and ticks.
    bool advance(Instant limit) {
        const Instant d = reg->next_deadline();
        if (d > limit) {
            now = limit;
            return false;
        }
        now = std::max(now, d);
        reg->tick(now);
        pump();
        return true;
    }
    int count_logs(LogLine::Level lv, const std::string& needle) const {
        int n = 0;
        for (const auto& l : logs)
            if (l.level == lv && l.text.find(needle) != std::string::npos)
                ++n;
        return n;
    }
    std::size_t ops_of(OpKind k) const {
        std::size_t n = 0;
        for (const auto& o : store.seen)
            n += o.kind == k ? 1 : 0;
        return n;
    }
};

TEST(DiscoveryRow, ParseAcceptsWhatToStoredWrites) {
    Row r = row_of("a", "[fd00::1]:7946", t0());
    auto back = parse_row(to_stored(r));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(*back, r);
}

TEST(DiscoveryRow, ParseRejectsCorruptRows) {
    const StoredRow good = to_stored(row_of("a", "10.0.0.2:7946", t0()));
    auto with = [&](auto edit) {
        StoredRow r = good;
        edit(r);
        return parse_row(r).ok();
    };
    EXPECT_TRUE(with([](StoredRow&) {}));
    EXPECT_FALSE(with([](StoredRow& r) { r.name = ""; }));
    EXPECT_FALSE(with([](StoredRow& r) { r.name = "a\nb"; }));
    EXPECT_FALSE(with([](StoredRow& r) { r.address = "10.0.0.2"; }));
    EXPECT_FALSE(with([](StoredRow& r) { r.address = "10.0.0.2:0"; }));
    EXPECT_FALSE(with([](StoredRow& r) { r.address = "10.0.0.2:70000"; }));
    EXPECT_FALSE(with([](StoredRow& r) { r.address = "[zz::1]:7946"; }));
    EXPECT_FALSE(with([](StoredRow& r) { r.address = "a b:7946"; }));
    EXPECT_FALSE(with([](StoredRow& r) { r.protocol_min = "x"; }));
    EXPECT_FALSE(with([](StoredRow& r) { r.protocol_min = "6"; }));
    EXPECT_FALSE(with([](StoredRow& r) { r.protocol_max = "300"; }));
    EXPECT_FALSE(with([](StoredRow& r) { r.expires_ms = "soon"; }));
    EXPECT_FALSE(with([](StoredRow& r) { r.expires_ms = "99999999999999999999999"; }));
    EXPECT_FALSE(with([](StoredRow& r) { r.created_ms = "-5"; }));
    EXPECT_FALSE(with([&](StoredRow& r) { r.last_seen_ms = std::to_string(to_ms(t0()) - 1); }));
    EXPECT_FALSE(with([&](StoredRow& r) { r.expires_ms = std::to_string(to_ms(t0()) - 1); }));
}

TEST(Discovery, RegistersOwnRowWithTtlThenListsAndJoinsNewestFirst) {
    Options o;
    o.name = "self";
    o.address = "10.0.0.1:7946";
    o.ttl = 600s;
    o.join_batch = 2;
    Harness h(o);
    h.put(row_of("old", "10.0.0.2:7946", t0() - 300s));
    h.put(row_of("newest", "10.0.0.3:7946", t0() - 10s));
    h.put(row_of("middle", "10.0.0.4:7946", t0() - 100s));
    h.reg->start(h.now);
    h.pump();
    ASSERT_GE(h.store.seen.size(), 2u);
    EXPECT_EQ(h.store.seen[0].kind, OpKind::Register);
    EXPECT_EQ(h.store.seen[1].kind, OpKind::List);
    auto self = parse_row(h.store.rows.at("self"));
    ASSERT_TRUE(self);
    EXPECT_EQ(self->address, "10.0.0.1:7946");
    EXPECT_EQ(self->protocol_min, 2);
    EXPECT_EQ(self->protocol_max, 5);
    EXPECT_EQ(self->created, t0());
    EXPECT_EQ(self->last_seen, t0());
    EXPECT_EQ(self->expires, t0() + 600s);
    EXPECT_TRUE(h.reg->status().registered);
    EXPECT_EQ(h.reg->status().state, StoreState::Up);
    EXPECT_EQ(h.reg->status().live_rows, 4u);

    ASSERT_EQ(h.joins.size(), 1u);
    EXPECT_EQ(h.joins[0].addresses, (std::vector<std::string>{"10.0.0.3:7946", "10.0.0.4:7946"}));
    // The first batch fails: the next one holds the rest.
    h.reg->on_join_result(h.joins[0].id, 0, h.now);
    h.pump();
    ASSERT_EQ(h.joins.size(), 2u);
    EXPECT_EQ(h.joins[1].addresses, (std::vector<std::string>{"10.0.0.2:7946"}));
    // It answers: no more batches in this round.
    h.reg->on_join_result(h.joins[1].id, 1, h.now);
    h.members = {{"old", "10.0.0.2:7946", MemberView::Status::Alive},
                 {"newest", "10.0.0.3:7946", MemberView::Status::Alive},
                 {"middle", "10.0.0.4:7946", MemberView::Status::Alive}};
    h.pump();
    EXPECT_EQ(h.joins.size(), 2u);
    // The re-list a few seconds later finds everyone in the cluster: nothing more to join,
    // and the next store work is the refresh.
    ASSERT_TRUE(h.advance(h.now + 5s));
    EXPECT_EQ(h.joins.size(), 2u);
    EXPECT_EQ(h.reg->status().candidates, 0u);
    EXPECT_GT(h.reg->next_deadline(), h.now + 20s);
}

TEST(Discovery, ExpiredRowsAreIgnoredAtOnceAndPruned) {
    Harness h;
    h.put(row_of("dead", "10.0.0.9:7946", t0() - 3601s)); // expired a second ago
    h.put(row_of("live", "10.0.0.2:7946", t0() - 5s));
    StoredRow junk = to_stored(row_of("junk", "10.0.0.7:7946", t0()));
    junk.expires_ms = "never";
    h.store.rows["junk"] = junk;
    h.reg->start(h.now);
    h.pump();
    ASSERT_EQ(h.joins.size(), 1u);
    EXPECT_EQ(h.joins[0].addresses, (std::vector<std::string>{"10.0.0.2:7946"}));
    EXPECT_EQ(h.ops_of(OpKind::Prune), 1u);
    EXPECT_EQ(h.store.rows.count("dead"), 0u);
    EXPECT_EQ(h.store.rows.count("junk"), 1u) << "prune deletes expired rows, not unreadable ones";
    EXPECT_EQ(h.store.rows.count("live"), 1u);
    EXPECT_EQ(h.reg->status().live_rows, 2u); // live + self
}

TEST(Discovery, RowExpiringWhileRunningIsNoLongerJoined) {
    Options o;
    o.name = "self";
    o.address = "10.0.0.1:7946";
    o.ttl = 60s;
    o.refresh = 20s;
    Harness h(o);
    h.put(row_of("gone", "10.0.0.5:7946", t0(), 60s));
    h.reg->start(h.now);
    h.pump();
    ASSERT_EQ(h.joins.size(), 1u);
    h.reg->on_join_result(h.joins[0].id, 0, h.now);
    h.pump();
    // Keep retrying while the row lives; never after it expired.
    std::size_t joins_before_expiry = 0;
    while (h.now < t0() + 200s) {
        if (!h.advance(t0() + 200s))
            break;
        for (; joins_before_expiry < h.joins.size(); ++joins_before_expiry) {
            h.reg->on_join_result(h.joins[joins_before_expiry].id, 0, h.now);
            EXPECT_LT(h.now, t0() + 60s) << "joined an expired row";
        }
        h.pump();
    }
    EXPECT_GE(h.joins.size(), 3u);
    EXPECT_EQ(h.store.rows.count("gone"), 0u);
    EXPECT_EQ(h.reg->status().live_rows, 1u);
}

TEST(Discovery, RetryBacksOffAndIsBounded) {
    Options o;
    o.name = "self";
    o.address = "10.0.0.1:7946";
    o.refresh = 1000s;
    o.ttl = 3600s;
    o.join_retry_min = 2s;
    o.join_retry_max = 16s;
    Harness h(o);
    h.put(row_of("unreachable", "10.0.0.8:7946", t0()));
    h.reg->start(h.now);
    h.pump();
    std::vector<Instant> attempts;
    for (int i = 0; i < 9; ++i) {
        ASSERT_EQ(h.joins.size(), attempts.size() + 1);
        attempts.push_back(h.now);
        h.reg->on_join_result(h.joins.back().id, 0, h.now);
        h.pump();
        ASSERT_TRUE(h.advance(h.now + 100s));
    }
    // Gaps grow (2, 4, 8, 16 s, minus up to 10% jitter) and stop growing at the cap.
    std::vector<base::Duration> gaps;
    for (std::size_t i = 1; i < attempts.size(); ++i)
        gaps.push_back(attempts[i] - attempts[i - 1]);
    const base::Duration expect[] = {2s, 4s, 8s, 16s, 16s, 16s, 16s, 16s};
    for (std::size_t i = 0; i < gaps.size(); ++i) {
        EXPECT_LE(gaps[i], expect[i]) << i;
        EXPECT_GE(gaps[i], expect[i] * 9 / 10) << i;
    }
    // Once it answers, the backoff resets and the registry stops listing early.
    h.reg->on_join_result(h.joins.back().id, 1, h.now);
    h.members = {{"unreachable", "10.0.0.8:7946", MemberView::Status::Alive}};
    h.pump();
    ASSERT_TRUE(h.advance(h.now + 3s));
    const std::size_t lists = h.ops_of(OpKind::List);
    EXPECT_EQ(h.reg->status().candidates, 0u);
    EXPECT_GT(h.reg->next_deadline(), h.now + 800s);
    EXPECT_EQ(h.ops_of(OpKind::List), lists);
}

TEST(Discovery, FailedMemberIsNotRejoinedFromAnOlderRowButIsAfterARefresh) {
    Harness h;
    h.put(row_of("peer", "10.0.0.2:7946", t0()));
    h.members = {{"peer", "10.0.0.2:7946", MemberView::Status::Alive}};
    h.reg->start(h.now);
    h.pump();
    EXPECT_TRUE(h.joins.empty()) << "already a member";

    // The cluster marks it failed at t0+40s; its row was last refreshed at t0.
    h.now = t0() + 40s;
    h.members = {{"peer", "10.0.0.2:7946", MemberView::Status::Failed}};
    h.pump();
    h.now = t0() + 41s;
    h.reg->tick(h.now); // the refresh (due by t0+30s) lists the rows again
    h.pump();
    EXPECT_GE(h.ops_of(OpKind::List), 2u);
    EXPECT_EQ(h.reg->status().candidates, 0u);
    EXPECT_TRUE(h.joins.empty()) << "a row older than the failure must not be joined";

    // The node comes back and refreshes its row after the failure: join it.
    h.put(row_of("peer", "10.0.0.2:7946", t0() + 60s));
    h.now = t0() + 80s;
    h.reg->tick(h.now);
    h.pump();
    ASSERT_EQ(h.joins.size(), 1u);
    EXPECT_EQ(h.joins[0].names, (std::vector<std::string>{"peer"}));
}

TEST(Discovery, LeftMemberRowIsTrustedOnlyWhenRefreshedAfterTheLeave) {
    Harness h;
    h.members = {{"peer", "10.0.0.2:7946", MemberView::Status::Left}};
    h.put(row_of("peer", "10.0.0.2:7946", t0() - 1s));
    h.reg->start(h.now);
    h.pump();
    EXPECT_TRUE(h.joins.empty());
    // Reaped from the member list: the old row is still not trusted.
    h.members.clear();
    h.now = t0() + 31s;
    h.reg->tick(h.now);
    h.pump();
    EXPECT_GE(h.ops_of(OpKind::List), 2u);
    EXPECT_TRUE(h.joins.empty());
    h.put(row_of("peer", "10.0.0.2:7946", t0() + 40s));
    h.now = t0() + 70s;
    h.reg->tick(h.now);
    h.pump();
    EXPECT_EQ(h.joins.size(), 1u);
}

TEST(Discovery, CorruptAndForeignRowsAreSkippedWithOneWarningEach) {
    Harness h;
    StoredRow bad = to_stored(row_of("bad", "10.0.0.3:7946", t0()));
    bad.address = "not-an-address";
    h.store.rows["bad"] = bad;
    Row foreign = row_of("foreign", "10.0.0.4:7946", t0());
    foreign.protocol_min = 7;
    foreign.protocol_max = 9;
    h.put(foreign);
    h.put(row_of("good", "10.0.0.5:7946", t0()));
    h.reg->start(h.now);
    h.pump();
    ASSERT_EQ(h.joins.size(), 1u);
    EXPECT_EQ(h.joins[0].addresses, (std::vector<std::string>{"10.0.0.5:7946"}));
    for (int i = 0; i < 5; ++i) {
        h.now += 31s;
        h.reg->tick(h.now);
        h.pump();
    }
    EXPECT_EQ(h.count_logs(LogLine::Level::Warn, "skipping row 'bad'"), 1);
    EXPECT_EQ(h.count_logs(LogLine::Level::Warn, "skipping row 'foreign'"), 1);
    EXPECT_EQ(h.count_logs(LogLine::Level::Warn, "does not overlap"), 1);
    EXPECT_GE(h.reg->status().rows_skipped, 12u);
}

TEST(Discovery, NameConflictIsLoggedAndNotOverwritten) {
    Harness h;
    h.put(row_of("self", "10.0.0.99:7946", t0() - 1s));
    h.reg->start(h.now);
    h.pump();
    EXPECT_EQ(h.store.rows.at("self").address, "10.0.0.99:7946");
    EXPECT_FALSE(h.reg->status().registered);
    EXPECT_TRUE(h.reg->status().conflict);
    EXPECT_TRUE(h.joins.empty()) << "the other holder of the name is not a join target";
    for (int i = 0; i < 3; ++i) {
        h.now += 31s;
        h.reg->tick(h.now);
        h.pump();
    }
    EXPECT_EQ(h.store.rows.at("self").address, "10.0.0.99:7946");
    EXPECT_EQ(h.count_logs(LogLine::Level::Error, "is registered by 10.0.0.99:7946"), 1);
    // Once that row expires, this node takes the name.
    h.now = t0() + 3600s;
    h.reg->tick(h.now);
    h.pump();
    EXPECT_EQ(h.store.rows.at("self").address, "10.0.0.1:7946");
    EXPECT_TRUE(h.reg->status().registered);
    EXPECT_FALSE(h.reg->status().conflict);
}

TEST(Discovery, StaleRowAtOwnAddressIsRemoved) {
    Harness h;
    h.put(row_of("self-previous-name", "10.0.0.1:7946", t0() - 60s));
    h.reg->start(h.now);
    h.pump();
    EXPECT_TRUE(h.joins.empty());
    EXPECT_EQ(h.store.rows.count("self-previous-name"), 0u);
}

TEST(Discovery, StoreDownAndUpLogOncePerChangeAndBackOff) {
    Options o;
    o.name = "self";
    o.address = "10.0.0.1:7946";
    o.refresh = 30s;
    o.store_retry_min = 1s;
    o.store_retry_max = 8s;
    Harness h(o);
    h.store.down = true;
    h.reg->start(h.now);
    h.pump();
    EXPECT_EQ(h.reg->status().state, StoreState::Down);
    EXPECT_EQ(h.reg->status().last_error, "connection refused");
    std::vector<Instant> tries{h.now};
    while (h.now < t0() + 60s) {
        ASSERT_TRUE(h.advance(t0() + 120s));
        tries.push_back(h.now);
    }
    for (std::size_t i = 1; i < tries.size(); ++i) {
        EXPECT_LE(tries[i] - tries[i - 1], 8s);
        EXPECT_GE(tries[i] - tries[i - 1], 900ms);
    }
    EXPECT_LT(tries.size(), 15u) << "backoff reaches its cap";
    EXPECT_EQ(h.count_logs(LogLine::Level::Warn, "datastore is down"), 1);
    EXPECT_FALSE(h.reg->status().registered);

    h.store.down = false;
    h.put(row_of("peer", "10.0.0.2:7946", h.now));
    ASSERT_TRUE(h.advance(h.now + 10s));
    EXPECT_EQ(h.reg->status().state, StoreState::Up);
    EXPECT_TRUE(h.reg->status().registered);
    EXPECT_EQ(h.count_logs(LogLine::Level::Info, "reachable again"), 1);
    EXPECT_EQ(h.joins.size(), 1u);
    // Down again mid-run: one more line, then the refresh cadence resumes after it is back.
    h.store.down = true;
    ASSERT_TRUE(h.advance(h.now + 60s));
    while (h.reg->status().state == StoreState::Up)
        ASSERT_TRUE(h.advance(h.now + 60s));
    EXPECT_EQ(h.count_logs(LogLine::Level::Warn, "datastore is down"), 2);
    h.store.down = false;
    ASSERT_TRUE(h.advance(h.now + 10s));
    EXPECT_EQ(h.count_logs(LogLine::Level::Info, "reachable again"), 2);
    const Instant back = h.now;
    ASSERT_TRUE(h.advance(h.now + 60s));
    EXPECT_GE(h.now - back, 27s);
}

TEST(Discovery, RefreshKeepsTheRowAliveAndCreatedStable) {
    Options o;
    o.name = "self";
    o.address = "10.0.0.1:7946";
    o.ttl = 60s;
    o.refresh = 25s;
    Harness h(o);
    h.reg->start(h.now);
    h.pump();
    for (int i = 0; i < 10; ++i)
        ASSERT_TRUE(h.advance(h.now + 30s));
    auto self = parse_row(h.store.rows.at("self"));
    ASSERT_TRUE(self);
    EXPECT_EQ(self->created, t0());
    EXPECT_GE(self->last_seen, t0() + 200s);
    EXPECT_EQ(self->expires, self->last_seen + 60s);
    EXPECT_GE(h.ops_of(OpKind::Register), 10u);
}

TEST(Discovery, GracefulLeaveDeletesOnlyOwnRow) {
    Harness h;
    h.put(row_of("peer", "10.0.0.2:7946", t0()));
    h.members = {{"peer", "10.0.0.2:7946", MemberView::Status::Alive}};
    h.reg->start(h.now);
    h.pump();
    ASSERT_EQ(h.store.rows.count("self"), 1u);
    EXPECT_FALSE(h.reg->leave_done());
    h.reg->leave(h.now);
    h.pump();
    EXPECT_TRUE(h.reg->leave_done());
    EXPECT_EQ(h.store.rows.count("self"), 0u);
    EXPECT_EQ(h.store.rows.count("peer"), 1u);
    EXPECT_EQ(h.reg->next_deadline(), Instant::max());
}

TEST(Discovery, LeaveDoesNotWaitForARequestInFlight) {
    Harness h;
    h.reg->start(h.now);
    h.pump();
    h.now += 31s;
    h.reg->tick(h.now);
    auto refresh = h.reg->poll_store_op(h.now); // in flight, its answer still on the way
    ASSERT_TRUE(refresh);
    h.reg->leave(h.now);
    auto del = h.reg->poll_store_op(h.now);
    ASSERT_TRUE(del);
    EXPECT_EQ(del->kind, OpKind::Delete);
    EXPECT_EQ(del->name, "self");
    EXPECT_EQ(del->address, "10.0.0.1:7946");
    h.reg->on_store_result(h.store.apply(*refresh), h.now); // the old answer: ignored
    EXPECT_FALSE(h.reg->leave_done());
    h.reg->on_store_result(h.store.apply(*del), h.now);
    EXPECT_TRUE(h.reg->leave_done());
    EXPECT_EQ(h.store.rows.count("self"), 0u);
}

TEST(Discovery, ForceLeavePruneDeletesThatRow) {
    Harness h;
    h.put(row_of("peer", "10.0.0.2:7946", t0()));
    h.members = {{"peer", "10.0.0.2:7946", MemberView::Status::Alive}};
    h.reg->start(h.now);
    h.pump();
    h.reg->forget("peer");
    h.pump();
    EXPECT_EQ(h.store.rows.count("peer"), 0u);
    EXPECT_EQ(h.store.rows.count("self"), 1u);
}

TEST(Discovery, ResultsOfUnknownOpsAreIgnored) {
    Harness h;
    h.reg->start(h.now);
    auto op = h.reg->poll_store_op(h.now);
    ASSERT_TRUE(op);
    EXPECT_FALSE(h.reg->poll_store_op(h.now)) << "one request at a time";
    StoreResult stray;
    stray.id = op->id + 100;
    stray.status = base::make_error("x", "stray");
    h.reg->on_store_result(stray, h.now);
    EXPECT_EQ(h.reg->status().state, StoreState::Unknown);
    h.reg->on_store_result(h.store.apply(*op), h.now);
    EXPECT_EQ(h.reg->status().state, StoreState::Up);
    h.reg->on_join_result(12345, 1, h.now); // no such join: no effect
    EXPECT_EQ(h.reg->status().joins_started, 0u);
}

} // namespace
} // namespace clusterd::discovery
