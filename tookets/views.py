from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static


def home(request):
    """Public home: what Tookets and the sociétariat are, « Se connecter », « Association ? »."""
    return render(request, "home.html")


def favicon(request):
    """Browsers that ask /favicon.ico get the SVG icon. Resolved per request, not at import:
    in production the static manifest gives the file its hashed name."""
    return redirect(static("favicon.svg"))


# The staff admin and the probes are nobody's business. A member's page answers a robot with
# the login page, so listing them here would add nothing (and Lighthouse's SEO audit would
# count a page blocked by robots.txt against it).
ROBOTS_TXT = """User-agent: *
Disallow: /admin/
Disallow: /sante/
Disallow: /csp-report/
"""


def robots_txt(request):
    return HttpResponse(ROBOTS_TXT, content_type="text/plain; charset=utf-8")


def how_it_works(request):
    """« Comment ça marche », from the user guide: earning, favourite, giving, registering,
    closing."""
    return render(request, "how_it_works.html")


def too_many_requests(request, exception=None):
    """django-ratelimit's view for a limit hit: the site's 429 page, in French."""
    return render(request, "429.html", status=429)
