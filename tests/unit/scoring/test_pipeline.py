from service.scoring import SIGNALS, Submission
from service.scoring.pipeline import Scorer


def test_every_signal_key_is_present_and_ordered() -> None:
    result = Scorer().score(Submission("1", "Danke für den Artikel.")).to_dict()
    assert list(result["signals"])[: len(SIGNALS)] == list(SIGNALS)
    for sig in result["signals"].values():
        assert 0.0 <= sig["score"] <= 1.0
        assert sig["flagged"] == (sig["score"] >= sig["threshold"])
