from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def wallet(request):
    return render(request, "cagnotte/wallet.html")


@login_required
def give(request, association_id):
    return render(request, "cagnotte/wallet.html")
