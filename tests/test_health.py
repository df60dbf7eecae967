"""/sante/: 200 while the database answers; which optional service is degraded, only to a
trusted caller (the loopback, or the X-Health-Token header)."""

import pytest
from django.db import connection
from django.test import override_settings

from tests.services import free_port, redis_cache_settings
from tests.test_outbox import dead_broker  # noqa: F401 - fixture
from tookets.celery import app
from tookets.heartbeat import HeartbeatScheduler
from tookets.models import OutboxMessage

pytestmark = pytest.mark.django_db


def test_healthy_without_a_broker_configured(client):
    response = client.get("/sante/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["cache"] == "ok"
    assert body["broker"] == "eager"
    assert body["outbox"] == {"pending": 0, "oldest_pending_seconds": 0}


OUTSIDE = "203.0.113.9"  # the load balancer, or anyone on the Internet


def test_anyone_else_gets_the_bare_status(client):
    response = client.get("/sante/", REMOTE_ADDR=OUTSIDE)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content == b"ok" and response["Cache-Control"] == "no-store"
    assert client.head("/sante/", REMOTE_ADDR=OUTSIDE).status_code == 200


def test_a_proxied_request_from_the_loopback_is_not_trusted(client):
    # A reverse proxy on the same machine forwards every client from 127.0.0.1.
    response = client.get("/sante/", HTTP_X_FORWARDED_FOR=OUTSIDE)
    assert response.content == b"ok"


@override_settings(HEALTH_TOKEN="s3cret-health-token")
def test_the_token_header_opens_the_details(client):
    trusted = client.get("/sante/", REMOTE_ADDR=OUTSIDE, HTTP_X_HEALTH_TOKEN="s3cret-health-token")
    assert trusted.json()["database"] == "ok" and trusted.json()["cache"] == "ok"
    for wrong in ("s3cret", "s3cret-health-token2", ""):
        response = client.get("/sante/", REMOTE_ADDR=OUTSIDE, HTTP_X_HEALTH_TOKEN=wrong)
        assert response.content == b"ok", wrong


@override_settings(HEALTH_TOKEN="")
def test_no_token_configured_opens_nothing(client):
    response = client.get("/sante/", REMOTE_ADDR=OUTSIDE, HTTP_X_HEALTH_TOKEN="")
    assert response.content == b"ok"


@override_settings(ALLOWED_HOSTS=["tookets.example"], SECURE_SSL_REDIRECT=True)
def test_the_probe_needs_no_host_name_nor_https(client):
    # A load balancer probes the container's address over plain HTTP.
    assert client.get("/sante/", HTTP_HOST="10.0.0.7:8000").status_code == 200
    assert client.get("/sante/", HTTP_HOST="10.0.0.7:8000", REMOTE_ADDR=OUTSIDE).status_code == 200
    assert client.get("/", HTTP_HOST="10.0.0.7:8000").status_code == 400


def test_cache_down_is_degraded_not_down(client):
    with override_settings(CACHES=redis_cache_settings("redis://127.0.0.1:1/1")):
        response = client.get("/sante/")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded" and response.json()["cache"] == "degraded"


def test_broker_down_is_degraded_and_the_waiting_work_is_counted(client, dead_broker):  # noqa: F811
    OutboxMessage.objects.create(task="tookets.tasks.drain_outbox")
    response = client.get("/sante/")
    assert response.status_code == 200
    body = response.json()
    assert body["broker"] == "degraded" and body["status"] == "degraded"
    assert body["outbox"]["pending"] == 1


def test_beat_touches_its_heartbeat_file_on_each_tick(tmp_path):
    heartbeat = tmp_path / "beat.heartbeat"
    app.conf.heartbeat_file = str(heartbeat)
    try:
        scheduler = HeartbeatScheduler(app=app, schedule_filename=str(tmp_path / "schedule"))
        scheduler.tick()
    finally:
        app.conf.heartbeat_file = ""
    assert heartbeat.exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_database_unreachable_is_503(require_postgres, client):
    port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = free_port()  # nothing listens there
    try:
        response = client.get("/sante/")
        bare = client.get("/sante/", REMOTE_ADDR=OUTSIDE)
    finally:
        connection.close()
        connection.settings_dict["PORT"] = port
    assert response.status_code == 503
    assert response.json() == {"database": "down", "status": "down"}
    assert bare.status_code == 503 and bare.content == b"down"
    assert client.get("/sante/").status_code == 200  # and back once it answers again
