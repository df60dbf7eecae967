"""Login with the regional bank, the 11-digit identifier and the virtual keypad; settings.

The login has two steps on one URL. Step 1 posts the regional bank and the identifier; if they
are well formed, step 2 shows the keypad (a freshly shuffled layout, kept in the session) with
the identifier carried in hidden fields. Step 2 posts the positions typed (or the code a
password manager filled or a person pasted in the field beside the keypad); the server decodes
them with that layout (``keypad.read_code``) and asks ``django.contrib.auth.authenticate`` — so
django-axes sees every failure and locks the identifier after 3 wrong codes, whichever way in.
"""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import emails, keypad, lockout, remember, selectors, services
from accounts.backends import IneligibleCustomer, axes_username
from accounts.forms import IdentifierForm, SettingsForm
from accounts.models import User
from cagnotte.ledger import LedgerYearMissing, NotEligible, WalletBusy
from caisses.models import CaisseRegionale
from tookets.fragments import kept_html, with_csrf
from tookets.http import redirect_to_next, safe_next

KEYPAD_PURPOSE = "login"
SETTINGS_CONTENT = "accounts/_settings_content.html"


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
        {
            "form": form,
            "step": "identifier",
            "remembered": remembered,
            "remember_identifier": remember.wanted(request),
            "next": safe_next(request),
        },
        status=status,
    )


def _keypad_page(request, form, *, error: str = "", code_error: str = "", status=200):
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
            "remember_identifier": remember.wanted(request),
            "code_error": code_error,
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

    entry = keypad.read_code(request, request.POST, purpose=KEYPAD_PURPOSE)
    if entry.code is None:
        # No layout in this session (a replayed post, an expired session, a second tab), an
        # incomplete code, a field that is not 6 digits, or both ways at once: nothing was
        # checked, show a fresh keypad.
        return _keypad_page(
            request, form, error=entry.keypad_error, code_error=entry.field_error, status=400
        )
    code = entry.code

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
    if remember.wanted(request):
        remember.remember(response, caisse_code=caisse.code, account_number=account_number)
    else:
        remember.forget(response)
    return response


def locked_out(request, original_response=None, credentials=None, *args, **kwargs):
    """django-axes' lockout answer (AXES_LOCKOUT_CALLABLE): for how long, never why."""
    username = axes_username(request, credentials or {}) if credentials else None
    return _locked_page(request, lockout.identifier_lock_remaining(username))


@require_POST
def forget_identifier(request):
    response = redirect_to_next(request, reverse("accounts:login"))
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
    """« Paramètres »: the recap emails, the remembered identifier, my data, closing."""
    # Not `request.POST or None`: unticking the only checkbox posts an empty form.
    data = request.POST if request.method == "POST" else None
    form = SettingsForm(data, instance=request.user)
    if request.method == "POST" and form.is_valid():
        services.set_recap_emails(member=request.user, accept=form.cleaned_data["recap_emails"])
        messages.success(request, _("Vos paramètres ont été enregistrés."))
        return redirect("accounts:settings")
    remembered = remember.recall(request)
    remembered_caisse = None
    if remembered:
        remembered_caisse = CaisseRegionale.objects.filter(code=remembered[0]).first()
    user = request.user
    context = {
        "form": form,
        "remembered": remembered,
        "remembered_caisse": remembered_caisse,
        "is_member": user.is_member,
    }
    if form.is_bound:  # a form in error quotes what was sent: rendered, never kept
        content = render_to_string(SETTINGS_CONTENT, context, request=request)
    else:
        # Rendered once per what it shows (the user's choice, the remembered identifier).
        state = (
            user.recap_emails,
            user.is_member,
            tuple(remembered or ()),
            remembered_caisse.name if remembered_caisse else None,
        )
        content = with_csrf(
            request, kept_html(SETTINGS_CONTENT, state=state, context=lambda: context)
        )
    return render(request, "accounts/settings.html", {"content": mark_safe(content)})


@login_required
@require_GET
def my_data(request):
    """« Télécharger mes données »: a ZIP of JSON and CSV files, the member's rows only."""
    if not request.user.is_member:
        raise Http404
    response = HttpResponse(selectors.member_data_zip(request.user), content_type="application/zip")
    response["Content-Disposition"] = 'attachment; filename="tookets-mes-donnees.zip"'
    response["Cache-Control"] = "no-store"
    return response


# --- One-click unsubscribe (RFC 8058) -------------------------------------------------------


@csrf_exempt  # the mail client posts here, without a session or a CSRF token (RFC 8058)
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    """GET: a confirmation page with a button; POST: unsubscribe, no login needed.

    A tampered or expired token gets a clear page and changes nothing.
    """
    try:
        claim = emails.read_unsubscribe_token(token)
    except signing.SignatureExpired:
        return render(request, "accounts/unsubscribe.html", {"state": "expired"}, status=400)
    except signing.BadSignature:
        return render(request, "accounts/unsubscribe.html", {"state": "invalid"}, status=400)
    if request.method == "GET":
        return render(request, "accounts/unsubscribe.html", {"state": "confirm", "token": token})
    result = services.unsubscribe(member_id=claim.member_id, signed_at=claim.signed_at)
    if result is None:
        return render(request, "accounts/unsubscribe.html", {"state": "stale"}, status=400)
    state = "closed" if result.closed else "done"
    return render(request, "accounts/unsubscribe.html", {"state": state})


# --- Account closure --------------------------------------------------------------------------

CLOSURE_CHOICES = "closure:choices"
CLOSURE_VERIFIED = "closure:verified"
CLOSURE_PURPOSE = "closure"
# The code typed on the keypad is good for one closure confirmation within this time.
CLOSURE_CODE_SECONDS = 10 * 60


def _closure_refused(request):
    """Associations (and staff) do not close from the site."""
    return render(request, "accounts/closure_association.html", status=403)


def _closure_choices(request) -> dict[int, str] | None:
    raw = request.session.get(CLOSURE_CHOICES)
    if not isinstance(raw, dict):
        return None
    return {int(k): v for k, v in raw.items()}


@login_required
@require_http_methods(["GET", "POST"])
def closure_start(request):
    """Step 1: what closing means, and what to do with each balance."""
    if not request.user.is_member:
        return _closure_refused(request)
    wallets = selectors.closure_wallets(request.user)
    errors = []
    if request.method == "POST":
        choices = {}
        for row in wallets:
            wallet = row["wallet"]
            value = request.POST.get(f"wallet_{wallet.pk}", "")
            if value == services.TO_FAVOURITE and row["receiver"] is not None:
                choices[str(wallet.pk)] = services.TO_FAVOURITE
            elif value == services.TO_BANK:
                choices[str(wallet.pk)] = services.TO_BANK
            else:
                row["error"] = _("Choisissez ce que deviennent ces Tookets.")
                errors.append(wallet.pk)
        if not errors:
            request.session[CLOSURE_CHOICES] = choices
            request.session.pop(CLOSURE_VERIFIED, None)
            return redirect("accounts:closure_code")
    return render(
        request,
        "accounts/closure.html",
        {"wallets": wallets, "posted": request.POST if request.method == "POST" else {}},
        status=400 if errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def closure_code(request):
    """Step 2: the personal code again, on the login's keypad or in the field beside it."""
    if not request.user.is_member:
        return _closure_refused(request)
    if _closure_choices(request) is None:
        return redirect("accounts:closure")
    member = request.user
    error = code_error = ""
    status = 200
    if request.method == "POST":
        remaining = lockout.address_lock_remaining(request)
        if remaining is not None:
            return _locked_page(request, remaining)
        entry = keypad.read_code(request, request.POST, purpose=CLOSURE_PURPOSE)
        code = entry.code
        if code is None:
            error, code_error = entry.keypad_error, entry.field_error
            status = 400
        else:
            result = authenticate(
                request,
                caisse=member.caisse_regionale,
                account_number=member.account_number,
                code=code,
            )
            if getattr(request, "axes_locked_out", False):
                logout(request)
                return locked_out(
                    request,
                    credentials={
                        "caisse": member.caisse_regionale,
                        "account_number": member.account_number,
                    },
                )
            if isinstance(result, User) and result.pk == member.pk:
                request.session[CLOSURE_VERIFIED] = int(time.time())
                return redirect("accounts:closure_confirm")
            lockout.count_address_failure(request)
            error = _("Code personnel incorrect.")
            status = 400
    return render(
        request,
        "accounts/closure_code.html",
        {
            "digits": keypad.new_layout(request, purpose=CLOSURE_PURPOSE),
            "keypad_error": error,
            "code_error": code_error,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def closure_confirm(request):
    """Step 3: the last confirmation, then one service closes the account."""
    if not request.user.is_member:
        return _closure_refused(request)
    choices = _closure_choices(request)
    verified = request.session.get(CLOSURE_VERIFIED)
    if choices is None:
        return redirect("accounts:closure")
    if not isinstance(verified, int) or time.time() - verified > CLOSURE_CODE_SECONDS:
        return redirect("accounts:closure_code")
    wallets = selectors.closure_wallets(request.user)
    for row in wallets:
        row["to_favourite"] = choices.get(row["wallet"].pk) == services.TO_FAVOURITE
    error = ""
    if request.method == "POST":
        if request.POST.get("confirm") != "yes":
            error = _("Cochez la case pour confirmer la clôture de votre compte.")
        else:
            try:
                services.close_account(member=request.user, choices=choices)
            except NotEligible:
                request.session.pop(CLOSURE_VERIFIED, None)
                messages.error(
                    request,
                    _(
                        "Votre association favorite ne peut plus recevoir ces Tookets. "
                        "Choisissez à nouveau ce qu’ils deviennent."
                    ),
                )
                return redirect("accounts:closure")
            except WalletBusy:
                # A credit import holds a wallet: nothing was closed; the same confirmation,
                # again in a moment.
                error = WalletBusy.message
            except LedgerYearMissing as exc:
                error = exc.message
            except services.AccountClosed:
                logout(request)
                return redirect("accounts:closed")
            else:
                logout(request)
                response = redirect("accounts:closed")
                remember.forget(response)
                return response
    return render(
        request,
        "accounts/closure_confirm.html",
        {"wallets": wallets, "error": error},
        status=400 if error else 200,
    )


def closed(request):
    """Shown once the account is closed (nobody is logged in any more)."""
    return render(request, "accounts/closed.html")


@require_POST
def logout_view(request):
    logout(request)
    return redirect("home")
