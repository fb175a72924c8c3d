"""The audit trail: one service writes it, nothing rewrites it, and it holds no secrets."""

from __future__ import annotations

import logging
import re

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.test import Client
from django.urls import reverse

from staff.models import AuditEvent, AuditImmutableError
from staff.services import audit_record
from tests import factories


@pytest.fixture
def event(db, member_of_staff):
    return audit_record(action="test.event", actor=member_of_staff, target=member_of_staff, details={"a": 1})


def test_it_records_actor_target_and_details(event, member_of_staff):
    assert event.actor == member_of_staff
    assert event.actor_email == member_of_staff.email
    assert event.target_type == "staff.user"
    assert event.target_id == str(member_of_staff.pk)
    assert event.details == {"a": 1}


def test_it_drops_secret_keys_from_details(db):
    event = audit_record(action="test.secret", details={"password": "hunter2", "code": "123456", "token": "t", "ok": 1})
    assert event.details == {"ok": 1}


def test_it_refuses_to_update_an_event_through_the_orm(event):
    event.action = "tampered"
    with pytest.raises(AuditImmutableError):
        event.save()
    with pytest.raises(AuditImmutableError):
        AuditEvent.objects.filter(pk=event.pk).update(action="tampered")
    assert AuditEvent.objects.get(pk=event.pk).action == "test.event"


def test_it_refuses_to_delete_an_event_through_the_orm(event):
    with pytest.raises(AuditImmutableError):
        event.delete()
    with pytest.raises(AuditImmutableError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_it_refuses_a_raw_sql_update(event):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE staff_auditevent SET action = 'tampered' WHERE id = %s", [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == "test.event"


@pytest.mark.postgres
def test_it_refuses_a_raw_sql_delete_in_postgresql(event):
    assert connection.vendor == "postgresql"
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM staff_auditevent WHERE id = %s", [event.pk])
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_it_audits_sign_in_failure_and_sign_out(client, member_of_staff):
    client.post(reverse("account_login"), {"login": member_of_staff.email, "password": "not the password"})
    failed = AuditEvent.objects.get(action="auth.login_failed")
    assert failed.details == {"email": member_of_staff.email}
    assert failed.ip_address == "127.0.0.1"

    client.force_login(member_of_staff)
    client.post(reverse("account_logout"))
    assert AuditEvent.objects.filter(action="auth.logout", actor=member_of_staff).exists()


def test_it_keeps_passwords_and_codes_out_of_logs_and_audit(client, caplog, member_of_staff, parent):
    from django.core import mail

    secret_password = "not-the-password-but-secret"
    with caplog.at_level(logging.DEBUG):
        client.post(reverse("account_login"), {"login": member_of_staff.email, "password": secret_password})
        client.post(reverse("account_login"), {"login": member_of_staff.email, "password": factories.PASSWORD})
        totp = factories.totp_code(member_of_staff.totp_secret)
        client.post(reverse("mfa_authenticate"), {"code": totp})
        Client().post(reverse("account_request_login_code"), {"email": parent.email})
        code_body = mail.outbox[-1].body
    everything_logged = "\n".join(record.getMessage() for record in caplog.records)
    everything_audited = "\n".join(str(row) for row in AuditEvent.objects.values_list("details", "target_repr"))
    for secret in (secret_password, factories.PASSWORD, totp):
        assert secret not in everything_logged
        assert secret not in everything_audited
    login_codes = re.findall(r"^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", code_body, re.MULTILINE)
    assert login_codes, code_body
    for code in login_codes:
        assert code not in everything_logged
        assert code not in everything_audited


def test_the_log_filter_redacts_secret_looking_values():
    from fig_safety.logging import redact

    assert "hunter2" not in redact("password=hunter2&next=/")
    assert "abc123" not in redact('{"token": "abc123"}')
    assert "next=/" in redact("password=hunter2&next=/")
