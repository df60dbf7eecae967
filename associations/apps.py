from django.apps import AppConfig


class AssociationsConfig(AppConfig):
    name = "associations"
    verbose_name = "Associations"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from associations.models import Activity, Domain
        from associations.selectors import forget_directory_options
        from caisses.models import CaisseLocale

        for model in (Activity, Domain, CaisseLocale):
            for signal in (post_save, post_delete):
                signal.connect(
                    forget_directory_options,
                    sender=model,
                    dispatch_uid=f"directory-options-{model}",
                )
