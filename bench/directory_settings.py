"""Settings for bench/directory_bench.py: production-like (DEBUG off), plus a trivial view.

Production settings and URLs stay untouched; only this module points ROOT_URLCONF at
bench/directory_urls.py, which adds the baseline view in front of the real URLs.
"""

from tookets.settings import *  # noqa: F403

ROOT_URLCONF = "bench.directory_urls"
# No collectstatic for a benchmark: plain storage instead of the manifest.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
