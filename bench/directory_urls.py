"""The real URLs plus the benchmark's baseline: the cheapest Django view there is."""

from django.http import HttpResponse
from django.urls import include, path


def trivial(request):
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [
    path("bench/trivial/", trivial),
    path("", include("tookets.urls")),
]
