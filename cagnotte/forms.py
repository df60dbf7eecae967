import secrets

from django import forms
from django.core import signing
from django.utils.translation import gettext_lazy as _

TOKEN_SALT = "cagnotte.give"
TOKEN_MAX_AGE = 6 * 60 * 60  # a form left open for an afternoon still works


def new_give_token(*, member_id: int, association_id: int, wallet_id: int) -> str:
    """A one-time token for one display of the gift form, signed with what it is valid for.

    Its random part becomes the gift's reference: posting the same form twice gives once.
    """
    return signing.dumps(
        [member_id, association_id, wallet_id, secrets.token_urlsafe(18)], salt=TOKEN_SALT
    )


class GiveForm(forms.Form):
    wallet = forms.IntegerField(widget=forms.HiddenInput)
    token = forms.CharField(widget=forms.HiddenInput, max_length=300)
    # A text field cleaned by hand: the French messages say exactly what is wrong.
    amount = forms.CharField(
        label=_("Montant du don"),
        max_length=12,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        error_messages={"required": _("Indiquez le nombre de Tookets à donner.")},
    )

    def __init__(self, *args, member_id: int, association_id: int, **kwargs):
        self.member_id = member_id
        self.association_id = association_id
        super().__init__(*args, **kwargs)

    def clean_amount(self) -> int:
        # Digits only (spaces between thousands allowed): a letter is an error said in French,
        # never silently dropped (a browser's number field dropped it and gave the whole
        # prefilled balance).
        raw = "".join(self.cleaned_data["amount"].split()).replace("\u202f", "")
        if not (raw.isascii() and raw.isdigit()):
            raise forms.ValidationError(
                _("Saisissez le montant en chiffres uniquement, par exemple 110.")
            )
        amount = int(raw)
        if amount <= 0:
            raise forms.ValidationError(_("Le montant doit être supérieur à zéro."))
        return amount

    def clean(self):
        cleaned = super().clean()
        token, wallet_id = cleaned.get("token"), cleaned.get("wallet")
        if token is None or wallet_id is None:
            return cleaned
        try:
            member_id, association_id, signed_wallet, one_time = signing.loads(
                token, salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE
            )
        except (signing.BadSignature, ValueError, TypeError):
            raise forms.ValidationError(
                _("Ce formulaire a expiré. Vérifiez le montant et validez à nouveau."),
                code="expired",
            ) from None
        if (member_id, association_id, signed_wallet) != (
            self.member_id,
            self.association_id,
            wallet_id,
        ):
            raise forms.ValidationError(_("Ce formulaire n’est pas valable."), code="invalid")
        cleaned["one_time"] = one_time
        return cleaned
