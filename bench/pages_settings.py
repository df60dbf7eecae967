"""Settings for bench/pages_bench.py and bench/load.py: production-like, plus two baselines.

Production settings and URLs stay untouched: only this module points ROOT_URLCONF at
bench/pages_urls.py, which adds the baseline views (a logged-in text answer and a logged-in
page rendering ``base.html`` with no data) in front of the real URLs. Nothing in
``tookets/urls.py`` exposes them.
"""

from bench.directory_settings import *  # noqa: F403

ROOT_URLCONF = "bench.pages_urls"
