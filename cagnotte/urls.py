from django.urls import path

from cagnotte import views

app_name = "cagnotte"
urlpatterns = [
    path("cagnotte/", views.wallet, name="wallet"),
    path("donner/<int:association_id>/", views.give, name="give"),
    path("donner/recu/<int:entry_id>/", views.gift_receipt, name="gift_receipt"),
    path("resultats/", views.results, name="results"),
    path("resultats/<slug:code>/", views.results, name="results_of"),
]
