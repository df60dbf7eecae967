"""French for the few labels of django-axes that its own catalog leaves in English.

Never imported: this module only lets `make messages` extract these msgids into our catalog
(locale/fr), which Django reads before the apps' catalogs, so the staff admin shows them in
French. Their msgstr are filled in locale/fr/LC_MESSAGES/django.po.
"""

from django.utils.translation import gettext_noop

AXES_LABELS = [
    gettext_noop("User Agent"),
    gettext_noop("HTTP Accept"),
    gettext_noop("Locked Out"),
    gettext_noop("access attempt expiration"),
    gettext_noop("access attempt expirations"),
]
