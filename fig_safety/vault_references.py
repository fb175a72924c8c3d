"""Every vault blob the database names, listed once: backups copy these blobs and key rotation re-seals them,
so a blob field added here is both backed up and rotated, and one left out is neither (a test checks every
`*_blob` field is listed). Models are looked up by label, so this module imports none of the apps."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.apps import apps

# Every model field that holds a vault blob name, with the field recording the key it was sealed with.
BLOB_FIELDS = (
    ("photos.photo", "original_blob", "original_key_id"),
    ("photos.photo", "thumbnail_blob", "thumbnail_key_id"),
    ("photos.photo", "incoming_blob", "incoming_key_id"),
    ("photos.photo", "unidentifiable_blob", "unidentifiable_key_id"),
    ("photos.photo", "unidentifiable_thumbnail_blob", "unidentifiable_thumbnail_key_id"),
    ("consents.consentrecord", "signature_blob", "signature_key_id"),
    ("consents.consentrecord", "scan_blob", "scan_key_id"),
)
# Every JSON field holding a list of dicts that each may name a blob ("blob") and its key ("key_id"), with
# what one entry is called: inbox attachments.
BLOB_LISTS = (("social.message", "attachments", "attachment"),)
CHUNK = 2000


@dataclass(frozen=True)
class BlobReference:
    name: str
    key_id: str  # as the row recorded it; the blob's own header wins (fig_safety.vault)
    where: str  # which row names it, for a report
    model: str  # the row's model label
    pk: int
    kind: str  # "original", "unidentifiable_thumbnail", "attachment", …
    field: str  # the blob field, or the JSON list the blob is an entry of
    key_field: str = ""  # the key-id field beside a blob field; "" for a list entry ("key_id" in the entry)
    index: int | None = None  # a list entry's place in its list


def listed_blobs(entries: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    """(index, entry) for each entry of a blob list (BLOB_LISTS) that names a blob."""
    for index, entry in enumerate(entries or []):
        if isinstance(entry, dict) and entry.get("blob"):
            yield index, entry


def vault_references() -> Iterator[BlobReference]:
    """Every blob the database names, as the current transaction sees it."""
    for label, blob_field, key_field in BLOB_FIELDS:
        model = apps.get_model(label)
        rows = model._base_manager.exclude(**{blob_field: ""}).order_by("pk").values_list("pk", blob_field, key_field)
        for pk, name, key_id in rows.iterator(chunk_size=CHUNK):
            yield BlobReference(
                name=name,
                key_id=key_id,
                where=f"{label} {pk} {blob_field}",
                model=label,
                pk=pk,
                kind=blob_field.removesuffix("_blob"),
                field=blob_field,
                key_field=key_field,
            )
    for label, list_field, kind in BLOB_LISTS:
        model = apps.get_model(label)
        rows = model._base_manager.exclude(**{list_field: []}).order_by("pk").values_list("pk", list_field)
        for pk, entries in rows.iterator(chunk_size=CHUNK):
            for index, entry in listed_blobs(entries):
                yield BlobReference(
                    name=entry["blob"],
                    key_id=entry.get("key_id", ""),
                    where=f"{label} {pk} {kind} {index}",
                    model=label,
                    pk=pk,
                    kind=kind,
                    field=list_field,
                    index=index,
                )
