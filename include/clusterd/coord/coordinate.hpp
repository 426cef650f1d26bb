// Vivaldi network coordinates (the model Serf's coordinate package uses): the Config with
// Serf's default numbers, the Coordinate value and its pure vector operations. No clock, no
// OS randomness: the one random direction needed when two points coincide comes from a base::Rng.
#pragma once

#include <cstdint>
#include <vector>

#include "clusterd/base/rng.hpp"
#include "clusterd/base/time.hpp"

namespace clusterd::coord {

/// Tuning of the Vivaldi algorithm; defaults are Serf's DefaultConfig values.
struct Config {
    std::uint32_t dimensionality = 8;
    double vivaldi_error_max = 1.5;
    double vivaldi_ce = 0.25;
    double vivaldi_cc = 0.25;
    std::uint32_t adjustment_window_size = 20;
    double height_min = 10.0e-6;
    std::uint32_t latency_filter_size = 3;
    double gravity_rho = 150.0;
};

/// A point in the Vivaldi space plus a non-Euclidean height; distances are in seconds.
struct Coordinate {
    std::vector<double> vec;
    double error = 0.0;
    double adjustment = 0.0;
    double height = 0.0;

    /// The fresh coordinate: origin, maximum error, minimum height.
    static Coordinate fresh(const Config& config);

    /// True when every component is finite.
    bool is_valid() const;
    /// True when both have the same dimensionality.
    bool is_compatible_with(const Coordinate& other) const { return vec.size() == other.vec.size(); }

    /// Moves this point by `force` seconds away from `other` (towards it when negative).
    /// Precondition: compatible dimensionality.
    Coordinate apply_force(const Config& config, double force, const Coordinate& other, base::Rng& rng) const;

    /// Estimated round-trip time, including both adjustments when that stays positive.
    /// Precondition: compatible dimensionality.
    base::Duration distance_to(const Coordinate& other) const;
    /// Distance in seconds without the adjustment terms.
    double raw_distance_to(const Coordinate& other) const;

    friend bool operator==(const Coordinate&, const Coordinate&) = default;
};

} // namespace clusterd::coord
