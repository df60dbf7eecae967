"""The association's poster (A4 PDF) and its QR code (PNG, SVG), leading to its page.

The QR code is drawn by ``segno``, the PDF by ``fpdf2`` (pure Python, Pillow for the image:
nothing to install beside ``pip install``). The PDF uses the core Helvetica font, whose
encoding is Latin-1: the few typographic characters outside it (’, narrow spaces, dashes)
are written with their plain equivalents rather than dropped.
"""

import io

import segno
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from fpdf import FPDF

from associations.models import Association
from associations.space import own_association

STEPS = (
    "1. Connectez-vous sur Tookets avec votre identifiant de sociétaire.",
    "2. Scannez ce code ou cherchez notre association dans la liste.",
    "3. Choisissez le nombre de Tookets et validez : c'est gratuit pour vous.",
)
_PLAIN = str.maketrans(
    {
        "\u2019": "'",
        "\u2018": "'",
        "\u202f": " ",
        "\u00a0": " ",
        "\u2014": "-",
        "\u2013": "-",
        "\u2026": "...",
        "\u0153": "oe",
        "\u0152": "OE",
        "\u20ac": "euros",
    }
)


def page_url(association: Association) -> str:
    """The association's page, absolute: what the QR code holds. A member who is not logged
    in goes through the login and lands on it (``next``)."""
    return settings.SITE_URL.rstrip("/") + reverse("associations:detail", args=[association.pk])


def qr_code(association: Association):
    return segno.make(page_url(association), error="m")


def qr_png(association: Association) -> bytes:
    out = io.BytesIO()
    qr_code(association).save(out, kind="png", scale=10, border=4)
    return out.getvalue()


def qr_svg(association: Association) -> bytes:
    out = io.BytesIO()
    qr_code(association).save(out, kind="svg", scale=10, border=4, title="Tookets")
    return out.getvalue()


def _latin1(text: str) -> str:
    return text.translate(_PLAIN).encode("latin-1", "replace").decode("latin-1")


def first_line(text: str, limit: int = 160) -> str:
    line = next((part.strip() for part in (text or "").splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 3].rstrip() + "..."


def poster_pdf(association: Association) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_title(_latin1(f"Soutenez {association.name} avec vos Tookets"))
    pdf.set_creator("Tookets")
    pdf.set_auto_page_break(False)
    pdf.add_page()
    width = pdf.w - 2 * pdf.l_margin
    pdf.set_text_color(0, 116, 97)
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(width, 10, "TOOKETS", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_text_color(29, 42, 48)
    pdf.set_font("Helvetica", "B", 28)
    pdf.multi_cell(width, 13, _latin1(association.name), align="C", new_x="LMARGIN", new_y="NEXT")
    presentation = first_line(association.presentation)
    if presentation:
        pdf.ln(2)
        pdf.set_font("Helvetica", "", 14)
        pdf.multi_cell(width, 7, _latin1(presentation), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    pdf.set_font("Helvetica", "B", 22)
    pdf.set_text_color(0, 116, 97)
    pdf.cell(width, 12, "Soutenez-nous avec vos Tookets", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    size = 90
    pdf.image(io.BytesIO(qr_png(association)), x=(pdf.w - size) / 2, y=pdf.get_y(), w=size)
    pdf.set_y(pdf.get_y() + size + 4)
    pdf.set_text_color(29, 42, 48)
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(width, 6, page_url(association), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font("Helvetica", "", 14)
    for step in STEPS:
        pdf.multi_cell(width, 8, _latin1(step), align="L", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


# --- The space's downloads ------------------------------------------------------------------


@login_required
@require_GET
def poster(request):
    association = own_association(
        request,
        validated=True,
        missing=_("L’affiche est disponible une fois votre association validée."),
    )
    response = HttpResponse(poster_pdf(association), content_type="application/pdf")
    response["Content-Disposition"] = 'attachment; filename="affiche-tookets.pdf"'
    return response


@login_required
@require_GET
def qr(request, kind):
    association = own_association(
        request,
        validated=True,
        missing=_("L’affiche est disponible une fois votre association validée."),
    )
    if kind == "png":
        body, content_type = qr_png(association), "image/png"
    else:
        body, content_type = qr_svg(association), "image/svg+xml"
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="qr-tookets.{kind}"'
    return response
