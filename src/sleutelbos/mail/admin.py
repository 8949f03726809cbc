from django.contrib import admin
from django_tasks_db.models import DBTaskResult

from sleutelbos.mail.models import OutgoingMail


@admin.register(OutgoingMail)
class OutgoingMailAdmin(admin.ModelAdmin):
    """Read-only: staff see what was sent, to whom, and why a mail is still waiting."""

    list_display = ["created_at", "purpose", "to", "subject", "attempts", "sent_at"]
    list_filter = ["purpose", ("sent_at", admin.EmptyFieldListFilter)]
    search_fields = ["to", "subject", "purpose"]
    readonly_fields = [field.name for field in OutgoingMail._meta.fields if field.name not in {"text", "html"}]
    exclude = ["text", "html"]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False


# Task results are the worker's bookkeeping, deleted by `prune_db_task_results`; staff follow mail in the outbox.
admin.site.unregister(DBTaskResult)
