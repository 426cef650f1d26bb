// Vivaldi coordinate arithmetic (see coordinate.hpp).
#include "clusterd/coord/coordinate.hpp"

#include <algorithm>
#include <cmath>

namespace clusterd::coord {
namespace {

constexpr double kZeroThreshold = 1.0e-6;

bool finite(double f) {
    return !std::isinf(f) && !std::isnan(f);
}

double magnitude(const std::vector<double>& v) {
    double sum = 0.0;
    for (double x : v)
        sum += x * x;
    return std::sqrt(sum);
}

std::vector<double> difference(const std::vector<double>& a, const std::vector<double>& b) {
    std::vector<double> out(a.size());
    for (std::size_t i = 0; i < a.size(); ++i)
        out[i] = a[i] - b[i];
    return out;
}

// Unit vector pointing from b to a and the distance between them; when they coincide a random
// direction is drawn and the reported distance is zero.
std::vector<double> unit_vector_at(const std::vector<double>& a, const std::vector<double>& b, double& mag,
                                   base::Rng& rng) {
    std::vector<double> d = difference(a, b);
    mag = magnitude(d);
    if (mag > kZeroThreshold) {
        for (double& x : d)
            x /= mag;
        return d;
    }
    mag = 0.0;
    for (double& x : d)
        x = rng.unit() - 0.5;
    double m = magnitude(d);
    if (m > kZeroThreshold) {
        for (double& x : d)
            x /= m;
        return d;
    }
    std::fill(d.begin(), d.end(), 0.0);
    if (!d.empty())
        d[0] = 1.0;
    return d;
}

} // namespace

Coordinate Coordinate::fresh(const Config& config) {
    Coordinate c;
    c.vec.assign(config.dimensionality, 0.0);
    c.error = config.vivaldi_error_max;
    c.adjustment = 0.0;
    c.height = config.height_min;
    return c;
}

bool Coordinate::is_valid() const {
    for (double x : vec)
        if (!finite(x))
            return false;
    return finite(error) && finite(adjustment) && finite(height);
}

Coordinate Coordinate::apply_force(const Config& config, double force, const Coordinate& other,
                                   base::Rng& rng) const {
    Coordinate out = *this;
    double mag = 0.0;
    std::vector<double> unit = unit_vector_at(vec, other.vec, mag, rng);
    for (std::size_t i = 0; i < out.vec.size() && i < unit.size(); ++i)
        out.vec[i] += unit[i] * force;
    if (mag > kZeroThreshold) {
        out.height = (out.height + other.height) * force / mag + out.height;
        out.height = std::max(out.height, config.height_min);
    }
    return out;
}

double Coordinate::raw_distance_to(const Coordinate& other) const {
    return magnitude(difference(vec, other.vec)) + height + other.height;
}

base::Duration Coordinate::distance_to(const Coordinate& other) const {
    double dist = raw_distance_to(other);
    double adjusted = dist + adjustment + other.adjustment;
    if (adjusted > 0.0)
        dist = adjusted;
    return base::Duration(static_cast<std::int64_t>(dist * 1.0e9));
}

} // namespace clusterd::coord
