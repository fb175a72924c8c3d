"""Seed the benchmark database with a few years' worth of data, fast (bulk_create throughout).

    python -m bench.seed [--scale 0.1] [--force]

At scale 1: 2,000 families, 5,000 children, their carers and signed consents,
20,000 photos with tags, 1,000 posts and 100,000 open inbox conversations (one
message each) of which 1,000 are due. Idempotent: a marker table (bench_seed)
records the scale and the seed's version; the same again does nothing, another
scale or an older seed drops and recreates fig_bench.

Photo bytes: 20 distinct small JPEGs (an original and a thumbnail each) are
sealed into the vault once, and every Photo row points at one of those 20
blob pairs. The gallery and the image views decrypt real blobs, but the vault
folder stays a few hundred kilobytes.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import random
import sys
import time
from datetime import timedelta

from bench import common

DISTINCT_IMAGES = 20
PASSWORD = "bench-password-not-secret"

FIRST = [
    "Amelia",
    "Oliver",
    "Isla",
    "George",
    "Ava",
    "Noah",
    "Ivy",
    "Leo",
    "Freya",
    "Arthur",
    "Lily",
    "Oscar",
    "Mia",
    "Harry",
    "Rosie",
    "Jack",
    "Grace",
    "Alfie",
    "Evie",
    "Theo",
]
LAST = [
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Patel",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Wood",
    "Jackson",
]


# Raised when what the seed makes changes, so that a database seeded before is seeded again.
# 2: the inbox is conversations, each holding its message (issue 15).
SEED_VERSION = 2


def counts(scale: float) -> dict[str, int]:
    def n(full: int) -> int:
        return max(1, int(round(full * scale)))

    return {
        "families": n(2000),
        "children": n(5000),
        "photos": n(20000),
        "posts": n(1000),
        "messages": n(100000),
        "due": n(1000),
    }


def _marker():
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS bench_seed (id int PRIMARY KEY, info jsonb NOT NULL)")
        cur.execute("SELECT info FROM bench_seed WHERE id = 1")
        row = cur.fetchone()
    if row is None:
        return None
    return row[0] if isinstance(row[0], dict) else json.loads(row[0])


def _write_marker(info: dict) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO bench_seed (id, info) VALUES (1, %s) ON CONFLICT (id) DO UPDATE SET info = EXCLUDED.info",
            [json.dumps(info)],
        )


def seeded_info() -> dict:
    """The marker of the current seed (scale, counts, user emails, reference time)."""
    common.setup()
    info = _marker()
    if info is None:
        raise RuntimeError("The benchmark database is not seeded: run `python -m bench.seed` first.")
    return info


def ensure(scale: float, *, force: bool = False, quiet: bool = False) -> dict:
    common.setup()
    info = _marker()
    if info is not None and info.get("scale") == scale and info.get("version") == SEED_VERSION and not force:
        if not quiet:
            print(f"bench.seed: already seeded at scale {scale}; nothing to do.", file=sys.stderr)
        return info
    if info is not None:
        common.drop_database()
        common.migrate()
        _marker()
    start = time.perf_counter()
    info = _seed(scale)
    info["version"] = SEED_VERSION
    info["seed_seconds"] = round(time.perf_counter() - start, 1)
    _write_marker(info)
    if not quiet:
        print(f"bench.seed: seeded scale {scale} in {info['seed_seconds']} s: {info['counts']}", file=sys.stderr)
    return info


def _images() -> list[tuple[bytes, bytes, int, int]]:
    from PIL import Image, ImageDraw

    out = []
    for i in range(DISTINCT_IMAGES):
        colour = ((i * 53) % 256, (i * 97) % 256, (i * 151) % 256)
        image = Image.new("RGB", (320, 240), colour)
        draw = ImageDraw.Draw(image)
        draw.ellipse((40 + i * 5, 40, 200 + i * 3, 200), fill=(255 - colour[0], 255 - colour[1], 255 - colour[2]))
        original = io.BytesIO()
        image.save(original, "JPEG", quality=80)
        image.thumbnail((160, 120))
        thumb = io.BytesIO()
        image.save(thumb, "JPEG", quality=75)
        out.append((original.getvalue(), thumb.getvalue(), 320, 240))
    return out


def _user(email: str, role: str | None, policy):
    from allauth.account.models import EmailAddress
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.contrib.auth.models import Group

    from staff.models import PolicyAcknowledgement, User

    user = User.objects.create_user(
        email=email, password=PASSWORD, full_name=email.split("@")[0].replace(".", " ").title()
    )
    if role:
        group, _ = Group.objects.get_or_create(name=role)
        user.groups.add(group)
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    if role:
        TOTP.activate(user, generate_totp_secret())
        if policy is not None:
            PolicyAcknowledgement.objects.create(user=user, version=policy)
    return user


def _seed(scale: float) -> dict:
    from django.contrib.auth.models import Permission
    from django.db import transaction
    from django.utils import timezone

    from consents.models import (
        PURPOSES,
        Carer,
        Child,
        ConsentFormVersion,
        ConsentRecord,
        Family,
        FamilyUserObjectPermission,
    )
    from fig_safety.vault import vault_save
    from photos.models import Photo, PhotoTag, UploadBatch
    from social.models import Conversation, Message, Post, PostChannel
    from staff.models import PolicyVersion
    from staff.roles import Role

    rng = random.Random(7)
    n = counts(scale)
    now = timezone.now().replace(microsecond=0)

    with transaction.atomic():
        policy = PolicyVersion.objects.order_by("-number").first()
        if policy is None:
            text = "FiG eSafety policy (benchmark copy).\n"
            policy = PolicyVersion.objects.create(number=1, text=text, sha256=PolicyVersion.digest(text))
        users = {
            "coordinator": _user("coordinator@bench.example.org", Role.COORDINATOR.value, policy),
            "photographer": _user("photographer@bench.example.org", Role.PHOTOGRAPHER.value, policy),
            "staff": _user("staff@bench.example.org", Role.STAFF.value, policy),
            "social_admin": _user("social.admin@bench.example.org", Role.SOCIAL_ADMIN.value, policy),
            "social_admin2": _user("social.admin2@bench.example.org", Role.SOCIAL_ADMIN.value, policy),
            "ceo": _user("ceo@bench.example.org", Role.CEO.value, policy),
        }
        form = ConsentFormVersion.objects.order_by("-number").first() or ConsentFormVersion.objects.create(
            number=1,
            introduction="Please tell us how FiG may use photos of your child.",
            purpose_texts={p: f"About {p}." for p in PURPOSES},
            closing="Names are never published.",
        )

        families = Family.objects.bulk_create(
            [
                Family(reference=f"FIG-B{i:05d}", created_at=now - timedelta(days=rng.randint(30, 1500)))
                for i in range(n["families"])
            ],
            batch_size=2000,
        )
        perm = Permission.objects.get(codename="manage_family", content_type__app_label="consents")
        FamilyUserObjectPermission.objects.bulk_create(
            [
                FamilyUserObjectPermission(permission=perm, user=users["coordinator"], content_object=f)
                for f in families
            ],
            batch_size=2000,
        )
        carers = Carer.objects.bulk_create(
            [
                Carer(
                    family=f,
                    full_name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                    email=f"carer{i}@bench.example.org",
                    relationship="mother" if i % 2 else "father",
                    has_parental_responsibility=True,
                )
                for i, f in enumerate(families)
            ],
            batch_size=2000,
        )
        carer_of = {c.family_id: c for c in carers}
        children = Child.objects.bulk_create(
            [
                Child(
                    family=families[i % len(families)],
                    first_name=rng.choice(FIRST),
                    last_name=rng.choice(LAST),
                    date_of_birth=(now - timedelta(days=rng.randint(400, 5000))).date(),
                )
                for i in range(n["children"])
            ],
            batch_size=2000,
        )
        children_of: dict[int, list] = {}
        for child in children:
            children_of.setdefault(child.family_id, []).append(child)

        text = f"{form.introduction}\n{form.closing}"
        sha = ConsentRecord.digest(text)
        records = []
        for i, child in enumerate(children):
            carer = carer_of[child.family_id]
            answers = {p: (rng.random() > 0.1) for p in PURPOSES}
            answers["photographed"] = answers["stored"] = True
            signed = now - timedelta(days=rng.randint(1, 330), minutes=rng.randint(0, 1440))
            records.append(
                ConsentRecord(
                    child=child,
                    carer=carer,
                    kind=ConsentRecord.Kind.GIVEN,
                    method=ConsentRecord.Method.ONLINE,
                    identified_by=ConsentRecord.IdentifiedBy.EMAIL_LINK,
                    form_version=form,
                    answers=answers,
                    confirmed_parental_responsibility=True,
                    text_shown=text,
                    text_sha256=sha,
                    typed_name=carer.full_name,
                    signed_at=signed,
                    ip_address="192.0.2.10",
                    user_agent="bench",
                    evidence_sha256=hashlib.sha256(f"{child.pk}-{i}".encode()).hexdigest(),
                )
            )
            if i % 10 == 0:  # one in ten later withdrew online use
                records.append(
                    ConsentRecord(
                        child=child,
                        carer=carer,
                        kind=ConsentRecord.Kind.WITHDRAWAL,
                        method=ConsentRecord.Method.ONLINE,
                        identified_by=ConsentRecord.IdentifiedBy.CODE_SIGN_IN,
                        answers={"online": False, "face_online": False},
                        confirmed_parental_responsibility=True,
                        reason="Changed my mind.",
                        signed_at=signed + timedelta(days=1),
                        evidence_sha256=hashlib.sha256(f"w{child.pk}".encode()).hexdigest(),
                    )
                )
        ConsentRecord.objects.bulk_create(records, batch_size=2000)

        blobs = []
        for original, thumb, w, h in _images():
            o = vault_save(original, folder="photos")
            t = vault_save(thumb, folder="thumbnails")
            blobs.append((o, t, w, h))
        batches = UploadBatch.objects.bulk_create(
            [
                UploadBatch(family=f, uploaded_by=users["photographer"], created_at=now - timedelta(days=10))
                for f in families
            ],
            batch_size=2000,
        )
        batch_of = {b.family_id: b for b in batches}
        families_with_children = [f for f in families if f.pk in children_of]
        photos = []
        for i in range(n["photos"]):
            family = families_with_children[i % len(families_with_children)]
            o, t, w, h = blobs[i % len(blobs)]
            uploaded = now - timedelta(days=rng.randint(0, 900), minutes=rng.randint(0, 1440))
            photos.append(
                Photo(
                    family=family,
                    batch=batch_of[family.pk],
                    uploaded_by=users["photographer"],
                    uploaded_at=uploaded,
                    status=Photo.Status.READY,
                    upload_sha256=hashlib.sha256(f"photo{i}".encode()).hexdigest(),
                    upload_size=o.size,
                    width=w,
                    height=h,
                    taken_at=uploaded,
                    original_blob=o.name,
                    original_key_id=o.key_id,
                    thumbnail_blob=t.name,
                    thumbnail_key_id=t.key_id,
                    device_deleted_at=uploaded + timedelta(hours=2),
                )
            )
        photos = Photo.objects.bulk_create(photos, batch_size=2000)
        tags = []
        for photo in photos:
            kids = children_of[photo.family_id]
            for child in rng.sample(kids, k=min(len(kids), rng.choice([1, 1, 2]))):
                tags.append(
                    PhotoTag(photo=photo, child=child, tagged_by=users["photographer"], tagged_at=photo.uploaded_at)
                )
        PhotoTag.objects.bulk_create(tags, batch_size=5000)

        statuses = [
            Post.Status.DRAFT,
            Post.Status.SUBMITTED,
            Post.Status.SUBMITTED,
            Post.Status.APPROVED,
            Post.Status.PUBLISHED,
            Post.Status.PUBLISHED,
            Post.Status.CHANGES_REQUESTED,
        ]
        posts = []
        for i in range(n["posts"]):
            status = statuses[i % len(statuses)]
            created = now - timedelta(days=rng.randint(0, 700), minutes=i)
            posts.append(
                Post(
                    author=users["staff"],
                    text=f"Thank you to everyone who came to our family fun day #{i}!",
                    channels=["facebook", "instagram"] if i % 3 else ["facebook"],
                    status=status,
                    created_at=created,
                    updated_at=created + timedelta(hours=1),
                    submitted_at=created + timedelta(hours=1) if status != Post.Status.DRAFT else None,
                    reviewed_by=users["social_admin2"]
                    if status in (Post.Status.APPROVED, Post.Status.PUBLISHED)
                    else None,
                    published_at=created + timedelta(days=1) if status == Post.Status.PUBLISHED else None,
                    published_by=users["social_admin2"] if status == Post.Status.PUBLISHED else None,
                )
            )
        posts = Post.objects.bulk_create(posts, batch_size=2000)
        # Each approved or published post's channels, as approval makes them: nothing is configured to send them
        # in the bench, so each is published by hand (waiting, or recorded with its link).
        PostChannel.objects.bulk_create(
            [
                PostChannel(
                    post=p,
                    channel=channel,
                    by_hand=True,
                    state=PostChannel.State.RECORDED if p.published_at else PostChannel.State.WAITING,
                    url=f"https://www.example.org/{channel}/posts/{p.pk}" if p.published_at else "",
                    sent_at=p.published_at,
                    done_by=p.published_by,
                )
                for p in posts
                if p.status in (Post.Status.APPROVED, Post.Status.PUBLISHED)
                for channel in p.channels
            ],
            batch_size=2000,
        )
        through = Post.photos.through
        through.objects.bulk_create(
            [
                through(post_id=p.pk, photo_id=photos[(i * 7) % len(photos)].pk)
                for i, p in enumerate(posts)
                if i % 5 == 0
            ],
            batch_size=5000,
        )

    # Inbox: all open, each conversation holding the one message from the person that opened it, already
    # checked for names (an unchecked one would be checked by every sweep). `due` are overdue (inside the
    # sweep window); the rest fall due 3-7 days from `now`, outside the reminder window
    # (FIG_INBOX_REMIND_DAYS_LEFT days).
    platforms = ["facebook", "messenger", "instagram", "x"]
    text = "Hello, what time does Saturday's group start?"

    def store(rows: list[Conversation]) -> None:
        conversations = Conversation.objects.bulk_create(rows)  # PostgreSQL returns their ids
        Message.objects.bulk_create(
            [
                Message(
                    conversation=c,
                    platform=c.platform,
                    platform_id=f"bench-{c.sender_id}",
                    event=c.kind,
                    text=c.text,
                    at=c.received_at,
                    stored_at=c.stored_at,
                    flagged_at=c.stored_at,
                )
                for c in conversations
            ]
        )

    rows = []
    for i in range(n["messages"]):
        if i < n["due"]:
            due = now - timedelta(hours=rng.randint(1, 72))
        else:
            due = now + timedelta(days=3, minutes=rng.randint(0, 4 * 24 * 60))
        kind = "comment" if i % 3 == 0 else "message"
        rows.append(
            Conversation(
                platform=platforms[i % 4],
                kind=kind,
                # Keys as social.inbox.services.thread_of makes them: one person's messages, or their
                # comments on one post.
                thread=f"comments:post-{i % 1000}:{i}" if kind == "comment" else f"dm:{i}",
                sender_id=str(i),
                sender_name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                text=text,
                received_at=due - timedelta(days=7),
                due_at=due,
                stored_at=due - timedelta(days=7),
                status=Conversation.Status.OPEN,
            )
        )
        if len(rows) >= 10000:
            store(rows)
            rows = []
    if rows:
        store(rows)
    due_ids = list(Conversation.objects.filter(due_at__lte=now).values_list("pk", flat=True))

    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    return {
        "scale": scale,
        "counts": n,
        "reference_time": now.isoformat(),
        "users": {k: u.email for k, u in users.items()},
        "due_ids_count": len(due_ids),
        "families_assigned_to_coordinator": len(families),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=None, help="1 = full size (default: FIG_BENCH_SCALE or 1)")
    parser.add_argument("--force", action="store_true", help="drop and seed again even at the same scale")
    args = parser.parse_args(argv)
    common.configure_env()
    ensure(args.scale if args.scale is not None else common.scale(), force=args.force)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
