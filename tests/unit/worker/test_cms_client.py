"""The signed CMS client against a real HTTP server on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from service.signing import KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tests.cms import CmsReceiver
from tests.support import free_port
from worker.cms_client import DELIVERY_HEADER, CallbackError, callback_body, post_callback

SECRET = "site-secret-for-tests"
PAYLOAD = {
    "event": "submission.decided",
    "submission": {"id": "abc", "external_id": "leser-1"},
    "decision": "rejected",
    "reason": "Beleidigung – „Lügenpresse“",
    "decided_at": "2026-11-24T12:00:00Z",
}


@pytest.fixture
def cms() -> Iterator[CmsReceiver]:
    receiver = CmsReceiver(secret=SECRET).start()
    yield receiver
    receiver.stop()


def test_posts_signed_json_and_reports_status_and_duration(cms: CmsReceiver) -> None:
    answer = post_callback(
        cms.url, PAYLOAD, key_id="mk_1", secret=SECRET, timeout_s=5, delivery_id="d1"
    )

    assert answer.status_code == 200
    assert answer.duration_ms > 0
    [request] = cms.received
    assert request.signature_valid
    assert request.headers[KEY_HEADER] == "mk_1"
    assert request.headers[DELIVERY_HEADER] == "d1"
    assert request.headers["Content-Type"].startswith("application/json")
    # The signature covers exactly the bytes sent, which are the canonical body.
    assert request.body == callback_body(PAYLOAD)
    assert request.headers[SIGNATURE_HEADER] == sign(
        SECRET, request.headers[TIMESTAMP_HEADER], request.body
    )
    assert json.loads(request.body) == PAYLOAD


def test_a_different_secret_does_not_verify(cms: CmsReceiver) -> None:
    post_callback(cms.url, PAYLOAD, key_id="mk_1", secret="another-secret", timeout_s=5)

    assert not cms.received[0].signature_valid


@pytest.mark.parametrize("status", [400, 404, 500, 503])
def test_non_2xx_raises_with_the_status(cms: CmsReceiver, status: int) -> None:
    cms.fail_times, cms.fail_status = 1, status

    with pytest.raises(CallbackError) as caught:
        post_callback(cms.url, PAYLOAD, key_id="mk_1", secret=SECRET, timeout_s=5)

    assert caught.value.status_code == status
    assert str(caught.value) == f"HTTP {status}"
    assert caught.value.duration_ms > 0


def test_redirects_are_not_followed(cms: CmsReceiver) -> None:
    cms.fail_times, cms.fail_status = 1, 302

    with pytest.raises(CallbackError) as caught:
        post_callback(cms.url, PAYLOAD, key_id="mk_1", secret=SECRET, timeout_s=5)

    assert caught.value.status_code == 302
    assert len(cms.received) == 1


def test_timeout_raises_without_status(cms: CmsReceiver) -> None:
    cms.delay_s = 1.0

    with pytest.raises(CallbackError) as caught:
        post_callback(cms.url, PAYLOAD, key_id="mk_1", secret=SECRET, timeout_s=0.2)

    assert caught.value.status_code is None
    assert str(caught.value).startswith("timeout after 0.2 s")


def test_refused_connection_raises_without_status() -> None:
    url = f"http://127.0.0.1:{free_port()}/callback"

    with pytest.raises(CallbackError) as caught:
        post_callback(url, PAYLOAD, key_id="mk_1", secret=SECRET, timeout_s=2)

    assert caught.value.status_code is None
    assert str(caught.value).startswith("ConnectionError")
