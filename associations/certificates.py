"""The « attestation de soutien »: for each closed campaign, a PDF the association downloads
and a public page, reached by the certificate's code, where a town hall or a funder checks
the same figures. Nothing on either names a member: counts and sums only."""

import secrets

from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET
from django_ratelimit.decorators import ratelimit
from fpdf import FPDF

from associations.models import Association, SupportCertificate
from associations.poster import _latin1
from associations.space import own_association
from cagnotte.campaigns import Enrollment, Program
from cagnotte.figures import campaign_figures
from cagnotte.models import LedgerEntry
from tookets.http import MAX_ID_DIGITS
from tookets.money import format_tookets

# Crockford's base 32 without the letters people confuse (I, L, O, U): 16 characters, 80 bits.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16
# A town hall checks a few codes; a script trying codes gets the 429 page.
CHECKS_PER_ADDRESS = "20/m"


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(raw: str) -> str | None:
    code = "".join((raw or "").split()).replace("-", "").upper()
    if len(code) != CODE_LENGTH or not all(c in ALPHABET for c in code):
        return None
    return code


def closed_campaigns_of(association: Association):
    """The closed programs the association took part in (enrolled, or received from)."""
    return (
        Program.objects.closed_on()
        .filter(caisse_regionale_id=association.caisse_regionale_id)
        .filter(
            Q(Exists(Enrollment.objects.filter(program=OuterRef("pk"), association=association)))
            | Q(
                Exists(
                    LedgerEntry.objects.filter(
                        wallet__program=OuterRef("pk"), association=association
                    )
                )
            )
        )
        .order_by("-year", "name")
    )


def certificate_for(*, association: Association, program: Program) -> SupportCertificate:
    """The campaign's certificate, issued once (a second download finds the same code)."""
    existing = SupportCertificate.objects.filter(association=association, program=program).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return SupportCertificate.objects.create(
                association=association, program=program, code=new_code()
            )
    except IntegrityError:  # a concurrent first download issued it
        return SupportCertificate.objects.get(association=association, program=program)


@login_required
@require_GET
def space_certificates(request):
    association = own_association(request)
    campaigns = list(closed_campaigns_of(association))
    for program in campaigns:
        program.figures = campaign_figures(association_id=association.pk, program_id=program.pk)
    return render(
        request,
        "associations/certificates_space.html",
        {"association": association, "campaigns": campaigns},
    )


@login_required
@require_GET
def certificate_pdf(request, program_id):
    association = own_association(request)
    if len(str(program_id)) > MAX_ID_DIGITS:
        raise Http404
    program = closed_campaigns_of(association).filter(pk=program_id).first()
    if program is None:
        raise Http404
    certificate = certificate_for(association=association, program=program)
    figures = campaign_figures(association_id=association.pk, program_id=program.pk)
    response = HttpResponse(
        certificate_document(certificate, association, program, figures, request),
        content_type="application/pdf",
    )
    response["Content-Disposition"] = (
        f'attachment; filename="attestation-tookets-{program.year}.pdf"'
    )
    return response


def certificate_document(certificate, association, program, figures, request) -> bytes:
    verify_url = request.build_absolute_uri(
        reverse("associations:certificate", args=[certificate.code])
    )
    pdf = FPDF(format="A4")
    pdf.set_title("Attestation de soutien Tookets")
    pdf.set_creator("Tookets")
    pdf.add_page()
    width = pdf.w - 2 * pdf.l_margin
    pdf.set_font("Helvetica", "B", 20)
    pdf.cell(width, 12, "Attestation de soutien", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    pdf.set_font("Helvetica", "", 13)
    lines = [
        f"Association : {association.name}",
        f"Caisse régionale : {association.caisse_regionale.name}",
        f"Campagne : {program.name} ({program.year})",
        f"Soutiens distincts : {figures.supporters}",
        f"Tookets reçus : {format_tookets(figures.received)}",
        f"Versé par la Caisse régionale : {_euros(figures.paid_cents)}",
        f"Établie le : {timezone.localdate():%d/%m/%Y}",
        "",
        f"Code de vérification : {certificate.code_display}",
        f"Vérifiable sur : {verify_url}",
    ]
    for line in lines:
        pdf.multi_cell(width, 8, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _euros(cents: int) -> str:
    whole, rest = divmod(cents, 100)
    return f"{whole:,}".replace(",", " ") + f",{rest:02d} €"


# --- The public check -----------------------------------------------------------------------


@require_GET
@ratelimit(group="associations.certificate", key="ip", rate=CHECKS_PER_ADDRESS, block=True)
def verify(request, code=None):
    """« Vérifier une attestation »: the form (no code), or the certificate's figures; a code
    that is not one gets a plain 404."""
    if code is None:
        typed = request.GET.get("code")
        if typed is None:
            return render(request, "associations/certificate_verify.html", {})
        normalised = normalise_code(typed)
        if normalised is None:
            return render(
                request, "associations/certificate_verify.html", {"unknown": True}, status=404
            )
        return redirect("associations:certificate", code=normalised)
    normalised = normalise_code(code)
    certificate = (
        SupportCertificate.objects.select_related(
            "association", "association__caisse_regionale", "program"
        )
        .filter(code=normalised)
        .first()
        if normalised
        else None
    )
    if certificate is None:
        raise Http404
    figures = campaign_figures(
        association_id=certificate.association_id, program_id=certificate.program_id
    )
    return render(
        request,
        "associations/certificate_public.html",
        {"certificate": certificate, "figures": figures},
    )
