"""Tookets settings: one module, every value from the environment.

Development defaults work out of the box (SQLite, tasks in-process, console emails).
With DEBUG off, a missing secret stops start-up with a clear message.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)

_DEV_SECRET = "dev-only-insecure-secret-key-change-me-0123456789abcdefghijklmnop"
SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET if DEBUG else "")
if not DEBUG and (not SECRET_KEY or SECRET_KEY == _DEV_SECRET):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set in the environment when DEBUG is off "
        "(50+ random characters, e.g. python -c 'import secrets; print(secrets.token_urlsafe(50))')."
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "tookets.apps.TooketsAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "leaflet",
    "axes",
    "csp",
    "caisses",
    "accounts",
    "associations",
    "cagnotte",
    "tookets.apps.TooketsConfig",
]

RATELIMIT_VIEW = "tookets.views.too_many_requests"

MIDDLEWARE = [
    # First: the load balancer's probe is answered before host checks, HTTPS redirects and
    # sessions, so it reports the services and nothing else (tookets/health.py).
    "tookets.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Pages compressed here, after WhiteNoise (which serves its own pre-compressed static
    # files and answers before this runs). BREACH: Django's gzip pads each response with a
    # random-length file name (0–99 bytes, "Heal the Breach"), CSRF tokens are masked per
    # response, and the login limits bound how many guesses an attacker gets.
    "django.middleware.gzip.GZipMiddleware",
    # Before the session is read: a NUL byte in a cookie, the query or a form is a 400.
    "tookets.http.RejectNulMiddleware",
    "tookets.http.PermissionsPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After a POST the browser carries the time it wrote: its pages read the primary for a
    # few seconds (read-your-writes; nothing happens without a replica: tookets/db_router.py).
    "tookets.db_router.ReadYourWritesMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Inside the CSRF middleware: it reads whether the page used a CSRF token before that
    # middleware sets the cookie and clears the flag.
    "tookets.http.PrivatePagesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # django-csp's, also sending the Reporting-Endpoints header the policy's report-to names.
    "tookets.csp_report.CSPMiddleware",
    # A rate limit hit (django-ratelimit's Ratelimited) becomes the 429 page (RATELIMIT_VIEW).
    "django_ratelimit.middleware.RatelimitMiddleware",
    # Last, as django-axes asks: it turns a lockout raised during authentication into a response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "tookets.urls"
WSGI_APPLICATION = "tookets.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "csp.context_processors.nonce",
                # One masked CSRF token per request, shared with the cached fragments' forms.
                "tookets.fragments.csrf_context",
            ],
            # The shared tag library every app's templates load: {% load money %}.
            "libraries": {"money": "tookets.money"},
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # psycopg 3's connection pool: one pool per worker process, sized by the environment.
    if env.bool("DATABASE_POOL", default=False):
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env.int("DATABASE_POOL_MIN", default=2),
            "max_size": env.int("DATABASE_POOL_MAX", default=10),
        }
    else:
        DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    # A connection kept from an earlier request (or lent by the pool) is checked before use: a
    # PostgreSQL restart or failover kills them all, and without the check the first request
    # on each dead one would fail.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers wait for each other instead of failing at once with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
DATABASES["default"]["ATOMIC_REQUESTS"] = False  # transactions are explicit, in services
DATABASES["default"].setdefault("TEST", {})
# A streaming replica of the primary: the pages that tolerate a second of lag read from it
# (tookets/db_router.py says which, and when they do not). Unset: everything on the primary.
REPLICA_DATABASE_URL = env.str("REPLICA_DATABASE_URL", default="")
if REPLICA_DATABASE_URL:
    DATABASES["replica"] = env.db_url_config(REPLICA_DATABASE_URL)
    # Persistent connections, never the pool: a pool waits up to its timeout (30 s) for a
    # connection to a replica that is down, where a refused connection falls back at once.
    DATABASES["replica"].update(
        CONN_MAX_AGE=env.int("CONN_MAX_AGE", default=60),
        CONN_HEALTH_CHECKS=True,
        ATOMIC_REQUESTS=False,
        TEST={"MIRROR": "default"},
    )
    DATABASES["replica"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("REPLICA_CONNECT_TIMEOUT", default=1)
    )
DATABASE_ROUTERS = ["tookets.db_router.ReplicaRouter"]
# Past this lag (seconds) the replica is left alone; its lag is asked at most this often per
# process; a replica found down is tried again after REPLICA_RETRY seconds; a member who
# posted reads the primary for REPLICA_READ_YOUR_WRITES seconds.
REPLICA_MAX_LAG = env.float("REPLICA_MAX_LAG", default=1.0)
REPLICA_PROBE_EVERY = env.float("REPLICA_PROBE_EVERY", default=1.0)
REPLICA_RETRY = env.float("REPLICA_RETRY", default=5.0)
REPLICA_READ_YOUR_WRITES = env.float("REPLICA_READ_YOUR_WRITES", default=3.0)
# The standby's name in the primary's pg_stat_replication (its primary_conninfo's
# application_name, else its cluster_name, else "walreceiver"): the lag the primary measures.
REPLICA_APPLICATION_NAME = env.str("REPLICA_APPLICATION_NAME", default="walreceiver")
if REPLICA_READ_YOUR_WRITES <= REPLICA_MAX_LAG + REPLICA_PROBE_EVERY:
    # A member's write may be that old on the replica when the window closes: the window
    # must outlast the largest lag allowed plus the time between two lag probes.
    raise ImproperlyConfigured(
        "REPLICA_READ_YOUR_WRITES must be more than REPLICA_MAX_LAG + REPLICA_PROBE_EVERY."
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------------
CACHES = {
    "default": env.cache("CACHE_URL", default="locmemcache://tookets"),
    # The per-address login limits (django-ratelimit): counters that must outlive a flood of
    # page fragments. The default cache is bounded and evicts its least recently used keys, so
    # filling it with pages would reset them; in production this is a Redis that never evicts
    # (docker-compose.yml: a database of the broker's Redis, whose keys all expire).
    "limits": env.cache("LIMITS_CACHE_URL", default="locmemcache://tookets-limits"),
}
for _alias in CACHES.values():
    if _alias["BACKEND"] == "django_redis.cache.RedisCache":
        # Redis down is a cache miss, not an error page: django-redis swallows connection
        # errors (each cache call returns its miss value) and logs them on "tookets.cache",
        # throttled to one line a minute by the filter below. Short socket timeouts: an
        # unreachable Redis costs a request at most a fraction of a second per cache call.
        _alias.setdefault("OPTIONS", {}).update(
            {
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": env.float("CACHE_CONNECT_TIMEOUT", default=0.5),
                "SOCKET_TIMEOUT": env.float("CACHE_TIMEOUT", default=0.5),
            }
        )
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
DJANGO_REDIS_LOGGER = "tookets.cache"

# --- Authentication -------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # django-axes first: it refuses a locked identifier or address before any code is checked.
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.BankBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "cagnotte:wallet"
LOGOUT_REDIRECT_URL = "home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# The first hasher hashes every new code and password: Argon2id with the parameters of
# accounts/hashers.py (OWASP's minimum, measured in docs/scale.md). The others stay listed
# so that older hashes still check; each is re-hashed with the first at its next successful
# login (members' codes: accounts.identity; staff passwords: Django).
PASSWORD_HASHERS = [
    "accounts.hashers.PersonalCodeHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
# Where identities come from: a dotted path to an accounts.identity.IdentityProvider.
IDENTITY_PROVIDER = env.str("IDENTITY_PROVIDER", default="accounts.identity.LocalDirectoryProvider")

# Lockout (django-axes): 3 wrong codes lock the identifier (CR + account) for a while.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=3)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)  # hours
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_USERNAME_CALLABLE = "accounts.backends.axes_username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
# The client address, read in one place (tookets.http.client_ip) from the number of proxies
# in front of the application that append to X-Forwarded-For: 0 (REMOTE_ADDR) without one,
# 1 behind one load balancer. django-axes and the per-address limit both ask it.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT is the number of proxies: 0 or more.")
for _obsolete in ("AXES_IP_HEADERS", "RATELIMIT_IP_META_KEY"):
    if _obsolete in env.ENVIRON:
        # They read the left-most, client-written X-Forwarded-For entry (axes) or the load
        # balancer's own address (ratelimit): silently ignoring them would hide that.
        raise ImproperlyConfigured(
            f"{_obsolete} is no longer read: set TRUSTED_PROXY_COUNT (the number of proxies "
            "in front of the application, e.g. 1 behind one load balancer) instead."
        )
AXES_CLIENT_IP_CALLABLE = "tookets.http.client_ip"
# Attempts made while locked do not push the end of the lockout back: the page can tell
# when it ends, and that time holds.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Per client address: at most this many wrong codes per hour from one address, whatever the
# identifiers (django-ratelimit, see accounts.views). Axes locks identifiers only: locking an
# address after 3 failures would lock out every customer behind a shared NAT.
LOGIN_RATE_PER_ADDRESS = env.str("LOGIN_RATE_PER_ADDRESS", default="30/h")
RATELIMIT_USE_CACHE = "limits"  # never evicted by cached pages (CACHES above)
# With the cache down the per-address limit cannot count: it lets the attempt through (and
# accounts.lockout logs a warning) rather than refuse every login. The per-identifier lockout,
# kept in the database by django-axes, still applies.
RATELIMIT_FAIL_OPEN = True
RATELIMIT_IP_META_KEY = "tookets.http.client_ip"
SILENCED_SYSTEM_CHECKS = [
    # axes.W006 asks for "ip_address" in AXES_LOCKOUT_PARAMETERS; the per-address limit is
    # done by django-ratelimit (LOGIN_RATE_PER_ADDRESS) with its own, higher, threshold.
    "axes.W006",
    *env.list(
        # The development cache is per process; production sets LIMITS_CACHE_URL to Redis, which
        # django-ratelimit accepts.
        "SILENCED_SYSTEM_CHECKS",
        default=["django_ratelimit.E003", "django_ratelimit.W001"],
    ),
]

SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 2)
# Sessions are written to the database and read from the cache (Redis in production), so
# any web process can serve any request and a cache flush loses no session.
SESSION_ENGINE = env.str("SESSION_ENGINE", default="django.contrib.sessions.backends.cached_db")

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "fr"
# French only: with English offered, a browser asking for English got Django's own texts
# (admin, form errors, dates) in English among our French ones.
LANGUAGES = [("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

# --- Static and media -----------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# In development WhiteNoise serves static/ straight from the finders and looks again on each
# request, so `make run` shows an edited CSS or JS file without collectstatic. In production it
# indexes the collected, hashed files once at start-up.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# --- Email ----------------------------------------------------------------------------------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
# For EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend: one file per connection.
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default="") or None
DEFAULT_FROM_EMAIL = env.str(
    "DEFAULT_FROM_EMAIL", default="Tookets <ne-pas-repondre@tookets.example>"
)
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
# Without a broker, tasks run in-process (development, `make run`).
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
# A task is acknowledged once it has run: a worker killed in the middle (SIGKILL, OOM, a lost
# pool process) leaves it to be delivered again, so every task is safe to run twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Requests never wait on a dead broker: work is queued through the outbox (tookets/outbox.py)
# and published after commit with short timeouts and no retry loop; the drain retries later.
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=1.0)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=1.0),
    "socket_timeout": 5,
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
    # A message taken by a worker that died without a word comes back after this long.
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
# Pending outbox rows are drained this often by beat (and once when a worker starts).
OUTBOX_DRAIN_SECONDS = env.int("OUTBOX_DRAIN_SECONDS", default=30)
# /sante/ tells the state of each service only to a caller sending this value in the
# X-Health-Token header (or from the loopback); anyone else gets the bare status. Empty: no token.
HEALTH_TOKEN = env.str("HEALTH_TOKEN", default="")
# Written by the worker and beat; docker compose's healthchecks read their age.
CELERY_HEARTBEAT_FILE = env.str("CELERY_HEARTBEAT_FILE", default="")
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {}  # filled by tookets/celery.py
CREDIT_DROP_DIR = env.path("CREDIT_DROP_DIR", default=BASE_DIR / "var" / "credits")
# The largest amount one row of a credit file may credit, in whole Tookets (1,000,000 K =
# 10,000 €): a row over it is reported, not applied.
CREDIT_MAX_AMOUNT = env.int("CREDIT_MAX_AMOUNT", default=1_000_000)
# How long a gift waits for its wallet's lock (seconds, PostgreSQL) before the member is asked
# to try again: a credit import holds the locks of the wallets it credits until it commits.
GIFT_LOCK_TIMEOUT = env.float("GIFT_LOCK_TIMEOUT", default=3.0)

# --- Map ------------------------------------------------------------------------------------
# The tile server. OpenStreetMap's own servers are for light use only (their tile usage policy
# forbids an application of this size to rely on them): production sets a self-hosted tile
# server or a commercial provider (README, « Map tiles »); `manage.py check --deploy` warns
# while DEBUG is off and the tiles still come from tile.openstreetmap.org. Empty: no
# background map; the map then names the local banks' towns at their places.
MAP_TILES_URL = env.str("MAP_TILES_URL", default="https://tile.openstreetmap.org/{z}/{x}/{y}.png")
MAP_TILES_ATTRIBUTION = env.str(
    "MAP_TILES_ATTRIBUTION", default="&copy; contributeurs OpenStreetMap"
)
LEAFLET_CONFIG = {
    "TILES": [("OpenStreetMap", MAP_TILES_URL, {"attribution": MAP_TILES_ATTRIBUTION})],
    "DEFAULT_CENTER": (46.6, 2.4),
    "DEFAULT_ZOOM": 6,
    "RESET_VIEW": False,
    "NO_GLOBALS": False,
}

# --- Security -------------------------------------------------------------------------------
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"


def _tiles_origin(url: str) -> str | None:
    """The origin CSP's img-src must allow for the tiles: ``{s}`` subdomains (a.tile…, b.tile…)
    become a wildcard; None for no tiles or tiles served by the site itself."""
    if "://" not in url:
        return None
    return "/".join(url.split("/")[:3]).replace("{s}.", "*.")


_tile_origin = _tiles_origin(MAP_TILES_URL)
# Browsers post CSP violations here (tookets/csp_report.py logs them, rate-limited).
CSP_REPORT_PATH = "/csp-report/"
CSP_REPORT_RATE = env.str("CSP_REPORT_RATE", default="30/m")
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"] + ([_tile_origin] if _tile_origin else []),
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
        # report-uri for every browser; report-to (the Reporting API, named by the
        # Reporting-Endpoints header tookets.csp_report sets) where it is supported.
        "report-uri": [CSP_REPORT_PATH],
        "report-to": "csp",
    }
}

# --- Logging --------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # An outage repeats the same error on every request: one line a minute per message.
    "filters": {"once_per_minute": {"()": "tookets.log_throttle.OncePerInterval", "seconds": 60}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},
        "tookets.cache": {"filters": ["once_per_minute"]},
        "tookets.outbox": {"filters": ["once_per_minute"]},
        "tookets.csp": {"level": "WARNING"},
        "accounts.lockout": {"filters": ["once_per_minute"]},
    },
}
