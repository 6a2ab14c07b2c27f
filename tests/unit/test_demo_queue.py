"""`modassist demo-queue`: real comments stored for a site, scoring enqueued on the broker."""

from __future__ import annotations

import json
from pathlib import Path

import redis
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.orm import Session

from service.cli import main
from service.dispatch import SCORING_QUEUE
from service.settings import Settings
from service.storage.models import Submission
from tests.queue_support import make_site
from tests.support import SEED_LETTER


def _env(settings: Settings) -> dict[str, str]:
    return {
        "MODASSIST_DATABASE_URL": settings.database_url,
        "MODASSIST_REDIS_URL": settings.redis_url,
        "MODASSIST_DATA_DIR": str(settings.data_dir),
        "MODASSIST_SECRET_KEY": settings.secret_key,
    }


def test_stores_letter_and_comments_once_and_enqueues_scoring(
    settings: Settings, db_session: Session, tmp_path: Path
) -> None:
    make_site(db_session, "Demo")
    csv_file = tmp_path / "comments.csv"
    csv_file.write_text(
        'ID_Post,Body\n1,"kurz"\n2,"Ein ganz normaler Kommentar, lang genug für die Queue."\n'
        '3,"Noch ein Kommentar, der ebenfalls lang genug für die Queue ist."\n',
        encoding="utf-8",
    )
    broker = redis.Redis.from_url(settings.redis_url)
    broker.delete(SCORING_QUEUE)
    args = ["demo-queue", "--site", "Demo", "--letter", str(SEED_LETTER)]
    args += ["--comments", str(csv_file), "--json"]
    first = CliRunner().invoke(main, args, env=_env(settings))
    assert first.exit_code == 0, first.output
    assert json.loads(first.output) == {"site": "Demo", "stored": 3, "enqueued": 3}
    assert broker.llen(SCORING_QUEUE) == 3
    kinds = db_session.execute(sa.select(Submission.kind)).scalars().all()
    assert sorted(kinds) == ["comment", "comment", "letter"]
    # Run again: nothing new is stored or enqueued.
    again = CliRunner().invoke(main, args, env=_env(settings))
    assert json.loads(again.output)["stored"] == 0


def test_unknown_site_and_missing_input_are_clear_errors(settings: Settings) -> None:
    result = CliRunner().invoke(
        main, ["demo-queue", "--site", "Nope", "--letter", str(SEED_LETTER)], env=_env(settings)
    )
    assert result.exit_code == 2 and "no site named 'Nope'" in result.output
    result = CliRunner().invoke(main, ["demo-queue", "--site", "Nope"], env=_env(settings))
    assert result.exit_code == 2 and "give --letter and/or --comments" in result.output
