import os

from celery import Celery
from celery.schedules import crontab

from tookets.heartbeat import HeartbeatScheduler, WorkerHeartbeat

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tookets.settings")

app = Celery("tookets")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Periodic jobs. Each has a twin management command so an operator can run it by hand.

app.conf.beat_schedule = {
    # Every night at 02:30, Paris time (CELERY_TIMEZONE): sweep the programs whose closing date
    # has passed and that are not swept yet — so a program closing on 31 December is swept in
    # the night from 31 December to 1 January, one task per regional bank
    # (manage.py sweep_campaign --year YYYY).
    "sweep-closed-programs": {
        "task": "cagnotte.tasks.sweep_closed_programs",
        "schedule": crontab(hour=2, minute=30),
    },
    # Every night at 01:30: make sure the ledger has its partition for every program's year,
    # this year and next (saving a program makes its own; a safety net;
    # manage.py ensure_ledger_partitions).
    "ensure-ledger-partitions": {
        "task": "cagnotte.tasks.ensure_ledger_year_partitions",
        "schedule": crontab(hour=1, minute=30),
    },
    # Every 15 minutes: pick up credit files the bank dropped in CREDIT_DROP_DIR
    # (manage.py import_drop_folder; one file: manage.py import_credits FILE).
    "import-dropped-credit-files": {
        "task": "cagnotte.tasks.import_dropped_credit_files",
        "schedule": 15 * 60,
    },
    # Every 30 seconds (OUTBOX_DRAIN_SECONDS): send the tasks the broker could not take when
    # they were queued (manage.py drain_outbox).
    "drain-outbox": {
        "task": "tookets.tasks.drain_outbox",
        "schedule": float(os.environ.get("OUTBOX_DRAIN_SECONDS", "30")),
    },
    # On the 5th of every month at 09:00, the recap of the month before, once that month's
    # credit file is in (manage.py send_recap_emails --period YYYY-MM).
    "send-monthly-recap-emails": {
        "task": "accounts.tasks.send_recap_emails",
        "schedule": crontab(day_of_month="5", hour="9", minute="0"),
    },
    # Every night at 04:00: delete the expired sessions, which Django leaves in the database
    # (manage.py clearsessions).
    "purge-expired-sessions": {
        "task": "accounts.tasks.purge_expired_sessions",
        "schedule": crontab(hour="4", minute="0"),
    },
    # Every day at 10:00: the year-end reminder of each program whose close is near enough
    # (its « reminder days before the close »), once per member; never after the close
    # (manage.py send_reminders --program CODE).
    "send-year-end-reminders": {
        "task": "accounts.tasks.send_due_reminders",
        "schedule": crontab(hour="10", minute="0"),
    },
}

# docker compose's healthchecks read the age of CELERY_HEARTBEAT_FILE (tookets/heartbeat.py).
app.steps["worker"].add(WorkerHeartbeat)
app.conf.beat_scheduler = HeartbeatScheduler
