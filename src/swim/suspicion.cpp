// Lifeguard suspicion timer; see suspicion.hpp.
#include "clusterd/swim/suspicion.hpp"

#include "clusterd/swim/timing.hpp"

namespace clusterd::swim {

Suspicion::Suspicion(const std::string& from, int k, base::Duration min, base::Duration max,
                     base::Instant start, std::uint32_t incarnation)
    : k_(k), min_(min), max_(max), start_(start), incarnation_(incarnation) {
    seen_.insert(from);
    deadline_ = start_ + (k_ < 1 ? min_ : max_);
}

bool Suspicion::confirm(const std::string& from) {
    if (n_ >= k_)
        return false;
    if (!seen_.insert(from).second)
        return false;
    ++n_;
    deadline_ = start_ + suspicion_total(n_, k_, min_, max_);
    return true;
}

} // namespace clusterd::swim
