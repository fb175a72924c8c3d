"""Vault views: upload, processing status, gallery, photo pages and the permission-checked bytes."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import date as date_filter
from django.template.loader import get_template, render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST, require_safe

from consents.access import parent_required
from consents.forms import FamilySearchForm
from consents.models import PURPOSES, Child, Family
from consents.selectors import families_managed_by
from consents.selectors_search import families_matching
from consents.uses import uses_for_tagged
from fig_safety.vault import blob_response
from photos import services
from photos.access import (
    access_batch,
    access_parent_image,
    access_photo,
    access_photo_image,
    access_photo_to_delete,
    can_manage_photo,
    can_retag,
    own_unconfirmed_photos,
    vault_required,
)
from photos.display import (
    PURPOSE_LABELS,
    child_filter,
    faces_summary,
    gallery_cards,
    missing_consent,
    photo_alt,
    photo_day,
)
from photos.family_search import Matches, find_families, gallery_families
from photos.forms import (
    ConfirmUnidentifiableForm,
    DeleteNowForm,
    FaceBoxForm,
    GalleryFilterForm,
    KeepForm,
    RetagForm,
    UploadForm,
)
from photos.hooks import deletion_effects
from photos.models import Photo, PhotoAccess, UploadBatch
from photos.pagination import CappedPaginator
from photos.parents import views_by_other_parents
from photos.preview import PreviewError, screen_preview
from photos.selectors import (
    can_upload_for,
    children_in,
    children_in_gallery,
    children_who_can_be_photographed,
    consents_of_children_in,
    families_of_photos,
    fixing_tags,
    gallery_photos,
    in_families,
    photos_allowed_for,
    tag_families,
    untagged_uses,
    uses_for_photos,
)
from photos.today import access_family_to_photograph, who_may_be_photographed
from staff.roles import Role, has_role

UPLOADERS = (Role.PHOTOGRAPHER, Role.COORDINATOR)
PAGE_SIZE = 48
# The gallery counts its photos up to here; past it, it says "more than 1000" (counting them all is slow).
GALLERY_COUNT_CAP = 1000


@vault_required(*UPLOADERS)
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    families = can_upload_for(request.user)
    search = FamilySearchForm(request.GET)
    matches = find_families(families, search.text())
    if request.method == "GET" and request.headers.get("Accept") == "application/json":
        return _matches_json(request, matches, choose=True)  # the family search, as you type
    data = request.POST if request.method == "POST" else request.GET
    family = families.filter(reference=_reference(data.get("family"))).first()
    # A group session: children of other families may be in the same photos ("also", one or more references).
    also = _other_families(families, family, data.getlist("also"), data.get("add_family", ""))
    chosen = [family, *also] if family else []
    taggable, not_taggable = children_who_can_be_photographed(chosen) if family else ([], [])
    # Every child of the chosen families passes the form, so that the service refuses one without consent
    # by name (a clear message, not "not one of the available choices"); only the taggable are offered.
    form = UploadForm(
        request.POST or None,
        request.FILES or None,
        families=families,
        children=Child.objects.filter(family__in=chosen) if family else None,
        initial={"family": family},
    )
    form.fields["children"].widget.choices = [(c.pk, str(c)) for c in taggable]
    if request.method == "POST" and form.is_valid():
        try:
            batch = services.photo_upload(
                family=form.cleaned_data["family"],
                children=form.cleaned_data["children"],
                files=[f.read() for f in form.cleaned_data["files"]],
                no_child_identifiable=form.cleaned_data["no_child_identifiable"],
                blur_faces=form.cleaned_data["blur_faces"],
                taken_at=form.cleaned_data["taken_at"],
                by=request.user,
                request=request,
            )
        except services.UploadError as exc:
            form.add_error(None, str(exc))
        else:
            if request.headers.get("Accept") == "application/json":
                return JsonResponse({"batch": str(batch.public_id), "status_url": _batch_url(batch)})
            return redirect("photos:batch", public_id=batch.public_id)
    if request.method == "POST" and request.headers.get("Accept") == "application/json":
        return JsonResponse({"errors": [str(e) for errors in form.errors.values() for e in errors]}, status=400)
    return render(
        request,
        "photos/upload.html",
        {
            "form": form,
            "family": family,
            "also": also,
            "addable": [f for f in form.fields["family"].queryset if f not in chosen] if family else [],
            "taggable": taggable,
            "groups": _checkboxes_by_family(form["children"], taggable, chosen),
            "not_taggable": [(child, missing_consent(missing)) for child, missing in not_taggable],
            "search": search,
            "matches": matches,
        },
        status=400 if form.errors else 200,
    )


@vault_required(*UPLOADERS)
@require_safe
def today(request: HttpRequest) -> HttpResponse:
    """Find the family whose session it is, for "who may I photograph today" (a coordinator's few families
    are listed at once)."""
    search = FamilySearchForm(request.GET)
    matches = find_families(can_upload_for(request.user), search.text(), browse=True)
    if request.headers.get("Accept") == "application/json":
        return _matches_json(request, matches)
    return render(request, "photos/today_find.html", {"search": search, "matches": matches})


@vault_required(*UPLOADERS)
@require_safe
def today_family(request: HttpRequest, reference: str) -> HttpResponse:
    """Each child of the family with a plain yes or no: may they be photographed now, and may their photos
    go online. For a photographer at a session, on a phone."""
    family = access_family_to_photograph(request.user, reference)
    return render(
        request,
        "photos/today.html",
        {"family": family, "answers": who_may_be_photographed(family), "checked_at": timezone.now()},
    )


def _matches_json(request: HttpRequest, matches: Matches, **context) -> JsonResponse:
    """The families a picker's search found, for static/js/family_search.js: what the live region says,
    and the list to show."""
    html = render_to_string("photos/_family_matches.html", {"matches": matches, **context}, request=request)
    return JsonResponse({"count": matches.count_text, "html": html})


def _checkboxes_by_family(field, taggable: list[Child], families: list) -> list[tuple]:
    """(family, its children's checkboxes) for each of `families` with a child who may be tagged."""
    family_of = {child.pk: child.family_id for child in taggable}
    boxes: dict[int, list] = {}
    for box in field:
        boxes.setdefault(family_of.get(int(str(box.data["value"]))), []).append(box)
    return [(family, boxes[family.pk]) for family in families if family.pk in boxes]


def _own_families(user) -> set[int]:
    """The families this person coordinates (none for anyone else): whose children they see by name."""
    return set(families_managed_by(user).values_list("pk", flat=True)) if has_role(user, Role.COORDINATOR) else set()


def _named(user, photo: Photo, children: list[Child], own: set[int]) -> list[Child]:
    """The tagged `children` this person is told the names of: every one for the photo's uploader while fixing
    its tags (they tagged them), otherwise those of the families they coordinate (`own`). A coordinator of one
    family in a group photo is told that a child of another family is in it, not who."""
    return list(children) if fixing_tags(user, photo) else [c for c in children if c.family_id in own]


def retag_choices(user, photo: Photo, families: list, also: list) -> tuple[QuerySet[Child], list]:
    """(the children this person may tag in the photo, the other families they could add): children of the
    photo's `families`, the family it was uploaded for and the `also` families, as far as they may tag in them
    (photos.selectors.tag_families; photos.services.photo_retag keeps the tags of other families' children)."""
    allowed = tag_families(user, photo)
    shown = {family.pk for family in [*families, *also]} | {photo.family_id}
    children = (
        Child.objects.filter(family__in=allowed.filter(pk__in=shown))
        .select_related("family")
        .order_by("family__reference", "first_name", "last_name", "pk")
    )
    return children, list(allowed.exclude(pk__in=shown).order_by("reference"))


def _other_families(families: QuerySet, family, references: list[str], added: str) -> list:
    """The other families of a group session, from `references` (and one just `added`), among those this
    person may upload for, without the main `family` or repeats, in reference order."""
    wanted = {_reference(r).upper() for r in [*references, added]} - {""}
    if family is None or not wanted:
        return []
    return list(families.filter(reference__in=wanted).exclude(pk=family.pk).order_by("reference"))


# Family references read straight from the query string or a form go through a form field too: one it
# refuses (with a NUL, which the database cannot take, or longer than a reference) names no family.
_REFERENCE = forms.CharField(required=False, max_length=Family._meta.get_field("reference").max_length)


def _reference(value: str | None) -> str:
    try:
        return _REFERENCE.clean(value or "")
    except ValidationError:
        return ""


def _batch_url(batch: UploadBatch) -> str:
    return reverse("photos:batch", args=[batch.public_id])


@vault_required(*UPLOADERS)
@require_safe
def batch(request: HttpRequest, public_id) -> HttpResponse:
    """What happened to each file of an upload; the page polls batch_status while any is processing."""
    upload_batch = access_batch(request.user, public_id)
    photos = list(upload_batch.photos.annotate(tagged=Count("tags")).order_by("id"))
    for p in photos:
        p.faces_summary = faces_summary(p, p.tagged) if p.status == Photo.Status.READY else ""
    if request.headers.get("Accept") == "application/json":
        return JsonResponse(
            {
                "photos": [
                    {
                        "id": str(p.public_id),
                        "status": p.status,
                        "label": p.get_status_display(),
                        "reason": p.refusal_reason,
                        "face_count": p.face_count,
                        "tagged": p.tagged,
                        "faces": p.faces_summary,
                    }
                    for p in photos
                ]
            }
        )
    return render(
        request,
        "photos/batch.html",
        {
            "batch": upload_batch,
            "photos": photos,
            "processing": any(p.status == Photo.Status.PROCESSING for p in photos),
            "unconfirmed": sum(1 for p in photos if p.device_deleted_at is None),
            "refused": sum(1 for p in photos if p.status == Photo.Status.REFUSED),
        },
    )


@vault_required(*UPLOADERS)
@require_safe
def my_uploads(request: HttpRequest) -> HttpResponse:
    """The photographer's uploads still waiting for the device-deletion confirmation, oldest (most overdue)
    first."""
    photos = (
        Photo.objects.filter(
            uploaded_by=request.user,
            device_deleted_at__isnull=True,
            status__in=[Photo.Status.PROCESSING, Photo.Status.READY],
        )
        .select_related("family", "batch")
        .order_by("batch__created_at", "id")
    )
    return render(
        request,
        "photos/my_uploads.html",
        {"photos": photos, "now": timezone.now(), "stages": _device_deletion_stages()},
    )


def _device_deletion_stages() -> dict[str, int]:
    """When each stage of the device-deletion follow-up comes (photos/sweeps.py), for the pages that say so."""
    return {
        "reminder_hours": settings.FIG_DEVICE_REMINDER_HOURS,
        "escalate_hours": settings.FIG_DEVICE_ESCALATE_HOURS,
        "breach_days": settings.FIG_DEVICE_BREACH_DAYS,
    }


@vault_required(*UPLOADERS)
@require_POST
def confirm_device_deleted(request: HttpRequest) -> HttpResponse:
    photos = own_unconfirmed_photos(
        request.user, batch_id=request.POST.get("batch") or "", photo_ids=request.POST.getlist("photo")
    )
    count = services.photos_confirm_device_deleted(photos=photos, by=request.user, request=request)
    if count:
        messages.success(
            request, f"Thank you. {count} photo{'s' if count != 1 else ''} marked as deleted from your device."
        )
    else:
        messages.info(request, "Nothing to confirm: those photos are already confirmed.")
    return redirect(
        request.POST.get("next") if request.POST.get("next", "").startswith("/photos/") else "photos:my_uploads"
    )


@vault_required(*UPLOADERS)
@require_safe
def gallery(request: HttpRequest) -> HttpResponse:
    # The family filter finds a family by its name, reference, or a child's or carer's name (as you type:
    # family_search.js asks for the matches as JSON). One family found, or its reference typed, is chosen;
    # several show the photos of them all, and a list to choose one from.
    typed = _search_text(request.GET.get("family"))
    matches = find_families(gallery_families(request.user), typed)
    if request.headers.get("Accept") == "application/json":
        return _matches_json(request, matches, gallery=True, choices=_gallery_choices(request, matches))
    chosen = _chosen_family(matches)
    children = children_in_gallery(request.user, family=chosen.reference if chosen else typed)
    form = GalleryFilterForm(request.GET or None, children=children)
    filters = {}
    if form.is_bound:
        form.is_valid()  # the filters that are valid apply; the form says which are not, and they are left out
        filters = form.cleaned_data
    several = chosen is None and len(matches.families) > 1
    photos = gallery_photos(
        request.user,
        family=chosen.reference if chosen else "" if several else filters.get("family", ""),
        child=filters.get("child"),
        taken_from=filters.get("taken_from"),
        taken_to=filters.get("taken_to"),
    )
    if several:
        photos = photos.filter(in_families(families_matching(gallery_families(request.user), typed)))
    positions = None
    if filters.get("use"):
        # The consent of every child in these photos decides which stay; the cards' uses are read from it too.
        positions = consents_of_children_in(photos)
        photos = photos_allowed_for(photos, filters["use"], positions=positions)
    paginator = CappedPaginator(
        photos.values_list("pk", flat=True), PAGE_SIZE, cap=GALLERY_COUNT_CAP, load=_gallery_page_photos
    )
    page = paginator.get_page(request.GET.get("page"))
    children_of = children_in(page)
    uses = uses_for_tagged({pk: [child.pk for child in children] for pk, children in children_of.items()}, positions)
    uses |= {photo.pk: untagged_uses(photo) for photo in page if not children_of[photo.pk]}
    # A coordinator sees the names of their own families' children only; a group photo's other children are
    # counted on its card. Its uploader sees every name (they tagged them).
    own = _own_families(request.user)
    named_of = {photo.pk: _named(request.user, photo, children_of[photo.pk], own) for photo in page}
    # The families each photo belongs to (photos.selectors.in_families), from what is read already.
    families_of = {
        photo.pk: sorted({c.family for c in children_of[photo.pk]} or {photo.family}, key=lambda f: f.reference)
        for photo in page
    }
    badges = _badges()
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "photos/gallery.html",
        {
            "form": form,
            "page": page,
            "cards": gallery_cards(page, named_of, uses, badges, unnamed_of=children_of, families_of=families_of),
            "query": query.urlencode(),
            "use_key": [(badges[code], PURPOSE_LABELS[code]) for code in PURPOSES],
            "matches": matches,
            "choices": _gallery_choices(request, matches) if several else [],
        },
    )


def _search_text(value: str | None) -> str:
    """Words typed to find a family, through a form field (a NUL, or more than a name, finds nothing)."""
    search = FamilySearchForm({"q": value or ""})
    return search.text()


def _chosen_family(matches: Matches) -> Family | None:
    """The family the gallery's filter chose: the one whose reference was typed, or the only one found."""
    exact = [f for f in matches.families if f.reference.upper() == matches.text.strip().upper()]
    if exact:
        return exact[0]
    return matches.families[0] if len(matches.families) == 1 else None


def _gallery_choices(request: HttpRequest, matches: Matches) -> list[tuple[Family, str]]:
    """Each family found, with the gallery's address that chooses it (the other filters kept, the child's
    left out: a child is of one family)."""
    choices = []
    for family in matches.families:
        query = request.GET.copy()
        for name in ("page", "child"):
            query.pop(name, None)
        query["family"] = family.reference
        choices.append((family, f"?{query.urlencode()}"))
    return choices


def _gallery_page_photos(ids: list[int]) -> QuerySet[Photo]:
    """A gallery page's photos, with their families. The ids come from gallery_photos, which kept only those
    this person may see, so they are read here by id alone."""
    return Photo.objects.filter(pk__in=ids, status=Photo.Status.READY).select_related("family")


def _badges() -> dict[str, str]:
    """Each use's short label, as the consent pages write it, rendered once a page rather than once a badge."""
    template = get_template("includes/purpose_short.html")
    return {code: template.render({"code": code}) for code in PURPOSES}


@vault_required(*UPLOADERS)
@require_safe
def detail(request: HttpRequest, public_id) -> HttpResponse:
    photo = access_photo(request.user, public_id)
    uses = uses_for_photos([photo])[photo.pk]
    manage = can_manage_photo(request.user, photo)
    gallery_url = reverse("photos:gallery")
    tagged_children = list(photo.children.select_related("family"))
    tagged = len(tagged_children)
    named = _named(request.user, photo, tagged_children, _own_families(request.user))
    unnamed = tagged - len(named)
    families = families_of_photos([photo])[photo.pk]
    also = _other_families(tag_families(request.user, photo), photo.family, request.GET.getlist("also"), "")
    choices, addable = retag_choices(request.user, photo, families, also)
    retag_form = RetagForm(
        children=choices,
        initial={"children": tagged_children, "no_child_identifiable": photo.no_child_identifiable},
    )
    if photo.face_count and not photo.blurred_only:
        # The service refuses "no child can be identified" for a photo with faces: the box says so beforehand.
        retag_form.fields["no_child_identifiable"].widget.attrs["aria-describedby"] = "retag-faces-hint"
    return render(
        request,
        "photos/detail.html",
        {
            "photo": photo,
            "children": [(child, f"{gallery_url}?{child_filter(child.family.reference, child.pk)}") for child in named],
            "unnamed_children": unnamed,
            "alt": photo_alt(named, date_filter(photo_day(photo), "j F Y"), others=unnamed),
            "families": families,
            "also": also,
            "addable": addable,
            "uses": [(PURPOSE_LABELS[p], p in uses) for p in PURPOSES],
            "can_manage": manage,
            "can_retag": can_retag(request.user, photo),
            "retag_form": retag_form,
            "keep_form": KeepForm() if manage and photo.deletion_due_at else None,
            "faces": photo.face_boxes,
            "tagged": tagged,
            "faces_summary": faces_summary(photo, tagged),
            "face_form": FaceBoxForm(width=photo.width, height=photo.height) if manage else None,
            "confirm_form": ConfirmUnidentifiableForm() if manage else None,
        },
    )


@vault_required(*UPLOADERS)
def image(request: HttpRequest, public_id, size: str) -> HttpResponse:
    """The photo's bytes, decrypted here and nowhere else. Every request writes an access-log row.

    The photo's coordinators get every size; its uploader, while fixing its tags, a screen-size preview
    in place of the full size and no download (photos.access.access_photo_image)."""
    if request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET"})
    photo, preview = access_photo_image(request.user, public_id, size)
    if photo.status != Photo.Status.READY:
        raise Http404
    name, key_id, action = {
        "thumbnail": (photo.thumbnail_blob, photo.thumbnail_key_id, PhotoAccess.Action.THUMBNAIL),
        "full": (photo.original_blob, photo.original_key_id, PhotoAccess.Action.VIEW),
        "download": (photo.original_blob, photo.original_key_id, PhotoAccess.Action.DOWNLOAD),
        "unidentifiable": (photo.unidentifiable_blob, photo.unidentifiable_key_id, PhotoAccess.Action.VIEW),
        "unidentifiable-thumbnail": (
            photo.unidentifiable_thumbnail_blob,
            photo.unidentifiable_thumbnail_key_id,
            PhotoAccess.Action.THUMBNAIL,
        ),
        "unidentifiable-download": (
            photo.unidentifiable_blob,
            photo.unidentifiable_key_id,
            PhotoAccess.Action.DOWNLOAD,
        ),
    }.get(size, ("", "", ""))
    if not name:
        raise Http404
    response = blob_response(
        name=name,
        key_id=key_id,
        content_type="image/jpeg",
        filename=f"fig-{photo.family.reference}-{photo.public_id}.jpg",
        attachment=size.endswith("download"),
    )
    if preview:
        try:
            response.content = screen_preview(response.content)
        except PreviewError as exc:
            raise Http404 from exc
    services.photo_access_record(photo=photo, user=request.user, action=action, request=request)
    return response


@vault_required(*UPLOADERS)
@require_POST
def retag(request: HttpRequest, public_id) -> HttpResponse:
    photo = access_photo(request.user, public_id, retag=True)
    also = _other_families(tag_families(request.user, photo), photo.family, request.POST.getlist("also"), "")
    families = families_of_photos([photo])[photo.pk]
    form = RetagForm(request.POST, children=retag_choices(request.user, photo, families, also)[0])
    if form.is_valid():
        try:
            services.photo_retag(
                photo=photo,
                children=form.cleaned_data["children"],
                no_child_identifiable=form.cleaned_data["no_child_identifiable"],
                by=request.user,
                request=request,
            )
        except services.UploadError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "The tags are saved.")
    else:
        messages.error(request, "Choose children from the families shown.")
    return redirect("photos:detail", public_id=photo.public_id)


@vault_required(Role.COORDINATOR)
@require_POST
def keep(request: HttpRequest, public_id) -> HttpResponse:
    photo = access_photo(request.user, public_id, manage=True)
    form = KeepForm(request.POST)
    if form.is_valid():
        try:
            services.photo_keep(photo=photo, reason=form.cleaned_data["reason"], by=request.user, request=request)
        except services.UploadError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "The reason is recorded; the photo will not be deleted.")
    else:
        messages.error(request, "Write the lawful reason for keeping this photo (at least a sentence).")
    return redirect("photos:detail", public_id=photo.public_id)


@vault_required(Role.COORDINATOR)
@require_http_methods(["GET", "POST"])
def delete_now(request: HttpRequest, public_id) -> HttpResponse:
    """A coordinator of the photo deletes it at once, with a reason: the page says it cannot be undone and what
    happens to each post that used it; only the POST deletes."""
    photo = access_photo_to_delete(request.user, public_id)
    if photo.status == Photo.Status.DELETED:
        messages.info(request, ALREADY_DELETED)
        return redirect("photos:gallery")
    form = DeleteNowForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            done = services.photo_delete_now(
                photo=photo, reason=form.cleaned_data["reason"], by=request.user, request=request
            )
        except services.UploadError as exc:
            form.add_error(None, str(exc))
        else:
            if done.deleted:
                effects = " ".join(f"{effect.what}: {effect.done}." for effect in done.effects)
                messages.success(request, f"The photo is deleted, with every stored copy of it. {effects}".strip())
            else:
                messages.info(request, ALREADY_DELETED)
            return redirect("photos:gallery")
    tagged = list(photo.children.select_related("family"))
    named = _named(request.user, photo, tagged, _own_families(request.user))
    return render(
        request,
        "photos/delete_now.html",
        {
            "photo": photo,
            "form": form,
            "alt": photo_alt(named, date_filter(photo_day(photo), "j F Y"), others=len(tagged) - len(named)),
            "effects": deletion_effects([photo.pk]),
        },
        status=400 if form.errors else 200,
    )


ALREADY_DELETED = "This photo was already deleted: nothing more was changed."


@vault_required(Role.COORDINATOR)
@require_safe
def access_log(request: HttpRequest, public_id) -> HttpResponse:
    photo = access_photo(request.user, public_id, manage=True)
    entries = photo.accesses.select_related("user")
    page = Paginator(entries, 100).get_page(request.GET.get("page"))
    others = views_by_other_parents(page, families_managed_by(request.user))
    return render(request, "photos/access_log.html", {"photo": photo, "page": page, "others": others})


@vault_required(Role.COORDINATOR)
@require_safe
def unconfirmed(request: HttpRequest) -> HttpResponse:
    """Photos of the coordinator's families (in_families: a group photo is on the list of every tagged child's
    family) not yet confirmed deleted from the device, oldest (most overdue) first, each with its families."""
    photos = (
        Photo.objects.filter(
            in_families(families_managed_by(request.user)),
            device_deleted_at__isnull=True,
            status__in=[Photo.Status.PROCESSING, Photo.Status.READY],
        )
        .select_related("uploaded_by", "batch")
        .order_by("uploaded_at", "id")
    )
    page = Paginator(photos, 100).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    families = families_of_photos(page.object_list)
    for photo in page.object_list:
        photo.families = families[photo.pk]
    return render(
        request,
        "photos/unconfirmed.html",
        {"page": page, "now": timezone.now(), "stages": _device_deletion_stages()},
    )


@vault_required(Role.COORDINATOR)
@require_safe
def deletion_queue(request: HttpRequest) -> HttpResponse:
    # Every photo of the coordinator's families, a group photo under each of them (in_families).
    photos = (
        Photo.objects.filter(
            in_families(families_managed_by(request.user)),
            deletion_due_at__isnull=False,
            status__in=[Photo.Status.PROCESSING, Photo.Status.READY],
        )
        .select_related("family")
        .order_by("deletion_due_at", "pk")
    )
    page = Paginator(photos, 100).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    families = families_of_photos(page.object_list)
    for photo in page.object_list:
        photo.families = families[photo.pk]
    return render(request, "photos/deletion_queue.html", {"page": page})


@vault_required(Role.COORDINATOR)
@require_POST
def mark_unidentifiable(request: HttpRequest, public_id) -> HttpResponse:
    """Coordinators only: having checked the version with every face blurred, they confirm no child can be
    recognised in it (or take that back). The decision is theirs to make and to answer for."""
    photo = access_photo(request.user, public_id, manage=True)
    form = ConfirmUnidentifiableForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Tick “I checked: no child can be recognised” to confirm the blurred version.")
        return redirect(reverse("photos:detail", args=[photo.public_id]) + "#unidentifiable")
    confirmed = form.cleaned_data["confirmed"]
    try:
        services.photo_confirm_unidentifiable(photo=photo, confirmed=confirmed, by=request.user, request=request)
    except services.UploadError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            "Confirmed: no child can be recognised in the blurred version. It can be published online with "
            "consent to publish alone."
            if confirmed
            else "The blurred version is no longer confirmed. It will not be offered for posts until it is.",
        )
    return redirect(reverse("photos:detail", args=[photo.public_id]) + "#unidentifiable")


@vault_required(Role.COORDINATOR)
@require_POST
def add_face(request: HttpRequest, public_id) -> HttpResponse:
    """A coordinator draws a face the detector missed (on the photo, or by typing its position): it is
    blurred in the unidentifiable version, which then needs confirming again."""
    photo = access_photo(request.user, public_id, manage=True)
    form = FaceBoxForm(request.POST, width=photo.width, height=photo.height)
    if form.is_valid():
        try:
            services.photo_add_face(photo=photo, box=form.box, by=request.user, request=request)
        except services.UploadError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "The face is added and blurred. Check the blurred version, then confirm it.")
    else:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect(reverse("photos:detail", args=[photo.public_id]) + "#unidentifiable")


@parent_required
@require_GET
def parent_image(request: HttpRequest, public_id, version: str, size: str) -> HttpResponse:
    """A parent's view of a photo of their own child, as photos.parents allows (a group photo only blurred),
    on their child's page. Logged in the photo's access log like every other view; never cached."""
    photo, name, key_id = access_parent_image(request.user, public_id, version, size)
    response = blob_response(
        name=name, key_id=key_id, content_type="image/jpeg", filename=f"fig-photo-{photo.public_id}.jpg"
    )
    services.photo_access_record(photo=photo, user=request.user, action=PhotoAccess.Action.PARENT, request=request)
    return response
