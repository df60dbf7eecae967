"""Rows that are written once and never changed: the audit trail and the ledger.

In Python, ``AppendOnlyModel`` refuses ``save()`` of an existing row and ``delete()``, and
``AppendOnlyQuerySet`` refuses ``update()`` and ``delete()``. On PostgreSQL a trigger on each
table refuses the same in SQL, whoever writes (migrations ``associations/0008`` and
``cagnotte/0006``), so a raw statement or another client cannot rewrite history either.

The one way through, in both places, is the anonymisation that closing an account needs: a
model lists in ``ANONYMISED`` the columns that may be blanked and the value each takes (the
author becomes NULL, a free-text note empty). ``queryset.anonymise()`` writes exactly those
values; ``update()`` is let through only when it writes nothing else (as Django's
``on_delete=SET_NULL`` does when a user row goes). The trigger accepts an UPDATE only when
every other column is unchanged and each anonymisable column is unchanged or blanked, so
nothing can be rewritten under the name of anonymisation: a blank can be written, never a
new value.
"""

from django.db import models


class ImmutableRecord(Exception):
    """An append-only row was about to be changed or deleted."""


def _anonymising(model, values: dict) -> bool:
    allowed = model.ANONYMISED
    return bool(values) and all(
        allowed.get(name, object()) == value
        or (name.endswith("_id") and name[:-3] in allowed and allowed[name[:-3]] == value)
        for name, value in values.items()
    )


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        if not _anonymising(self.model, kwargs):
            raise ImmutableRecord(f"{self.model.__name__} rows are append-only")
        return super().update(**kwargs)

    def delete(self):
        raise ImmutableRecord(f"{self.model.__name__} rows are never deleted")

    delete.queryset_only = True

    def anonymise(self) -> int:
        """Blank the anonymisable columns (account closure); returns the rows changed."""
        return super().update(**self.model.ANONYMISED)


class AppendOnlyModel(models.Model):
    # Column name -> the value it takes once anonymised.
    ANONYMISED: dict = {}

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableRecord(f"{type(self).__name__} rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableRecord(f"{type(self).__name__} rows are never deleted")
