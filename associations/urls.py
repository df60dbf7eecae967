from django.urls import include, path

from associations import project_views, views

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
urlpatterns += [
    path("association/espace/projets/", project_views.space_projects, name="projects"),
    path("association/espace/projets/nouveau/", project_views.project_new, name="project_new"),
    path(
        "association/espace/projets/<int:project_id>/",
        project_views.project_edit,
        name="project_edit",
    ),
    path(
        "association/espace/projets/<int:project_id>/compte-rendu/",
        project_views.project_outcome,
        name="project_outcome",
    ),
    path(
        "associations/<int:pk>/projets/<int:project_id>/",
        project_views.project_detail,
        name="project",
    ),
    path("projets/<int:project_id>/photo/", project_views.project_photo, name="project_photo"),
    path(
        "projets/<int:project_id>/photo-bilan/",
        project_views.project_photo,
        {"which": "outcome"},
        name="project_outcome_photo",
    ),
]
