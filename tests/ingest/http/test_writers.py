"""The writers' threads: results and exceptions reach the request that waits for them."""

from __future__ import annotations

import asyncio
import threading

import pytest

from ingest.http.deps import Writers


def test_a_job_runs_off_the_loop_and_its_result_comes_back():
    writers = Writers(2)

    async def run() -> tuple[str, str]:
        return threading.current_thread().name, await writers.run(
            lambda: threading.current_thread().name)

    loop_thread, job_thread = asyncio.run(run())

    assert job_thread.startswith("ingest_") and job_thread != loop_thread


def test_a_jobs_exception_is_raised_where_it_is_awaited():
    writers = Writers(1)

    def refuse() -> None:
        raise PermissionError("no")

    with pytest.raises(PermissionError, match="no"):
        asyncio.run(writers.run(refuse))


def test_a_wait_given_up_leaves_the_threads_working():
    writers = Writers(1)
    release = threading.Event()

    async def run() -> int:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(writers.run(release.wait, 10), 0.05)
        release.set()
        return await writers.run(lambda: 42)

    assert asyncio.run(run()) == 42
