"""The queue pages through the Flask test client, on both database backends, real Redis."""

from __future__ import annotations

import re
from datetime import timedelta

import redis
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from service.dispatch import DELIVERY_QUEUE
from service.settings import Settings
from service.storage.models import CANCELLED, PENDING, CallbackDelivery, Decision, Submission
from tests.unit.web.queue_fixtures import csrf, login


def test_queue_shows_own_site_riskiest_first(client: FlaskClient, world: dict[str, str]) -> None:
    login(client, "anna@example.org")
    html = client.get("/queue/").get_data(as_text=True)
    order = re.findall(r'data-id="([0-9a-f]+)"', html)
    assert order == [world["risky"], world["calm2"], world["calm"]]
    assert world["foreign"] not in html
    failed = client.get("/queue/?status=failed").get_data(as_text=True)
    assert world["failed"] in failed and "TimeoutError: model" in failed


def test_item_shows_labelled_spans_and_escapes_text(
    client: FlaskClient, world: dict[str, str]
) -> None:
    login(client, "anna@example.org")
    html = client.get(f"/queue/items/{world['risky']}").get_data(as_text=True)
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert '<b onmouseover="x">' not in html and "&lt;b onmouseover=" in html
    assert "&lt;i&gt;hart&lt;/i&gt;" in html
    assert '<span class="sig-tag">inflammatory</span>' in html
    assert '<span class="sig-tag">toxic</span>' in html
    assert 'class="claim claim-unsourced"' in html
    assert "attributed: dpa" in html


def test_failed_item_shows_its_error(client: FlaskClient, world: dict[str, str]) -> None:
    login(client, "anna@example.org")
    html = client.get(f"/queue/items/{world['failed']}").get_data(as_text=True)
    assert "TimeoutError: model" in html


def test_reject_records_what_was_shown_and_queues_the_callback(
    client: FlaskClient, world: dict[str, str], db_session: Session, settings: Settings
) -> None:
    broker = redis.Redis.from_url(settings.redis_url)
    broker.delete(DELIVERY_QUEUE)
    login(client, "anna@example.org")
    token = csrf(client, f"/queue/items/{world['risky']}")
    answer = client.post(
        f"/queue/items/{world['risky']}/decide",
        data={
            "decision": "rejected",
            "template": "insult",
            "reason": "siehe Absatz 2",
            "csrf_token": token,
        },
    )
    assert answer.status_code == 303
    decision = db_session.execute(sa.select(Decision)).scalar_one()
    assert decision.decision == "rejected"
    assert decision.reason == "Insult or degrading language – siehe Absatz 2"
    assert decision.model_version == "test.1"
    assert decision.signals["inflammatory"] == {"score": 0.9, "threshold": 0.5, "flagged": True}
    delivery = db_session.execute(sa.select(CallbackDelivery)).scalar_one()
    assert delivery.status == PENDING
    assert delivery.next_attempt_at - decision.created_at == timedelta(seconds=60)
    # The delivery task went to the real broker, with the delivery id.
    assert broker.llen(DELIVERY_QUEUE) == 1
    assert delivery.id.encode() in broker.lindex(DELIVERY_QUEUE, 0)  # type: ignore[operator]

    page = client.get("/queue/").get_data(as_text=True)
    assert world["risky"] not in page
    token = csrf(client, "/queue/")
    assert client.post("/queue/undo", data={"csrf_token": token}).status_code == 303
    db_session.expire_all()
    assert db_session.get(CallbackDelivery, delivery.id).status == CANCELLED  # type: ignore[union-attr]
    assert db_session.get(Submission, world["risky"]).status == "scored"  # type: ignore[union-attr]
    assert world["risky"] in client.get("/queue/").get_data(as_text=True)


def test_second_moderator_sees_the_claim_and_cannot_decide(
    app: Flask, world: dict[str, str], db_session: Session
) -> None:
    anna, ben = app.test_client(), app.test_client()
    login(anna, "anna@example.org")
    login(ben, "ben@example.org")
    anna.get(f"/queue/items/{world['calm']}")
    html = ben.get(f"/queue/items/{world['calm']}").get_data(as_text=True)
    assert "anna@example.org has this item open" in html
    assert 'id="decide-form"' not in html
    listing = ben.get("/queue/").get_data(as_text=True)
    assert "open by anna@example.org" in listing
    token = csrf(ben, "/queue/")
    ben.post(
        f"/queue/items/{world['calm']}/decide",
        data={"decision": "approved", "csrf_token": token},
    )
    assert db_session.get(Submission, world["calm"]).status == "scored"  # type: ignore[union-attr]
    # A claim runs out on its own.
    db_session.execute(
        sa.update(Submission)
        .where(Submission.id == world["calm"])
        .values(claimed_until=Submission.received_at)
    )
    db_session.commit()
    html = ben.get(f"/queue/items/{world['calm']}").get_data(as_text=True)
    assert 'id="decide-form"' in html


def test_bulk_on_a_filter_confirms_the_count_first(
    client: FlaskClient, world: dict[str, str], db_session: Session
) -> None:
    login(client, "anna@example.org")
    token = csrf(client, "/queue/")
    form = {
        "site": world["tagblatt"],
        "scope": "filter",
        "below_signal": "toxicity",
        "below_value": "0.1",
        "decision": "approved",
        "csrf_token": token,
    }
    confirm = client.post("/queue/bulk", data=form)
    html = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "Approve 2 items?" in html
    assert db_session.execute(sa.select(sa.func.count()).select_from(Decision)).scalar_one() == 0
    ids = re.findall(r'name="ids" value="([0-9a-f]+)"', html)
    assert set(ids) == {world["calm"], world["calm2"]}
    done = client.post("/queue/bulk", data={**form, "confirm": "2", "ids": ids})
    assert done.status_code == 303
    statuses = {
        s.id: s.status
        for s in db_session.execute(sa.select(Submission)).scalars()
        if s.id in (world["calm"], world["calm2"], world["risky"])
    }
    assert statuses == {
        world["calm"]: "approved",
        world["calm2"]: "approved",
        world["risky"]: "scored",
    }


def test_notes_between_moderators(app: Flask, world: dict[str, str]) -> None:
    anna, ben = app.test_client(), app.test_client()
    login(anna, "anna@example.org")
    login(ben, "ben@example.org")
    token = csrf(anna, f"/queue/items/{world['risky']}")
    anna.post(
        f"/queue/items/{world['risky']}/notes",
        data={"text": "<b>Quelle?</b> prüfen", "csrf_token": token},
    )
    html = ben.get(f"/queue/items/{world['risky']}").get_data(as_text=True)
    assert "&lt;b&gt;Quelle?&lt;/b&gt; prüfen" in html


def test_poll_and_facets_are_cheap_json(client: FlaskClient, world: dict[str, str]) -> None:
    login(client, "anna@example.org")
    polled = client.get("/queue/poll?since=2000-01-01T00:00:00%2B00:00").get_json()
    assert polled["new"] == 3
    counts = client.get("/queue/facets").get_json()
    assert counts["total"] == "3"
    assert counts["status"]["failed"] == "1"
    assert client.get("/queue/poll?since=yesterday").status_code == 400
    assert client.get("/queue/?status=gone").status_code == 400


def test_copied_passages_show_their_source_of_the_same_paper_only(
    client: FlaskClient, world: dict[str, str], db_session: Session
) -> None:
    from service.storage.models import Site
    from tests.queue_support import add_submission, result_data

    site = db_session.get(Site, world["tagblatt"])
    assert site is not None
    text = "Danke für den guten Artikel. Kurier-Kommentar"
    copied = add_submission(
        db_session,
        site,
        "copycat",
        text,
        data=result_data(
            text,
            {"copied_text": 0.9},
            spans=[
                {
                    "start": 0,
                    "end": 28,
                    "signal": "copied_text",
                    "reason": "copied",
                    "source_kind": "submission",
                    "source_id": world["calm"],
                    "source_start": 0,
                    "source_end": 28,
                },
                {
                    "start": 29,
                    "end": 45,
                    "signal": "copied_text",
                    "reason": "copied",
                    "source_kind": "submission",
                    "source_id": world["foreign"],
                    "source_start": 0,
                    "source_end": 16,
                },
            ],
        ),
    )
    login(client, "anna@example.org")
    html = client.get(f"/queue/items/{copied.id}").get_data(as_text=True)
    assert f'href="/queue/items/{world["calm"]}"' in html
    assert html.count("<blockquote>Danke für den guten Artikel.</blockquote>") == 2
    # The other paper's submission is neither linked nor quoted.
    assert f"/queue/items/{world['foreign']}" not in html
    # Our own passage is quoted; the other paper's source text is not.
    assert html.count("<blockquote>Kurier-Kommentar</blockquote>") == 1


def test_long_passages_are_listed_not_painted(
    client: FlaskClient, world: dict[str, str], db_session: Session
) -> None:
    from service.storage.models import Site
    from tests.queue_support import add_submission, result_data

    site = db_session.get(Site, world["tagblatt"])
    assert site is not None
    text = "Kurz und knapp. " + "Sehr viel Text. " * 60
    long_one = add_submission(
        db_session,
        site,
        "long",
        text,
        kind="letter",
        data=result_data(
            text,
            {"policy": 1.0},
            spans=[
                {"start": 16, "end": len(text), "signal": "policy", "reason": "zu lang"},
                {"start": 0, "end": 4, "signal": "policy", "reason": "kurz"},
            ],
        ),
    )
    login(client, "anna@example.org")
    html = client.get(f"/queue/items/{long_one.id}").get_data(as_text=True)
    assert html.count("<mark") == 1
    head = "Sehr viel Text. Sehr viel Text. Sehr viel"
    assert f"characters 16–{len(text)}, from “{head}…”: zu lang" in html


def test_a_rejection_needs_a_reason_single_and_bulk(
    client: FlaskClient, world: dict[str, str], db_session: Session
) -> None:
    login(client, "anna@example.org")
    token = csrf(client, f"/queue/items/{world['calm']}")
    refused = client.post(
        f"/queue/items/{world['calm']}/decide",
        data={"decision": "rejected", "csrf_token": token},
    )
    assert refused.status_code == 400 and "needs a reason" in refused.get_data(as_text=True)
    form = {
        "site": world["tagblatt"],
        "scope": "selection",
        "ids": [world["calm"], world["calm2"]],
        "decision": "rejected",
        "csrf_token": token,
    }
    confirm = client.post("/queue/bulk", data=form).get_data(as_text=True)
    assert "Reject 2 items?" in confirm and 'name="template" value="offtopic"' in confirm
    assert client.post("/queue/bulk", data={**form, "confirm": "2"}).status_code == 400
    assert db_session.execute(sa.select(sa.func.count()).select_from(Decision)).scalar_one() == 0
    done = client.post("/queue/bulk", data={**form, "confirm": "2", "template": "offtopic"})
    assert done.status_code == 303
    reasons = db_session.execute(sa.select(Decision.reason)).scalars().all()
    assert reasons == ["Off topic", "Off topic"]
