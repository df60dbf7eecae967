"""Walk every URL pattern of the site and the admin with hostile values, as each kind of user.

For each user of the cast (anonymous, a member, a member of another bank, an association's
account, staff of a bank, a superuser) and each URL pattern (read from the resolver, its path
parameters filled with real objects' ids and with hostile values), the walker:

1. GETs the page; from its HTML it learns the query parameters (GET forms, ``?…`` links: the
   admin's list filters, pagination, date hierarchy) and the POST forms' fields;
2. GETs it again with hostile values in those query parameters (and in the ones our views
   read: ``next``, ``page``, ``programme``, ``caisse``, ``ids``…);
3. POSTs each form with one field at a time made hostile (the others keep the values the page
   gave them, so the hostile value reaches the code behind the first checks), and with every
   field hostile at once.

Every answer must be below 500 and must not reflect the script tag unescaped. Values are
rotated over fields so every hostile value reaches every kind of field without sending each
value to each field (the walk must stay well under a minute in CI).
"""

import html.parser
import itertools
import logging
import sys
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.contrib import admin
from django.core.signals import got_request_exception
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse

from associations.admin.decisions import DECISIONS
from associations.models import Association
from associations.registration import STEPS
from tests import factories as f
from tests.cagnotte.helpers import credit

pytestmark = pytest.mark.django_db

SCRIPT = "<script>tk_hostile()</script>"
ONE_MB = "9" * (1024 * 1024)
HOSTILE = [
    "",
    SCRIPT,
    "²²²²²²",
    "١٢٣٤٥٦",
    "１２３４５６",
    "' OR '1'='1",
    '"; DROP TABLE accounts_user; --',
    "\x00",
    "-1",
    "99999999999999999999999",
    "abc",
    "admin:index",
    "//evil.example/",
    "2026-02-31",
    ONE_MB,
]
# The query parameters our views read, tried on every page besides those the HTML shows.
READ_PARAMS = ["next", "page", "programme", "caisse", "ids", "vue", "q", "activite", "e"]
PATH_HOSTILE_INT = ["99999999999999999999"]
PATH_HOSTILE_STR = [SCRIPT, "²"]
# Visited last: they log the user out or delete the objects the other pages show.
LAST = ("logout", "_delete")
NO_POST = {"admin:logout", "accounts:logout"}
# Fields (and query parameters) attacked one at a time per form (page); every field still
# gets hostile values in the requests where all of them are hostile at once.
# Our own pages: (fields, parameters); the admin's, many pages made by the same Django code.
MAX_ALONE = {True: (5, 4), False: (3, 3)}


# --- The cast and their objects -------------------------------------------------------------


@pytest.fixture
def world(pg_caisse, other_caisse, program, association, member, other_member, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    credit(member, program, 500)
    credit(other_member, f.ProgramFactory(caisse_regionale=other_caisse), 300)
    account = f.UserFactory(kind="association", caisse_regionale=pg_caisse)
    f.AssociationFactory(caisse_regionale=pg_caisse, user=account, status=Association.Status.DRAFT)
    f.AssociationFactory(caisse_regionale=other_caisse, status=Association.Status.SUBMITTED)
    users = {
        "anonymous": None,
        "member": member,
        "other_member": other_member,
        "association": account,
        "staff": f.StaffFactory(caisse_regionale=pg_caisse),
        "superuser": f.StaffFactory(caisse_regionale=None, is_superuser=True),
    }
    # An accepted project with a photo: its pages, its photo and its decisions are walked too.
    project = f.ProjectFactory(association=association, program=program)
    return {"users": users, "association": association, "project": project}


# --- The URL patterns -----------------------------------------------------------------------


def _patterns(resolvers, namespace=""):
    for entry in resolvers:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _patterns(entry.url_patterns, inner)
        elif isinstance(entry, URLPattern):
            yield (f"{namespace}{entry.name}" if entry.name else None), entry


def _admin_models():
    return {f"admin:{m._meta.app_label}_{m._meta.model_name}_": m for m in admin.site._registry}


def _kwargs_candidates(name, params, world):
    """Real values first, then hostile ones, for each path parameter of the pattern."""
    model = next((m for prefix, m in _admin_models().items() if name.startswith(prefix)), None)
    real = {
        "pk": [world["association"].pk],
        "association_id": [world["association"].pk],
        "project_id": [world["project"].pk],
        "slug": [s.slug for s in STEPS],
        "kind": list(DECISIONS),
        "app_label": ["associations", "cagnotte"],
        "content_type_id": [_content_type_id()],
        "object_id": [model.objects.order_by("pk").values_list("pk", flat=True).first()]
        if model is not None
        else [world["association"].pk],
        "url": ["nulle-part/"],
    }
    reals = [[str(v) for v in real.get(p, ["1"]) if v is not None] for p in params]
    combos = [dict(zip(params, vs, strict=True)) for vs in itertools.product(*reals)]
    base = combos[0] if combos else {}
    for param in params:
        hostile = PATH_HOSTILE_INT if param.endswith(("id", "pk")) else PATH_HOSTILE_STR
        combos.extend({**base, param: value} for value in hostile)
    return combos


def _content_type_id():
    from django.contrib.contenttypes.models import ContentType

    return ContentType.objects.get_for_model(Association).pk


def site_urls(world):
    """Every URL to visit: (pattern name, path); fails if a named pattern cannot be reached."""
    urls, unreachable = [], []
    for name, pattern in _patterns(get_resolver().url_patterns):
        params = list(pattern.pattern.regex.groupindex)
        if name is None:
            # The admin's final catch-all (its unnamed ``(?P<url>.*)$``).
            urls.append(("admin:catch_all", "/admin/nulle-part/"))
            continue
        reached = set()
        for kwargs in _kwargs_candidates(name, params, world):
            try:
                path = reverse(name, kwargs=kwargs)
            except NoReverseMatch:
                continue
            if path not in reached:
                reached.add(path)
                urls.append((name, path))
        if not reached:
            unreachable.append(name)
    assert not unreachable, f"patterns the walk could not reach: {unreachable}"
    urls.sort(key=lambda item: any(marker in item[0] for marker in LAST))
    return urls


# --- What a page offers ---------------------------------------------------------------------


class _Forms(html.parser.HTMLParser):
    """The page's forms (method, action, fields with their values) and its ``?…`` links."""

    def __init__(self):
        super().__init__()
        self.forms, self.link_params, self._form, self._select = [], set(), None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and (a.get("href") or "").startswith("?"):
            self.link_params.update(k for k, _v in parse_qsl(a["href"][1:]))
            return
        if tag == "form":
            self._form = {
                "method": (a.get("method") or "get").lower(),
                "action": a.get("action") or "",
                "fields": {},
                "kinds": {},
            }
            self.forms.append(self._form)
            return
        if self._form is None:
            return
        fields = self._form["fields"]
        if tag == "option" and self._select:
            # The selected option, else the first real one (not the empty « choose » label),
            # so that the other fields' defaults get a hostile value past the first checks.
            if "selected" in a or (fields[self._select] in (None, "") and a.get("value")):
                fields[self._select] = a.get("value") or ""
            return
        name = a.get("name")
        if not name or tag not in ("input", "select", "textarea"):
            return
        kind = (a.get("type") or "text").lower() if tag == "input" else tag
        if kind in ("submit", "button", "file", "image", "reset"):
            return
        self._form["kinds"].setdefault(name, kind)
        if kind in ("checkbox", "radio") and "checked" not in a:
            fields.setdefault(name, None)
        elif tag == "select":
            self._select = name
            fields[name] = None
        else:
            fields[name] = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def _label(value) -> str:
    return "<1 MB>" if value is ONE_MB else repr(value[:30])


def _sample(fields, kinds, n):
    """Up to n fields, one of each kind (text, hidden, select, checkbox…) in turn."""
    by_kind = {}
    for field in fields:
        by_kind.setdefault(kinds.get(field, "text"), []).append(field)
    picked = []
    for round_ in itertools.zip_longest(*by_kind.values()):
        picked.extend(field for field in round_ if field is not None)
    return picked[:n]


def _read(response) -> _Forms:
    parser = _Forms()
    if "html" in response.get("Content-Type", "") and not response.streaming:
        parser.feed(response.content.decode(errors="replace"))
    return parser


# --- The walk -------------------------------------------------------------------------------


class Walker:
    def __init__(self, user):
        self.client = Client(raise_request_exception=False)
        self.user = user
        self.failures = []
        self.requests = 0
        self._rotation = itertools.cycle(range(len(HOSTILE)))
        self._exception = None
        if user is not None:
            self.client.force_login(user)

    def _on_exception(self, sender, request=None, **kwargs):
        self._exception = repr(sys.exc_info()[1])[:300]

    def send(self, method, path, data, *, what):
        self._exception = None
        self.requests += 1
        got_request_exception.connect(self._on_exception)
        try:
            response = getattr(self.client, method)(path, data)
        finally:
            got_request_exception.disconnect(self._on_exception)
        body = b"" if response.streaming else response.content
        if response.status_code >= 500:
            self.failures.append((response.status_code, method, path, what, self._exception))
        elif SCRIPT.encode() in body:
            self.failures.append(("reflected", method, path, what, None))
        if self.user is not None and "_auth_user_id" not in self.client.session:
            self.client.force_login(self.user)  # a page logged us out: carry on as the user
        return response

    def hostile_values(self, n):
        return [HOSTILE[next(self._rotation)] for _ in range(n)]

    def at_once_values(self):
        # Not the megabyte: times every field of an admin form, it is tens of megabytes.
        values = list(HOSTILE) if self.every_value else self.hostile_values(2)
        return [v for v in values if v is not ONE_MB]

    def alone_values(self, first: bool):
        # One of the rotation; on our own pages the first field of each form (and the first
        # parameter of each page) also gets the megabyte.
        return self.hostile_values(1) + ([ONE_MB] if self.every_value and first else [])

    def visit(self, name, path, *, explore: bool):
        page = self.send("get", path, {}, what="page")
        if not explore or page.status_code != 200:
            return  # a redirect, a 403 or a 404 has no fields of its own to attack
        # Our own pages get every hostile value in every field; the admin's (Django's code,
        # many pages alike) a rotation of them.
        self.every_value = not name.startswith("admin:")
        offered = _read(page)
        self._query(path, offered)
        if name not in NO_POST:
            seen = set()  # a directory page has one favourite form per card: attack one
            for form in offered.forms:
                key = (form["action"], tuple(sorted(form["fields"])))
                if form["method"] == "post" and key not in seen:
                    seen.add(key)
                    self._post(path, form)

    def _query(self, path, offered):
        shown = set(offered.link_params)
        for form in offered.forms:
            if form["method"] == "get":
                shown |= set(form["fields"])
        # Every parameter at once (those shown and those our views read), two values…
        everything = sorted(shown | set(READ_PARAMS))
        for value in self.at_once_values():
            self.send("get", path, {p: value for p in everything}, what=f"all={_label(value)}")
        # …and each parameter the page shows alone (the others absent).
        for i, param in enumerate(sorted(shown)[: MAX_ALONE[self.every_value][1]]):
            for value in self.alone_values(first=i == 0):
                self.send("get", path, {param: value}, what=f"{param}={_label(value)}")

    def _post(self, page_path, form):
        action = form["action"] or page_path
        if urlsplit(action).netloc:
            return
        defaults = {k: v for k, v in form["fields"].items() if v is not None}
        fields = [k for k in form["fields"] if k != "csrfmiddlewaretoken"]
        for value in self.at_once_values():
            hostile = {**defaults, **{k: value for k in fields}}
            self.send("post", action, hostile, what=f"all={_label(value)}")
        for i, field in enumerate(_sample(fields, form["kinds"], MAX_ALONE[self.every_value][0])):
            for value in self.alone_values(first=i == 0):
                self.send(
                    "post", action, {**defaults, field: value}, what=f"{field}={_label(value)}"
                )
        # A field sent twice: a list where one value is expected.
        if fields:
            self.send("post", action, {**defaults, fields[0]: ["1", "2"]}, what="twice")


@pytest.mark.parametrize(
    "who", ["anonymous", "member", "other_member", "association", "staff", "superuser"]
)
def test_every_url_survives_hostile_input(world, who, request):
    # Every 4xx logs a warning with its traceback: formatting thousands of them is most of
    # the walk's time. Server errors are caught through got_request_exception instead.
    logging.disable(logging.CRITICAL)
    request.addfinalizer(lambda: logging.disable(logging.NOTSET))
    walker = Walker(world["users"][who])
    urls = site_urls(world)
    explored = set()
    for name, path in urls:
        # The fields of a pattern are attacked once, on its first (real) path; its other
        # paths carry hostile path parameters.
        walker.visit(name, path, explore=name not in explored)
        explored.add(name)
    print(f"{who}: {len(urls)} paths, {len(explored)} patterns, {walker.requests} requests")
    assert len(explored) > 60 and walker.requests > len(urls)  # the walk did walk
    report = "\n".join(
        f"{status} {m.upper()} {p} [{w}] {e or ''}" for status, m, p, w, e in walker.failures[:40]
    )
    assert not walker.failures, f"{len(walker.failures)} failures as {who}:\n{report}"
