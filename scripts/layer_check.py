#!/usr/bin/env python3
"""Layer check: every module stays inside its row of docs/architecture.md.

Reads the ```layers block of docs/architecture.md (the machine-readable form of the "Modules"
table) and checks, for every module folder src/<m>/ and include/clusterd/<m>/:

  * each `#include "clusterd/<other>/..."` (and each quoted include that resolves into another
    module's folder) names a module the row allows;
  * each `#include <...>` is a standard header, or belongs to a header group the row lists
    (asio, msgpack-cxx, os, files, ...); a header in no group and not standard fails too, so a
    new library has to be entered in the block before any module can use it;
  * each CMake link item of a module target (clusterd_module PUBLIC_DEPS/PRIVATE_DEPS,
    target_link_libraries, in src/<m>/CMakeLists.txt) is a module or a group the row allows;
  * the rule-1 ("pure") modules use none of the block's forbidden tokens (clock reads, OS
    randomness, stdio/iostream logging, ...) outside comments and string literals.

Prints one line per violation (file:line: module: what it reached) and exits 1, or prints a
one-line summary and exits 0. Exit 2 when the block itself is missing or malformed.
Python 3 standard library only.

  scripts/layer_check.py [--root DIR] [--doc docs/architecture.md]
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import re
import sys
from dataclasses import dataclass, field

# C++20 (and the C library) standard headers; a header listed in a group of the layers block
# belongs to that group instead (e.g. <thread> to "threads", <fstream> to "files").
STD_HEADERS = set("""
algorithm any array atomic barrier bit bitset cassert ccomplex cctype cerrno cfenv cfloat
charconv chrono cinttypes ciso646 climits clocale cmath codecvt compare complex concepts
condition_variable coroutine csetjmp csignal cstdalign cstdarg cstdbool cstddef cstdint cstdio
cstdlib cstring ctgmath ctime cuchar cwchar cwctype deque exception execution expected
filesystem format forward_list fstream functional future initializer_list iomanip ios iosfwd
iostream istream iterator latch limits list locale map memory memory_resource mutex new numbers
numeric optional ostream print queue random ranges ratio regex scoped_allocator semaphore set
shared_mutex source_location span spanstream sstream stack stacktrace stdexcept stop_token
streambuf string string_view strstream syncstream system_error thread tuple type_traits
typeindex typeinfo unordered_map unordered_set utility valarray variant vector version
assert.h complex.h ctype.h errno.h fenv.h float.h inttypes.h iso646.h limits.h locale.h math.h
setjmp.h signal.h stdalign.h stdarg.h stdbool.h stddef.h stdint.h stdio.h stdlib.h string.h
tgmath.h time.h uchar.h wchar.h wctype.h
""".split())

SOURCE_EXTS = (".hpp", ".h", ".cpp", ".cc", ".cxx", ".hh", ".ipp", ".inl", ".tpp")
INCLUDE_RE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*([<"])([^>"]+)[>"]', re.M)


class BlockError(Exception):
    pass


@dataclass
class Row:
    name: str
    modules: set[str]
    groups: set[str]
    private: set[str]         # groups only src/ files may include and only PRIVATE links name
    pure: bool
    globs: list[str]          # empty: the whole src/<name>/ and include/clusterd/<name>/
    line: int


@dataclass
class Group:
    name: str
    headers: list[str]        # patterns without <>; a trailing * is a prefix match
    targets: set[str]         # CMake link items


@dataclass
class Layers:
    rows: dict[str, Row] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    pure_forbids: set[str] = field(default_factory=set)
    pure_tokens: list[str] = field(default_factory=list)

    def row_for(self, rel: str) -> Row | None:
        """rel: a path under src/ or include/clusterd/, e.g. "rpc/server.cpp"."""
        folder = rel.split("/", 1)[0]
        whole = None
        for row in self.rows.values():
            if row.globs:
                if any(fnmatch.fnmatchcase(rel, g) for g in row.globs):
                    return row
            elif row.name == folder:
                whole = row
        return whole

    def group_of_header(self, header: str) -> str | None:
        best, best_len = None, -1
        for g in self.groups.values():
            for pat in g.headers:
                if pat.endswith("*"):
                    ok = header.startswith(pat[:-1])
                    n = len(pat) - 1
                else:
                    ok = header == pat
                    n = len(pat) + 1000  # an exact name beats any prefix
                if ok and n > best_len:
                    best, best_len = g.name, n
        return best

    def group_of_target(self, item: str) -> str | None:
        for g in self.groups.values():
            if item in g.targets:
                return g.name
        return None


def parse_layers(doc_path: str) -> Layers:
    try:
        with open(doc_path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise BlockError(f"{doc_path}: {e.strerror}")
    m = re.search(r"^```layers[ \t]*\n(.*?)^```", text, re.S | re.M)
    if not m:
        raise BlockError(f"{doc_path}: no ```layers block")
    first_line = text.count("\n", 0, m.start(1)) + 1
    layers = Layers()

    def words(s: str) -> list[str]:
        w = s.split()
        return [] if w == ["-"] else w

    for i, raw in enumerate(m.group(1).splitlines()):
        lineno = first_line + i
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        cols = [c.strip() for c in line.split("|")]
        head = cols[0].split()
        where = f"{doc_path}:{lineno}"
        if head[0] == "group":
            if len(head) != 2 or len(cols) != 2:
                raise BlockError(f"{where}: expected 'group NAME | <header> ... TARGET ...'")
            headers, targets = [], set()
            for item in cols[1].split():
                if item.startswith("<") and item.endswith(">"):
                    headers.append(item[1:-1])
                else:
                    targets.add(item)
            layers.groups[head[1]] = Group(head[1], headers, targets)
        elif head[0] == "pure-forbids" and len(head) == 1 and len(cols) == 2:
            layers.pure_forbids = set(words(cols[1]))
        elif head[0] == "pure-tokens" and len(head) == 1 and len(cols) == 2:
            layers.pure_tokens = words(cols[1])
        else:
            if len(head) != 1 or len(cols) not in (3, 4):
                raise BlockError(f"{where}: expected 'ROW | modules | groups [| files]'")
            libs = words(cols[2])
            pure = "pure" in libs
            groups = {g.removesuffix("(private)") for g in libs if g != "pure"}
            private = {g.removesuffix("(private)") for g in libs if g.endswith("(private)")}
            row = Row(head[0], set(words(cols[1])), groups, private, pure,
                      words(cols[3]) if len(cols) == 4 else [], lineno)
            if row.name in layers.rows:
                raise BlockError(f"{where}: row {row.name} twice")
            layers.rows[row.name] = row

    if not layers.rows:
        raise BlockError(f"{doc_path}: the layers block has no rows")
    for row in layers.rows.values():
        where = f"{doc_path}:{row.line}"
        for mod in row.modules:
            if mod not in layers.rows:
                raise BlockError(f"{where}: row {row.name} names unknown module {mod}")
        for g in row.groups:
            if g not in layers.groups:
                raise BlockError(f"{where}: row {row.name} names unknown group {g}")
        if row.pure and row.groups & layers.pure_forbids:
            bad = " ".join(sorted(row.groups & layers.pure_forbids))
            raise BlockError(f"{where}: pure row {row.name} lists forbidden group(s) {bad}")
    return layers


# ---------------------------------------------------------------------------------------------
# C++ scanning

def strip_code(text: str, keep_strings: bool = False) -> str:
    """Comments (and, unless keep_strings, string/char literal contents) replaced by spaces;
    newlines kept so line numbers stay right."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        if c == "/" and nxt == "/":
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c == "/" and nxt == "*":
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "R" and nxt == '"' and re.search(r'(?:^|[^\w])(?:u8|u|U|L)?$', text[max(0, i - 3):i]):
            mm = re.match(r'R"([^()\\ \n]{0,16})\(', text[i:])
            if not mm:
                out.append(c)
                i += 1
                continue
            end = text.find(")" + mm.group(1) + '"', i + mm.end())
            j = n if end < 0 else end + len(mm.group(1)) + 2
            body = text[i:j]
            out.append(body if keep_strings else re.sub(r"[^\n]", " ", body))
            i = j
        elif c == '"' or (c == "'" and not (i > 0 and text[i - 1].isalnum())):  # 1'000 is a number
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            body = text[i:j]
            if not keep_strings:
                body = c + re.sub(r"[^\n]", " ", body[1:-1]) + body[-1] if len(body) >= 2 else body
            out.append(body)
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


STD_QUALIFIERS = {"", "std", "chrono", "this_thread", "filesystem", "ranges"}


def token_regex(token: str) -> re.Pattern:
    body = r"\s*::\s*".join(re.escape(p) for p in token.split("::"))
    return re.compile(r"(?<!\w)" + body + r"(?!\w)")


def token_hits(code: str, rx: re.Pattern):
    """Positions of a whole identifier (or a::b sequence) that is not a member (x.time, p->rand)
    and not a name in a clusterd namespace (foo::rand); std::, std::chrono:: and :: match."""
    for mm in rx.finditer(code):
        before = code[:mm.start()].rstrip()
        if before.endswith(".") or before.endswith("->"):
            continue
        if before.endswith("::"):
            qual = re.search(r"(\w*)\s*$", before[:-2]).group(1)
            if qual not in STD_QUALIFIERS:
                continue
        yield mm.start()


# ---------------------------------------------------------------------------------------------
# CMake scanning

def cmake_commands(text: str):
    """Yields (command name lowercased, [(arg, line)], line) for every command invocation."""
    clean = re.sub(r"#[^\n]*", lambda mm: " " * len(mm.group(0)), text)
    for mm in re.finditer(r"(?m)^[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*\(", clean):
        name = mm.group(1).lower()
        i, depth, start = mm.end(), 1, mm.end()
        while i < len(clean) and depth:
            if clean[i] == "(":
                depth += 1
            elif clean[i] == ")":
                depth -= 1
            i += 1
        body = clean[start:i - 1]
        args = [(a.group(0).strip('"'), line_of(clean, start + a.start()))
                for a in re.finditer(r'"[^"]*"|[^\s()]+', body)]
        yield name, args, line_of(clean, mm.start(1))


# ---------------------------------------------------------------------------------------------

class Checker:
    def __init__(self, root: str, layers: Layers):
        self.root = root
        self.layers = layers
        self.violations: list[str] = []
        self.files = self.includes = self.links = 0
        self.rowless: set[str] = set()
        self.token_res = [(t, token_regex(t)) for t in layers.pure_tokens]

    def report(self, path: str, line: int, row: str, what: str) -> None:
        self.violations.append(f"{os.path.relpath(path, self.root)}:{line}: {row}: {what}")

    def allowed_modules(self, row: Row) -> str:
        return " ".join(sorted(row.modules)) or "no other module"

    def run(self) -> int:
        for base in ("src", os.path.join("include", "clusterd")):
            top = os.path.join(self.root, base)
            if not os.path.isdir(top):
                continue
            for folder in sorted(os.listdir(top)):
                fdir = os.path.join(top, folder)
                if not os.path.isdir(fdir):
                    continue
                for dirpath, dirnames, filenames in os.walk(fdir):
                    dirnames.sort()
                    for fn in sorted(filenames):
                        path = os.path.join(dirpath, fn)
                        rel = os.path.relpath(path, top).replace(os.sep, "/")
                        if fn.endswith(SOURCE_EXTS):
                            self.check_source(path, rel)
                        elif base == "src" and (fn == "CMakeLists.txt" or fn.endswith(".cmake")):
                            self.check_cmake(path, rel)
        return 1 if self.violations else 0

    def check_source(self, path: str, rel: str) -> None:
        row = self.layers.row_for(rel)
        self.files += 1
        if row is None:
            folder = path[:len(path) - len(rel)] + rel.split("/", 1)[0]
            if folder not in self.rowless:  # one line per folder
                self.rowless.add(folder)
                self.report(path, 1, rel.split("/", 1)[0],
                            "module has no row in the layers block of docs/architecture.md")
            return
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        code = strip_code(text, keep_strings=True)  # include names are strings
        for mm in INCLUDE_RE.finditer(code):
            self.includes += 1
            line = line_of(code, mm.start())
            kind, name = mm.group(1), mm.group(2).strip()
            if kind == '"':
                self.check_quoted(path, line, row, name)
            else:
                self.check_angle(path, line, row, name)
        if row.pure and self.token_res:
            bare = strip_code(text)
            for token, rx in self.token_res:
                for pos in token_hits(bare, rx):
                    self.report(path, line_of(bare, pos), row.name,
                                f"uses {token} (rule 1: pure modules take time, randomness and IO from outside)")

    def check_quoted(self, path: str, line: int, row: Row, name: str) -> None:
        if name.startswith("clusterd/"):
            rel = name[len("clusterd/"):]
        else:
            # A local include; only a path that climbs into another module's folder matters.
            target = os.path.normpath(os.path.join(os.path.dirname(path), name))
            rel = None
            for base in ("src", os.path.join("include", "clusterd")):
                top = os.path.join(self.root, base) + os.sep
                if target.startswith(top):
                    rel = target[len(top):].replace(os.sep, "/")
            if rel is None or "/" not in rel:
                return
        other = self.layers.row_for(rel)
        if other is None:
            self.report(path, line, row.name, f'includes "{name}": module {rel.split("/", 1)[0]} '
                        "has no row in the layers block")
        elif other is not row and other.name not in row.modules:
            self.report(path, line, row.name, f'includes "{name}" (module {other.name}; '
                        f"{row.name} may use {self.allowed_modules(row)})")

    def check_angle(self, path: str, line: int, row: Row, name: str) -> None:
        if name.startswith("clusterd/"):
            self.check_quoted(path, line, row, name)
            return
        group = self.layers.group_of_header(name)
        if group is None:
            if name not in STD_HEADERS:
                self.report(path, line, row.name, f"includes <{name}>: not a standard header and "
                            "in no group of the layers block (add the library there first)")
            return
        if group not in row.groups:
            extra = " (rule 1)" if row.pure and group in self.layers.pure_forbids else ""
            self.report(path, line, row.name,
                        f"includes <{name}> (group {group}; {row.name} may use "
                        f"{' '.join(sorted(row.groups)) or 'standard headers only'}){extra}")
        elif group in row.private and not self.in_src(path):
            self.report(path, line, row.name, f"includes <{name}> in a public header "
                        f"(group {group} is private to {row.name}: src/ files only)")

    def in_src(self, path: str) -> bool:
        return path.startswith(os.path.join(self.root, "src") + os.sep)

    def check_cmake(self, path: str, rel: str) -> None:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        for cmd, args, line in cmake_commands(text):
            if cmd == "clusterd_module" and args:
                target = "clusterd_" + args[0][0]
                items = []
                mode = None
                for a, al in args[1:]:
                    if a in ("SOURCES", "PUBLIC_DEPS", "PRIVATE_DEPS"):
                        mode = a
                    elif mode in ("PUBLIC_DEPS", "PRIVATE_DEPS"):
                        items.append((a, al, mode == "PRIVATE_DEPS"))
                self.check_links(path, line, target, items)
            elif cmd == "add_library" and args:
                self.check_links(path, line, args[0][0], [])  # a module target needs a row
            elif cmd == "target_link_libraries" and args:
                items, private = [], False
                for a, al in args[1:]:
                    if a in ("PUBLIC", "PRIVATE", "INTERFACE", "LINK_PUBLIC", "LINK_PRIVATE"):
                        private = a in ("PRIVATE", "LINK_PRIVATE")
                    else:
                        items.append((a, al, private))
                self.check_links(path, line, args[0][0], items)

    def check_links(self, path: str, line: int, target: str, items) -> None:
        if "$" in target or not target.startswith("clusterd_"):
            return
        name = target[len("clusterd_"):]
        if self.layers.group_of_target(target) is not None:
            return  # a wrapper of a third-party library (cmake/ClusterdDeps.cmake), not a module
        row = self.layers.rows.get(name)
        if row is None:
            self.report(path, line, name, f"CMake target {target} has no row in the layers block")
            return
        for item, il, private in items:
            if "$" in item or item.startswith("-"):
                continue  # variables, generator expressions, link flags
            self.links += 1
            group = self.layers.group_of_target(item)
            if group is not None:
                if group not in row.groups:
                    self.report(path, il, row.name, f"links {item} (group {group}; {row.name} may use "
                                f"{' '.join(sorted(row.groups)) or 'no library'})")
                elif group in row.private and not private:
                    self.report(path, il, row.name, f"links {item} publicly (group {group} is private "
                                f"to {row.name}: PRIVATE_DEPS or PRIVATE)")
            elif item.startswith("clusterd_"):
                other = item[len("clusterd_"):]
                if other not in self.layers.rows:
                    self.report(path, il, row.name, f"links {item}: no row in the layers block")
                elif other != row.name and other not in row.modules:
                    self.report(path, il, row.name, f"links {item} (module {other}; {row.name} may use "
                                f"{self.allowed_modules(row)})")
            else:
                self.report(path, il, row.name, f"links {item}: in no group of the layers block")


def main(argv: list[str] | None = None) -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=os.path.dirname(here), help="source tree (default: this repository)")
    ap.add_argument("--doc", default=None, help="architecture doc (default: ROOT/docs/architecture.md)")
    args = ap.parse_args(argv)
    root = os.path.abspath(args.root)
    doc = args.doc or os.path.join(root, "docs", "architecture.md")
    try:
        layers = parse_layers(doc)
    except BlockError as e:
        print(f"layer_check: {e}", file=sys.stderr)
        return 2
    checker = Checker(root, layers)
    rc = checker.run()
    for v in checker.violations:
        print(v)
    if rc:
        shown = os.path.relpath(doc, root) if doc.startswith(root + os.sep) else doc
        print(f"layer_check: {len(checker.violations)} violation(s) of the layers block in {shown}",
              file=sys.stderr)
    else:
        print(f"layer_check: OK: {len(layers.rows)} rows, {checker.files} files, "
              f"{checker.includes} includes, {checker.links} link items within their rows")
    return rc


if __name__ == "__main__":
    sys.exit(main())
