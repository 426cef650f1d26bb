// Bounds-checked msgpack decoding and Go-dialect encoding for the IPC protocol.
#include "clusterd/rpc/msgpack.hpp"

#include <cstring>

namespace clusterd::rpc::mp {

const Value* Value::find(std::string_view key) const {
    if (kind != Kind::Map) return nullptr;
    for (std::size_t k = 0; k + 1 < items.size(); k += 2) {
        const Value& kv = items[k];
        if ((kv.kind == Kind::Str || kv.kind == Kind::Bin) && kv.s == key) return &items[k + 1];
    }
    return nullptr;
}

bool Value::as_uint(std::uint64_t& out) const {
    if (kind == Kind::UInt) {
        out = u;
        return true;
    }
    if (kind == Kind::Int && i >= 0) {
        out = static_cast<std::uint64_t>(i);
        return true;
    }
    return false;
}

bool Value::as_int(std::int64_t& out) const {
    if (kind == Kind::Int) {
        out = i;
        return true;
    }
    if (kind == Kind::UInt && u <= static_cast<std::uint64_t>(INT64_MAX)) {
        out = static_cast<std::int64_t>(u);
        return true;
    }
    return false;
}

namespace {

struct Reader {
    base::ByteView in;
    std::size_t pos = 0;
    std::size_t max_bytes;
    Status status = Status::Ok;
    std::string error;

    bool fail(std::string why) {
        status = Status::Error;
        error = std::move(why);
        return false;
    }
    std::size_t need_total = 0;
    bool need(std::size_t n) {
        status = Status::NeedMore;
        need_total = pos + n;
        return false;
    }
    bool avail(std::size_t n) {
        if (n > max_bytes) return fail("length claim of " + std::to_string(n) + " bytes exceeds limit");
        if (in.size() - pos < n) return need(n);
        return true;
    }
    bool be(int n, std::uint64_t& v) {
        if (!avail(static_cast<std::size_t>(n))) return false;
        v = 0;
        for (int k = 0; k < n; ++k) v = (v << 8) | in[pos++];
        return true;
    }
    bool raw(std::size_t n, Value* out, Value::Kind kind) {
        if (!avail(n)) return false;
        if (out != nullptr) {
            out->kind = kind;
            out->s.assign(reinterpret_cast<const char*>(in.data() + pos), n);
        }
        pos += n;
        return true;
    }
    bool container(std::size_t n, bool is_map, Value* out, int depth) {
        const std::size_t elems = is_map ? n * 2 : n;
        // Every element takes at least one byte: a count the input cannot hold is rejected or
        // deferred before anything is reserved.
        if (n > max_bytes || elems > max_bytes) return fail("element count exceeds limit");
        if (in.size() - pos < elems) return need(elems);
        if (out != nullptr) out->kind = is_map ? Value::Kind::Map : Value::Kind::Array;
        for (std::size_t k = 0; k < elems; ++k) {
            if (out != nullptr) {
                out->items.emplace_back();
                if (!one(&out->items.back(), depth + 1)) return false;
            } else if (!one(nullptr, depth + 1)) {
                return false;
            }
        }
        return true;
    }
    bool one(Value* out, int depth) {
        if (depth > 32) return fail("nesting too deep");
        if (!avail(1)) return false;
        const std::uint8_t t = in[pos++];
        std::uint64_t v = 0;
        auto set_u = [&](std::uint64_t x) {
            if (out != nullptr) {
                out->kind = Value::Kind::UInt;
                out->u = x;
            }
            return true;
        };
        auto set_i = [&](std::int64_t x) {
            if (out != nullptr) {
                out->kind = Value::Kind::Int;
                out->i = x;
            }
            return true;
        };
        if (t <= 0x7f) return set_u(t);
        if (t >= 0xe0) return set_i(static_cast<std::int8_t>(t));
        if ((t & 0xf0) == 0x80) return container(t & 0x0f, true, out, depth);
        if ((t & 0xf0) == 0x90) return container(t & 0x0f, false, out, depth);
        if ((t & 0xe0) == 0xa0) return raw(t & 0x1f, out, Value::Kind::Str);
        switch (t) {
            case 0xc0:
                if (out != nullptr) out->kind = Value::Kind::Nil;
                return true;
            case 0xc2:
            case 0xc3:
                if (out != nullptr) {
                    out->kind = Value::Kind::Bool;
                    out->b = t == 0xc3;
                }
                return true;
            case 0xc4: return be(1, v) && raw(v, out, Value::Kind::Bin);
            case 0xc5: return be(2, v) && raw(v, out, Value::Kind::Bin);
            case 0xc6: return be(4, v) && raw(v, out, Value::Kind::Bin);
            case 0xd9: return be(1, v) && raw(v, out, Value::Kind::Str);
            case 0xda: return be(2, v) && raw(v, out, Value::Kind::Str);
            case 0xdb: return be(4, v) && raw(v, out, Value::Kind::Str);
            case 0xcc: return be(1, v) && set_u(v);
            case 0xcd: return be(2, v) && set_u(v);
            case 0xce: return be(4, v) && set_u(v);
            case 0xcf: return be(8, v) && set_u(v);
            case 0xd0: return be(1, v) && set_i(static_cast<std::int8_t>(v));
            case 0xd1: return be(2, v) && set_i(static_cast<std::int16_t>(v));
            case 0xd2: return be(4, v) && set_i(static_cast<std::int32_t>(v));
            case 0xd3: return be(8, v) && set_i(static_cast<std::int64_t>(v));
            case 0xca: {
                if (!be(4, v)) return false;
                const auto bits = static_cast<std::uint32_t>(v);
                float fl = 0;
                std::memcpy(&fl, &bits, 4);
                if (out != nullptr) {
                    out->kind = Value::Kind::Float;
                    out->f = fl;
                }
                return true;
            }
            case 0xcb: {
                if (!be(8, v)) return false;
                double d = 0;
                std::memcpy(&d, &v, 8);
                if (out != nullptr) {
                    out->kind = Value::Kind::Float;
                    out->f = d;
                }
                return true;
            }
            case 0xdc: return be(2, v) && container(v, false, out, depth);
            case 0xdd: return be(4, v) && container(v, false, out, depth);
            case 0xde: return be(2, v) && container(v, true, out, depth);
            case 0xdf: return be(4, v) && container(v, true, out, depth);
            case 0xd4: return be(1, v) && raw(1, nullptr, Value::Kind::Bin) && fail("ext types are not used by IPC");
            case 0xd5: return be(1, v) && raw(2, nullptr, Value::Kind::Bin) && fail("ext types are not used by IPC");
            case 0xd6: return be(1, v) && raw(4, nullptr, Value::Kind::Bin) && fail("ext types are not used by IPC");
            case 0xd7: return be(1, v) && raw(8, nullptr, Value::Kind::Bin) && fail("ext types are not used by IPC");
            case 0xd8: return be(1, v) && raw(16, nullptr, Value::Kind::Bin) && fail("ext types are not used by IPC");
            default: return fail("invalid msgpack type byte");
        }
    }
};

DecodeResult run(base::ByteView in, Value* out, std::size_t max_bytes, int max_depth) {
    Reader r{in, 0, max_bytes, Status::Ok, {}, 0};
    const bool ok = r.one(out, 32 - max_depth);
    DecodeResult res;
    res.status = ok ? Status::Ok : r.status;
    res.consumed = ok ? r.pos : 0;
    res.error = r.error;
    res.need_bytes = r.need_total;
    return res;
}

}  // namespace

DecodeResult decode(base::ByteView in, Value& out, std::size_t max_bytes, int max_depth) {
    out = Value{};
    return run(in, &out, max_bytes, max_depth);
}

DecodeResult skip(base::ByteView in, std::size_t max_bytes, int max_depth) {
    return run(in, nullptr, max_bytes, max_depth);
}

void Writer::be(std::uint64_t v, int n) {
    for (int k = n - 1; k >= 0; --k) put(static_cast<std::uint8_t>(v >> (8 * k)));
}

void Writer::nil() { put(0xc0); }
void Writer::boolean(bool v) { put(v ? 0xc3 : 0xc2); }

void Writer::uint(std::uint64_t v) {
    if (v <= 0x7f) {
        put(static_cast<std::uint8_t>(v));
    } else if (v <= 0xff) {
        put(0xcc);
        be(v, 1);
    } else if (v <= 0xffff) {
        put(0xcd);
        be(v, 2);
    } else if (v <= 0xffffffffULL) {
        put(0xce);
        be(v, 4);
    } else {
        put(0xcf);
        be(v, 8);
    }
}

void Writer::sint(std::int64_t v) {
    if (v >= 0) return uint(static_cast<std::uint64_t>(v));
    const auto u = static_cast<std::uint64_t>(v);
    if (v >= -32) {
        put(static_cast<std::uint8_t>(u));
    } else if (v >= INT8_MIN) {
        put(0xd0);
        be(u, 1);
    } else if (v >= INT16_MIN) {
        put(0xd1);
        be(u, 2);
    } else if (v >= INT32_MIN) {
        put(0xd2);
        be(u, 4);
    } else {
        put(0xd3);
        be(u, 8);
    }
}

void Writer::f64(double v) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, &v, 8);
    put(0xcb);
    be(bits, 8);
}

void Writer::str(std::string_view v) {
    const auto n = v.size();
    if (n <= 31) {
        put(static_cast<std::uint8_t>(0xa0 | n));
    } else if (n <= 0xff) {
        put(0xd9);
        be(n, 1);
    } else if (n <= 0xffff) {
        put(0xda);
        be(n, 2);
    } else {
        put(0xdb);
        be(n, 4);
    }
    out_.insert(out_.end(), v.begin(), v.end());
}

void Writer::bin(base::ByteView v) {
    const auto n = v.size();
    if (n <= 0xff) {
        put(0xc4);
        be(n, 1);
    } else if (n <= 0xffff) {
        put(0xc5);
        be(n, 2);
    } else {
        put(0xc6);
        be(n, 4);
    }
    out_.insert(out_.end(), v.begin(), v.end());
}

void Writer::bytes_or_nil(base::ByteView v) {
    if (v.empty()) {
        nil();
    } else {
        bin(v);
    }
}

void Writer::array(std::size_t n) {
    if (n <= 15) {
        put(static_cast<std::uint8_t>(0x90 | n));
    } else if (n <= 0xffff) {
        put(0xdc);
        be(n, 2);
    } else {
        put(0xdd);
        be(n, 4);
    }
}

void Writer::map(std::size_t n) {
    if (n <= 15) {
        put(static_cast<std::uint8_t>(0x80 | n));
    } else if (n <= 0xffff) {
        put(0xde);
        be(n, 2);
    } else {
        put(0xdf);
        be(n, 4);
    }
}

void Writer::string_map(const std::map<std::string, std::string>& m) {
    map(m.size());
    for (const auto& [k, v] : m) {
        str(k);
        str(v);
    }
}

}  // namespace clusterd::rpc::mp
