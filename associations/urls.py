from django.urls import path

from associations import views

app_name = "associations"
urlpatterns = [
    path("associations/", views.directory, name="directory"),
    path("favoris/", views.favourites, name="favourites"),
    path("association/inscription/", views.register, name="register"),
    path("association/espace/", views.space, name="space"),
]
