"""The encrypted vault (fig_safety.vault): sealing, binding to the stored name, tampering and key rotation."""

from __future__ import annotations

import os
import re

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import storages

from fig_safety import vault
from fig_safety.vault import MAGIC, VaultError, seal, unseal, vault_delete, vault_read, vault_reseal, vault_save

SECRET = b"Ava Demo, age 6, photographed at the Tuesday group \x00\x01\x02" * 20


@pytest.fixture
def keys(settings):
    """Two fresh keys; `old` is the only one at first."""
    old, new = os.urandom(32), os.urandom(32)
    settings.FIG_VAULT_KEYS = {"old": old}
    return {"old": old, "new": new}


def raw(name: str) -> bytes:
    with storages["vault"].open(name, "rb") as handle:
        return handle.read()


def overwrite(name: str, blob: bytes) -> None:
    storage = storages["vault"]
    storage.delete(name)
    assert storage.save(name, ContentFile(blob)) == name


def test_seal_and_unseal_round_trip(keys):
    key_id, blob = seal(SECRET, name="photos/ab/x.bin")

    assert key_id == "old"
    assert blob.startswith(MAGIC)
    assert SECRET not in blob and b"Ava Demo" not in blob
    assert unseal(blob, name="photos/ab/x.bin", key_id=key_id) == SECRET
    assert unseal(seal(b"", name="n")[1], name="n", key_id="old") == b""


def test_sealing_the_same_bytes_twice_gives_different_blobs(keys):
    assert seal(SECRET, name="n")[1] != seal(SECRET, name="n")[1]


def test_vault_save_and_read_round_trip(keys):
    stored = vault_save(SECRET, folder="photos")

    assert stored.key_id == "old"
    assert stored.size == len(SECRET)
    assert len(stored.sha256) == 64
    assert vault_read(name=stored.name, key_id=stored.key_id) == SECRET
    assert SECRET[:20] not in raw(stored.name)


def test_stored_names_are_random_and_never_contain_the_input(keys):
    first = vault_save(b"Ava Demo", folder="photos")
    second = vault_save(b"Ava Demo", folder="photos")

    assert first.name != second.name
    for stored in (first, second):
        assert re.fullmatch(r"photos/[0-9a-f]{4}/[A-Za-z0-9_-]{32}\.bin", stored.name)
        assert "Ava" not in stored.name and "Demo" not in stored.name
        assert stored.sha256 not in stored.name
    assert raw(first.name) != raw(second.name)


def test_a_blob_moved_to_another_name_does_not_open(keys):
    stored = vault_save(SECRET, folder="photos")
    moved = "photos/00/moved.bin"
    storages["vault"].save(moved, ContentFile(raw(stored.name)))

    with pytest.raises(VaultError):
        vault_read(name=moved, key_id=stored.key_id)
    with pytest.raises(VaultError):
        unseal(raw(stored.name), name=moved, key_id=stored.key_id)


@pytest.mark.parametrize("position", [len(MAGIC), len(MAGIC) + 12, -1], ids=["nonce", "ciphertext", "tag"])
def test_a_tampered_byte_does_not_open(keys, position):
    stored = vault_save(SECRET, folder="photos")
    blob = bytearray(raw(stored.name))
    blob[position] ^= 0x01
    overwrite(stored.name, bytes(blob))

    with pytest.raises(VaultError):
        vault_read(name=stored.name, key_id=stored.key_id)


@pytest.mark.parametrize("blob", [b"", b"FIGV", b"not a vault blob at all", MAGIC, MAGIC + b"\x00" * 12])
def test_something_that_is_not_a_whole_blob_does_not_open(keys, blob):
    with pytest.raises(VaultError):
        unseal(blob, name="n", key_id="old")


def test_a_missing_blob_is_a_vault_error(keys):
    with pytest.raises(VaultError):
        vault_read(name="photos/00/never-stored.bin", key_id="old")


def test_a_deleted_blob_is_gone(keys):
    stored = vault_save(SECRET, folder="photos")
    vault_delete(name=stored.name)
    with pytest.raises(VaultError):
        vault_read(name=stored.name, key_id=stored.key_id)


def test_a_missing_key_is_a_vault_error(keys, settings):
    stored = vault_save(SECRET, folder="photos")
    settings.FIG_VAULT_KEYS = {"new": keys["new"]}  # the key that sealed it is no longer configured
    with pytest.raises(VaultError, match="not configured"):
        vault_read(name=stored.name, key_id=stored.key_id)
    with pytest.raises(VaultError):
        seal(SECRET, name="n", key_id="gone")


def test_the_blob_names_its_own_key_so_a_stale_row_still_opens_it(keys, settings):
    """Signed consent rows are append-only: after rotation their key-id column still says the old key."""
    stored = vault_save(SECRET, folder="photos")
    assert vault.blob_key_id(raw(stored.name)) == "old"
    settings.FIG_VAULT_KEYS = {"new": keys["new"], "old": keys["old"]}
    vault_reseal(name=stored.name, key_id="old")
    settings.FIG_VAULT_KEYS = {"new": keys["new"]}

    assert vault_read(name=stored.name, key_id="old") == SECRET


def test_a_legacy_blob_without_a_header_opens_with_the_rows_key_id(keys, settings):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    name = "photos/00/legacy.bin"
    nonce = os.urandom(12)
    overwrite(name, vault.LEGACY_MAGIC + nonce + AESGCM(keys["old"]).encrypt(nonce, SECRET, name.encode()))
    assert vault_read(name=name, key_id="old") == SECRET

    settings.FIG_VAULT_KEYS = {"new": keys["new"], "old": keys["old"]}
    assert vault_reseal(name=name, key_id="old") == "new"
    assert raw(name).startswith(MAGIC)
    settings.FIG_VAULT_KEYS = {"new": keys["new"]}
    assert vault_read(name=name, key_id="new") == SECRET


def test_the_wrong_key_does_not_open(keys, settings):
    stored = vault_save(SECRET, folder="photos")
    settings.FIG_VAULT_KEYS = {"old": keys["new"]}  # same id, different bytes
    with pytest.raises(VaultError):
        vault_read(name=stored.name, key_id="old")


def test_an_old_blob_opens_after_a_new_key_is_added_and_reseal_moves_it(keys, settings):
    stored = vault_save(SECRET, folder="photos")
    old_blob = raw(stored.name)

    settings.FIG_VAULT_KEYS = {"new": keys["new"], "old": keys["old"]}  # newest first
    assert vault.current_key_id() == "new"
    assert vault_read(name=stored.name, key_id="old") == SECRET
    assert vault_save(b"fresh", folder="photos").key_id == "new"

    assert vault_reseal(name=stored.name, key_id="old") == "new"

    assert raw(stored.name) != old_blob
    assert vault.blob_key_id(raw(stored.name)) == "new"
    assert vault_read(name=stored.name, key_id="new") == SECRET
    settings.FIG_VAULT_KEYS = {"new": keys["new"]}  # the old key can now be retired
    assert vault_read(name=stored.name, key_id="new") == SECRET


def test_resealing_with_the_current_key_changes_nothing(keys):
    stored = vault_save(SECRET, folder="photos")
    before = raw(stored.name)
    assert vault_reseal(name=stored.name, key_id="old") == "old"
    assert raw(stored.name) == before


def test_resealing_a_tampered_blob_fails_and_leaves_it_in_place(keys, settings):
    stored = vault_save(SECRET, folder="photos")
    blob = bytearray(raw(stored.name))
    blob[-1] ^= 0x01
    overwrite(stored.name, bytes(blob))
    settings.FIG_VAULT_KEYS = {"new": keys["new"], "old": keys["old"]}

    with pytest.raises(VaultError):
        vault_reseal(name=stored.name, key_id="old")
    assert raw(stored.name) == bytes(blob)


def test_a_failed_write_while_resealing_keeps_the_old_blob(keys, settings, monkeypatch):
    stored = vault_save(SECRET, folder="photos")
    settings.FIG_VAULT_KEYS = {"new": keys["new"], "old": keys["old"]}
    storage = storages["vault"]
    real_save = storage.save
    calls = []

    def failing_once(name, content, *args, **kwargs):
        calls.append(name)
        if len(calls) == 1:
            raise OSError("disk full")
        return real_save(name, content, *args, **kwargs)

    monkeypatch.setattr(storage, "save", failing_once)
    with pytest.raises(OSError):
        vault_reseal(name=stored.name, key_id="old")
    monkeypatch.undo()

    assert vault_read(name=stored.name, key_id="old") == SECRET


def test_no_keys_is_a_configuration_error(settings):
    settings.FIG_VAULT_KEYS = {}
    with pytest.raises(ImproperlyConfigured):
        vault_save(b"x", folder="photos")
