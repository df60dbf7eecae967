from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST


def login_view(request):
    # Placeholder until the login issue lands (virtual keypad, lockout).
    return render(request, "accounts/login.html")


@login_required
def settings_view(request):
    return render(request, "accounts/settings.html")


@require_POST
def logout_view(request):
    logout(request)
    return redirect("home")


def locked_out(request, credentials, *args, **kwargs):
    return render(request, "accounts/locked_out.html", status=429)
