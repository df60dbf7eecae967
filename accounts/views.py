"""Login with the regional bank, the 11-digit identifier and the virtual keypad; settings.

The login has two steps on one URL. Step 1 posts the regional bank and the identifier; if they
are well formed, step 2 shows the keypad (a freshly shuffled layout, kept in the session) with
the identifier carried in hidden fields. Step 2 posts the positions typed; the server decodes
them with that layout and asks ``django.contrib.auth.authenticate`` — so django-axes sees every
failure and locks the identifier after 3 wrong codes.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts import keypad, lockout, remember
from accounts.backends import IneligibleCustomer, axes_username
from accounts.forms import IdentifierForm, SettingsForm
from accounts.models import User
from tookets.http import redirect_to_next, safe_next

KEYPAD_PURPOSE = "login"


def home_url_for(user) -> str:
    """Where a user lands after logging in."""
    if user.kind == User.Kind.ASSOCIATION:
        return reverse("associations:space")
    if user.kind == User.Kind.STAFF:
        return reverse("admin:index")
    return reverse("cagnotte:wallet")


def _identifier_page(request, form, *, status=200):
    remembered = remember.recall(request)
    return render(
        request,
        "accounts/login.html",
        {"form": form, "step": "identifier", "remembered": remembered, "next": safe_next(request)},
        status=status,
    )


def _keypad_page(request, form, *, error: str = "", status=200):
    return render(
        request,
        "accounts/login.html",
        {
            "form": form,
            "step": "code",
            "caisse": form.cleaned_data["caisse"],
            "account_number": form.cleaned_data["account_number"],
            "digits": keypad.new_layout(request, purpose=KEYPAD_PURPOSE),
            "keypad_error": error,
            "next": safe_next(request),
        },
        status=status,
    )


def _locked_page(request, remaining, *, status=429):
    return render(
        request,
        "accounts/locked_out.html",
        {"minutes": lockout.minutes(remaining)},
        status=status,
    )


@require_http_methods(["GET", "POST"])
def login_view(request):
    if request.user.is_authenticated and request.method == "GET":
        return redirect_to_next(request, home_url_for(request.user))
    if request.method == "GET":
        remembered = remember.recall(request)
        initial = {}
        if remembered:
            initial = {"caisse": remembered[0], "account_number": remembered[1]}
        return _identifier_page(request, IdentifierForm(initial=initial))

    form = IdentifierForm(request.POST)
    if not form.is_valid():
        return _identifier_page(request, form)
    if request.POST.get("step") != "code":
        return _keypad_page(request, form)
    return _check_code(request, form)


def _check_code(request, form):
    remaining = lockout.address_lock_remaining(request)
    if remaining is not None:
        return _locked_page(request, remaining)

    code = keypad.decode(request, request.POST.get("positions", ""), purpose=KEYPAD_PURPOSE)
    if code is None:
        # No layout in this session (a replayed post, an expired session, a second tab) or an
        # incomplete code: nothing was checked, show a fresh keypad.
        return _keypad_page(
            request,
            form,
            error=_("Votre code n’a pas pu être lu. Saisissez vos 6 chiffres sur le pavé."),
            status=400,
        )

    caisse = form.cleaned_data["caisse"]
    account_number = form.cleaned_data["account_number"]
    result = authenticate(request, caisse=caisse, account_number=account_number, code=code)

    # django-axes sets axes_failures_since_start when it counted a wrong code, the one that
    # locks the identifier included; it leaves it None when it refused an identifier already
    # locked (no code was checked). Every checked wrong code counts for the address: without
    # the locking one, 15 identifiers gave an address 45 tries instead of 30.
    if result is None and getattr(request, "axes_failures_since_start", None) is not None:
        lockout.count_address_failure(request)
    if getattr(request, "axes_locked_out", False):
        # django-axes' middleware answers with accounts.views.locked_out.
        return locked_out(request, credentials={"caisse": caisse, "account_number": account_number})
    if result is None:
        left = settings.AXES_FAILURE_LIMIT - getattr(request, "axes_failures_since_start", 0)
        error = _("Identifiant ou code personnel incorrect.")
        if 0 < left < settings.AXES_FAILURE_LIMIT:
            error += " " + _(
                "Après %(limit)s erreurs, l’accès est bloqué pendant %(minutes)s minutes."
            ) % {
                "limit": settings.AXES_FAILURE_LIMIT,
                "minutes": lockout.minutes(lockout.identifier_lock_remaining(None)),
            }
        return _keypad_page(request, form, error=error)
    if isinstance(result, IneligibleCustomer):
        return render(
            request,
            "accounts/refused.html",
            {"reason": result.reason, "caisse": caisse},
            status=403,
        )

    login(request, result)
    response = redirect_to_next(request, home_url_for(result))
    remember.remember(response, caisse_code=caisse.code, account_number=account_number)
    return response


def locked_out(request, original_response=None, credentials=None, *args, **kwargs):
    """django-axes' lockout answer (AXES_LOCKOUT_CALLABLE): for how long, never why."""
    username = axes_username(request, credentials or {}) if credentials else None
    return _locked_page(request, lockout.identifier_lock_remaining(username))


@require_POST
def forget_identifier(request):
    response = redirect("accounts:login")
    remember.forget(response)
    messages.success(request, _("Votre identifiant a été oublié sur cet appareil."))
    return response


def help_view(request):
    """« Perdu / Oublié ? »: where the identifier and the personal code come from."""
    return render(
        request,
        "accounts/help.html",
        {
            "failure_limit": settings.AXES_FAILURE_LIMIT,
            "lock_minutes": lockout.minutes(lockout.identifier_lock_remaining(None)),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def settings_view(request):
    # Not `request.POST or None`: unticking the only checkbox posts an empty form.
    data = request.POST if request.method == "POST" else None
    form = SettingsForm(data, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Vos paramètres ont été enregistrés."))
        return redirect("accounts:settings")
    return render(request, "accounts/settings.html", {"form": form})


@require_POST
def logout_view(request):
    logout(request)
    return redirect("home")
