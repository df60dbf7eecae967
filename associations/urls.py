from django.urls import include, path

from associations import views

app_name = "associations"
urlpatterns = [
    path("", include("associations.urls_registration")),  # registration wizard, space
    path("associations/", views.directory, name="directory"),
    path("associations/carte.json", views.map_data, name="map_data"),
    path("associations/<int:pk>/", views.detail, name="detail"),
    path("associations/<int:pk>/fiche/", views.card, name="card"),
    path("favoris/", views.favourites, name="favourites"),
    path("favoris/choisir/", views.set_favourite, name="set_favourite"),
]
