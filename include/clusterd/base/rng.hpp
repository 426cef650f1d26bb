// clusterd::base::Rng: the protocol's only source of randomness, seeded at construction
// (xoshiro256** expanded from a 64-bit seed by splitmix64). Deterministic for a given seed.
#pragma once

#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

namespace clusterd::base {

class Rng {
  public:
    using result_type = std::uint64_t;

    explicit Rng(std::uint64_t seed = 0x9E3779B97F4A7C15ULL);

    /// Next 64 random bits.
    std::uint64_t next();
    /// Uniform integer in [0, bound); bound 0 yields 0.
    std::uint64_t below(std::uint64_t bound);
    /// Uniform real in [0, 1).
    double unit();
    /// True with probability p.
    bool chance(double p) { return unit() < p; }

    /// UniformRandomBitGenerator interface, so std::shuffle and distributions accept an Rng.
    static constexpr result_type min() { return 0; }
    static constexpr result_type max() { return std::numeric_limits<result_type>::max(); }
    result_type operator()() { return next(); }

    /// Fisher–Yates shuffle of any random-access range.
    template <typename T> void shuffle(std::vector<T>& v) {
        for (std::size_t i = v.size(); i > 1; --i) {
            std::size_t j = static_cast<std::size_t>(below(i));
            using std::swap;
            swap(v[i - 1], v[j]);
        }
    }

    /// Mix two values into a seed (used to derive per-node seeds from a master seed).
    static std::uint64_t mix(std::uint64_t a, std::uint64_t b);

  private:
    std::uint64_t s_[4];
};

} // namespace clusterd::base
