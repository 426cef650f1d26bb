// swim::MemberTable: the endpoint's node table in probe order, compact (issue 19). A member is a
// 24-byte record: its name and its "where" (address, port, protocol versions, meta) are ids in
// shared StringPools, so a table holds no per-member heap block and tables sharing the pools
// (all simulated nodes) share one copy of every name and alive payload. Lookup by name goes
// through the names pool to a dense id, then a flat vector from id to position (4 bytes per
// known name). Used by the endpoint (src/swim); public for tests and, later, the Serf layer.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "clusterd/base/bytes.hpp"
#include "clusterd/base/rng.hpp"
#include "clusterd/base/time.hpp"
#include "clusterd/swim/intern.hpp"
#include "clusterd/swim/node.hpp"

namespace clusterd::swim {

/// A member's "where": address, port, protocol versions and meta of its alive message, as one
/// byte string ([ip length][ip][port, big endian][6 version bytes][meta]) to intern. The Serf
/// layer keeps the same string for its member (tags are the meta), so both share one copy.
std::string encode_where(base::ByteView ip, std::uint16_t port, const std::array<std::uint8_t, 6>& vsn,
                         base::ByteView meta);
struct WhereView {
    base::ByteView ip;
    std::uint16_t port = 0;
    std::array<std::uint8_t, 6> vsn{};
    base::ByteView meta;
};
/// Splits a string made by encode_where.
WhereView decode_where(std::string_view where);

/// 16 bytes. The state and the time it last changed share a word: 2 bits of state, 30 bits of
/// quarter seconds since the table was created (saturating after 8.5 years; the times only
/// decide when a dead member is forgotten or its name may be reclaimed, both tens of seconds).
struct MemberRec {
    StringPool::Id name = StringPool::kNone;
    StringPool::Id where = StringPool::kNone; ///< blobs: ip, port, vsn, meta
    std::uint32_t incarnation = 0;
    std::uint32_t bits = static_cast<std::uint32_t>(State::Dead);

    State state() const { return static_cast<State>(bits & 3u); }
    bool dead_or_left() const { return state() == State::Dead || state() == State::Left; }
};

class MemberTable {
  public:
    using Vsn = std::array<std::uint8_t, 6>;
    /// `epoch`: state-change times are kept relative to it.
    MemberTable(std::shared_ptr<InternPools> pools, base::Instant epoch);
    ~MemberTable();
    MemberTable(const MemberTable&) = delete;
    MemberTable& operator=(const MemberTable&) = delete;

    std::size_t size() const { return recs_.size(); }
    MemberRec& operator[](std::size_t i) { return recs_[i]; }
    const MemberRec& operator[](std::size_t i) const { return recs_[i]; }
    auto begin() { return recs_.begin(); }
    auto end() { return recs_.end(); }
    auto begin() const { return recs_.begin(); }
    auto end() const { return recs_.end(); }

    /// The member named `name`, or null. Pointers stay valid until the next insert, erase or
    /// shuffle.
    MemberRec* find(std::string_view name);
    const MemberRec* find(std::string_view name) const;
    /// find() that also gives the name's id in the shared pool (kNone: no table holds it), for
    /// an insert() that follows without looking the name up again.
    MemberRec* find(std::string_view name, StringPool::Id& id);
    /// Cache warm-up for a batch of lookups (a compound packet's parts): stage 0 starts loading
    /// the name index's slots, stage 1 finds the name's id (kept in the Prefetch for the later
    /// stages) and starts loading its position slot, stage 2 the record, stage 3 the record's
    /// "where" blob. Issue each stage for the whole batch before the next, so the batch's cache
    /// misses overlap instead of following one another. Changes nothing.
    struct Prefetch {
        std::string_view name;
        StringPool::Id id = StringPool::kNone;
    };
    static constexpr int kPrefetchStages = 4;
    void prefetch(Prefetch& p, int stage) const;
    /// Appends a new member (state Dead, incarnation 0) and swaps it to position `at` (probe
    /// order is random); returns it.
    MemberRec& insert(std::string_view name, const Address& addr, const Vsn& vsn, base::ByteView meta,
                      std::size_t at, base::Instant now);
    /// The same with the name's id from find(name, id) (the pools unchanged since).
    MemberRec& insert(std::string_view name, StringPool::Id id, const Address& addr, const Vsn& vsn,
                      base::ByteView meta, std::size_t at, base::Instant now);
    /// Sets the state and its change time.
    void set_state(MemberRec& r, State s, base::Instant now);
    /// Members neither dead nor left (alive or suspect), kept as states change: the simulator
    /// asks every node after every half second of a 10,000-node run.
    std::size_t live() const { return live_; }
    /// When the state last changed (to a quarter second).
    base::Instant state_change(const MemberRec& r) const;
    /// Replaces the member's address, versions and meta.
    void set_where(MemberRec& r, const Address& addr, const Vsn& vsn, base::ByteView meta);
    /// Removes every member for which `drop(rec)` is true (calling it once per member).
    template <class Pred> std::size_t erase_if(Pred drop) {
        std::size_t kept = 0, dropped = 0;
        for (std::size_t i = 0; i < recs_.size(); ++i) {
            if (drop(static_cast<const MemberRec&>(recs_[i]))) {
                if (!recs_[i].dead_or_left())
                    --live_;
                release(recs_[i]);
                ++dropped;
                continue;
            }
            if (kept != i)
                recs_[kept] = recs_[i];
            ++kept;
        }
        recs_.resize(kept);
        if (dropped > 0)
            reindex();
        return dropped;
    }
    void shuffle(base::Rng& rng);

    // ---- fields ------------------------------------------------------------------------------
    std::string_view name(const MemberRec& r) const { return pools_->names.view(r.name); }
    base::ByteView ip(const MemberRec& r) const;
    std::uint16_t port(const MemberRec& r) const;
    Address addr(const MemberRec& r) const;
    Vsn vsn(const MemberRec& r) const;
    base::ByteView meta(const MemberRec& r) const;
    std::uint8_t pmax(const MemberRec& r) const { return vsn(r)[1]; }
    /// The member as the public Node value (for delegates and members()).
    Node node(const MemberRec& r) const;

    const std::shared_ptr<InternPools>& pools() const { return pools_; }

  private:
    static constexpr std::uint32_t kAbsent = 0xffffffffu;
    std::size_t live_ = 0;
    std::string_view blob(const MemberRec& r) const { return pools_->blobs.view(r.where); }
    StringPool::Id acquire_where(const Address& addr, const Vsn& vsn, base::ByteView meta);
    void release(const MemberRec& r);
    void set_pos(StringPool::Id name, std::uint32_t pos);
    void reindex();

    std::shared_ptr<InternPools> pools_;
    base::Instant epoch_;
    std::vector<MemberRec> recs_;
    std::vector<std::uint32_t> pos_; ///< name id -> position in recs_ (kAbsent)
};

} // namespace clusterd::swim
