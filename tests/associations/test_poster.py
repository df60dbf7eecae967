"""The poster (A4 PDF) and the QR code: their text, their target, who may download them."""

import io
import re
import zlib
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

import pypdfium2
import pytest
import segno
import zxingcpp
from django.conf import settings
from django.urls import reverse
from PIL import Image, ImageDraw

from associations.models import Association
from tests import factories as f
from tests.accounts.helpers import login_with_code

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


# --- The QR code read back by an independent decoder (zxing-cpp) ------------------------------


def decoded(image) -> list[str]:
    """What zxing-cpp (not segno) reads in ``image``: the texts of its QR codes."""
    found = zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    return [barcode.text for barcode in found]


def svg_raster(svg: bytes) -> Image.Image:
    """The SVG QR code drawn as a browser draws it, for the subset of SVG segno writes: one
    ``path`` (scaled by its ``transform``) whose horizontal strokes, one module thick, are
    the dark modules. Anything else in the path fails the test rather than being ignored."""
    root = ElementTree.fromstring(svg)
    ns = {"svg": "http://www.w3.org/2000/svg"}
    (path,) = root.findall("svg:path", ns)
    scale = float(re.fullmatch(r"scale\((\d+(?:\.\d+)?)\)", path.get("transform"))[1])
    assert path.get("stroke") in ("#000", "#000000", "black")
    width, height = (round(float(root.get(side))) for side in ("width", "height"))
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    x = y = 0.0
    tokens = re.findall(r"[A-Za-z]|-?\d+(?:\.\d+)?", path.get("d"))
    position = 0
    while position < len(tokens):
        command = tokens[position]
        if command in "Mm":
            dx, dy = float(tokens[position + 1]), float(tokens[position + 2])
            x, y = (dx, dy) if command == "M" else (x + dx, y + dy)
            position += 3
        elif command in "Hh":
            end = float(tokens[position + 1]) + (x if command == "h" else 0)
            # A stroke one module thick centred on y: the modules of row y - 0.5.
            top = (y - 0.5) * scale
            draw.rectangle(
                [min(x, end) * scale, top, max(x, end) * scale - 1, top + scale - 1], fill=0
            )
            x = end
            position += 2
        else:
            raise AssertionError(f"unexpected SVG path command {command!r}")
    return image


def test_the_qr_codes_decode_to_the_association_page(client, association, account):
    """The PNG, the SVG and the poster's code, read by zxing-cpp: each holds the page's URL."""
    client.force_login(account)
    url = settings.SITE_URL.rstrip("/") + f"/associations/{association.pk}/"
    png = client.get(reverse("associations:qr_png")).content
    with Image.open(io.BytesIO(png)) as image:
        assert decoded(image) == [url]
    svg = client.get(reverse("associations:qr_svg")).content
    assert decoded(svg_raster(svg)) == [url]
    # The poster as a printer sees it: its first page rendered at 150 dpi by PDFium.
    document = pypdfium2.PdfDocument(client.get(reverse("associations:poster")).content)
    try:
        assert len(document) == 1
        poster = document[0].render(scale=150 / 72).to_pil()
    finally:
        document.close()
    assert decoded(poster) == [url]


def test_a_visitor_following_the_qr_logs_in_and_lands_on_the_page(client, association, pg_caisse):
    """The URL read from the code, followed by someone not logged in: the login page keeps
    it as ``next``, and the member who logs in with the keypad lands on the association."""
    owner = f.UserFactory(kind="association", caisse_regionale=pg_caisse)
    association.user = owner
    association.save()
    client.force_login(owner)
    with Image.open(io.BytesIO(client.get(reverse("associations:qr_png")).content)) as image:
        (url,) = decoded(image)
    client.logout()
    f.BankCustomerFactory(caisse_regionale=pg_caisse, account_number="98652706859")
    target = urlsplit(url).path
    response = client.get(target)
    assert response.status_code == 302
    login = urlsplit(response["Location"])
    assert login.path == reverse("accounts:login")
    assert parse_qs(login.query)["next"] == [target]
    page = client.get(response["Location"]).content.decode()
    assert f'name="next" value="{target}"' in page
    response = login_with_code(client, next=target)
    assert response.status_code == 302 and response["Location"] == target
    landed = client.get(response["Location"])
    assert landed.status_code == 200 and "Les Amis du Gers" in landed.content.decode()
