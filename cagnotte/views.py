import json
import re
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from associations.directory import directory_state, visible_row
from associations.models import Association, Project
from cagnotte import matching
from cagnotte.figures import figures_from_rows, read_figure_rows
from cagnotte.forms import GiveForm, new_give_token
from cagnotte.ledger import (
    InsufficientBalance,
    InvalidAmount,
    LedgerYearMissing,
    NotEligible,
    WalletBusy,
)
from cagnotte.models import LedgerEntry
from cagnotte.selectors import (
    balance_after,
    givable_wallets_of,
    give_page_state,
    history_of,
    history_page,
    public_results,
    wallet_state,
    wallets_of,
)
from cagnotte.services import give_tookets
from caisses.models import CaisseRegionale
from tookets.db_router import replica_reads
from tookets.fragments import kept_html, render_fragment
from tookets.http import MAX_ID_DIGITS, int_or_none
from tookets.periods import current_period

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
    day = timezone.localdate()
    page_number = request.GET.get("page")

    state = wallet_state(member)

    def context():
        wallets = wallets_of(member, period=period, day=day)
        history = history_page(
            member, count=state[1], number=page_number, per_page=HISTORY_PAGE_SIZE
        )
        history_rows = [_history_row(entry) for entry in history]
        # The figures are the campaigns a member can still give in (or soon will); a closed
        # one holding a balance says where it goes at the sweep; a swept one has left them.
        current = [w for w in wallets if not w.campaign.is_over and not w.campaign.is_closed]
        closing = [w for w in wallets if w.campaign.is_closed and w.balance > 0]
        over = [w for w in wallets if w.campaign.is_over]
        for w in over:  # the sweep's entry is a debit: what went, as a positive amount
            w.swept_out = -(w.swept_amount or 0)
        return {
            # Open, its end near (the reminder is due): where the balance will go.
            "year_end": [w for w in current if w.campaign.is_open and w.year_end and w.balance],
            "has_wallets": bool(wallets),
            "wallets": current,
            "closing": closing,
            "over": over,
            "history": history,
            "history_rows": history_rows,
            "left_to_give": sum(w.balance for w in current if w.campaign.is_open),
        }

    content = render_fragment(
        request,
        "cagnotte/_wallet_content.html",
        state=(state, period, day, page_number),
        context=context,
    )
    return render(request, "cagnotte/wallet.html", {"content": content})


def _history_row(entry) -> str:
    """One row of the history, rendered once per process for what it shows (an entry never
    changes; the names it shows may): a wallet page after a gift renders its new rows only."""
    shown = (
        entry.pk,
        entry.kind,
        entry.period,
        entry.amount,
        entry.created_at,
        entry.association.name if entry.association_id else None,
        entry.wallet.program.label,
        entry.matched,
    )
    return mark_safe(
        kept_html("cagnotte/_history_row.html", state=shown, context=lambda: {"e": entry})
    )


def _visible_association(member, association_id, *, figures: bool = True):
    """The association if the member may see it (so give to it), else None: its row as the
    directory keeps it under its state (``visible_row``, the one rule), with its card
    figures (``figures``) read in the same statement as the directory's version
    (``read_figure_rows``) — no ORM query to compile, on a page every gift goes through.

    An unsaved ``Association`` with the fields the gift page and the matching rules read
    (``matching.ASSOCIATION_FIELDS``), and its ``figures``."""
    pk = int_or_none(str(association_id))  # the path's int, or what a form posted
    if pk is None:
        return None
    day = timezone.localdate()
    version, rows = None, ()
    if figures:
        version, rows = read_figure_rows([pk], year=day.year, day=day, with_version=True)
    version, day, state = directory_state(member, version=version, day=day)
    row = visible_row(member, pk, state=state, day=day)
    if row is None:
        return None
    association = Association(
        id=row["pk"],
        name=row["name"],
        city=row["city"],
        domain_id=row["domain_id"],
        activity_id=row["activity_id"],
        caisse_locale_id=row["caisse_locale_id"],
    )
    if figures:
        association.figures = figures_from_rows([pk], rows)[0][pk]
    return association


# In the gift page's cached fragment, each form's one-time token: replaced by a fresh token
# on every display. User data cannot write it: the fragment's variables are escaped, and « < »
# with them.
GIVE_TOKEN_PLACEHOLDER = "<give-token:{wallet_id}>"
_GIVE_TOKEN = re.compile(r"<give-token:(\d+)>")


def _program_asked(request) -> int | None:
    """A link for one program (``?programme=<id>``): its id, or 404 when it is no id."""
    if "programme" not in request.GET:
        return None
    program_id = int_or_none(request.GET["programme"])
    if program_id is None:
        raise Http404
    return program_id


def _project_asked(request, association_id: int, program_id: int | None):
    """A link for one project (``?projet=<id>``, « J'aide ce projet »): the live project of
    this association, and its program (which must be the one asked, if any); 404 otherwise."""
    if "projet" not in request.GET:
        return None, program_id
    project_id = int_or_none(request.GET["projet"])
    project = (
        Project.objects.live_on(timezone.localdate())
        .filter(pk=project_id, association_id=association_id)
        .first()
        if project_id is not None
        else None
    )
    if project is None or program_id not in (None, project.program_id):
        raise Http404
    return project, project.program_id


def _matching_of(member, association, wallets) -> dict:
    """``{program id: FormPreview}``: the matching offers each wallet's gift would get."""
    if not wallets:
        return {}
    return matching.previews(
        member_id=member.pk,
        association={name: getattr(association, name) for name in matching.ASSOCIATION_FIELDS},
        program_ids={w.program_id for w in wallets},
    )


def _amount_or_none(value) -> int | None:
    text = str(value if value is not None else "").replace(" ", "")
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else None


def _give_context(
    member,
    association,
    *,
    program_id: int | None,
    token,
    posted=None,
    project=None,
    offers: bool = True,
) -> dict:
    """What the gift page shows, shown (GET) or shown again after a failed post: the
    association and its figures, one form per wallet that can give to it (``program_id``: that
    program's only; the caller checked that the association is enrolled in it).

    ``token(wallet)``: the form's one-time token. ``posted``: the form that failed, shown in
    its wallet's place with its errors; when no wallet shown is the posted one (empty,
    closed, another program), the page says so (``posted_elsewhere``). ``offers``: whether
    the member's programs have matching offers at all (the page's state says; False spares
    the query): each form then says what its gift would get (« sera complété de »).
    """
    wallets = givable_wallets_of(member, association_id=association.pk)
    if program_id is not None:
        wallets = [w for w in wallets if w.program_id == program_id]
    form_kwargs = {"member_id": member.pk, "association_id": association.pk}
    previews = _matching_of(member, association, wallets) if offers else {}
    forms = []
    for w in wallets:
        if posted is not None and posted.data.get("wallet") == str(w.pk):
            form = posted
        else:
            form = GiveForm(initial={"wallet": w.pk, "amount": w.balance}, **form_kwargs)
        item = {"wallet": w, "form": form, "token": token(w)}
        preview = previews.get(w.program_id)
        if preview is not None:
            item["matching"] = preview
            item["matching_adds"] = preview.adds(_amount_or_none(form["amount"].value()))
            item["matching_offers"] = json.dumps(
                [[o.ratio_matched, o.ratio_given, o.limit] for o in preview.offers]
            )
        forms.append(item)
    context = {
        "association": association,
        "figures": association.figures,
        "forms": forms,
        "project": project,
    }
    if posted is not None:
        posted_elsewhere = not any(item["form"] is posted for item in forms)
        context.update(
            posted=posted,
            posted_elsewhere=posted_elsewhere,
            has_errors=bool(posted.errors) or posted_elsewhere,
        )
    return context


def _give_page(request, member, association_id: int):
    """The gift page on display: its content is a cached fragment named by
    ``give_page_state`` (one small query), with the tokens and the CSRF token put in per
    display. The association and the wallets are read only when that state is new."""
    program_id = _program_asked(request)
    if len(str(association_id)) > MAX_ID_DIGITS:  # out of the database's integers
        raise Http404
    project, program_id = _project_asked(request, association_id, program_id)
    day = timezone.localdate()
    state = give_page_state(member, association_id=association_id, year=day.year)

    def context():
        # A page that is not there (404) raises here and is never cached.
        association = _visible_association(member, association_id)
        if association is None:
            raise Http404
        if (
            program_id is not None
            and not association.enrollments.filter(program_id=program_id).exists()
        ):
            raise Http404
        return _give_context(
            member,
            association,
            program_id=program_id,
            token=lambda w: mark_safe(GIVE_TOKEN_PLACEHOLDER.format(wallet_id=w.pk)),
            project=project,
            offers=not state[2].startswith("0:"),
        )

    content = render_fragment(
        request,
        "cagnotte/_give_content.html",
        # Whose page (the member: their wallets; their bank: what they may see), of what, on
        # which day (programs open and close by date), and the state of all it shows.
        state=(
            member.pk,
            member.caisse_regionale_id,
            association_id,
            program_id,
            day,
            state,
            (project.pk, project.title) if project else None,
        ),
        context=context,
    )
    # A fresh token per display, signed for this member, association and wallet.
    content = _GIVE_TOKEN.sub(
        lambda match: new_give_token(
            member_id=member.pk, association_id=association_id, wallet_id=int(match[1])
        ),
        content,
    )
    return render(request, "cagnotte/give.html", {"content": mark_safe(content)})


@member_required
def give(request, association_id):
    """« J'AIDE L'ASSOCIATION »: one form per program with Tookets left (default: all of it)."""
    member = request.user
    if request.method != "POST":
        return _give_page(request, member, association_id)
    # A post: the form again (with its errors) unless the gift was made. The figures and the
    # wallets are read only to show the form again: a gift made needs neither.
    association = _visible_association(member, association_id, figures=False)
    if association is None:
        return render(request, "cagnotte/give_refused.html", status=400)
    program_id = _program_asked(request)
    project, program_id = _project_asked(request, association.pk, program_id)
    if (
        program_id is not None
        and not association.enrollments.filter(program_id=program_id).exists()
    ):
        raise Http404
    posted = GiveForm(request.POST, member_id=member.pk, association_id=association.pk)
    if posted.is_valid():
        try:
            # The service queues the receipt of a gift it made (a replay lands on the same
            # receipt page, and queues nothing).
            entry = give_tookets(
                member=member,
                wallet_id=posted.cleaned_data["wallet"],
                association_id=association.pk,
                amount=posted.cleaned_data["amount"],
                token=posted.cleaned_data["one_time"],
                project_id=project.pk if project else None,
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
            posted.add_error(None, WalletBusy.message)
        except LedgerYearMissing as exc:
            posted.add_error(None, exc.message)
        else:
            if entry.matching is not None and not entry.matching.amount:
                # The offer took the gift but its budget (or a cap) left nothing: no matching
                # entry exists for the receipt to show, so it is said here, once.
                messages.info(
                    request,
                    _(
                        "L’abondement « %(name)s » n’a rien ajouté à ce don : son budget "
                        "ou un plafond est atteint."
                    )
                    % {"name": entry.matching.offer_name},
                )
            return redirect("cagnotte:gift_receipt", entry_id=entry.pk)
    association = _visible_association(member, association.pk)
    if association is None:  # no longer visible since the post began
        return render(request, "cagnotte/give_refused.html", status=400)
    # A fresh token per display; a post that failed gave nothing with its token.
    context = _give_context(
        member,
        association,
        program_id=program_id,
        token=lambda w: new_give_token(
            member_id=member.pk, association_id=association.pk, wallet_id=w.pk
        ),
        posted=posted,
        project=project,
    )
    status = 400 if context["posted_elsewhere"] else 200
    return render(request, "cagnotte/give.html", context, status=status)


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
            "matching": matching.match_of(entry) if entry.matched else None,
            "wallet": entry.wallet,
            "left": balance_after(entry),
            "accepts_emails": request.user.recap_emails and bool(request.user.email),
        },
    )


@replica_reads
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
