"""Projects with a goal: the workflow and its history, the gift that counts for a project,
the pages of the association, the members and the staff, and hostile photos."""

import datetime
import io

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from associations import projects
from associations.models import Project, ProjectEvent
from associations.photos import clean_photo
from associations.services import InvalidTransition, WorkflowError
from cagnotte.figures import progress_of, with_progress
from cagnotte.ledger import NotEligible
from cagnotte.models import PayoutLine, PayoutStatement, ProjectGift
from cagnotte.services import give_tookets
from tests import factories as f
from tests.cagnotte.helpers import assert_ledger_consistent, credit

pytestmark = pytest.mark.django_db

Event = ProjectEvent.Event


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def account(association, pg_caisse):
    user = f.UserFactory(
        kind="association", caisse_regionale=pg_caisse, email="president@example.org"
    )
    association.user = user
    association.email = "contact@amis-du-gers.example"
    association.save()
    return user


def jpeg_bytes(size=(64, 48), exif=None) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format="JPEG", exif=exif or b"")
    return out.getvalue()


def new_project(association, account, program, *, goal=50_000, ends_on=None, photo=None):
    return projects.submit_project(
        association=association,
        actor=account,
        program=program,
        title="Un minibus pour les sorties",
        text="Nous emmenons les anciens au marché.",
        goal=goal,
        ends_on=ends_on or program.closes_on,
        photo=photo,
    )


@pytest.fixture
def accepted(association, account, program, staff_pg):
    project = new_project(association, account, program)
    return projects.accept_project(project=project, staff=staff_pg)


# --- The workflow ---------------------------------------------------------------------------


def test_each_decision_is_recorded_with_its_email(
    association, account, program, staff_pg, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        project = new_project(association, account, program)
    with django_capture_on_commit_callbacks(execute=True):
        projects.request_project_correction(
            project=project, staff=staff_pg, message="Précisez le coût du minibus."
        )
    project.refresh_from_db()
    assert project.status == Project.Status.CORRECTION_REQUESTED
    with django_capture_on_commit_callbacks(execute=True):
        projects.update_project(project=project, actor=account, fields={"goal": 60_000})
    with django_capture_on_commit_callbacks(execute=True):
        projects.accept_project(project=project, staff=staff_pg, message="Bravo")
    project.refresh_from_db()
    assert (project.status, project.goal) == (Project.Status.ACCEPTED, 60_000)
    history = list(project.history.values_list("event", "actor_id", "message"))
    assert history == [
        (Event.SUBMITTED, account.pk, ""),
        (Event.CORRECTION_REQUESTED, staff_pg.pk, "Précisez le coût du minibus."),
        (Event.RESUBMITTED, account.pk, ""),
        (Event.ACCEPTED, staff_pg.pk, "Bravo"),
    ]
    subjects = [m.subject for m in mail.outbox]
    assert len(subjects) == 4
    assert "une correction est demandée" in subjects[1]
    assert "est en ligne" in subjects[3]
    assert all(m.to == ["contact@amis-du-gers.example"] for m in mail.outbox)
    assert "Précisez le coût du minibus." in mail.outbox[1].body


def test_refusal_needs_a_reason_and_decided_projects_stay_decided(
    association, account, program, staff_pg
):
    project = new_project(association, account, program)
    with pytest.raises(WorkflowError):
        projects.refuse_project(project=project, staff=staff_pg, reason="  ")
    projects.refuse_project(project=project, staff=staff_pg, reason="Hors du territoire.")
    with pytest.raises(InvalidTransition):
        projects.accept_project(project=project, staff=staff_pg)
    with pytest.raises(InvalidTransition):
        projects.update_project(project=project, actor=account, fields={"goal": 1})
    assert project.history.last().event == Event.REFUSED


def test_staff_of_another_bank_cannot_decide(association, account, program, staff_other):
    project = new_project(association, account, program)
    with pytest.raises(PermissionDenied):
        projects.accept_project(project=project, staff=staff_other)
    project.refresh_from_db()
    assert project.status == Project.Status.SUBMITTED


def test_only_the_association_itself_proposes(association, account, program, member):
    with pytest.raises(PermissionDenied):
        new_project(association, member, program)


def test_end_date_within_the_campaign_and_a_few_projects(association, account, program):
    with pytest.raises(WorkflowError, match="dans la campagne"):
        new_project(
            association,
            account,
            program,
            ends_on=program.closes_on.replace(day=1) + datetime.timedelta(days=40),
        )
    with pytest.raises(WorkflowError, match="aujourd’hui"):
        new_project(
            association, account, program, ends_on=timezone.localdate() - datetime.timedelta(days=1)
        )
    for _ in range(projects.MAX_PROJECTS_PER_PROGRAM):
        new_project(association, account, program)
    with pytest.raises(WorkflowError, match="maximum"):
        new_project(association, account, program)


def test_history_is_append_only(association, account, program):
    project = new_project(association, account, program)
    event = project.history.get()
    event.message = "réécrit"
    with pytest.raises(Exception):  # noqa: B017 - ImmutableRecord in Python, a trigger in SQL
        event.save()


# --- The gift that counts for a project -----------------------------------------------------


def test_a_gift_to_a_project_is_a_gift_to_the_association_counted_for_the_project(
    member, program, association, accepted
):
    credit(member, program, 40_000)
    entry = give_tookets(
        member=member,
        association_id=association.pk,
        amount=31_000,
        token="p1",
        program=program,
        project_id=accepted.pk,
    )
    assert entry.association_id == association.pk and entry.amount == -31_000
    # A replay gives nothing more and counts nothing more.
    give_tookets(
        member=member,
        association_id=association.pk,
        amount=31_000,
        token="p1",
        program=program,
        project_id=accepted.pk,
    )
    # An ordinary gift does not count for the project.
    give_tookets(
        member=member, association_id=association.pk, amount=5, token="p2", program=program
    )
    progress = progress_of(with_progress(Project.objects.filter(pk=accepted.pk)).get())
    assert (progress.raised, progress.goal, progress.percent) == (31_000, 50_000, 62)
    assert ProjectGift.objects.get().entry_id == entry.pk
    assert association.totals.received_total == 31_005
    assert_ledger_consistent()


def test_a_project_not_live_takes_no_gift(member, program, association, account, staff_pg):
    credit(member, program, 100)
    pending = new_project(association, account, program)
    other = f.AssociationFactory(caisse_regionale=program.caisse_regionale)
    f.EnrollmentFactory(association=other, program=program)
    for project_id, association_id in [(pending.pk, association.pk), (pending.pk, other.pk)]:
        with pytest.raises(NotEligible):
            give_tookets(
                member=member,
                association_id=association_id,
                amount=10,
                token=f"x{project_id}{association_id}",
                program=program,
                project_id=project_id,
            )
    projects.accept_project(project=pending, staff=staff_pg)
    Project.objects.filter(pk=pending.pk).update(
        ends_on=timezone.localdate() - datetime.timedelta(days=1)
    )
    with pytest.raises(NotEligible):
        give_tookets(
            member=member,
            association_id=association.pk,
            amount=10,
            token="ended",
            program=program,
            project_id=pending.pk,
        )
    assert not ProjectGift.objects.exists()
    assert member.wallets.get().balance == 100


def test_progress_rounds_down_and_says_goal_reached():
    from cagnotte.figures import ProjectProgress

    assert ProjectProgress(goal=3, raised=2).percent == 66
    assert ProjectProgress(goal=100, raised=99).percent == 99
    over = ProjectProgress(goal=100, raised=150)
    assert (over.percent, over.reached, over.bar_value) == (100, True, 100)


# --- The pages ------------------------------------------------------------------------------


def test_association_proposes_from_its_space_with_a_photo(client, association, account, program):
    client.force_login(account)
    assert client.get(reverse("associations:projects")).status_code == 200
    response = client.post(
        reverse("associations:project_new"),
        {
            "program": program.pk,
            "title": "Des maillots",
            "text": "Pour l’équipe des moins de 12 ans.",
            "goal": "50 000",
            "ends_on": program.closes_on.isoformat(),
            "photo": SimpleUploadedFile("m.jpg", jpeg_bytes(), content_type="image/jpeg"),
        },
    )
    assert response.status_code == 302
    project = Project.objects.get()
    assert (project.goal, project.status) == (50_000, Project.Status.SUBMITTED)
    assert project.photo.name.endswith(".jpg")
    page = client.get(reverse("associations:projects")).content.decode()
    assert "Des maillots" in page and "En cours de vérification" in page
    photo = client.get(reverse("associations:project_photo", args=[project.pk]))
    assert photo.status_code == 200 and photo["Content-Type"] == "image/jpeg"


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("page.jpg", b"<html>not an image</html>", "n’est pas une photo"),
        (
            "x.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "n’est pas une photo",
        ),
    ],
)
def test_hostile_uploads_get_a_french_error(
    client, association, account, program, name, content, message
):
    client.force_login(account)
    response = client.post(
        reverse("associations:project_new"),
        {
            "program": program.pk,
            "title": "T",
            "text": "T",
            "goal": "100",
            "ends_on": program.closes_on.isoformat(),
            "photo": SimpleUploadedFile(name, content),
        },
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Project.objects.exists()


def test_a_huge_upload_and_a_decompression_bomb_are_refused():
    huge = SimpleUploadedFile("big.jpg", b"\xff" * (9 * 1024 * 1024))
    with pytest.raises(ValidationError, match="trop lourde"):
        clean_photo(huge)
    # A tiny PNG that declares 20 000 × 20 000 pixels: refused before any decoding.
    out = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(out, format="PNG")
    assert len(out.getvalue()) < 1024 * 1024
    with pytest.raises(ValidationError, match="trop grande"):
        clean_photo(SimpleUploadedFile("bomb.png", out.getvalue()))


def test_exif_with_a_gps_position_is_stripped_and_the_photo_resized():
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (43.0, 38.0, 0.0)}  # GPSInfo
    exif[0x010F] = "AppareilSecret"  # Make
    raw = jpeg_bytes(size=(4000, 3000), exif=exif.tobytes())
    assert b"AppareilSecret" in raw
    stored = clean_photo(SimpleUploadedFile("gps.jpg", raw)).read()
    assert b"AppareilSecret" not in stored and b"Exif" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG" and max(image.size) == 1600
        assert not image.getexif()


def test_members_see_an_accepted_project_with_its_progress(
    client, member, other_member, program, association, accepted
):
    credit(member, program, 40_000)
    client.force_login(member)
    detail = reverse("associations:detail", args=[association.pk])
    page = client.get(detail).content.decode()
    assert "Un minibus pour les sorties" in page and "J’aide ce projet" in page
    assert "0\xa0K sur 50\u202f000\xa0K — 0\xa0%" in page
    give = reverse("cagnotte:give", args=[association.pk]) + f"?projet={accepted.pk}"
    form = client.get(give).content.decode()
    assert "Pour le projet « Un minibus pour les sorties »" in form
    import re

    wallet = re.search(r'name="wallet" value="(\d+)"', form)[1]
    token = re.search(r'name="token" value="([^"]+)"', form)[1]
    response = client.post(give, {"wallet": wallet, "token": token, "amount": "31000"})
    assert response.status_code == 302
    project_page = client.get(
        reverse("associations:project", args=[association.pk, accepted.pk])
    ).content.decode()
    assert "31\u202f000\xa0K sur 50\u202f000\xa0K — 62\xa0%" in project_page
    assert '<progress max="50000" value="31000"' in project_page
    # The association's page, its list of projects kept under what it shows, follows the gift.
    assert "31\u202f000\xa0K sur 50\u202f000\xa0K — 62\xa0%" in client.get(detail).content.decode()
    # A member of another bank sees neither the project nor its photo.
    client.force_login(other_member)
    assert (
        client.get(reverse("associations:project", args=[association.pk, accepted.pk])).status_code
        == 404
    )
    assert client.get(reverse("associations:project_photo", args=[accepted.pk])).status_code == 404


def test_a_project_not_accepted_is_not_shown(client, member, association, account, program):
    project = new_project(association, account, program)
    client.force_login(member)
    assert (
        "Un minibus"
        not in client.get(reverse("associations:detail", args=[association.pk])).content.decode()
    )
    assert (
        client.get(reverse("associations:project", args=[association.pk, project.pk])).status_code
        == 404
    )
    give = reverse("cagnotte:give", args=[association.pk]) + f"?projet={project.pk}"
    assert client.get(give).status_code == 404


def test_an_ended_project_says_goal_reached(client, member, program, association, accepted):
    credit(member, program, 60_000)
    give_tookets(
        member=member,
        association_id=association.pk,
        amount=50_000,
        token="all",
        program=program,
        project_id=accepted.pk,
    )
    Project.objects.filter(pk=accepted.pk).update(
        ends_on=timezone.localdate() - datetime.timedelta(days=1)
    )
    client.force_login(member)
    page = client.get(
        reverse("associations:project", args=[association.pk, accepted.pk])
    ).content.decode()
    assert "Objectif atteint" in page and "J’aide ce projet" not in page


def test_staff_decide_in_the_admin_scoped_to_their_bank(
    client, association, account, program, staff_pg, staff_other
):
    project = new_project(association, account, program)
    url = reverse("admin:associations_project_decide", args=["correction"])
    client.force_login(staff_other)
    assert client.get(url, {"ids": project.pk}).status_code == 404
    client.force_login(staff_pg)
    assert (
        client.get(reverse("admin:associations_project_change", args=[project.pk])).status_code
        == 200
    )
    response = client.post(url, {"ids": str(project.pk), "message": "Une photo, svp."})
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.status == Project.Status.CORRECTION_REQUESTED
    page = client.get(
        reverse("admin:associations_project_change", args=[project.pk])
    ).content.decode()
    assert "Une photo, svp." in page


def test_the_outcome_after_the_payout(client, association, account, program, accepted, staff_pg):
    with pytest.raises(InvalidTransition):
        projects.submit_outcome(project=accepted, actor=account, text="Le minibus roule.")
    now = timezone.now()
    statement = PayoutStatement.objects.create(
        program=program, status="paid", total_k=100, total_cents=100, sent_at=now, paid_at=now
    )
    PayoutLine.objects.create(
        statement=statement,
        association=association,
        gifts_k=100,
        sweeps_k=0,
        total_k=100,
        amount_cents=100,
    )
    client.force_login(account)
    response = client.post(
        reverse("associations:project_outcome", args=[accepted.pk]),
        {"outcome_text": "Le minibus roule depuis mars."},
    )
    assert response.status_code == 302
    projects.accept_outcome(project=accepted, staff=staff_pg)
    assert [e for e in accepted.history.values_list("event", flat=True)][-2:] == [
        Event.OUTCOME_SUBMITTED,
        Event.OUTCOME_ACCEPTED,
    ]


def test_the_project_page_kept_under_what_it_shows_follows_every_change(
    client, member, association, program, accepted
):
    """The project's page content is kept under every field it shows: a member who saw it
    sees each change at once — its text, its end, an outcome told, a refusal (gone)."""
    client.force_login(member)
    url = reverse("associations:project", args=[association.pk, accepted.pk])

    def page():
        response = client.get(url)
        return response.status_code, response.content.decode()

    assert "J’aide ce projet" in page()[1]
    Project.objects.filter(pk=accepted.pk).update(text="Un texte tout neuf.")
    assert "Un texte tout neuf." in page()[1]
    Project.objects.filter(pk=accepted.pk).update(
        ends_on=timezone.localdate() - datetime.timedelta(days=1)
    )
    status, html = page()
    assert status == 200 and "J’aide ce projet" not in html and "Projet terminé" in html
    Project.objects.filter(pk=accepted.pk).update(
        outcome_text="Le minibus roule.", outcome_status=Project.OutcomeStatus.ACCEPTED
    )
    assert "Ce que nous en avons fait" in page()[1] and "Le minibus roule." in page()[1]
    Project.objects.filter(pk=accepted.pk).update(status=Project.Status.REFUSED)
    assert page()[0] == 404


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_gifts_to_a_project_are_all_counted(
    require_postgres, settings, pg_caisse, program, association
):
    """Twenty members give to one project at once: its progress is the exact sum."""
    from tests.cagnotte.test_concurrency import run_in_threads

    settings.GIFT_LOCK_TIMEOUT = 60
    project = f.ProjectFactory(association=association, program=program, photo=None)
    members = [f.MemberFactory(caisse_regionale=pg_caisse) for _ in range(20)]
    for m in members:
        credit(m, program, 100)

    def give(i):
        return give_tookets(
            member=members[i],
            association_id=association.pk,
            amount=10 + i,
            token=f"race-project-{i}",
            program=program,
            project_id=project.pk,
        )

    outcomes = run_in_threads(20, give)
    assert not [o for o in outcomes if isinstance(o, Exception)]
    progress = progress_of(with_progress(Project.objects.filter(pk=project.pk)).get())
    assert progress.raised == sum(10 + i for i in range(20))
    assert_ledger_consistent()


def test_the_pages_with_projects_read_a_bounded_number_of_queries(
    client, member, program, association, account, staff_pg, django_assert_max_num_queries
):
    for _ in range(3):
        projects.accept_project(project=new_project(association, account, program), staff=staff_pg)
    shown = Project.objects.first()
    client.force_login(member)
    detail = reverse("associations:detail", args=[association.pk])
    page = reverse("associations:project", args=[association.pk, shown.pk])
    client.get(detail)  # the card's fragment cached
    # The projects and their progress: one query, whatever their number.
    with django_assert_max_num_queries(PINNED["detail"]):
        assert client.get(detail).content.decode().count("<progress") == 3
    with django_assert_max_num_queries(PINNED["project"]):
        assert client.get(page).status_code == 200


PINNED = {"detail": 2, "project": 2, "space": 5}


def test_the_associations_own_list_of_projects_reads_a_constant_number_of_queries(
    client, association, account, program, staff_pg
):
    """Its space's list says, for each project, whether it may tell « Ce que nous en avons
    fait » (paid for its program): read with the rows, not one query per project."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    last_year = f.ProgramFactory(
        caisse_regionale=program.caisse_regionale, code="gers-previous", year=program.year - 1
    )
    f.EnrollmentFactory(association=association, program=last_year)
    now = timezone.now()
    statement = PayoutStatement.objects.create(
        program=last_year, status="paid", total_k=100, total_cents=100, sent_at=now, paid_at=now
    )
    PayoutLine.objects.create(
        statement=statement,
        association=association,
        gifts_k=100,
        sweeps_k=0,
        total_k=100,
        amount_cents=100,
    )
    client.force_login(account)
    url = reverse("associations:projects")
    f.ProjectFactory(association=association, program=last_year, photo=None, title="Payé 1")

    def queries():
        client.get(url)  # the session and the caches warm
        with CaptureQueriesContext(connection) as captured:
            page = client.get(url).content.decode()
        return len(captured), page

    one, _ = queries()
    f.ProjectFactory(association=association, program=last_year, photo=None, title="Payé 2")
    f.ProjectFactory(association=association, program=program, photo=None, title="Pas payé")
    f.ProjectFactory(
        association=association, program=last_year, photo=None, title="Refusé", status="refused"
    )
    f.ProjectFactory(
        association=association, program=program, photo=None, title="À voir", status="submitted"
    )
    five, page = queries()
    assert one == five == PINNED["space"]
    # The rule still holds per project: accepted and paid for its program, no other.
    assert page.count("Raconter ce que nous en avons fait") == 2
    allowed = set(
        projects.with_outcome_allowed(Project.objects.all())
        .filter(outcome_allowed=True)
        .values_list("title", flat=True)
    )
    assert allowed == {"Payé 1", "Payé 2"}


def test_the_gift_page_refuses_a_project_it_does_not_know(
    client, member, program, association, accepted
):
    credit(member, program, 100)
    other = f.AssociationFactory(caisse_regionale=program.caisse_regionale)
    f.EnrollmentFactory(association=other, program=program)
    client.force_login(member)
    give = reverse("cagnotte:give", args=[other.pk])
    for value in [str(accepted.pk), "abc", "99999999999999999999", "", "١"]:
        assert client.get(give, {"projet": value}).status_code == 404, value
    own = reverse("cagnotte:give", args=[association.pk])
    assert client.get(own, {"projet": accepted.pk, "programme": program.pk}).status_code == 200
    other_program = f.ProgramFactory(caisse_regionale=program.caisse_regionale, name="Autre")
    assert (
        client.get(own, {"projet": accepted.pk, "programme": other_program.pk}).status_code == 404
    )
