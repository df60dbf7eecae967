"""The map page's one stylesheet, ``static/css/directory_map.css``: Leaflet's, markercluster's
and the directory's, concatenated in that order (ours last: they override the libraries').

Six stylesheets in the map page's ``<head>`` each blocked its first paint; one file, built by
concatenation and committed, needs no build toolchain. ``make map-css`` rebuilds it after any
of its sources changes; ``tests/test_web_quality.py`` fails while the committed file differs
from what this builds.

    python -m tookets.map_css
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
BUNDLE = BASE_DIR / "static" / "css" / "directory_map.css"


def _leaflet_static() -> Path:
    # find_spec does not import django-leaflet (whose __init__ reads the settings).
    spec = importlib.util.find_spec("leaflet")
    return Path(next(iter(spec.submodule_search_locations))) / "static" / "leaflet"


def sources() -> list[tuple[str, Path]]:
    """``(static path, file)`` of each part, in the bundle's order."""
    vendor = BASE_DIR / "static" / "vendor" / "leaflet.markercluster"
    return [
        ("leaflet/leaflet.css", _leaflet_static() / "leaflet.css"),
        ("vendor/leaflet.markercluster/MarkerCluster.css", vendor / "MarkerCluster.css"),
        (
            "vendor/leaflet.markercluster/MarkerCluster.Default.css",
            vendor / "MarkerCluster.Default.css",
        ),
        ("css/directory.css", BASE_DIR / "static" / "css" / "directory.css"),
    ]


RELATIVE_URL = re.compile(r"url\((['\"]?)(?!data:|#|/|[a-z]+://)([^'\")]+)\1\)")


def _rebase(css: str, static_path: str) -> str:
    """Relative ``url(…)`` of a part rewritten from the bundle's folder (``css/``), so that
    Leaflet's ``images/layers.png`` still names ``leaflet/images/layers.png`` (and the
    manifest storage gives it its hashed name)."""
    folder = static_path.rsplit("/", 1)[0]
    if folder == "css":
        return css

    def rebase(match):
        quote, target = match.group(1), match.group(2)
        return f"url({quote}../{folder}/{target}{quote})"

    return RELATIVE_URL.sub(rebase, css)


def build() -> str:
    parts = [
        "/* Built by `make map-css` (tookets/map_css.py) from the files named below: edit "
        "those, then rebuild. */\n"
    ]
    for static_path, path in sources():
        parts.append(f"\n/* --- {static_path} --- */\n")
        parts.append(_rebase(path.read_text(encoding="utf-8"), static_path).rstrip("\n") + "\n")
    return "".join(parts)


if __name__ == "__main__":
    BUNDLE.write_text(build(), encoding="utf-8")
    print(f"{BUNDLE.relative_to(BASE_DIR)} rebuilt ({BUNDLE.stat().st_size} bytes)")
