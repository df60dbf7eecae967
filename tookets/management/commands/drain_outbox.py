from django.core.management.base import BaseCommand

from tookets import outbox


class Command(BaseCommand):
    help = "Publish the pending outbox messages (what beat runs every OUTBOX_DRAIN_SECONDS)."

    def handle(self, *args, **options):
        published = outbox.drain()
        summary = outbox.pending_summary()
        self.stdout.write(
            f"{published} published, {summary['pending']} pending "
            f"(oldest {summary['oldest_pending_seconds']} s)"
        )
