from django.apps import AppConfig, apps
from django.contrib.admin.apps import SimpleAdminConfig


class TooketsAdminConfig(SimpleAdminConfig):
    """The admin, discovering every app's admin module except django-leaflet's.

    django-leaflet's admin integration imports GeoDjango, which needs the GDAL system
    library; Tookets stores positions as plain latitude/longitude and uses only Leaflet's
    templates and assets, so a fresh machine needs no GDAL.
    """

    default = False
    # Django's site, with the sidebar's app list built once per kind of staff member.
    default_site = "tookets.admin_site.TooketsAdminSite"

    def ready(self):
        super().ready()
        for app_config in apps.get_app_configs():
            if app_config.name == "leaflet":
                continue
            try:
                __import__(f"{app_config.name}.admin")
            except ModuleNotFoundError as exc:
                if exc.name != f"{app_config.name}.admin":
                    raise
        # Imported here: the admin's modules need the app registry, which is loading above.
        from django.contrib import admin

        from tookets.admin_lists import guard_changelists

        guard_changelists(admin.site)


class TooketsConfig(AppConfig):
    """The project's own models (the task outbox, the claims of emails sent once) and the
    commands that touch every app (seed_demo)."""

    name = "tookets"
    verbose_name = "Tookets"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Registers the project's system checks (map tiles in production).
        from tookets import checks  # noqa: F401
