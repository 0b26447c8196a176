"""`keystream serve` as a user runs it: --help lists every setting, settings come from a TOML
file, KEYSTREAM_* variables and flags (in that order of precedence) and show in CONFIG GET,
bad settings from any source are refused naming the setting, and SIGINT stops it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import redis

from keystream.config import SETTINGS
from tests.conftest import start_keystream

SERVE = [sys.executable, "-m", "keystream", "serve"]


def test_help_lists_every_setting() -> None:
    out = subprocess.run([*SERVE, "--help"], capture_output=True, text=True, timeout=30, check=True).stdout
    for flag in ("--config", "--bind", "--port", "--kafka-port", "--dir"):
        assert flag in out
    missing = [s.name for s in SETTINGS if f"--{s.name} " not in out and not out.count(f"--{s.name}\n")]
    assert not missing, missing


def test_file_env_and_flags_in_order_of_precedence(tmp_path) -> None:
    toml = tmp_path / "keystream.toml"
    toml.write_text('hz = 20\nclient-query-buffer-limit = "10mb"\nslowlog-max-len = 5\n[log.retention]\nms = 5000\n')
    h = start_keystream("--config", str(toml), "--hz", "30", "--log.retention.check.interval.ms", "1000",
                        env={"KEYSTREAM_HZ": "25", "KEYSTREAM_CLIENT_QUERY_BUFFER_LIMIT": "20mb",
                             "KEYSTREAM_MAXMEMORY_POLICY": "allkeys-lru"})
    try:
        c = redis.Redis(port=h.port, protocol=2)
        assert c.config_get("hz") == {"hz": "30"}  # flag over environment over file
        assert c.config_get("client-query-buffer-limit") == {"client-query-buffer-limit": str(20 * 1024 * 1024)}  # environment over file
        assert c.config_get("slowlog-max-len") == {"slowlog-max-len": "5"}  # file
        assert c.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
        assert c.config_get("dir")["dir"] == h.data_dir
        c.config_set("slowlog-max-len", "7")
        c.config_rewrite()
        assert "slowlog-max-len = 7" in toml.read_text()
        c.close()
    finally:
        h.stop()


@pytest.mark.parametrize("args, env, name", [
    (["--maxmemory", "lots"], {}, "maxmemory"),
    (["--log.retention.ms", "soon"], {}, "log.retention.ms"),
    (["--no-such-thing", "1"], {}, "no-such-thing"),
    ([], {"KEYSTREAM_HZ": "fast"}, "hz"),
    ([], {"KEYSTREAM_NO_SUCH_THING": "1"}, "KEYSTREAM_NO_SUCH_THING"),
    (["--config", "{file}"], {}, "appendfsync"),
])
def test_bad_settings_are_refused_naming_the_setting(tmp_path, args, env, name) -> None:
    toml = tmp_path / "bad.toml"
    toml.write_text('appendfsync = "sometimes"\n')
    args = [a.replace("{file}", str(toml)) for a in args]
    proc = subprocess.run([*SERVE, "--port", "0", "--kafka-port", "0", "--dir", str(tmp_path), *args],
                          capture_output=True, text=True, timeout=30, env={**os.environ, **env}, check=False)
    assert proc.returncode != 0
    assert name in proc.stderr, proc.stderr


def test_bind_flag_and_sigint_stops_cleanly(tmp_path) -> None:
    h = start_keystream("--bind", "127.0.0.1")
    try:
        assert redis.Redis(port=h.port, protocol=2).ping()
        assert f"127.0.0.1:{h.port}" in h.log()
    finally:
        assert h.stop(signal.SIGINT) == 0


@pytest.mark.parametrize("mode", ["no", "local"])
def test_enable_debug_command_is_honoured(mode) -> None:
    from tests.conftest import start_redis
    from tests.differential import Pair

    ks, ref = start_keystream("--enable-debug-command", mode), start_redis("--enable-debug-command", mode)
    try:
        pair = Pair(ks.port, ref.port)
        reply = pair.run("DEBUG", "SLEEP", "0")
        assert (reply == b"OK") == (mode == "local")  # our clients connect over loopback
        pair.run("CONFIG", "GET", "enable-debug-command")
        pair.close()
    finally:
        ks.stop()
        ref.stop()
