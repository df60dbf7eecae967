"""The thank-you's pages: the association writes (and sees how many it reached), the member
reads « Messages de vos associations » and may stop one association's messages."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from associations import thanks
from associations.models import Association, ThankYou
from associations.project_forms import PhotoField
from associations.services import WorkflowError
from cagnotte.campaigns import Program
from tookets.http import MAX_ID_DIGITS, int_or_none


class ThankYouForm(forms.Form):
    program = forms.ModelChoiceField(
        label=gettext_lazy("Campagne"),
        queryset=Program.objects.none(),
        empty_label=None,
        error_messages={"invalid_choice": gettext_lazy("Choisissez une campagne de la liste.")},
    )
    kind = forms.ChoiceField(
        label=gettext_lazy("Moment"),
        choices=ThankYou.Kind.choices,
        error_messages={"invalid_choice": gettext_lazy("Choisissez un moment de la liste.")},
    )
    text = forms.CharField(
        label=gettext_lazy("Votre message à vos soutiens"),
        max_length=3000,
        widget=forms.Textarea(attrs={"rows": 8}),
    )
    photo = PhotoField(
        label=gettext_lazy("Photo, si vous le souhaitez (JPEG, PNG ou WebP, 8 Mo au plus)"),
        required=False,
        widget=forms.FileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )

    def __init__(self, *args, programs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = programs


@login_required
def space_messages(request):
    user = request.user
    if user.kind != user.Kind.ASSOCIATION:
        raise PermissionDenied
    association = Association.objects.filter(user=user).first()
    if association is None:
        raise Http404
    programs = thanks.writable_programs(association).order_by("-year", "name")
    form = ThankYouForm(request.POST or None, request.FILES or None, programs=programs)
    if request.method == "POST" and form.is_valid():
        try:
            thanks.write_thank_you(
                association=association,
                actor=user,
                program=form.cleaned_data["program"],
                kind=form.cleaned_data["kind"],
                text=form.cleaned_data["text"],
                photo=form.cleaned_data["photo"],
            )
        except WorkflowError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Message envoyé : la Caisse régionale va le vérifier."))
            return redirect("associations:space_messages")
    return render(
        request,
        "associations/thanks_space.html",
        {
            "form": form,
            "thank_yous": association.thank_yous.select_related("program"),
            "can_write": association.status == Association.Status.VALIDATED,
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_GET
def member_messages(request):
    if not request.user.is_member:
        return render(request, "cagnotte/members_only.html", status=403)
    return render(
        request,
        "associations/thanks_member.html",
        {"thank_yous": thanks.messages_for(request.user)},
    )


@login_required
@require_POST
def stop_messages(request):
    if not request.user.is_member:
        return render(request, "cagnotte/members_only.html", status=403)
    association_id = int_or_none(request.POST.get("association"))
    try:
        if association_id is None:
            raise WorkflowError(_("Association inconnue."))
        thanks.stop_messages(member=request.user, association_id=association_id)
    except WorkflowError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Vous ne recevrez plus les messages de cette association."))
    return redirect("associations:messages")


@login_required
@require_GET
def thank_you_photo(request, thank_you_id):
    """A message's photo (re-encoded on upload), for those who may read the message."""
    if len(str(thank_you_id)) > MAX_ID_DIGITS:
        raise Http404
    thank_you = ThankYou.objects.select_related("association").filter(pk=thank_you_id).first()
    if (
        thank_you is None
        or not thank_you.photo
        or not thanks.may_see_photo(request.user, thank_you)
    ):
        raise Http404
    try:
        handle = thank_you.photo.open("rb")
    except OSError:
        raise Http404 from None
    response = FileResponse(handle, content_type="image/jpeg")
    response["X-Content-Type-Options"] = "nosniff"
    return response
