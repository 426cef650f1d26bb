// The generic object tree over the core Reader (see value.hpp).
#include "clusterd/codec/msgpack/value.hpp"

namespace clusterd::codec::msgpack {

const Value* Value::find(std::string_view key) const {
    if (kind != Kind::Map)
        return nullptr;
    for (std::size_t k = 0; k + 1 < items.size(); k += 2) {
        const Value& kv = items[k];
        if ((kv.kind == Kind::Str || kv.kind == Kind::Bin) && kv.s == key)
            return &items[k + 1];
    }
    return nullptr;
}

bool Value::as_uint(std::uint64_t& out) const {
    if (kind == Kind::UInt || (kind == Kind::Int && i >= 0)) {
        out = kind == Kind::UInt ? u : static_cast<std::uint64_t>(i);
        return true;
    }
    return false;
}

bool Value::as_int(std::int64_t& out) const {
    if (kind == Kind::Int || (kind == Kind::UInt && u <= static_cast<std::uint64_t>(INT64_MAX))) {
        out = kind == Kind::Int ? i : static_cast<std::int64_t>(u);
        return true;
    }
    return false;
}

namespace {

base::Status read_into(Reader& r, Value& v);

base::Status read_items(Reader& r, Value& v, std::size_t n) {
    if (auto d = r.descend(); !d)
        return d;
    v.items.reserve(n); // bounded: the header checked n against the remaining bytes
    for (std::size_t k = 0; k < n; ++k) {
        r.enter(v.kind == Value::Kind::Map ? k / 2 : k);
        v.items.emplace_back();
        auto st = read_into(r, v.items.back());
        r.leave();
        if (!st)
            return st;
    }
    r.ascend();
    return base::ok_status();
}

template <typename T> base::Status take(base::Result<T> x, T& out) {
    if (!x)
        return x.error();
    out = std::move(*x);
    return base::ok_status();
}

base::Status read_into(Reader& r, Value& v) {
    auto kind = r.peek();
    if (!kind)
        return kind.error();
    switch (*kind) {
    case Kind::Nil:
        v.kind = Value::Kind::Nil;
        return r.skip();
    case Kind::Bool:
        v.kind = Value::Kind::Bool;
        return take(r.boolean(), v.b);
    case Kind::Float:
        v.kind = Value::Kind::Float;
        return take(r.f64(), v.f);
    case Kind::Str:
    case Kind::Bin:
        v.kind = *kind == Kind::Str ? Value::Kind::Str : Value::Kind::Bin;
        return take(r.str(), v.s);
    case Kind::Int: {
        auto head = r.rest()[0];
        if (head == 0xcf || (head >= 0xcc && head <= 0xce) || head <= 0x7f) {
            v.kind = Value::Kind::UInt;
            return take(r.uint(), v.u);
        }
        v.kind = Value::Kind::Int;
        return take(r.sint(), v.i);
    }
    case Kind::Array: {
        v.kind = Value::Kind::Array;
        auto n = r.array_header();
        if (!n)
            return n.error();
        return read_items(r, v, *n);
    }
    case Kind::Map: {
        v.kind = Value::Kind::Map;
        auto n = r.map_header();
        if (!n)
            return n.error();
        return read_items(r, v, *n * 2);
    }
    case Kind::Ext:
        break;
    }
    return r.fail("malformed", "ext types are not used by either protocol");
}

} // namespace

base::Result<Value> read_value(Reader& r) {
    Value v;
    if (auto st = read_into(r, v); !st)
        return st.error();
    return v;
}

} // namespace clusterd::codec::msgpack
