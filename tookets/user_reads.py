"""What a page may read with its user's own row, in the same statement.

Django reads the request's user once, lazily, with the first look at ``request.user``. A view
that needs one more small read at once can have it joined to that statement: inside
``users_with(...)``, the users the ``User`` model's manager reads carry each extra asked for
(``accounts.models.Users``). A wrapper around the view reads the user inside such a block
(``read_user_with``: ``associations.views.user_with_directory_version``,
``tookets.admin_site``), so only that read carries them.

* ``DIRECTORY_VERSION``: the directory's version (None if its row is gone). The map data's
  revalidation reads its member and its version in one statement instead of two: only where
  both come from the same database (no replica configured), since a version must come from
  the database the page reads its content from.
* ``PERMISSION_NAMES``: the user's Django permissions, ``"app_label.codename"``, their own and
  their groups' (PostgreSQL only; elsewhere the admin reads them in their own statement,
  ``permissions_sql``).
"""

import functools
from contextlib import contextmanager
from contextvars import ContextVar

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import connections
from django.db.models.expressions import RawSQL

DIRECTORY_VERSION = "directory_version"
PERMISSION_NAMES = "permission_names"

_extras: ContextVar[frozenset] = ContextVar("user_extras", default=frozenset())


@contextmanager
def users_with(*extras: str):
    """The users read inside carry each of ``extras`` (the module says which)."""
    token = _extras.set(_extras.get() | frozenset(extras))
    try:
        yield
    finally:
        _extras.reset(token)


def read_user_with(request, *extras: str) -> None:
    """Reads the request's user now (Django reads it lazily, at its first use), carrying each
    of ``extras``. Called by a view's wrapper before anything else looks at the user."""
    with users_with(*extras):
        request.user.is_authenticated  # noqa: B018 (evaluates the lazy object)


def with_extras(queryset):
    """``queryset`` (a manager's fresh one, of users) with what the ``users_with`` block
    around it asks for."""
    extras = _extras.get()
    if not extras:
        return queryset
    if queryset._hints:  # a related manager's: annotated here, not kept
        return _annotated(queryset, extras)
    # Annotating took the ORM longer than the statement's round trip it saves: done once per
    # model, database and extras, each user's read a copy of it.
    vendor = connections[queryset.db].vendor
    return _kept(type(queryset), queryset.model, queryset._db, extras, vendor)._chain()


@functools.lru_cache(maxsize=16)
def _kept(queryset_class, model, db, extras: frozenset, vendor: str):
    return _annotated(queryset_class(model=model, using=db), extras)


def _annotated(queryset, extras: frozenset):
    if DIRECTORY_VERSION in extras:
        # By name, not by import: the kernel imports no app.
        table = apps.get_model("associations", "DirectoryVersion")._meta.db_table
        version = RawSQL(f"SELECT version FROM {table} WHERE id = 1", ())
        queryset = queryset.annotate(**{DIRECTORY_VERSION: version})
    if PERMISSION_NAMES in extras and connections[queryset.db].vendor == "postgresql":
        column = f"{queryset.model._meta.db_table}.id"
        names = RawSQL(f"ARRAY({permissions_sql(column)})", ())
        queryset = queryset.annotate(**{PERMISSION_NAMES: names})
    return queryset


def permissions_sql(user_id: str) -> str:
    """``app_label.codename`` of each permission of the user whose id is the SQL expression
    ``user_id`` (a placeholder, or the user table's column in a correlated subquery), their
    own and their groups' (Django's ``ModelBackend`` reads them in two statements)."""
    user_model = get_user_model()
    user_permissions = user_model.user_permissions.through._meta.db_table
    user_groups = user_model.groups.through._meta.db_table
    return (
        "SELECT ct.app_label || '.' || p.codename FROM auth_permission p"
        " JOIN django_content_type ct ON ct.id = p.content_type_id"
        f" WHERE p.id IN (SELECT permission_id FROM {user_permissions} WHERE user_id = {user_id}"
        " UNION SELECT gp.permission_id FROM auth_group_permissions gp"
        f" JOIN {user_groups} ug ON ug.group_id = gp.group_id WHERE ug.user_id = {user_id})"
    )
