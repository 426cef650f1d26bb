// serf::detail::PeerCoordinates: what Serf keeps per peer for Vivaldi (issue 19, bytes per
// member): the last coordinate each peer sent in a ping ack (Serf's coordinate cache, the
// `get-coordinate` RPC's answer) and the peer's latency-filter samples. Go serf holds these in
// two maps keyed by name with a heap vector each (~350 bytes per member here as std::maps). Here
// a peer is one fixed-size row of doubles in one slab, found through the agent's interned name id
// (the id memberlist's table already holds; the row keeps one reference so the id stays the
// peer's): dimensionality + 3 doubles for the coordinate, latency_filter_size for the samples,
// and 8 bytes of bookkeeping. Private to src/serf.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "clusterd/coord/coordinate.hpp"
#include "clusterd/swim/intern.hpp"

namespace clusterd::serf::detail {

class PeerCoordinates {
  public:
    PeerCoordinates(std::shared_ptr<swim::InternPools> pools, const coord::Config& config);
    ~PeerCoordinates();
    PeerCoordinates(const PeerCoordinates&) = delete;
    PeerCoordinates& operator=(const PeerCoordinates&) = delete;

    /// The peer's latency-filter window (created empty on first use) and its sample count.
    struct Window {
        std::span<double> samples;
        std::uint32_t& count;
    };
    Window window(std::string_view peer);
    /// Caches the coordinate the peer sent (must have the configured dimensionality; others
    /// are ignored, as the estimator rejects them before this is called).
    void set(std::string_view peer, const coord::Coordinate& c);
    std::optional<coord::Coordinate> get(std::string_view peer) const;
    /// Drops the peer's coordinate and samples.
    void forget(std::string_view peer);
    /// Peers with a row.
    std::size_t size() const { return rows_ - free_.size(); }

  private:
    static constexpr std::uint32_t kNoRow = 0xffffffffu;
    struct Meta {
        swim::StringPool::Id name = swim::StringPool::kNone; ///< kNone: free row
        std::uint32_t count = 0;                             ///< samples held
        bool has_coord = false;
    };
    std::uint32_t row_of(std::string_view peer) const;
    std::uint32_t ensure_row(std::string_view peer);
    double* row(std::uint32_t r) { return slab_.data() + static_cast<std::size_t>(r) * stride_; }
    const double* row(std::uint32_t r) const { return slab_.data() + static_cast<std::size_t>(r) * stride_; }

    std::shared_ptr<swim::InternPools> pools_;
    std::uint32_t dims_, filter_, stride_;
    std::vector<double> slab_; ///< rows_ rows of stride_ doubles: vec, error, adjustment, height, samples
    std::vector<Meta> meta_;   ///< per row
    std::vector<std::uint32_t> row_of_id_; ///< name id -> row (kNoRow)
    std::vector<std::uint32_t> free_;      ///< rows to reuse
    std::uint32_t rows_ = 0;
};

} // namespace clusterd::serf::detail
