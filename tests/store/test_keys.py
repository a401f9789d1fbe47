"""API keys: stored hashed, shown once, scoped to a knowledge base and a level, revocable."""

from pathlib import Path

import pytest

from dualbrain.errors import DualBrainError, UnknownKey
from dualbrain.store.keys import KeyStore


def test_a_key_authenticates_and_only_its_hash_is_stored(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.sqlite3")
    key, token = store.create("write", "acme")
    assert store.authenticate(token) == key
    secret = token.split("_", 2)[2]  # the whole secret: URL-safe base64 may hold "_" itself
    assert len(secret) >= 40
    store.close()
    assert all(secret.encode() not in path.read_bytes() for path in tmp_path.iterdir())


@pytest.mark.parametrize("mangle", [lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), lambda t: t.replace("dbk_", "xyz_"),
                                    lambda t: t.split("_")[0], lambda t: "", lambda t: "dbk_" + "0" * 12 + "_" + t.split("_", 2)[2]])
def test_wrong_or_malformed_tokens_are_refused(tmp_path: Path, mangle) -> None:
    store = KeyStore(tmp_path / "keys.sqlite3")
    _, token = store.create("admin")
    assert store.authenticate(mangle(token)) is None


def test_scopes_are_ordered_and_bound_to_one_knowledge_base(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.sqlite3")
    reader, _ = store.create("read", "acme")
    writer, _ = store.create("write", "acme")
    admin, _ = store.create("admin")
    assert reader.allows("read", "acme") and not reader.allows("write", "acme") and not reader.allows("read", "other")
    assert writer.allows("read", "acme") and writer.allows("write", "acme") and not writer.allows("admin", "acme")
    assert not writer.allows("read", None)  # a key for acme acts on acme only
    assert admin.allows("admin", "anything") and admin.allows("admin", None)


def test_revoked_keys_stop_working_and_stay_listed(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.sqlite3")
    key, token = store.create("read", "acme")
    revoked = store.revoke(key.id)
    assert revoked.revoked_at is not None and not revoked.allows("read", "acme")
    assert store.authenticate(token) is None
    assert [k.id for k in KeyStore(tmp_path / "keys.sqlite3").list()] == [key.id]
    with pytest.raises(DualBrainError, match="already revoked"):
        store.revoke(key.id)
    with pytest.raises(UnknownKey):
        store.revoke("missing")
    with pytest.raises(DualBrainError, match="unknown scope"):
        store.create("root")
