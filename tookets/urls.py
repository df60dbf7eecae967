from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

from tookets import views
from tookets.csp_report import csp_report
from tookets.staff_home import staff_home

admin.site.site_header = "Tookets — service Tookets des caisses régionales"
admin.site.site_title = "Tookets"
admin.site.index_title = "Administration"

urlpatterns = [
    path("", views.home, name="home"),
    path("comment-ca-marche/", views.how_it_works, name="how_it_works"),
    path("favicon.ico", views.favicon),
    path("robots.txt", views.robots_txt),
    path(settings.CSP_REPORT_PATH.lstrip("/"), csp_report, name="csp_report"),
    # The admin's index with what waits for the staff (« admin:index » still names this URL).
    path("admin/", admin.site.admin_view(staff_home), name="staff_home"),
    path("admin/", admin.site.urls),
    # The member's pages (wallet, gift, directory, favourites) before the login's and the
    # settings': Django tries the patterns in order. No pattern of one app matches another's.
    path("", include("cagnotte.urls")),
    path("", include("associations.urls")),
    path("", include("accounts.urls")),
]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
