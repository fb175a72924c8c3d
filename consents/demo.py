"""Demo families for `seed_demo`: DEMO-1 consented to everything, DEMO-2 in part, DEMO-3 waiting."""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.utils import timezone

from consents.models import PURPOSES, Carer, Child, ConsentRecord, ConsentRequest, Family, Purpose
from consents.selectors import State, consents_for_children, families_managed_by
from consents.services.evidence import Evidence
from consents.services.families import family_assign_coordinator
from consents.services.requests import consent_request_send
from consents.services.signing import consent_record_offline
from staff.models import User
from staff.services import parent_user_get_or_create

DEMO_EVIDENCE = Evidence(ip_address="127.0.0.1", user_agent="seed_demo")
# A demo consent has no emailed link behind it, so it is what it honestly is: taken by phone and
# recorded by the demo coordinator.
TAKEN_BY = "seed_demo (demo data)"
_LAPSED = {State.NONE, State.EXPIRED, State.OUTDATED}
FAMILIES = {
    "DEMO-1": {
        "name": "Demo family (Priya)",
        "children": [("Ava", "Demo", date(2017, 3, 14)), ("Ben", "Demo", date(2019, 9, 2))],
        "carer": ("Priya Parent", "parent@example.org", "mother"),
        "answers": dict.fromkeys(PURPOSES, True),
    },
    "DEMO-2": {
        "name": "Demo family (Morgan)",
        "children": [("Cara", "Demo", date(2016, 6, 30))],
        "carer": ("Morgan Carer", "carer2@example.org", "father"),
        "answers": {p: p in {Purpose.PHOTOGRAPHED, Purpose.STORED} for p in PURPOSES},
    },
    "DEMO-3": {
        "name": "Demo family (Alex)",
        "children": [("Dan", "Demo", date(2020, 1, 20))],
        "carer": ("Alex Carer", "carer3@example.org", "grandparent"),
        "answers": None,
    },
}


@transaction.atomic
def seed_consents(*, coordinator: User) -> list[str]:
    """Create the demo families, or bring them back to what they demonstrate; a second run adds nothing.

    DEMO-1 and DEMO-2 get their consent again once it has lapsed (expired, or on a form version that
    needs re-consent), so a demo set up a year ago still shows consent. DEMO-3 keeps one open request
    until someone answers it.
    """
    lines = []
    for reference, spec in FAMILIES.items():
        family, _ = Family.objects.get_or_create(reference=reference)
        if family.display_name != spec["name"]:
            family.display_name = spec["name"]
            family.save(update_fields=["display_name"])
        if not families_managed_by(coordinator).filter(pk=family.pk).exists():
            family_assign_coordinator(family=family, coordinator=coordinator, by=None)
        name, email, relationship = spec["carer"]
        carer, _ = Carer.objects.get_or_create(
            family=family,
            email=email,
            defaults={"full_name": name, "relationship": relationship, "has_parental_responsibility": True},
        )
        if carer.user_id is None:
            carer.user = parent_user_get_or_create(email=email, full_name=name)
            carer.save(update_fields=["user"])
        children = [
            Child.objects.get_or_create(
                family=family, first_name=first, last_name=last, defaults={"date_of_birth": born}
            )[0]
            for first, last, born in spec["children"]
        ]
        positions = consents_for_children([child.pk for child in children])
        for child in children:
            if spec["answers"] is not None:
                yes = [p for p, answer in spec["answers"].items() if answer]
                if any(positions[child.pk].states[p] in _LAPSED for p in yes):
                    consent_record_offline(
                        child=child,
                        carer=carer,
                        answers=spec["answers"],
                        method=ConsentRecord.Method.PHONE,
                        taken_by=TAKEN_BY,
                        by=coordinator,
                        scan=None,
                        evidence=DEMO_EVIDENCE,
                    )
            elif not child.consent_records.exists() and not _has_open_request(child):
                consent_request_send(child=child, carer=carer, by=coordinator)
        lines.append(f"Family {reference}: {', '.join(f'{c[0]} {c[1]}' for c in spec['children'])} (carer {email})")
    return lines


def _has_open_request(child: Child) -> bool:
    return child.requests.filter(status=ConsentRequest.Status.PENDING, expires_at__gt=timezone.now()).exists()
