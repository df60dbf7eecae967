"""An email backend for the Celery workers the tests start: one JSON line per message sent.

``TEST_EMAIL_LOG``: the file the lines are appended to. ``TEST_EMAIL_STALL_FILE``: if set and
missing, the first send writes the worker's pid there and stalls, so a test can kill the
worker in the middle of the task; later sends (the file exists) go through at once.
"""

import json
import os
import time

from django.core.mail.backends.base import BaseEmailBackend

STALL_SECONDS = 60


class RecordingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        stall = os.environ.get("TEST_EMAIL_STALL_FILE")
        if stall and not os.path.exists(stall):
            with open(stall, "w") as f:
                f.write(str(os.getpid()))
            time.sleep(STALL_SECONDS)
        with open(os.environ["TEST_EMAIL_LOG"], "a", encoding="utf-8") as log:
            for message in email_messages:
                log.write(json.dumps({"to": message.to, "subject": message.subject}) + "\n")
        return len(email_messages)
