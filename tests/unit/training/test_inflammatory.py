"""The inflammatory trainer on tiny synthetic copies of its three data files."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest

from service.scoring import artifacts, inflammatory, wording
from service.training import TRAINERS
from service.training import inflammatory as inflammatory_training
from service.training.inflammatory import NAME, clean, load, train_german

RUDE = ["dumme Idioten", "dreckiges Pack", "elende Schmarotzer", "hirnlose Vollpfosten"]
CIVIL = ["gute Nachbarn", "fleißige Helfer", "nette Kollegen", "kluge Leser"]
PLACES = ["Kiel", "Ulm", "Jena", "Trier", "Passau", "Husum", "Gera", "Hof"]


def _write(path: Path, header: list[str], rows: list[list[str]], licence: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.parent / "README.md").write_text(f"License: {licence}\n")
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    rng = random.Random(11)

    def tweets(n: int) -> list[list[str]]:
        rows = []
        for i in range(n):
            place = rng.choice(PLACES)
            if i % 3 == 0:
                text = f"@user{i} Die in {place} sind {rng.choice(RUDE)} |LBR| {i}"
                rows.append([text, "OFFENSE", "ABUSE" if i % 2 else "INSULT"])
            else:
                rows.append([f"In {place} wohnen {rng.choice(CIVIL)} {i}", "OTHER", "OTHER"])
        rows.append(["Scheiße, schon wieder Regen", "OFFENSE", "PROFANITY"])
        return rows

    _write(
        root / "germeval2018_offensive" / "train.csv",
        ["text", "label_coarse", "label_fine"],
        tweets(45),
        "CC BY 4.0",
    )
    rows19 = tweets(45)
    rows19.append(["In Kiel wohnen gute Nachbarn 1", "OTHER", "OTHER"])  # a 2018 duplicate
    _write(
        root / "germeval2019_offensive" / "train_subtask1_2.csv",
        ["text", "label_coarse", "label_fine"],
        rows19,
        "research only (test copy)",
    )
    posts = []
    for i in range(40):
        discriminating = i % 4 == 0
        body = (
            f"Die aus {rng.choice(PLACES)} sind {rng.choice(RUDE)} {i}"
            if discriminating
            else f"Schöner Artikel über {rng.choice(PLACES)} {i}"
        )
        posts.append(["", body, "1" if discriminating else "0", "0"])
    posts.append(["", "Halt die Klappe, du Nervensäge", "0", "1"])  # Inappropriate only
    posts.append(["", "nicht annotiert", "", ""])
    _write(
        root / "omp_one_million_posts" / "train_wide.csv",
        ["Headline", "Body", "Discriminating", "Inappropriate"],
        posts,
        "CC BY-NC-SA 4.0",
    )
    return root


@pytest.fixture(scope="module")
def trained(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("models")
    messages: list[str] = []
    train_german(data_dir, out, messages.append)
    assert any("CV official F1" in m for m in messages)
    return out


def test_registered_under_its_artifact_name() -> None:
    assert TRAINERS[NAME] is train_german


def test_tweet_markup_is_removed() -> None:
    assert clean("@user Das |LBR| ist https://t.co/x so") == "Das \n ist   so"


def test_rows_leave_out_profanity_inappropriate_only_and_duplicates(data_dir: Path) -> None:
    rows = load(data_dir)
    assert not any("Scheiße" in t or "Klappe" in t or "annotiert" in t for t in rows.texts)
    assert rows.texts.count("In Kiel wohnen gute Nachbarn 1") <= 1
    assert not any("@user" in t or "|LBR|" in t for t in rows.texts)
    assert set(rows.corpus) == {"germeval2018", "germeval2019", "omp_discriminating"}
    assert 0 < sum(rows.labels) < len(rows.labels)


def test_artifact_loads_and_scores(trained: Path) -> None:
    model, card = artifacts.load(trained, NAME)
    assert isinstance(model, wording.WordingModel)
    rude, civil = model.predict_proba(["Die sind dumme Idioten", "Dort wohnen nette Kollegen"])[
        :, 1
    ]
    assert rude > civil
    phase = inflammatory.build(trained)
    assert phase.threshold == card["default_threshold"]


def test_card_has_data_hashes_licences_and_cross_validated_figures(trained: Path) -> None:
    card = json.loads((trained / NAME / "card.json").read_text())
    licences = {d["dataset"]: d["licence"] for d in card["training_data"]}
    assert licences["germeval2018_offensive"] == "CC BY 4.0"
    assert licences["omp_one_million_posts"] == "CC BY-NC-SA 4.0"
    assert all(len(d["sha256"]) == 64 for d in card["training_data"])
    metrics = card["metrics"]
    grid = inflammatory_training.C_GRID
    assert metrics["C"] in grid
    assert set(metrics["cv_average_precision_by_C"]) == {str(c) for c in grid}
    for name in ("lexicon", "model", "blend", "blend_ungated"):
        assert set(metrics[name]) == {"all", "germeval2018", "germeval2019", "omp_discriminating"}
        assert 0.0 <= metrics[name]["all"]["official_f1"] <= 1.0
    assert card["default_threshold"] == metrics["cv_threshold"]
    assert card["labels"]["rows"]["omp_discriminating"] == 40
    assert (trained / NAME / "MODEL_CARD.md").read_text().startswith("# Model card: " + NAME)
