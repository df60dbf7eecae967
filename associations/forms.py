"""Forms of the registration wizard and of the staff decisions in the admin."""

import datetime

from django import forms
from django.core.validators import RegexValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.keypad import typed_code
from accounts.models import account_number_validator
from associations.models import (
    ACTIVITY_FIELDS,
    ADDRESS_FIELDS,
    IDENTITY_FIELDS,
    PRESENTATION_FIELDS,
    Association,
    rna_validator,
)
from associations.selectors import programs_enrolled_in
from associations.services import position_in_territory
from cagnotte.campaigns import enrollable_programs
from caisses.models import CaisseLocale, CaisseRegionale
from tookets.http import ascii_digits

PRESENTATION_MIN = 30
PRESENTATION_MAX = 2000
# Associations declared under the law of 1 July 1901: no earlier publication exists.
JO_FIRST_DATE = datetime.date(1901, 7, 1)

# [0-9], not \d: in Python's regular expressions \d also matches « ٣ » or « ３ ».
postal_code_validator = RegexValidator(
    r"^[0-9]{5}$", _("Le code postal comporte 5 chiffres (ex. : 32000).")
)
phone_validator = RegexValidator(
    r"^\+?[0-9 .-]{10,20}$", _("Saisissez un numéro de téléphone (ex. : 05 62 00 00 00).")
)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


# --- Authentication step --------------------------------------------------------------------


class RegistrationAuthForm(forms.Form):
    caisse = forms.ModelChoiceField(
        label=_("Caisse régionale dont l’association est cliente"),
        queryset=CaisseRegionale.objects.order_by("name"),
        empty_label=_("Choisissez une Caisse régionale"),
        # The first field takes the focus, not the keypad further down (keypad.js focuses the
        # keypad only when nothing on the page asks for it).
        widget=forms.Select(attrs={"autofocus": True}),
        error_messages={"required": _("Choisissez la Caisse régionale de l’association.")},
    )
    account_number = forms.CharField(
        label=_("Numéro de compte de l’association (11 chiffres)"),
        # One rule, one message: the validator alone checks the 11 digits (with min_length
        # and max_length too, a short number showed « 11 chiffres » twice).
        validators=[account_number_validator],
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                # Paired with the code field by password managers (WCAG 2.2, 3.3.8).
                "autocomplete": "username",
                "pattern": r"\d{11}",
                "maxlength": "11",
            }
        ),
        error_messages={"required": _("Saisissez le numéro de compte de l’association.")},
    )
    # The code comes either as keypad positions or in the field beside the keypad that a
    # password manager fills or a person pastes into (accounts.keypad); exactly one of them.
    positions = forms.CharField(
        label=_("Code personnel"),
        required=False,
        max_length=6,
        widget=forms.HiddenInput,
    )
    # Rendered by accounts/_keypad.html; the id makes the error summary's link reach it.
    code = forms.CharField(
        label=_("Code personnel"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"id": "keypad-code-register"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.is_bound:
            # After a failed submit the error summary takes the focus, not the first field.
            self.fields["caisse"].widget.attrs.pop("autofocus", None)

    def clean_code(self):
        value = self.cleaned_data["code"]
        if not value:
            return ""
        code = typed_code(value)
        if code is None:
            raise forms.ValidationError(
                _("Le code personnel doit comporter exactement 6 chiffres."), code="format"
            )
        return code

    def clean(self):
        cleaned = super().clean()
        positions, code = self.data.get("positions", ""), self.data.get("code", "")
        if positions and code:
            self.add_error(
                "positions",
                _("Saisissez votre code soit sur le pavé, soit dans le champ, pas les deux."),
            )
        elif not positions and not code:
            self.add_error(
                "positions",
                _("Saisissez votre code personnel sur le clavier ou dans le champ prévu."),
            )
        return cleaned

    def clean_account_number(self):
        value = (self.cleaned_data["account_number"] or "").strip()
        # The model's validator (\d) lets « ９８６… » through: ASCII digits only.
        if not ascii_digits(value):
            raise forms.ValidationError(
                _("L’identifiant doit comporter exactement 11 chiffres."), code="format"
            )
        return value


# --- Wizard steps ---------------------------------------------------------------------------


class WizardStepForm(forms.ModelForm):
    """A step of the wizard: every field it shows is required unless listed as optional."""

    optional: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.required = name not in self.optional


class IdentityForm(WizardStepForm):
    optional = ("president_email", "phone")
    # Wider than the stored 10 characters: « W 321 000 123 » is accepted and normalised.
    rna_number = forms.CharField(
        label=_("Numéro RNA"),
        max_length=20,
        help_text=_("W suivi de 9 chiffres, par exemple W321000123."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    class Meta:
        model = Association
        fields = list(IDENTITY_FIELDS)
        labels = {"name": _("Nom de l’association")}
        help_texts = {
            "jo_publication_date": _("Date de parution de la déclaration au Journal Officiel."),
            "president_name": _("La personne physique qui représente légalement l’association."),
            "email": _("L’adresse où vous recevrez les messages du service Tookets."),
        }
        widgets = {
            "jo_publication_date": DateInput(),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["jo_publication_date"].input_formats = ["%Y-%m-%d", "%d/%m/%Y"]
        self.fields["phone"].validators.append(phone_validator)

    def clean_name(self):
        name = " ".join((self.cleaned_data["name"] or "").split())
        if len(name) < 3:
            raise forms.ValidationError(_("Le nom doit comporter au moins 3 caractères."))
        return name

    def clean_rna_number(self):
        rna = "".join((self.cleaned_data["rna_number"] or "").split()).upper()
        rna_validator(rna)
        if not ascii_digits(rna[1:]):  # \d in the model's validator also takes « ٣ »
            raise forms.ValidationError(rna_validator.message, code="invalid")
        if rna and Association.objects.filter(rna_number=rna).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(
                _("Ce numéro RNA est déjà utilisé par une autre association inscrite.")
            )
        return rna

    def clean_jo_publication_date(self):
        date = self.cleaned_data["jo_publication_date"]
        if date and date > timezone.localdate():
            raise forms.ValidationError(_("La date de parution ne peut pas être dans le futur."))
        if date and date < JO_FIRST_DATE:
            raise forms.ValidationError(
                _("La date de parution ne peut pas précéder la loi du 1er juillet 1901.")
            )
        return date

    def clean_president_name(self):
        return " ".join((self.cleaned_data["president_name"] or "").split())


class PresentationForm(WizardStepForm):
    optional = ("website",)
    website = forms.URLField(
        label=_("Site internet"), max_length=200, required=False, assume_scheme="https"
    )

    class Meta:
        model = Association
        fields = list(PRESENTATION_FIELDS)
        help_texts = {
            "presentation": _(
                "Entre %(min)d et %(max)d caractères : ce que fait l’association, pour qui."
            )
            % {"min": PRESENTATION_MIN, "max": PRESENTATION_MAX},
        }
        widgets = {
            "presentation": forms.Textarea(
                attrs={"rows": 8, "minlength": PRESENTATION_MIN, "maxlength": PRESENTATION_MAX}
            )
        }

    def clean_presentation(self):
        text = (self.cleaned_data["presentation"] or "").strip()
        if len(text) < PRESENTATION_MIN:
            raise forms.ValidationError(
                _("La présentation doit comporter au moins %(min)d caractères (%(n)d saisis).")
                % {"min": PRESENTATION_MIN, "n": len(text)}
            )
        if len(text) > PRESENTATION_MAX:
            raise forms.ValidationError(
                _("La présentation ne peut pas dépasser %(max)d caractères (%(n)d saisis).")
                % {"max": PRESENTATION_MAX, "n": len(text)}
            )
        return text


class ActivityForm(WizardStepForm):
    class Meta:
        model = Association
        fields = list(ACTIVITY_FIELDS)
        labels = {"caisse_locale": _("Caisse locale (votre agence)")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the local banks of the association's regional bank: a foreign id posted by hand
        # is « not one of the available choices ».
        self.fields["caisse_locale"].queryset = CaisseLocale.objects.filter(
            caisse_regionale_id=self.instance.caisse_regionale_id
        ).order_by("name")
        self.fields["activity"].empty_label = _("Choisissez une activité")
        self.fields["domain"].empty_label = _("Choisissez un domaine")
        self.fields["caisse_locale"].empty_label = _("Choisissez votre caisse locale")


class AddressForm(WizardStepForm):
    class Meta:
        model = Association
        fields = list(ADDRESS_FIELDS)
        help_texts = {
            "latitude": _("Déplacez le repère sur la carte, ou saisissez la latitude (ex. 43.65)."),
            "longitude": _("… et la longitude (ex. 0.58)."),
        }
        widgets = {
            "latitude": forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
            "longitude": forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["postal_code"].validators.append(postal_code_validator)
        self.fields["latitude"].error_messages["required"] = _(
            "Placez l’association sur la carte (ou saisissez sa latitude)."
        )
        self.fields["longitude"].error_messages["required"] = _(
            "Placez l’association sur la carte (ou saisissez sa longitude)."
        )

    def clean_latitude(self):
        value = self.cleaned_data["latitude"]
        if value is not None and not -90 <= value <= 90:
            raise forms.ValidationError(_("Une latitude est comprise entre -90 et 90."))
        return value

    def clean_longitude(self):
        value = self.cleaned_data["longitude"]
        if value is not None and not -180 <= value <= 180:
            raise forms.ValidationError(_("Une longitude est comprise entre -180 et 180."))
        return value

    def clean(self):
        cleaned = super().clean()
        lat, lng = cleaned.get("latitude"), cleaned.get("longitude")
        cr = self.instance.caisse_regionale
        if lat is not None and lng is not None and not position_in_territory(cr, lat, lng):
            self.add_error(
                "latitude",
                _("Cette position est hors du territoire de la Caisse régionale %(cr)s.")
                % {"cr": cr.name},
            )
        return cleaned


class DeclarationForm(forms.Form):
    declaration = forms.BooleanField(
        label=_(
            "Je certifie être le représentant légal de l’association (président(e) le plus "
            "souvent) et que les informations saisies sont exactes."
        ),
        error_messages={
            "required": _(
                "Seul le représentant légal peut inscrire l’association : cochez la déclaration."
            )
        },
    )


# --- Staff decisions (admin) ----------------------------------------------------------------


class CorrectionForm(forms.Form):
    message = forms.CharField(
        label=_("Message à l’association"),
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=2000,
        help_text=_("Ce qu’elle doit corriger. Il lui est envoyé par e-mail."),
    )


class RejectionForm(forms.Form):
    reason = forms.CharField(
        label=_("Motif du refus"), widget=forms.Textarea(attrs={"rows": 4}), max_length=2000
    )


class ValidationForm(forms.Form):
    message = forms.CharField(
        label=_("Message (facultatif)"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        required=False,
    )


class EnrollmentForm(forms.Form):
    programs = forms.ModelMultipleChoiceField(
        label=_("Programmes de l’année"),
        queryset=None,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choisissez au moins un programme.")},
    )

    def __init__(self, *args, caisse_regionale_ids, **kwargs):
        super().__init__(*args, **kwargs)
        qs = enrollable_programs(caisse_regionale_ids=caisse_regionale_ids)
        self.fields["programs"].queryset = qs.select_related("caisse_regionale").order_by(
            "caisse_regionale__name", "name"
        )


class UnenrollmentForm(forms.Form):
    programs = forms.ModelMultipleChoiceField(
        label=_("Programmes dont la retirer"),
        queryset=None,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choisissez au moins un programme.")},
    )
    reason = forms.CharField(
        label=_("Motif du retrait"), widget=forms.Textarea(attrs={"rows": 4}), max_length=2000
    )

    def __init__(self, *args, association_ids, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["programs"].queryset = programs_enrolled_in(
            association_ids=association_ids
        ).select_related("caisse_regionale")
