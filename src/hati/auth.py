"""Authentication: trust, cleartext, SCRAM-SHA-256 (RFC 5802 / 7677), as pure steps.

The connection drives these with the bytes of each PasswordMessage; no sockets here.
Secrets are kept as PostgreSQL keeps them: a SCRAM verifier
``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`` (base64), from which
a client's proof can be checked but the password cannot be recovered. A secret that
is not in that form is a password given on the command line or in the environment.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
from dataclasses import dataclass

from hati.errors import AuthenticationFailed, InsufficientPrivilege, ProtocolViolation

ITERATIONS = 4096


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _hmac(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True)
class Verifier:
    """What the server stores instead of a password."""

    iterations: int
    salt: bytes
    stored_key: bytes
    server_key: bytes

    PREFIX = "SCRAM-SHA-256$"

    @classmethod
    def from_password(
        cls, password: str, salt: bytes | None = None, iterations: int = ITERATIONS
    ) -> Verifier:
        salt = os.urandom(16) if salt is None else salt
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
        return cls(
            iterations,
            salt,
            _h(_hmac(salted, b"Client Key")),
            _hmac(salted, b"Server Key"),
        )

    @classmethod
    def parse(cls, text: str) -> Verifier | None:
        """The verifier ``text`` spells, or None when it is a plain password."""
        if not text.startswith(cls.PREFIX):
            return None
        try:
            head, keys = text[len(cls.PREFIX) :].split("$", 1)
            iterations, salt = head.split(":", 1)
            stored, server = keys.split(":", 1)
            return cls(
                int(iterations),
                base64.b64decode(salt, validate=True),
                base64.b64decode(stored, validate=True),
                base64.b64decode(server, validate=True),
            )
        except ValueError:
            return None

    def __str__(self) -> str:
        return (
            f"{self.PREFIX}{self.iterations}:{_b64(self.salt)}"
            f"${_b64(self.stored_key)}:{_b64(self.server_key)}"
        )

    def matches(self, password: str) -> bool:
        other = Verifier.from_password(password, self.salt, self.iterations)
        return hmac.compare_digest(other.stored_key, self.stored_key)


@functools.lru_cache(maxsize=64)
def verifier_for(secret: str) -> Verifier:
    """The verifier of a configured secret (stored, or derived once from a password)."""
    return Verifier.parse(secret) or Verifier.from_password(secret)


def stored_form(secret: str) -> str:
    """How a secret is written to hati.toml: always as a verifier."""
    return str(verifier_for(secret))


def mock_verifier(user: str, secrets_: list[str]) -> Verifier:
    """The verifier an unknown user is challenged with: a salt derived from the user name
    and the server's secrets (the same on every attempt and restart, different per name,
    as real agents' salts are), keys that match no password. The exchange then runs and
    fails exactly as a wrong key does, so a client cannot tell which names exist."""
    seed = _h("\x00".join(stored_form(s) for s in sorted(secrets_)).encode())
    salt = _hmac(seed, b"salt:" + user.encode())[:16]
    return Verifier(ITERATIONS, salt, _hmac(seed, b"stored:" + user.encode()), os.urandom(32))


@dataclass
class ScramServer:
    """One SCRAM-SHA-256 exchange against a stored verifier."""

    verifier: Verifier
    salt: bytes = b""
    nonce: str = ""
    client_first_bare: str = ""
    server_first: str = ""
    gs2_header: str = ""

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
        self.gs2_header = f"{parts[0]},{parts[1]},"
        self.client_first_bare = parts[2]
        attrs = dict(a.split("=", 1) for a in self.client_first_bare.split(",") if "=" in a)
        client_nonce = attrs.get("r", "")
        if not client_nonce:
            raise AuthenticationFailed("missing client nonce")
        self.salt = self.verifier.salt
        self.nonce = client_nonce + _b64(os.urandom(18))
        self.server_first = f"r={self.nonce},s={_b64(self.salt)},i={self.verifier.iterations}"
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
        if attrs.get("c") != _b64(self.gs2_header.encode()):
            # PostgreSQL: the channel binding must repeat the client-first's gs2 header.
            raise ProtocolViolation(
                "SCRAM channel binding check failed",
                hint="The client-final-message's c= must be the base64 of the gs2 header.",
            )
        if attrs.get("r") != self.nonce:
            raise AuthenticationFailed("SCRAM nonce mismatch")
        stored_key = self.verifier.stored_key
        auth_message = f"{self.client_first_bare},{self.server_first},{without_proof}".encode()
        signature = _hmac(stored_key, auth_message)
        recovered = bytes(a ^ b for a, b in zip(proof, signature, strict=False))
        if len(proof) != len(signature) or not hmac.compare_digest(_h(recovered), stored_key):
            raise AuthenticationFailed("password authentication failed")
        return ("v=" + _b64(_hmac(self.verifier.server_key, auth_message))).encode()


@dataclass(frozen=True)
class Roles:
    """What each agent may do (hati.toml ``[server]``), checked on every statement.

    - ``read_only_agents``: may read main and branches, and change nothing anywhere.
    - ``write_agents``: may write main directly (DML and DDL). Unset: the merge agents
      when ``merge_agents`` is set (else nobody could keep main for reviewed merges),
      everyone otherwise.
    - ``merge_agents``: may merge a branch into main (and write main). Unset: everyone.

    Every other agent reads main and works in branches. Nothing set: everyone may do
    everything, as without roles.
    """

    merge_agents: frozenset[str] | None = None
    write_agents: frozenset[str] | None = None
    read_only_agents: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        merge_agents: list[str] | None,
        write_agents: list[str] | None = None,
        read_only_agents: list[str] | None = None,
    ) -> Roles:
        return cls(
            None if merge_agents is None else frozenset(merge_agents),
            None if write_agents is None else frozenset(write_agents),
            frozenset(read_only_agents or ()),
        )

    def read_only(self, agent: str | None) -> bool:
        return agent in self.read_only_agents

    def may_merge(self, agent: str | None) -> bool:
        if self.read_only(agent):
            return False
        return self.merge_agents is None or agent in self.merge_agents

    def may_write_main(self, agent: str | None) -> bool:
        if self.read_only(agent):
            return False
        if self.write_agents is not None:
            return agent in self.write_agents or (
                self.merge_agents is not None and agent in self.merge_agents
            )
        return self.merge_agents is None or agent in self.merge_agents

    def authorize_write(self, agent: str | None, on_main: bool) -> None:
        """A statement that changes data, by ``agent``, on main or in a branch."""
        if self.read_only(agent):
            raise read_only_error(agent)
        if on_main and not self.may_write_main(agent):
            raise InsufficientPrivilege(
                f'permission denied: agent "{agent}" may not write main directly',
                hint="Work in a branch (branch_create, SET hatidata_branch) and ask an agent "
                "listed in merge_agents (hati.toml) to merge it.",
            )

    def authorize_compact(self, agent: str | None) -> None:
        """hati_compact(): whoever may write main may rewrite its file."""
        if not self.may_write_main(agent):
            raise InsufficientPrivilege(
                f'permission denied: agent "{agent}" may not compact the database',
                hint="Ask an agent that may write main (write_agents or merge_agents in "
                "hati.toml) to run hati_compact().",
            )


def read_only_error(agent: str | None) -> InsufficientPrivilege:
    return InsufficientPrivilege(
        f'permission denied: agent "{agent}" is read-only',
        hint="read_only_agents in hati.toml lists it: it may read main and branches.",
    )


def check_cleartext(payload: bytes, verifier: Verifier) -> None:
    given = payload.rstrip(b"\x00").decode("utf-8", "replace")
    if not verifier.matches(given):
        raise AuthenticationFailed("password authentication failed")
