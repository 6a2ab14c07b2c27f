"""`tests.support.poll`, the wait of the functional tests and of the benches."""

from __future__ import annotations

import itertools

import pytest

from tests.support import PollTimeout, poll


def test_poll_returns_the_first_truthy_answer() -> None:
    answers = iter([None, 0, [], "scored", "later"])
    checks = itertools.count()
    assert poll(lambda: next(answers), 5, "a score", interval_s=0, check=lambda: next(checks)) == (
        "scored"
    )
    assert next(checks) == 3  # once after each falsy answer


def test_poll_gives_up_naming_what_it_waited_for_and_lets_checks_raise() -> None:
    with pytest.raises(PollTimeout, match=r"^timed out after 0 s waiting for the worker$"):
        poll(lambda: False, 0.05, "the worker", interval_s=0.01)

    def died() -> None:
        raise RuntimeError("worker exited")

    with pytest.raises(RuntimeError, match="worker exited"):
        poll(lambda: False, 5, "the worker", interval_s=0, check=died)

    def times_out_itself() -> bool:
        raise TimeoutError("socket")

    with pytest.raises(TimeoutError) as raised:
        poll(times_out_itself, 5, "the worker")
    assert not isinstance(raised.value, PollTimeout)
