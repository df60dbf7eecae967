from django.db import models
from django.utils.translation import gettext_lazy as _


class CaisseRegionale(models.Model):
    """A regional bank (CR). Its territory is the list of départements it serves."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("nom"), max_length=80, unique=True)
    # Short label used in program names, e.g. « Carte Sociétaire - GERS ».
    program_label = models.CharField(_("libellé des programmes"), max_length=40)
    departements = models.JSONField(_("départements"), default=list)
    # Territory bounding box and centre: where the map opens and where local banks lie.
    center_lat = models.FloatField(_("latitude du centre"))
    center_lng = models.FloatField(_("longitude du centre"))
    min_lat = models.FloatField(_("latitude minimale"))
    max_lat = models.FloatField(_("latitude maximale"))
    min_lng = models.FloatField(_("longitude minimale"))
    max_lng = models.FloatField(_("longitude maximale"))
    # Payouts to associations: the bank's interbank code and BIC, and the account it pays from.
    bank_code = models.CharField(_("code banque"), max_length=5, blank=True)
    bic = models.CharField(_("BIC"), max_length=11, blank=True)
    payout_iban = models.CharField(_("IBAN du compte payeur"), max_length=34, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("caisse régionale")
        verbose_name_plural = _("caisses régionales")

    def __str__(self):
        return self.name


class CaisseLocale(models.Model):
    """A local bank (agence / caisse locale) of a regional bank."""

    caisse_regionale = models.ForeignKey(
        CaisseRegionale,
        verbose_name=_("caisse régionale"),
        on_delete=models.PROTECT,
        related_name="caisses_locales",
    )
    code = models.CharField(_("code"), max_length=20)
    name = models.CharField(_("nom"), max_length=120)
    departement = models.CharField(_("département"), max_length=3)
    latitude = models.FloatField(_("latitude"))
    longitude = models.FloatField(_("longitude"))

    class Meta:
        ordering = ["name"]
        verbose_name = _("caisse locale")
        verbose_name_plural = _("caisses locales")
        constraints = [
            models.UniqueConstraint(
                fields=["caisse_regionale", "code"], name="caisse_locale_code_unique_per_cr"
            )
        ]

    def __str__(self):
        return self.name
