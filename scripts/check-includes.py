#!/usr/bin/env python3
"""Checks that src/ keeps the dependency direction of docs/design.md.

The folder table there (between the `<!-- folders` and `<!-- /folders -->` marks) names every
folder of src/, what it may include and whether it is pure. Fails, naming file and line, on
  - an `#include "folder/..."` of a folder its row does not allow,
  - a folder of src/ without a row, or a row without a folder,
  - a cycle in the table,
  - in a pure folder, an include of Asio, Beast, spdlog, fmt or SOCI.
Usage: check-includes.py [--root DIR] (default: the repository); --self-test checks itself.
"""
import argparse
import pathlib
import re
import sys
import tempfile

ROW = re.compile(r"^\|\s*`([a-z_]+)`\s*\|[^|]*\|([^|]*)\|([^|]*)\|\s*$")
LOCAL_INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/[^"]+"')
SYSTEM_INCLUDE = re.compile(r"^\s*#\s*include\s+<([^>]+)>")
IMPURE = ("boost/asio", "boost/beast", "spdlog/", "fmt/", "soci/")
SOURCES = {".cpp", ".hpp", ".h", ".cc"}


def read_table(design: pathlib.Path):
    """{folder: (allowed set or None for any, pure)} from the design notes' table."""
    text = design.read_text(encoding="utf-8")
    start = text.find("<!-- folders")
    end = text.find("<!-- /folders -->")
    if start < 0 or end < start:
        raise SystemExit(f"{design}: no folder table (<!-- folders ... <!-- /folders -->)")
    table = {}
    for line in text[start:end].splitlines():
        m = ROW.match(line)
        if not m:
            continue
        folder, may, pure = m.group(1), m.group(2), m.group(3)
        names = re.findall(r"`([^`]+)`", may)
        allowed = None if "*" in names else set(names)
        table[folder] = (allowed, pure.strip().lower() == "yes")
    return table


def find_cycle(table):
    graph = {f: (a if a is not None else set()) for f, (a, _) in table.items()}
    state = {}

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path + [node, nxt]
            if nxt not in state:
                found = visit(nxt, path + [node])
                if found:
                    return found
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node, [])
            if found:
                return found
    return None


def check(root: pathlib.Path):
    src = root / "src"
    table = read_table(root / "docs" / "design.md")
    errors = []
    folders = {p.name for p in src.iterdir() if p.is_dir()}
    for f in sorted(folders - table.keys()):
        errors.append(f"src/{f}/: no row in the folder table of docs/design.md")
    for f in sorted(table.keys() - folders):
        errors.append(f"docs/design.md: the folder table names {f}, which src/ does not have")
    for f, (allowed, _) in sorted(table.items()):
        for dep in sorted(allowed or ()):
            if dep not in table:
                errors.append(f"docs/design.md: {f} may include {dep}, which has no row")
    cycle = find_cycle(table)
    if cycle:
        errors.append("docs/design.md: the folder table has a cycle: " + " -> ".join(cycle))
    for path in sorted(src.rglob("*")):
        if path.suffix not in SOURCES or not path.is_file():
            continue
        folder = path.relative_to(src).parts[0]
        if folder not in table:
            continue
        allowed, pure = table[folder]
        rel = path.relative_to(root)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            m = LOCAL_INCLUDE.match(line)
            if m:
                dep = m.group(1)
                if dep != folder and dep in folders and allowed is not None and dep not in allowed:
                    errors.append(f"{rel}:{number}: {folder} may not include {dep} "
                                  f"(docs/design.md: {folder} may include "
                                  f"{', '.join(sorted(allowed)) or 'nothing of btrt'})")
            m = SYSTEM_INCLUDE.match(line)
            if m and pure and m.group(1).startswith(IMPURE):
                errors.append(f"{rel}:{number}: {folder} is pure and may not include "
                              f"<{m.group(1)}>")
    return errors


def self_test():
    """The check must fail on each kind of violation and pass on a tree that keeps the rule."""
    design = """<!-- folders -->
| folder | job | may include | pure |
|---|---|---|---|
| `low` | bottom | | yes |
| `high` | top | `low` | |
<!-- /folders -->
"""
    cases = {
        "clean": ({"low/a.hpp": "#include <vector>\n", "high/b.cpp": '#include "low/a.hpp"\n'},
                  design, None),
        "upward include": ({"low/a.hpp": '#include "high/b.hpp"\n', "high/b.hpp": ""},
                           design, "low may not include high"),
        "impure include": ({"low/a.hpp": "#include <spdlog/spdlog.h>\n", "high/b.hpp": ""},
                           design, "low is pure"),
        "folder without a row": ({"low/a.hpp": "", "high/b.hpp": "", "new/c.hpp": ""},
                                 design, "src/new/: no row"),
        "cycle": ({"low/a.hpp": "", "high/b.hpp": ""},
                  design.replace("| `low` | bottom | |", "| `low` | bottom | `high` |"),
                  "has a cycle"),
    }
    failed = 0
    for name, (files, table, expected) in cases.items():
        with tempfile.TemporaryDirectory() as tmp:
            root = pathlib.Path(tmp)
            (root / "docs").mkdir()
            (root / "docs" / "design.md").write_text(table)
            for rel, body in files.items():
                p = root / "src" / rel
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text(body)
            errors = check(root)
            ok = (not errors) if expected is None else any(expected in e for e in errors)
            if not ok:
                failed += 1
                print(f"self-test '{name}' failed: {errors}", file=sys.stderr)
    return failed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=pathlib.Path,
                        default=pathlib.Path(__file__).resolve().parent.parent)
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    if args.self_test:
        return 1 if self_test() else 0
    errors = check(args.root)
    for e in errors:
        print(e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
