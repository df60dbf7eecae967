from django.urls import path

from accounts import views

app_name = "accounts"
urlpatterns = [
    path("connexion/", views.login_view, name="login"),
    path("connexion/oublier-identifiant/", views.forget_identifier, name="forget_identifier"),
    path("connexion/aide/", views.help_view, name="help"),
    path("deconnexion/", views.logout_view, name="logout"),
    path("parametres/", views.settings_view, name="settings"),
]
