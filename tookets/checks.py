"""System checks of the project's own settings (``manage.py check --deploy``)."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Tags, Warning, register

# OpenStreetMap's tile usage policy allows light use only: not an application of this size.
OSM_TILE_HOSTS = {"tile.openstreetmap.org", "a.tile.openstreetmap.org", "b.tile.openstreetmap.org"}


@register(Tags.security, deploy=True)
def map_tiles_in_production(app_configs, **kwargs):
    host = urlsplit(settings.MAP_TILES_URL or "").hostname or ""
    if settings.DEBUG or host.replace("{s}.", "") not in OSM_TILE_HOSTS:
        return []
    return [
        Warning(
            "MAP_TILES_URL still names OpenStreetMap's own tile servers, whose usage policy "
            "forbids heavy use.",
            hint="Set MAP_TILES_URL (and MAP_TILES_ATTRIBUTION) to a self-hosted tile server "
            "or a commercial provider (README, « Map tiles »), or to an empty value for a map "
            "without background.",
            id="tookets.W001",
        )
    ]
