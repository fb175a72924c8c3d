"""Sensible default term lists for the religious/political check; social media administrators edit them at /social/policy-terms/."""

from django.db import migrations

RELIGIOUS = [
    "God",
    "Jesus",
    "Christ",
    "Allah",
    "Prophet",
    "church",
    "mosque",
    "synagogue",
    "temple",
    "gurdwara",
    "prayer",
    "pray",
    "praying",
    "blessed",
    "blessing",
    "Bible",
    "Quran",
    "Koran",
    "Torah",
    "scripture",
    "Christian",
    "Muslim",
    "Jewish",
    "Hindu",
    "Sikh",
    "Buddhist",
    "atheist",
    "faith",
    "worship",
    "sermon",
    "Ramadan",
    "Eid",
    "Diwali",
    "Hanukkah",
    "Easter Sunday",
    "Amen",
    "Hallelujah",
]
POLITICAL = [
    "Labour",
    "Conservative",
    "Conservatives",
    "Tory",
    "Tories",
    "Lib Dem",
    "Liberal Democrats",
    "Reform UK",
    "Green Party",
    "SNP",
    "Plaid Cymru",
    "Sinn Féin",
    "DUP",
    "election",
    "general election",
    "vote for",
    "ballot",
    "referendum",
    "MP",
    "Prime Minister",
    "Parliament",
    "government cuts",
    "austerity",
    "Brexit",
    "protest",
    "campaign against",
    "petition",
    "left-wing",
    "right-wing",
    "immigration",
    "asylum seekers",
]


def add_terms(apps, schema_editor):
    PolicyTerm = apps.get_model("social", "PolicyTerm")
    for category, terms in (("religious", RELIGIOUS), ("political", POLITICAL)):
        for term in terms:
            PolicyTerm.objects.get_or_create(category=category, term=term)


class Migration(migrations.Migration):
    dependencies = [("social", "0002_policy_terms")]

    operations = [migrations.RunPython(add_terms, migrations.RunPython.noop)]
