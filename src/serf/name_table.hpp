// serf::detail::NameTable<V>: a value per member name, for tables with one row per member
// (issue 19, bytes per member). Rows live in one vector and are found through the agent's
// interned name ids (the ids memberlist's table holds; each row keeps one reference so its id
// stays its name's): the row's id and value plus a 4-byte slot in an id-indexed vector, where a
// std::map<std::string, V> pays a tree node, a string and an allocation per member. Erasing
// moves the last row into the hole, so rows have no stable order or address across erase.
// Private to src/serf.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "clusterd/swim/intern.hpp"

namespace clusterd::serf::detail {

template <class V> class NameTable {
  public:
    explicit NameTable(std::shared_ptr<swim::InternPools> pools) : pools_(std::move(pools)) {}
    ~NameTable() {
        for (const Row& r : rows_)
            pools_->names.release(r.id);
    }
    NameTable(const NameTable&) = delete;
    NameTable& operator=(const NameTable&) = delete;

    std::size_t size() const { return rows_.size(); }

    V* find(std::string_view name) { return const_cast<V*>(std::as_const(*this).find(name)); }
    const V* find(std::string_view name) const {
        const swim::StringPool::Id id = pools_->names.find(name);
        if (id == swim::StringPool::kNone || id >= row_of_id_.size() || row_of_id_[id] == kNoRow)
            return nullptr;
        return &rows_[row_of_id_[id]].value;
    }

    /// Adds `name` (which must be absent) with `value`; the reference is valid until the next
    /// insert or erase.
    V& insert(std::string_view name, V value) {
        const swim::StringPool::Id id = pools_->names.acquire(name);
        if (id >= row_of_id_.size()) {
            if (id >= row_of_id_.capacity())
                row_of_id_.reserve(id + id / 4 + 8);
            row_of_id_.resize(id + 1, kNoRow);
        }
        if (rows_.size() == rows_.capacity()) // grow by a quarter (see swim::MemberTable::insert)
            rows_.reserve(rows_.size() + rows_.size() / 4 + 8);
        row_of_id_[id] = static_cast<std::uint32_t>(rows_.size());
        rows_.push_back(Row{id, std::move(value)});
        return rows_.back().value;
    }

    /// Removes `name`; false when it was not there.
    bool erase(std::string_view name) {
        const swim::StringPool::Id id = pools_->names.find(name);
        if (id == swim::StringPool::kNone || id >= row_of_id_.size() || row_of_id_[id] == kNoRow)
            return false;
        const std::uint32_t at = row_of_id_[id];
        row_of_id_[id] = kNoRow;
        if (at + 1 != rows_.size()) {
            rows_[at] = std::move(rows_.back());
            row_of_id_[rows_[at].id] = at;
        }
        rows_.pop_back();
        pools_->names.release(id);
        if (rows_.empty()) {
            std::vector<Row>().swap(rows_);
            std::vector<std::uint32_t>().swap(row_of_id_);
        }
        return true;
    }

    /// Calls f(name, value) for every row (the table must not change meanwhile).
    template <class F> void for_each(F&& f) const {
        for (const Row& r : rows_)
            f(pools_->names.view(r.id), r.value);
    }

  private:
    static constexpr std::uint32_t kNoRow = 0xffffffffu;
    struct Row {
        swim::StringPool::Id id;
        V value;
    };
    std::shared_ptr<swim::InternPools> pools_;
    std::vector<Row> rows_;
    std::vector<std::uint32_t> row_of_id_;
};

} // namespace clusterd::serf::detail
