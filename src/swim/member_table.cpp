// The compact member table; see member_table.hpp.
#include "clusterd/swim/member_table.hpp"

#include <algorithm>

namespace clusterd::swim {

namespace {
constexpr std::size_t kVsnBytes = 6;
}

std::string encode_where(base::ByteView ip, std::uint16_t port, const std::array<std::uint8_t, 6>& vsn,
                         base::ByteView meta) {
    std::string b;
    b.reserve(1 + ip.size() + 2 + kVsnBytes + meta.size());
    b.push_back(static_cast<char>(ip.size()));
    b.append(reinterpret_cast<const char*>(ip.data()), ip.size());
    b.push_back(static_cast<char>(port >> 8));
    b.push_back(static_cast<char>(port & 0xff));
    b.append(reinterpret_cast<const char*>(vsn.data()), vsn.size());
    b.append(reinterpret_cast<const char*>(meta.data()), meta.size());
    return b;
}

WhereView decode_where(std::string_view b) {
    WhereView w;
    const auto* p = reinterpret_cast<const std::uint8_t*>(b.data());
    const std::size_t iplen = p[0];
    w.ip = base::ByteView(p + 1, iplen);
    const std::size_t at = 1 + iplen;
    w.port = static_cast<std::uint16_t>((p[at] << 8) | p[at + 1]);
    std::copy_n(p + at + 2, kVsnBytes, w.vsn.begin());
    w.meta = base::ByteView(p + at + 2 + kVsnBytes, b.size() - (at + 2 + kVsnBytes));
    return w;
}

MemberTable::MemberTable(std::shared_ptr<InternPools> pools, base::Instant epoch)
    : pools_(pools ? std::move(pools) : std::make_shared<InternPools>()), epoch_(epoch) {}

namespace {
constexpr std::int64_t kTickNs = 250'000'000; // a quarter second
constexpr std::uint32_t kMaxTicks = (1u << 30) - 1;
} // namespace

void MemberTable::set_state(MemberRec& r, State s, base::Instant now) {
    const std::int64_t ns = (now - epoch_).count();
    const auto ticks =
        ns <= 0 ? 0u : static_cast<std::uint32_t>(std::min<std::int64_t>(ns / kTickNs, kMaxTicks));
    // Counted only for records in the table (insert() sets up its record before adding it).
    if (!recs_.empty() && &r >= recs_.data() && &r < recs_.data() + recs_.size()) {
        const bool was = !r.dead_or_left(), is = s == State::Alive || s == State::Suspect;
        if (was != is)
            live_ = is ? live_ + 1 : live_ - 1;
    }
    r.bits = (ticks << 2) | static_cast<std::uint32_t>(s);
}

base::Instant MemberTable::state_change(const MemberRec& r) const {
    return epoch_ + base::Duration(static_cast<std::int64_t>(r.bits >> 2) * kTickNs);
}

MemberTable::~MemberTable() {
    for (const MemberRec& r : recs_)
        release(r);
}

MemberRec* MemberTable::find(std::string_view name) {
    StringPool::Id id;
    return find(name, id);
}

MemberRec* MemberTable::find(std::string_view name, StringPool::Id& id) {
    id = pools_->names.find(name);
    if (id == StringPool::kNone || id >= pos_.size() || pos_[id] == kAbsent)
        return nullptr;
    return &recs_[pos_[id]];
}

const MemberRec* MemberTable::find(std::string_view name) const {
    return const_cast<MemberTable*>(this)->find(name);
}

void MemberTable::prefetch(Prefetch& p, int stage) const {
    if (stage == 0) {
        pools_->names.prefetch_find(p.name);
        return;
    }
    if (stage == 1)
        p.id = pools_->names.find(p.name);
    if (p.id == StringPool::kNone || p.id >= pos_.size())
        return;
    if (stage == 1) {
        __builtin_prefetch(&pos_[p.id]);
        return;
    }
    const std::uint32_t at = pos_[p.id];
    if (at == kAbsent)
        return;
    if (stage == 2) {
        __builtin_prefetch(&recs_[at]);
        return;
    }
    if (recs_[at].where != StringPool::kNone)
        pools_->blobs.prefetch(recs_[at].where);
}

StringPool::Id MemberTable::acquire_where(const Address& addr, const Vsn& vsn, base::ByteView meta) {
    return pools_->blobs.acquire(encode_where(addr.ip, addr.port, vsn, meta));
}

void MemberTable::set_pos(StringPool::Id name, std::uint32_t pos) {
    if (name >= pos_.size())
        pos_.resize(std::max<std::size_t>(name + 1, pools_->names.id_bound()), kAbsent);
    pos_[name] = pos;
}

MemberRec& MemberTable::insert(std::string_view name, const Address& addr, const Vsn& vsn,
                               base::ByteView meta, std::size_t at, base::Instant now) {
    return insert(name, pools_->names.find(name), addr, vsn, meta, at, now);
}

MemberRec& MemberTable::insert(std::string_view name, StringPool::Id id, const Address& addr, const Vsn& vsn,
                               base::ByteView meta, std::size_t at, base::Instant now) {
    MemberRec r;
    if (id != StringPool::kNone) {
        pools_->names.retain(id); // what acquire(name) does for a held name
        r.name = id;
    } else {
        r.name = pools_->names.acquire(name);
    }
    r.where = acquire_where(addr, vsn, meta);
    set_state(r, State::Dead, now);
    // Growth by a quarter rather than doubling: in a large cluster every node's table is about
    // N records and doubling would leave up to half of them unused.
    if (recs_.size() == recs_.capacity())
        recs_.reserve(recs_.size() + recs_.size() / 4 + 8);
    const auto n = static_cast<std::uint32_t>(recs_.size());
    recs_.push_back(r);
    set_pos(r.name, n);
    if (at < n) {
        std::swap(recs_[at], recs_[n]);
        set_pos(recs_[at].name, static_cast<std::uint32_t>(at));
        set_pos(recs_[n].name, n);
        return recs_[at];
    }
    return recs_[n];
}

void MemberTable::set_where(MemberRec& r, const Address& addr, const Vsn& vsn, base::ByteView meta) {
    const StringPool::Id w = acquire_where(addr, vsn, meta);
    pools_->blobs.release(r.where);
    r.where = w;
}

void MemberTable::release(const MemberRec& r) {
    if (r.name < pos_.size())
        pos_[r.name] = kAbsent;
    pools_->names.release(r.name);
    pools_->blobs.release(r.where);
}

void MemberTable::reindex() {
    for (std::size_t i = 0; i < recs_.size(); ++i)
        set_pos(recs_[i].name, static_cast<std::uint32_t>(i));
}

void MemberTable::shuffle(base::Rng& rng) {
    rng.shuffle(recs_);
    reindex();
}

base::ByteView MemberTable::ip(const MemberRec& r) const {
    const std::string_view b = blob(r);
    return base::ByteView(reinterpret_cast<const std::uint8_t*>(b.data()) + 1,
                          static_cast<std::uint8_t>(b[0]));
}

std::uint16_t MemberTable::port(const MemberRec& r) const {
    const std::string_view b = blob(r);
    const std::size_t at = 1 + static_cast<std::uint8_t>(b[0]);
    return static_cast<std::uint16_t>((static_cast<std::uint8_t>(b[at]) << 8) |
                                      static_cast<std::uint8_t>(b[at + 1]));
}

Address MemberTable::addr(const MemberRec& r) const {
    const base::ByteView i = ip(r);
    return Address{base::Bytes(i.begin(), i.end()), port(r)};
}

MemberTable::Vsn MemberTable::vsn(const MemberRec& r) const {
    const std::string_view b = blob(r);
    const std::size_t at = 1 + static_cast<std::uint8_t>(b[0]) + 2;
    Vsn v{};
    std::copy_n(reinterpret_cast<const std::uint8_t*>(b.data()) + at, kVsnBytes, v.begin());
    return v;
}

base::ByteView MemberTable::meta(const MemberRec& r) const {
    const std::string_view b = blob(r);
    const std::size_t at = 1 + static_cast<std::uint8_t>(b[0]) + 2 + kVsnBytes;
    return base::ByteView(reinterpret_cast<const std::uint8_t*>(b.data()) + at, b.size() - at);
}

Node MemberTable::node(const MemberRec& r) const {
    Node n;
    n.name = std::string(name(r));
    n.addr = addr(r);
    const base::ByteView m = meta(r);
    n.meta.assign(m.begin(), m.end());
    n.incarnation = r.incarnation;
    n.state = r.state();
    n.vsn = vsn(r);
    n.state_change = state_change(r);
    return n;
}

} // namespace clusterd::swim
