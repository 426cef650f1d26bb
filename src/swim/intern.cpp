// Interned strings with dense ids; see intern.hpp.
#include "clusterd/swim/intern.hpp"

namespace clusterd::swim {

StringPool::Id StringPool::acquire(std::string_view text) {
    if (auto it = index_.find(text); it != index_.end()) {
        ++entries_[*it].refs;
        return *it;
    }
    Id id;
    if (!free_.empty()) {
        id = free_.back();
        free_.pop_back();
    } else {
        id = static_cast<Id>(entries_.size());
        entries_.emplace_back();
    }
    Entry& e = entries_[id];
    e.text.assign(text);
    e.refs = 1;
    index_.insert(id);
    return id;
}

void StringPool::release(Id id) {
    Entry& e = entries_[id];
    if (--e.refs != 0)
        return;
    index_.erase(id);
    std::string().swap(e.text);
    free_.push_back(id);
}

} // namespace clusterd::swim
