// The DNS message codec (see message.hpp).
#include "clusterd/mdns/message.hpp"

#include <map>

namespace clusterd::mdns {

namespace {

using base::make_error;

struct In {
    std::span<const std::uint8_t> b;
    std::size_t pos = 0;

    std::size_t left() const { return b.size() - pos; }
    bool u16(std::uint16_t& v) {
        if (left() < 2)
            return false;
        v = static_cast<std::uint16_t>((b[pos] << 8) | b[pos + 1]);
        pos += 2;
        return true;
    }
    bool u32(std::uint32_t& v) {
        if (left() < 4)
            return false;
        v = (std::uint32_t{b[pos]} << 24) | (std::uint32_t{b[pos + 1]} << 16) |
            (std::uint32_t{b[pos + 2]} << 8) | b[pos + 3];
        pos += 4;
        return true;
    }
};

base::Error truncated(const std::string& what) {
    return make_error("truncated", "mdns: " + what + " runs past the end of the message");
}
base::Error malformed(const std::string& what) {
    return make_error("malformed", "mdns: " + what);
}

// Reads a name at in.pos (advancing past it, not past the pointer targets).
base::Status read_name(In& in, Name& out, const std::string& what) {
    out.clear();
    std::size_t at = in.pos;
    std::size_t jumps = 0;
    std::size_t wire = 1; // the root octet
    bool jumped = false;
    // Every pointer must go strictly before the start of the label sequence it ends, so the
    // walk cannot loop; kMaxPointers bounds it further.
    std::size_t floor = in.pos;
    for (;;) {
        if (at >= in.b.size())
            return truncated(what + " name");
        const std::uint8_t len = in.b[at];
        if (len == 0) {
            if (!jumped)
                in.pos = at + 1;
            return base::ok_status();
        }
        const std::uint8_t kind = len & 0xC0;
        if (kind == 0xC0) {
            if (at + 1 >= in.b.size())
                return truncated(what + " name pointer");
            const std::size_t to = (std::size_t{len & 0x3Fu} << 8) | in.b[at + 1];
            if (!jumped)
                in.pos = at + 2;
            jumped = true;
            if (to >= floor)
                return malformed(what + " name: compression pointer to offset " + std::to_string(to) +
                                 " does not point backwards");
            if (++jumps > kMaxPointers)
                return malformed(what + " name: more than " + std::to_string(kMaxPointers) +
                                 " compression pointers");
            floor = to;
            at = to;
            continue;
        }
        if (kind != 0)
            return malformed(what + " name: unsupported label type 0x" +
                             std::string(1, "0123456789abcdef"[len >> 4]) + "0");
        if (at + 1 + len > in.b.size())
            return truncated(what + " name label");
        wire += 1 + len;
        if (wire > kMaxNameWire)
            return malformed(what + " name: longer than 255 octets");
        out.emplace_back(reinterpret_cast<const char*>(&in.b[at + 1]), len);
        at += 1 + len;
    }
}

base::Status read_question(In& in, Question& q, const std::string& what) {
    if (auto st = read_name(in, q.name, what); !st)
        return st;
    std::uint16_t cls = 0;
    if (!in.u16(q.type) || !in.u16(cls))
        return truncated(what);
    q.unicast_response = (cls & kClassTopBit) != 0;
    q.klass = cls & ~kClassTopBit;
    return base::ok_status();
}

base::Status read_record(In& in, Record& r, const std::string& what) {
    if (auto st = read_name(in, r.name, what); !st)
        return st;
    std::uint16_t cls = 0, rdlen = 0;
    if (!in.u16(r.type) || !in.u16(cls) || !in.u32(r.ttl) || !in.u16(rdlen))
        return truncated(what);
    r.cache_flush = (cls & kClassTopBit) != 0;
    r.klass = cls & ~kClassTopBit;
    if (rdlen > in.left())
        return truncated(what + " rdata (" + std::to_string(rdlen) + " bytes)");
    const std::size_t end = in.pos + rdlen;
    // Names inside rdata may point anywhere before them; the sub-reader sees the whole message
    // up to the end of this rdata.
    In sub{in.b.subspan(0, end), in.pos};
    switch (r.type) {
    case kTypeA:
    case kTypeAaaa: {
        const std::size_t n = r.type == kTypeA ? 4 : 16;
        if (rdlen != n)
            return malformed(what + ": " + (r.type == kTypeA ? "A" : "AAAA") + " rdata of " +
                             std::to_string(rdlen) + " bytes (want " + std::to_string(n) + ")");
        for (std::size_t i = 0; i < n; ++i)
            r.addr[i] = in.b[in.pos + i];
        break;
    }
    case kTypePtr:
        if (auto st = read_name(sub, r.target, what + " PTR"); !st)
            return st;
        if (sub.pos != end)
            return malformed(what + ": PTR rdata longer than its name");
        break;
    case kTypeSrv:
        if (!sub.u16(r.priority) || !sub.u16(r.weight) || !sub.u16(r.port))
            return truncated(what + " SRV rdata");
        if (auto st = read_name(sub, r.target, what + " SRV target"); !st)
            return st;
        if (sub.pos != end)
            return malformed(what + ": SRV rdata longer than its fields");
        break;
    case kTypeTxt:
        while (sub.pos < end) {
            const std::size_t len = in.b[sub.pos];
            if (sub.pos + 1 + len > end)
                return truncated(what + " TXT string");
            r.txt.emplace_back(reinterpret_cast<const char*>(&in.b[sub.pos + 1]), len);
            sub.pos += 1 + len;
        }
        break;
    default:
        r.rdata.assign(in.b.begin() + static_cast<std::ptrdiff_t>(in.pos),
                       in.b.begin() + static_cast<std::ptrdiff_t>(end));
        break;
    }
    in.pos = end;
    return base::ok_status();
}

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lower(const std::string& s) {
    std::string out(s);
    for (auto& c : out)
        c = lower(c);
    return out;
}

struct Out {
    base::Bytes b;
    std::map<std::string, std::size_t> suffixes; ///< lower-case "a.b.c." -> offset

    void u16(std::uint16_t v) {
        b.push_back(static_cast<std::uint8_t>(v >> 8));
        b.push_back(static_cast<std::uint8_t>(v));
    }
    void u32(std::uint32_t v) {
        u16(static_cast<std::uint16_t>(v >> 16));
        u16(static_cast<std::uint16_t>(v));
    }
    base::Status name(const Name& n) {
        std::size_t wire = 1;
        for (const auto& l : n) {
            if (l.empty() || l.size() > kMaxLabel)
                return malformed("cannot encode name " + name_text(n) +
                                 ": a label is empty or over 63 octets");
            wire += 1 + l.size();
        }
        if (wire > kMaxNameWire)
            return malformed("cannot encode name " + name_text(n) + ": longer than 255 octets");
        for (std::size_t i = 0; i < n.size(); ++i) {
            std::string key;
            for (std::size_t j = i; j < n.size(); ++j)
                key += lower(n[j]) + ".";
            if (auto it = suffixes.find(key); it != suffixes.end()) {
                u16(static_cast<std::uint16_t>(0xC000 | it->second));
                return base::ok_status();
            }
            if (b.size() < 0x3FFF)
                suffixes.emplace(key, b.size());
            b.push_back(static_cast<std::uint8_t>(n[i].size()));
            b.insert(b.end(), n[i].begin(), n[i].end());
        }
        b.push_back(0);
        return base::ok_status();
    }
    base::Status record(const Record& r) {
        if (auto st = name(r.name); !st)
            return st;
        u16(r.type);
        u16(static_cast<std::uint16_t>(r.klass | (r.cache_flush ? kClassTopBit : 0)));
        u32(r.ttl);
        const std::size_t len_at = b.size();
        u16(0);
        switch (r.type) {
        case kTypeA:
            b.insert(b.end(), r.addr.begin(), r.addr.begin() + 4);
            break;
        case kTypeAaaa:
            b.insert(b.end(), r.addr.begin(), r.addr.end());
            break;
        case kTypePtr:
            if (auto st = name(r.target); !st)
                return st;
            break;
        case kTypeSrv:
            u16(r.priority);
            u16(r.weight);
            u16(r.port);
            if (auto st = name(r.target); !st)
                return st;
            break;
        case kTypeTxt:
            for (const auto& s : r.txt) {
                if (s.size() > 255)
                    return malformed("cannot encode a TXT string over 255 octets");
                b.push_back(static_cast<std::uint8_t>(s.size()));
                b.insert(b.end(), s.begin(), s.end());
            }
            if (r.txt.empty())
                b.push_back(0); // RFC 6763 §6.1: an empty TXT record holds one empty string
            break;
        default:
            b.insert(b.end(), r.rdata.begin(), r.rdata.end());
            break;
        }
        const std::size_t len = b.size() - len_at - 2;
        if (len > 0xFFFF)
            return malformed("cannot encode rdata over 65535 bytes");
        b[len_at] = static_cast<std::uint8_t>(len >> 8);
        b[len_at + 1] = static_cast<std::uint8_t>(len);
        return base::ok_status();
    }
};

} // namespace

base::Result<Message> decode(std::span<const std::uint8_t> bytes) {
    if (bytes.size() > kMaxMessage)
        return make_error("too_large", "mdns: message of " + std::to_string(bytes.size()) +
                                           " bytes (the limit is " + std::to_string(kMaxMessage) + ")");
    In in{bytes, 0};
    Message m;
    std::uint16_t counts[4] = {};
    if (!in.u16(m.id) || !in.u16(m.flags) || !in.u16(counts[0]) || !in.u16(counts[1]) || !in.u16(counts[2]) ||
        !in.u16(counts[3]))
        return truncated("header");
    const std::size_t total = std::size_t{counts[0]} + counts[1] + counts[2] + counts[3];
    if (total > kMaxRecords)
        return make_error("too_large", "mdns: " + std::to_string(total) +
                                           " questions and records (the limit is " +
                                           std::to_string(kMaxRecords) + ")");
    // The smallest question is 5 bytes, the smallest record 11: a count the bytes cannot hold
    // is refused before anything is allocated.
    if (std::size_t{counts[0]} * 5 + (total - counts[0]) * 11 > in.left())
        return truncated("the counted questions and records");
    m.questions.resize(counts[0]);
    for (std::size_t i = 0; i < m.questions.size(); ++i)
        if (auto st = read_question(in, m.questions[i], "question " + std::to_string(i)); !st)
            return st.error();
    std::vector<Record>* sections[3] = {&m.answers, &m.authorities, &m.additionals};
    const char* names[3] = {"answer ", "authority ", "additional "};
    for (int s = 0; s < 3; ++s) {
        sections[s]->resize(counts[s + 1]);
        for (std::size_t i = 0; i < sections[s]->size(); ++i)
            if (auto st = read_record(in, (*sections[s])[i], names[s] + std::to_string(i)); !st)
                return st.error();
    }
    // Trailing bytes after the counted sections are ignored, as most resolvers do.
    return m;
}

base::Result<base::Bytes> encode(const Message& m) {
    Out out;
    out.u16(m.id);
    out.u16(m.flags);
    const std::size_t total =
        m.questions.size() + m.answers.size() + m.authorities.size() + m.additionals.size();
    if (total > kMaxRecords)
        return malformed("cannot encode more than " + std::to_string(kMaxRecords) + " questions and records");
    out.u16(static_cast<std::uint16_t>(m.questions.size()));
    out.u16(static_cast<std::uint16_t>(m.answers.size()));
    out.u16(static_cast<std::uint16_t>(m.authorities.size()));
    out.u16(static_cast<std::uint16_t>(m.additionals.size()));
    for (const auto& q : m.questions) {
        if (auto st = out.name(q.name); !st)
            return st.error();
        out.u16(q.type);
        out.u16(static_cast<std::uint16_t>(q.klass | (q.unicast_response ? kClassTopBit : 0)));
    }
    for (const auto* sec : {&m.answers, &m.authorities, &m.additionals})
        for (const auto& r : *sec)
            if (auto st = out.record(r); !st)
                return st.error();
    if (out.b.size() > kMaxMessage)
        return malformed("cannot encode a message over " + std::to_string(kMaxMessage) + " bytes");
    return std::move(out.b);
}

Name name_from_text(std::string_view text) {
    Name out;
    std::size_t start = 0;
    while (start < text.size()) {
        auto dot = text.find('.', start);
        if (dot == std::string_view::npos)
            dot = text.size();
        out.emplace_back(text.substr(start, dot - start));
        start = dot + 1;
    }
    return out;
}

std::string name_text(const Name& n) {
    std::string out;
    for (const auto& l : n)
        out += l + ".";
    return out.empty() ? "." : out;
}

bool same_name(const Name& a, const Name& b) {
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i].size() != b[i].size())
            return false;
        for (std::size_t j = 0; j < a[i].size(); ++j)
            if (lower(a[i][j]) != lower(b[i][j]))
                return false;
    }
    return true;
}

bool ends_with(const Name& n, const Name& suffix) {
    if (suffix.size() > n.size())
        return false;
    return same_name(Name(n.end() - static_cast<std::ptrdiff_t>(suffix.size()), n.end()), suffix);
}

} // namespace clusterd::mdns
