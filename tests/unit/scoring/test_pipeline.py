from collections.abc import Callable
from pathlib import Path

import pytest

from service.scoring import SIGNALS, Submission, pipeline
from service.scoring.pipeline import Phase, Scorer


def test_every_signal_key_is_present_and_ordered() -> None:
    result = Scorer().score(Submission("1", "Danke für den Artikel.")).to_dict()
    assert list(result["signals"])[: len(SIGNALS)] == list(SIGNALS)
    for sig in result["signals"].values():
        assert 0.0 <= sig["score"] <= 1.0
        assert sig["flagged"] == (sig["score"] >= sig["threshold"])


def test_language_is_built_last_and_the_phases_still_run_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[str] = []

    def factory(name: str) -> Callable[[Path], Phase]:
        def build(_models: Path) -> Phase:
            built.append(name)
            return lambda doc, out: None

        return build

    names = [name for name, _ in pipeline.PHASES]
    monkeypatch.setattr(pipeline, "PHASES", tuple((name, factory(name)) for name in names))
    scorer = Scorer()
    assert built == [name for name in names if name != "language"] + ["language"]
    assert [name for name, _ in scorer.phases] == names
