import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tookets.settings")

app = Celery("tookets")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Periodic jobs. Each has a twin management command so an operator can run it by hand.
from celery.schedules import crontab  # noqa: E402

app.conf.beat_schedule = {
    # Every night at 02:30, Paris time (CELERY_TIMEZONE): sweep the programs whose closing date
    # has passed and that are not swept yet — so a program closing on 31 December is swept in
    # the night from 31 December to 1 January, one task per regional bank
    # (manage.py sweep_campaign --year YYYY).
    "sweep-closed-programs": {
        "task": "cagnotte.tasks.sweep_closed_programs",
        "schedule": crontab(hour=2, minute=30),
    },
    # Every 15 minutes: pick up credit files the bank dropped (manage.py import_credits FILE).
    "import-dropped-credit-files": {
        "task": "cagnotte.tasks.import_dropped_credit_files",
        "schedule": 15 * 60,
    },
}
