"""What Lighthouse and a careful reader ask of the pages (issue 24, finding 7): a description
for search engines, compressed HTML (with Django's BREACH padding), a CSP whose violations are
reported and logged, the map page's one stylesheet and deferred scripts, and a map that still
orients people without its background tiles."""

import gzip
import json
import logging
import re

import pytest
from django.test import Client
from django.urls import reverse

from tests import factories as f
from tests.associations.directory_cast import visible_associations
from tookets import map_css
from tookets.csp_report import MAX_REPORT_BYTES
from tookets.settings import _tiles_origin

pytestmark = pytest.mark.django_db

DESCRIPTION = re.compile(r'<meta name="description" content="([^"]+)">')
DEFAULT_DESCRIPTION = "Tookets : les sociétaires donnent les Tookets gagnés avec leurs contrats"


def _description(response) -> str:
    found = DESCRIPTION.findall(response.content.decode())
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize(
    ("url", "words"),
    [
        (reverse("home"), "programme de dons solidaires"),
        (reverse("how_it_works"), "le fonctionnement de Tookets pas à pas"),
        (reverse("cagnotte:results"), "Résultats de Tookets par Caisse régionale"),
        (reverse("accounts:login"), "Connectez-vous à Tookets"),
        (reverse("associations:register"), "Association ? Créez votre compte Tookets"),
    ],
)
def test_each_public_page_describes_itself(client, url, words):
    response = client.get(url)
    assert response.status_code == 200
    description = _description(response)
    assert words in description
    assert 50 <= len(description) <= 200  # what search engines show without cutting


def test_the_results_of_a_bank_name_it(client, pg_caisse):
    response = client.get(reverse("cagnotte:results_of", args=[pg_caisse.code]))
    assert pg_caisse.name in _description(response)


def test_member_pages_have_the_site_description(client, member):
    client.force_login(member)
    response = client.get(reverse("cagnotte:wallet"))
    assert DEFAULT_DESCRIPTION in _description(response)


# --- Compression ------------------------------------------------------------------------------


def test_a_large_page_is_served_gzipped_when_asked(client, member, program):
    visible_associations(program=program, count=25)
    client.force_login(member)
    url = reverse("associations:directory")
    plain = client.get(url)
    assert "Content-Encoding" not in plain
    assert len(plain.content) > 20_000
    compressed = client.get(url, HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert compressed["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in compressed["Vary"]
    assert int(compressed["Content-Length"]) == len(compressed.content)
    assert len(compressed.content) < len(plain.content) / 3
    html = gzip.decompress(compressed.content).decode()
    assert html.count('class="association-card') == plain.content.decode().count(
        'class="association-card'
    )


def test_compressed_pages_carry_random_padding_against_breach(client):
    """Django pads each gzip stream with a random-length file name ("Heal the Breach"): the
    same page compresses to different lengths, so its length tells an attacker less."""
    names = set()
    for _ in range(12):
        body = client.get(reverse("home"), HTTP_ACCEPT_ENCODING="gzip").content
        assert body[:2] == b"\x1f\x8b"
        assert body[3] & 0x08  # FNAME: a file name follows the header
        names.add(body[10:].index(b"\x00"))
    assert len(names) > 1


# --- CSP reports ------------------------------------------------------------------------------

REPORT_URL = reverse("csp_report")
CSP_REPORT = {
    "csp-report": {
        "document-uri": "https://tookets.example/associations/?vue=carte",
        "referrer": "",
        "violated-directive": "img-src",
        "effective-directive": "img-src",
        "original-policy": "default-src 'self'",
        "blocked-uri": "https://tiles.elsewhere.example/1/2/3.png",
        "status-code": 200,
    }
}


def test_the_policy_names_its_report_endpoint(client):
    response = client.get(reverse("home"))
    policy = response["Content-Security-Policy"]
    assert f"report-uri {REPORT_URL}" in policy
    assert "report-to csp" in policy
    assert response["Reporting-Endpoints"] == f'csp="{REPORT_URL}"'


def _post(client, payload, content_type="application/csp-report", **extra):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return client.generic("POST", REPORT_URL, body, content_type=content_type, **extra)


def test_a_violation_is_logged_without_a_csrf_token(caplog):
    browser = Client(enforce_csrf_checks=True)  # a browser posts reports without a token
    with caplog.at_level(logging.WARNING, logger="tookets.csp"):
        response = _post(browser, CSP_REPORT)
    assert response.status_code == 204
    assert response.content == b""
    (record,) = [r for r in caplog.records if r.name == "tookets.csp"]
    message = record.getMessage()
    assert "img-src" in message and "https://tiles.elsewhere.example/1/2/3.png" in message
    assert "original-policy" not in message  # only the fields that help


def test_reporting_api_reports_are_logged(client, caplog):
    reports = [
        {
            "type": "csp-violation",
            "url": "https://tookets.example/",
            "body": {
                "documentURL": "https://tookets.example/",
                "effectiveDirective": "script-src-elem",
                "blockedURL": "https://evil.example/x.js",
                "disposition": "enforce",
            },
        },
        {"type": "deprecation", "body": {"id": "x"}},
    ]
    with caplog.at_level(logging.WARNING, logger="tookets.csp"):
        response = _post(client, reports, content_type="application/reports+json")
    assert response.status_code == 204
    messages = [r.getMessage() for r in caplog.records if r.name == "tookets.csp"]
    assert len(messages) == 1
    assert "script-src-elem" in messages[0] and "https://evil.example/x.js" in messages[0]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe\x00",
        b"[" * 100_00,
        json.dumps({"csp-report": "text"}).encode(),
        json.dumps([1, "two", {"type": "csp-violation", "body": []}]).encode(),
    ],
)
def test_hostile_bodies_get_204_and_log_nothing(client, caplog, body):
    with caplog.at_level(logging.WARNING, logger="tookets.csp"):
        response = _post(client, body)
    assert response.status_code == 204
    assert not [r for r in caplog.records if r.name == "tookets.csp"]


def test_a_body_over_the_limit_is_not_read(client, caplog):
    padded = dict(CSP_REPORT)
    padded["csp-report"] = {**CSP_REPORT["csp-report"], "script-sample": "x" * MAX_REPORT_BYTES}
    with caplog.at_level(logging.WARNING, logger="tookets.csp"):
        response = _post(client, padded)
    assert response.status_code == 204
    messages = [r.getMessage() for r in caplog.records if r.name == "tookets.csp"]
    assert messages == [f"CSP report refused: body over {MAX_REPORT_BYTES} bytes"]


def test_only_post(client):
    assert client.get(REPORT_URL).status_code == 405


def test_reports_are_rate_limited_per_address(client, settings, caplog):
    settings.CSP_REPORT_RATE = "3/m"
    with caplog.at_level(logging.WARNING, logger="tookets.csp"):
        statuses = [_post(client, CSP_REPORT).status_code for _ in range(6)]
        # Another address still reports.
        _post(client, CSP_REPORT, REMOTE_ADDR="198.51.100.7")
    assert statuses == [204] * 6
    assert len([r for r in caplog.records if r.name == "tookets.csp"]) == 3 + 1


# --- Tiles ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "https://tile.openstreetmap.org"),
        ("https://{s}.tuiles.example/{z}/{x}/{y}.png", "https://*.tuiles.example"),
        ("/tuiles/{z}/{x}/{y}.png", None),
        ("", None),
    ],
)
def test_the_csp_allows_the_tile_server_named_by_the_setting(url, origin):
    assert _tiles_origin(url) == origin


def _map_config(response) -> dict:
    html = response.content.decode()
    found = re.search(
        r'<script id="directory-map-config" type="application/json">(.*?)</script>', html, re.S
    )
    return json.loads(found.group(1))


def test_the_map_knows_the_local_banks_towns_and_what_to_say_without_tiles(
    client, member, program, pg_caisse, settings
):
    settings.MAP_TILES_URL = ""
    f.CaisseLocaleFactory(caisse_regionale=pg_caisse, name="Mirande", latitude=43.5, longitude=0.4)
    f.CaisseLocaleFactory(caisse_regionale=f.caisse("toulouse-31"), name="Muret")
    client.force_login(member)
    config = _map_config(client.get(reverse("associations:directory"), {"vue": "carte"}))
    assert ["Mirande", 43.5, 0.4] in config["places"]
    assert "Muret" not in {name for name, _lat, _lng in config["places"]}
    assert config["tilesUrl"] == ""
    assert config["labels"]["noTiles"].startswith("Le fond de carte n’est pas disponible")


# --- The map page's assets --------------------------------------------------------------------


def test_the_map_stylesheet_is_built_from_its_sources():
    # Edit directory.css (or upgrade Leaflet) without `make map-css` and this fails.
    assert map_css.BUNDLE.read_text(encoding="utf-8") == map_css.build()


def test_the_map_page_has_one_stylesheet_of_its_own_and_deferred_scripts(client, member, program):
    visible_associations(program=program, count=2)
    client.force_login(member)
    for url in (reverse("associations:directory"), reverse("associations:favourites")):
        html = client.get(url, {"vue": "carte"}).content.decode()
        stylesheets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
        assert stylesheets == ["/static/css/tookets.css", "/static/css/directory_map.css"]
        scripts = re.findall(r"<script src=[^>]*>", html)
        assert len(scripts) == 4
        assert all(" defer" in tag for tag in scripts), scripts
        assert 'id="map-notice"' in html and 'role="status"' in html
