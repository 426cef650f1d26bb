// Field lists: a message struct names its wire fields once, and that one list drives encode,
// decode and encoded size.
//
//   struct SerfJoin { std::uint64_t ltime = 0; std::string node; ... };
//   constexpr auto msgpack_fields(const SerfJoin*) {
//       return codec::msgpack::fields(field("LTime", &SerfJoin::ltime),
//                                     field("Node", &SerfJoin::node));
//   }
//
// The list is found by argument-dependent lookup, so it lives beside the struct in its own
// namespace. The order of the list is the order on the wire (go-msgpack writes struct fields
// sorted by Go name, so the lists are sorted too). A struct is a msgpack map keyed by the Go
// names; decoding accepts any order, skips unknown keys and treats nil as the zero value, as
// go-msgpack does. Member types map to msgpack as follows (the Codec<T> specialisations below):
//   bool, unsigned and signed integers (range-checked on read), double (f64), base::Duration
//   (int64 ns), std::string (str), base::Bytes (Go []byte: nil when empty), std::vector (array),
//   std::optional (nil or the value), std::map<std::string, V> (map, key order), and any struct
//   with a field list (nested map).
// Hints change one field's encoding: kOmitEmpty (Go `omitempty`: left out when zero),
// kNilIfEmpty (a slice or map that Go leaves nil when empty), kNeverNil (a []byte or slice
// that is never nil, written even when empty).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

#include "clusterd/base/bytes.hpp"
#include "clusterd/base/result.hpp"
#include "clusterd/base/time.hpp"
#include "clusterd/codec/msgpack/core.hpp"

namespace clusterd::codec::msgpack {

enum Hint : std::uint8_t { kPlain = 0, kOmitEmpty = 1, kNilIfEmpty = 2, kNeverNil = 4 };

template <typename T, typename = void> struct Codec; // specialised per member type below

/// One field: Go name, member pointer, hint.
template <typename S, typename M> struct Field {
    std::string_view name;
    M S::*member;
    Hint hint;
};

template <typename S, typename M>
constexpr Field<S, M> field(std::string_view name, M S::*member, Hint hint = kPlain) {
    return {name, member, hint};
}

/// A field written as a constant (e.g. "Event":"user") and ignored on read.
struct Constant {
    std::string_view name;
    std::string_view value;
};
constexpr Constant constant(std::string_view name, std::string_view value) {
    return {name, value};
}

/// A nested map whose fields are members of the enclosing struct (Go's embedded address
/// struct in Serf's relay header).
template <typename... F> struct Group {
    std::string_view name;
    std::tuple<F...> fields;
};
template <typename... F> constexpr Group<F...> group(std::string_view name, F... f) {
    return {name, std::tuple<F...>(f...)};
}

template <typename... F> constexpr std::tuple<F...> fields(F... f) {
    return std::tuple<F...>(f...);
}

template <typename T>
concept HasFields = requires {
    msgpack_fields(static_cast<const T*>(nullptr));
};

// ---------------------------------------------------------------- per-field operations

namespace detail {

template <typename T> bool is_empty(const T& v) {
    if constexpr (requires { v.empty(); })
        return v.empty();
    else if constexpr (std::is_same_v<T, base::Duration>)
        return v.count() == 0;
    else
        return v == T{};
}

template <typename S, typename M> bool present(const Field<S, M>& f, const S& s) {
    return !(f.hint & kOmitEmpty) || !is_empty(s.*(f.member));
}
template <typename S> bool present(const Constant&, const S&) {
    return true;
}
template <typename S, typename... F> bool present(const Group<F...>&, const S&) {
    return true;
}

template <typename S, typename M> constexpr std::string_view name_of(const Field<S, M>& f) {
    return f.name;
}
constexpr std::string_view name_of(const Constant& c) {
    return c.name;
}
template <typename... F> constexpr std::string_view name_of(const Group<F...>& g) {
    return g.name;
}

template <typename S, typename Tuple> void write_map(Writer& w, const S& s, const Tuple& list);

template <typename S, typename M> void write_value(Writer& w, const S& s, const Field<S, M>& f) {
    Codec<M>::write(w, s.*(f.member), f.hint);
}
template <typename S> void write_value(Writer& w, const S&, const Constant& c) {
    w.str(c.value);
}
template <typename S, typename... F> void write_value(Writer& w, const S& s, const Group<F...>& g) {
    write_map(w, s, g.fields);
}

template <typename S, typename Tuple> void write_map(Writer& w, const S& s, const Tuple& list) {
    std::size_t n = 0;
    std::apply([&](const auto&... f) { ((n += present(f, s) ? 1 : 0), ...); }, list);
    w.map_header(n);
    std::apply(
        [&](const auto&... f) {
            auto one = [&](const auto& fld) {
                if (!present(fld, s))
                    return;
                w.str(name_of(fld));
                write_value(w, s, fld);
            };
            (one(f), ...);
        },
        list);
}

template <typename S, typename Tuple> base::Status read_map(Reader& r, S& s, const Tuple& list);

template <typename S, typename M> base::Status read_value(Reader& r, S& s, const Field<S, M>& f) {
    return Codec<M>::read(r, s.*(f.member));
}
template <typename S> base::Status read_value(Reader& r, S&, const Constant&) {
    return r.skip();
}
template <typename S, typename... F> base::Status read_value(Reader& r, S& s, const Group<F...>& g) {
    return read_map(r, s, g.fields);
}

/// True when no two fields of the list (or of a nested group's list) share a name: read_map's
/// fast path relies on it (a key matches at most one field).
template <typename Tuple> constexpr bool names_unique(const Tuple& list);
template <typename F> constexpr bool group_names_unique(const F&) {
    return true;
}
template <typename... G> constexpr bool group_names_unique(const Group<G...>& g) {
    return names_unique(g.fields);
}
template <typename Tuple> constexpr bool names_unique(const Tuple& list) {
    return std::apply(
        [](const auto&... f) {
            const std::string_view names[] = {name_of(f)..., {}};
            constexpr std::size_t n = sizeof...(f);
            for (std::size_t i = 0; i < n; ++i)
                for (std::size_t j = i + 1; j < n; ++j)
                    if (names[i] == names[j])
                        return false;
            return (group_names_unique(f) && ...);
        },
        list);
}

template <typename S, typename Tuple> base::Status read_map(Reader& r, S& s, const Tuple& list) {
    if (auto d = r.descend(); !d)
        return d;
    auto n = r.map_header();
    if (!n)
        return n.error();
    // Keys usually come in the list's order (every encoder writes them so): the field after the
    // last one matched is tried first, then the whole list. Field names are unique (checked at
    // compile time in read()), so the field found is the same either way.
    std::size_t expect = 0;
    for (std::size_t i = 0; i < *n; ++i) {
        auto key = r.str_view();
        if (!key)
            return key.error();
        bool matched = false;
        base::Status st = base::ok_status();
        auto one = [&](const auto& fld) {
            matched = true;
            r.enter(name_of(fld));
            auto nil = r.try_nil(); // nil is the zero value: keep the default
            if (!nil)
                st = nil.error();
            else if (!*nil)
                st = read_value(r, s, fld);
            r.leave();
        };
        std::apply(
            [&](const auto&... f) {
                std::size_t j = 0;
                auto at_expected = [&](const auto& fld) {
                    if (j++ == expect && name_of(fld) == *key)
                        one(fld);
                };
                (at_expected(f), ...);
                if (matched) {
                    ++expect;
                    return;
                }
                j = 0;
                auto first_named = [&](const auto& fld) {
                    ++j;
                    if (!matched && name_of(fld) == *key) {
                        one(fld);
                        expect = j;
                    }
                };
                (first_named(f), ...);
            },
            list);
        if (!matched)
            st = r.skip(); // unknown field, as go-msgpack
        if (!st)
            return st;
    }
    r.ascend();
    return base::ok_status();
}

} // namespace detail

/// Encodes a struct with a field list as a msgpack map.
template <HasFields S> void write(Writer& w, const S& s) {
    detail::write_map(w, s, msgpack_fields(static_cast<const S*>(nullptr)));
}
template <HasFields S> base::Bytes encode(const S& s, Dialect d) {
    base::Bytes out;
    Writer w(out, d);
    write(w, s);
    return out;
}
template <HasFields S> void encode_into(base::Bytes& out, const S& s, Dialect d) {
    Writer w(out, d);
    write(w, s);
}
/// Encoded length, without a buffer.
template <HasFields S> std::size_t encoded_size(const S& s, Dialect d) {
    Writer w(d);
    write(w, s);
    return w.size();
}
/// Decodes a struct with a field list (a map; nil = all zero).
template <HasFields S> base::Status read(Reader& r, S& s) {
    static_assert(detail::names_unique(msgpack_fields(static_cast<const S*>(nullptr))),
                  "two fields of one list share a name");
    return detail::read_map(r, s, msgpack_fields(static_cast<const S*>(nullptr)));
}
template <HasFields S> base::Result<S> decode(base::ByteView in, Limits limits = {}) {
    Reader r(in, limits);
    S s{};
    if (auto st = read(r, s); !st)
        return st.error();
    return s;
}

// ---------------------------------------------------------------- member type codecs

namespace detail {
/// Stores a reader result into `v` (converted), or returns its error.
template <typename X, typename T> base::Status store(base::Result<X> x, T& v) {
    if (!x)
        return x.error();
    v = static_cast<T>(std::move(*x));
    return base::ok_status();
}
} // namespace detail

template <> struct Codec<bool> {
    static void write(Writer& w, bool v, Hint) { w.boolean(v); }
    static base::Status read(Reader& r, bool& v) { return detail::store(r.boolean(), v); }
};

template <typename T> struct Codec<T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>>> {
    static void write(Writer& w, T v, Hint) {
        if constexpr (std::is_signed_v<T>)
            w.sint(v);
        else
            w.uint(v);
    }
    static base::Status read(Reader& r, T& v) {
        if constexpr (std::is_signed_v<T>)
            return detail::store(r.sint(std::numeric_limits<T>::min(), std::numeric_limits<T>::max()), v);
        else
            return detail::store(r.uint(std::numeric_limits<T>::max()), v);
    }
};

/// Enums are integers on the wire; a read checks 0 ..= msgpack_enum_max(T{}) (found by ADL).
template <typename T> struct Codec<T, std::enable_if_t<std::is_enum_v<T>>> {
    static void write(Writer& w, T v, Hint) { w.sint(static_cast<std::int64_t>(v)); }
    static base::Status read(Reader& r, T& v) {
        return detail::store(r.sint(0, static_cast<std::int64_t>(msgpack_enum_max(T{}))), v);
    }
};

template <> struct Codec<double> {
    static void write(Writer& w, double v, Hint) { w.f64(v); }
    static base::Status read(Reader& r, double& v) { return detail::store(r.f64(), v); }
};

template <> struct Codec<base::Duration> {
    static void write(Writer& w, base::Duration v, Hint) { w.sint(v.count()); }
    static base::Status read(Reader& r, base::Duration& v) { return detail::store(r.sint(), v); }
};

template <> struct Codec<std::string> {
    static void write(Writer& w, const std::string& v, Hint) { w.str(v); }
    static base::Status read(Reader& r, std::string& v) {
        auto x = r.str_view();
        if (!x)
            return x.error();
        v.assign(x->data(), x->size());
        return base::ok_status();
    }
};

template <> struct Codec<base::Bytes> {
    static void write(Writer& w, const base::Bytes& v, Hint h) {
        if (h & kNeverNil)
            w.bytes(v);
        else
            w.bytes_or_nil(v);
    }
    static base::Status read(Reader& r, base::Bytes& v) {
        auto x = r.str_view();
        if (!x)
            return x.error();
        v.assign(x->begin(), x->end());
        return base::ok_status();
    }
};

/// Views into the input, for decode-only structs that must not allocate (wire::AliveView).
template <> struct Codec<std::string_view> {
    static void write(Writer& w, std::string_view v, Hint) { w.str(v); }
    static base::Status read(Reader& r, std::string_view& v) {
        auto x = r.str_view();
        if (!x)
            return x.error();
        v = *x;
        return base::ok_status();
    }
};
template <> struct Codec<base::ByteView> {
    static base::Status read(Reader& r, base::ByteView& v) {
        auto x = r.str_view();
        if (!x)
            return x.error();
        v = base::ByteView(reinterpret_cast<const std::uint8_t*>(x->data()), x->size());
        return base::ok_status();
    }
};

/// Elements of containers: a nested []byte is never nil (go-msgpack writes each element).
inline Hint element_hint(Hint h) {
    return (h & kNeverNil) ? kNeverNil : kPlain;
}

template <typename T> struct Codec<std::optional<T>> {
    static void write(Writer& w, const std::optional<T>& v, Hint h) {
        if (v)
            Codec<T>::write(w, *v, h);
        else
            w.nil();
    }
    static base::Status read(Reader& r, std::optional<T>& v) {
        auto nil = r.try_nil();
        if (!nil)
            return nil.error();
        if (*nil) {
            v.reset();
            return base::ok_status();
        }
        v.emplace();
        return Codec<T>::read(r, *v);
    }
};

template <typename T> struct Codec<std::vector<T>> {
    static void write(Writer& w, const std::vector<T>& v, Hint h) {
        if (v.empty() && (h & kNilIfEmpty))
            return w.nil();
        w.array_header(v.size());
        for (const auto& e : v)
            Codec<T>::write(w, e, element_hint(h));
    }
    static base::Status read(Reader& r, std::vector<T>& v) {
        if (auto d = r.descend(); !d)
            return d;
        auto n = r.array_header();
        if (!n)
            return n.error();
        v.clear();
        v.reserve(*n); // bounded: array_header checked the count against the remaining bytes
        for (std::size_t i = 0; i < *n; ++i) {
            r.enter(i);
            v.emplace_back();
            auto st = Codec<T>::read(r, v.back());
            r.leave();
            if (!st)
                return st;
        }
        r.ascend();
        return base::ok_status();
    }
};

template <typename V> struct Codec<std::map<std::string, V>> {
    static void write(Writer& w, const std::map<std::string, V>& m, Hint h) {
        if (m.empty() && (h & kNilIfEmpty))
            return w.nil();
        w.map_header(m.size());
        for (const auto& [k, v] : m) {
            w.str(k);
            Codec<V>::write(w, v, kPlain);
        }
    }
    static base::Status read(Reader& r, std::map<std::string, V>& m) {
        if (auto d = r.descend(); !d)
            return d;
        auto n = r.map_header();
        if (!n)
            return n.error();
        m.clear();
        for (std::size_t i = 0; i < *n; ++i) {
            auto k = r.str();
            if (!k)
                return k.error();
            r.enter(std::string_view(*k));
            V v{};
            auto nil = r.try_nil();
            base::Status st = nil ? base::ok_status() : base::Status(nil.error());
            if (st && !*nil)
                st = Codec<V>::read(r, v);
            r.leave();
            if (!st)
                return st;
            m[std::move(*k)] = std::move(v);
        }
        r.ascend();
        return base::ok_status();
    }
};

template <HasFields S> struct Codec<S> {
    static void write(Writer& w, const S& s, Hint) { msgpack::write(w, s); }
    static base::Status read(Reader& r, S& s) { return msgpack::read(r, s); }
};

// ---------------------------------------------------------------- message families

/// Calls f(std::type_identity<T>{}) for the alternative T of Variant whose `T::kType` equals
/// `tag`; false when none does. Replaces hand-kept tag-to-type switches.
template <typename Variant, typename F, std::size_t I = 0> bool with_type(std::uint8_t tag, F&& f) {
    if constexpr (I == std::variant_size_v<Variant>) {
        return false;
    } else {
        using T = std::variant_alternative_t<I, Variant>;
        if (static_cast<std::uint8_t>(T::kType) == tag) {
            f(std::type_identity<T>{});
            return true;
        }
        return with_type<Variant, F, I + 1>(tag, std::forward<F>(f));
    }
}

/// The type byte of whichever alternative `v` holds.
template <typename Variant> auto type_of(const Variant& v) {
    return std::visit([](const auto& m) { return std::decay_t<decltype(m)>::kType; }, v);
}

} // namespace clusterd::codec::msgpack
