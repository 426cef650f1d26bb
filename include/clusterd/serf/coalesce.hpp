// Event coalescers as deadline-driven pure objects (Serf's coalesce loop without goroutines).
// offer() swallows events the coalescer handles and arms two timers: the coalesce period from
// the first swallowed event and the quiescent period from the latest one; whichever passes
// first flushes. The agent uses 3 s / 1 s for both member and user events.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "clusterd/base/time.hpp"
#include "clusterd/serf/event.hpp"
#include "clusterd/swim/intern.hpp"

namespace clusterd::serf {

inline constexpr base::Duration kAgentCoalescePeriod = std::chrono::seconds(3);
inline constexpr base::Duration kAgentQuiescentPeriod = std::chrono::seconds(1);

class Coalescer {
  public:
    Coalescer(base::Duration coalesce_period, base::Duration quiescent_period)
        : coalesce_(coalesce_period), quiescent_(quiescent_period) {}
    virtual ~Coalescer() = default;

    /// True if the event was absorbed; false means the caller passes it straight on.
    bool offer(const Event& e, base::Instant now);
    /// When poll() next has something to flush (Instant::max() when idle).
    base::Instant next_deadline() const;
    /// Flushes if a timer has passed; otherwise returns nothing.
    std::vector<Event> poll(base::Instant now);
    /// Flushes unconditionally (shutdown).
    std::vector<Event> flush();
    bool idle() const { return !armed_; }

  protected:
    virtual bool handles(const Event& e) const = 0;
    virtual void absorb(const Event& e) = 0;
    virtual void emit(std::vector<Event>& out) = 0;

  private:
    base::Duration coalesce_;
    base::Duration quiescent_;
    bool armed_ = false;
    base::Instant quantum_deadline_{};
    base::Instant quiescent_deadline_{};
};

/// Keeps the latest member event per member; a flush emits one event per type, skipping a
/// member whose last emitted type is the same (except member-update, which always passes).
/// The last emitted type is kept per member name until the member is reaped (Serf keeps it
/// forever, so a cluster with churning names grows without bound), as one byte at the name's id
/// in `pools` (the agent's interned names, whose ids are dense: a byte a member instead of a
/// hash-map slot, ~24 bytes with its control byte and load slack, or a map node and a string).
class MemberEventCoalescer final : public Coalescer {
  public:
    MemberEventCoalescer(base::Duration coalesce_period = kAgentCoalescePeriod,
                         base::Duration quiescent_period = kAgentQuiescentPeriod,
                         std::shared_ptr<swim::InternPools> pools = {})
        : Coalescer(coalesce_period, quiescent_period),
          pools_(pools ? std::move(pools) : std::make_shared<swim::InternPools>()) {}
    ~MemberEventCoalescer() override;
    MemberEventCoalescer(const MemberEventCoalescer&) = delete;
    MemberEventCoalescer& operator=(const MemberEventCoalescer&) = delete;
    /// Members whose last emitted type is remembered.
    std::size_t remembered() const { return remembered_; }

  protected:
    bool handles(const Event& e) const override;
    void absorb(const Event& e) override;
    void emit(std::vector<Event>& out) override;

  private:
    std::shared_ptr<swim::InternPools> pools_;
    /// By name id: 0 = nothing remembered, else 1 + the last emitted EventType; each non-zero
    /// byte holds a reference on its name id, so the id is not reused while remembered.
    std::vector<std::uint8_t> last_;
    std::size_t remembered_ = 0;
    std::map<std::string, std::pair<EventType, Member>> latest_;
};

/// Keeps, per event name, only the events of the newest Lamport time (coalescable ones only).
class UserEventCoalescer final : public Coalescer {
  public:
    UserEventCoalescer(base::Duration coalesce_period = kAgentCoalescePeriod,
                       base::Duration quiescent_period = kAgentQuiescentPeriod)
        : Coalescer(coalesce_period, quiescent_period) {}

  protected:
    bool handles(const Event& e) const override;
    void absorb(const Event& e) override;
    void emit(std::vector<Event>& out) override;

  private:
    struct Latest {
        LamportTime ltime = 0;
        std::vector<UserEvent> events;
    };
    std::map<std::string, Latest> events_;
};

} // namespace clusterd::serf
