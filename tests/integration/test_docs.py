"""The configuration reference in docs/operations.md against etc/btrt.conf.default.

Every key path of the template (`server.listen`, `peer_groups[].cidr_file`, ...) must have a
row in the reference, and every row must name a key the template has: a key added to the
template without documentation, or documentation left behind by a removed key, fails here.
The template itself must hold every key the loader accepts (spec 4: it "ships with every
key"), so a key added to the loader alone fails too.

The reference's format: under the heading "## Configuration reference", one table per
section (heading "### `section`"); each row starts with the full key path in backticks,
list items written as `section[].key`.
"""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "etc" / "btrt.conf.default"
OPERATIONS = ROOT / "docs" / "operations.md"
LOADER = ROOT / "src" / "config" / "loader.cpp"
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


# The loader's tables of allowed keys (src/config/loader.cpp) and where they apply.
LOADER_TABLES = {
    "kServerKeys": "server.",
    "kTrackerKeys": "tracker.",
    "kLoggingKeys": "logging.",
    "kDatabaseKeys": "database.",
    "kGroupKeys": "peer_groups[].",
    "kNeighborKeys": "neighbors[].",
    "kForwardingKeys": "forwarding.",
    "kHashlistKeys": "hashlist.",
}


def loader_keys(source):
    keys = set()
    for table, prefix in LOADER_TABLES.items():
        m = re.search(r"\b" + table + r"\[\]\s*=\s*\{(.*?)\};", source, re.DOTALL)
        assert m, f"{table} not found in src/config/loader.cpp (update LOADER_TABLES)"
        names = re.findall(r'"([a-z_]+)"', m.group(1))
        assert names, f"{table} lists no keys"
        keys |= {prefix + name for name in names}
    m = re.search(r"\bkSections\[\]\s*=\s*\{(.*?)\};", source, re.DOTALL)
    assert m, "kSections not found in src/config/loader.cpp"
    sections = set(re.findall(r'"([a-z_]+)"', m.group(1)))
    covered = {prefix.split("[")[0].rstrip(".") for prefix in LOADER_TABLES.values()}
    assert sections == covered, f"loader sections {sections} vs. LOADER_TABLES {covered}"
    return keys


def test_template_holds_every_key_the_loader_accepts():
    _, in_template = template_keys(TEMPLATE.read_text())
    accepted = loader_keys(LOADER.read_text())
    missing = sorted(accepted - in_template)
    unknown = sorted(in_template - accepted)
    assert not missing, f"keys the loader accepts but btrt.conf.default lacks: {missing}"
    assert not unknown, f"keys in btrt.conf.default the loader rejects: {unknown}"


def test_readme_links_the_documentation():
    readme = README.read_text()
    for doc in ("docs/operations.md", "docs/dpi-integration.md", "docs/local-retracking.md"):
        assert f"]({doc})" in readme, f"README.md does not link {doc}"
        assert (ROOT / doc).is_file(), f"{doc} is linked but missing"
