#!/usr/bin/env python3
"""The module graph of every crate of the workspace, from the sources.

    python3 scripts/modules.py            the map: one line per module (its first doc line)
    python3 scripts/modules.py --edges    every module and the modules it uses
    python3 scripts/modules.py --markdown the map for docs/architecture.md
    python3 scripts/modules.py --write    puts that map into docs/architecture.md
    python3 scripts/modules.py --check    fails when two modules use each other (directly or
                                          through others), or the map in
                                          docs/architecture.md is not the sources' own

A module "uses" another when its code (not its comments, not its `#[cfg(test)] mod tests`)
names it by a `crate::` or `super::` path. A module and its ancestors are not an edge: a
parent declares its children and re-exports what they define. Run by scripts/test.sh.
"""

import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRATES = [
    "shared/proto", "shared/core", "shared", "shared/zmq-vendored", "services/tracer",
    "services/generator", "services/monitor", "services/ctl", "preload",
]


def crate_name(crate):
    with open(os.path.join(ROOT, crate, "Cargo.toml")) as f:
        return re.search(r'^name\s*=\s*"([^"]+)"', f.read(), re.M).group(1)


def modules(crate):
    """{module path: file}, module path as `a::b` ('' is the crate root), for lib and bin."""
    src = os.path.join(ROOT, crate, "src")
    found = {}
    for dirpath, _, files in os.walk(src):
        for name in files:
            if not name.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, name), src)[:-3].split(os.sep)
            if rel[-1] == "mod":
                rel = rel[:-1]
            if rel in (["lib"], ["main"]):
                key = "" if rel == ["lib"] else "<main>"
            else:
                key = "::".join(rel)
            found[key] = os.path.join(dirpath, name)
    return found


def code_of(path):
    """The file without comments, string literals and its test module."""
    with open(path) as f:
        text = f.read()
    cut = re.search(r"^#\[cfg\(test\)\]\s*\nmod tests\b", text, re.M)
    if cut:
        text = text[: cut.start()]
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    return text


def paths_in(code):
    """Every `crate::...` and `super::...` path, with `{a, b::c}` groups expanded."""
    out = []
    for m in re.finditer(r"\b(crate|super)((?:::(?:super|[A-Za-z_][A-Za-z0-9_]*))*)(::\{([^}]*)\})?", code):
        head = [m.group(1)] + [s for s in m.group(2).split("::") if s]
        if m.group(4) is not None:
            for item in m.group(4).split(","):
                item = item.strip().split(" as ")[0].strip()
                if item and item != "self":
                    out.append(head + item.split("::"))
                elif item == "self":
                    out.append(head)
        else:
            out.append(head)
    return out


def resolve(segments, here, known):
    """The module a path names (its longest module prefix), or None."""
    if segments[0] == "crate":
        base, rest = [], segments[1:]
    else:
        base = here.split("::") if here else []
        rest = segments
        while rest and rest[0] == "super":
            base = base[:-1]
            rest = rest[1:]
    best = "::".join(base)
    cur = list(base)
    for s in rest:
        cur.append(s)
        if "::".join(cur) in known:
            best = "::".join(cur)
        else:
            break
    return best


def graph(crate):
    mods = modules(crate)
    edges = {m: set() for m in mods}
    for m, path in mods.items():
        here = "" if m == "<main>" else m
        for segs in paths_in(code_of(path)):
            target = resolve(segs, here, mods)
            if target is None or target == here:
                continue
            # ancestors (declaring and re-exporting) are not an edge
            if here == target or here.startswith(target + "::") or target == "":
                continue
            if m != "<main>" and target.startswith(here + "::"):
                continue
            edges[m].add(target)
    return mods, edges


def cycles(edges):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def first_doc_line(path):
    """The first sentence of the module's doc comment, on one line."""
    para = []
    with open(path) as f:
        for line in f:
            if not line.startswith("//!"):
                break
            text = line[3:].strip()
            if not text:
                if para:
                    break
                continue
            para.append(text)
    text = " ".join(para)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)  # [text](target) -> text
    text = re.sub(r"\[(`[^`]+`)\]", r"\1", text)  # [`item`] -> `item`
    m = re.match(r"(.+?[.!?])(\s|$)", text)
    return m.group(1) if m else text


def markdown():
    """The module map of docs/architecture.md (between its `modules:begin/end` marks)."""
    out = []
    for crate in CRATES:
        if not os.path.isdir(os.path.join(ROOT, crate, "src")):
            continue
        mods, _ = graph(crate)
        out.append(f"### `{crate_name(crate)}` ({crate})\n")
        out.append("| module | what it holds |")
        out.append("|---|---|")
        for m in sorted(mods, key=lambda k: ("0" if k in ("", "<main>") else "1") + k):
            label = {"": "lib.rs", "<main>": "main.rs"}.get(m, m)
            cell = first_doc_line(mods[m]).replace("|", "\\|")
            out.append(f"| `{label}` | {cell} |")
        out.append("")
    return "\n".join(out)


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "--map"
    if mode == "--markdown":
        print(markdown(), end="")
        return
    if mode == "--write":
        path = os.path.join(ROOT, "docs/architecture.md")
        with open(path) as f:
            doc = f.read()
        new = re.sub(r"(<!-- modules:begin -->\n).*?(<!-- modules:end -->)",
                     lambda m: m.group(1) + markdown() + m.group(2), doc, flags=re.S)
        with open(path, "w") as f:
            f.write(new)
        return
    failed = False
    doc = ""
    if mode == "--check":
        with open(os.path.join(ROOT, "docs/architecture.md")) as f:
            doc = f.read()
    for crate in CRATES:
        if not os.path.isdir(os.path.join(ROOT, crate, "src")):
            continue
        name = crate_name(crate)
        mods, edges = graph(crate)
        if mode == "--map":
            print(f"{name} ({crate})")
            for m in sorted(mods):
                label = m or "lib"
                print(f"  {label}: {first_doc_line(mods[m])}")
        elif mode == "--edges":
            print(f"{name}:")
            for m in sorted(edges):
                print(f"  {m or 'lib'} -> {', '.join(sorted(edges[m])) or '-'}")
        elif mode == "--check":
            for comp in cycles(edges):
                failed = True
                detail = "; ".join(f"{a} -> {b}" for a in comp for b in sorted(edges[a]) if b in comp)
                print(f"{name}: module cycle: {' <-> '.join(comp)} ({detail})")
        else:
            sys.exit(f"usage: {sys.argv[0]} [--map|--edges|--markdown|--write|--check]")
    if mode == "--check":
        marks = re.search(r"<!-- modules:begin -->\n(.*?)<!-- modules:end -->", doc, re.S)
        if not marks or marks.group(1).strip() != markdown().strip():
            failed = True
            print("docs/architecture.md: its module map is not the sources' own; "
                  "run `python3 scripts/modules.py --write`")
        if failed:
            sys.exit(1)
        print("modules: no cycle; docs/architecture.md maps every module")


if __name__ == "__main__":
    main()
