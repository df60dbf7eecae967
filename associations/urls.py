from django.urls import include, path

from associations import certificates, poster, project_views, thanks_views, views

app_name = "associations"
# The member's pages first: Django tries the patterns in order, and these are asked for most.
urlpatterns = [
    path("associations/", views.directory, name="directory"),
    path("associations/carte.json", views.map_data, name="map_data"),
    path("associations/<int:pk>/", views.detail, name="detail"),
    path("associations/<int:pk>/fiche/", views.card, name="card"),
    path("favoris/", views.favourites, name="favourites"),
    path("favoris/choisir/", views.set_favourite, name="set_favourite"),
    path("", include("associations.urls_registration")),  # registration wizard, space
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
urlpatterns += [
    path("association/espace/affiche.pdf", poster.poster, name="poster"),
    path("association/espace/qr.png", poster.qr, {"kind": "png"}, name="qr_png"),
    path("association/espace/qr.svg", poster.qr, {"kind": "svg"}, name="qr_svg"),
]
urlpatterns += [
    path(
        "association/espace/attestations/",
        certificates.space_certificates,
        name="certificates",
    ),
    path(
        "association/espace/attestations/<int:program_id>.pdf",
        certificates.certificate_pdf,
        name="certificate_pdf",
    ),
    path("attestation/", certificates.verify, name="certificate_verify"),
    path("attestation/<str:code>/", certificates.verify, name="certificate"),
]
urlpatterns += [
    path("association/espace/messages/", thanks_views.space_messages, name="space_messages"),
    path("messages/", thanks_views.member_messages, name="messages"),
    path("messages/arreter/", thanks_views.stop_messages, name="stop_messages"),
    path(
        "messages/<int:thank_you_id>/photo/",
        thanks_views.thank_you_photo,
        name="thank_you_photo",
    ),
]
