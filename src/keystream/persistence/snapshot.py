"""RDB snapshots of the keyspace: SAVE, BGSAVE, save points, loading, shutdown saves.

As Redis does it (rdb.c, server.c):
- A snapshot is written to `temp-<pid>.rdb` next to the dump, fsynced, then renamed over
  the dump (and the directory fsynced), so a crash mid-save never leaves a broken dump.
- BGSAVE forks: the child writes the file from its copy-on-write image of the keyspace and
  exits (status 0: success); the parent keeps serving and reaps the child from the cron
  (`waitpid(WNOHANG)`, never blocking). On success the dirty counter drops by what it was
  at the fork and LASTSAVE moves; on failure `rdb_last_bgsave_status` is err and, with
  save points configured and `stop-writes-on-bgsave-error`, writes are refused (MISCONF)
  until a save succeeds.
- Save points (`save "3600 1 300 100 60 10000"`, Redis's default): the cron starts a BGSAVE
  when, for some point, at least <changes> writes happened and <seconds> passed since the
  last successful save (after a failed one, not before 5 seconds have passed).
- Loading at start-up happens with the listeners open: the file is parsed in a worker
  thread (nothing is installed until all of it parsed and its checksum matched) while
  clients get LOADING errors; a corrupt file stops the server with the reason logged.
- Where the dump lives: `<dir>/<dbfilename>` when `dir` or `dbfilename` is set (every
  redis.conf sets them; tools and Redis's test suite look there); otherwise under the data
  directory's `redis/` folder (`./keystream-data/redis/dump.rdb`), beside the Kafka data.

Memory: CPython's reference counting writes to every object the child visits, so a
BGSAVE's copy-on-write can approach the keyspace's size (Redis copies only pages written
during the save).

The append-only file is persistence/aof.py; `Snapshots` owns it (`aof`) because the two
share the one-child-at-a-time rule, the MISCONF gate and the start-up choice of what to load.

Function libraries are saved as FUNCTION2 records (their code) and loaded back through
the scripting layer (`engine.scripting`), as Redis 7.0 does.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from keystream.keyspace.db import LFU_INIT_VAL
from keystream.persistence.aof import AofError, AppendOnly
from keystream.persistence.rdb import Limits, RdbContents, RdbError, RdbWriter, parse_rdb
from keystream.resp import errors
from keystream.resp.errors import CommandError

if TYPE_CHECKING:
    from keystream.engine import Engine

log = logging.getLogger("keystream.persistence")

__all__ = ["Snapshots"]

_BGSAVE_RETRY_DELAY = 5  # seconds after a failed BGSAVE before save points try again


def parse_save_points(text: str) -> list[tuple[int, int]]:
    """The (seconds, changes) pairs of a `save` setting; ValueError if malformed."""
    words = text.split()
    if len(words) % 2:
        raise ValueError("Invalid save parameters")
    points = []
    for i in range(0, len(words), 2):
        seconds, changes = int(words[i]), int(words[i + 1])
        if seconds < 1 or changes < 0:
            raise ValueError("Invalid save parameters")
        points.append((seconds, changes))
    return points


class Snapshots:
    """The server's RDB persistence state and operations."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.lastsave = int(time.time())
        self.last_bgsave_ok = True
        self.last_bgsave_try = 0
        self.last_bgsave_time_sec = -1
        self.saves = 0
        self.child_pid: int | None = None
        self.child_started = 0.0
        self.child_tmp = ""
        self.child_info: ChildInfoReader | None = None
        self.last_cow_size = 0
        self.dirty_at_fork = 0
        self.bgsave_scheduled = False
        self.loading = False
        self.loading_started = 0
        self.loading_bytes = 0
        self.last_load_keys_loaded = 0
        self.last_load_keys_expired = 0
        self.skip_checksum_validation = False  # DEBUG SET-SKIP-CHECKSUM-VALIDATION
        self.total_forks = 0  # INFO stats (BGSAVE and AOF rewrite children); RESETSTAT zeroes
        self.latest_fork_usec = 0
        self.aof = AppendOnly(engine, self)
        engine.config.listeners.append(self.on_config_change)

    # -- where ----------------------------------------------------------------------------
    def base_dir(self) -> str:
        """Where the dump and the AOF directory live (see the module docstring)."""
        config = self.engine.config
        if {"dir", "dbfilename", "appenddirname"} & config.explicit:
            return str(config["dir"])
        return os.path.join(config["dir"], "redis")

    def rdb_path(self) -> str:
        return os.path.join(self.base_dir(), self.engine.config["dbfilename"])

    def limits(self) -> Limits:
        return Limits.from_config(self.engine.config)

    # -- writing --------------------------------------------------------------------------
    def write_rdb_to(self, f: Any, aof_base: bool = False,
                     progress: Callable[[int], None] | None = None) -> None:
        """Write the whole keyspace as an RDB to the binary file f (aof_base: as the base of
        an AOF, which its aux field says)."""
        engine = self.engine
        config = engine.config
        w = RdbWriter(f, self.limits(), bool(config["rdbchecksum"]))
        w.aux(b"redis-ver", engine.redis_version.encode())
        w.aux(b"redis-bits", b"64")
        w.aux(b"ctime", b"%d" % int(time.time()))
        w.aux(b"used-mem", b"%d" % _rss_bytes())
        w.aux(b"aof-base", b"1" if aof_base else b"0")
        for library in engine.scripting.libraries.values():
            w.function(library.code)
        policy = str(config["maxmemory-policy"])
        lru, lfu = "lru" in policy, "lfu" in policy
        delay = config["rdb-key-save-delay"]
        saved = 0
        for db in engine.dbs:
            data = db.data
            if not data:
                continue
            expires = db.expires
            w.select_db(db.id, len(data), len(expires))
            if not (lru or lfu or delay):
                saved = w.keys(data.items(), expires, progress, saved)
                continue
            for key, value in data.items():
                w.key(key, value, expires.get(key),
                      db.idle_ms(key) // 1000 if lru else None,
                      db.frequency(key) if lfu else None)
                saved += 1
                if delay:
                    debug_delay(delay, saved)
                if progress is not None and not saved & 1023:
                    progress(saved)
        w.finish()

    def _write(self, path: str, progress: Callable[[int], None] | None = None) -> None:
        """Write the whole keyspace to path atomically (temp file, fsync, rename)."""
        directory = os.path.dirname(path) or "."
        os.makedirs(directory, exist_ok=True)
        tmp = os.path.join(directory, f"temp-{os.getpid()}.rdb")
        try:
            with open(tmp, "wb") as f:
                self.write_rdb_to(f, progress=progress)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            _fsync_dir(directory)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def save(self) -> bool:
        """SAVE: write in the foreground. True on success (state updated as Redis's rdbSave)."""
        path = self.rdb_path()
        try:
            self._write(path)
        except OSError as e:
            log.warning("Failed saving the DB: %s", e.strerror or e)
            self.last_bgsave_ok = False
            self.update_gate()
            return False
        log.info("DB saved on disk")
        self.engine.dirty = 0
        self.lastsave = int(time.time())
        self.last_bgsave_ok = True
        self.update_gate()
        self.saves += 1
        return True

    def bgsave(self) -> bool:
        """Fork a child that writes the snapshot; False if fork failed."""
        path = self.rdb_path()
        self.last_bgsave_try = int(time.time())
        self.dirty_at_fork = self.engine.dirty
        gc.collect(0)
        info_r, info_w = os.pipe()
        try:
            started = time.perf_counter()
            pid = os.fork()
        except OSError as e:
            os.close(info_r)
            os.close(info_w)
            log.warning("Can't save in background: fork: %s", e.strerror)
            self.last_bgsave_ok = False
            self.update_gate()
            return False
        if pid == 0:  # the child: write and leave without running any parent cleanup
            code = 1
            try:
                gc.disable()
                os.close(info_r)
                reporter = ChildInfo(info_w)
                self._write(path, reporter.progress)
                reporter.done()
                code = 0
            finally:
                os._exit(code)
        self.forked(started)
        os.close(info_w)
        os.set_blocking(info_r, False)
        self.child_info = ChildInfoReader(info_r, sum(len(db.data) for db in self.engine.dbs))
        log.info("Background saving started by pid %d", pid)
        self.child_pid = pid
        self.child_started = time.monotonic()
        self.child_tmp = os.path.join(os.path.dirname(path) or ".", f"temp-{pid}.rdb")
        self.bgsave_scheduled = False
        return True

    def forked(self, started: float) -> None:
        """In the parent, after a successful fork begun at perf_counter() `started`."""
        self.total_forks += 1
        self.latest_fork_usec = int((time.perf_counter() - started) * 1e6)

    def reset_stats(self) -> None:
        self.total_forks = 0

    def update_gate(self) -> None:
        self.engine.gated = self.loading or not self.last_bgsave_ok or bool(self.aof.write_error)

    def child_active(self) -> bool:
        return self.child_pid is not None

    def _child_done(self, ok: bool) -> None:
        self.last_bgsave_time_sec = int(time.monotonic() - self.child_started)
        self.child_pid = None
        info = self.child_info
        if info is not None:
            info.poll()
            if ok:
                self.last_cow_size = info.final_cow
            info.close()
            self.child_info = None
        if ok:
            log.info("Background saving terminated with success")
            self.engine.dirty = max(0, self.engine.dirty - self.dirty_at_fork)
            self.lastsave = int(time.time())
            self.last_bgsave_ok = True
            self.update_gate()
            self.saves += 1
        else:
            log.warning("Background saving error")
            self.last_bgsave_ok = False
            self.update_gate()
            try:
                os.unlink(self.child_tmp)
            except OSError:
                pass

    def kill_child(self) -> None:
        """Stop a running BGSAVE (SHUTDOWN, FLUSHALL, DEBUG RELOAD) and remove its temp file."""
        pid = self.child_pid
        if pid is None:
            return
        try:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        except OSError:
            pass
        self.child_pid = None
        try:
            os.unlink(self.child_tmp)
        except OSError:
            pass

    def after_flushall(self) -> None:
        self.kill_child()
        self.aof.kill_child()
        if self.save_points():
            self.save()

    # -- cron -----------------------------------------------------------------------------
    def cron(self) -> None:
        """Reap a finished child; start a scheduled BGSAVE or one a save point asks for."""
        pid = self.child_pid
        if pid is not None:
            if self.child_info is not None:
                self.child_info.poll()
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, 1 << 8
            if done:
                self._child_done(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0)
            return
        if self.loading or self.aof.child_pid is not None:
            return
        if self.bgsave_scheduled:
            self.bgsave()
            return
        dirty = self.engine.dirty
        if not dirty:
            return
        now = int(time.time())
        for seconds, changes in self.save_points():
            if (dirty >= changes and now - self.lastsave > seconds
                    and (self.last_bgsave_ok or now - self.last_bgsave_try > _BGSAVE_RETRY_DELAY)):
                log.info("%d changes in %d seconds. Saving...", changes, seconds)
                self.bgsave()
                return

    def save_points(self) -> list[tuple[int, int]]:
        try:
            return parse_save_points(str(self.engine.config["save"]))
        except ValueError:
            return []

    def write_denied(self) -> str | None:
        """The MISCONF error while writes are refused after a failed save (or AOF write),
        else None."""
        denied = self.aof.write_denied()
        if denied is not None:
            return denied
        if (not self.last_bgsave_ok and self.engine.config["stop-writes-on-bgsave-error"]
                and self.save_points()):
            return errors.MISCONF
        return None

    # -- loading --------------------------------------------------------------------------
    def read(self, path: str) -> RdbContents:
        """Parse the dump at path (RdbError if it is corrupt, OSError if unreadable)."""
        with open(path, "rb") as f:
            data = f.read()
        self.loading_bytes = len(data)
        config = self.engine.config
        delay = config["key-load-delay"]
        return parse_rdb(data, self.limits(), int(time.time() * 1000), config["databases"],
                         bool(config["rdbchecksum"]), (lambda n: debug_delay(delay, n)) if delay else None)

    def install(self, contents: RdbContents, merge: bool = False) -> None:
        """Put a parsed dump's function libraries and keys in place (MERGE: replacing
        libraries and keys that exist). A loaded key counts as accessed now, or idle for the
        time its file recorded. RdbError (nothing installed) if a library does not load."""
        engine = self.engine
        if contents.functions:
            try:
                engine.scripting.restore_libraries(contents.functions, b"replace" if merge else b"append")
            except CommandError as e:
                raise RdbError(f"Failed loading library: {e.text}") from None
        now = int(time.time() * 1000)
        new_word = ((now // 60_000) & 0xFFFF) << 8 | LFU_INIT_VAL
        for index, loaded in contents.dbs.items():
            db = engine.dbs[index]
            data, expires, access = db.data, db.expires, db.access
            if merge:
                for key in loaded.data.keys() & data.keys():
                    db.delete(key)
            word = new_word if db.lfu else now
            strings: list[bytes] = []
            for key, value in loaded.data.items():
                if type(value) is bytes:
                    strings.append(key)
                else:
                    value.atime = word
            access.update(dict.fromkeys(strings, word))
            data.update(loaded.data)
            db.account_loaded(loaded.data)
            expires.update(loaded.expires)
            # Keys whose file recorded their LRU idle time or LFU counter
            if db.lfu:
                for key, freq in loaded.freq.items():
                    db.set_frequency(key, freq)
            else:
                for key, idle in loaded.idle.items():
                    db.set_idle(key, idle * 1000)
        self.last_load_keys_loaded = contents.key_count()
        self.last_load_keys_expired = contents.keys_expired

    async def load_at_startup(self, run: Callable[[list[bytes]], None]) -> None:
        """Load the dataset at start-up: the AOF when `appendonly` is on and one exists (as
        Redis), else the dump if there is one (Redis would start empty when the AOF is on but
        missing; we load the dump, which then becomes the AOF's base). A damaged file stops
        the server with the reason logged. `run` replays one AOF command."""
        aof = self.aof
        if self.engine.config["appendonly"] and aof.exists():
            self.loading = True
            self.update_gate()
            started = time.monotonic()
            try:
                replayed = aof.load(run)
            except (OSError, AofError, RdbError) as e:
                log.critical("Fatal error loading the append only file: %s. Exiting.", e)
                raise SystemExit(1) from None
            finally:
                self.loading = False
                self.update_gate()
            log.info("DB loaded from append only file: %.3f seconds (%d commands replayed)",
                     time.monotonic() - started, replayed)
        else:
            await self._load_dump()
        if self.engine.config["appendonly"]:
            aof.start_at_boot()

    async def _load_dump(self) -> None:
        path = self.rdb_path()
        if not os.path.exists(path):
            return
        self.loading = True
        self.update_gate()
        self.loading_started = int(time.time())
        started = time.monotonic()
        loop = asyncio.get_running_loop()
        # Millions of new containers would start full collections over and over, each
        # visiting everything loaded so far; the dataset has no reference cycles, so once
        # it is in place it is moved out of the collector's sight (gc.freeze).
        collecting = gc.isenabled()
        gc.disable()
        try:
            contents = await loop.run_in_executor(None, self.read, path)
            self.install(contents)
        except (OSError, RdbError) as e:
            if isinstance(e, RdbError):  # what rdbReportError logs, before the verdict
                log.warning("Internal error in RDB reading: %s", e)
            log.critical("Fatal error loading the DB %s: %s. Exiting.", path, e)
            log.critical("Terminating server after rdb file reading failure.")
            raise SystemExit(1) from None
        finally:
            if collecting:
                gc.enable()
            self.loading = False
            self.update_gate()
        gc.freeze()
        log.info("DB loaded from disk: %.3f seconds (%d keys, %d expired keys skipped)",
                 time.monotonic() - started, self.last_load_keys_loaded, self.last_load_keys_expired)

    def load_aof_now(self, run: Callable[[list[bytes]], None]) -> str | None:
        """DEBUG LOADAOF: write out what is buffered, empty the keyspace, replay the AOF.
        Returns an error text, or None."""
        aof = self.aof
        aof.flush()
        engine = self.engine
        for db in engine.dbs:
            db.flush()
        self.loading = True  # (no other command runs meanwhile: the gate is left alone)
        try:
            aof.load(run)
        except (OSError, AofError, RdbError) as e:
            log.warning("DEBUG LOADAOF: %s", e)
            return f"ERR Error loading the append only file: {e}"
        finally:
            self.loading = False
        engine.dirty = 0
        log.warning("Append Only File loaded by DEBUG LOADAOF")
        return None

    def on_config_change(self, name: str, value: Any) -> None:
        """appendonly yes/no and aof-disable-auto-gc no at run time (not while starting)."""
        if self.engine.loop is None or self.loading:
            return
        if name == "appendonly":
            if value:
                self.aof.enable()
            else:
                self.aof.disable()
        elif name == "aof-disable-auto-gc" and not value:
            self.aof.delete_history()

    def reload(self, save: bool, flush: bool, merge: bool) -> str | None:
        """DEBUG RELOAD: save (unless told not to), empty (unless told not to), load back.
        Returns an error text, or None."""
        if save and not self.save():
            return "ERR"
        try:
            contents = self.read(self.rdb_path())
        except (OSError, RdbError) as e:
            log.warning("DEBUG RELOAD: %s", e)
            return "ERR Error trying to load the RDB dump, check server logs."
        engine = self.engine
        if flush:
            dirty = engine.dirty
            for db in engine.dbs:
                db.flush()
            engine.scripting.flush_functions()
            engine.dirty = dirty
        elif not merge:
            for index, loaded in contents.dbs.items():
                if loaded.data.keys() & engine.dbs[index].data.keys():
                    log.warning("DEBUG RELOAD NOFLUSH: a key of the dump already exists")
                    return "ERR Error trying to load the RDB dump, check server logs."
        try:
            self.install(contents, merge=merge)
        except RdbError as e:
            log.warning("DEBUG RELOAD: %s", e)
            return "ERR Error trying to load the RDB dump, check server logs."
        log.warning("DB reloaded by DEBUG RELOAD")
        return None

    # -- shutdown -------------------------------------------------------------------------
    def prepare_shutdown(self, save: bool | None, force: bool) -> bool:
        """What Redis does before exiting: stop a BGSAVE child; save when asked to (or, by
        default, when save points are configured). False if the save failed (and not FORCE)."""
        self.kill_child()
        self.aof.shutdown()
        if save is None:
            save = bool(self.save_points())
        if save:
            log.warning("Saving the final RDB snapshot before exiting.")
            if not self.save():
                if not force:
                    log.warning("Error trying to save the DB, can't exit.")
                    return False
                log.warning("Error trying to save the DB. Exit anyway.")
        return True

    # -- INFO -----------------------------------------------------------------------------
    def info_lines(self) -> list[str]:
        engine = self.engine
        now = time.monotonic()
        child = self.child_pid is not None
        lines = [f"loading:{int(self.loading)}", "async_loading:0"]
        if self.loading:
            lines += [f"loading_start_time:{self.loading_started}",
                      f"loading_total_bytes:{self.loading_bytes}", "loading_rdb_used_mem:0",
                      "loading_loaded_bytes:0", "loading_loaded_perc:0.00", "loading_eta_seconds:1"]
        ci = self.child_info
        if ci is not None:
            age = int(time.monotonic() - ci.updated) if ci.updated else 0
            perc = 100.0 * ci.keys / ci.total if ci.total else 0.0
            lines += [f"current_cow_peak:{ci.cow_peak}", f"current_cow_size:{ci.cow}",
                      f"current_cow_size_age:{age}", f"current_fork_perc:{perc:.2f}",
                      f"current_save_keys_processed:{ci.keys}", f"current_save_keys_total:{ci.total}"]
        else:
            lines += ["current_cow_peak:0", "current_cow_size:0", "current_cow_size_age:0",
                      "current_fork_perc:0.00", "current_save_keys_processed:0",
                      "current_save_keys_total:0"]
        lines += [
            f"rdb_changes_since_last_save:{engine.dirty}",
            f"rdb_bgsave_in_progress:{int(child)}",
            f"rdb_last_save_time:{self.lastsave}",
            f"rdb_last_bgsave_status:{'ok' if self.last_bgsave_ok else 'err'}",
            f"rdb_last_bgsave_time_sec:{self.last_bgsave_time_sec}",
            f"rdb_current_bgsave_time_sec:{int(now - self.child_started) if child else -1}",
            f"rdb_saves:{self.saves}", f"rdb_last_cow_size:{self.last_cow_size}",
            f"rdb_last_load_keys_expired:{self.last_load_keys_expired}",
            f"rdb_last_load_keys_loaded:{self.last_load_keys_loaded}",
        ]
        return lines


class ChildInfo:
    """In a save child: reports progress to the parent through a pipe, at most once a second
    (keys written, and the copy-on-write size: the child's private dirty memory), as Redis's
    child-info pipe does."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.last = 0.0

    def progress(self, keys: int) -> None:
        now = time.monotonic()
        if now - self.last >= 1.0:
            self.last = now
            self._send(b"P", keys)

    def done(self) -> None:
        self._send(b"F", 0)

    def _send(self, kind: bytes, keys: int) -> None:
        try:
            os.write(self.fd, b"%s %d %d\n" % (kind, keys, private_dirty_bytes()))
        except OSError:
            pass


class ChildInfoReader:
    """In the parent: the latest progress a save child reported (INFO current_* fields)."""

    def __init__(self, fd: int, total: int) -> None:
        self.fd = fd
        self.total = total
        self.keys = 0
        self.cow = 0
        self.cow_peak = 0
        self.final_cow = 0
        self.updated = 0.0
        self.buf = b""

    def poll(self) -> None:
        try:
            while True:
                chunk = os.read(self.fd, 4096)
                if not chunk:
                    break
                self.buf += chunk
        except (BlockingIOError, OSError):
            pass
        *lines, self.buf = self.buf.split(b"\n")
        for line in lines:
            kind, keys, cow = line.split()
            if kind == b"P":
                self.keys, self.cow = int(keys), int(cow)
                self.cow_peak = max(self.cow_peak, self.cow)
                self.updated = time.monotonic()
            else:
                self.final_cow = int(cow)

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass


def private_dirty_bytes() -> int:
    """This process's private dirty memory (its copy-on-write size after a fork)."""
    try:
        with open("/proc/self/smaps_rollup") as f:
            for line in f:
                if line.startswith("Private_Dirty:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def debug_delay(usec: int, count: int) -> None:
    """rdb-key-save-delay / key-load-delay: usec > 0 sleeps usec microseconds (per key);
    usec < 0 sleeps one microsecond every -usec keys."""
    if usec > 0:
        time.sleep(usec / 1e6)
    elif count % -usec == 0:
        time.sleep(1e-6)


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

