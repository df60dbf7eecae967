"""Projects' pages: the association's (list, propose, correct, tell the outcome), the
members' (a project's page; the association's page lists them) and the photos."""

import functools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from associations import projects
from associations.directory import directory_state, visible_row
from associations.models import Association, DirectoryVersion, Project, ProjectEvent
from associations.project_forms import OutcomeForm, ProjectForm
from associations.selectors import associations_visible_to
from associations.services import WorkflowError
from associations.space import own_association
from cagnotte.figures import progress_of, with_progress
from caisses.staff import is_bank_staff, may_act_on
from tookets.compiled import PLACEHOLDERS
from tookets.db_router import read_connection
from tookets.fragments import kept_html
from tookets.http import MAX_ID_DIGITS

# Stand for the association's and the project's ids in ``_project_sql`` (no id is negative).
_ASSOCIATION, _PROJECT = PLACEHOLDERS[:2]  # tookets.compiled's sentinels


@functools.cache
def _project_sql() -> tuple[str, tuple]:
    """``project_with_version``'s statement, compiled once per process from the ORM (the rule
    ``Project.objects.shown`` and ``with_progress``) with ``_ASSOCIATION`` and ``_PROJECT`` in
    the ids' places: compiling it took longer than running it. The directory's version comes
    first, read in the same statement, so on a row of its own when the project is not shown."""
    query = with_progress(
        Project.objects.shown().filter(association_id=_ASSOCIATION, pk=_PROJECT)
    ).order_by()
    sql, params = query.query.sql_with_params()
    sql = (
        f"SELECT v.version AS directory_version, p.* FROM {DirectoryVersion._meta.db_table} v "
        f"LEFT JOIN ({sql}) p ON TRUE WHERE v.id = 1"
    )
    return sql, tuple(params)


def project_with_version(association_id: int, project_id: int, *, day):
    """``(the directory's version, the project)``: the project members see (accepted) of
    this association with its progress, or None; the version None when its row is gone. One
    query, from the database the directory's version is read from (``read_connection``)."""
    sql, compiled = _project_sql()
    ids = {_ASSOCIATION: association_id, _PROJECT: project_id}
    params = [ids.get(value, value) for value in compiled]
    alias = read_connection(DirectoryVersion).alias
    row = next(iter(Project.objects.db_manager(alias).raw(sql, params)), None)
    if row is None:
        return None, None
    if row.pk is None:
        return row.directory_version, None
    row.progress = progress_of(row)
    row.live = row.ends_on >= day
    return row.directory_version, row


def _check_ids(*ids) -> None:
    """Ids from the path: one past the database's integers is « not found »."""
    if any(len(str(value)) > MAX_ID_DIGITS for value in ids):
        raise Http404


# --- The association's side -----------------------------------------------------------------


def _own_project(request, project_id) -> Project:
    _check_ids(project_id)
    association = own_association(request)
    project = (
        Project.objects.select_related("association", "program")
        .filter(pk=project_id, association=association)
        .first()
    )
    if project is None:
        raise Http404
    return project


@login_required
@require_GET
def space_projects(request):
    association = own_association(request)
    rows = list(
        projects.with_outcome_allowed(
            with_progress(Project.objects.filter(association=association))
        )
        .select_related("program")
        .order_by("-created_at", "-id")
    )
    last_words = {}
    for event in (
        # The staff's last word on each project (a correction asked, a refusal).
        ProjectEvent.objects.filter(project__in=rows)
        .exclude(message="")
        .exclude(actor=request.user)
        .order_by("created_at", "id")
    ):
        last_words[event.project_id] = event
    today = timezone.localdate()
    for project in rows:
        project.progress = progress_of(project)
        project.live = project.ends_on >= today
        project.last_word = last_words.get(project.pk)
        project.editable = project.status in projects.EDITABLE_STATUSES
    can_propose = (
        association.status == Association.Status.VALIDATED
        and projects.project_programs(association).exists()
    )
    return render(
        request,
        "associations/projects_space.html",
        {"association": association, "projects": rows, "can_propose": can_propose},
    )


@login_required
def project_new(request):
    association = own_association(request)
    programs = projects.project_programs(association)
    form = ProjectForm(request.POST or None, request.FILES or None, programs=programs)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            projects.submit_project(
                association=association,
                actor=request.user,
                program=data["program"],
                title=data["title"],
                text=data["text"],
                goal=data["goal"],
                ends_on=data["ends_on"],
                photo=data["photo"],
            )
        except WorkflowError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Projet envoyé : la Caisse régionale va le vérifier."))
            return redirect("associations:projects")
    return _form_page(request, form, title=_("Proposer un projet"))


@login_required
def project_edit(request, project_id):
    project = _own_project(request, project_id)
    if project.status not in projects.EDITABLE_STATUSES:
        messages.error(request, _("Ce projet a déjà été décidé : il ne peut plus être modifié."))
        return redirect("associations:projects")
    programs = projects.project_programs(project.association)
    initial = {
        "program": project.program_id,
        "title": project.title,
        "text": project.text,
        "goal": project.goal,
        "ends_on": project.ends_on,
    }
    form = ProjectForm(
        request.POST or None, request.FILES or None, programs=programs, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        photo = data.pop("photo")
        try:
            projects.update_project(project=project, actor=request.user, fields=data, photo=photo)
        except WorkflowError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Projet envoyé : la Caisse régionale va le vérifier."))
            return redirect("associations:projects")
    return _form_page(request, form, title=_("Modifier le projet « %s »") % project.title)


@login_required
def project_outcome(request, project_id):
    project = _own_project(request, project_id)
    if not projects.outcome_allowed(project):
        messages.error(
            request, _("Vous pourrez raconter ce que vous en avez fait après le versement.")
        )
        return redirect("associations:projects")
    form = OutcomeForm(
        request.POST or None,
        request.FILES or None,
        initial={"outcome_text": project.outcome_text},
    )
    if request.method == "POST" and form.is_valid():
        try:
            projects.submit_outcome(
                project=project,
                actor=request.user,
                text=form.cleaned_data["outcome_text"],
                photo=form.cleaned_data["outcome_photo"],
            )
        except WorkflowError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Envoyé : la Caisse régionale va le vérifier."))
            return redirect("associations:projects")
    return _form_page(request, form, title=_("Ce que nous en avons fait : %s") % project.title)


def _form_page(request, form, *, title):
    return render(
        request,
        "associations/project_form.html",
        {"form": form, "title": title},
        status=400 if form.errors else 200,
    )


# --- The members' side ----------------------------------------------------------------------


@login_required
@require_GET
def project_detail(request, pk, project_id):
    """A project's page, for a member who may see its association (else 404)."""
    _check_ids(pk, project_id)
    # The project with the directory's version, read together; then whether the member sees
    # the association: the directory's answer kept under its state (as on its page).
    day = timezone.localdate()
    version, project = project_with_version(pk, project_id, day=day)
    _version, day, state = directory_state(request.user, version=version, day=day)
    row = visible_row(request.user, pk, state=state, day=day)
    if row is None or project is None:
        raise Http404
    association = {"pk": row["pk"], "name": row["name"]}
    # Rendered once per what it shows: every field ``_project_content.html`` reads is in the key.
    shown = (
        association["pk"],
        association["name"],
        project.pk,
        project.title,
        project.ends_on,
        project.goal,
        int(project.raised),
        project.live,
        bool(project.photo),
        project.text,
        project.outcome_status,
        bool(project.outcome_photo),
        project.outcome_text,
    )
    content = kept_html(
        "associations/_project_content.html",
        state=shown,
        context=lambda: {"association": association, "project": project},
    )
    return render(
        request,
        "associations/project_detail.html",
        {"project": project, "content": mark_safe(content)},
    )


@login_required
@require_GET
def project_photo(request, project_id, which="photo"):
    """A project's photo (``which``: the project's or its outcome's), already re-encoded and
    resized on upload; shown to the association, its bank's staff, and members who see it."""
    _check_ids(project_id)
    project = Project.objects.select_related("association").filter(pk=project_id).first()
    if project is None or not _may_see_photo(request.user, project, which):
        raise Http404
    field = project.photo if which == "photo" else project.outcome_photo
    if not field:
        raise Http404
    try:
        handle = field.open("rb")
    except OSError:
        raise Http404 from None
    response = FileResponse(handle, content_type="image/jpeg")
    # Cache-Control: the middleware's « private, no-store », as every page made for someone.
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _may_see_photo(user, project: Project, which: str) -> bool:
    if project.association.user_id == user.pk:
        return True
    if is_bank_staff(user) and may_act_on(user, project.association.caisse_regionale_id):
        return True
    published = project.status == Project.Status.ACCEPTED and (
        which == "photo" or project.outcome_status == Project.OutcomeStatus.ACCEPTED
    )
    return published and associations_visible_to(user).filter(pk=project.association_id).exists()
