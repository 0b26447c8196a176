"""`keystream serve redis.conf`: the server starts from a Redis-format file, reports its
settings, finds its dump where the file says, writes the file back on CONFIG REWRITE, and
refuses a file with an unknown directive, naming it."""

from __future__ import annotations

import os
import subprocess
import sys

import redis

from tests.conftest import free_port, wait_until


def _answers(r: redis.Redis) -> bool:
    try:
        return bool(r.ping())
    except redis.ConnectionError:
        return False


def test_serve_a_redis_conf(tmp_path) -> None:
    port = free_port()
    data = tmp_path / "data"
    data.mkdir()
    conf = tmp_path / "redis.conf"
    conf.write_text(f'# as a Redis user writes it\nport {port}\nbind 127.0.0.1\ndir "{data}"\n'
                    f'dbfilename keys.rdb\nsave 900 1\nsave 300 10\nclient-query-buffer-limit 64mb\n'
                    f'logfile "{tmp_path / "log.txt"}"\nkafka-port 0\n')
    proc = subprocess.Popen([sys.executable, "-m", "keystream", "serve", str(conf)], cwd=str(tmp_path),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        r = redis.Redis(port=port)
        wait_until(lambda: _answers(r), what="keystream to start from redis.conf")
        assert r.config_get("save") == {"save": "900 1 300 10"}
        assert r.config_get("client-query-buffer-limit") == {"client-query-buffer-limit": str(64 * 1024 * 1024)}
        r.set("k", "v")
        r.save()
        assert os.path.exists(data / "keys.rdb")
        r.config_set("maxclients", "321")
        r.config_rewrite()
        assert "maxclients 321" in conf.read_text()
        assert conf.read_text().startswith("# as a Redis user writes it\n")
        log = (tmp_path / "log.txt").read_text()
        assert "PID: " in log and "Ready to accept connections" in log
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_unknown_directive_is_refused_by_name(tmp_path) -> None:
    conf = tmp_path / "redis.conf"
    conf.write_text("port 0\nloadmodule /x.so\n")
    proc = subprocess.run([sys.executable, "-m", "keystream", "serve", "--config", str(conf)],
                          check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "line 2" in proc.stderr and "unknown directive 'loadmodule'" in proc.stderr
