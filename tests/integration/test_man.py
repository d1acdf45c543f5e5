"""The manual pages btrt(8) and btrt.conf(5), and the bash completion, against the program.

The pages are the ones the build made for installation (BUILD/packaging/man, beside the
btrt binary under test). btrt.conf(5) is generated from the loader's key tables (printed by
btrt_config_reference) with the prose of docs/operations.md; test_docs.py holds that
reference against btrt.conf.default and the table, and this file holds the page against both.
"""
import gzip
import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from btrt_harness import BTRT
from test_docs import OPERATIONS, REFERENCE_TOOL, TEMPLATE, loader_keys, template_keys

ROOT = Path(__file__).resolve().parents[2]
MAN_DIR = BTRT.resolve().parents[1] / "packaging" / "man"
GENERATOR = ROOT / "packaging" / "man" / "btrt_conf5.py"
COMPLETION = ROOT / "packaging" / "bash-completion" / "btrt"
MAN = shutil.which("man")


def generator():
    spec = importlib.util.spec_from_file_location("btrt_conf5", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def built_page(name):
    path = MAN_DIR / name
    assert path.is_file(), f"{path} missing: the build makes it (target btrt_man)"
    packed = MAN_DIR / (name + ".gz")
    assert gzip.decompress(packed.read_bytes()) == path.read_bytes(), f"{packed} is stale"
    return path


def render(page, width=80):
    """The page as man shows it, and man's (groff's) warnings."""
    r = subprocess.run([MAN, "--warnings", "-l", str(page)], capture_output=True, text=True,
                       timeout=60, env={**os.environ, "MANWIDTH": str(width), "MAN_KEEP_FORMATTING": "",
                                        "LC_ALL": "C.UTF-8", "MANPAGER": "cat", "PAGER": "cat"})
    assert r.returncode == 0, r.stderr
    return r.stdout, r.stderr


def keys_in_page(roff):
    """Key paths with an entry (`.TP` then `.B key`) in btrt.conf(5)."""
    return {m.replace("\\-", "-") for m in re.findall(r"^\.TP\n\.B (\S+)$", roff, re.MULTILINE)}


def missing_keys(roff):
    _, in_template = template_keys(TEMPLATE.read_text())
    wanted = in_template | loader_keys()
    return sorted(wanted - keys_in_page(roff))


# --- btrt.conf(5) --------------------------------------------------------------------------
def test_btrt_conf_page_has_every_key_of_the_template_and_the_loader():
    roff = built_page("btrt.conf.5").read_text()
    assert not missing_keys(roff), f"keys missing from btrt.conf(5): {missing_keys(roff)}"
    # Each key with its type, default and how it takes effect.
    assert ".B server.max_connections\n\\fIType:\\fR integer \\(>= 1.\n.br\n" \
           "\\fIDefault:\\fR \\fB100000\\fR.\n\\fIReload:\\fR restart." in roff


def key_table_text():
    return subprocess.run([str(REFERENCE_TOOL)], capture_output=True, text=True, check=True,
                          timeout=30).stdout


def test_the_key_check_catches_a_key_left_out_of_the_table():
    tsv = key_table_text()
    line = next(line for line in tsv.splitlines() if "\ttracker.full_scrape\t" in line)
    page = generator().render(
        generator().from_key_table(tsv.replace(line + "\n", ""), OPERATIONS.read_text()), "0")
    assert missing_keys(page) == ["tracker.full_scrape"]


def test_generated_page_is_what_the_key_table_says_now(tmp_path):
    keys = tmp_path / "keys.tsv"
    keys.write_text(key_table_text())
    out = tmp_path / "btrt.conf.5"
    subprocess.run(["/usr/bin/python3", str(GENERATOR), "--keys", str(keys), "--source",
                    str(OPERATIONS), "--version", "0", "--output", str(out)], check=True,
                   timeout=60)
    built = built_page("btrt.conf.5").read_text()
    assert re.sub(r'"btrt [^"]*"', "", out.read_text()) == re.sub(r'"btrt [^"]*"', "", built), \
        "the built btrt.conf(5) is stale: rebuild"


# --- rendering -------------------------------------------------------------------------------
@pytest.mark.skipif(MAN is None, reason="man (man-db) is not installed")
@pytest.mark.parametrize("name", ["btrt.8", "btrt.conf.5"])
@pytest.mark.parametrize("width", [80, 60])
def test_man_renders_without_warnings(name, width):
    text, warnings = render(built_page(name), width)
    assert warnings == "", warnings
    assert "NAME" in text and "SEE ALSO" in text


@pytest.mark.skipif(MAN is None, reason="man (man-db) is not installed")
def test_man_reports_warnings_of_a_broken_page(tmp_path):
    # The warning check itself: an undefined macro is reported.
    page = tmp_path / "broken.8"
    page.write_text(built_page("btrt.8").read_text().replace(".SH EXIT STATUS", ".XX oops\n"
                                                             ".SH EXIT STATUS"))
    _, warnings = render(page)
    assert "macro 'XX' not defined" in warnings


# --- btrt(8) against the program ----------------------------------------------------------------
def usage_lines():
    out = subprocess.run([str(BTRT), "help"], capture_output=True, text=True, timeout=30).stdout
    return [re.split(r"\s{2,}", line.strip())[0] for line in out.splitlines()
            if line.startswith("  btrt ")]


@pytest.mark.skipif(MAN is None, reason="man (man-db) is not installed")
def test_btrt_page_has_every_command_option_signal_and_exit_status():
    text, _ = render(built_page("btrt.8"), width=120)
    flat = re.sub(r"\s+", " ", text)
    synopsis = usage_lines()
    assert len(synopsis) == 7, synopsis
    for line in synopsis:  # "btrt hashlist [-c FILE] [-o FILE]"
        assert line in flat, f"`{line}` (btrt help) is not in btrt(8)'s synopsis"
    for word in ("-c, --config FILE", "-o, --output FILE", "-h, --help", "/etc/btrt/btrt.conf",
                 "SIGTERM, SIGINT", "SIGHUP", "EXIT STATUS", "btrt.conf(5)",
                 "/var/log/btrt/", "/var/lib/btrt/", "/usr/lib/systemd/system/btrt.service"):
        assert word in flat, word
    status = flat[flat.index("EXIT STATUS"):flat.index("FILES")]
    assert re.search(r"\b0 Success\. 1 Runtime failure .* 2 Bad usage or an invalid configuration",
                     status), status
    # What the operations guide says about exit status, the page says too.
    assert ("Exit status of every command: 0 success, 1 runtime failure, 2 bad usage or invalid"
            "\nconfiguration.") in OPERATIONS.read_text()


# --- bash completion ------------------------------------------------------------------------------
def complete(line, cwd):
    """COMPREPLY of the completion script for the command line `line` (cursor at its end)."""
    script = f"""
source {COMPLETION}
COMP_LINE={line!r}
read -r -a COMP_WORDS <<< "$COMP_LINE"
[[ $COMP_LINE == *' ' ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMP_POINT=${{#COMP_LINE}}
_btrt btrt "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True,
                       text=True, timeout=30, cwd=cwd)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    return sorted(filter(None, r.stdout.splitlines()))


def test_bash_completion_of_commands_options_and_files(tmp_path):
    commands = sorted({line.split()[1] for line in usage_lines()})
    assert complete("btrt ", tmp_path) == sorted(commands + ["-h", "--help"])
    assert complete("btrt ch", tmp_path) == ["check-config"]
    assert complete("btrt db ", tmp_path) == ["init", "upgrade"]
    assert complete("btrt db up", tmp_path) == ["upgrade"]
    assert complete("btrt hashlist -", tmp_path) == sorted(
        ["-c", "--config", "-o", "--output", "-h", "--help"])
    assert complete("btrt run --", tmp_path) == ["--config", "--help"]
    assert complete("btrt db init -", tmp_path) == ["--config", "--help", "-c", "-h"]
    (tmp_path / "btrt.conf").write_text("")
    (tmp_path / "btrt.conf.default").write_text("")
    (tmp_path / "other").write_text("")
    assert complete("btrt run -c btrt", tmp_path) == ["btrt.conf", "btrt.conf.default"]
    assert complete("btrt check-config --config bt", tmp_path) == ["btrt.conf",
                                                                 "btrt.conf.default"]
    assert complete("btrt hashlist -c btrt.conf -o ot", tmp_path) == ["other"]
    assert complete("btrt version ", tmp_path) == []
