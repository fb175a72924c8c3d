"""Breach reports a CEO can act on: severity, a child's data, the ICO decision and its 72-hour clock, who else
must be told, and an append-only timeline; the CEO's by-hand policy reminders.

Reports made before this: FiG became aware when they were made, the timeline starts with the report, and
their ICO reminders count as sent (their deadlines passed long ago; the pages still say so).
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models
from django.db.models import F

from fig_safety.append_only import allow_minimising, make_append_only


def existing_reports(apps, schema_editor):
    BreachReport = apps.get_model("staff", "BreachReport")
    BreachAction = apps.get_model("staff", "BreachAction")
    now = django.utils.timezone.now()
    BreachReport.objects.update(
        became_aware_at=F("created_at"), ico_reminded_24h_at=now, ico_reminded_4h_at=now, ico_overdue_sent_at=now
    )
    BreachAction.objects.bulk_create(
        BreachAction(
            report=report,
            at=report.created_at,
            by=report.reporter,
            what=(
                f"Reported by {report.reporter.full_name or report.reporter.email}."
                if report.reporter
                else "Found automatically by FiG Safety."
            ),
        )
        for report in BreachReport.objects.select_related("reporter").order_by("pk")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("staff", "0007_append_only_minimising"),
    ]

    operations = [
        migrations.AddField(
            model_name="breachreport",
            name="became_aware_at",
            field=models.DateTimeField(default=django.utils.timezone.now, verbose_name="when FiG became aware"),
        ),
        migrations.AddField(
            model_name="breachreport",
            name="child_data_involved",
            field=models.BooleanField(blank=True, null=True, verbose_name="personal data of a child is involved"),
        ),
        migrations.AddField(
            model_name="breachreport",
            name="ico_overdue_sent_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="breachreport",
            name="ico_reference",
            field=models.CharField(blank=True, max_length=100, verbose_name="the ICO's reference"),
        ),
        migrations.AddField(
            model_name="breachreport",
            name="ico_reminded_24h_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="breachreport",
            name="ico_reminded_4h_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="breachreport",
            name="ico_reported_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="when the ICO was told"),
        ),
        migrations.AddField(
            model_name="breachreport",
            name="reportable_reason",
            field=models.TextField(blank=True, verbose_name="why"),
        ),
        migrations.AddField(
            model_name="breachreport",
            name="reportable_to_ico",
            field=models.CharField(
                choices=[("undecided", "Not decided yet"), ("yes", "Yes"), ("no", "No")],
                default="undecided",
                max_length=10,
                verbose_name="must the ICO be told",
            ),
        ),
        migrations.AddField(
            model_name="breachreport",
            name="severity",
            field=models.CharField(
                blank=True,
                choices=[("", "Not assessed yet"), ("low", "Low"), ("medium", "Medium"), ("high", "High")],
                default="",
                max_length=10,
            ),
        ),
        migrations.CreateModel(
            name="BreachAction",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("at", models.DateTimeField(default=django.utils.timezone.now)),
                ("what", models.TextField()),
                (
                    "by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "report",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="actions", to="staff.breachreport"
                    ),
                ),
            ],
            options={
                "ordering": ["at", "pk"],
            },
        ),
        migrations.CreateModel(
            name="BreachContact",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "party",
                    models.CharField(
                        choices=[
                            ("family", "The family affected"),
                            ("police", "The police"),
                            ("lado", "The local authority designated officer (LADO)"),
                            ("charity_commission", "The Charity Commission (serious incident report)"),
                            ("insurers", "FiG's insurers"),
                        ],
                        max_length=30,
                    ),
                ),
                ("told_on", models.DateField(blank=True, null=True)),
                (
                    "report",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="people_to_tell",
                        to="staff.breachreport",
                    ),
                ),
            ],
            options={
                "ordering": ["pk"],
                "constraints": [
                    models.UniqueConstraint(fields=("report", "party"), name="one_contact_per_report_and_party")
                ],
            },
        ),
        migrations.CreateModel(
            name="PolicyNudge",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("sent_on", models.DateField()),
                ("sent_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "by",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="policy_nudges",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "version",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="staff.policyversion"
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("user", "sent_on"), name="one_policy_nudge_per_user_and_day")
                ],
            },
        ),
        migrations.RunPython(existing_reports, migrations.RunPython.noop),
        make_append_only("staff_breachaction"),
        allow_minimising("staff_breachaction"),
    ]
