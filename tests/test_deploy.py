"""`manage.py check --deploy` with production settings: no warning, no error."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def _production_env(**overrides):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
    env.update(
        {
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "tookets.example",
            "CSRF_TRUSTED_ORIGINS": "https://tookets.example",
            "CACHE_URL": "redis://127.0.0.1:6379/2",
            "LIMITS_CACHE_URL": "redis://127.0.0.1:6379/3",
            "CELERY_BROKER_URL": "redis://127.0.0.1:6379/2",
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "BEHIND_TLS_PROXY": "1",
            "MAP_TILES_URL": "https://tuiles.tookets.example/{z}/{x}/{y}.png",
        }
    )
    env.update(overrides)
    return env


def _manage(*args, env):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_in_production():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=_production_env())
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNINGS" not in output and "ERRORS" not in output, output
    assert "System check identified no issues" in output, output


def test_check_deploy_warns_while_the_tiles_come_from_openstreetmap():
    # Their usage policy forbids heavy use: production names its own tile server.
    env = _production_env(MAP_TILES_URL="https://tile.openstreetmap.org/{z}/{x}/{y}.png")
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    assert "tookets.W001" in result.stdout + result.stderr
    env = _production_env(MAP_TILES_URL="")  # no background: the map names the towns
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    env = _production_env()
    del env["SECRET_KEY"]
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_serves_only_the_collected_static_files():
    code = "from django.conf import settings as s; print(s.WHITENOISE_USE_FINDERS, s.WHITENOISE_AUTOREFRESH)"
    result = _manage("shell", "-v", "0", "-c", code, env=_production_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_development_serves_static_files_without_collectstatic(client, settings):
    # DEBUG (the development default) makes WhiteNoise read static/ through the finders.
    assert settings.WHITENOISE_USE_FINDERS and settings.WHITENOISE_AUTOREFRESH
    response = client.get("/static/css/tookets.css")
    assert response.status_code == 200
    assert b".keypad" in b"".join(response.streaming_content)
