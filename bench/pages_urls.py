"""The real URLs plus the pages benchmark's baselines (only under bench.pages_settings)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import include, path


def trivial(request):
    return HttpResponse(b"ok", content_type="text/plain")


@login_required
def logged_in_text(request):
    """Session read, user loaded, a few bytes of text: the floor of any logged-in request."""
    return HttpResponse(f"ok {request.user.pk}".encode(), content_type="text/plain")


@login_required
def logged_in_base(request):
    """``base.html`` with no data: the floor of any logged-in page (menu, CSRF token, CSP)."""
    return render(request, "base.html", {})


urlpatterns = [
    path("bench/trivial/", trivial),
    path("bench/text/", logged_in_text),
    path("bench/base/", logged_in_base),
    path("", include("tookets.urls")),
]
