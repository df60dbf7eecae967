from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def directory(request):
    return render(request, "associations/directory.html")


@login_required
def favourites(request):
    return render(request, "associations/favourites.html")


def register(request):
    return render(request, "associations/directory.html")


@login_required
def space(request):
    return render(request, "associations/directory.html")
