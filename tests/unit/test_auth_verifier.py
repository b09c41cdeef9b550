"""SCRAM verifiers: what hati.toml keeps instead of a password."""

from __future__ import annotations

from hati.auth import Verifier, stored_form, verifier_for


def test_round_trip_and_match() -> None:
    v = Verifier.from_password("s3cret")
    text = str(v)
    assert text.startswith("SCRAM-SHA-256$4096:") and "s3cret" not in text
    assert Verifier.parse(text) == v
    assert v.matches("s3cret") and not v.matches("s3cret ") and not v.matches("")


def test_a_plain_password_or_a_damaged_verifier_is_not_a_verifier() -> None:
    assert Verifier.parse("SCRAM-SHA-256 is my password") is None
    assert Verifier.parse("SCRAM-SHA-256$4096:@@@$x:y") is None
    assert Verifier.parse("hunter2") is None


def test_stored_form_is_stable_for_a_verifier_and_hides_a_password() -> None:
    text = stored_form("pw")
    assert stored_form(text) == text  # saving again keeps the same verifier
    assert verifier_for(text).matches("pw")
