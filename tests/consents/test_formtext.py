"""The form's required statements follow the settings: how long photos are kept and how long answers last."""

from __future__ import annotations

from consents.formtext import _period, default_closing, how_long_kept, missing_statements


def test_periods_read_as_people_say_them():
    assert [_period(d) for d in (365, 1095, 30, 180, 45)] == ["1 year", "3 years", "1 month", "6 months", "45 days"]


def test_the_default_words_say_what_the_settings_say(settings):
    settings.FIG_PHOTO_RETENTION_DAYS = 3 * 365
    settings.FIG_CONSENT_VALID_MONTHS = 12
    closing = default_closing()
    assert "We keep photos for up to 3 years and then delete them." in closing
    assert "Your answers last for 12 months" in closing
    assert missing_statements(closing) == []


def test_after_the_retention_period_changes_the_old_words_are_refused(settings):
    settings.FIG_PHOTO_RETENTION_DAYS = 3 * 365
    old_words = default_closing()
    settings.FIG_PHOTO_RETENTION_DAYS = 2 * 365
    assert how_long_kept() == "We keep photos for up to 2 years and then delete them."
    assert missing_statements(old_words) == [how_long_kept()]
    assert missing_statements(default_closing()) == []
