"""Demo families for `seed_demo`: DEMO-1 consented to everything, DEMO-2 in part, DEMO-3 waiting."""

from __future__ import annotations

from datetime import date

from django.db import transaction

from consents.models import PURPOSES, Carer, Child, ConsentRecord, ConsentRequest, Family, Purpose
from consents.services import (
    Evidence,
    _create_given_record,
    consent_request_send,
    family_assign_coordinator,
    form_version_current,
)
from staff.models import User
from staff.services import parent_user_get_or_create

DEMO_EVIDENCE = Evidence(ip_address="127.0.0.1", user_agent="seed_demo")
FAMILIES = {
    "DEMO-1": {
        "children": [("Ava", "Demo", date(2017, 3, 14)), ("Ben", "Demo", date(2019, 9, 2))],
        "carer": ("Priya Parent", "parent@example.org", "mother"),
        "answers": dict.fromkeys(PURPOSES, True),
    },
    "DEMO-2": {
        "children": [("Cara", "Demo", date(2016, 6, 30))],
        "carer": ("Morgan Carer", "carer2@example.org", "father"),
        "answers": {p: p in {Purpose.PHOTOGRAPHED, Purpose.STORED} for p in PURPOSES},
    },
    "DEMO-3": {
        "children": [("Dan", "Demo", date(2020, 1, 20))],
        "carer": ("Alex Carer", "carer3@example.org", "grandparent"),
        "answers": None,
    },
}


@transaction.atomic
def seed_consents(*, coordinator: User) -> list[str]:
    version = form_version_current()
    lines = []
    for reference, spec in FAMILIES.items():
        family, _ = Family.objects.get_or_create(reference=reference)
        family_assign_coordinator(family=family, coordinator=coordinator, by=None)
        name, email, relationship = spec["carer"]
        carer, _ = Carer.objects.get_or_create(
            family=family, email=email,
            defaults={"full_name": name, "relationship": relationship, "has_parental_responsibility": True},
        )
        if carer.user_id is None:
            carer.user = parent_user_get_or_create(email=email, full_name=name)
            carer.save(update_fields=["user"])
        for first, last, born in spec["children"]:
            child, _ = Child.objects.get_or_create(
                family=family, first_name=first, last_name=last, defaults={"date_of_birth": born}
            )
            if spec["answers"] is not None and not child.consent_records.exists():
                _create_given_record(
                    child=child, carer=carer, version=version, answers=spec["answers"], typed_name=name,
                    identified_by=ConsentRecord.IdentifiedBy.EMAIL_LINK, evidence=DEMO_EVIDENCE,
                    consent_request=None, signature_png=None,
                )
            if spec["answers"] is None and not child.requests.filter(status=ConsentRequest.Status.PENDING).exists():
                consent_request_send(child=child, carer=carer, by=coordinator)
        lines.append(f"Family {reference}: {', '.join(f'{c[0]} {c[1]}' for c in spec['children'])} (carer {email})")
    return lines
