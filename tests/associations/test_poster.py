"""The poster (A4 PDF) and the QR code: their text, their target, who may download them."""

import io
import re
import zlib

import pytest
import segno
from django.conf import settings
from django.urls import reverse
from PIL import Image

from associations.models import Association
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(association, pg_caisse):
    user = f.UserFactory(kind="association", caisse_regionale=pg_caisse)
    association.user = user
    association.presentation = "Nous aidons les anciens du village.\nDeuxième ligne."
    association.save()
    return user


def pdf_text(body: bytes) -> str:
    """The text shown by a PDF's pages: its content streams, inflated."""
    text = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", body, re.S):
        try:
            text.append(zlib.decompress(stream).decode("latin-1"))
        except zlib.error:
            continue
    return "".join(text)


def test_the_poster_says_who_why_how_and_where(client, association, account):
    client.force_login(account)
    response = client.get(reverse("associations:poster"))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    body = response.content
    assert body.startswith(b"%PDF")
    assert b"/MediaBox [0 0 595.28 841.89]" in body  # A4
    text = pdf_text(body)
    url = settings.SITE_URL.rstrip("/") + f"/associations/{association.pk}/"
    for expected in (
        "Les Amis du Gers",
        "Nous aidons les anciens du village.",
        "Soutenez-nous avec vos Tookets",
        "1. Connectez-vous",
        "3. Choisissez",
        url,
    ):
        assert expected in text, expected
    assert "Deuxième ligne" not in text


def test_the_qr_code_leads_to_the_association_page(client, association, account):
    client.force_login(account)
    url = settings.SITE_URL.rstrip("/") + reverse("associations:detail", args=[association.pk])
    expected = segno.make(url, error="m")
    png = client.get(reverse("associations:qr_png"))
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    # Read the modules back from the image (10 px each, a border of 4) and compare them with
    # the code of the page's URL, module by module.
    with Image.open(io.BytesIO(png.content)) as image:
        image = image.convert("L")
        size = expected.symbol_size(scale=1, border=0)[0]
        modules = [
            [image.getpixel((10 * (4 + x) + 5, 10 * (4 + y) + 5)) < 128 for x in range(size)]
            for y in range(size)
        ]
    assert modules == [[bool(v) for v in row] for row in expected.matrix]
    svg = client.get(reverse("associations:qr_svg"))
    assert svg.status_code == 200 and svg["Content-Type"] == "image/svg+xml"
    assert b"<script" not in svg.content


def test_only_a_validated_association_downloads_its_own(client, association, account, member):
    client.force_login(member)
    assert client.get(reverse("associations:poster")).status_code == 403
    Association.objects.filter(pk=association.pk).update(status=Association.Status.SUBMITTED)
    client.force_login(account)
    assert client.get(reverse("associations:poster")).status_code == 404
    assert client.get(reverse("associations:qr_png")).status_code == 404


def test_the_page_behind_the_qr_takes_a_visitor_through_the_login(client, association):
    response = client.get(reverse("associations:detail", args=[association.pk]))
    assert response.status_code == 302
    assert f"next=/associations/{association.pk}/" in response["Location"].replace("%2F", "/")
