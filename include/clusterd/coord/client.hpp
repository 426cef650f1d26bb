// coord::Client: one node's Vivaldi estimator. Feed it (peer name, peer coordinate, measured RTT)
// and it updates the local coordinate exactly as Serf's coordinate.Client does: per-peer median
// latency filter, Vivaldi step, adjustment window, gravity towards the origin, reset on NaN/Inf.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "clusterd/base/result.hpp"
#include "clusterd/base/rng.hpp"
#include "clusterd/base/time.hpp"
#include "clusterd/coord/coordinate.hpp"

namespace clusterd::coord {

class Client {
  public:
    explicit Client(Config config = Config{}, std::uint64_t seed = 1);

    const Coordinate& coordinate() const { return coord_; }
    const Config& config() const { return config_; }

    /// Replaces the local coordinate (rejected when incompatible or not finite).
    base::Status set_coordinate(const Coordinate& c);
    /// Forgets the latency samples kept for a peer.
    void forget_node(const std::string& node) { latency_samples_.erase(node); }

    /// Applies one observation; errors ("incompatible", "invalid", "bad_rtt") leave state unchanged.
    /// RTT must be within [0, 10 s] like Serf.
    base::Result<Coordinate> update(const std::string& node, const Coordinate& other, base::Duration rtt);
    /// The same, for a caller that keeps each peer's latency-filter samples itself (Serf's
    /// compact peer table): `window` holds config().latency_filter_size doubles, of which the
    /// first `count` are the peer's samples, oldest first; both are updated.
    base::Result<Coordinate> update(std::span<double> window, std::uint32_t& count, const Coordinate& other,
                                    base::Duration rtt);
    /// The latency filter: appends `rtt_seconds` to the window (dropping the oldest sample when
    /// full) and returns the median of what it holds, as Serf's per-peer filter does.
    static double filter(std::span<double> window, std::uint32_t& count, double rtt_seconds);

    /// Estimated RTT from the local coordinate to `other` (zero if incompatible).
    base::Duration distance_to(const Coordinate& other) const;

    /// How often the coordinate had to be reset because it went non-finite.
    std::uint64_t resets() const { return resets_; }

  private:
    base::Status check(const Coordinate& c) const;
    double latency_filter(const std::string& node, double rtt_seconds);
    base::Result<Coordinate> apply(const Coordinate& other, base::Duration rtt,
                                   const std::function<double(double)>& filtered);
    void update_vivaldi(const Coordinate& other, double rtt_seconds);
    void update_adjustment(const Coordinate& other, double rtt_seconds);
    void update_gravity();

    Config config_;
    Coordinate coord_;
    Coordinate origin_;
    std::size_t adjustment_index_ = 0;
    std::vector<double> adjustment_samples_;
    struct Samples {
        std::vector<double> window;
        std::uint32_t count = 0;
    };
    std::map<std::string, Samples> latency_samples_;
    std::uint64_t resets_ = 0;
    base::Rng rng_;
};

} // namespace clusterd::coord
