"""API keys: who may read, change or administer which knowledge bases (``$DUALBRAIN_HOME/keys.sqlite3``).

A key reads ``dbk_<id>_<secret>``. Only the SHA-256 of the secret is stored: the secret has 256 bits of
entropy, so a slow password hash would add nothing, and a leaked keys file cannot be turned back into
keys. The id part finds the row; the secret is compared in constant time. A key is shown once, when it
is made; revoked keys stay listed (who had access, until when) but never authenticate again.

Scopes are ordered: ``read`` (ask, list documents and versions) < ``write`` (upload, learn, forget,
rollback) < ``admin`` (create and delete knowledge bases). A key is bound to one knowledge base, or to
every one when made without a name.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from dualbrain.errors import DualBrainError, UnknownKey
from dualbrain.store.sqlite import open_database

SCOPES = ("read", "write", "admin")
_PREFIX = "dbk"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
    id          TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    kb          TEXT,
    scope       TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);"""


@dataclass(frozen=True)
class ApiKey:
    id: str
    kb: str | None  # None: every knowledge base
    scope: str
    created_at: str
    revoked_at: str | None

    def allows(self, scope: str, kb: str | None = None) -> bool:
        """Whether this key may act with ``scope`` on knowledge base ``kb`` (None: on no particular one)."""
        if self.revoked_at is not None or SCOPES.index(scope) > SCOPES.index(self.scope):
            return False
        return self.kb is None or kb == self.kb


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


class KeyStore:
    """The keys of one dualbrain home."""

    def __init__(self, path: Path):
        self._connection = open_database(path, _SCHEMA)
        self._lock = threading.Lock()  # one connection, shared by the server's threads

    def create(self, scope: str, kb: str | None = None) -> tuple[ApiKey, str]:
        """A new key and its token (``dbk_<id>_<secret>``), which is not stored and cannot be shown again."""
        if scope not in SCOPES:
            raise DualBrainError(f"unknown scope '{scope}' (choose from {', '.join(SCOPES)})")
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        key = ApiKey(key_id, kb, scope, _now(), None)
        with self._lock:
            self._connection.execute(
                "INSERT INTO keys VALUES (?, ?, ?, ?, ?, NULL)", (key.id, _hash(secret), kb, scope, key.created_at)
            )
        return key, f"{_PREFIX}_{key_id}_{secret}"

    def list(self) -> list[ApiKey]:
        with self._lock:
            rows = self._connection.execute("SELECT id, kb, scope, created_at, revoked_at FROM keys ORDER BY created_at").fetchall()
        return [ApiKey(*row) for row in rows]

    def revoke_kb(self, kb: str) -> int:
        """Revoke every live key bound to knowledge base ``kb`` (it was deleted); returns how many."""
        with self._lock:
            return self._connection.execute(
                "UPDATE keys SET revoked_at = ? WHERE kb = ? AND revoked_at IS NULL", (_now(), kb)
            ).rowcount

    def revoke(self, key_id: str) -> ApiKey:
        with self._lock:
            updated = self._connection.execute(
                "UPDATE keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (_now(), key_id)
            ).rowcount
        key = next((k for k in self.list() if k.id == key_id), None)
        if key is None:
            raise UnknownKey(f"unknown key '{key_id}' (see: dualbrain keys list)")
        if not updated:
            raise DualBrainError(f"key '{key_id}' was already revoked at {key.revoked_at}")
        return key

    def authenticate(self, token: str) -> ApiKey | None:
        """The live key ``token`` belongs to, or None (malformed, unknown, wrong secret or revoked)."""
        prefix, _, rest = token.partition("_")
        key_id, _, secret = rest.partition("_")
        if prefix != _PREFIX or not key_id or not secret:
            return None
        with self._lock:
            row = self._connection.execute(
                "SELECT secret_hash, kb, scope, created_at, revoked_at FROM keys WHERE id = ?", (key_id,)
            ).fetchone()
        if row is None or not hmac.compare_digest(row[0], _hash(secret)) or row[4] is not None:
            return None
        return ApiKey(key_id, *row[1:])

    def close(self) -> None:
        with self._lock:
            self._connection.close()
