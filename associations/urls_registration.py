"""URLs of the registration wizard and the association's space.

Included first by ``associations/urls.py`` so these views answer for the names
``associations:register`` and ``associations:space`` (they replace the placeholders).
"""

from django.urls import path

from associations import registration, space

urlpatterns = [
    path("association/inscription/", registration.start, name="register"),
    path(
        "association/inscription/identification/",
        registration.authenticate_association,
        name="register_auth",
    ),
    path(
        "association/inscription/recapitulatif/",
        registration.review,
        name="register_review",
    ),
    path("association/inscription/<slug:slug>/", registration.step, name="register_step"),
    path("association/espace/", space.space, name="space"),
]
