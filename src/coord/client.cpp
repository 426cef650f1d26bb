// Vivaldi estimator (see client.hpp); the update order and formulas follow Serf's client.
#include "clusterd/coord/client.hpp"

#include <algorithm>
#include <array>
#include <cmath>

namespace clusterd::coord {
namespace {
constexpr double kZeroThreshold = 1.0e-6;
constexpr base::Duration kMaxRtt = std::chrono::seconds(10);

double seconds(base::Duration d) {
    return static_cast<double>(d.count()) / 1.0e9;
}
} // namespace

Client::Client(Config config, std::uint64_t seed)
    : config_(config), coord_(Coordinate::fresh(config)), origin_(Coordinate::fresh(config)),
      adjustment_samples_(config.adjustment_window_size, 0.0), rng_(seed) {}

base::Status Client::check(const Coordinate& c) const {
    if (!coord_.is_compatible_with(c))
        return base::make_error("incompatible", "dimensions aren't compatible");
    if (!c.is_valid())
        return base::make_error("invalid", "coordinate is invalid");
    return base::ok_status();
}

base::Status Client::set_coordinate(const Coordinate& c) {
    auto st = check(c);
    if (!st)
        return st;
    coord_ = c;
    return base::ok_status();
}

double Client::latency_filter(const std::string& node, double rtt_seconds) {
    Samples& samples = latency_samples_[node];
    if (samples.window.empty())
        samples.window.assign(config_.latency_filter_size, 0.0);
    return filter(samples.window, samples.count, rtt_seconds);
}

void Client::update_vivaldi(const Coordinate& other, double rtt_seconds) {
    double dist = seconds(coord_.distance_to(other));
    rtt_seconds = std::max(rtt_seconds, kZeroThreshold);
    double wrongness = std::fabs(dist - rtt_seconds) / rtt_seconds;
    double total_error = std::max(coord_.error + other.error, kZeroThreshold);
    double weight = coord_.error / total_error;
    coord_.error =
        config_.vivaldi_ce * weight * wrongness + coord_.error * (1.0 - config_.vivaldi_ce * weight);
    coord_.error = std::min(coord_.error, config_.vivaldi_error_max);
    double force = config_.vivaldi_cc * weight * (rtt_seconds - dist);
    coord_ = coord_.apply_force(config_, force, other, rng_);
}

void Client::update_adjustment(const Coordinate& other, double rtt_seconds) {
    if (config_.adjustment_window_size == 0)
        return;
    double dist = coord_.raw_distance_to(other);
    adjustment_samples_[adjustment_index_] = rtt_seconds - dist;
    adjustment_index_ = (adjustment_index_ + 1) % config_.adjustment_window_size;
    double sum = 0.0;
    for (double s : adjustment_samples_)
        sum += s;
    coord_.adjustment = sum / (2.0 * static_cast<double>(config_.adjustment_window_size));
}

void Client::update_gravity() {
    double dist = seconds(origin_.distance_to(coord_));
    double force = -1.0 * std::pow(dist / config_.gravity_rho, 2.0);
    coord_ = coord_.apply_force(config_, force, origin_, rng_);
}

base::Result<Coordinate> Client::update(const std::string& node, const Coordinate& other,
                                        base::Duration rtt) {
    return apply(other, rtt, [&](double secs) { return latency_filter(node, secs); });
}

base::Result<Coordinate> Client::update(std::span<double> window, std::uint32_t& count,
                                        const Coordinate& other, base::Duration rtt) {
    return apply(other, rtt, [&](double secs) { return filter(window, count, secs); });
}

double Client::filter(std::span<double> window, std::uint32_t& count, double rtt_seconds) {
    if (window.empty())
        return rtt_seconds;
    if (count < window.size()) {
        window[count++] = rtt_seconds;
    } else {
        std::move(window.begin() + 1, window.end(), window.begin());
        window.back() = rtt_seconds;
        count = static_cast<std::uint32_t>(window.size());
    }
    constexpr std::size_t kStack = 16;
    std::array<double, kStack> small{};
    std::vector<double> large;
    std::span<double> sorted;
    if (count <= kStack) {
        std::copy_n(window.begin(), count, small.begin());
        sorted = std::span<double>(small.data(), count);
    } else {
        large.assign(window.begin(), window.begin() + count);
        sorted = large;
    }
    std::sort(sorted.begin(), sorted.end());
    return sorted[sorted.size() / 2];
}

base::Result<Coordinate> Client::apply(const Coordinate& other, base::Duration rtt,
                                       const std::function<double(double)>& filtered) {
    auto st = check(other);
    if (!st)
        return st.error();
    if (rtt < base::Duration::zero() || rtt > kMaxRtt)
        return base::make_error("bad_rtt", "round trip time not in valid range, duration " +
                                               std::to_string(rtt.count()) +
                                               "ns is not a positive value less than 10s");
    double rtt_seconds = filtered(seconds(rtt));
    update_vivaldi(other, rtt_seconds);
    update_adjustment(other, rtt_seconds);
    update_gravity();
    if (!coord_.is_valid()) {
        ++resets_;
        coord_ = Coordinate::fresh(config_);
    }
    return coord_;
}

base::Duration Client::distance_to(const Coordinate& other) const {
    if (!coord_.is_compatible_with(other))
        return base::Duration::zero();
    return coord_.distance_to(other);
}

} // namespace clusterd::coord
