"""Email goes out through a Celery task, only after the transaction commits."""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import transaction

from staff.notifications import notify


@pytest.mark.django_db
def test_it_sends_after_commit_one_message_per_recipient_when_asked(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notify(to=["a@example.org", "b@example.org"], subject="Hello", template="staff/email/breach_status.txt",
               context={"report": {"pk": 7}, "link": "https://x"}, separately=True)
        assert mail.outbox == []  # nothing leaves before the commit
    assert len(callbacks) == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["a@example.org", "b@example.org"]
    assert all(len(m.to) == 1 for m in mail.outbox)


@pytest.mark.django_db(transaction=True)
def test_it_sends_nothing_when_the_transaction_rolls_back():
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        notify(to=["a@example.org"], subject="Hello", template="staff/email/breach_status.txt",
               context={"report": {"pk": 7}, "link": "https://x"})
        raise Boom
    assert mail.outbox == []


def test_the_task_takes_plain_strings():
    from staff.tasks import send_email

    send_email.run(subject="S", body="B", to=["c@example.org"])
    assert mail.outbox[-1].subject == "S"
