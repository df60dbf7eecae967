"""The association's forms for its projects; the photo is checked by ``associations.photos``."""

from django import forms
from django.utils.translation import gettext_lazy as _

from associations.photos import clean_photo
from cagnotte.campaigns import Program

MAX_GOAL = 100_000_000  # 1 000 000 € in Tookets: far past any association's project


class PhotoField(forms.FileField):
    """A file field whose value is the re-encoded photo (``clean_photo``); a plain FileField
    underneath, so no Pillow call happens outside ``clean_photo``'s guards."""

    def clean(self, data, initial=None):
        upload = super().clean(data, initial)
        if upload in (None, False) or upload is initial:
            return None
        return clean_photo(upload)


class ProjectForm(forms.Form):
    program = forms.ModelChoiceField(
        label=_("Campagne"),
        queryset=Program.objects.none(),
        empty_label=None,
        error_messages={"invalid_choice": _("Choisissez une campagne de la liste.")},
    )
    title = forms.CharField(label=_("Titre du projet"), max_length=120)
    text = forms.CharField(
        label=_("Description"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("Ce que vous allez faire avec les Tookets reçus (4 000 caractères au plus)."),
    )
    goal = forms.CharField(
        label=_("Objectif (en Tookets, 100 K = 1 €)"),
        max_length=12,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    ends_on = forms.DateField(
        label=_("Date de fin"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
        error_messages={"invalid": _("Saisissez une date, par exemple 30/11/2026.")},
    )
    photo = PhotoField(
        label=_("Photo (JPEG, PNG ou WebP, 8 Mo au plus)"),
        required=False,
        widget=forms.FileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )

    def __init__(self, *args, programs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = programs

    def clean_goal(self) -> int:
        raw = "".join(self.cleaned_data["goal"].split()).replace("\u202f", "")
        if not (raw.isascii() and raw.isdigit()):
            raise forms.ValidationError(_("Saisissez l’objectif en chiffres, par exemple 50000."))
        goal = int(raw)
        if not 0 < goal <= MAX_GOAL:
            raise forms.ValidationError(_("L’objectif doit être entre 1 et 100 000 000 K."))
        return goal


class OutcomeForm(forms.Form):
    outcome_text = forms.CharField(
        label=_("Ce que nous en avons fait"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 8}),
    )
    outcome_photo = PhotoField(
        label=_("Photo (JPEG, PNG ou WebP, 8 Mo au plus)"),
        required=False,
        widget=forms.FileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )
