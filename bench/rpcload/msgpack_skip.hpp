// Minimal, dependency-free msgpack helpers for the rpcload benchmark client.
//
// skip_object() finds where one complete msgpack object ends in a byte buffer without
// decoding it (Serf IPC answers are concatenated msgpack objects with no length prefix).
// It is bounds-checked, iterative (no recursion, so deep nesting cannot overflow the
// stack) and distinguishes "need more bytes" from "never valid" (0xc1).
//
// Reader decodes just enough of a response header / body to check Seq, Error and count the
// members array.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rpcload {

enum class SkipStatus { ok, incomplete, malformed };

struct SkipResult {
  SkipStatus status;
  std::size_t end;  // offset just past the object (valid when status == ok)
};

namespace detail {

inline std::uint64_t load_be(const std::uint8_t* p, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

}  // namespace detail

// Skips one complete object starting at data[pos], len = total bytes available.
inline SkipResult skip_object(const std::uint8_t* data, std::size_t len, std::size_t pos) {
  std::uint64_t pending = 1;  // objects still to skip (containers add their children)
  while (pending > 0) {
    if (pos >= len) return {SkipStatus::incomplete, 0};
    // Every pending object needs at least one byte: more pending than bytes left means the
    // object cannot be complete yet.
    if (pending > len - pos) return {SkipStatus::incomplete, 0};
    const std::uint8_t t = data[pos];
    --pending;
    std::size_t head = 1;       // type byte + fixed-size fields
    std::uint64_t payload = 0;  // variable-size payload after the head
    if (t <= 0x7f || t >= 0xe0) {  // positive / negative fixint
    } else if (t <= 0x8f) {        // fixmap
      pending += 2u * (t & 0x0fu);
    } else if (t <= 0x9f) {  // fixarray
      pending += t & 0x0fu;
    } else if (t <= 0xbf) {  // fixstr
      payload = t & 0x1fu;
    } else {
      // Types whose length / count is a big-endian field of `lenbytes` after the type byte.
      std::size_t lenbytes = 0;
      int kind = 0;  // 0 = fixed size, 1 = payload bytes, 2 = ext (+1 type byte), 3 = array, 4 = map
      switch (t) {
        case 0xc0: case 0xc2: case 0xc3: break;                     // nil, false, true
        case 0xc1: return {SkipStatus::malformed, 0};               // never used
        case 0xc4: lenbytes = 1; kind = 1; break;                   // bin8
        case 0xc5: lenbytes = 2; kind = 1; break;                   // bin16
        case 0xc6: lenbytes = 4; kind = 1; break;                   // bin32
        case 0xc7: lenbytes = 1; kind = 2; break;                   // ext8
        case 0xc8: lenbytes = 2; kind = 2; break;                   // ext16
        case 0xc9: lenbytes = 4; kind = 2; break;                   // ext32
        case 0xca: head = 5; break;                                 // float32
        case 0xcb: head = 9; break;                                 // float64
        case 0xcc: case 0xd0: head = 2; break;                      // (u)int8
        case 0xcd: case 0xd1: head = 3; break;                      // (u)int16
        case 0xce: case 0xd2: head = 5; break;                      // (u)int32
        case 0xcf: case 0xd3: head = 9; break;                      // (u)int64
        case 0xd4: head = 3; break;                                 // fixext1
        case 0xd5: head = 4; break;                                 // fixext2
        case 0xd6: head = 6; break;                                 // fixext4
        case 0xd7: head = 10; break;                                // fixext8
        case 0xd8: head = 18; break;                                // fixext16
        case 0xd9: lenbytes = 1; kind = 1; break;                   // str8
        case 0xda: lenbytes = 2; kind = 1; break;                   // str16
        case 0xdb: lenbytes = 4; kind = 1; break;                   // str32
        case 0xdc: lenbytes = 2; kind = 3; break;                   // array16
        case 0xdd: lenbytes = 4; kind = 3; break;                   // array32
        case 0xde: lenbytes = 2; kind = 4; break;                   // map16
        case 0xdf: lenbytes = 4; kind = 4; break;                   // map32
        default: return {SkipStatus::malformed, 0};                 // unreachable
      }
      if (kind != 0) {
        if (len - pos < 1 + lenbytes) return {SkipStatus::incomplete, 0};
        const std::uint64_t n = detail::load_be(data + pos + 1, lenbytes);
        head = 1 + lenbytes;
        switch (kind) {
          case 1: payload = n; break;
          case 2: payload = n; head += 1; break;  // ext: type byte, then n data bytes
          case 3: pending += n; break;
          case 4: pending += 2 * n; break;
          default: break;
        }
      }
    }
    if (len - pos < head) return {SkipStatus::incomplete, 0};
    if (len - pos - head < payload) return {SkipStatus::incomplete, 0};
    pos += head + static_cast<std::size_t>(payload);
  }
  return {SkipStatus::ok, pos};
}

// Bounds-checked reader over one complete object (check with skip_object() first: every
// read fails cleanly on truncated or unexpected input anyway).
class Reader {
 public:
  Reader(const std::uint8_t* data, std::size_t len, std::size_t pos = 0)
      : data_(data), len_(len), pos_(pos) {}

  std::size_t pos() const { return pos_; }

  // Map header -> number of key/value pairs.
  bool read_map(std::uint64_t& n) { return read_container(0x80, 0xde, 0xdf, n); }
  // Array header -> number of elements.
  bool read_array(std::uint64_t& n) { return read_container(0x90, 0xdc, 0xdd, n); }

  bool read_str(std::string_view& s) {
    if (pos_ >= len_) return false;
    const std::uint8_t t = data_[pos_];
    std::size_t lb = 0;
    std::uint64_t n = 0;
    if (t >= 0xa0 && t <= 0xbf) {
      n = t & 0x1fu;
    } else if (t == 0xd9 || t == 0xda || t == 0xdb) {
      lb = t == 0xd9 ? 1 : t == 0xda ? 2 : 4;
      if (len_ - pos_ < 1 + lb) return false;
      n = detail::load_be(data_ + pos_ + 1, lb);
    } else {
      return false;
    }
    const std::size_t head = 1 + lb;
    if (len_ - pos_ < head || len_ - pos_ - head < n) return false;
    s = std::string_view(reinterpret_cast<const char*>(data_ + pos_ + head),
                         static_cast<std::size_t>(n));
    pos_ += head + static_cast<std::size_t>(n);
    return true;
  }

  // Any non-negative integer encoding -> value.
  bool read_uint(std::uint64_t& v) {
    if (pos_ >= len_) return false;
    const std::uint8_t t = data_[pos_];
    if (t <= 0x7f) {
      v = t;
      pos_ += 1;
      return true;
    }
    std::size_t n = 0;
    bool is_signed = false;
    switch (t) {
      case 0xcc: n = 1; break;
      case 0xcd: n = 2; break;
      case 0xce: n = 4; break;
      case 0xcf: n = 8; break;
      case 0xd0: n = 1; is_signed = true; break;
      case 0xd1: n = 2; is_signed = true; break;
      case 0xd2: n = 4; is_signed = true; break;
      case 0xd3: n = 8; is_signed = true; break;
      default: return false;
    }
    if (len_ - pos_ < 1 + n) return false;
    const std::uint64_t raw = detail::load_be(data_ + pos_ + 1, n);
    if (is_signed && (raw >> (8 * n - 1)) != 0) return false;  // negative
    v = raw;
    pos_ += 1 + n;
    return true;
  }

  bool is_nil() const { return pos_ < len_ && data_[pos_] == 0xc0; }

  bool skip() {
    const SkipResult r = skip_object(data_, len_, pos_);
    if (r.status != SkipStatus::ok) return false;
    pos_ = r.end;
    return true;
  }

 private:
  bool read_container(std::uint8_t fix, std::uint8_t t16, std::uint8_t t32, std::uint64_t& n) {
    if (pos_ >= len_) return false;
    const std::uint8_t t = data_[pos_];
    if ((t & 0xf0u) == fix) {
      n = t & 0x0fu;
      pos_ += 1;
      return true;
    }
    const std::size_t lb = t == t16 ? 2 : t == t32 ? 4 : 0;
    if (lb == 0 || len_ - pos_ < 1 + lb) return false;
    n = detail::load_be(data_ + pos_ + 1, lb);
    pos_ += 1 + lb;
    return true;
  }

  const std::uint8_t* data_;
  std::size_t len_;
  std::size_t pos_;
};

// Appends msgpack encodings (only what the client sends: small maps, strings, uints).
inline void put_map_header(std::string& out, std::size_t n) {
  // Requests only ever use fixmaps (<= 15 pairs).
  out.push_back(static_cast<char>(0x80u | (n & 0x0fu)));
}

inline void put_str(std::string& out, std::string_view s) {
  const std::size_t n = s.size();
  if (n <= 31) {
    out.push_back(static_cast<char>(0xa0u | n));
  } else if (n <= 0xff) {
    out.push_back(static_cast<char>(0xd9));
    out.push_back(static_cast<char>(n));
  } else if (n <= 0xffff) {
    out.push_back(static_cast<char>(0xda));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xff));
  } else {
    out.push_back(static_cast<char>(0xdb));
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((n >> shift) & 0xff));
  }
  out.append(s);
}

inline void put_uint(std::string& out, std::uint64_t v) {
  auto be = [&out](std::uint64_t x, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((x >> (8 * i)) & 0xff));
  };
  if (v <= 0x7f) {
    out.push_back(static_cast<char>(v));
  } else if (v <= 0xff) {
    out.push_back(static_cast<char>(0xcc));
    be(v, 1);
  } else if (v <= 0xffff) {
    out.push_back(static_cast<char>(0xcd));
    be(v, 2);
  } else if (v <= 0xffffffffu) {
    out.push_back(static_cast<char>(0xce));
    be(v, 4);
  } else {
    out.push_back(static_cast<char>(0xcf));
    be(v, 8);
  }
}

}  // namespace rpcload
