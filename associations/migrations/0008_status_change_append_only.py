"""PostgreSQL refuses to change or delete a status change (see tookets/append_only.py).

One narrow exception, for closing an account: ``actor_id`` may be set to NULL, alone. Any
other UPDATE, and every DELETE, raises ``restrict_violation`` (an IntegrityError in Django).
TRUNCATE (the test suite's flush) is not a row operation and stays possible for the owner.
"""

from django.db import migrations

CREATE = """
CREATE FUNCTION associations_statuschange_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'associations_statuschange is append-only: DELETE refused'
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF (to_jsonb(NEW) - 'actor_id') IS DISTINCT FROM (to_jsonb(OLD) - 'actor_id')
       OR (NEW.actor_id IS DISTINCT FROM OLD.actor_id AND NEW.actor_id IS NOT NULL) THEN
        RAISE EXCEPTION 'associations_statuschange is append-only: only actor_id may become NULL'
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER statuschange_append_only
    BEFORE UPDATE OR DELETE ON associations_statuschange
    FOR EACH ROW EXECUTE FUNCTION associations_statuschange_append_only();
"""

DROP = """
DROP TRIGGER statuschange_append_only ON associations_statuschange;
DROP FUNCTION associations_statuschange_append_only();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("associations", "0007_statuschange_event")]

    operations = [migrations.RunPython(create, drop)]
