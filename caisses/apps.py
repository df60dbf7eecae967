from django.apps import AppConfig


class CaissesConfig(AppConfig):
    name = "caisses"
    verbose_name = "Caisses régionales"
