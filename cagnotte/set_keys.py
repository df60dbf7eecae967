"""The supporters' two keys, checked once per statement instead of once per row (issue 22 §2).

``cagnotte_supporter.member_id`` must name a user and ``association_id`` an association, as
two declared foreign keys did. On PostgreSQL a declared key checks each inserted row by its
own SPI query at commit (``RI_FKey_check``: plan, executor start, one ``FOR KEY SHARE`` lock),
and the year-end sweep inserts up to one supporter per member: 500,000 rows at 1,000,000
wallets. ``perf`` on the sweep's backend put 46 % of the job's CPU in deferred key checks
(the ledger's and these; ``ExecutorStart``/``ExecInitLockRows`` alone 14 %), and with both keys dropped the job used
20.2 s of backend CPU against 24.2 s with them, its floor (the ledger entries alone) about
14 s (``docs/scale.md``, the year-end sweep). So on PostgreSQL the keys are triggers that
check a whole statement's rows as a set. Measured: 500,000 supporters in transactions of
10,000 cost 0.8 s of backend CPU for their keys this way against 3.9 s declared, and the
sweep's batch statement saved 2.5 s per 400,000 new supporters. The guarantees are the same:

* INSERT or UPDATE on ``cagnotte_supporter`` (statement level, the statement's new rows as a
  transition table): the distinct members, then the distinct associations, are locked in one
  statement each with ``FOR KEY SHARE`` (the lock a declared key's check takes: a concurrent
  DELETE of that member waits for this transaction, and one that got there first makes the
  lock skip the row). Fewer rows locked than distinct ids: one is missing (never existed, or
  deleted by a transaction that committed meanwhile, which READ COMMITTED's lock does not
  return) and the statement fails with ``foreign_key_violation`` (23503, an IntegrityError).
* DELETE on the user and association tables (statement level, the deleted rows as a
  transition table): refused (23503) while a supporter still names a deleted row. Django's
  collector deletes the supporters first (``on_delete=CASCADE`` is unchanged), as it did
  with the declared NO ACTION keys. The check runs after the rows are deleted, on a fresh
  snapshot: a supporter inserted by a transaction the DELETE waited for (its lock) is seen.
* UPDATE of a referenced id (row level, only when the id changes): refused likewise.
* TRUNCATE of the user or association table alone: refused while any supporter exists (a
  declared key refuses it too; ``TRUNCATE`` of both tables in one statement, as Django's
  test flush does, passes: the check runs after the whole statement).

Differences from the declared keys, both harmless here: the check runs at the end of each
statement instead of at commit (nothing writes a supporter before its member or association
exists), and it relies on READ COMMITTED, the isolation level every transaction here uses (a
REPEATABLE READ deleter could miss a supporter committed after its snapshot, which a declared
key's cross-check snapshot catches).

SQLite keeps its declared keys (deferred, checked at commit, same rule): it has no
statement-level triggers, its sweep walks rows in Python anyway, and row-level triggers on the
user table would refuse Django's test flush, which empties tables one ``DELETE`` at a time in
no fixed order. The model says ``db_constraint=False`` for both engines (the migration writes
the SQLite table as it was); ``tests/test_supporter_keys.py`` checks the rule on both, so a
later migration that rebuilt the SQLite table without its keys would fail there.
"""

from __future__ import annotations

from dataclasses import dataclass

SUPPORTERS = "cagnotte_supporter"
# The statement's new supporter rows, in the INSERT and UPDATE triggers.
NEW_ROWS = "new_supporters"
# The statement's deleted rows, in the referenced tables' DELETE triggers.
OLD_ROWS = "deleted_rows"


@dataclass(frozen=True)
class Key:
    column: str  # on cagnotte_supporter
    table: str  # the referenced table (its key: id)
    name: str  # short name for triggers and functions

    @property
    def trigger_prefix(self) -> str:
        return f"supporter_key_{self.name}"


def keys(*, user_table: str, association_table: str) -> tuple[Key, ...]:
    return (
        Key("member_id", user_table, "member"),
        Key("association_id", association_table, "association"),
    )


def _violation(message: str, *args: str) -> str:
    values = "".join(f", {a}" for a in args)
    quoted = "'" + message.replace("'", "''") + "'"
    return f"RAISE EXCEPTION {quoted}{values} USING ERRCODE = 'foreign_key_violation';"


def _lock_all(key: Key) -> str:
    """One statement locking the distinct ids of ``key`` in the new rows; raise when fewer."""
    refuse = _violation(
        f'insert or update on table "{SUPPORTERS}" violates key "{key.trigger_prefix}": '
        f'{key.column}=% is not present in table "{key.table}"',
        "missing",
    )
    return f"""
    SELECT array_agg(DISTINCT {key.column}) INTO ids FROM {NEW_ROWS};
    -- = ANY (array): probes of the primary key, in a plan that stays the same whatever the
    -- statement's size (a join with the transition table could turn into a scan of the table).
    SELECT count(*) INTO locked
      FROM (SELECT 1 FROM {key.table} WHERE id = ANY (ids) FOR KEY SHARE) AS kept;
    IF locked <> coalesce(cardinality(ids), 0) THEN
        SELECT n.{key.column} INTO missing FROM {NEW_ROWS} n
         WHERE NOT EXISTS (SELECT 1 FROM {key.table} t WHERE t.id = n.{key.column}) LIMIT 1;
        {refuse}
    END IF;"""


# A transaction that sets this to 'on' (``set_config(…, true)``: for itself only) vouches
# that each member of the supporters it inserts cannot disappear before it commits, because of
# another key: the year-end sweep records as supporter the member of a wallet it has just
# emptied into the ledger, and that wallet's member key (``on_delete=PROTECT``, a declared key)
# refuses the member's deletion while the wallet exists, which the ledger's own key on the
# wallet, and its append-only trigger, keep for good. The member check (one ``FOR KEY SHARE``
# lock per member: a WAL record and a dirtied page each, about 2 s of backend CPU a million
# wallets) is then left out; the association's is not. Nothing else sets it.
MEMBERS_VOUCHED_SETTING = "tookets.supporter_members_vouched"


def vouch_for_members_sql() -> str:
    """A ``SELECT``-list item vouching for this transaction's supporters' members (above)."""
    return f"set_config('{MEMBERS_VOUCHED_SETTING}', 'on', true)"


def check_function_sql(*, user_table: str, association_table: str, vouching: bool) -> str:
    """``CREATE OR REPLACE`` of the function the supporters' INSERT and UPDATE triggers run.
    ``vouching``: its member check is left out when the transaction vouches for the members
    (``MEMBERS_VOUCHED_SETTING``); without (migration 0014's function), always run."""
    member, association = keys(user_table=user_table, association_table=association_table)
    member_check = _lock_all(member)
    if vouching:
        member_check = f"""
    IF current_setting('{MEMBERS_VOUCHED_SETTING}', true) IS DISTINCT FROM 'on' THEN
    {member_check}
    END IF;"""
    return f"""
CREATE OR REPLACE FUNCTION {SUPPORTERS}_keys_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ids bigint[];
    locked bigint;
    missing bigint;
BEGIN
    -- A gift's INSERT … ON CONFLICT DO NOTHING of a supporter recorded already adds no row.
    IF NOT EXISTS (SELECT FROM {NEW_ROWS}) THEN
        RETURN NULL;
    END IF;{member_check}{_lock_all(association)}
    RETURN NULL;
END
$$"""


def postgresql_create(*, user_table: str, association_table: str) -> list[str]:
    """The statements creating the triggers (run after the declared keys are dropped), with
    the check function as migration 0014 made it (0016 lets a transaction vouch)."""
    all_keys = keys(user_table=user_table, association_table=association_table)
    statements = [
        check_function_sql(
            user_table=user_table, association_table=association_table, vouching=False
        )
    ]
    for event in ("INSERT", "UPDATE"):
        statements.append(
            f"CREATE TRIGGER supporter_keys_on_{event.lower()} AFTER {event} ON {SUPPORTERS} "
            f"REFERENCING NEW TABLE AS {NEW_ROWS} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {SUPPORTERS}_keys_check()"
        )
    for key in all_keys:
        p = key.trigger_prefix
        still_referenced = f'id=% is still referenced from table "{SUPPORTERS}"'
        refuse_delete = _violation(
            f'delete on table "{key.table}" violates key "{p}": {still_referenced}', "missing"
        )
        refuse_update = _violation(
            f'update on table "{key.table}" violates key "{p}": {still_referenced}', "OLD.id"
        )
        refuse_truncate = _violation(
            f'truncate of table "{key.table}" violates key "{p}": '
            f'table "{SUPPORTERS}" still references it'
        )
        statements += [
            f"""
CREATE FUNCTION {p}_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing bigint;
BEGIN
    SELECT s.{key.column} INTO missing FROM {SUPPORTERS} s
     WHERE s.{key.column} IN (SELECT id FROM {OLD_ROWS}) LIMIT 1;
    IF FOUND THEN
        {refuse_delete}
    END IF;
    RETURN NULL;
END
$$""",
            f"CREATE TRIGGER {p}_on_delete AFTER DELETE ON {key.table} "
            f"REFERENCING OLD TABLE AS {OLD_ROWS} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {p}_deleted()",
            f"""
CREATE FUNCTION {p}_id_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM {SUPPORTERS} WHERE {key.column} = OLD.id) THEN
        {refuse_update}
    END IF;
    RETURN NULL;
END
$$""",
            # Row level with a WHEN: an UPDATE that leaves the id alone (all of them) does not
            # even call the function.
            f"CREATE TRIGGER {p}_on_id_update AFTER UPDATE OF id ON {key.table} "
            f"FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) "
            f"EXECUTE FUNCTION {p}_id_changed()",
            f"""
CREATE FUNCTION {p}_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM {SUPPORTERS}) THEN
        {refuse_truncate}
    END IF;
    RETURN NULL;
END
$$""",
            f"CREATE TRIGGER {p}_on_truncate AFTER TRUNCATE ON {key.table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {p}_truncated()",
        ]
    return statements


def postgresql_drop(*, user_table: str, association_table: str) -> list[str]:
    """The statements dropping the triggers and their functions (the migration's reverse)."""
    statements = [
        f"DROP TRIGGER supporter_keys_on_{event} ON {SUPPORTERS}" for event in ("insert", "update")
    ]
    statements.append(f"DROP FUNCTION {SUPPORTERS}_keys_check()")
    for key in keys(user_table=user_table, association_table=association_table):
        p = key.trigger_prefix
        for event, function in (
            ("delete", "deleted"),
            ("id_update", "id_changed"),
            ("truncate", "truncated"),
        ):
            statements += [
                f"DROP TRIGGER {p}_on_{event} ON {key.table}",
                f"DROP FUNCTION {p}_{function}()",
            ]
    return statements


def declared_keys_sql(*, user_table: str, association_table: str) -> list[str]:
    """The declared keys as they were (the migration's reverse, after the triggers go)."""
    return [
        f"ALTER TABLE {SUPPORTERS} ADD CONSTRAINT {SUPPORTERS}_{key.column}_fk "
        f"FOREIGN KEY ({key.column}) REFERENCES {key.table} (id) DEFERRABLE INITIALLY DEFERRED"
        for key in keys(user_table=user_table, association_table=association_table)
    ]


# The declared keys' names, read from the catalog (Django named them with a hash).
DECLARED_KEYS_QUERY = f"""
SELECT c.conname FROM pg_constraint c
  JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
 WHERE c.conrelid = '{SUPPORTERS}'::regclass AND c.contype = 'f'
   AND a.attname IN ('member_id', 'association_id')
"""
