from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from accounts.emails import queue_gift_receipt
from associations.selectors import visible_association_or_none
from cagnotte.forms import GiveForm, new_give_token
from cagnotte.models import LedgerEntry
from cagnotte.selectors import (
    balance_after,
    current_period,
    givable_wallets,
    history_of,
    public_results,
    wallet_state,
    wallets_of,
)
from cagnotte.services import (
    InsufficientBalance,
    InvalidAmount,
    NotEligible,
    WalletBusy,
    give_tookets,
)
from caisses.models import CaisseRegionale
from tookets.fragments import render_fragment
from tookets.http import int_or_none

HISTORY_PAGE_SIZE = 20


def member_required(view):
    """Wallet pages are for members: associations and staff get a clear page, not an error."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_member:
            return render(request, "cagnotte/members_only.html", status=403)
        return view(request, *args, **kwargs)

    return wrapped


@member_required
def wallet(request):
    """« MA CAGNOTTE DE TOOKETS »: per program what came in this month and what is left.

    The page's content is a cached fragment named by ``wallet_state`` (two small queries):
    the wallets, the history and its pages are read only when that state is new.
    """
    member = request.user
    period = current_period()
    page_number = request.GET.get("page")

    def context():
        wallets = list(wallets_of(member, period=period))
        history = Paginator(history_of(member), HISTORY_PAGE_SIZE).get_page(page_number)
        left_to_give = sum(w.balance for w in wallets)
        return {"wallets": wallets, "history": history, "left_to_give": left_to_give}

    content = render_fragment(
        request,
        "cagnotte/_wallet_content.html",
        state=(wallet_state(member), period, page_number),
        context=context,
    )
    return render(request, "cagnotte/wallet.html", {"content": content})


def _visible_association(member, association_id):
    """The association if the member may give to it, with its card figures (one query)."""
    return visible_association_or_none(member, association_id=association_id, figures=True)


@member_required
def give(request, association_id):
    """« J'AIDE L'ASSOCIATION »: one form per program with Tookets left (default: all of it)."""
    member = request.user
    association = _visible_association(member, association_id)
    if association is None:
        if request.method == "POST":
            return render(request, "cagnotte/give_refused.html", status=400)
        raise Http404
    wallets = list(givable_wallets(member, association_id=association.pk))
    if "programme" in request.GET:
        # A link for one program (?programme=<id>): the association must be enrolled in it.
        program_id = int_or_none(request.GET["programme"])
        if program_id is None or not association.enrollments.filter(program_id=program_id).exists():
            raise Http404
        wallets = [w for w in wallets if w.program_id == program_id]
    form_kwargs = {"member_id": member.pk, "association_id": association.pk}
    posted = None
    if request.method == "POST":
        posted = GiveForm(request.POST, **form_kwargs)
        if posted.is_valid():
            try:
                entry = give_tookets(
                    member=member,
                    wallet_id=posted.cleaned_data["wallet"],
                    association_id=association.pk,
                    amount=posted.cleaned_data["amount"],
                    token=posted.cleaned_data["one_time"],
                )
            except InvalidAmount:
                posted.add_error("amount", _("Le montant doit être un nombre entier de Tookets."))
            except InsufficientBalance:
                posted.add_error(
                    "amount", _("Le montant dépasse les Tookets qu’il vous reste à distribuer.")
                )
            except NotEligible:
                posted.add_error(
                    None, _("Cette association ne peut pas recevoir les Tookets de ce programme.")
                )
            except WalletBusy:
                posted.add_error(
                    None,
                    _("Votre cagnotte est en cours de mise à jour, réessayez dans un instant"),
                )
            else:
                # A replayed post lands on the same receipt: it describes the one gift made,
                # and its email is claimed once per gift.
                queue_gift_receipt(entry_id=entry.pk)
                return redirect("cagnotte:gift_receipt", entry_id=entry.pk)
    forms = []
    for w in wallets:
        if posted is not None and posted.data.get("wallet") == str(w.pk):
            form = posted
        else:
            form = GiveForm(initial={"wallet": w.pk, "amount": w.balance}, **form_kwargs)
        # A fresh token per display; a post that failed gave nothing with its token.
        token = new_give_token(member_id=member.pk, association_id=association.pk, wallet_id=w.pk)
        forms.append({"wallet": w, "form": form, "token": token})
    status = 200
    if posted is not None and not any(entry["form"] is posted for entry in forms):
        # The posted wallet cannot give here (empty, closed, other program): say so.
        status = 400
    return render(
        request,
        "cagnotte/give.html",
        {
            "association": association,
            "figures": association.figures,
            "forms": forms,
            "posted_elsewhere": status == 400,
            "posted": posted,
            "has_errors": bool(posted is not None and posted.errors) or status == 400,
        },
        status=status,
    )


@member_required
def gift_receipt(request, entry_id):
    """After « VALIDER LA DEMANDE »: the gift is recorded (amount, association, what is left)."""
    entry = get_object_or_404(
        history_of(request.user).filter(kind=LedgerEntry.Kind.GIFT), pk=entry_id
    )
    return render(
        request,
        "cagnotte/gift_receipt.html",
        {
            "entry": entry,
            "amount": -entry.amount,
            "wallet": entry.wallet,
            "left": balance_after(entry),
            "accepts_emails": request.user.recap_emails and bool(request.user.email),
        },
    )


def results(request, code=None):
    """Public « Résultats » of a regional bank: this and past campaigns, no personal data.

    Without a code (or with ``?caisse=``), the page asks which regional bank.
    """
    caisses = list(CaisseRegionale.objects.order_by("name").only("code", "name"))
    by_code = {c.code: c for c in caisses}
    chosen = request.GET.get("caisse")
    if code is None and chosen is not None:  # the bank chosen in the list: its own URL
        if chosen not in by_code:
            raise Http404
        return redirect("cagnotte:results_of", code=chosen)
    caisse = None
    campaigns = []
    if code is not None:
        caisse = by_code.get(code)
        if caisse is None:
            raise Http404
        campaigns = public_results(caisse_regionale_id=caisse.pk)
    return render(
        request,
        "cagnotte/results.html",
        {"caisses": caisses, "caisse": caisse, "campaigns": campaigns},
    )
