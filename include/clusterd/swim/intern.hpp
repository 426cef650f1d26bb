// swim::StringPool: interned, reference-counted byte strings with small dense ids. The member
// table keeps a node's name and its address/versions/meta as two ids instead of owned strings
// (issue 19: bytes per member). Every table given the same pools shares one copy: an agent's
// memberlist and Serf layers, and all the nodes of a simulation. Single-threaded.
#pragma once

#include <absl/container/flat_hash_set.h>
#include <absl/hash/hash.h>

#include <cstdint>
#include <deque>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace clusterd::swim {

class StringPool {
  public:
    using Id = std::uint32_t;
    static constexpr Id kNone = std::numeric_limits<Id>::max();

    StringPool() = default;
    ~StringPool();
    StringPool(const StringPool&) = delete;
    StringPool& operator=(const StringPool&) = delete;

    /// The id of `text` with one more reference (a new id when it was not held).
    Id acquire(std::string_view text);
    /// One more reference to a held id.
    void retain(Id id) { ++entries_[id].refs; }
    /// Drops one reference; the id is reused once none remain.
    void release(Id id);
    /// The id of `text` if held (no reference taken), else kNone.
    Id find(std::string_view text) const {
        auto it = index_.find(text);
        return it == index_.end() ? kNone : *it;
    }
    /// Starts loading the index slots find(text) will probe.
    void prefetch_find(std::string_view text) const { index_.prefetch(text); }
    std::string_view view(Id id) const { return entries_[id].text(); }
    /// Starts loading the entry of `id` (a short string's text lives in it) into the cache.
    void prefetch(Id id) const { __builtin_prefetch(&entries_[id]); }
    /// Ids in use are all below this bound (dense: freed ids are reused first).
    std::size_t id_bound() const { return entries_.size(); }
    /// Distinct strings held.
    std::size_t size() const { return index_.size(); }
    /// Bytes of one entry (a text of up to 16 bytes included).
    static constexpr std::size_t entry_bytes() { return sizeof(Entry); }

  private:
    /// 24 bytes: a text of up to kInline bytes (a node name, the "where" of a member without
    /// tags) lives in the entry; a longer one in one heap block of its exact size. A
    /// std::string entry was 40 bytes (and 40 + a heap block past 15 bytes). Entries never
    /// move (a deque), so views stay valid while their id is held.
    static constexpr std::size_t kInline = 16;
    struct Entry {
        union {
            char small[kInline];
            char* big;
        };
        std::uint32_t len = 0;
        std::uint32_t refs = 0;
        Entry() : small{} {}
        std::string_view text() const { return {len <= kInline ? small : big, len}; }
    };
    static_assert(sizeof(Entry) == 24);
    static void assign(Entry& e, std::string_view text);
    static void clear(Entry& e);
    // The index is a set of ids hashed and compared by their entry's text (4 bytes a slot
    // instead of a 24-byte string_view/id pair: ~40 bytes less per interned string, issue 19).
    struct Hash {
        using is_transparent = void;
        const StringPool* pool;
        std::size_t operator()(Id id) const { return (*this)(pool->entries_[id].text()); }
        std::size_t operator()(std::string_view text) const { return absl::Hash<std::string_view>{}(text); }
    };
    struct Eq {
        using is_transparent = void;
        const StringPool* pool;
        bool operator()(Id a, Id b) const { return a == b; }
        bool operator()(Id a, std::string_view b) const { return pool->entries_[a].text() == b; }
        bool operator()(std::string_view a, Id b) const { return a == pool->entries_[b].text(); }
    };
    std::deque<Entry> entries_;
    std::vector<Id> free_;
    absl::flat_hash_set<Id, Hash, Eq> index_{0, Hash{this}, Eq{this}};
};

/// The pools one member table uses: node names (dense ids index the table) and "where" blobs
/// (address, port, protocol versions and meta of one alive message).
struct InternPools {
    StringPool names;
    StringPool blobs;
};

} // namespace clusterd::swim
