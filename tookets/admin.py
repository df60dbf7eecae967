from django.contrib import admin

from tookets.models import OutboxMessage


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """What waits for the broker, read-only: the drain (or manage.py drain_outbox) sends it."""

    list_display = ["task", "created_at", "attempts", "available_at", "published_at"]
    list_filter = [("published_at", admin.EmptyFieldListFilter)]
    search_fields = ["task", "last_error"]
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
