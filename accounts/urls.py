from django.urls import path

from accounts import views

app_name = "accounts"
urlpatterns = [
    path("connexion/", views.login_view, name="login"),
    path("deconnexion/", views.logout_view, name="logout"),
    path("parametres/", views.settings_view, name="settings"),
]
