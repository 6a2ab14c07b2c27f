"""worker.solo's pool: a task past its soft time limit gets SoftTimeLimitExceeded."""

from __future__ import annotations

import signal
import time
from typing import Any

from celery.concurrency.solo import TaskPool
from celery.exceptions import SoftTimeLimitExceeded

from worker.solo import SoloPool


def _hung_model(seconds: float) -> str:
    """Stand in for a model that hangs: sleep, unless the soft limit interrupts it."""
    try:
        time.sleep(seconds)
    except SoftTimeLimitExceeded:
        return "interrupted"
    return "finished"


def _run(pool: Any, soft_timeout: float | None) -> tuple[list[Any], float]:
    results: list[Any] = []
    started = time.monotonic()
    pool.apply_async(_hung_model, args=(3.0,), callback=results.append, soft_timeout=soft_timeout)
    return results, time.monotonic() - started


def test_a_task_past_its_soft_limit_is_interrupted() -> None:
    handler_before = signal.getsignal(signal.SIGALRM)
    timer_before_s = signal.getitimer(signal.ITIMER_REAL)[0]  # pytest-timeout's, if any

    results, took_s = _run(SoloPool(), soft_timeout=0.2)

    assert results == ["interrupted"]
    assert took_s < 2.0
    # The handler that was there before is back, with what was left of its timer.
    assert signal.getsignal(signal.SIGALRM) is handler_before
    timer_after_s = signal.getitimer(signal.ITIMER_REAL)[0]
    if timer_before_s == 0:
        assert timer_after_s == 0
    else:
        assert 0 < timer_after_s <= timer_before_s


def test_celerys_own_solo_pool_ignores_the_limit_which_is_why_we_have_ours() -> None:
    results, took_s = _run(TaskPool(), soft_timeout=0.2)

    assert results == ["finished"] and took_s >= 3.0


def test_a_task_within_its_limit_or_without_one_runs_to_the_end() -> None:
    pool = SoloPool()
    results: list[Any] = []
    pool.apply_async(_hung_model, args=(0.05,), callback=results.append, soft_timeout=5.0)
    pool.apply_async(_hung_model, args=(0.05,), callback=results.append, soft_timeout=None)
    time.sleep(0.1)  # the disarmed timer would fire within this if it were left running

    assert results == ["finished", "finished"]


def test_after_max_tasks_per_child_the_worker_stops_warmly() -> None:
    from celery.worker import state

    pool = SoloPool(maxtasksperchild=2)
    results: list[Any] = []
    try:
        pool.apply_async(_hung_model, args=(0.0,), callback=results.append)
        assert state.should_stop is None
        pool.apply_async(_hung_model, args=(0.0,), callback=results.append)
        # The consumer loop's next maybe_shutdown() raises WorkerShutdown(0): exit 0.
        assert state.should_stop == 0
        assert results == ["finished", "finished"]
        assert pool._get_info()["max-tasks-per-child"] == 2
    finally:
        state.should_stop = None
