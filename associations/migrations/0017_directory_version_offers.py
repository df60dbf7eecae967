"""The directory's version also follows the matching offers: what a card's badge reads of them
(``cagnotte.figures.offer_badge``) is then named by the version and the day, as the rest of
the card is, and the directory pages keep the badges they computed under it instead of
hashing the offers' rows on every page (``cagnotte.figures._with_kept_badges``).

* the offers' four qualifying lists: any write (statement-level on PostgreSQL);
* an offer inserted or deleted;
* an offer updated, unless the update changed only what each matched gift moves — ``spent``,
  ``gifts_matched`` and ``version`` (``cagnotte.ledger.post_entry``) — without spending the
  budget: the gift that spends it bumps, as its badge goes. On PostgreSQL every other column
  is compared (a column added later bumps too); SQLite compares the columns of today.

Offers are written by staff a few times a year and run out of budget once: the shared row is
no hot spot, and the matches that leave budget (every second under load) do not touch it.
"""

from django.db import migrations

VERSION_FUNCTION = "tookets_bump_directory_version()"
OFFERS = "cagnotte_matchingoffer"
LISTS = [
    "cagnotte_matchingoffer_domains",
    "cagnotte_matchingoffer_activities",
    "cagnotte_matchingoffer_caisses_locales",
    "cagnotte_matchingoffer_associations",
]
# What each matched gift moves (the offer's row, in the gift's transaction).
MOVED_BY_MATCHES = ("spent", "gifts_matched", "version")
BUDGET_SPENT_CHANGED = "(OLD.spent < OLD.budget) IS DISTINCT FROM (NEW.spent < NEW.budget)"
PG_OTHER_COLUMNS_CHANGED = (
    f"(to_jsonb(OLD) - ARRAY{list(MOVED_BY_MATCHES)}) "
    f"IS DISTINCT FROM (to_jsonb(NEW) - ARRAY{list(MOVED_BY_MATCHES)})"
)
# The offers' columns as of this migration but those above.
SQLITE_COLUMNS = (
    "id",
    "program_id",
    "name",
    "ratio_matched",
    "ratio_given",
    "starts_on",
    "ends_on",
    "cap_per_gift",
    "cap_per_member",
    "cap_per_association",
    "budget",
    "created_at",
    "created_by_id",
    "closed_at",
    "closed_by_id",
    "close_reason",
)
SQLITE_BUMP = (
    "INSERT INTO associations_directoryversion (id, version) "
    "VALUES (1, abs(random()) % 1000000000000000) "
    "ON CONFLICT (id) DO UPDATE SET version = version + 1;"
)


def _pg_statements():
    statements = [
        f"CREATE TRIGGER {table}_directory_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
        f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {VERSION_FUNCTION};"
        for table in LISTS
    ]
    statements += [
        f"CREATE TRIGGER {OFFERS}_directory_version AFTER INSERT OR DELETE OR TRUNCATE "
        f"ON {OFFERS} FOR EACH STATEMENT EXECUTE FUNCTION {VERSION_FUNCTION};",
        f"CREATE TRIGGER {OFFERS}_update_directory_version AFTER UPDATE ON {OFFERS} "
        f"FOR EACH ROW WHEN ({BUDGET_SPENT_CHANGED} OR {PG_OTHER_COLUMNS_CHANGED}) "
        f"EXECUTE FUNCTION {VERSION_FUNCTION};",
    ]
    return statements


def _sqlite_statements():
    statements = [
        f"CREATE TRIGGER {table}_{event}_directory_version AFTER {event.upper()} ON {table} "
        f"BEGIN {SQLITE_BUMP} END;"
        for table in [*LISTS, OFFERS]
        for event in ("insert", "delete")
    ]
    statements += [
        f"CREATE TRIGGER {table}_update_directory_version AFTER UPDATE ON {table} "
        f"BEGIN {SQLITE_BUMP} END;"
        for table in LISTS
    ]
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in SQLITE_COLUMNS)
    statements.append(
        f"CREATE TRIGGER {OFFERS}_update_directory_version AFTER UPDATE ON {OFFERS} "
        f"WHEN (OLD.spent < OLD.budget) IS NOT (NEW.spent < NEW.budget) OR {changed} "
        f"BEGIN {SQLITE_BUMP} END;"
    )
    return statements


def _trigger_names(vendor):
    if vendor == "postgresql":
        return [
            *((f"{t}_directory_version", t) for t in LISTS),
            (f"{OFFERS}_directory_version", OFFERS),
            (f"{OFFERS}_update_directory_version", OFFERS),
        ]
    return [
        (f"{t}_{e}_directory_version", t)
        for t in [*LISTS, OFFERS]
        for e in ("insert", "update", "delete")
    ]


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        statements = _pg_statements()
    elif vendor == "sqlite":
        statements = _sqlite_statements()
    else:  # pragma: no cover - Tookets runs on PostgreSQL and SQLite only
        raise RuntimeError(f"no directory-version triggers for {vendor}")
    for sql in statements:
        schema_editor.execute(sql)


def uninstall(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for name, table in _trigger_names(vendor):
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table};")
        else:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name};")


class Migration(migrations.Migration):
    dependencies = [
        ("associations", "0016_thank_you_history"),
        ("cagnotte", "0011_matching_offers"),
    ]
    operations = [migrations.RunPython(install, uninstall)]
