"""The append-only file, multi-part as Redis 7.0 keeps it: a base, increments, a manifest.

Layout (aof.c): `<dir>/<appenddirname>/` holds
- `<appendfilename>.<n>.base.rdb` (an RDB, with `aof-use-rdb-preamble yes`) or `.base.aof`
  (commands that rebuild the dataset), written by a rewrite;
- `<appendfilename>.<n>.incr.aof`: the effects of every write since, as RESP commands, with a
  SELECT whenever the database changes;
- `<appendfilename>.manifest`: `file <name> seq <n> type <b|i>` lines naming the base and the
  increments in order. It is replaced atomically (temp file, fsync, rename), so it always
  names a complete set.

Writing: effects (what a command did, not what it was asked) are kept as they arrive, then
encoded together and written with one `os.write` per event-loop turn, before any reply of that turn is written to a
socket (the connections defer those replies, and the end-of-turn writer calls `flush` first),
so a kill -9 never loses an acknowledged write. `appendfsync`:
- `always`: replies are held back until an fsync covering the effects written before them
  has completed, so no write is acknowledged before it is on disk. The fsync runs on a worker
  thread (one at a time; writes that arrive meanwhile share the next one), never on the
  event loop.
- `everysec`: a worker-thread fsync once a second when something was written.
- `no`: the kernel decides.
With `no-appendfsync-on-rewrite yes` no fsync is started while a rewrite or save child runs
(as Redis; `always` then acknowledges without waiting).

BGREWRITEAOF forks a child that writes a new base from its copy of the keyspace; at the
fork the parent opens the next increment and records it in the manifest, so until the child
is done the old base and increments plus the new increment are the AOF. When it succeeds,
the new base replaces them in a new manifest and the old files are deleted. Enabling
`appendonly` at run time does the same from an empty AOF. `auto-aof-rewrite-percentage` /
`-min-size` start rewrites as the AOF grows.

Loading (start-up, AOF preferred over the dump as in Redis): the base (RDB or commands),
then each increment, replaying commands through a connectionless client; a transaction is
applied when its EXEC is read. A last increment that ends inside a command or a MULTI is
cut back to its last complete command when `aof-load-truncated` is yes (logged), refused
otherwise; damage anywhere else is refused. A Redis 6 single-file AOF
(`<dir>/<appendfilename>`) is taken as the base of a new multi-part AOF.

Write errors: writes are refused with MISCONF until the file takes data again (Redis exits
under `always`; we keep serving reads and hold the unacknowledged replies).

Not here: the RDB codec (rdb.py), snapshot scheduling (snapshot.py).
"""

from __future__ import annotations

import concurrent.futures
import gc
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from keystream.keyspace.datatypes.hash import Hash
from keystream.keyspace.datatypes.list import ListValue, decode_element
from keystream.keyspace.datatypes.set import Set
from keystream.keyspace.datatypes.stream import Stream, format_id
from keystream.keyspace.datatypes.zset import ZSet
from keystream.persistence.rdb import RdbError, parse_rdb
from keystream.redisconf import quote, split_args

if TYPE_CHECKING:
    from keystream.engine import Engine
    from keystream.persistence.snapshot import Snapshots

log = logging.getLogger("keystream.persistence")

__all__ = ["AofError", "AppendOnly", "Manifest", "encode_command", "parse_commands"]

_REWRITE_ITEMS_PER_CMD = 64  # as Redis's AOF_REWRITE_ITEMS_PER_CMD
_MANIFEST_MAX_LINE = 1024  # as Redis's AOF_ANNOTATION_LINE_MAX_LEN


class AofError(ValueError):
    """An AOF that cannot be loaded; the text says which file and why."""


_BULK_HEADERS = [b"$%d\r\n" % n for n in range(257)]
_THREE = b"*3\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n"  # SET k v, HSET k f v...: the commonest shape


def encode_command(argv: list[bytes]) -> bytes:
    """argv as a RESP array of bulk strings."""
    parts = [b"*%d\r\n" % len(argv)]
    headers = _BULK_HEADERS
    for a in argv:
        n = len(a)
        parts += (headers[n] if n <= 256 else b"$%d\r\n" % n, a, b"\r\n")
    return b"".join(parts)


def parse_commands(data: bytes) -> tuple[list[list[bytes]], int, str]:
    """The complete commands in data, the offset after the last one, and why parsing stopped
    early ('' when data ended cleanly, 'truncated' when it ends inside a command,
    'corrupt: ...' for bad bytes). `#` annotation lines are skipped."""
    out: list[list[bytes]] = []
    pos = 0
    n = len(data)
    while pos < n:
        if data[pos] == 0x23:  # '#': an annotation line (#TS:...)
            end = data.find(b"\n", pos)
            if end < 0:
                return out, pos, "truncated"
            pos = end + 1
            continue
        start = pos
        if data[pos] != 0x2A:
            return out, start, f"corrupt: expected '*' at offset {pos}"
        end = data.find(b"\r\n", pos)
        if end < 0:
            return out, start, "truncated"
        try:
            count = int(data[pos + 1:end])
        except ValueError:
            return out, start, f"corrupt: bad array length at offset {pos}"
        if count < 1:
            return out, start, f"corrupt: bad array length at offset {pos}"
        pos = end + 2
        argv: list[bytes] = []
        for _ in range(count):
            if pos >= n:
                return out, start, "truncated"
            if data[pos] != 0x24:
                return out, start, f"corrupt: expected '$' at offset {pos}"
            end = data.find(b"\r\n", pos)
            if end < 0:
                return out, start, "truncated"
            try:
                length = int(data[pos + 1:end])
            except ValueError:
                return out, start, f"corrupt: bad bulk length at offset {pos}"
            if length < 0:
                return out, start, f"corrupt: bad bulk length at offset {pos}"
            pos = end + 2
            if pos + length + 2 > n:
                return out, start, "truncated"
            if data[pos + length:pos + length + 2] != b"\r\n":
                return out, start, f"corrupt: bulk not terminated at offset {pos + length}"
            argv.append(data[pos:pos + length])
            pos += length + 2
        out.append(argv)
    return out, pos, ""


@dataclass
class Manifest:
    """The AOF's file list: one base (or none) and the increments, in order."""

    base: str | None = None
    base_seq: int = 0
    incrs: list[tuple[str, int]] = field(default_factory=list)
    # Files a rewrite made obsolete, kept while aof-disable-auto-gc is yes
    history: list[tuple[str, int]] = field(default_factory=list)

    def render(self) -> bytes:
        lines = []
        if self.base is not None:
            lines.append(f"file {quote(self.base)} seq {self.base_seq} type b")
        lines.extend(f"file {quote(name)} seq {seq} type h" for name, seq in self.history)
        lines.extend(f"file {quote(name)} seq {seq} type i" for name, seq in self.incrs)
        return ("\n".join(lines) + "\n").encode()

    @classmethod
    def parse(cls, text: str) -> Manifest:
        m = cls()
        for lineno, raw in enumerate(text.split("\n"), 1):
            if len(raw) > _MANIFEST_MAX_LINE:
                raise AofError("The AOF manifest file contains too long line")
            line = raw.strip()
            if line.startswith("#"):
                continue
            if not line:
                if raw == "" and lineno == len(text.split("\n")):
                    continue  # the end of the last line
                raise AofError(f"Invalid AOF manifest file format (blank line {lineno})")
            words = split_args(line)
            if words is None or len(words) % 2:
                raise AofError(f"Invalid AOF manifest file format (line {lineno})")
            fields = dict(zip(words[::2], words[1::2], strict=True))
            name, seq, kind = fields.get("file"), fields.get("seq"), fields.get("type")
            if name is None or seq is None or kind is None or not seq.isdigit():
                raise AofError(f"Invalid AOF manifest file format (line {lineno})")
            if kind not in ("b", "h", "i"):
                raise AofError(f"Unknown AOF file type '{kind}' (line {lineno})")
            if os.path.basename(name) != name:
                raise AofError(f"Invalid AOF file name in the manifest: {name!r}")
            if kind == "b":
                if m.base is not None:
                    raise AofError("Found duplicate base file information in the AOF manifest")
                m.base, m.base_seq = name, int(seq)
            elif kind == "h":
                m.history.append((name, int(seq)))
            elif kind == "i":
                if m.incrs and int(seq) <= m.incrs[-1][1]:
                    raise AofError("Found a non-monotonic sequence number in the AOF manifest")
                m.incrs.append((name, int(seq)))
        if m.base is None and not m.incrs:
            raise AofError("Found an empty AOF manifest")
        return m


class AppendOnly:
    """The server's AOF: writing effects, fsync policy, rewrites, loading."""

    def __init__(self, engine: Engine, snapshots: Snapshots) -> None:
        self.engine = engine
        self.snapshots = snapshots
        self.manifest: Manifest | None = None
        self.fd: int | None = None
        self.pending: list[Any] = []  # effects lists (and #TS annotations) not yet encoded
        self.buf: list[bytes] = []  # encoded, not yet written
        self.selected_db = -1
        self.last_ts = 0
        # Durability bookkeeping: effects appended (generation), written, known fsynced.
        self.generation = 0
        self.written = 0
        self.synced = 0
        self.fsync_running = False
        self.flush_scheduled = False
        self.held: dict[Any, list[tuple[int, bytes]]] = {}
        self.close_after: set[Any] = set()
        self.write_error = ""
        self.loading = False
        self.current_size = 0
        self.base_size = 0
        self.last_fsync = time.monotonic()
        # Rewrites
        self.child_pid: int | None = None
        self.child_started = 0.0
        self.child_tmp = ""
        self.rewrite_scheduled = False
        self.rewrites = 0
        self.rewrite_failures = 0
        self.limit_delay_min = 0  # automatic rewrites held back after repeated failures
        self.limit_until = 0.0
        self.last_rewrite_ok = True
        self.last_rewrite_time_sec = -1
        self.turn_on_pending = False  # appendonly yes waiting for another child to finish
        self.flush_sleep_us = 0  # DEBUG AOF-FLUSH-SLEEP: a testing aid
        # Settings read for every write, kept current by the config listener
        self.always = engine.config["appendfsync"] == "always"
        self.timestamps = bool(engine.config["aof-timestamp-enabled"])
        engine.config.listeners.append(self._on_config_change)
        self._pending_base: tuple[str, int] = ("", 0)
        self._first_new_incr = 0
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    def _on_config_change(self, name: str, value: Any) -> None:
        if name == "appendfsync":
            self.always = value == "always"
        elif name == "aof-timestamp-enabled":
            self.timestamps = bool(value)

    # -- paths ----------------------------------------------------------------------------
    @property
    def config(self) -> Any:
        return self.engine.config

    def dir_path(self) -> str:
        return os.path.join(self.snapshots.base_dir(), self.config["appenddirname"])

    def _name(self, seq: int, kind: str) -> str:
        return f"{self.config['appendfilename']}.{seq}.{kind}"

    def _manifest_path(self) -> str:
        return os.path.join(self.dir_path(), f"{self.config['appendfilename']}.manifest")

    def _write_manifest(self, m: Manifest) -> None:
        path = self._manifest_path()
        tmp = os.path.join(self.dir_path(), f"temp-{os.getpid()}.manifest")
        with open(tmp, "wb") as f:
            f.write(m.render())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(self.dir_path())
        self.manifest = m

    @property
    def enabled(self) -> bool:
        return self.fd is not None

    # -- effects in ---------------------------------------------------------------------------
    def feed(self, effects: list[tuple[int, list[bytes]]]) -> None:
        """Take the effects of an execution unit (the engine's effects stream); they are
        encoded together, once per turn, when `flush` writes them. Emitted effects are
        never changed afterwards, so keeping them until then is safe."""
        if self.fd is None or self.loading:
            return
        pending = self.pending
        if self.timestamps:
            now = int(time.time())
            if now != self.last_ts:
                self.last_ts = now
                pending.append(b"#TS:%d\r\n" % now)
        pending.append(effects)
        self.generation += 1
        if not self.flush_scheduled:
            self.flush_scheduled = True
            loop = self.engine.loop
            if loop is not None:
                loop.call_soon(self.flush)
            else:
                self.flush()

    def _encode_pending(self) -> None:
        """Encode what `feed` took into the write buffer, with a SELECT at each change of
        database."""
        parts: list[bytes] = []
        append = parts.append
        selected = self.selected_db
        three = _THREE
        for item in self.pending:
            if type(item) is bytes:
                append(item)
                continue
            for db_index, argv in item:
                if db_index != selected:
                    append(encode_command([b"SELECT", b"%d" % db_index]))
                    selected = db_index
                if len(argv) == 3:
                    a, b, c = argv
                    append(three % (len(a), a, len(b), b, len(c), c))
                else:
                    append(encode_command(argv))
        self.selected_db = selected
        self.pending = []
        self.buf.append(b"".join(parts))

    def flush(self) -> None:
        """Write what was buffered this turn; start an fsync if the policy wants one now."""
        self.flush_scheduled = False
        if self.fd is None:
            return
        if self.pending:
            self._encode_pending()
        elif not self.buf:
            return
        data = self.buf[0] if len(self.buf) == 1 else b"".join(self.buf)
        if self.flush_sleep_us:
            time.sleep(self.flush_sleep_us / 1e6)
        try:
            written = os.write(self.fd, data)
            while written < len(data):
                written += os.write(self.fd, data[written:])
        except OSError as e:
            if not self.write_error:
                log.warning("Error writing to the AOF file: %s", e.strerror)
            self.write_error = e.strerror or str(e)
            self.engine.gated = True
            return
        self.buf = []
        self.current_size += len(data)
        self.written = self.generation
        if self.write_error:
            log.warning("AOF write error looks solved. Redis can write again.")
            self.write_error = ""
            self.snapshots.update_gate()
        if self.always:
            self._start_fsync()

    def _fsync_paused(self) -> bool:
        return bool(self.config["no-appendfsync-on-rewrite"]) and (
            self.child_pid is not None or self.snapshots.child_active())

    def _start_fsync(self) -> None:
        if self.fsync_running or self.fd is None or self.synced >= self.written:
            return
        if self._fsync_paused():
            self.synced = self.written
            self._release()
            return
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="aof-fsync")
        self.fsync_running = True
        target = self.written
        fd = self.fd
        future = self._pool.submit(os.fsync, fd)
        loop = self.engine.loop

        def done(f: concurrent.futures.Future[None]) -> None:
            if loop is not None and loop.is_running():
                loop.call_soon_threadsafe(self._fsync_done, target, f)
            else:
                self._fsync_done(target, f)

        future.add_done_callback(done)

    def _fsync_done(self, target: int, f: concurrent.futures.Future[None]) -> None:
        self.fsync_running = False
        self.last_fsync = time.monotonic()
        if f.exception() is not None:
            log.warning("Error fsyncing the AOF: %s", f.exception())
            self.write_error = str(f.exception())
            self.engine.gated = True
            return
        self.synced = max(self.synced, target)
        self._release()
        if self.always and self.synced < self.written:
            self._start_fsync()

    # -- holding replies until their effects are on disk (appendfsync always) ----------------
    def holding(self) -> bool:
        return self.always and self.synced < self.generation and self.fd is not None

    def hold(self, conn: Any, data: bytes) -> None:
        self.held.setdefault(conn, []).append((self.generation, data))

    def holds(self, conn: Any) -> bool:
        return conn in self.held

    def close_when_released(self, conn: Any) -> None:
        self.close_after.add(conn)

    def _release(self) -> None:
        synced = self.synced
        for conn in list(self.held):
            items = self.held[conn]
            i = 0
            while i < len(items) and items[i][0] <= synced:
                i += 1
            if i:
                conn.write_now(b"".join(d for _, d in items[:i]))
            if i == len(items):
                del self.held[conn]
                if conn in self.close_after:
                    self.close_after.discard(conn)
                    conn.close_after_write()
            else:
                del items[:i]

    def forget(self, conn: Any) -> None:
        self.held.pop(conn, None)
        self.close_after.discard(conn)

    # -- cron ---------------------------------------------------------------------------------
    def cron(self) -> None:
        pid = self.child_pid
        if pid is not None:
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, 1 << 8
            if done:
                self._rewrite_done(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0)
        if (self.rewrite_scheduled and self.child_pid is None and not self.snapshots.child_active()
                and not self._rewrite_limited()):
            self.rewrite(turning_on=self.turn_on_pending)
            self.turn_on_pending = False
            return
        if self.fd is None:
            return
        if self.pending or self.buf:
            self.flush()
        if (self.config["appendfsync"] == "everysec" and self.synced < self.written
                and time.monotonic() - self.last_fsync >= 1.0):
            self._start_fsync()
        if self.child_pid is None and not self.snapshots.child_active():
            pct = self.config["auto-aof-rewrite-percentage"]
            if pct and self.current_size > self.config["auto-aof-rewrite-min-size"]:
                base = self.base_size or 1
                if (self.current_size - base) * 100 // base >= pct and not self._rewrite_limited():
                    log.info("Starting automatic rewriting of AOF on %d%% growth",
                             (self.current_size - base) * 100 // base)
                    self.rewrite()

    def _rewrite_limited(self) -> bool:
        """Redis's aofRewriteLimited: after 3 consecutive failed rewrites, scheduled and
        automatic ones wait 1 minute, then 2, 4, ... up to an hour between tries
        (BGREWRITEAOF itself is never held back)."""
        if self.rewrite_failures < 3:
            self.limit_delay_min = 0
            self.limit_until = 0.0
            return False
        if self.limit_until:
            if time.time() < self.limit_until:
                return True
            self.limit_until = 0.0
            return False
        self.limit_delay_min = min(60, self.limit_delay_min * 2 or 1)
        self.limit_until = time.time() + self.limit_delay_min * 60
        log.warning("Background AOF rewrite has repeatedly failed and triggered the limit, will retry in "
                    "%d minutes", self.limit_delay_min)
        return True

    def write_denied(self) -> str | None:
        if self.write_error:
            return f"MISCONF Errors writing to the AOF file: {self.write_error}"
        return None

    # -- turning on and off -------------------------------------------------------------------
    def start_at_boot(self) -> None:
        """appendonly yes at start-up, after loading: make sure a complete AOF exists, then
        open the last increment for appending."""
        os.makedirs(self.dir_path(), exist_ok=True)
        m = self.manifest
        if m is None:
            # No AOF yet: the current (just loaded) dataset becomes the base.
            base = self._name(1, "base.rdb" if self.config["aof-use-rdb-preamble"] else "base.aof")
            self._write_base(os.path.join(self.dir_path(), base))
            m = Manifest(base, 1, [])
        if not m.incrs:
            seq = 1
            m = Manifest(m.base, m.base_seq, [(self._name(seq, "incr.aof"), seq)], m.history)
        self._open_incr(m.incrs[-1][0])  # created before the manifest names it
        self._write_manifest(m)
        self.base_size = _size(os.path.join(self.dir_path(), m.base)) if m.base else 0
        self.current_size = self.base_size + sum(_size(os.path.join(self.dir_path(), n)) for n, _ in m.incrs)

    def _open_incr(self, name: str) -> None:
        if self.fd is not None:
            os.close(self.fd)
        self.fd = os.open(os.path.join(self.dir_path(), name), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.selected_db = -1  # each file starts with a SELECT (and a #TS: annotation when enabled)
        self.last_ts = 0
        # Effects reach us only while a file is open: with the AOF off, writes skip this.
        subscribers = self.engine.effect_subscribers
        if self.feed not in subscribers:
            subscribers.append(self.feed)

    def enable(self) -> bool:
        """CONFIG SET appendonly yes: start from a rewrite of the current dataset."""
        if self.fd is not None:
            return True
        os.makedirs(self.dir_path(), exist_ok=True)
        if self.manifest is None and os.path.exists(self._manifest_path()):
            with open(self._manifest_path(), encoding="utf-8") as f:
                self.manifest = Manifest.parse(f.read())
        if self.snapshots.child_active():
            log.info("AOF was enabled but there is already another background operation. An AOF "
                     "background was scheduled to start when possible.")
            self.rewrite_scheduled = self.turn_on_pending = True
            return True
        return self.rewrite(turning_on=True)

    def delete_history(self) -> None:
        """aof-disable-auto-gc no: delete the files kept as history, and forget them."""
        m = self.manifest
        if m is None or not m.history:
            return
        self._write_manifest(Manifest(m.base, m.base_seq, m.incrs))
        for name, _ in m.history:
            _unlink(os.path.join(self.dir_path(), name))

    def disable(self) -> None:
        """CONFIG SET appendonly no: flush, fsync, close; a rewrite in progress is stopped."""
        self.kill_child()
        if self.fd is None:
            return
        self.flush()
        try:
            os.fsync(self.fd)
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None
        self.engine.effect_subscribers.remove(self.feed)
        self.synced = self.written = self.generation
        self._release()

    # -- rewriting ------------------------------------------------------------------------------
    def rewrite(self, turning_on: bool = False) -> bool:
        """BGREWRITEAOF: fork a child writing a new base; the parent moves on to a new
        increment at once. False if the fork failed."""
        d = self.dir_path()
        os.makedirs(d, exist_ok=True)
        self.flush()
        m = self.manifest or Manifest()
        next_incr = (m.incrs[-1][1] if m.incrs else 0) + 1
        next_base = m.base_seq + 1
        incr_name = self._name(next_incr, "incr.aof")
        gc.collect(0)
        try:
            started = time.perf_counter()
            pid = os.fork()
        except OSError as e:
            log.warning("Can't rewrite append only file in background: fork: %s", e.strerror)
            self.last_rewrite_ok = False
            return False
        tmp = os.path.join(d, f"temp-rewriteaof-bg-{pid if pid else os.getpid()}.aof")
        if pid == 0:
            code = 1
            try:
                gc.disable()
                self._write_base(tmp, fsync=True)
                code = 0
            finally:
                os._exit(code)
        self.snapshots.forked(started)
        log.info("Background append only file rewriting started by pid %d", pid)
        self.child_pid = pid
        self.child_started = time.monotonic()
        self.child_tmp = tmp
        self.rewrite_scheduled = False
        self._pending_base = (self._name(next_base, "base.rdb" if self.config["aof-use-rdb-preamble"]
                                         else "base.aof"), next_base)
        self._first_new_incr = next_incr
        if turning_on or self.fd is not None:
            # Effects from now on go to a new increment, recorded at once when the AOF is on
            # (a crash before the rewrite ends keeps old base + increments + this one).
            was_on = self.fd is not None
            self._open_incr(incr_name)  # created before the manifest names it
            if was_on:
                self._write_manifest(Manifest(m.base, m.base_seq, [*m.incrs, (incr_name, next_incr)],
                                              m.history))
        return True

    def _write_base(self, path: str, fsync: bool = True) -> None:
        with open(path, "wb") as f:
            if self.config["aof-use-rdb-preamble"]:
                self.snapshots.write_rdb_to(f, aof_base=True)
            else:
                if self.timestamps:  # a base in command form opens with the time, as Redis's
                    f.write(b"#TS:%d\r\n" % int(time.time()))
                _write_commands(f, self.engine)
            f.flush()
            if fsync:
                os.fsync(f.fileno())

    def _rewrite_done(self, ok: bool) -> None:
        self.child_pid = None
        self.last_rewrite_time_sec = int(time.monotonic() - self.child_started)
        d = self.dir_path()
        if not ok:
            log.warning("Background AOF rewrite terminated with error")
            self.last_rewrite_ok = False
            self.rewrite_failures += 1
            _unlink(self.child_tmp)
            return
        base_name, base_seq = self._pending_base
        os.replace(self.child_tmp, os.path.join(d, base_name))
        old = self.manifest or Manifest()
        keep = [(n, s) for n, s in old.incrs if s >= self._first_new_incr]
        if self.fd is not None and not keep:
            keep = [(self._name(self._first_new_incr, "incr.aof"), self._first_new_incr)]
        # Newest first, each rewrite's increments (last first) before its base, as Redis lists them
        obsolete = [(n, s) for n, s in reversed(old.incrs) if s < self._first_new_incr] + (
            [(old.base, old.base_seq)] if old.base else [])
        history = [(n, s) for n, s in obsolete if n != base_name] + old.history
        if self.config["aof-disable-auto-gc"]:
            self._write_manifest(Manifest(base_name, base_seq, keep, history))
        else:
            self._write_manifest(Manifest(base_name, base_seq, keep))
            for name, _ in history:
                _unlink(os.path.join(d, name))
        self.base_size = _size(os.path.join(d, base_name))
        self.current_size = self.base_size + sum(_size(os.path.join(d, n)) for n, _ in keep)
        self.rewrites += 1
        self.rewrite_failures = 0
        self.last_rewrite_ok = True
        log.info("Background AOF rewrite finished successfully")

    def kill_child(self) -> None:
        pid = self.child_pid
        if pid is None:
            return
        try:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        except OSError:
            pass
        self.child_pid = None
        _unlink(self.child_tmp)

    def child_active(self) -> bool:
        return self.child_pid is not None

    # -- loading --------------------------------------------------------------------------------
    def exists(self) -> bool:
        return os.path.exists(self._manifest_path()) or os.path.exists(self._old_single_file())

    def _old_single_file(self) -> str:
        return os.path.join(self.snapshots.base_dir(), self.config["appendfilename"])

    def read_manifest(self) -> Manifest:
        """The manifest on disk. A Redis 6 single-file AOF (`<dir>/<appendfilename>`) is moved
        into the AOF directory under its own name and becomes the base, as Redis 7.0 upgrades
        it; an upgrade interrupted after the manifest was written is finished."""
        path = self._manifest_path()
        old_file = self._old_single_file()
        old_name = self.config["appendfilename"]
        if not os.path.exists(path) and os.path.exists(old_file):
            os.makedirs(self.dir_path(), exist_ok=True)
            self._write_manifest(Manifest(old_name, 1, []))
        with open(path, encoding="utf-8", errors="replace") as f:
            m = Manifest.parse(f.read())
        if (m.base == old_name and not os.path.exists(os.path.join(self.dir_path(), old_name))
                and os.path.exists(old_file)):
            os.replace(old_file, os.path.join(self.dir_path(), old_name))
            _fsync_dir(self.dir_path())
            log.info("Successfully migrated an old-style AOF into the AOF directory")
        self.manifest = m
        return m

    def load(self, run: Callable[[list[bytes]], None]) -> int:
        """Replay the AOF into the (empty) keyspace: base, then increments. `run` executes one
        command on the loading client. Returns the number of commands replayed."""
        m = self.read_manifest()
        d = self.dir_path()
        files = ([(m.base, True)] if m.base else []) + [(n, False) for n, _ in m.incrs]
        replayed = 0
        self.loading = True
        try:
            for i, (name, is_base) in enumerate(files):
                path = os.path.join(d, name)
                last = i == len(files) - 1
                if not os.path.exists(path):
                    raise AofError(f"Fatal error: can't open the append log file {name} for reading: "
                                   f"No such file or directory")
                with open(path, "rb") as f:
                    data = f.read()
                if data.startswith(b"REDIS"):
                    if not is_base:
                        raise AofError(f"Unexpected RDB preamble in AOF increment {name}")
                    try:
                        contents = parse_rdb(data, self.snapshots.limits(), int(time.time() * 1000),
                                             self.config["databases"])
                    except RdbError as e:
                        raise AofError(f"Bad RDB preamble in {name}: {e}") from None
                    self.snapshots.install(contents)
                    if contents.end < len(data):  # an old-style AOF: commands after the preamble
                        replayed += self._replay(name, path, data[contents.end:], last, run,
                                                 offset=contents.end)
                    continue
                replayed += self._replay(name, path, data, last, run)
        finally:
            self.loading = False
        return replayed

    def _replay(self, name: str, path: str, data: bytes, last: bool,
                run: Callable[[list[bytes]], None], offset: int = 0) -> int:
        commands, end, why = parse_commands(data)
        # Commands of a MULTI are applied at its EXEC; an unclosed MULTI at the end is cut.
        good_end = end
        applied = 0
        queued: list[list[bytes]] | None = None
        offsets = _command_offsets(data, len(commands))
        multi_start = 0
        for k, argv in enumerate(commands):
            name_l = argv[0].lower()
            if name_l == b"multi":
                queued = []
                multi_start = offsets[k]
                continue
            if name_l == b"exec":
                if queued is None:
                    raise AofError(f"EXEC without MULTI in {name}")
                for q in queued:
                    run(q)
                applied += len(queued)
                queued = None
                continue
            if queued is not None:
                queued.append(argv)
            else:
                run(argv)
                applied += 1
        if queued is not None:
            good_end = multi_start
            why = why or "truncated"
        if why:
            if why != "truncated" or not last:
                raise AofError(f"Bad file format reading the append only file {name}: {why}")
            if not self.config["aof-load-truncated"]:
                raise AofError(f"Unexpected end of file reading the append only file {name}. You can: "
                               f"1) Make a backup of your AOF file, then use ./redis-check-aof --fix "
                               f"<filename.manifest>. 2) Alternatively you can set the "
                               f"'aof-load-truncated' configuration option to yes and restart the server.")
            log.warning("!!! Warning: short read while loading the AOF file %s!!! AOF loaded anyway "
                        "because aof-load-truncated is enabled; truncated to offset %d", name, good_end)
            os.truncate(path, offset + good_end)
        return applied

    # -- INFO -------------------------------------------------------------------------------------
    def info_lines(self) -> list[str]:
        child = self.child_pid is not None
        lines = [
            f"aof_enabled:{int(self.fd is not None or self.turn_on_pending)}",
            f"aof_rewrite_in_progress:{int(child)}",
            f"aof_rewrite_scheduled:{int(self.rewrite_scheduled)}",
            f"aof_last_rewrite_time_sec:{self.last_rewrite_time_sec}",
            f"aof_current_rewrite_time_sec:{int(time.monotonic() - self.child_started) if child else -1}",
            f"aof_last_bgrewrite_status:{'ok' if self.last_rewrite_ok else 'err'}",
            f"aof_rewrites:{self.rewrites}",
            f"aof_rewrites_consecutive_failures:{self.rewrite_failures}",
            f"aof_last_write_status:{'err' if self.write_error else 'ok'}",
            "aof_last_cow_size:0",
            "module_fork_in_progress:0", "module_fork_last_cow_size:0",
        ]
        if self.fd is not None:
            if self.pending:
                self._encode_pending()
            lines[10:10] = [
                f"aof_current_size:{self.current_size}", f"aof_base_size:{self.base_size}",
                "aof_pending_rewrite:0", f"aof_buffer_length:{sum(map(len, self.buf))}",
                f"aof_pending_bio_fsync:{int(self.fsync_running)}", "aof_delayed_fsync:0",
            ]
        return lines

    def shutdown(self) -> None:
        """Before exiting: stop a rewrite, write and fsync what is buffered."""
        self.kill_child()
        if self.fd is not None:
            self.flush()
            try:
                os.fsync(self.fd)
            except OSError:
                return
            self.synced = self.written
            self._release()  # replies held for this fsync go out before the connections close


def _command_offsets(data: bytes, count: int) -> list[int]:
    """The start offset of each of the first `count` commands (annotations skipped)."""
    offsets: list[int] = []
    pos = 0
    while len(offsets) < count:
        if data[pos] == 0x23:
            pos = data.index(b"\n", pos) + 1
            continue
        offsets.append(pos)
        end = data.index(b"\r\n", pos)
        argc = int(data[pos + 1:end])
        pos = end + 2
        for _ in range(argc):
            end = data.index(b"\r\n", pos)
            pos = end + 2 + int(data[pos + 1:end]) + 2
    return offsets


def _write_commands(f: Any, engine: Engine) -> None:
    """A base in command form: a FUNCTION LOAD per function library, then per database a
    SELECT, commands rebuilding each key (at most 64 elements per command, as Redis), and
    PEXPIREAT for keys with a deadline."""
    for library in engine.scripting.libraries.values():
        f.write(encode_command([b"FUNCTION", b"LOAD", library.code]))
    for db in engine.dbs:
        if not db.data:
            continue
        f.write(encode_command([b"SELECT", b"%d" % db.id]))
        expires = db.expires
        for key, value in db.data.items():
            for argv in _rebuild(key, value):
                f.write(encode_command(argv))
            when = expires.get(key)
            if when is not None:
                f.write(encode_command([b"PEXPIREAT", key, b"%d" % when]))


def _rebuild_stream(key: bytes, s: Stream) -> list[list[bytes]]:
    """A stream as Redis's rewriteStreamObject writes it: an XADD per entry (an empty stream:
    XADD MAXLEN 0 of a throw-away entry), XSETID with the last ID, entries-added and max
    deleted ID, then per group (name order) XGROUP CREATE with its last ID and entries-read,
    and per consumer (name order) an XCLAIM ... FORCE per pending entry, or XGROUP
    CREATECONSUMER for a consumer with none."""
    out: list[list[bytes]] = []
    if s.length:
        for sid, pairs in s.range():
            out.append([b"XADD", key, format_id(sid), *pairs])
    else:
        out.append([b"XADD", key, b"MAXLEN", b"0", b"0-1", b"x", b"y"])
    out.append([b"XSETID", key, format_id(s.last_id), b"ENTRIESADDED", b"%d" % s.entries_added,
                b"MAXDELETEDID", format_id(s.max_deleted)])
    for name in sorted(s.groups):
        g = s.groups[name]
        out.append([b"XGROUP", b"CREATE", key, name, format_id(g.last_id), b"ENTRIESREAD",
                    b"-1" if g.entries_read is None else b"%d" % g.entries_read])
        for cname in sorted(g.consumers):
            c = g.consumers[cname]
            if not c.pel:
                out.append([b"XGROUP", b"CREATECONSUMER", key, name, cname])
            for sid, nack in c.pel.items():
                out.append([b"XCLAIM", key, name, cname, b"0", format_id(sid), b"TIME",
                            b"%d" % nack.delivery_time, b"RETRYCOUNT", b"%d" % nack.delivery_count,
                            b"JUSTID", b"FORCE"])
    return out


def _rebuild(key: bytes, value: Any) -> list[list[bytes]]:
    cls = type(value)
    if cls is bytes:
        return [[b"SET", key, value]]
    items: list[bytes]
    if cls is ListValue:
        name, items = b"RPUSH", list(map(decode_element, value))
    elif cls is Set:
        name, items = b"SADD", list(value)
    elif cls is ZSet:
        name, items = b"ZADD", []
        for score, member in value.items(0, len(value)):
            items.append(repr(score).encode() if score not in (float("inf"), float("-inf"))
                         else (b"inf" if score > 0 else b"-inf"))
            items.append(member)
        return [[name, key, *items[i:i + 2 * _REWRITE_ITEMS_PER_CMD]]
                for i in range(0, len(items), 2 * _REWRITE_ITEMS_PER_CMD)]
    elif cls is Hash:
        name, items = b"HMSET", [x for kv in value.items() for x in kv]
        return [[name, key, *items[i:i + 2 * _REWRITE_ITEMS_PER_CMD]]
                for i in range(0, len(items), 2 * _REWRITE_ITEMS_PER_CMD)]
    elif cls is Stream:
        return _rebuild_stream(key, value)
    else:
        raise AofError(f"no command form for values of type {cls.__name__}")
    return [[name, key, *items[i:i + _REWRITE_ITEMS_PER_CMD]]
            for i in range(0, len(items), _REWRITE_ITEMS_PER_CMD)]


def _starts_with_rdb(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(5) == b"REDIS"


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

