from django.urls import include, path

from associations import views

app_name = "associations"
urlpatterns = [
    path("", include("associations.urls_registration")),  # registration wizard, space
    path("associations/", views.directory, name="directory"),
    path("favoris/", views.favourites, name="favourites"),
    path("association/inscription/", views.register, name="register"),
    path("association/espace/", views.space, name="space"),
]
