"""A logging filter that lets one record a minute through per logger and message.

During an outage the same error would be logged by every request (a Redis down is one
traceback per cache call): one line per interval says the same, with the count of the ones
left out.
"""

import logging
import threading
import time


class OncePerInterval(logging.Filter):
    def __init__(self, seconds: float = 60.0):
        super().__init__()
        self.seconds = seconds
        self._lock = threading.Lock()
        self._last: dict[tuple, float] = {}
        self._suppressed: dict[tuple, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.seconds:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return False
            self._last[key] = now
            suppressed = self._suppressed.pop(key, 0)
        if suppressed:
            record.msg = f"{record.msg} (and {suppressed} more like it since the last one)"
        return True
