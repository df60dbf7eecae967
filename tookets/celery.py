import os

from celery import Celery

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
}
