"""The thank-you: written, decided by staff, delivered once to those entitled, shown in the
member's space, stopped per association; the association learns a count, never who."""

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone

from accounts import emails
from associations import thanks
from associations.models import ThankYou
from associations.services import InvalidTransition, WorkflowError
from cagnotte.models import Favourite, PayoutLine, PayoutStatement, Supporter
from cagnotte.services import give_tookets
from tests import factories as f
from tests.cagnotte.helpers import credit

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(association, pg_caisse):
    user = f.UserFactory(kind="association", caisse_regionale=pg_caisse, email="asso@example.org")
    association.user = user
    association.save()
    return user


@pytest.fixture
def cast(association, program, pg_caisse):
    """Who is entitled, and who is not."""

    def member(name, **kwargs):
        return f.MemberFactory(caisse_regionale=pg_caisse, display_name=name, **kwargs)

    gave = member("Alice Donatrice", recap_emails=True)
    favourite = member("Bruno Favori", recap_emails=True)
    silent = member("Chloé Sansmail", recap_emails=False)
    stranger = member("Denis Ailleurs", recap_emails=True)
    other = f.AssociationFactory(caisse_regionale=pg_caisse)
    f.EnrollmentFactory(association=other, program=program)
    for m, to, token in [
        (gave, association, "g"),
        (silent, association, "s"),
        (stranger, other, "o"),
    ]:
        credit(m, program, 100)
        give_tookets(member=m, association_id=to.pk, amount=10, token=token, program=program)
    Favourite.objects.create(member=favourite, association=association)
    return {"gave": gave, "favourite": favourite, "silent": silent, "stranger": stranger}


def accepted_message(association, account, program, staff, capture, kind="campaign"):
    thank_you = thanks.write_thank_you(
        association=association, actor=account, program=program, kind=kind, text="Merci à vous !"
    )
    with capture(execute=True):
        thanks.accept_thank_you(thank_you=thank_you, staff=staff)
    thank_you.refresh_from_db()
    return thank_you


def test_delivered_once_to_those_entitled(
    association, account, program, staff_pg, cast, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    thank_you = accepted_message(
        association, account, program, staff_pg, django_capture_on_commit_callbacks
    )
    to = sorted(m.to[0] for m in mail.outbox)
    assert to == sorted([cast["gave"].email, cast["favourite"].email])
    message = mail.outbox[0]
    assert "Merci à vous !" in message.body
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert thank_you.reached == 2
    # A rerun (the task delivered twice) sends nothing more.
    assert emails.send_thank_you(thank_you_id=thank_you.pk).sent == 0
    assert len(mail.outbox) == 2
    # Once per campaign: the same moment cannot be written again once accepted.
    with pytest.raises(InvalidTransition):
        thanks.write_thank_you(
            association=association, actor=account, program=program, kind="campaign", text="Bis"
        )


def test_shown_in_the_space_of_everyone_who_gave(
    client, association, account, program, staff_pg, cast, django_capture_on_commit_callbacks
):
    accepted_message(association, account, program, staff_pg, django_capture_on_commit_callbacks)
    for who, sees in [("gave", True), ("silent", True), ("favourite", False), ("stranger", False)]:
        client.force_login(cast[who])
        page = client.get(reverse("associations:messages")).content.decode()
        assert ("Merci à vous !" in page) is sees, who


def test_a_member_stops_one_association_only(
    client, association, account, program, staff_pg, cast, django_capture_on_commit_callbacks
):
    client.force_login(cast["gave"])
    response = client.post(reverse("associations:stop_messages"), {"association": association.pk})
    assert response.status_code == 302
    mail.outbox.clear()
    accepted_message(association, account, program, staff_pg, django_capture_on_commit_callbacks)
    assert [m.to[0] for m in mail.outbox] == [cast["favourite"].email]
    # Another association's messages still reach the member who stopped this one's.
    other = f.AssociationFactory(caisse_regionale=association.caisse_regionale)
    f.EnrollmentFactory(association=other, program=program)
    Favourite.objects.filter(member=cast["favourite"]).delete()
    Favourite.objects.create(member=cast["gave"], association=other)
    other_account = f.UserFactory(kind="association", caisse_regionale=association.caisse_regionale)
    other.user = other_account
    other.save()
    mail.outbox.clear()
    accepted_message(other, other_account, program, staff_pg, django_capture_on_commit_callbacks)
    assert cast["gave"].email in [m.to[0] for m in mail.outbox]


def test_the_association_learns_how_many_never_who(
    client, association, account, program, staff_pg, cast, django_capture_on_commit_callbacks
):
    accepted_message(association, account, program, staff_pg, django_capture_on_commit_callbacks)
    client.force_login(account)
    page = client.get(reverse("associations:space_messages")).content.decode()
    assert "envoyé à 2 sociétaire(s)" in page
    pages = [page]
    for name in ("associations:space", "associations:projects", "associations:certificates"):
        pages.append(client.get(reverse(name)).content.decode())
    for member in cast.values():
        for html in pages:
            assert member.display_name not in html and member.email not in html
    # The members' pages and the staff's rooms are closed to it.
    assert client.get(reverse("associations:messages")).status_code == 403
    admin = client.get(reverse("admin:associations_thankyou_changelist"))
    assert admin.status_code == 302 and "/admin/login/" in admin["Location"]


def test_staff_decide_in_their_bank_only_and_a_refusal_can_be_rewritten(
    association, account, program, staff_pg, staff_other
):
    thank_you = thanks.write_thank_you(
        association=association, actor=account, program=program, kind="campaign", text="Merci"
    )
    with pytest.raises(PermissionDenied):
        thanks.accept_thank_you(thank_you=thank_you, staff=staff_other)
    with pytest.raises(WorkflowError):
        thanks.refuse_thank_you(thank_you=thank_you, staff=staff_pg, reason=" ")
    thanks.refuse_thank_you(thank_you=thank_you, staff=staff_pg, reason="Trop long.")
    again = thanks.write_thank_you(
        association=association, actor=account, program=program, kind="campaign", text="Merci !"
    )
    assert (again.pk, again.status) == (thank_you.pk, ThankYou.Status.SUBMITTED)
    # After the payout only, the second message.
    with pytest.raises(WorkflowError, match="versement"):
        thanks.write_thank_you(
            association=association, actor=account, program=program, kind="payout", text="Merci"
        )
    now = timezone.now()
    statement = PayoutStatement.objects.create(
        program=program, status="paid", total_k=10, total_cents=10, sent_at=now, paid_at=now
    )
    PayoutLine.objects.create(
        statement=statement,
        association=association,
        gifts_k=10,
        sweeps_k=0,
        total_k=10,
        amount_cents=10,
    )
    thanks.write_thank_you(
        association=association, actor=account, program=program, kind="payout", text="Merci"
    )
    assert ThankYou.objects.filter(association=association).count() == 2


def test_staff_accept_in_the_admin(
    client, association, account, program, staff_pg, staff_other, cast
):
    thank_you = thanks.write_thank_you(
        association=association, actor=account, program=program, kind="campaign", text="Merci"
    )
    url = reverse("admin:associations_thankyou_decide", args=["validation"])
    client.force_login(staff_other)
    assert client.get(url, {"ids": thank_you.pk}).status_code == 404
    client.force_login(staff_pg)
    assert client.post(url, {"ids": str(thank_you.pk), "message": ""}).status_code == 302
    thank_you.refresh_from_db()
    assert thank_you.status == ThankYou.Status.ACCEPTED and thank_you.decided_by == staff_pg


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_deliveries_at_once_send_each_email_once(
    require_postgres, association, account, program, staff_pg, cast
):
    from tests.cagnotte.test_concurrency import run_in_threads

    thank_you = thanks.write_thank_you(
        association=association, actor=account, program=program, kind="campaign", text="Merci"
    )
    ThankYou.objects.filter(pk=thank_you.pk).update(status=ThankYou.Status.ACCEPTED)
    mail.outbox.clear()
    outcomes = run_in_threads(2, lambda i: emails.send_thank_you(thank_you_id=thank_you.pk).sent)
    assert sorted(outcomes) in ([0, 2], [1, 1])
    assert len(mail.outbox) == 2


def test_a_photo_with_the_message_is_shown_to_those_who_read_it(
    client, association, account, program, staff_pg, cast, settings, tmp_path
):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    settings.MEDIA_ROOT = tmp_path
    raw = io.BytesIO()
    Image.new("RGB", (30, 20), (0, 116, 97)).save(raw, format="PNG")
    client.force_login(account)
    response = client.post(
        reverse("associations:space_messages"),
        {
            "program": program.pk,
            "kind": "campaign",
            "text": "Merci, voici l’équipe !",
            "photo": SimpleUploadedFile("equipe.png", raw.getvalue()),
        },
    )
    assert response.status_code == 302
    thank_you = ThankYou.objects.get()
    photo = reverse("associations:thank_you_photo", args=[thank_you.pk])
    assert client.get(photo)["Content-Type"] == "image/jpeg"
    client.force_login(cast["gave"])
    assert client.get(photo).status_code == 404  # not accepted yet
    thanks.accept_thank_you(thank_you=thank_you, staff=staff_pg)
    assert client.get(photo).status_code == 200
    client.force_login(cast["stranger"])
    assert client.get(photo).status_code == 404
    # A script in place of the photo: a French error, nothing written.
    client.force_login(account)
    bad = client.post(
        reverse("associations:space_messages"),
        {
            "program": program.pk,
            "kind": "payout",
            "text": "x",
            "photo": SimpleUploadedFile("x.svg", b"<svg><script>alert(1)</script></svg>"),
        },
    )
    assert bad.status_code == 400 and "n’est pas une photo" in bad.content.decode()


def test_the_messages_page_reads_the_orm_s_rows_in_one_statement(
    client,
    association,
    account,
    program,
    staff_pg,
    cast,
    django_capture_on_commit_callbacks,
    django_assert_num_queries,
):
    """``messages_for`` runs a statement compiled once: the ORM's rows, fields and order."""
    accepted_message(association, account, program, staff_pg, django_capture_on_commit_callbacks)
    gave = cast["gave"]
    orm = list(
        ThankYou.objects.filter(status=ThankYou.Status.ACCEPTED)
        .filter(
            Exists(Supporter.objects.filter(association_id=OuterRef("association_id"), member=gave))
        )
        .select_related("association", "program")
        .order_by("-decided_at", "-id")
    )

    def fields(rows):
        return [
            [
                getattr(obj, x.attname)
                for obj in (t, t.association, t.program)
                for x in obj._meta.concrete_fields
            ]
            for t in rows
        ]

    with django_assert_num_queries(1):
        assert fields(thanks.messages_for(gave)) == fields(orm)
    assert len(orm) == 1
    assert thanks.messages_for(cast["stranger"]) == []
    client.force_login(gave)
    client.get(reverse("associations:messages"))
    with django_assert_num_queries(2):  # user, the messages
        assert client.get(reverse("associations:messages")).status_code == 200
