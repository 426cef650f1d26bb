// Interned strings with dense ids; see intern.hpp.
#include "clusterd/swim/intern.hpp"

#include <cstring>

namespace clusterd::swim {

StringPool::~StringPool() {
    for (Entry& e : entries_)
        clear(e);
}

void StringPool::assign(Entry& e, std::string_view text) {
    e.len = static_cast<std::uint32_t>(text.size());
    char* to = e.small;
    if (text.size() > kInline) {
        e.big = new char[text.size()];
        to = e.big;
    }
    if (!text.empty())
        std::memcpy(to, text.data(), text.size());
}

void StringPool::clear(Entry& e) {
    if (e.len > kInline)
        delete[] e.big;
    e.len = 0;
}

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
    assign(e, text);
    e.refs = 1;
    index_.insert(id);
    return id;
}

void StringPool::release(Id id) {
    Entry& e = entries_[id];
    if (--e.refs != 0)
        return;
    index_.erase(id);
    clear(e);
    free_.push_back(id);
}

} // namespace clusterd::swim
