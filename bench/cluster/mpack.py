"""Minimal MessagePack encoder/decoder for the Serf IPC benchmark client (stdlib only).

Owns: encoding the few request shapes the harness sends (maps of str/int/bool/bytes) and a
streaming decoder that raises Incomplete when the buffer ends mid-object, so a caller can read
more bytes from the socket and retry. Strings come back as str when they are valid UTF-8 and as
bytes otherwise (Serf sends net.IP as a raw string).
"""
import struct


class Incomplete(Exception):
    """The buffer ends before the object does."""


class Malformed(Exception):
    """The bytes are not MessagePack the decoder understands."""


def _pack_uint(n, out):
    if n < 0x80:
        out.append(n)
    elif n < 0x100:
        out += b"\xcc" + struct.pack(">B", n)
    elif n < 0x10000:
        out += b"\xcd" + struct.pack(">H", n)
    elif n < 0x100000000:
        out += b"\xce" + struct.pack(">I", n)
    else:
        out += b"\xcf" + struct.pack(">Q", n)


def _pack_str(b, out):
    n = len(b)
    if n < 32:
        out.append(0xA0 | n)
    elif n < 0x100:
        out += b"\xd9" + struct.pack(">B", n)
    elif n < 0x10000:
        out += b"\xda" + struct.pack(">H", n)
    else:
        out += b"\xdb" + struct.pack(">I", n)
    out += b


def _pack(obj, out):
    if obj is None:
        out.append(0xC0)
    elif obj is True:
        out.append(0xC3)
    elif obj is False:
        out.append(0xC2)
    elif isinstance(obj, int):
        if obj >= 0:
            _pack_uint(obj, out)
        elif obj >= -32:
            out.append(obj & 0xFF)
        else:
            out += b"\xd3" + struct.pack(">q", obj)
    elif isinstance(obj, str):
        _pack_str(obj.encode(), out)
    elif isinstance(obj, (bytes, bytearray)):
        n = len(obj)
        if n < 0x100:
            out += b"\xc4" + struct.pack(">B", n)
        elif n < 0x10000:
            out += b"\xc5" + struct.pack(">H", n)
        else:
            out += b"\xc6" + struct.pack(">I", n)
        out += obj
    elif isinstance(obj, (list, tuple)):
        n = len(obj)
        if n < 16:
            out.append(0x90 | n)
        else:
            out += b"\xdc" + struct.pack(">H", n)
        for item in obj:
            _pack(item, out)
    elif isinstance(obj, dict):
        n = len(obj)
        if n < 16:
            out.append(0x80 | n)
        else:
            out += b"\xde" + struct.pack(">H", n)
        for k, v in obj.items():
            _pack(k, out)
            _pack(v, out)
    else:
        raise TypeError("cannot pack %r" % type(obj))


def packb(obj):
    out = bytearray()
    _pack(obj, out)
    return bytes(out)


_FIXED = {0xCC: (">B", 1), 0xCD: (">H", 2), 0xCE: (">I", 4), 0xCF: (">Q", 8),
          0xD0: (">b", 1), 0xD1: (">h", 2), 0xD2: (">i", 4), 0xD3: (">q", 8),
          0xCA: (">f", 4), 0xCB: (">d", 8)}


def _text(raw):
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return bytes(raw)


def unpack_from(buf, pos=0):
    """Decodes one object from buf[pos:]; returns (obj, new_pos). Raises Incomplete/Malformed."""
    end = len(buf)
    if pos >= end:
        raise Incomplete()
    b = buf[pos]
    pos += 1
    if b < 0x80:
        return b, pos
    if b >= 0xE0:
        return b - 0x100, pos
    if 0xA0 <= b <= 0xBF:
        n = b & 0x1F
        if pos + n > end:
            raise Incomplete()
        return _text(buf[pos:pos + n]), pos + n
    if 0x80 <= b <= 0x8F:
        return _map(buf, pos, b & 0x0F)
    if 0x90 <= b <= 0x9F:
        return _array(buf, pos, b & 0x0F)
    if b == 0xC0:
        return None, pos
    if b == 0xC2:
        return False, pos
    if b == 0xC3:
        return True, pos
    if b in _FIXED:
        fmt, n = _FIXED[b]
        if pos + n > end:
            raise Incomplete()
        return struct.unpack_from(fmt, buf, pos)[0], pos + n
    if b in (0xD9, 0xDA, 0xDB, 0xC4, 0xC5, 0xC6):
        width = {0xD9: 1, 0xDA: 2, 0xDB: 4, 0xC4: 1, 0xC5: 2, 0xC6: 4}[b]
        if pos + width > end:
            raise Incomplete()
        n = int.from_bytes(buf[pos:pos + width], "big")
        pos += width
        if pos + n > end:
            raise Incomplete()
        raw = bytes(buf[pos:pos + n])
        return (_text(raw) if b >= 0xD9 else raw), pos + n
    if b in (0xDC, 0xDD, 0xDE, 0xDF):
        width = 2 if b in (0xDC, 0xDE) else 4
        if pos + width > end:
            raise Incomplete()
        n = int.from_bytes(buf[pos:pos + width], "big")
        pos += width
        return (_array if b in (0xDC, 0xDD) else _map)(buf, pos, n)
    if b in (0xD4, 0xD5, 0xD6, 0xD7, 0xD8):  # fixext: type byte + 1..16 bytes
        n = 1 << (b - 0xD4)
        if pos + 1 + n > end:
            raise Incomplete()
        return bytes(buf[pos + 1:pos + 1 + n]), pos + 1 + n
    if b in (0xC7, 0xC8, 0xC9):
        width = {0xC7: 1, 0xC8: 2, 0xC9: 4}[b]
        if pos + width + 1 > end:
            raise Incomplete()
        n = int.from_bytes(buf[pos:pos + width], "big")
        pos += width + 1
        if pos + n > end:
            raise Incomplete()
        return bytes(buf[pos:pos + n]), pos + n
    raise Malformed("unknown msgpack type byte 0x%02x" % b)


def _array(buf, pos, n):
    items = []
    for _ in range(n):
        item, pos = unpack_from(buf, pos)
        items.append(item)
    return items, pos


def _map(buf, pos, n):
    d = {}
    for _ in range(n):
        k, pos = unpack_from(buf, pos)
        v, pos = unpack_from(buf, pos)
        if isinstance(k, (bytes, bytearray)):
            k = bytes(k)
        d[k] = v
    return d, pos
