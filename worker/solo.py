"""Celery's solo pool with soft time limits: what `modassist worker --processes N` runs.

A solo worker runs each task in its own main thread: no pool parent relaying every task
to a child, so it costs less CPU per task than the prefork pool (bench/bench_load.py).
But Celery's solo pool ignores time limits, and the scoring task counts on its soft time
limit to turn a hung model into a retry. This pool keeps that promise with SIGALRM: the
timer is armed for the task's soft limit (the task's `soft_time_limit` or the message's)
when the task starts and disarmed when it ends; when it fires, SoftTimeLimitExceeded is
raised inside the task, as the prefork pool does. Hard time limits stay unsupported here
(as in the solo pool); no task of ours sets one. `--max-tasks-per-child N` works as with
prefork: after N tasks the worker stops warmly and its supervisor starts a new one.
"""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType
from typing import Any

from celery.concurrency.base import apply_target
from celery.concurrency.solo import TaskPool
from celery.exceptions import SoftTimeLimitExceeded
from celery.platforms import EX_OK
from celery.worker import state

#: What `app.conf.worker_pool` names (Celery's --pool accepts only its own aliases).
POOL = "worker.solo:SoloPool"


def _raise_soft_limit(_signum: int, _frame: FrameType | None) -> None:
    raise SoftTimeLimitExceeded()


class SoloPool(TaskPool):  # type: ignore[misc]  # Celery is untyped
    """The solo pool, raising SoftTimeLimitExceeded in a task that outlives its soft limit."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_apply = self._apply
        # Celery's --max-tasks-per-child (which its solo pool ignores): after that many
        # tasks this worker stops warmly and `modassist worker --processes` starts a fresh
        # one, bounding memory growth as the prefork pool's recycling does.
        self.max_tasks: int = self.options.get("maxtasksperchild") or 0
        self.tasks_done = 0

    def _get_info(self) -> dict[str, Any]:
        info: dict[str, Any] = super()._get_info()
        info["max-tasks-per-child"] = self.max_tasks or None
        return info

    def _apply(self, target: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return self._run(target, *args, **kwargs)
        finally:
            self.tasks_done += 1
            if self.max_tasks and self.tasks_done >= self.max_tasks:
                state.should_stop = EX_OK  # what Celery's SIGTERM handler sets

    def _run(
        self,
        target: Any,
        args: Any = (),
        kwargs: Any = None,
        soft_timeout: float | None = None,
        **options: Any,
    ) -> Any:
        # Signals reach only the main thread: elsewhere (never in a worker) run unlimited.
        if not soft_timeout or threading.current_thread() is not threading.main_thread():
            return apply_target(target, args, kwargs, **options)
        limit_s = float(soft_timeout)
        earlier_s = [0.0]  # a timer someone else had armed (a test runner's timeout)

        def limited(*call_args: Any, **call_kwargs: Any) -> Any:
            # Armed around the task's trace only: the acknowledgement after it never sees
            # the alarm.
            earlier_s[0] = signal.setitimer(signal.ITIMER_REAL, limit_s)[0]
            try:
                return target(*call_args, **call_kwargs)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)

        previous = signal.signal(signal.SIGALRM, _raise_soft_limit)
        started = time.monotonic()
        try:
            return apply_target(limited, args, kwargs, **options)
        finally:
            signal.signal(signal.SIGALRM, previous)
            if earlier_s[0] > 0:
                left_s = earlier_s[0] - (time.monotonic() - started)
                signal.setitimer(signal.ITIMER_REAL, max(left_s, 0.001))
