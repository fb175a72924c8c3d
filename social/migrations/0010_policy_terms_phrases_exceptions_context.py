"""The term lists learn phrases, word forms, exceptions and context (issue 14): each row gets a kind, and
the defaults are tuned on realistic charity posts (tests/data/policy_posts.json, `python -m bench.policy_checks`).

What each kind does: social/posts/checks/terms.py. A default a social media administrator has already added
or changed is left as they have it; a default that would clash with a term checked on the other list is
left out.
"""

from django.db import migrations, models
from django.db.models.functions import Lower

TERM, NEEDS_CONTEXT, CONTEXT, EXCEPTION = "term", "needs_context", "context", "exception"

# Rows from 0003 that did more harm than good, as (category, term): kind or None to switch off.
CHANGED = {
    # Everyday English: "Feeling blessed", "a blessing in disguise". "God bless" stays.
    ("religious", "blessed"): None,
    ("religious", "blessing"): None,
    # A form of "pray", which finds it; left on, it would go on finding "pray" with "pray" switched off.
    ("religious", "praying"): None,
    # An Easter egg hunt on Easter Sunday is not worship; "He is risen" and the services are on the list.
    ("religious", "Easter Sunday"): None,
    # "Have faith in yourself", "families of all faiths"; it counts beside "God", "religion", "vicar"…
    ("religious", "faith"): NEEDS_CONTEXT,
    # "Vote for us in the Community Awards", "the children voted for their favourite story".
    ("political", "vote for"): NEEDS_CONTEXT,
    # "Thanks to our local MP for visiting the baby bank"; "write to your MP" stays a term.
    ("political", "MP"): NEEDS_CONTEXT,
    # "Places on the trip are given by ballot."
    ("political", "ballot"): NEEDS_CONTEXT,
}

ADDED = {
    "religious": {
        TERM: [
            "thoughts and prayers",
            "God bless",
            "church service",
            "Sunday service",
            "carol service",
            "Sunday school",
            "Sunday Mass",
            "midnight Mass",
            "Mass times",
            "go to Mass",
            "Holy Communion",
            "holy day",
            "He is risen",
            "the Lord",
            "Heavenly Father",
            "Saviour",
            "inshallah",
            "mashallah",
            "alhamdulillah",
            "Vaisakhi",
            "Passover",
            "Rosh Hashanah",
            "Yom Kippur",
        ],
        NEEDS_CONTEXT: [],
        CONTEXT: [
            "religion",
            "religious",
            "belief",
            "spiritual",
            "vicar",
            "priest",
            "imam",
            "rabbi",
            "pastor",
            "chaplain",
            "Reverend",
        ],
        EXCEPTION: [
            # Venues: a church or mosque hall is where a group meets, not worship.
            "church hall",
            "church rooms",
            "church centre",
            "church community hall",
            "mosque hall",
            "mosque community hall",
            "chapel hall",
            "gurdwara hall",
            "synagogue hall",
            "temple hall",
            # Place names.
            "Church Street",
            "Church Road",
            "Church Lane",
            "Temple Street",
            "Temple Road",
            "Temple Lane",
            "Temple Avenue",
            "Temple Newsam",
            "Temple Meads",
            # Sayings and titles.
            "God's own county",
            "the Lord Mayor",
            "the Lord Lieutenant",
            "the Lord of the Rings",
        ],
    },
    "political": {
        TERM: [
            "write to your MP",
            "email your MP",
            "write to your councillor",
            "email your councillor",
            "sign the petition",
            "protester",
            "march against",
            "polling day",
            "go to the polls",
            "this government",
            # The usual short forms, as written in a hurry: "this govt doesnt care".
            "this govt",
            "this gov't",
            "Home Secretary",
            "Education Secretary",
            "Health Secretary",
            "Foreign Secretary",
            "the Chancellor",
            "Starmer",
            "Sunak",
            "Farage",
            "Badenoch",
            "Rachel Reeves",
            "Ed Davey",
            "Boris Johnson",
            "two-child limit",
            "benefit cap",
            "bedroom tax",
            "ceasefire",
            "stop the war",
        ],
        NEEDS_CONTEXT: [
            "vote",
            "voter",
            "party",
            "council",
            "councillor",
            "Cllr",
            "government",
            # Short forms of the words above: "the govt", "Govt". "gov" alone is left out: it is the start of
            # every gov.uk address FiG gives.
            "govt",
            "gov't",
            # A party named by its short name alone ("Reform want to scrap…", "the Greens"): the word is also
            # everyday English ("school reform", "eat your greens"), so it counts only near political words.
            # "Reform UK", "Green Party", "Labour" and "Tory" are terms on their own.
            "Reform",
            "the Greens",
            "strike",
        ],
        CONTEXT: [
            "shame on",
            "ashamed",
            "shameful",
            "disgrace",
            "disgraceful",
            "the cuts",
            "these cuts",
            "funding cuts",
            "budget cuts",
            "budget",
            "failed",
            "stand with",
            "candidate",
            "manifesto",
            "polls",
            "polling station",
            "Westminster",
            "Downing Street",
            "minister",
            # What is said of a party or a government that wants to take something away.
            "scrap funding",
            "funding cut",
            "get away with it",
        ],
        EXCEPTION: [
            # Giving birth: labour as antenatal classes, midwives and maternity units write it. Only phrases
            # that are about a birth ("vote for Labour" is not hidden by any of them, so no "for labour").
            "in labour",
            "into labour",
            "until labour",
            "during labour",
            "early labour",
            "active labour",
            "premature labour",
            "induced labour",
            "induction of labour",
            "signs of labour",
            "stages of labour",
            "prepare for labour",
            "labour and birth",
            "labour and delivery",
            "birth and labour",
            "labour pains",
            "labour ward",
            "labour suite",
            # A building to visit.
            "Houses of Parliament",
            # A party that is a party. Only matters near a context word: "party" needs context.
            "birthday party",
            "Christmas party",
            "summer party",
            "garden party",
            "tea party",
            "party bag",
            "conservative estimate",
        ],
    },
}


def forwards(apps, schema_editor):
    PolicyTerm = apps.get_model("social", "PolicyTerm")
    for (category, term), kind in CHANGED.items():
        rows = PolicyTerm.objects.filter(category=category, term=term, kind=TERM, is_active=True)
        if kind is None:
            rows.update(is_active=False)
        else:
            rows.update(kind=kind)
    for category, kinds in ADDED.items():
        for kind, terms in kinds.items():
            for term in terms:
                same = PolicyTerm.objects.annotate(lower=Lower("term")).filter(lower=term.lower())
                if same.filter(category=category).exists() or same.filter(is_active=True).exists():
                    continue
                PolicyTerm.objects.create(category=category, kind=kind, term=term)


def backwards(apps, schema_editor):
    PolicyTerm = apps.get_model("social", "PolicyTerm")
    for category, kinds in ADDED.items():
        for terms in kinds.values():
            PolicyTerm.objects.filter(category=category, term__in=terms).delete()
    for category, term in CHANGED:
        PolicyTerm.objects.filter(category=category, term=term).update(kind=TERM, is_active=True)


class Migration(migrations.Migration):
    dependencies = [
        ("social", "0009_photo_online_hold"),
    ]

    operations = [
        migrations.AddField(
            model_name="policyterm",
            name="kind",
            field=models.CharField(
                choices=[
                    ("term", "Term"),
                    ("needs_context", "Term that needs context"),
                    ("context", "Context word"),
                    ("exception", "Exception"),
                ],
                default="term",
                max_length=13,
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
