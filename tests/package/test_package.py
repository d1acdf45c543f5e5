"""The .deb and .rpm packages (docs/operations.md, "Installation"), built with CPack from the release build directory.

The .deb is really installed (dpkg -i) and purged at the end, whatever happens; this needs
root and a machine where no other btrt package is installed. Concurrent runs are serialised
by a lock file, since dpkg allows one at a time.
"""
import fcntl
import grp
import os
import pwd
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from btrt_harness import REPO, free_port, info_hash, peer_id, quote, raw_request, wait_for

BUILD = Path(os.environ.get("BTRT_BUILD_DIR", REPO / "build"))
CONF = Path("/etc/btrt")
UNIT = Path("/usr/lib/systemd/system/btrt.service")

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="installs a .deb with dpkg: needs root")


def run(*args, check=True, timeout=300, **kwargs):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                       timeout=timeout, **kwargs)
    if check:
        assert r.returncode == 0, f"{args}: {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r


def cpack(generator, out):
    config = BUILD / "CPackConfig.cmake"
    assert config.exists(), f"{config} missing: build the release tree first (scripts/build.sh)"
    text = config.read_text()
    assert 'CPACK_PACKAGING_INSTALL_PREFIX "/usr"' in text, \
        f"{BUILD} is configured for another prefix: reconfigure with -DCMAKE_INSTALL_PREFIX=/usr"
    run("cpack", "--config", config, "-G", generator, "-B", out)
    found = sorted(out.glob("*.deb" if generator == "DEB" else "*.rpm"))
    assert len(found) == 1, found
    return found[0]


def installed(package="btrt"):
    r = run("dpkg-query", "-W", "-f=${Status}", package, check=False)
    return r.returncode == 0 and "install ok installed" in r.stdout


def user_exists(name="btrt"):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    out = tmp_path_factory.mktemp("deb")
    package = cpack("DEB", out)
    with open("/run/lock/btrt-package-test.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if installed() or CONF.exists():
            pytest.skip("btrt is already installed here (or /etc/btrt exists): not touching it")
        had_user = user_exists()
        try:
            run("dpkg", "-i", package)
            yield package
        finally:
            run("dpkg", "--purge", "btrt", check=False)
            if not had_user and user_exists():
                run("userdel", "btrt", check=False)
            if not had_user:
                try:
                    grp.getgrnam("btrt")
                    run("groupdel", "btrt", check=False)
                except KeyError:
                    pass


def test_deb_depends_on_the_distribution_libraries(deb):
    depends = run("dpkg-deb", "-f", deb, "Depends").stdout
    for lib in ("libsoci-core4.0", "libsoci-sqlite3-4.0", "libsoci-mysql4.0", "libyaml-cpp0.7",
                "libspdlog1.10", "libfmt9", "libabsl20220623", "libc-ares2", "libstdc++6", "libc6"):
        assert lib in depends, depends


def test_layout_user_and_directories(deb):
    assert os.access("/usr/sbin/btrt", os.X_OK)
    for name in ("btrt.conf.default", "btrt.db_creation.sql", "local_cidrs.conf",
                 "neighboring_cidrs.conf"):
        assert (CONF / name).is_file(), name
    assert sorted(p.name for p in CONF.glob("btrt.db_upgrade_*.sql")) == \
        ["btrt.db_upgrade_" + p.name for p in sorted((REPO / "sql/mysql/upgrade").glob("*.sql"))]
    assert UNIT.is_file()

    user = pwd.getpwnam("btrt")
    assert user.pw_uid < 1000 and user.pw_shell.endswith("nologin")
    for path, mode in (("/var/log/btrt", 0o750), ("/var/lib/btrt", 0o755)):
        st = os.stat(path)
        assert (st.st_uid, st.st_gid) == (user.pw_uid, user.pw_gid), path
        assert st.st_mode & 0o777 == mode, (path, oct(st.st_mode))

    # First installation: the working configuration is the template, readable by btrt only.
    conf = CONF / "btrt.conf"
    assert conf.read_bytes() == (CONF / "btrt.conf.default").read_bytes()
    st = conf.stat()
    assert st.st_mode & 0o777 == 0o640 and st.st_gid == user.pw_gid

    conffiles = Path("/var/lib/dpkg/info/btrt.conffiles").read_text().split()
    assert conffiles == ["/etc/btrt/local_cidrs.conf", "/etc/btrt/neighboring_cidrs.conf"]


# Manual pages, completion and monitoring examples, where Debian and Fedora put them.
OPERATOR_KIT = ("/usr/share/man/man8/btrt.8.gz", "/usr/share/man/man5/btrt.conf.5.gz",
                "/usr/share/bash-completion/completions/btrt",
                "/usr/share/doc/btrt/examples/btrt-alerts.yml",
                "/usr/share/doc/btrt/examples/btrt.json")


def test_manual_pages_completion_and_monitoring_examples(deb):
    listed = run("dpkg", "-L", "btrt").stdout.split()
    for path in OPERATOR_KIT:
        assert path in listed and Path(path).is_file(), path
    # man finds the installed pages by name and renders them without a warning.
    env = {**os.environ, "MANWIDTH": "80", "MANPAGER": "cat", "PAGER": "cat"}
    for section, page, words in (("8", "btrt", ("check-config", "SIGHUP", "EXIT STATUS")),
                                 ("5", "btrt.conf", ("server.listen", "hashlist.min_seeders"))):
        assert run("man", "-w", section, page, env=env).stdout.strip() == \
            f"/usr/share/man/man{section}/{page}.{section}.gz"
        r = run("man", "--warnings", section, page, env=env)
        assert r.stderr == "", r.stderr
        for word in words:
            assert word in r.stdout, (page, word)
    # The completion loads in bash and completes the commands.
    r = run("bash", "--norc", "-c", "source /usr/share/bash-completion/completions/btrt; "
            "COMP_WORDS=(btrt db ''); COMP_CWORD=2; _btrt btrt '' db; echo ${COMPREPLY[*]}")
    assert r.stdout.split() == ["init", "upgrade"], r.stdout + r.stderr
    rules = Path("/usr/share/doc/btrt/examples/btrt-alerts.yml")
    r = run("promtool", "check", "rules", rules, check=False) if shutil.which("promtool") else None
    assert r is None or r.returncode == 0, r.stdout + r.stderr


def test_no_logrotate_configuration(deb):
    # btrt switches and removes its own log files (logging.* in btrt.conf(5)).
    listed = run("dpkg", "-L", "btrt").stdout.split()
    assert not [p for p in listed if "logrotate" in p], listed
    assert "logrotate" not in UNIT.read_text()


def test_installed_binary_checks_the_default_configuration(deb):
    r = run("/usr/sbin/btrt", "check-config", "-c", CONF / "btrt.conf.default")
    assert r.stdout.strip() == "OK"
    r = run("/usr/sbin/btrt", "help")
    assert "btrt run" in r.stdout and "btrt hashlist" in r.stdout


def test_unit_verifies(deb):
    r = run("systemd-analyze", "verify", UNIT, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "btrt.service" not in r.stdout + r.stderr, r.stdout + r.stderr
    unit = UNIT.read_text()
    for line in ("User=btrt", "ExecStart=/usr/sbin/btrt run -c /etc/btrt/btrt.conf",
                 "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure",
                 "NoNewPrivileges=yes", "ProtectSystem=strict",
                 "ReadWritePaths=/var/log/btrt /var/lib/btrt",
                 "AmbientCapabilities=CAP_NET_BIND_SERVICE"):
        assert line in unit.splitlines(), line


def test_runs_as_the_service_user(deb):
    """What the unit starts, without systemd: the installed binary as user btrt, with the
    packaged directories for its log, database and hashlist."""
    port = free_port()
    conf = CONF / "btrt.conf"
    text = (CONF / "btrt.conf.default").read_text()
    # Loopback only, and no neighbour: tests send traffic to 127.0.0.0/8 alone.
    text = text.replace('listen: ["0.0.0.0:80"]', f'listen: ["127.0.0.1:{port}"]')
    text = re.sub(r"(?ms)^neighbors:\n.*?(?=^\S)", "neighbors: []\n", text)
    extra = ('peer_groups:\n  - name: "local peers"\n    priority: 0\n'
             '    cidr_list: ["127.1.0.0/16"]\n')
    text = re.sub(r"(?ms)^peer_groups:\n.*?(?=^\S)", extra, text)
    text = text.replace("interval: 600", "interval: 1")
    assert "example.net" not in text and f"127.0.0.1:{port}" in text
    conf.write_text(text)
    assert run("/usr/sbin/btrt", "check-config", "-c", conf).stdout.strip() == "OK"

    # setpriv execs btrt itself (runuser would stand between it and SIGTERM).
    proc = subprocess.Popen(["setpriv", "--reuid=btrt", "--regid=btrt", "--init-groups",
                             "/usr/sbin/btrt", "run", "-c", str(conf)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        def healthy():
            assert proc.poll() is None, proc.stdout.read()
            try:
                req = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                return raw_request("127.0.0.1", port, req, timeout=1)[0] == 200
            except OSError:
                return False
        wait_for(healthy, timeout=15, what="the installed btrt to serve")
        q = (f"/announce?info_hash={quote(info_hash(1))}&peer_id={quote(peer_id(1))}"
             f"&port=6881&left=0")
        req = f"GET {q} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
        assert raw_request("127.0.0.1", port, req, source="127.1.0.1")[0] == 200
        hashlist = Path("/var/lib/btrt/hashlist.bin")
        wait_for(lambda: hashlist.exists() and hashlist.read_bytes() == info_hash(1),
                 timeout=10, what="hashlist.bin in /var/lib/btrt")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    uid = pwd.getpwnam("btrt").pw_uid
    assert Path("/var/lib/btrt/btrt.db").stat().st_uid == uid
    logs = list(Path("/var/log/btrt").glob("btrt-*.log"))
    assert logs and logs[0].stat().st_uid == uid


def test_purge_removes_what_the_package_made(deb):
    run("dpkg", "--purge", "btrt")
    for path in ("/usr/sbin/btrt", UNIT, CONF, "/var/lib/btrt", "/var/log/btrt"):
        assert not Path(path).exists(), path


@pytest.fixture(scope="module")
def rpm(tmp_path_factory):
    return cpack("RPM", tmp_path_factory.mktemp("rpm"))


def test_rpm_lists_files_dependencies_and_scripts(rpm):
    files = run("rpm", "-qpl", rpm).stdout.split()
    for path in ("/usr/sbin/btrt", "/usr/lib/systemd/system/btrt.service",
                 "/etc/btrt/btrt.conf.default", "/etc/btrt/btrt.db_creation.sql",
                 "/etc/btrt/local_cidrs.conf", "/var/lib/btrt", "/var/log/btrt",
                 *OPERATOR_KIT):
        assert path in files, path
    # owned by the distribution
    for path in ("/usr/sbin", "/usr/share/man/man8", "/usr/share/man/man5",
                 "/usr/share/bash-completion/completions"):
        assert path not in files, path
    assert not [p for p in files if "logrotate" in p], files

    requires = run("rpm", "-qpR", rpm).stdout
    for dep in ("libsoci_core.so.4.0()(64bit)", "libyaml-cpp.so.0.7()(64bit)",
                "libspdlog.so.1.10()(64bit)", "libfmt.so.9()(64bit)", "soci-sqlite3",
                "soci-mysql"):
        assert dep in requires.split("\n"), requires

    config = run("rpm", "-qp", "--configfiles", rpm).stdout.split()
    assert config == ["/etc/btrt/local_cidrs.conf", "/etc/btrt/neighboring_cidrs.conf"]
    scripts = run("rpm", "-qp", "--scripts", rpm).stdout
    assert "useradd --system" in scripts and "btrt.conf.default" in scripts
