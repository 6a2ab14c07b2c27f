"""Encrypt site secrets at rest with a key derived from the server's secret key."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet


def _fernet(server_key: str) -> Fernet:
    # A dedicated derived key, so the session-signing key is never used for encryption.
    digest = hashlib.sha256(b"modassist-site-secrets:" + server_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(server_key: str, secret: str) -> bytes:
    return _fernet(server_key).encrypt(secret.encode())


def decrypt(server_key: str, token: bytes) -> str:
    return _fernet(server_key).decrypt(token).decode()
