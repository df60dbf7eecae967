from django.shortcuts import render


def home(request):
    """Public home: what Tookets is, « Se connecter », « Association ? Créez votre compte »."""
    return render(request, "home.html")
