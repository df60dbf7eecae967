import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tookets.settings")

app = Celery("tookets")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Periodic jobs. Each has a twin management command so an operator can run it by hand.
app.conf.beat_schedule = {
    # Every 15 minutes: pick up credit files the bank dropped (manage.py import_credits FILE).
    "import-dropped-credit-files": {
        "task": "cagnotte.tasks.import_dropped_credit_files",
        "schedule": 15 * 60,
    },
    # On the 5th of every month at 09:00, the recap of the month before, once that month's
    # credit file is in (manage.py send_recap_emails --period YYYY-MM).
    "send-monthly-recap-emails": {
        "task": "accounts.tasks.send_recap_emails",
        "schedule": crontab(day_of_month="5", hour="9", minute="0"),
    },
    # Every day at 10:00: the year-end reminder of each program whose close is near enough
    # (its « reminder days before the close »), once per member; never after the close
    # (manage.py send_reminders --program CODE).
    "send-year-end-reminders": {
        "task": "accounts.tasks.send_due_reminders",
        "schedule": crontab(hour="10", minute="0"),
    },
}
