import hashlib
import hmac

from service import signing


def test_sign_is_hmac_sha256_over_timestamp_dot_body() -> None:
    body = b'{"text": "Gr\xc3\xbc\xc3\x9fe"}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signing.sign("s3cret", "1700000000", body) == "sha256=" + expected
    assert signing.sign("s3cret", 1700000000, body) == "sha256=" + expected


def test_verify_accepts_own_signature_and_rejects_changes() -> None:
    body = b'{"a": 1}'
    signature = signing.sign("k", "100", body)
    assert signing.verify("k", "100", body, signature)
    assert not signing.verify("other", "100", body, signature)
    assert not signing.verify("k", "101", body, signature)
    assert not signing.verify("k", "100", body + b" ", signature)
    assert not signing.verify("k", "100", body, signature.upper())
    assert not signing.verify("k", "100", body, "")
    assert not signing.verify("k", "100", body, "sha256=ä")


def test_signed_headers_sign_with_whole_seconds() -> None:
    headers = signing.signed_headers("mk_1", "sec", b"{}", 1700000000.9)
    assert headers["X-Modassist-Key"] == "mk_1"
    assert headers["X-Modassist-Timestamp"] == "1700000000"
    assert signing.verify("sec", "1700000000", b"{}", headers["X-Modassist-Signature"])


def test_timestamp_freshness() -> None:
    assert signing.timestamp_is_fresh("1000", now=1300, tolerance_s=300)
    assert signing.timestamp_is_fresh("1600", now=1300, tolerance_s=300)
    assert not signing.timestamp_is_fresh("999", now=1300, tolerance_s=300)
    assert not signing.timestamp_is_fresh("1601", now=1300, tolerance_s=300)
    for bad in ("", "abc", "1000.5", "1e3", "9" * 30):
        assert not signing.timestamp_is_fresh(bad, now=1300, tolerance_s=300)
