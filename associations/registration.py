"""The registration wizard: « Association ? Créez votre compte ».

The president authenticates with the association's account number and their own personal
code (the bank's provider checks it against the people allowed to manage the account), which
logs the association's user in and creates the draft file pre-filled from the bank. Each step
then writes to that draft row, so progress survives a logout; the review page submits it.
"""

import math
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods
from django_ratelimit.decorators import ratelimit

from accounts.backends import IneligibleCustomer
from accounts.keypad import decode, new_layout
from associations import forms, services
from associations.models import Association, StatusChange

KEYPAD_PURPOSE = "register"


@dataclass(frozen=True)
class Step:
    slug: str
    title: str
    form_class: type


STEPS = [
    Step("identite", gettext_lazy("Identité"), forms.IdentityForm),
    Step("presentation", gettext_lazy("Présentation"), forms.PresentationForm),
    Step("activite", gettext_lazy("Activité et agence"), forms.ActivityForm),
    Step("adresse", gettext_lazy("Adresse et position"), forms.AddressForm),
]
STEPS_BY_SLUG = {s.slug: s for s in STEPS}


def start(request):
    """« Association ? Créez votre compte »: the choice of how to register."""
    association = _own_association(request)
    return render(request, "associations/registration/start.html", {"association": association})


@require_http_methods(["GET", "POST"])
@ratelimit(
    group="associations.register",
    key="ip",
    rate=lambda group, request: settings.LOGIN_RATE_PER_ADDRESS,
    method="POST",
    block=False,
)
def authenticate_association(request):
    form = forms.RegistrationAuthForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and getattr(request, "limited", False):
        form.is_valid()
        form.add_error(None, _("Trop de tentatives depuis cette adresse. Réessayez plus tard."))
    elif request.method == "POST" and form.is_valid():
        response = _authenticate(request, form)
        if response is not None:
            return response
    layout = new_layout(request, KEYPAD_PURPOSE)
    return render(
        request,
        "associations/registration/auth.html",
        {"form": form, "layout": layout},
        status=400 if form.errors else 200,
    )


def _authenticate(request, form):
    caisse = form.cleaned_data["caisse"]
    account_number = form.cleaned_data["account_number"]
    # The layout is consumed whichever way the code came (each display, one post).
    code = decode(request, form.cleaned_data["positions"], KEYPAD_PURPOSE)
    if form.cleaned_data["code"]:
        code = form.cleaned_data["code"]  # filled or pasted in the field: 6 ASCII digits
    if code is None:
        form.add_error("positions", _("Le code n’a pas pu être lu : saisissez-le à nouveau."))
        return None
    # Through django.contrib.auth so django-axes counts failures and locks the identifier
    # exactly as on the login page (its middleware answers with the lockout page).
    user = authenticate(request, caisse=caisse, account_number=account_number, code=code)
    if (
        isinstance(user, IneligibleCustomer)
        and user.identity.is_association
        and user.identity.is_societaire
    ):
        # The right code, but no online banking: the same refusal as the login page. (Not a
        # sociétaire, or not an association's account, is told on the form below.)
        return render(
            request,
            "accounts/refused.html",
            {"reason": user.reason, "caisse": caisse},
            status=403,
        )
    if user is None:
        form.add_error(
            None,
            _(
                "Numéro de compte ou code personnel incorrect. Après 3 essais infructueux, "
                "l’accès est bloqué pendant quelques minutes."
            ),
        )
        return None
    try:
        association = services.start_registration(caisse=caisse, identity=user.identity, user=user)
    except services.NotEligible as exc:
        form.add_error(None, str(exc))
        return None
    login(request, user)
    if association.status in services.EDITABLE_STATUSES:
        return redirect(_first_incomplete_step_url(association))
    messages.info(
        request,
        _("L’association « %(name)s » est déjà inscrite : voici son espace.")
        % {"name": association.name},
    )
    return redirect("associations:space")


@login_required
@require_http_methods(["GET", "POST"])
def step(request, slug):
    step = STEPS_BY_SLUG.get(slug)
    if step is None:
        raise Http404
    association, response = _editable_association(request)
    if response:
        return response
    form = step.form_class(request.POST if request.method == "POST" else None, instance=association)
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in step.form_class.Meta.fields}
        try:
            services.save_registration_step(association=association, fields=fields)
        except services.InvalidTransition as exc:
            messages.error(request, str(exc))
            return redirect("associations:space")
        return redirect(_next_url(step))
    index = STEPS.index(step)
    context = {
        "association": association,
        "form": form,
        "step": step,
        "steps": STEPS,
        "step_number": index + 1,
        "previous": STEPS[index - 1] if index else None,
    }
    if step.slug == "adresse":
        context["map_config"] = _map_config(association, form)
    return render(
        request,
        "associations/registration/step.html",
        context,
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def review(request):
    association, response = _editable_association(request)
    if response:
        return response
    form = forms.DeclarationForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.submit_registration(association=association, actor=request.user)
        except services.IncompleteRegistration as exc:
            form.add_error(None, str(exc))
        except services.InvalidTransition as exc:
            messages.error(request, str(exc))
            return redirect("associations:space")
        else:
            messages.success(
                request,
                _(
                    "Votre inscription est envoyée. Le service Tookets de votre Caisse régionale "
                    "va la vérifier ; vous recevrez un e-mail."
                ),
            )
            return redirect("associations:space")
    return render(
        request,
        "associations/registration/review.html",
        {
            "association": association,
            "form": form,
            "steps": STEPS,
            "problems": services.registration_problems(association),
            "correction": _last_correction(association),
        },
        status=400 if form.errors else 200,
    )


# --- Helpers --------------------------------------------------------------------------------


def _own_association(request) -> Association | None:
    user = request.user
    if not user.is_authenticated or user.kind != user.Kind.ASSOCIATION:
        return None
    return (
        Association.objects.select_related("caisse_regionale", "caisse_locale")
        .filter(user=user)
        .first()
    )


def _editable_association(request):
    """The logged-in association's file while it may be edited, or a redirect explaining why not."""
    if request.user.kind != request.user.Kind.ASSOCIATION:
        messages.error(
            request,
            _(
                "L’inscription se fait avec le compte de l’association : identifiez-vous avec "
                "son numéro de compte."
            ),
        )
        return None, redirect("associations:register")
    association = _own_association(request)
    if association is None:
        return None, redirect("associations:register_auth")
    if association.status not in services.EDITABLE_STATUSES:
        messages.info(
            request, _("Le dossier a déjà été envoyé : il ne peut pas être modifié pour l’instant.")
        )
        return None, redirect("associations:space")
    return association, None


def _next_url(step: Step) -> str:
    index = STEPS.index(step)
    if index + 1 < len(STEPS):
        return reverse("associations:register_step", args=[STEPS[index + 1].slug])
    return reverse("associations:register_review")


def _first_incomplete_step_url(association: Association) -> str:
    for s in STEPS:
        if not s.form_class(data=_instance_data(association, s), instance=association).is_valid():
            return reverse("associations:register_step", args=[s.slug])
    return reverse("associations:register_review")


def _instance_data(association: Association, s: Step) -> dict:
    data = {}
    for name in s.form_class.Meta.fields:
        field = Association._meta.get_field(name)
        value = field.value_from_object(association)
        data[name] = "" if value is None else value
    return data


def _last_correction(association: Association):
    if association.status != Association.Status.CORRECTION_REQUESTED:
        return None
    return (
        association.history.filter(event=StatusChange.Event.CORRECTION_REQUESTED)
        .order_by("-created_at", "-id")
        .first()
    )


def _map_config(association: Association, form) -> dict:
    cr = association.caisse_regionale
    lat = form["latitude"].value()
    lng = form["longitude"].value()
    try:
        marker = (
            [float(lat), float(lng)] if lat not in (None, "") and lng not in (None, "") else None
        )
    except (TypeError, ValueError):
        marker = None
    if marker and not all(math.isfinite(x) for x in marker):  # « nan », « inf »: no marker
        marker = None
    # The marker starts at the local bank chosen at the previous step (the association is
    # usually near its agency), else at the regional bank's centre.
    local = association.caisse_locale
    center = [local.latitude, local.longitude] if local else [cr.center_lat, cr.center_lng]
    return {
        "center": center,
        "local": bool(local),
        "bounds": [[cr.min_lat, cr.min_lng], [cr.max_lat, cr.max_lng]],
        "marker": marker,
        "tiles": settings.MAP_TILES_URL,
        "attribution": settings.MAP_TILES_ATTRIBUTION,
    }
