"""The encrypted vault: bytes are sealed with AES-256-GCM before they reach storage.

Each blob records the id of the key that sealed it, so keys can rotate
(FIG_VAULT_KEYS lists the newest first; older keys still open old blobs). The
stored name is random and is bound into the encryption as associated data, so a
blob copied to another name will not open. Storage is Django's `vault` storage:
a private local folder or an S3-compatible bucket.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import storages

MAGIC = b"FIGV1"
NONCE_BYTES = 12
TAG_BYTES = 16


class VaultError(Exception):
    """A blob could not be opened: wrong key, tampered bytes or a missing file."""


@dataclass(frozen=True)
class StoredBlob:
    name: str
    key_id: str
    size: int
    sha256: str


def _keys() -> dict[str, bytes]:
    keys = settings.FIG_VAULT_KEYS
    if not keys:
        raise ImproperlyConfigured("FIG_VAULT_KEYS must be set to store anything in the vault.")
    return keys


def current_key_id() -> str:
    return next(iter(_keys()))


def seal(data: bytes, *, name: str, key_id: str | None = None) -> tuple[str, bytes]:
    key_id = key_id or current_key_id()
    key = _keys().get(key_id)
    if key is None:
        raise VaultError(f"Vault key {key_id!r} is not configured in FIG_VAULT_KEYS.")
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(key).encrypt(nonce, data, name.encode())
    return key_id, MAGIC + nonce + ciphertext


def unseal(blob: bytes, *, name: str, key_id: str) -> bytes:
    key = _keys().get(key_id)
    if key is None:
        raise VaultError(f"Vault key {key_id!r} is not configured in FIG_VAULT_KEYS.")
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + NONCE_BYTES + TAG_BYTES:
        raise VaultError("Not a vault blob.")
    nonce = blob[len(MAGIC) : len(MAGIC) + NONCE_BYTES]
    try:
        return AESGCM(key).decrypt(nonce, blob[len(MAGIC) + NONCE_BYTES :], name.encode())
    except InvalidTag as exc:
        raise VaultError("The blob does not match its key or name (tampered or moved).") from exc


def vault_save(data: bytes, *, folder: str) -> StoredBlob:
    """Encrypt and store `data` under a random name in `folder`. Returns where it went."""
    storage = storages["vault"]
    name = f"{folder}/{secrets.token_hex(2)}/{secrets.token_urlsafe(24)}.bin"
    key_id, blob = seal(data, name=name)
    saved = storage.save(name, ContentFile(blob))
    if saved != name:  # the storage renamed it; the name is part of the seal
        storage.delete(saved)
        raise VaultError("The vault storage renamed a blob; refusing to keep it.")
    return StoredBlob(name=name, key_id=key_id, size=len(data), sha256=hashlib.sha256(data).hexdigest())


def vault_read(*, name: str, key_id: str) -> bytes:
    storage = storages["vault"]
    try:
        with storage.open(name, "rb") as handle:
            blob = handle.read()
    except FileNotFoundError as exc:
        raise VaultError(f"Vault blob {name} is missing.") from exc
    return unseal(blob, name=name, key_id=key_id)


def vault_delete(*, name: str) -> None:
    storages["vault"].delete(name)


def vault_reseal(*, name: str, key_id: str) -> str:
    """Re-encrypt one blob with the current key, in place. Returns the new key id."""
    target = current_key_id()
    if key_id == target:
        return key_id
    storage = storages["vault"]
    try:
        with storage.open(name, "rb") as handle:
            old_blob = handle.read()
    except FileNotFoundError as exc:
        raise VaultError(f"Vault blob {name} is missing.") from exc
    data = unseal(old_blob, name=name, key_id=key_id)
    new_key_id, blob = seal(data, name=name, key_id=target)
    # Storages cannot overwrite in place: delete, then write. If the write fails
    # or lands under another name, put the old blob back so nothing is lost.
    storage.delete(name)
    try:
        saved = storage.save(name, ContentFile(blob))
    except BaseException:
        storage.save(name, ContentFile(old_blob))
        raise
    if saved != name:
        storage.delete(saved)
        storage.save(name, ContentFile(old_blob))
        raise VaultError("The vault storage renamed a blob; refusing to keep it.")
    return new_key_id
