"""The ledger partitioned by campaign year (issue 22 §1).

Every entry gets ``year``, the campaign year of its program (its wallet's; a matching entry's
offer's, which is its gift's). On PostgreSQL ``cagnotte_ledgerentry`` becomes a table
partitioned by LIST (year), one partition per year (``cagnotte_ledgerentry_y2026``); SQLite
keeps one plain table with the same Django model.

The conversion on PostgreSQL (``partition``), in the migration's one transaction:

1. ACCESS EXCLUSIVE lock on the ledger (nothing reads or writes it until the commit: the
   write downtime is the whole conversion, about the copy's time; see docs/scale.md), and on
   ``cagnotte_projectgift`` (its key is re-made);
2. the foreign keys that point at entries (``matches``, ``ProjectGift.entry``) are dropped:
   a partitioned table has no unique index on ``id`` alone to point at;
3. a new partitioned table ``LIKE`` the old one (columns, ``"C"`` collation, defaults, every
   CHECK, those of migration 0011 included) plus ``year``; a partition for each program's
   year, this year and next; the rows copied with their year; the id sequence moved (its next
   value continues the old one's);
4. the new table takes the old one's name (the old one and its indexes renamed aside);
   then, built once over the copied rows: the primary key (id, year),
   ``entry_reference_unique`` on (reference, year), ``entry_one_match_per_gift`` on
   (matches_id, year), the model's other indexes (partitioned indexes, re-made from the old
   definitions), the foreign keys from the ledger (wallet, association, offer, author), the
   composite keys (matches_id, year) → (id, year) and ``cagnotte_projectgift`` (entry_id,
   entry_year) → (id, year), and the append-only trigger of migration 0005 (a row trigger on
   the parent is cloned onto every partition, present and future, so UPDATE and DELETE are
   refused on a partition named directly too);
5. last, the old table dropped. Dropping it drops its foreign keys' triggers on the tables
   it points at (wallets, users, associations, offers), which takes their ACCESS EXCLUSIVE
   lock until the commit: done last, that lock lasts a moment. Before, adding the foreign
   keys takes SHARE ROW EXCLUSIVE on those tables while it checks the rows (they can be
   read, not written: no gift, no login's ``last_login``, for that part).

Ids stay unique without a unique index on ``id`` alone: one sequence gives them all, and the
primary key (id, year) holds within each year.

There was no TRUNCATE trigger on the ledger before (the test suite's flush truncates every
table), and there is none now; TRUNCATE and dropping a partition stay DDL for the owner.

``unpartition`` (backwards) does the reverse, back to a plain table with a plain primary key.
"""

import datetime

from django.db import migrations, models
from django.db.migrations.operations.base import Operation

LEDGER = "cagnotte_ledgerentry"
NEW = "cagnotte_ledgerentry_new"
PLAIN = "cagnotte_ledgerentry_plain"
OLD = "cagnotte_ledgerentry_old"
# Made again by hand, with the partition key: not copied from the old table.
KEYS = ("cagnotte_ledgerentry_pkey", "entry_reference_unique", "entry_one_match_per_gift")

YEAR_OF_ENTRY = """
    COALESCE(
        (SELECT p.year FROM cagnotte_wallet w JOIN cagnotte_program p ON p.id = w.program_id
         WHERE w.id = e.wallet_id),
        (SELECT p.year FROM cagnotte_matchingoffer o JOIN cagnotte_program p
             ON p.id = o.program_id
         WHERE o.id = e.offer_id))
"""


class NotOnPostgres(Operation):
    """``operation`` on the model state everywhere, on the database except PostgreSQL (whose
    table ``partition`` rebuilds)."""

    reduces_to_sql = False

    def __init__(self, operation):
        self.operation = operation

    @property
    def reversible(self):
        return self.operation.reversible

    def deconstruct(self):
        return (self.__class__.__name__, [self.operation], {})

    def state_forwards(self, app_label, state):
        self.operation.state_forwards(app_label, state)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            self.operation.database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            self.operation.database_backwards(app_label, schema_editor, from_state, to_state)

    def describe(self):
        return f"{self.operation.describe()} (not on PostgreSQL)"


def fill_years_sqlite(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        return
    schema_editor.execute(f"UPDATE {LEDGER} AS e SET year = {YEAR_OF_ENTRY}")


def fill_project_gift_years(apps, schema_editor):
    schema_editor.execute(
        "UPDATE cagnotte_projectgift SET entry_year = ("
        "SELECT p.year FROM cagnotte_ledgerentry e "
        "JOIN cagnotte_wallet w ON w.id = e.wallet_id "
        "JOIN cagnotte_program p ON p.id = w.program_id "
        "WHERE e.id = cagnotte_projectgift.entry_id)"
    )


def _fetch(cursor, sql, params=()):
    cursor.execute(sql, params)
    return cursor.fetchall()


def _drop_keys_to_entries(cursor):
    for table in ("cagnotte_projectgift", LEDGER):
        for (name,) in _fetch(
            cursor,
            "SELECT conname FROM pg_constraint WHERE contype = 'f' "
            "AND conrelid = %s::regclass AND confrelid = %s::regclass",
            [table, LEDGER],
        ):
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')


def _remember(cursor, table):
    """The old table's columns, secondary indexes and foreign keys (to re-make them)."""
    columns = [
        name
        for (name,) in _fetch(
            cursor,
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
            "AND NOT attisdropped AND attname <> 'year' ORDER BY attnum",
            [table],
        )
    ]
    indexes = [
        definition
        for (definition,) in _fetch(
            cursor,
            "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = %s::regclass AND c.relname <> ALL(%s) ORDER BY c.relname",
            [table, list(KEYS)],
        )
    ]
    foreign_keys = _fetch(
        cursor,
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contype = 'f' AND conrelid = %s::regclass ORDER BY conname",
        [table],
    )
    return columns, indexes, foreign_keys


def _move_sequence(cursor, old_table, new_table):
    """A sequence owned by ``new_table.id`` that continues the old table's one."""
    (old_sequence,) = _fetch(cursor, "SELECT pg_get_serial_sequence(%s, 'id')", [old_table])[0]
    cursor.execute(f"CREATE SEQUENCE {new_table}_id_seq AS bigint OWNED BY {new_table}.id")
    cursor.execute(
        f"SELECT setval('{new_table}_id_seq', last_value, is_called) FROM {old_sequence}"
    )
    cursor.execute(
        f"ALTER TABLE {new_table} ALTER COLUMN id SET DEFAULT nextval('{new_table}_id_seq')"
    )


def _remake(cursor, indexes, foreign_keys):
    for definition in indexes:
        cursor.execute(definition)
    for name, definition in foreign_keys:
        cursor.execute(f'ALTER TABLE {LEDGER} ADD CONSTRAINT "{name}" {definition}')
    cursor.execute(
        f"CREATE TRIGGER ledgerentry_append_only BEFORE UPDATE OR DELETE ON {LEDGER} "
        "FOR EACH ROW EXECUTE FUNCTION cagnotte_ledgerentry_append_only()"
    )
    cursor.execute(f"ANALYZE {LEDGER}")


def _set_aside(cursor, table, aside):
    """Rename ``table`` and its indexes out of the way: the new table takes their names, and
    the old one is dropped only at the end (dropping it drops its foreign keys' triggers on
    the tables it points at, which takes their ACCESS EXCLUSIVE lock until the commit)."""
    for (name,) in _fetch(
        cursor,
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = %s::regclass",
        [table],
    ):
        cursor.execute(f'ALTER INDEX "{name}" RENAME TO "{name[:55]}_aside"')
    cursor.execute(f"ALTER TABLE {table} RENAME TO {aside}")


def _finish(cursor, new, aside):
    cursor.execute(f"DROP TABLE {aside}")
    cursor.execute(f"ALTER SEQUENCE {new}_id_seq RENAME TO {LEDGER}_id_seq")


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {LEDGER}, cagnotte_projectgift IN ACCESS EXCLUSIVE MODE")
        _drop_keys_to_entries(cursor)
        columns, indexes, foreign_keys = _remember(cursor, LEDGER)
        _set_aside(cursor, LEDGER, OLD)
        cursor.execute(
            f"CREATE TABLE {NEW} (LIKE {OLD} INCLUDING DEFAULTS INCLUDING CONSTRAINTS, "
            "year smallint NOT NULL CONSTRAINT cagnotte_ledgerentry_year_check "
            "CHECK (year >= 0)) PARTITION BY LIST (year)"
        )
        this_year = datetime.date.today().year
        years = {this_year, this_year + 1} | {
            year for (year,) in _fetch(cursor, "SELECT DISTINCT year FROM cagnotte_program")
        }
        for year in sorted(years):
            cursor.execute(
                f"CREATE TABLE {LEDGER}_y{int(year)} PARTITION OF {NEW} "
                f"FOR VALUES IN ({int(year)})"
            )
        listed = ", ".join(columns)
        cursor.execute(
            f"INSERT INTO {NEW} ({listed}, year) "
            f"SELECT {', '.join('e.' + c for c in columns)}, {YEAR_OF_ENTRY} FROM {OLD} e"
        )
        _move_sequence(cursor, OLD, NEW)
        cursor.execute(f"ALTER TABLE {NEW} RENAME TO {LEDGER}")
        cursor.execute(
            f"ALTER TABLE {LEDGER} ADD CONSTRAINT cagnotte_ledgerentry_pkey "
            "PRIMARY KEY (id, year)"
        )
        cursor.execute(
            f"ALTER TABLE {LEDGER} ADD CONSTRAINT entry_reference_unique UNIQUE (reference, year)"
        )
        cursor.execute(
            f"CREATE UNIQUE INDEX entry_one_match_per_gift ON {LEDGER} (matches_id, year) "
            "WHERE matches_id IS NOT NULL"
        )
        _remake(cursor, indexes, foreign_keys)
        cursor.execute(
            f"ALTER TABLE {LEDGER} ADD CONSTRAINT entry_matches_gift_fk "
            f"FOREIGN KEY (matches_id, year) REFERENCES {LEDGER} (id, year) "
            "DEFERRABLE INITIALLY DEFERRED"
        )
        cursor.execute(
            "ALTER TABLE cagnotte_projectgift ADD CONSTRAINT project_gift_entry_fk "
            f"FOREIGN KEY (entry_id, entry_year) REFERENCES {LEDGER} (id, year) "
            "DEFERRABLE INITIALLY DEFERRED"
        )
        _finish(cursor, NEW, OLD)


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {LEDGER}, cagnotte_projectgift IN ACCESS EXCLUSIVE MODE")
        _drop_keys_to_entries(cursor)
        columns, indexes, foreign_keys = _remember(cursor, LEDGER)
        _set_aside(cursor, LEDGER, OLD)
        cursor.execute(f"CREATE TABLE {PLAIN} (LIKE {OLD} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        cursor.execute(f"ALTER TABLE {PLAIN} DROP COLUMN year")
        listed = ", ".join(columns)
        cursor.execute(f"INSERT INTO {PLAIN} ({listed}) SELECT {listed} FROM {OLD}")
        _move_sequence(cursor, OLD, PLAIN)
        cursor.execute(f"ALTER TABLE {PLAIN} RENAME TO {LEDGER}")
        cursor.execute(
            f"ALTER TABLE {LEDGER} ADD CONSTRAINT cagnotte_ledgerentry_pkey PRIMARY KEY (id)"
        )
        cursor.execute(
            f"ALTER TABLE {LEDGER} ADD CONSTRAINT entry_reference_unique UNIQUE (reference)"
        )
        cursor.execute(
            f"CREATE UNIQUE INDEX entry_one_match_per_gift ON {LEDGER} (matches_id) "
            "WHERE matches_id IS NOT NULL"
        )
        _remake(cursor, indexes, foreign_keys)
        for table, column in ((LEDGER, "matches_id"), ("cagnotte_projectgift", "entry_id")):
            cursor.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT {table}_{column}_fk_ledgerentry "
                f"FOREIGN KEY ({column}) REFERENCES {LEDGER} (id) DEFERRABLE INITIALLY DEFERRED"
            )
        _finish(cursor, PLAIN, OLD)


# Every entry's year is its program's: the year of a program that has wallets or matching
# offers is fixed (updating it would leave its entries in another year's partition).
YEAR_GUARD = """
CREATE FUNCTION cagnotte_program_year_fixed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT FROM cagnotte_wallet WHERE program_id = OLD.id)
       OR EXISTS (SELECT FROM cagnotte_matchingoffer WHERE program_id = OLD.id) THEN
        RAISE EXCEPTION 'cagnotte_program: the year of a program with wallets is fixed '
            '(the ledger is partitioned by it)' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER program_year_fixed BEFORE UPDATE OF year ON cagnotte_program
    FOR EACH ROW WHEN (NEW.year IS DISTINCT FROM OLD.year)
    EXECUTE FUNCTION cagnotte_program_year_fixed();
"""
YEAR_GUARD_DROP = """
DROP TRIGGER program_year_fixed ON cagnotte_program;
DROP FUNCTION cagnotte_program_year_fixed();
"""


def year_guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(YEAR_GUARD)


def drop_year_guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(YEAR_GUARD_DROP)


class Migration(migrations.Migration):
    dependencies = [("cagnotte", "0011_matching_offers")]

    operations = [
        # The model state on every database; the database itself on SQLite only.
        NotOnPostgres(
            migrations.AddField(
                model_name="ledgerentry",
                name="year",
                field=models.PositiveSmallIntegerField(
                    default=0, verbose_name="année de campagne"
                ),
                preserve_default=False,
            )
        ),
        migrations.RunPython(fill_years_sqlite, migrations.RunPython.noop),
        NotOnPostgres(
            migrations.RemoveConstraint(model_name="ledgerentry", name="entry_reference_unique")
        ),
        NotOnPostgres(
            migrations.AddConstraint(
                model_name="ledgerentry",
                constraint=models.UniqueConstraint(
                    fields=("reference", "year"), name="entry_reference_unique"
                ),
            )
        ),
        NotOnPostgres(
            migrations.RemoveConstraint(model_name="ledgerentry", name="entry_one_match_per_gift")
        ),
        NotOnPostgres(
            migrations.AddConstraint(
                model_name="ledgerentry",
                constraint=models.UniqueConstraint(
                    condition=models.Q(("matches__isnull", False)),
                    fields=("matches", "year"),
                    name="entry_one_match_per_gift",
                ),
            )
        ),
        # Every database: the project gift's year of its entry.
        migrations.AddField(
            model_name="projectgift",
            name="entry_year",
            field=models.PositiveSmallIntegerField(default=0, verbose_name="année du mouvement"),
            preserve_default=False,
        ),
        migrations.RunPython(fill_project_gift_years, migrations.RunPython.noop),
        # The keys to entries: state only (SQLite keeps its plain keys; PostgreSQL's composite
        # ones are made by ``partition``).
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="ledgerentry",
                    name="matches",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=models.deletion.PROTECT,
                        related_name="matched_by",
                        to="cagnotte.ledgerentry",
                        verbose_name="don abondé",
                    ),
                ),
                migrations.AlterField(
                    model_name="projectgift",
                    name="entry",
                    field=models.OneToOneField(
                        db_constraint=False,
                        on_delete=models.deletion.PROTECT,
                        primary_key=True,
                        related_name="project_gift",
                        serialize=False,
                        to="cagnotte.ledgerentry",
                        verbose_name="mouvement",
                    ),
                ),
            ]
        ),
        migrations.RunPython(partition, unpartition),
        migrations.RunPython(year_guard, drop_year_guard),
    ]
