"""PostgreSQL refuses to change or delete a ledger entry (see tookets/append_only.py).

One narrow exception, for closing an account: ``created_by_id`` may be set to NULL and
``memo`` to '' (each alone or both). Any other UPDATE, and every DELETE, raises
``restrict_violation`` (an IntegrityError in Django). INSERT is not touched: the credit
import pays nothing for this trigger.
"""

from django.db import migrations

CREATE = """
CREATE FUNCTION cagnotte_ledgerentry_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'cagnotte_ledgerentry is append-only: DELETE refused'
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF (to_jsonb(NEW) - 'created_by_id' - 'memo')
            IS DISTINCT FROM (to_jsonb(OLD) - 'created_by_id' - 'memo')
       OR (NEW.created_by_id IS DISTINCT FROM OLD.created_by_id
           AND NEW.created_by_id IS NOT NULL)
       OR (NEW.memo IS DISTINCT FROM OLD.memo AND NEW.memo <> '') THEN
        RAISE EXCEPTION 'cagnotte_ledgerentry is append-only: only created_by_id and memo may be blanked'
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER ledgerentry_append_only
    BEFORE UPDATE OR DELETE ON cagnotte_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION cagnotte_ledgerentry_append_only();
"""

DROP = """
DROP TRIGGER ledgerentry_append_only ON cagnotte_ledgerentry;
DROP FUNCTION cagnotte_ledgerentry_append_only();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("cagnotte", "0004_import_fast_path")]

    operations = [migrations.RunPython(create, drop)]
