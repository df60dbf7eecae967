from django.apps import AppConfig


class CagnotteConfig(AppConfig):
    name = "cagnotte"
    verbose_name = "Cagnotte"
