from django.urls import path

from accounts import views

app_name = "accounts"
urlpatterns = [
    path("connexion/", views.login_view, name="login"),
    path("connexion/oublier-identifiant/", views.forget_identifier, name="forget_identifier"),
    path("connexion/aide/", views.help_view, name="help"),
    path("deconnexion/", views.logout_view, name="logout"),
    path("parametres/", views.settings_view, name="settings"),
    path("parametres/mes-donnees/", views.my_data, name="my_data"),
    path("parametres/cloture/", views.closure_start, name="closure"),
    path("parametres/cloture/code/", views.closure_code, name="closure_code"),
    path("parametres/cloture/confirmer/", views.closure_confirm, name="closure_confirm"),
    path("compte-cloture/", views.closed, name="closed"),
    path("desabonnement/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
