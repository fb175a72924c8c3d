"""The encrypted vault: bytes are sealed with AES-256-GCM before they reach storage.

Each blob records the id of the key that sealed it, in its own header, so keys
can rotate (FIG_VAULT_KEYS lists the newest first; older keys still open old
blobs). The header is what counts: signed consent rows are append-only, so the
key id they were written with cannot change when their blobs are re-sealed. The
stored name is random and is bound into the encryption as associated data, with
the header, so a blob copied to another name will not open. Storage is Django's
`vault` storage: a private local folder or an S3-compatible bucket.

Blob layout: b"FIGV2", one byte key-id length, the key id, a 12-byte nonce, the
AES-GCM ciphertext and tag. Blobs written before the header existed (b"FIGV1",
nonce, ciphertext) open with the key id their row recorded.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import storages

MAGIC = b"FIGV2"
LEGACY_MAGIC = b"FIGV1"
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


def _header(key_id: str) -> bytes:
    encoded = key_id.encode()
    if not 0 < len(encoded) < 256:
        raise VaultError(f"Vault key id {key_id!r} must be 1 to 255 bytes long.")
    return MAGIC + bytes([len(encoded)]) + encoded


def _parse(blob: bytes, *, key_id: str) -> tuple[str, bytes, bytes, bytes]:
    """(key id, associated-data prefix, nonce, ciphertext) of a blob; `key_id` only counts for legacy blobs."""
    if blob.startswith(MAGIC) and len(blob) > len(MAGIC):
        end = len(MAGIC) + 1 + blob[len(MAGIC)]
        try:
            sealed_with = blob[len(MAGIC) + 1 : end].decode()
        except UnicodeDecodeError as exc:
            raise VaultError("Not a vault blob.") from exc
        if not sealed_with or len(blob) < end + NONCE_BYTES + TAG_BYTES:
            raise VaultError("Not a vault blob.")
        return sealed_with, blob[:end], blob[end : end + NONCE_BYTES], blob[end + NONCE_BYTES :]
    if blob.startswith(LEGACY_MAGIC) and len(blob) >= len(LEGACY_MAGIC) + NONCE_BYTES + TAG_BYTES:
        start = len(LEGACY_MAGIC)
        return key_id, b"", blob[start : start + NONCE_BYTES], blob[start + NONCE_BYTES :]
    raise VaultError("Not a vault blob.")


def blob_key_id(blob: bytes, *, key_id: str = "") -> str:
    """The id of the key that sealed `blob` (from its header; `key_id` for a legacy blob)."""
    return _parse(blob, key_id=key_id)[0]


def seal(data: bytes, *, name: str, key_id: str | None = None) -> tuple[str, bytes]:
    key_id = key_id or current_key_id()
    key = _keys().get(key_id)
    if key is None:
        raise VaultError(f"Vault key {key_id!r} is not configured in FIG_VAULT_KEYS.")
    header = _header(key_id)
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(key).encrypt(nonce, data, header + name.encode())
    return key_id, header + nonce + ciphertext


def unseal(blob: bytes, *, name: str, key_id: str) -> bytes:
    """Open a blob. The key is the one its header names; `key_id` (the row's record) is for legacy blobs."""
    sealed_with, header, nonce, ciphertext = _parse(blob, key_id=key_id)
    key = _keys().get(sealed_with)
    if key is None:
        raise VaultError(f"Vault key {sealed_with!r} is not configured in FIG_VAULT_KEYS.")
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, header + name.encode())
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


@contextmanager
def blobs_removed_on_failure() -> Iterator[list[str]]:
    """Names appended to the list are blobs just sealed into the vault for rows being written. Put it
    around the transaction: if anything fails, the commit included, the rows are gone and so are the
    blobs, so nothing is left in storage that no row names."""
    names: list[str] = []
    try:
        yield names
    except BaseException:
        for name in names:
            try:
                vault_delete(name=name)
            except Exception:  # noqa: BLE001 - the first failure is the one to report
                logging.getLogger(__name__).exception(
                    "Could not delete vault blob %s after a failed transaction.", name
                )
        raise


def vault_reseal(*, name: str, key_id: str) -> str:
    """Re-encrypt one blob with the current key, in place. Returns the key id it is sealed with now."""
    return vault_reseal_blob(name=name, key_id=key_id)[0]


def vault_reseal_blob(*, name: str, key_id: str) -> tuple[str, bool]:
    """Re-encrypt one blob with the current key, in place: (key id it is sealed with now, whether it was rewritten).

    `key_id` is the id its row recorded; the blob's own header wins, so a blob
    already on the current key is left alone even when its row is out of date.
    """
    target = current_key_id()
    storage = storages["vault"]
    try:
        with storage.open(name, "rb") as handle:
            old_blob = handle.read()
    except FileNotFoundError as exc:
        raise VaultError(f"Vault blob {name} is missing.") from exc
    if blob_key_id(old_blob, key_id=key_id) == target:
        return target, False
    data = unseal(old_blob, name=name, key_id=key_id)
    new_key_id, blob = seal(data, name=name, key_id=target)
    _overwrite(name=name, blob=blob, old_blob=old_blob)
    return new_key_id, True


def vault_replace(*, name: str, key_id: str, data: bytes) -> StoredBlob:
    """Put `data` in place of what the blob under `name` holds, sealed with the current key. For rows that
    cannot change (signed consent records): the name stays, the contents change."""
    storage = storages["vault"]
    try:
        with storage.open(name, "rb") as handle:
            old_blob = handle.read()
    except FileNotFoundError as exc:
        raise VaultError(f"Vault blob {name} is missing.") from exc
    unseal(old_blob, name=name, key_id=key_id)  # only a blob that is really ours is replaced
    new_key_id, blob = seal(data, name=name)
    _overwrite(name=name, blob=blob, old_blob=old_blob)
    return StoredBlob(name=name, key_id=new_key_id, size=len(data), sha256=hashlib.sha256(data).hexdigest())


def _overwrite(*, name: str, blob: bytes, old_blob: bytes) -> None:
    # Storages cannot overwrite in place: delete, then write. If the write fails
    # or lands under another name, put the old blob back so nothing is lost.
    storage = storages["vault"]
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


def blob_response(*, name: str, key_id: str, content_type: str, filename: str, attachment: bool = False):
    """The decrypted bytes of one blob as a private response: never cached, never sniffed; 404 when the
    blob cannot be opened. Call only after the permission check, and record the access once this returns."""
    from django.http import Http404, HttpResponse

    try:
        data = vault_read(name=name, key_id=key_id)
    except VaultError as exc:
        raise Http404 from exc
    response = HttpResponse(data, content_type=content_type)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = f'{"attachment" if attachment else "inline"}; filename="{filename}"'
    return response
