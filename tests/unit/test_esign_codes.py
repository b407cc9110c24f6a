"""The one-time code of an electronic signature (workflow.esign): six digits, stored as an HMAC
bound to its request, refused once expired, locked after five wrong tries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from workflow import esign
from workflow.models import EsignRequest

SECRET = b"secret-de-test"
NOW = datetime(2029, 12, 1, 10, 0, tzinfo=UTC)


def request_with(code: str, expires: datetime = NOW + esign.CODE_TTL) -> EsignRequest:
    r = EsignRequest(id=7, code_attempts=0)
    r.code_hash = esign.code_hash(SECRET, 7, code)
    r.code_expires_at = expires
    return r


def test_codes_are_six_digits() -> None:
    codes = {esign.new_code() for _ in range(200)}
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(codes) > 150  # random, not a counter


def test_the_stored_hash_is_neither_the_code_nor_shared_between_requests() -> None:
    stored = esign.code_hash(SECRET, 7, "123456")
    assert "123456" not in stored and len(stored) == 64
    assert stored != esign.code_hash(SECRET, 8, "123456")
    assert stored != esign.code_hash(b"autre", 7, "123456")


def test_the_right_code_in_time_passes() -> None:
    r = request_with("123456")
    esign.check_code(r, " 123456 ", NOW + timedelta(minutes=9), SECRET)
    assert r.code_attempts == 0


def test_an_expired_code_is_refused_even_when_right() -> None:
    r = request_with("123456")
    with pytest.raises(esign.EsignRefused, match="expiré"):
        esign.check_code(r, "123456", NOW + esign.CODE_TTL, SECRET)


def test_five_wrong_tries_lock_the_code() -> None:
    r = request_with("123456")
    for left in range(esign.MAX_TRIES - 1, 0, -1):
        with pytest.raises(esign.EsignRefused, match=f"{left} essai"):
            esign.check_code(r, "654321", NOW, SECRET)
    with pytest.raises(esign.EsignRefused, match="bloqué"):
        esign.check_code(r, "654321", NOW, SECRET)
    assert r.code_attempts == esign.MAX_TRIES
    with pytest.raises(esign.EsignRefused, match="bloqué"):
        esign.check_code(r, "123456", NOW, SECRET)
