"""One rule for white space, letter case and URLs everywhere (src/text/), seen through
`btrt check-config`: where the configuration used to apply its own, narrower rule."""
import socket
import subprocess

from btrt_harness import BTRT


def check_config(tmp_path, text):
    conf = tmp_path / "btrt.conf"
    conf.write_text(text)
    return subprocess.run([str(BTRT), "check-config", "-c", str(conf)], capture_output=True,
                          text=True, timeout=30)


def test_a_neighbour_url_scheme_is_case_insensitive(tmp_path):
    # The client that polls the neighbour always took "HTTP://"; the loader refused it.
    r = check_config(tmp_path, "neighbors:\n  - name: a\n    announce_request: "
                     "\"HTTP://retracker.example.net/announce?info_hash={info_hash}\"\n")
    assert r.returncode == 0, r.stderr


def test_a_bare_ipv6_mysql_address_is_refused_with_a_hint(tmp_path):
    # "tcp://::1" used to be read as host "::" and port 1.
    r = check_config(tmp_path, "database:\n  url: \"tcp://::1\"\n  schema: btrt\n")
    assert r.returncode == 2
    assert "needs brackets: tcp://[ADDRESS]:PORT" in r.stderr
    r = check_config(tmp_path, "database:\n  url: \"tcp://[::1]\"\n  schema: btrt\n")
    assert r.returncode == 0, r.stderr


def test_a_block_scalar_value_loses_its_final_newline(tmp_path):
    # A YAML block scalar ends with a newline; it is white space like a trailing blank.
    r = check_config(tmp_path, "forwarding:\n  mode: |\n    always\n")
    assert r.returncode == 0, r.stderr
    r = check_config(tmp_path, "logging:\n  level: >\n    debug\n")
    assert r.returncode == 0, r.stderr


def test_a_bracketed_ipv6_mysql_address_is_connected_to(tmp_path):
    # tcp://[::1]:PORT used to reach the MySQL client as host "[::1]", which no resolver
    # knows. A listener on [::1] that closes at once stands in for the server: the
    # connection itself is the proof.
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as server:
        server.bind(("::1", 0))
        server.listen(1)
        server.settimeout(20)
        port = server.getsockname()[1]
        conf = tmp_path / "btrt.conf"
        conf.write_text(f"database:\n  url: \"tcp://[::1]:{port}\"\n  schema: btrt\n")
        proc = subprocess.Popen([str(BTRT), "db", "init", "-c", str(conf)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            connection, peer = server.accept()
            connection.close()
        finally:
            _, err = proc.communicate(timeout=30)
    assert peer[0] == "::1"
    assert "Unknown server host" not in err
