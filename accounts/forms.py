from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from caisses.models import CaisseRegionale


class CaisseChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.name


class IdentifierForm(forms.Form):
    """First step of the login: the regional bank and the 11-digit identifier."""

    caisse = CaisseChoiceField(
        label=_("Caisse"),
        queryset=CaisseRegionale.objects.order_by("name"),
        to_field_name="code",
        empty_label=_("Choisissez votre caisse régionale"),
        error_messages={
            "required": _("Choisissez votre caisse régionale."),
            "invalid_choice": _("Choisissez votre caisse régionale dans la liste."),
        },
    )
    account_number = forms.CharField(
        label=_("Identifiant"),
        help_text=_("Saisissez votre identifiant à 11 chiffres"),
        max_length=20,
        error_messages={"required": _("Saisissez votre identifiant à 11 chiffres.")},
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "username",
                "placeholder": _("Ex: 98652706859"),
                "spellcheck": "false",
            }
        ),
    )

    def clean_account_number(self):
        # Spaces are tolerated (people copy the number as printed on a statement).
        value = "".join(self.cleaned_data["account_number"].split())
        if len(value) != 11 or not value.isascii() or not value.isdigit():
            raise forms.ValidationError(
                _("L’identifiant doit comporter exactement 11 chiffres."), code="format"
            )
        return value


class SettingsForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["recap_emails"]
        labels = {"recap_emails": _("J'accepte de recevoir les e-mails récapitulatifs")}
