// Member and user event coalescers on a virtual timeline (coalesce_member_test.go and
// coalesce_user_test.go in spirit).
#include <gtest/gtest.h>

#include "clusterd/serf/coalesce.hpp"

using namespace clusterd;
using namespace clusterd::serf;
using namespace std::chrono_literals;

namespace {
Member mem(const std::string& name) {
    Member m;
    m.name = name;
    m.status = MemberStatus::Alive;
    return m;
}
MemberEvent mev(EventType t, std::vector<std::string> names) {
    MemberEvent e{t, {}};
    for (auto& n : names)
        e.members.push_back(mem(n));
    return e;
}
UserEvent uev(LamportTime t, std::string name, bool cc = true) {
    return UserEvent{t, std::move(name), base::Bytes{static_cast<std::uint8_t>(t)}, cc};
}
} // namespace

TEST(MemberCoalescer, LatestPerMemberWinsAndGroupsByType) {
    MemberEventCoalescer c(3s, 1s);
    base::Instant t{};
    EXPECT_TRUE(c.offer(mev(EventType::MemberJoin, {"foo", "bar"}), t));
    EXPECT_TRUE(c.offer(mev(EventType::MemberLeave, {"foo"}), t + 100ms));
    EXPECT_TRUE(c.offer(mev(EventType::MemberFailed, {"baz"}), t + 200ms));
    EXPECT_TRUE(c.poll(t + 1s).empty()); // quiescent timer restarted at 200ms
    EXPECT_EQ(c.next_deadline(), t + 1200ms);
    auto out = c.poll(t + 1200ms);
    ASSERT_EQ(out.size(), 3u);
    auto& join = std::get<MemberEvent>(out[0]);
    EXPECT_EQ(join.type, EventType::MemberJoin);
    ASSERT_EQ(join.members.size(), 1u);
    EXPECT_EQ(join.members[0].name, "bar");
    EXPECT_EQ(std::get<MemberEvent>(out[1]).type, EventType::MemberLeave);
    EXPECT_EQ(std::get<MemberEvent>(out[2]).type, EventType::MemberFailed);
    EXPECT_TRUE(c.idle());
    EXPECT_EQ(c.next_deadline(), base::Instant::max());
}

TEST(MemberCoalescer, CoalescePeriodCapsAStream) {
    MemberEventCoalescer c(3s, 1s);
    base::Instant t{};
    // An event every 500 ms never lets the quiescent timer fire: the 3 s quantum does.
    for (int i = 0; i < 6; ++i) {
        EXPECT_TRUE(c.poll(t + i * 500ms).empty());
        c.offer(mev(EventType::MemberJoin, {"n" + std::to_string(i)}), t + i * 500ms);
    }
    EXPECT_EQ(c.next_deadline(), t + 3s);
    auto out = c.poll(t + 3s);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(std::get<MemberEvent>(out[0]).members.size(), 6u);
}

TEST(MemberCoalescer, RepeatedSameTypeSuppressedButUpdatesPass) {
    MemberEventCoalescer c(3s, 1s);
    base::Instant t{};
    c.offer(mev(EventType::MemberJoin, {"a"}), t);
    c.offer(mev(EventType::MemberUpdate, {"b"}), t);
    EXPECT_EQ(c.poll(t + 1s).size(), 2u);
    c.offer(mev(EventType::MemberJoin, {"a"}), t + 2s);
    c.offer(mev(EventType::MemberUpdate, {"b"}), t + 2s);
    auto out = c.poll(t + 3s);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(std::get<MemberEvent>(out[0]).type, EventType::MemberUpdate);
}

TEST(MemberCoalescer, ReapedMembersAreForgotten) {
    // Serf remembers every name's last event type forever; a cluster whose members come and go
    // under fresh names (containers) would grow without bound. A reap forgets the name, and the
    // name's reference in the shared pool goes with it.
    auto pools = std::make_shared<swim::InternPools>();
    MemberEventCoalescer c(3s, 1s, pools);
    base::Instant t{};
    for (int i = 0; i < 1000; ++i) {
        const std::string name = "container-" + std::to_string(i);
        c.offer(mev(EventType::MemberJoin, {name}), t);
        ASSERT_EQ(c.flush().size(), 1u);
        c.offer(mev(EventType::MemberFailed, {name}), t);
        ASSERT_EQ(c.flush().size(), 1u);
        c.offer(mev(EventType::MemberReap, {name}), t);
        auto out = c.flush();
        ASSERT_EQ(out.size(), 1u);
        EXPECT_EQ(std::get<MemberEvent>(out[0]).type, EventType::MemberReap);
        EXPECT_EQ(c.remembered(), 0u) << i;
    }
    EXPECT_EQ(pools->names.size(), 0u);
    // A name that comes back after its reap gets its join; a repeated join is still suppressed.
    c.offer(mev(EventType::MemberJoin, {"container-7"}), t);
    EXPECT_EQ(c.flush().size(), 1u);
    c.offer(mev(EventType::MemberJoin, {"container-7"}), t);
    EXPECT_TRUE(c.flush().empty());
    EXPECT_EQ(c.remembered(), 1u);
    EXPECT_EQ(pools->names.size(), 1u);
}

TEST(MemberCoalescer, PassesOtherEventsThrough) {
    MemberEventCoalescer c;
    EXPECT_FALSE(c.offer(uev(1, "x"), base::Instant{}));
    EXPECT_FALSE(c.offer(QueryEvent{}, base::Instant{}));
    EXPECT_TRUE(c.idle());
}

TEST(UserCoalescer, KeepsNewestLtimePerName) {
    UserEventCoalescer c(3s, 1s);
    base::Instant t{};
    EXPECT_FALSE(c.offer(uev(1, "nocc", false), t)); // not coalescable
    EXPECT_TRUE(c.offer(uev(1, "foo"), t));
    EXPECT_TRUE(c.offer(uev(2, "foo"), t));
    EXPECT_TRUE(c.offer(uev(2, "foo"), t)); // same time: both kept
    EXPECT_TRUE(c.offer(uev(1, "foo"), t)); // older: dropped
    EXPECT_TRUE(c.offer(uev(3, "bar"), t));
    auto out = c.flush();
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(std::get<UserEvent>(out[0]).name, "bar");
    EXPECT_EQ(std::get<UserEvent>(out[1]).ltime, 2u);
    EXPECT_EQ(std::get<UserEvent>(out[2]).ltime, 2u);
    EXPECT_TRUE(c.flush().empty());
}
