"""The configuration reference in docs/operations.md against etc/btrt.conf.default.

Every key path of the template (`server.listen`, `peer_groups[].cidr_file`, ...) must have a
row in the reference, and every row must name a key the template has: a key added to the
template without documentation, or documentation left behind by a removed key, fails here.
The template itself must hold every key the loader accepts, each at its default, and every
row of the reference must say what the loader's key table says (type, default, reload,
meaning), so a key added to the loader alone fails too. The table is printed by the build's
btrt_config_reference.

The reference's format: under the heading "## Configuration reference", one table per
section (heading "### `section`"); each row starts with the full key path in backticks,
list items written as `section[].key`.
"""

import re
import subprocess
from pathlib import Path

import yaml

from btrt_harness import BTRT

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "etc" / "btrt.conf.default"
OPERATIONS = ROOT / "docs" / "operations.md"
README = ROOT / "README.md"

REFERENCE_HEADING = "## Configuration reference"
ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|")
SECTION_HEADING = re.compile(r"^###\s+`([^`]+)`\s*$")


def key_paths(node, prefix=""):
    """Leaf key paths of a YAML tree; lists of mappings become `name[].key`."""
    paths = set()
    for key, value in node.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            paths |= key_paths(value, path + ".")
        elif isinstance(value, list) and any(isinstance(item, dict) for item in value):
            for item in value:
                if isinstance(item, dict):
                    paths |= key_paths(item, path + "[].")
        else:
            paths.add(path)
    return paths


def template_keys(text):
    tree = yaml.safe_load(text)
    assert isinstance(tree, dict), "btrt.conf.default is not a mapping of sections"
    return tree, key_paths(tree)


def reference_section(markdown):
    """The text of the configuration reference: its heading up to the next '## ' heading."""
    start = markdown.find("\n" + REFERENCE_HEADING + "\n")
    assert start >= 0, f"docs/operations.md has no '{REFERENCE_HEADING}' heading"
    rest = markdown[start + len(REFERENCE_HEADING) + 2:]
    end = re.search(r"^## ", rest, re.MULTILINE)
    return rest[: end.start()] if end else rest


def documented_keys(markdown):
    """(key paths of the reference's table rows, section names of its ### headings)."""
    keys, sections = [], set()
    for line in reference_section(markdown).splitlines():
        if m := ROW.match(line):
            keys.append(m.group(1))
        elif m := SECTION_HEADING.match(line):
            sections.add(m.group(1))
    return keys, sections


def problems(template_text, markdown):
    """Every disagreement between the template and the reference, as sentences."""
    tree, in_template = template_keys(template_text)
    rows, sections = documented_keys(markdown)
    found = []
    for key in sorted(in_template - set(rows)):
        found.append(f"{key}: in btrt.conf.default but not in the configuration reference")
    for key in sorted(set(rows) - in_template):
        found.append(f"{key}: in the configuration reference but not in btrt.conf.default")
    for key in sorted({k for k in rows if rows.count(k) > 1}):
        found.append(f"{key}: documented more than once")
    for section in sorted(set(tree) - sections):
        found.append(f"section {section}: no '### `{section}`' heading in the reference")
    for key in rows:
        if key.split("[")[0].split(".")[0] not in sections:
            found.append(f"{key}: not under its section's heading")
    return found


def test_every_template_key_is_documented_and_every_documented_key_exists():
    found = problems(TEMPLATE.read_text(), OPERATIONS.read_text())
    assert not found, "\n".join(found)


def test_the_check_catches_an_undocumented_and_a_stale_key():
    # The checker itself: a key added to the template, a key removed from it.
    markdown = OPERATIONS.read_text()
    template = TEMPLATE.read_text()
    added = template.replace("server:\n", "server:\n  brand_new_key: 1\n", 1)
    assert added != template
    assert problems(added, markdown) == [
        "server.brand_new_key: in btrt.conf.default but not in the configuration reference"
    ]
    removed = re.sub(r"^  max_scrape_hashes: .*\n", "", template, flags=re.MULTILINE)
    assert removed != template
    assert problems(removed, markdown) == [
        "tracker.max_scrape_hashes: in the configuration reference but not in btrt.conf.default"
    ]


# The loader's key tables (src/config/loader.cpp), as the build's btrt_config_reference
# prints them: section, key path, type, default, reload, doc per line.
REFERENCE_TOOL = BTRT.resolve().parent / "btrt_config_reference"


def key_table():
    """{key path: (type, default, reload, doc)} of the loader's tables, in their order."""
    assert REFERENCE_TOOL.is_file(), f"{REFERENCE_TOOL} missing: the build makes it"
    out = subprocess.run([str(REFERENCE_TOOL)], capture_output=True, text=True, check=True,
                         timeout=30).stdout
    table = {}
    for line in out.splitlines():
        cells = line.split("\t")
        assert len(cells) == 6, f"a key table line without 6 fields: {line!r}"
        table[cells[1]] = tuple(cells[2:])
    assert table, "btrt_config_reference printed no keys"
    return table


def loader_keys():
    return set(key_table())


def reference_rows(markdown):
    """{key path: (type, default, reload, meaning)} of the reference's table rows."""
    rows = {}
    for line in reference_section(markdown).splitlines():
        if ROW.match(line):
            cells = [c.strip().replace("\\|", "|")
                     for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            rows[cells[0].strip("`")] = tuple(cells[1:])
    return rows


def table_problems(table, markdown):
    """Every disagreement between the loader's key table and the reference, as sentences."""
    rows = reference_rows(markdown)
    found = []
    for key in sorted(set(table) - set(rows)):
        found.append(f"{key}: accepted by the loader but not in the configuration reference")
    for key in sorted(set(rows) - set(table)):
        found.append(f"{key}: in the configuration reference but not accepted by the loader")
    columns = ("type", "default", "reload", "meaning")
    for key in sorted(set(rows) & set(table)):
        for column, ours, theirs in zip(columns, table[key], rows[key]):
            if ours != theirs:
                found.append(f"{key}: {column} is {theirs!r} in the reference but {ours!r} "
                             "in the loader's table")
    if list(rows) != [key for key in table if key in rows]:
        found.append("the reference lists the keys in another order than the loader")
    return found


def test_reference_agrees_with_the_loaders_key_table():
    found = table_problems(key_table(), OPERATIONS.read_text())
    assert not found, "\n".join(found)


def test_the_table_check_catches_a_changed_default_and_a_missing_row():
    table = key_table()
    markdown = OPERATIONS.read_text()
    changed = markdown.replace("| `server.max_connections` | integer ≥ 1 | `100000` |",
                               "| `server.max_connections` | integer ≥ 1 | `5000` |")
    assert changed != markdown
    assert table_problems(table, changed) == [
        "server.max_connections: default is '`5000`' in the reference but '`100000`' in the "
        "loader's table"]
    row = next(line for line in markdown.splitlines() if line.startswith("| `tracker.full_scrape` |"))
    assert table_problems(table, markdown.replace(row + "\n", "")) == [
        "tracker.full_scrape: accepted by the loader but not in the configuration reference"]


def test_template_holds_every_key_the_loader_accepts():
    _, in_template = template_keys(TEMPLATE.read_text())
    accepted = loader_keys()
    missing = sorted(accepted - in_template)
    unknown = sorted(in_template - accepted)
    assert not missing, f"keys the loader accepts but btrt.conf.default lacks: {missing}"
    assert not unknown, f"keys in btrt.conf.default the loader rejects: {unknown}"


def test_template_values_are_the_loaders_defaults():
    # The sections that are mappings: the template writes each key at its default. (The
    # peer_groups and neighbors there are examples.)
    tree, _ = template_keys(TEMPLATE.read_text())
    wrong = []
    for path, (_, default, _, _) in key_table().items():
        if "[]" in path:
            continue
        section, key = path.split(".")
        m = re.fullmatch(r"`(.*)`", default)
        assert m, f"{path}: default {default!r} is not a value"
        if yaml.safe_load(m.group(1)) != tree[section][key]:
            wrong.append(f"{path}: {tree[section][key]!r} in btrt.conf.default, default {default}")
    assert not wrong, "\n".join(wrong)


def test_readme_links_the_documentation():
    readme = README.read_text()
    for doc in ("docs/operations.md", "docs/dpi-integration.md", "docs/local-retracking.md"):
        assert f"]({doc})" in readme, f"README.md does not link {doc}"
        assert (ROOT / doc).is_file(), f"{doc} is linked but missing"
