"""Accessibility and HTML checks on every page the browser tests visit.

- axe-core (shipped offline by ``axe-playwright-python``) runs on each page once it has
  loaded, with the WCAG 2.0, 2.1 and 2.2 A and AA rules (``AXE_TAGS``); a serious or critical
  violation fails the test that visited the page.
- The HTML of every document the browser receives is kept; at the end of the session it is
  validated in one run of the Nu Html Checker (``vnu.jar`` from the npm package ``vnu-jar``,
  on Debian's Java), and any error fails the session. One run for all pages: the JVM starts
  once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Error as PlaywrightError

BLOCKING_IMPACTS = {"serious", "critical"}
# Every WCAG level-A and AA rule up to WCAG 2.2 (``target-size``, 2.5.8, is only run when its
# tag is asked for), and the best practices that axe runs by default.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa", "best-practice"]
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]}
ROOT = Path(__file__).resolve().parents[2]
VNU_JAR = Path(
    os.environ.get("VNU_JAR") or ROOT / ".tools/vnu/node_modules/vnu-jar/build/dist/vnu.jar"
)

_axe = Axe()


@dataclass
class HtmlDocuments:
    """Every distinct HTML document served to the browser, by content, with its URL."""

    documents: dict[str, tuple[str, str]] = field(default_factory=dict)

    def add(self, url: str, html: str) -> None:
        digest = hashlib.blake2b(html.encode(), digest_size=12).hexdigest()
        self.documents.setdefault(digest, (url, html))

    def validate(self) -> list[str]:
        """Errors of the Nu Html Checker, one line each, naming the page's URL."""
        if not self.documents:
            return []
        java = shutil.which("java")
        if java is None or not VNU_JAR.exists():
            raise FileNotFoundError(
                f"needs Java and {VNU_JAR} (make vnu installs it with npm: vnu-jar)"
            )
        with tempfile.TemporaryDirectory() as folder:
            names = {}
            for index, (url, html) in enumerate(self.documents.values()):
                path = Path(folder) / f"page-{index:04d}.html"
                path.write_text(html, encoding="utf-8")
                names[path.name] = url
            run = subprocess.run(
                [java, "-jar", str(VNU_JAR), "--errors-only", "--format", "json", folder],
                capture_output=True,
                text=True,
                timeout=600,
            )
        messages = json.loads(run.stderr or run.stdout or '{"messages": []}')["messages"]
        return [
            f"{names.get((m.get('url') or '').rsplit('/', 1)[-1], m.get('url'))}:"
            f"{m.get('lastLine', '?')}: "
            f"{m.get('message')} [{m.get('extract', '').strip()[:120]}]"
            for m in messages
            if m.get("type") in {"error", "non-document-error"}
        ]


DOCUMENTS = HtmlDocuments()


@dataclass
class PageChecks:
    """Watches pages: axe on each load, the HTML of each document kept for vnu."""

    documents: HtmlDocuments
    violations: list[str] = field(default_factory=list)
    checked_urls: list[str] = field(default_factory=list)

    def watch(self, page) -> None:
        page.on("response", self._on_response)
        page.on("load", self._on_load)

    def _on_response(self, response) -> None:
        request = response.request
        if request.resource_type != "document" or not 200 <= response.status < 600:
            return
        if 300 <= response.status < 400:
            return
        if "text/html" not in (response.headers.get("content-type") or ""):
            return
        try:
            self.documents.add(response.url, response.text())
        except Exception:  # the page navigated on before its body could be read
            return

    def _on_load(self, page) -> None:
        self.run_axe(page)

    def run_axe(self, page) -> None:
        """axe on the page as it is now (also called by tests after a script changed it)."""
        try:
            results = _axe.run(page, options=AXE_OPTIONS)
        except PlaywrightError as error:
            # Navigated away meanwhile (the next load is checked) or closed at the test's end.
            message = str(error)
            if any(w in message for w in ("context was destroyed", "navigation", "closed")):
                return
            raise
        self.checked_urls.append(page.url)
        for violation in results.response["violations"]:
            if violation.get("impact") not in BLOCKING_IMPACTS:
                continue
            targets = "; ".join(
                " ".join(map(str, node["target"]))
                if isinstance(node["target"], list)
                else node["target"]
                for node in violation["nodes"][:5]
            )
            line = (
                f"{page.url}: {violation['id']} ({violation['impact']}): "
                f"{violation['help']} — {targets}"
            )
            if line not in self.violations:
                self.violations.append(line)
