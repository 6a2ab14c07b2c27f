import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.scoring import priority
from service.scoring.pipeline import Scorer
from service.scoring.types import SIGNALS, SignalScore, Submission
from tests.support import SEED_LETTER

scores = st.fixed_dictionaries({name: st.floats(0.0, 1.0) for name in SIGNALS})


def signals(values: dict[str, float]) -> dict[str, SignalScore]:
    return {name: SignalScore(v, v >= 0.5, 0.5) for name, v in values.items()}


@given(scores, st.sampled_from(SIGNALS), st.floats(0.0, 1.0))
def test_priority_is_in_range_and_never_falls_when_a_signal_rises(
    values: dict[str, float], name: str, rise: float
) -> None:
    before = priority.combine(signals(values))
    higher = dict(values, **{name: min(1.0, values[name] + rise)})
    after = priority.combine(signals(higher))
    assert 0.0 <= before <= after <= 1.0


@given(scores)
def test_an_unknown_signal_only_adds(values: dict[str, float]) -> None:
    extra = dict(values, likely_rejected=0.9)
    assert priority.combine(signals(extra)) >= priority.combine(signals(values))


def test_no_signal_means_no_priority() -> None:
    assert priority.combine(signals(dict.fromkeys(SIGNALS, 0.0))) == 0.0


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer()


def test_the_queue_puts_the_reference_letter_first_and_a_thank_you_note_last(
    scorer: Scorer,
) -> None:
    letter = SEED_LETTER.read_text(encoding="utf-8")
    civil = (
        "Mit Interesse habe ich Ihren Bericht über den Ausbau der Stadtbibliothek gelesen. "
        "Laut dem Haushaltsplan der Stadt sind dafür 1,2 Millionen Euro vorgesehen. "
        "Ich hoffe, dass die Öffnungszeiten am Samstag erhalten bleiben."
    )
    thanks = "Vielen Dank für den schönen Artikel über unser Dorffest!"
    results = {
        "letter": scorer.score(Submission("1", letter, kind="letter")),
        "civil": scorer.score(
            Submission("2", civil, kind="letter", author_name="Eva Schulz", author_location="Ulm")
        ),
        "thanks": scorer.score(Submission("3", thanks, kind="comment")),
    }
    ranked = sorted(results, key=lambda k: results[k].priority, reverse=True)
    assert ranked == ["letter", "civil", "thanks"]
    assert results["thanks"].priority < 0.2
