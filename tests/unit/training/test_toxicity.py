"""The toxicity trainer on a tiny synthetic copy of ../shared/data: model, card, data hashes."""

from __future__ import annotations

import csv
import hashlib
import json
import random
from pathlib import Path

import numpy as np
import pytest

from service.scoring import artifacts
from service.scoring.toxicity import ToxicityModel
from service.training import TRAINERS, common
from service.training.toxicity import BAND_TOLERANCE, choose_band, train_toxicity

INSULTS = ["Vollidiot", "Arschloch", "Drecksack", "Schwachkopf", "Mistkerl", "Idiot"]
TOPICS = ["die Brücke", "der Haushalt", "die Schule", "das Freibad", "die Umleitung", "der Markt"]
ROWS_PER_CORPUS = 20


def comment(rng: random.Random, toxic: bool) -> str:
    topic = rng.choice(TOPICS)
    if toxic:
        return (
            f"Wer {topic} so plant, ist ein {rng.choice(INSULTS)}, echt jetzt {rng.randint(1, 99)}!"
        )
    return (
        f"Ich finde, {topic} wurde gut erklärt, danke für den Bericht Nummer {rng.randint(1, 99)}."
    )


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    (path.parent / "README.md").write_text(f"# {path.parent.name}\n\nLicense: test licence\n")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """Write the German training layout with a few synthetic rows per corpus."""
    rng = random.Random(7)
    root = tmp_path / "data"
    labels = [i % 2 for i in range(ROWS_PER_CORPUS)]
    texts = [comment(rng, bool(y)) for y in labels]
    write_csv(
        root / "germeval2021_toxic/train.csv",
        ["comment_id", "comment_text", "Sub1_Toxic", "Sub2_Engaging", "Sub3_FactClaiming"],
        [[str(i), t, str(y), "0", "0"] for i, (t, y) in enumerate(zip(texts, labels, strict=True))],
    )
    for relative in (
        "germeval2018_offensive/train.csv",
        "germeval2019_offensive/train_subtask1_2.csv",
    ):
        texts = [comment(rng, bool(y)) for y in labels]
        coarse = ["OFFENSE" if y else "OTHER" for y in labels]
        write_csv(
            root / relative,
            ["text", "label_coarse", "label_fine"],
            [[t, c, c] for t, c in zip(texts, coarse, strict=True)],
        )
    for relative, col in (
        ("hasoc2019_de/train.csv", "task_1"),
        ("hasoc2020_de/train.csv", "task1"),
    ):
        texts = [comment(rng, bool(y)) for y in labels]
        write_csv(
            root / relative,
            ["text", col],
            [[t, "HOF" if y else "NOT"] for t, y in zip(texts, labels, strict=True)],
        )
    texts = [comment(rng, bool(y)) for y in labels]
    write_csv(
        root / "omp_one_million_posts/train_wide.csv",
        ["ID_Post", "Headline", "Body", "Inappropriate", "Discriminating"],
        [[str(i), "", t, str(y), "0"] for i, (t, y) in enumerate(zip(texts, labels, strict=True))]
        + [["999", "", "nicht annotiert", "", ""]],
    )
    lexicons = root / "lexicons"
    (lexicons / "hurtlex_de").mkdir(parents=True)
    (lexicons / "hurtlex_de/hurtlex_DE_1.2.tsv").write_text(
        "id\tpos\tcategory\tstereotype\tlemma\tlevel\nDE1\tn\tcds\tno\tidiot\tconservative\n"
    )
    for sub, name, body in (
        ("ldnoobw_de", "ldnoobw_de.txt", "arschloch\n"),
        ("ldnoobw_v2_de", "ldnoobw_v2_de.txt", "drecksack\n"),
        ("sentiws_v2", "SentiWS_v2.0_Negative.txt", "Mist|NN\t-0.5\tMists\n"),
        ("sentiws_v2", "SentiWS_v2.0_Positive.txt", "gut|ADJX\t0.4\tgute,guten\n"),
    ):
        (lexicons / sub).mkdir(exist_ok=True)
        (lexicons / sub / name).write_text(body)
    (lexicons / "README.md").write_text(
        "| dir / file | entries | license |\n|---|---|---|\n"
        "| `hurtlex_de/x` | 1 | CC BY-NC-SA 4.0 |\n| `ldnoobw_de/x` | 1 | CC BY 4.0 |\n"
    )
    return root


def test_training_writes_model_and_card_with_data_hashes(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "artifacts"
    messages: list[str] = []
    card = train_toxicity("de", data_dir, out, messages.append, use_embeddings=False)

    folder = out / "toxicity_de"
    assert {p.name for p in folder.iterdir()} == {"model.joblib", "card.json", "MODEL_CARD.md"}
    assert messages and any("wrote" in m for m in messages)
    written = json.loads((folder / "card.json").read_text())
    assert written["version"] == card["version"]
    assert written["libraries"]["scikit-learn"]
    used = {d["dataset"]: d for d in written["training_data"]}
    assert "germeval2021_toxic" in used and "lexicons/hurtlex_de" in used
    for entry in written["training_data"]:
        content = (data_dir / entry["file"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(content).hexdigest()
    assert used["germeval2021_toxic"]["licence"] == "test licence"
    assert used["lexicons/hurtlex_de"]["licence"] == "CC BY-NC-SA 4.0"
    metrics = written["metrics"]["served_cascade"]
    # the synthetic insults are trivially separable: the CV figure must show it
    assert metrics["germeval2021_toxic"]["official_f1"] > 0.9
    assert 0.0 < written["default_threshold"] < 1.0
    assert "toxicity_de" in (folder / "MODEL_CARD.md").read_text()

    model, loaded_card = artifacts.load(out, "toxicity_de")
    assert isinstance(model, ToxicityModel)
    assert loaded_card["default_threshold"] == written["default_threshold"]
    p = model.predict_proba(["Du bist ein Schwachkopf!", "Danke für den Bericht über die Schule."])
    assert p[0] > p[1]


def test_training_is_reproducible(data_dir: Path, tmp_path: Path) -> None:
    cards = [
        train_toxicity("de", data_dir, tmp_path / f"run{i}", lambda _m: None, use_embeddings=False)
        for i in range(2)
    ]
    assert cards[0]["metrics"] == cards[1]["metrics"]
    texts = ["Wer so plant, ist ein Idiot", "Ich finde die Schule gut"]
    first, second = (
        artifacts.load(tmp_path / f"run{i}", "toxicity_de")[0].predict_proba(texts)
        for i in range(2)
    )
    assert np.array_equal(first, second)


def test_missing_training_file_fails_clearly(data_dir: Path, tmp_path: Path) -> None:
    (data_dir / "hasoc2020_de/train.csv").unlink()
    with pytest.raises(FileNotFoundError, match="hasoc2020_de"):
        train_toxicity("de", data_dir, tmp_path / "out", lambda _m: None, use_embeddings=False)


def test_trainers_are_registered() -> None:
    assert {"toxicity_de", "toxicity_en"} <= set(TRAINERS)


def test_official_metric_is_the_harmonic_mean_of_macro_precision_and_recall() -> None:
    y_true = [1, 1, 1, 0, 0, 0, 0, 0]
    y_pred = [1, 1, 0, 1, 0, 0, 0, 0]
    # class 1: P 2/3, R 2/3; class 0: P 4/5, R 4/5 -> macro P = macro R = 11/15
    assert common.official_f1(y_true, y_pred) == pytest.approx(11 / 15)
    y_pred = [1, 1, 1, 1, 1, 1, 1, 0]
    p = (3 / 7 + 1.0) / 2
    r = (1.0 + 1 / 5) / 2
    assert common.official_f1(y_true, y_pred) == pytest.approx(2 * p * r / (p + r))


def test_best_threshold_separates_separable_scores() -> None:
    threshold, f1 = common.best_threshold([0, 0, 1, 1], [0.1, 0.3, 0.6, 0.9])
    assert 0.3 < threshold <= 0.6
    assert f1 == 1.0


def test_threshold_can_be_chosen_on_one_corpus(data_dir: Path, tmp_path: Path) -> None:
    card = train_toxicity(
        "de",
        data_dir,
        tmp_path / "out",
        lambda _m: None,
        use_embeddings=False,
        threshold_corpus="hasoc2019_de",
    )
    assert card["metrics"]["threshold_chosen_on"] == "hasoc2019_de"
    per_corpus = card["metrics"]["served_cascade"]["hasoc2019_de"]
    assert per_corpus["official_f1"] == per_corpus["official_f1_at_corpus_best_threshold"]


def test_band_is_narrow_loses_little_and_keeps_goals_the_full_model_reaches() -> None:
    rng = np.random.default_rng(3)
    n = 4000
    y = (rng.random(n) < 0.35).astype(int)
    truth = np.where(y == 1, 1.2, -1.2)
    full = 1 / (1 + np.exp(-(truth + rng.normal(0, 1.0, n))))
    cheap = 1 / (1 + np.exp(-(truth + rng.normal(0, 1.1, n))))
    groups = np.where(np.arange(n) % 2 == 0, "a", "b")
    _, full_f1 = common.best_threshold(y, full)

    band, share, cascade = choose_band(y, cheap, full)
    assert 0.1 <= band[0] < band[1] <= 0.7 and 0 < share < 0.6
    assert np.array_equal(cascade, np.where((cheap >= band[0]) & (cheap <= band[1]), full, cheap))
    assert common.best_threshold(y, cascade)[1] >= full_f1 - BAND_TOLERANCE

    a = groups == "a"
    t, _ = common.best_threshold(y, full)
    reached = common.official_f1(y[a], full[a] >= t)
    goals = {"a": {"official_f1": reached - 0.001, "source": "test"}}
    _, kept_share, kept = choose_band(y, cheap, full, groups, goals)
    t_kept, _ = common.best_threshold(y, kept)
    assert common.official_f1(y[a], kept[a] >= t_kept) >= reached - 0.001
    assert kept_share >= share
    # a goal the full model misses does not widen the band
    missed = {"a": {"official_f1": 0.99, "source": "test"}}
    assert choose_band(y, cheap, full, groups, missed)[1] == share
