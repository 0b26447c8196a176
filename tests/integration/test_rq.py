"""RQ (python-rq, a real job-queue library from PyPI) running its own end-to-end flow on Keystream.

What RQ's documentation shows: enqueue jobs on a `Queue`, run a worker in burst mode, read the
results. Here with what its users rely on besides: a failing job lands in the failed registry
with its traceback, a dependent job runs only after its parent, a job with `Retry` is retried,
`at_front` ordering, job metadata and result TTLs, and RQ's Lua scripts (unique enqueue,
`Queue.empty`, which it runs with EVALSHA through redis-py's `register_script`). Both ways RQ runs workers: in-process
(`SimpleWorker(...).work(burst=True)`) and the `rq worker --burst` command line tool, which
forks a work horse per job as in production.

The job functions live in this module so that the worker (in-process or the CLI's process,
which gets this checkout on its PYTHONPATH) imports them by name, as RQ requires.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerHandle, require_module, require_tool

ROOT = Path(__file__).resolve().parents[2]


def add(a: int, b: int) -> int:
    return a + b


def word_count(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for word in text.split():
        counts[word] = counts.get(word, 0) + 1
    return counts


def fail(message: str) -> None:
    raise ValueError(message)


def fail_until(key: str, attempts: int) -> int:
    """Fails until it has been called `attempts` times (the count is kept in the job's Redis)."""
    from rq import get_current_job

    job = get_current_job()
    assert job is not None
    n = job.connection.incr(key)
    if n < attempts:
        raise RuntimeError(f"attempt {n}")
    return n


@pytest.fixture
def conn(keystream_server: ServerHandle) -> Iterator[Any]:
    redis = require_module("redis")
    c = redis.Redis(host="127.0.0.1", port=keystream_server.port, socket_timeout=10)
    c.flushall()
    yield c
    c.close()


def test_enqueue_and_burst_worker_in_process(conn: Any) -> None:
    rq = require_module("rq")
    q = rq.Queue("default", connection=conn)
    jobs = [q.enqueue(add, i, 10 * i) for i in range(5)]
    counted = q.enqueue(word_count, "to be or not to be", result_ttl=600, meta={"owner": "test"})
    assert q.count == 6
    assert [j.id for j in q.jobs] == [j.id for j in [*jobs, counted]]

    worker = rq.SimpleWorker([q], connection=conn)
    assert worker.work(burst=True) is True

    assert q.count == 0
    for i, job in enumerate(jobs):
        job.refresh()
        assert job.get_status() == rq.job.JobStatus.FINISHED
        assert job.return_value() == 11 * i
    counted.refresh()
    assert counted.return_value() == {"to": 2, "be": 2, "or": 1, "not": 1}
    assert counted.meta == {"owner": "test"}
    assert 0 < conn.ttl(counted.key) <= 600
    assert q.finished_job_registry.count == 6


def test_failures_dependencies_retries_and_ordering(conn: Any) -> None:
    rq = require_module("rq")
    q = rq.Queue("work", connection=conn)
    parent = q.enqueue(add, 1, 2)
    child = q.enqueue(add, 3, 4, depends_on=parent)
    broken = q.enqueue(fail, "boom")
    flaky = q.enqueue(fail_until, "attempts", 3, retry=rq.Retry(max=3))
    first = q.enqueue(add, 0, 0, at_front=True)
    assert child.get_status() == rq.job.JobStatus.DEFERRED
    assert q.job_ids[0] == first.id

    worker = rq.SimpleWorker([q], connection=conn)
    worker.work(burst=True)

    for job in (parent, child, broken, flaky, first):
        job.refresh()
    assert child.get_status() == rq.job.JobStatus.FINISHED and child.return_value() == 7
    assert broken.get_status() == rq.job.JobStatus.FAILED
    assert "ValueError: boom" in (broken.latest_result().exc_string or "")
    assert broken.id in q.failed_job_registry.get_job_ids()
    assert flaky.get_status() == rq.job.JobStatus.FINISHED and flaky.return_value() == 3
    assert int(conn.get("attempts")) == 3
    assert first.return_value() == 0


def test_rq_command_line_worker(conn: Any, keystream_server: ServerHandle) -> None:
    """`rq worker --burst` in its own process, forking a work horse per job."""
    rq = require_module("rq")
    exe = require_tool("rq")
    q = rq.Queue("cli", connection=conn)
    jobs = [q.enqueue(word_count, "a b a"), q.enqueue(add, 2, 3), q.enqueue(fail, "cli failure")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        [exe, "worker", "--burst", "--url", f"redis://127.0.0.1:{keystream_server.port}", "cli"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for job in jobs:
        job.refresh()
    assert jobs[0].return_value() == {"a": 2, "b": 1}
    assert jobs[1].return_value() == 5
    assert jobs[2].get_status() == rq.job.JobStatus.FAILED
    assert q.count == 0
    assert rq.Worker.all(connection=conn) == []  # the worker unregistered itself on exit



def test_rq_lua_scripts_unique_enqueue_and_empty(conn: Any) -> None:
    rq = require_module("rq")
    q = rq.Queue("lua", connection=conn)
    job = q.enqueue(add, 1, 1, job_id="only-once", unique=True)
    with pytest.raises(rq.exceptions.DuplicateJobError):
        q.enqueue(add, 2, 2, job_id="only-once", unique=True)
    assert q.job_ids == [job.id]
    assert rq.job.Job.fetch("only-once", connection=conn).args == (1, 1)
    others = [q.enqueue(add, i, i) for i in range(3)]
    assert q.empty() == 4
    assert q.count == 0
    assert not any(conn.exists(j.key) for j in [job, *others])
