// Compact per-peer Vivaldi state; see peer_coordinates.hpp.
#include "peer_coordinates.hpp"

#include <algorithm>

namespace clusterd::serf::detail {

PeerCoordinates::PeerCoordinates(std::shared_ptr<swim::InternPools> pools, const coord::Config& config)
    : pools_(std::move(pools)), dims_(config.dimensionality), filter_(config.latency_filter_size),
      stride_(config.dimensionality + 3 + config.latency_filter_size) {}

PeerCoordinates::~PeerCoordinates() {
    for (const Meta& m : meta_)
        if (m.name != swim::StringPool::kNone)
            pools_->names.release(m.name);
}

std::uint32_t PeerCoordinates::row_of(std::string_view peer) const {
    const swim::StringPool::Id id = pools_->names.find(peer);
    if (id == swim::StringPool::kNone || id >= row_of_id_.size())
        return kNoRow;
    return row_of_id_[id];
}

std::uint32_t PeerCoordinates::ensure_row(std::string_view peer) {
    if (const std::uint32_t r = row_of(peer); r != kNoRow)
        return r;
    const swim::StringPool::Id id = pools_->names.acquire(peer);
    std::uint32_t r;
    if (!free_.empty()) {
        r = free_.back();
        free_.pop_back();
    } else {
        r = rows_++;
        // Grow by a quarter at a time (see MemberTable::insert): a join storm's growth.
        if (meta_.size() == meta_.capacity()) {
            const std::size_t cap = meta_.size() + meta_.size() / 4 + 8;
            meta_.reserve(cap);
            slab_.reserve(cap * stride_);
        }
        meta_.emplace_back();
        slab_.resize(static_cast<std::size_t>(rows_) * stride_);
    }
    meta_[r] = Meta{id, 0, false};
    std::fill_n(row(r), stride_, 0.0);
    if (id >= row_of_id_.size()) {
        if (id >= row_of_id_.capacity())
            row_of_id_.reserve(id + id / 4 + 8);
        row_of_id_.resize(id + 1, kNoRow);
    }
    row_of_id_[id] = r;
    return r;
}

PeerCoordinates::Window PeerCoordinates::window(std::string_view peer) {
    const std::uint32_t r = ensure_row(peer);
    return Window{std::span<double>(row(r) + dims_ + 3, filter_), meta_[r].count};
}

void PeerCoordinates::set(std::string_view peer, const coord::Coordinate& c) {
    if (c.vec.size() != dims_)
        return;
    const std::uint32_t r = ensure_row(peer);
    double* p = row(r);
    std::copy(c.vec.begin(), c.vec.end(), p);
    p[dims_] = c.error;
    p[dims_ + 1] = c.adjustment;
    p[dims_ + 2] = c.height;
    meta_[r].has_coord = true;
}

std::optional<coord::Coordinate> PeerCoordinates::get(std::string_view peer) const {
    const std::uint32_t r = row_of(peer);
    if (r == kNoRow || !meta_[r].has_coord)
        return std::nullopt;
    const double* p = row(r);
    coord::Coordinate c;
    c.vec.assign(p, p + dims_);
    c.error = p[dims_];
    c.adjustment = p[dims_ + 1];
    c.height = p[dims_ + 2];
    return c;
}

void PeerCoordinates::forget(std::string_view peer) {
    const std::uint32_t r = row_of(peer);
    if (r == kNoRow)
        return;
    const swim::StringPool::Id id = meta_[r].name;
    row_of_id_[id] = kNoRow;
    meta_[r] = Meta{};
    free_.push_back(r);
    pools_->names.release(id);
    if (free_.size() == rows_) { // nobody left: give the memory back
        rows_ = 0;
        std::vector<double>().swap(slab_);
        std::vector<Meta>().swap(meta_);
        std::vector<std::uint32_t>().swap(free_);
        std::vector<std::uint32_t>().swap(row_of_id_);
    }
}

} // namespace clusterd::serf::detail
