"""Back office: the audit log (read-only), and the base every back-office screen of a domain object builds on.

The rule the base enforces: the back office never ``.save()``s or deletes a domain object itself. A new object is
made by the app's write service (which validates it and records the audit event); an existing one changes only
where a write service for that change exists, and is otherwise shown read-only. Nothing is deleted: decisions and
audit events refer to it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import model_ngettext
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from sleutelbos.audit.models import AuditEvent
from sleutelbos.audit.services import Actor


def actor_for(request: HttpRequest) -> Actor:
    """The back-office user as the actor of a write (supplier staff)."""
    return Actor.for_person(request.user)


def revoke_each(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    objects: Iterable[Any],
    revoke: Callable[[Any], Any],
    *,
    already_revoked: Callable[[Any], bool] = lambda obj: False,
) -> None:
    """A back-office "revoke selected" action: call the revoking service for each object, report every refusal
    by name and how many were revoked. Revocation is final, so objects already revoked are only reported."""
    revoked = 0
    for obj in objects:
        if already_revoked(obj):
            modeladmin.message_user(
                request, gettext("“%(object)s” was already revoked.") % {"object": obj}, messages.WARNING
            )
            continue
        try:
            revoke(obj)
        except ValidationError as error:
            modeladmin.message_user(
                request,
                gettext("“%(object)s” was not revoked: %(error)s") % {"object": obj, "error": " ".join(error.messages)},
                messages.ERROR,
            )
        else:
            revoked += 1
    if revoked:
        modeladmin.message_user(
            request,
            gettext("Revoked %(count)d %(items)s.")
            % {"count": revoked, "items": model_ngettext(modeladmin.opts, revoked)},
            messages.SUCCESS,
        )


class _Rehearsal(Exception):
    """Raised inside a savepoint to undo a rehearsed write."""


def rehearse(form: forms.BaseForm, write: Any) -> None:
    """Run ``write()`` in a savepoint that is always rolled back, and turn its ValidationError into form errors.

    This lets a form show every rule a write service enforces (a mandate above the means' level, a duplicate e-mail
    address compared case-insensitively, ...) as an error beside the field, without repeating the rule in the form.
    """
    try:
        with transaction.atomic():
            write()
            raise _Rehearsal
    except _Rehearsal:
        pass
    except ValidationError as error:
        if hasattr(error, "error_dict"):
            for field, errors in error.error_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            form.add_error(None, error)


class ServiceWriteAdmin(admin.ModelAdmin):
    """A ModelAdmin whose writes go through a write service.

    Subclasses implement :meth:`write`, which calls the service with the form's cleaned data and returns the saved
    object (``obj`` is the existing object when changing, None when adding). ``add_fields`` are the fields of the
    add form; ``view_fields`` those shown for an existing object, read-only unless ``updatable`` (a write service for
    changes exists), in which case ``readonly_when_changing`` stay read-only.
    """

    add_fields: tuple[str, ...] = ()
    view_fields: tuple[str, ...] = ()
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    updatable = False
    readonly_when_changing: tuple[str, ...] = ()

    #: The create service the add form calls with its ``add_fields`` (``staticmethod(service)``), when that is all
    #: adding takes; subclasses that need more override :meth:`write`.
    create: Callable[..., models.Model] | None = None

    def write(self, request: HttpRequest, form: forms.BaseForm, obj: Any | None) -> models.Model:
        if obj is not None or self.create is None:
            raise NotImplementedError
        data = form.cleaned_data
        return self.create(actor=actor_for(request), **{name: data[name] for name in self.add_fields})

    def get_fields(self, request: HttpRequest, obj: Any | None = None) -> Any:
        if self.add_fields or self.view_fields:
            return self.add_fields if obj is None else self.view_fields
        return super().get_fields(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any | None = None) -> Any:
        if obj is None:
            return self.readonly_fields
        return self.readonly_when_changing if self.updatable else self.view_fields

    def get_inline_instances(self, request: HttpRequest, obj: Any | None = None) -> list[Any]:
        # Inlines show what hangs under an existing object; they are never a way to write.
        return [] if obj is None else super().get_inline_instances(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any | None = None) -> bool:
        if obj is not None and not self.updatable:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any | None = None) -> bool:
        return False

    def get_form(self, request: HttpRequest, obj: Any | None = None, change: bool = False, **kwargs: Any) -> Any:
        form_class = super().get_form(request, obj, change=change, **kwargs)
        model_admin = self

        class RehearsedForm(form_class):  # type: ignore[misc, valid-type]
            def clean(self) -> Any:
                cleaned = super().clean()
                if not self.errors:
                    rehearse(self, lambda: model_admin.write(request, self, obj))
                return cleaned

        RehearsedForm.__name__ = form_class.__name__
        return RehearsedForm

    def save_model(self, request: HttpRequest, obj: Any, form: forms.BaseForm, change: bool) -> None:
        saved = self.write(request, form, obj if change else None)
        # The admin goes on with its own instance (for the log entry and the redirect): give it the saved values.
        for field in saved._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding = False
        obj._state.db = saved._state.db

    def save_related(self, request: HttpRequest, form: forms.BaseForm, formsets: Any, change: bool) -> None:
        """The write service saved everything that belongs to the object; inlines are read-only, never saved."""
        for formset in formsets:
            formset.save(commit=False)  # only to tell the change message that nothing in them changed


class ReadOnlyInline(admin.TabularInline):
    """An inline that lists related objects, each with a link to its own page."""

    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def has_add_permission(self, request: HttpRequest, obj: Any | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any | None = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The append-only audit log: searchable and filterable, never added to, changed or deleted by hand."""

    list_display = ("at", "action", "actor", "subject", "organisation")
    list_filter = ("action", "subject_type")
    list_select_related = ("organisation",)
    search_fields = ("action", "actor", "subject_type", "subject_id", "organisation__name", "organisation__kvk")
    date_hierarchy = "at"
    show_full_result_count = False
    fields = ("at", "action", "actor", "actor_person", "subject_type", "subject_id", "organisation", "values")
    readonly_fields = fields

    @admin.display(description=_("subject"))
    def subject(self, event: AuditEvent) -> str:
        return f"{event.subject_type}:{event.subject_id}"

    @admin.display(description=_("data"))
    def values(self, event: AuditEvent) -> str:
        return format_html(
            "<pre>{}</pre>", json.dumps(event.data, indent=2, ensure_ascii=False, sort_keys=True, cls=DjangoJSONEncoder)
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any | None = None) -> bool:
        return False
