"""Authentication: trust, cleartext, SCRAM-SHA-256 (RFC 5802 / 7677), as pure steps.

The connection drives these with the bytes of each PasswordMessage; no sockets here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass

from hati.errors import AuthenticationFailed

ITERATIONS = 4096


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _hmac(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha256).digest()


@dataclass
class ScramServer:
    """One SCRAM-SHA-256 exchange for a known password."""

    password: str
    salt: bytes = b""
    nonce: str = ""
    client_first_bare: str = ""
    server_first: str = ""

    def first(self, payload: bytes) -> bytes:
        """SASLInitialResponse body -> server-first-message."""
        try:
            end = payload.index(b"\x00")
            mech = payload[:end].decode()
            length = int.from_bytes(payload[end + 1 : end + 5], "big", signed=True)
            msg = payload[end + 5 : end + 5 + length].decode()
        except (ValueError, UnicodeDecodeError) as exc:
            raise AuthenticationFailed("malformed SASL initial response") from exc
        if mech != "SCRAM-SHA-256":
            raise AuthenticationFailed(f"unsupported SASL mechanism {mech}")
        parts = msg.split(",", 2)
        if len(parts) < 3 or parts[0] not in ("n", "y"):
            raise AuthenticationFailed("channel binding is not supported")
        self.client_first_bare = parts[2]
        attrs = dict(a.split("=", 1) for a in self.client_first_bare.split(",") if "=" in a)
        client_nonce = attrs.get("r", "")
        if not client_nonce:
            raise AuthenticationFailed("missing client nonce")
        self.salt = os.urandom(16)
        self.nonce = client_nonce + base64.b64encode(os.urandom(18)).decode()
        self.server_first = (
            f"r={self.nonce},s={base64.b64encode(self.salt).decode()},i={ITERATIONS}"
        )
        return self.server_first.encode()

    def final(self, payload: bytes) -> bytes:
        """SASLResponse body -> server-final-message, or AuthenticationFailed."""
        try:
            msg = payload.decode()
            without_proof, proof_part = msg.rsplit(",p=", 1)
            attrs = dict(a.split("=", 1) for a in without_proof.split(","))
            proof = base64.b64decode(proof_part)
        except (ValueError, UnicodeDecodeError) as exc:
            raise AuthenticationFailed("malformed SASL response") from exc
        if attrs.get("r") != self.nonce:
            raise AuthenticationFailed("SCRAM nonce mismatch")
        salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(), self.salt, ITERATIONS)
        client_key = _hmac(salted, b"Client Key")
        stored_key = _h(client_key)
        auth_message = f"{self.client_first_bare},{self.server_first},{without_proof}".encode()
        signature = _hmac(stored_key, auth_message)
        recovered = bytes(a ^ b for a, b in zip(proof, signature, strict=False))
        if len(proof) != len(signature) or not hmac.compare_digest(_h(recovered), stored_key):
            raise AuthenticationFailed("password authentication failed")
        server_key = _hmac(salted, b"Server Key")
        return ("v=" + base64.b64encode(_hmac(server_key, auth_message)).decode()).encode()


def check_cleartext(payload: bytes, password: str) -> None:
    given = payload.rstrip(b"\x00").decode("utf-8", "replace")
    if not hmac.compare_digest(given.encode(), password.encode()):
        raise AuthenticationFailed("password authentication failed")
