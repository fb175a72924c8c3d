"""Consent factories and quick helpers: families, children, carers, and records made through the services.

Stable API (others import it):

- `FamilyFactory`, `ChildFactory`, `CarerFactory` (factory_boy; a carer has parental responsibility by default)
- `family_with_child(coordinator=None, carers=1)` -> (family, child, [carers])
- `assign(coordinator, family)`
- `give(child, carer, answers=None, at=None)` -> ConsentRecord (a phone consent recorded through the service)
- `withdraw(child, carer, purposes, at=None)` -> ConsentRecord
- `request_for(child, carer, at=None)` -> ConsentRequest (sent through the service; emails the carer)
- `sign(consent_request, answers=None, at=None, signature=PNG_DATA_URL)` -> ConsentRecord (the online path)
- `publish_version(requires_reconsent=False, at=None)` -> ConsentFormVersion
- `all_answers(default=True, **overrides)`, `EVIDENCE`, `png_bytes()`, `png_data_url()`, `frozen(at)`
"""

from __future__ import annotations

import base64
import datetime as dt
import io
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from unittest import mock

import factory
from PIL import Image

from consents.formtext import DEFAULT_INTRODUCTION, DEFAULT_PURPOSE_TEXTS, default_closing
from consents.models import PURPOSES, Carer, Child, ConsentFormVersion, ConsentRecord, ConsentRequest, Family
from consents.services.evidence import Evidence
from consents.services.families import family_assign_coordinator
from consents.services.form_versions import form_version_current, form_version_publish
from consents.services.requests import consent_request_send
from consents.services.signing import consent_record_offline, consent_sign
from consents.services.withdrawal import consent_withdraw

EVIDENCE = Evidence(ip_address="203.0.113.7", user_agent="Mozilla/5.0 (pytest phone)")


class FamilyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Family

    notes = ""


class ChildFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Child

    family = factory.SubFactory(FamilyFactory)
    first_name = factory.Sequence(lambda n: f"Kid{n}")
    last_name = "Testchild"
    date_of_birth = dt.date(2018, 5, 17)


class CarerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Carer

    family = factory.SubFactory(FamilyFactory)
    full_name = factory.Sequence(lambda n: f"Carer Number{n}")
    email = factory.Sequence(lambda n: f"carer{n}@example.org")
    phone = ""
    relationship = "mother"
    has_parental_responsibility = True


@contextmanager
def frozen(at: dt.datetime | None) -> Iterator[None]:
    """Make `django.utils.timezone.now()` return `at` (no-op for None).

    Model field defaults captured the real function at import time, so only
    code that calls `timezone.now()` is affected; the services do.
    """
    if at is None:
        yield
        return
    with mock.patch("django.utils.timezone.now", return_value=at):
        yield


def all_answers(default: bool = True, **overrides: bool) -> dict[str, bool]:
    """Every purpose answered `default`, some overridden: all_answers(False, photographed=True)."""
    unknown = set(overrides) - set(PURPOSES)
    if unknown:
        raise ValueError(f"unknown purposes: {unknown}")
    return {purpose: overrides.get(purpose, default) for purpose in PURPOSES}


def png_bytes(width: int = 60, height: int = 20) -> bytes:
    image = Image.new("RGBA", (width, height), (255, 255, 255, 0))
    for x in range(width):
        image.putpixel((x, height // 2), (0, 0, 0, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def png_data_url(width: int = 60, height: int = 20) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(width, height)).decode()


PNG_DATA_URL = png_data_url()


def family_with_child(coordinator=None, carers: int = 1) -> tuple[Family, Child, list[Carer]]:
    """A family with one child and `carers` carers, all with parental responsibility and an email."""
    family = FamilyFactory()
    child = ChildFactory(family=family)
    people = [CarerFactory(family=family) for _ in range(carers)]
    if coordinator is not None:
        assign(coordinator, family)
    return family, child, people


def assign(coordinator, family: Family) -> None:
    family_assign_coordinator(family=family, coordinator=coordinator, by=None)


def publish_version(requires_reconsent: bool = False, at: dt.datetime | None = None, by=None) -> ConsentFormVersion:
    form_version_current()  # version 1 exists first, as in real use
    with frozen(at):
        return form_version_publish(
            introduction=DEFAULT_INTRODUCTION + " (revised)",
            purpose_texts={str(k): v for k, v in DEFAULT_PURPOSE_TEXTS.items()},
            closing=default_closing(),
            requires_reconsent=requires_reconsent,
            by=by,
        )


def give(
    child: Child, carer: Carer, answers: dict[str, bool] | None = None, at: dt.datetime | None = None, by=None
) -> ConsentRecord:
    """A consent recorded by phone through `consent_record_offline` (all yes unless told), signed at `at`."""
    chosen = all_answers() if answers is None else answers
    with frozen(at):
        return consent_record_offline(
            child=child,
            carer=carer,
            answers=chosen,
            method=ConsentRecord.Method.PHONE,
            taken_by="Test Coordinator",
            by=by,
            scan=None,
            evidence=EVIDENCE,
        )


def withdraw(
    child: Child, carer: Carer, purposes: Iterable[str], at: dt.datetime | None = None, by=None
) -> ConsentRecord:
    with frozen(at):
        return consent_withdraw(
            child=child,
            carer=carer,
            purposes=list(purposes),
            evidence=EVIDENCE,
            by=by,
            identified_by=ConsentRecord.IdentifiedBy.STAFF if by else ConsentRecord.IdentifiedBy.CODE_SIGN_IN,
        )


def request_for(child: Child, carer: Carer, at: dt.datetime | None = None, by=None) -> ConsentRequest:
    with frozen(at):
        return consent_request_send(child=child, carer=carer, by=by)


def sign(
    consent_request: ConsentRequest,
    answers: dict[str, bool] | None = None,
    at: dt.datetime | None = None,
    signature: str = PNG_DATA_URL,
    typed_name: str | None = None,
) -> ConsentRecord:
    chosen = all_answers() if answers is None else answers
    with frozen(at):
        return consent_sign(
            consent_request_id=consent_request.pk,
            answers=chosen,
            typed_name=typed_name if typed_name is not None else consent_request.carer.full_name,
            confirmed_pr=True,
            signature_data_url=signature,
            evidence=EVIDENCE,
        )
