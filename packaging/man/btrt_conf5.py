#!/usr/bin/python3
"""Generates the manual page btrt.conf(5) from the configuration loader's key table.

The keys (type, default, reload, meaning) come from the loader's own key tables, printed by
the build's `btrt_config_reference` (src/config/reference_main.cpp), so that the page cannot
drift from what btrt accepts. The prose around them (what holds for every key, each
section's introduction) comes from the configuration reference of docs/operations.md, which
tests/integration/test_docs.py holds against the same table.

Usage: btrt_conf5.py --keys keys.tsv --source docs/operations.md --version 0.1.0
                     --output btrt.conf.5
"""
import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

REFERENCE_HEADING = "## Configuration reference"


@dataclass
class Key:
    path: str      # "server.listen", "peer_groups[].name"
    type: str      # the rest is Markdown inline text
    default: str
    reload: str
    meaning: str


@dataclass
class Section:
    name: str
    paragraphs: list = field(default_factory=list)
    keys: list = field(default_factory=list)


@dataclass
class Reference:
    paragraphs: list   # what holds for every key
    sections: list


# --- reading the reference ---------------------------------------------------------------
def _cells(row):
    """The cells of a Markdown table row; `\\|` is a literal bar."""
    parts = re.split(r"(?<!\\)\|", row.strip())
    return [p.strip().replace("\\|", "|") for p in parts[1:-1]]


def _paragraphs(lines):
    out, current = [], []
    for line in lines + [""]:
        if line.strip():
            current.append(line.strip())
        elif current:
            out.append(" ".join(current))
            current = []
    return out


def from_operations_md(markdown):
    start = markdown.find("\n" + REFERENCE_HEADING + "\n")
    if start < 0:
        raise ValueError(f"no '{REFERENCE_HEADING}' heading")
    rest = markdown[start + len(REFERENCE_HEADING) + 2:]
    end = re.search(r"^## ", rest, re.MULTILINE)
    body = rest[: end.start()] if end else rest

    intro, sections, text = [], [], []
    section = None
    for line in body.splitlines():
        if m := re.match(r"^###\s+`([^`]+)`\s*$", line):
            if section is None:
                intro = _paragraphs(text)
            else:
                section.paragraphs = _paragraphs(text)
            section, text = Section(m.group(1)), []
            sections.append(section)
        elif line.startswith("|"):
            cells = _cells(line)
            if len(cells) != 5:
                raise ValueError(f"a table row without 5 cells: {line}")
            if re.fullmatch(r"`[^`]+`", cells[0]):
                path = cells[0].strip("`")
                section.keys.append(Key(path, *cells[1:]))
        else:
            text.append(line)
    if section is not None:
        section.paragraphs = _paragraphs(text)
    return Reference(intro, sections)


def from_key_table(tsv, markdown):
    """The keys of the loader's table (`btrt_config_reference` output: section, path, type,
    default, reload, doc per line, tab-separated) with the prose of the reference."""
    prose = from_operations_md(markdown)
    paragraphs = {section.name: section.paragraphs for section in prose.sections}
    sections = {}
    for line in tsv.splitlines():
        if not line:
            continue
        cells = line.split("\t")
        if len(cells) != 6:
            raise ValueError(f"a key table line without 6 fields: {line}")
        name, path, type_, default, reload, doc = cells
        if name not in sections:
            sections[name] = Section(name, paragraphs.get(name, []))
        sections[name].keys.append(Key(path, type_, default, reload, doc))
    return Reference(prose.paragraphs, list(sections.values()))


# --- writing roff ----------------------------------------------------------------------------
_CHARACTERS = {"≥": r"\(>=", "≤": r"\(<=", "—": r"\(em", "–": r"\(en", "×": r"\(mu",
               "→": r"\(->", "’": "'", "“": r"\(lq", "”": r"\(rq", "…": "...", "\u00a0": r"\~"}


def _escape(text):
    text = text.replace("\\", r"\e")
    for char, escape in _CHARACTERS.items():
        text = text.replace(char, escape)
    if any(ord(c) > 127 for c in text):
        raise ValueError(f"no roff escape for a character in: {text}")
    return text


def inline(markdown):
    """Markdown inline text (code, bold, italics, links) as roff; code in bold, its '-' a
    minus."""
    out = []
    pos = 0
    for m in re.finditer(r"`([^`]*)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\([^)]*\)|\*([^*\s][^*]*)\*",
                         markdown):
        out.append(_escape(markdown[pos:m.start()]))
        if m.group(1) is not None:
            out.append(r"\fB" + _escape(m.group(1)).replace("-", r"\-") + r"\fR")
        elif m.group(2) is not None:
            out.append(r"\fB" + _escape(m.group(2)) + r"\fR")
        elif m.group(3) is not None:
            out.append(inline(m.group(3)))
        else:
            out.append(r"\fI" + _escape(m.group(4)) + r"\fR")
        pos = m.end()
    out.append(_escape(markdown[pos:]))
    return "".join(out)


def _text_lines(roff):
    """One sentence per line (roff's convention); no line may start with a control dot."""
    lines = re.split(r"(?<=[.;:]) (?=\S)", roff)
    return "\n".join(("\\&" + line) if line.startswith((".", "'")) else line for line in lines)


def render(reference, version):
    out = [
        r'.\" Generated by packaging/man/btrt_conf5.py from the key tables of the configuration',
        r'.\" loader (src/config/loader.cpp) and docs/operations.md. Do not edit.',
        f'.TH BTRT.CONF 5 "" "btrt {_escape(version)}" "File Formats"',
        ".SH NAME",
        r"btrt.conf \- configuration file of the btrt tracker",
        ".SH SYNOPSIS",
        ".I /etc/btrt/btrt.conf",
        ".SH DESCRIPTION",
        _text_lines(r"The configuration of \fBbtrt\fR(8): \fBbtrt run\fR, \fBbtrt check\-config\fR,"
                    r" \fBbtrt db\fR and \fBbtrt hashlist\fR read it (another file with"
                    r" \fB\-c\fR \fIFILE\fR). The template \fI/etc/btrt/btrt.conf.default\fR holds"
                    r" every key with its default and a comment, and is itself a valid"
                    r" configuration. Validate a file with \fBbtrt check\-config\fR before"
                    r" \fBsystemctl reload btrt\fR."),
    ]
    for paragraph in reference.paragraphs:
        out += [".PP", _text_lines(inline(paragraph))]
    out.append(".SH KEYS")
    out.append(_text_lines("Each key is written with its section, list items as "
                           r"\fIsection\fB[].\fIkey\fR, e.g. \fBpeer_groups[].name\fR."))
    for section in reference.sections:
        out.append(f'.SS "{_escape(section.name)}"')
        for paragraph in section.paragraphs:
            out += [".PP", _text_lines(inline(paragraph))]
        for key in section.keys:
            out += [".TP", ".B " + _escape(key.path).replace("-", r"\-"),
                    r"\fIType:\fR " + inline(key.type) + ".",
                    ".br",
                    # The reference writes a required key's default as a dash.
                    r"\fIDefault:\fR " + ("none" if key.default in ("—", "-")
                                          else inline(key.default)) + ".",
                    r"\fIReload:\fR " + inline(key.reload) + ".",
                    ".br",
                    _text_lines(inline(key.meaning))]
    out += [
        ".SH FILES",
        ".TP", ".I /etc/btrt/btrt.conf", "The configuration.",
        ".TP", ".I /etc/btrt/btrt.conf.default",
        "The template with every key; replaced by package upgrades.",
        ".TP", ".I /etc/btrt/local_cidrs.conf", ".TQ", ".I /etc/btrt/neighboring_cidrs.conf",
        "Example CIDR files of the two example peer groups.",
        ".SH SEE ALSO",
        r".BR btrt (8),",
        r".IR /usr/share/doc/btrt/README.md .",
    ]
    return "\n".join(out) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", required=True, type=Path,
                        help="the output of btrt_config_reference")
    parser.add_argument("--source", required=True, type=Path, help="docs/operations.md")
    parser.add_argument("--version", required=True)
    parser.add_argument("--output", required=True, type=Path)
    args = parser.parse_args(argv)
    reference = from_key_table(args.keys.read_text(encoding="utf-8"),
                               args.source.read_text(encoding="utf-8"))
    if not any(section.keys for section in reference.sections):
        sys.exit(f"{args.keys}: no keys in the key table")
    args.output.write_text(render(reference, args.version), encoding="ascii")


if __name__ == "__main__":
    main()
