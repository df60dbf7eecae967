# Tookets: one image for web (gunicorn), worker and beat (celery).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first: this layer is rebuilt only when the lock file changes.
COPY requirements.lock .
RUN pip install -r requirements.lock

COPY . .

# An unprivileged user; /var/lib/celery holds beat's schedule (a volume in docker-compose).
RUN useradd --system --uid 1000 --home-dir /app tookets \
    && mkdir -p /app/staticfiles /app/media /app/var/credits /var/lib/celery \
    && chown -R tookets /app/staticfiles /app/media /app/var /var/lib/celery
USER tookets

EXPOSE 8000
CMD ["gunicorn", "tookets.wsgi", "--bind", "0.0.0.0:8000", "--workers", "4", "--threads", "2", "--access-logfile", "-"]
