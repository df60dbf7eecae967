from django.shortcuts import render


def home(request):
    """Public home: what Tookets and the sociétariat are, « Se connecter », « Association ? »."""
    return render(request, "home.html")


def how_it_works(request):
    """« Comment ça marche », from the user guide: earning, favourite, giving, registering,
    closing."""
    return render(request, "how_it_works.html")


def too_many_requests(request, exception=None):
    """django-ratelimit's view for a limit hit: the site's 429 page, in French."""
    return render(request, "429.html", status=429)
