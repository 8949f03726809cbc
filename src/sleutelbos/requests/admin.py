"""Back office: the verification queue of requests, and the supplier's decision on each.

The list is the queue: requests ready for verification, the longest waiting first (other states through the filter).
A request's page shows what staff verify: the request in plain words, the KvK extract and its date (older than 14 days
must be looked up again, ``request_refresh_extract``), the identity evidence its level demands, the signatures, and
its history. The decisions (approve, reject with a reason, ask for more information) are forms that post to their own
address, which asks for confirmation before it calls the service (``request_approve``, ``request_reject``,
``request_ask_information``); what a service refuses is shown beside the field it is about. A request is never
changed or deleted here in any other way: its fields are read-only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import localize
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from sleutelbos.audit.admin import ServiceWriteAdmin, actor_for
from sleutelbos.catalogue.levels import Level
from sleutelbos.identity.admin import EvidenceFields, evidence_details
from sleutelbos.identity.models import EVIDENCE_LEVEL, EvidenceKind, IdentityEvidence, Means, Person
from sleutelbos.identity.services import evidence_kind_for
from sleutelbos.organisations.models import Authority, LegalForm
from sleutelbos.requests.mails import (
    applicant_address,
    applicant_display_name,
    grants_in_words,
    manager_in_words,
    organisation_name,
)
from sleutelbos.requests.models import Request, RequestEvent, RequestKind, RequestState, Signer
from sleutelbos.requests.services import (
    EXTRACT_MAX_AGE,
    extract_is_stale,
    request_approve,
    request_ask_information,
    request_refresh_extract,
    request_reject,
)
from sleutelbos.requests.signatures import (
    SignaturesNotOnline,
    document_hash,
    request_level,
    signature_valid,
    signatures_complete,
)
from sleutelbos.requests.states import DECISIONS

READY = RequestState.READY_FOR_VERIFICATION


def _url(view: str, *args: object) -> str:
    return reverse(f"admin:requests_request_{view}", args=args)


# --------------------------------------------------------------------------------------------------------------------
# The queue


class QueueFilter(admin.SimpleListFilter):
    """The state filter of the queue: without a choice, the requests ready for verification."""

    title = _("state")
    parameter_name = "state"
    ALL = "all"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, Any]]:
        return [*RequestState.choices, (self.ALL, _("all states"))]

    def choices(self, changelist: Any) -> Any:
        current = self.value() or READY
        for value, title in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Request]) -> QuerySet[Request]:
        value = self.value() or READY
        if value == self.ALL:
            return queryset
        return queryset.filter(state=value) if value in RequestState.values else queryset.none()


# --------------------------------------------------------------------------------------------------------------------
# The decision forms


class ApproveForm(EvidenceFields):
    """Approval; for a first application without an account, with the identity verification staff did."""

    note = forms.CharField(
        label=_("note in the request's history"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, request: Request, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.needs_evidence = request.applicant_id is None
        if not self.needs_evidence:
            for name in EvidenceFields.base_fields:
                del self.fields[name]
            return
        level = request_level(request)
        kind = self.fields["kind"]
        kind.required = True
        kind.initial = evidence_kind_for(level)
        kind.error_messages["required"] = gettext("Say how the applicant's identity was verified.")
        kind.help_text = gettext(
            "The applicant has no account yet: approval creates it, with a means at %(level)s on this verification. "
            "At %(level)s the identity must be verified by: %(kinds)s."
        ) % {"level": level.label, "kinds": "; ".join(str(label) for label in sufficient_kinds(level))}
        # A plain date field: the admin's calendar needs scripts this page does not load.
        self.fields["document_valid_until"].widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("reason for the rejection"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The applicant reads this."),
        error_messages={"required": _("Give the reason for the rejection.")},
    )


class AskForm(forms.Form):
    question = forms.CharField(
        label=_("question for the applicant"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The applicant answers by changing the request if needed and submitting it again."),
        error_messages={"required": _("Write the question for the applicant.")},
    )


@dataclass(frozen=True)
class Decision:
    """One of the supplier's decisions on a request: its form, its service and what the pages say about it."""

    name: str
    form: type[forms.Form]
    heading: Any
    title: Any
    explanation: Any
    button: Any
    confirm: Any
    done: Any
    call: Callable[[Any, Request, dict[str, Any], forms.Form], Any]


def _approve(actor: Any, request: Request, data: dict[str, Any], form: forms.Form) -> Any:
    evidence = evidence_details(data) if getattr(form, "needs_evidence", False) else None
    return request_approve(actor=actor, request=request, note=data["note"], evidence=evidence)


DECISIONS_BY_NAME: dict[str, Decision] = {
    decision.name: decision
    for decision in (
        Decision(
            name="approve",
            heading=_("Approve"),
            form=ApproveForm,
            title=_("Approve this request?"),
            explanation=_(
                "Approval creates, in one step, everything the request asks for: the membership, the manager role, "
                "the mandates and chain mandates; for a first application also the applicant's account and means. "
                "The applicant is told by e-mail."
            ),
            button=_("Approve…"),
            confirm=_("Yes, approve"),
            done=_("The request was approved: what it asks for is now active."),
            call=_approve,
        ),
        Decision(
            name="reject",
            heading=_("Reject"),
            form=RejectForm,
            title=_("Reject this request?"),
            explanation=_("Nothing the request asks for becomes active. The applicant is told the reason."),
            button=_("Reject…"),
            confirm=_("Yes, reject"),
            done=_("The request was rejected."),
            call=lambda actor, request, data, form: request_reject(actor=actor, request=request, reason=data["reason"]),
        ),
        Decision(
            name="ask",
            heading=_("Ask for more information"),
            form=AskForm,
            title=_("Ask the applicant for more information?"),
            explanation=_(
                "The request goes back to the applicant with your question. A changed request must be signed again."
            ),
            button=_("Ask for more information…"),
            confirm=_("Yes, send the question"),
            done=_("The applicant was asked for more information."),
            call=lambda actor, request, data, form: request_ask_information(
                actor=actor, request=request, question=data["question"]
            ),
        ),
    )
}


def _form(decision: Decision, request: Request, data: Any = None) -> forms.Form:
    kwargs: dict[str, Any] = {"prefix": decision.name}
    if decision.form is ApproveForm:
        kwargs["request"] = request
    return decision.form(data, **kwargs)


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Show a service's refusal on the form: beside the field it names when the form has it, else above the form."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


# --------------------------------------------------------------------------------------------------------------------
# What the request page shows


def sufficient_kinds(level: Level) -> list[Any]:
    """The kinds of identity verification that support ``level``, the least intrusive first."""
    kinds = [EvidenceKind(kind) for kind in EvidenceKind if EVIDENCE_LEVEL[kind] >= level]
    return [kind.label for kind in sorted(kinds, key=EVIDENCE_LEVEL.__getitem__)]


def plain_words(request: Request) -> dict[str, Any]:
    """The request as a staff member reads it: who asks what for which organisation."""
    name = applicant_display_name(request)
    email = applicant_address(request)
    if request.applicant_id is None:
        applicant = gettext("%(name)s (%(email)s), who has no account yet") % {"name": name, "email": email}
    else:
        applicant = gettext("%(name)s (%(email)s)") % {"name": name, "email": email}
    return {
        "applicant": applicant,
        "organisation": gettext("%(organisation)s (KvK %(kvk)s)")
        % {"organisation": organisation_name(request), "kvk": request.kvk},
        "kind": RequestKind(request.kind).label,
        "grants": grants_in_words(request),
        "manager": manager_in_words(request),
    }


def _born(value: Any) -> dt.date | str:
    """A date of birth as the extract keeps it (ISO), as a date: the page shows it as it shows every other date."""
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return value


def extract_view(request: Request) -> dict[str, Any]:
    """The KvK extract snapshot, its date and whether it is too old to approve on."""
    extract = request.kvk_extract or {}
    age = (timezone.localdate() - request.extract_date).days if request.extract_date else None
    return {
        "data": extract,
        "legal_form": LegalForm(extract["legal_form"]).label if extract.get("legal_form") in LegalForm.values else "",
        "branches": extract.get("branches", []),
        "functionaries": [
            {
                **item,
                "date_of_birth": _born(item.get("date_of_birth", "")),
                "authority_label": Authority(item["authority"]).label,
            }
            for item in extract.get("functionaries", [])
        ],
        "date": request.extract_date,
        "age": age,
        "stale": extract_is_stale(request),
        "max_age": EXTRACT_MAX_AGE.days,
    }


def _ids(labels: Iterable[str], kind: str) -> list[int]:
    """The numbers in the actor labels of one kind ("person:3" → 3)."""
    return [
        int(key) for label in labels for found, _sep, key in [label.partition(":")] if found == kind and key.isdigit()
    ]


def actor_names(request: Request, labels: Iterable[str]) -> dict[str, str]:
    """Who did something, by the actor label Sleutelbos records ("person:3", "signer:5", "system", ...), as staff
    read it: a person's or signer's name, "Sleutelbos (automatic)" for the system itself (one query per kind)."""
    labels = set(labels)
    people = dict(Person.objects.filter(pk__in=_ids(labels, "person")).values_list("pk", "name"))
    signers = dict(
        Signer.objects.filter(request=request, pk__in=_ids(labels, "signer")).values_list("pk", "functionary_name")
    )
    names = {}
    for label in labels:
        kind, _sep, key = label.partition(":")
        number = int(key) if key.isdigit() else None
        if label == "system":
            names[label] = gettext("Sleutelbos (automatic)")
        elif kind == "person" and number in people:
            names[label] = people[number]
        elif kind == "signer" and number in signers:
            names[label] = signers[number]
        elif kind == "applicant" and key:
            names[label] = (
                applicant_display_name(request) if key.casefold() == applicant_address(request).casefold() else key
            )
        elif kind == "api" and key:
            names[label] = gettext("API client %(name)s") % {"name": key}
        else:
            names[label] = label
    return names


def evidence_view(request: Request) -> dict[str, Any]:
    """The identity evidence the request's level demands, and what is recorded about the applicant."""
    level = request_level(request)
    records: list[dict[str, Any]] = []
    means = None
    if request.applicant_id is not None:
        for record in IdentityEvidence.objects.filter(person_id=request.applicant_id).order_by("-verified_at"):
            records.append({"record": record, "enough": EVIDENCE_LEVEL[record.kind] >= level})
        means = Means.objects.filter(person_id=request.applicant_id).first()
        names = actor_names(request, (item["record"].verified_by for item in records))
        for item in records:
            item["verified_by"] = names[item["record"].verified_by]
    return {
        "level": level,
        "least": evidence_kind_for(level).label,
        "kinds": sufficient_kinds(level),
        "records": records,
        "enough": any(item["enough"] for item in records),
        "means": means,
        "means_enough": means is not None and means.is_active and means.level >= level,
        "new_account": request.applicant_id is None,
    }


def _signer_status(signer: Signer) -> str:
    if signer.superseded_at is not None:
        return gettext("replaced by a later submission on %(date)s") % {"date": localize(signer.superseded_at)}
    if signer.signed_at is not None:
        return gettext("signed")
    if signer.declined_at is not None:
        return gettext("declined: %(reason)s") % {"reason": signer.decline_reason}
    if signer.token_expires_at <= timezone.now():
        return gettext("not answered; the link has expired")
    return gettext("not answered yet (link valid until %(date)s)") % {"date": localize(signer.token_expires_at)}


def signatures_view(request: Request) -> dict[str, Any]:
    """Each signer with who, when, from where and whether the signature counts for the request as it is now.

    Once decided, a signature is judged against the document that was decided on (approval may link the applicant's
    new account to the request, which is not what the representatives signed about).
    """
    current = document_hash(request)
    reference = request.document_hash if request.state in DECISIONS else current
    rows = [
        {
            "signer": signer,
            "status": _signer_status(signer),
            "valid": signature_valid(signer, reference),
        }
        for signer in request.signers.all()
    ]
    try:
        complete = signatures_complete(request)
    except SignaturesNotOnline:
        complete = False
    return {
        "rows": rows,
        "complete": complete,
        "changed": bool(request.document_hash) and current != request.document_hash and request.state not in DECISIONS,
        "current_hash": current,
    }


def events_view(request: Request) -> list[dict[str, Any]]:
    """The request's history, each transition with who made it by name."""
    events = list(RequestEvent.objects.filter(request=request))
    names = actor_names(request, (event.actor for event in events))
    return [{"event": event, "by": names[event.actor]} for event in events]


# --------------------------------------------------------------------------------------------------------------------
# The admin


@admin.register(Request)
class RequestAdmin(ServiceWriteAdmin):
    """The verification queue; every decision goes through a service, after a confirmation."""

    list_display = (
        "kvk",
        "organisation_display",
        "applicant_display",
        "kind",
        "state",
        "submitted_at",
        "extract_display",
    )
    list_filter = (QueueFilter, "kind")
    list_select_related = ("applicant", "organisation")
    search_fields = (
        "kvk",
        "kvk_extract__name",
        "organisation__name",
        "applicant__name",
        "applicant__email",
        "applicant_name",
        "applicant_email",
    )
    view_fields = (
        "kind",
        "state",
        "kvk",
        "organisation",
        "applicant",
        "applicant_name",
        "applicant_email",
        "applicant_date_of_birth",
        "language",
        "created_at",
        "submitted_at",
        "decided_at",
        "decided_by_display",
        "reason",
        "document_hash",
    )
    change_form_template = "admin/requests/request/change_form.html"

    def get_ordering(self, request: HttpRequest) -> Any:
        # The longest waiting first.
        return [F("submitted_at").asc(nulls_last=True), "created_at", "id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # requests are made by applicants, in the portal

    def has_decide_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    @admin.display(description=_("organisation"))
    def organisation_display(self, obj: Request) -> str:
        return organisation_name(obj)

    @admin.display(description=_("applicant"))
    def applicant_display(self, obj: Request) -> str:
        if obj.applicant_id is None:
            return gettext("%(name)s (no account yet)") % {"name": obj.applicant_name}
        return obj.applicant.name

    @admin.display(description=Request._meta.get_field("decided_by").verbose_name)
    def decided_by_display(self, obj: Request) -> str:
        return actor_names(obj, [obj.decided_by])[obj.decided_by] if obj.decided_by else "–"

    @admin.display(description=_("extract date"), ordering="extract_date")
    def extract_display(self, obj: Request) -> str:
        if obj.extract_date is None:
            return gettext("none")
        date = localize(obj.extract_date)
        if extract_is_stale(obj):
            return gettext("%(date)s (older than 14 days)") % {"date": date}
        return date

    # ----------------------------------------------------------------------------------------------------------------
    # Pages

    def get_urls(self) -> list[Any]:
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        wrap = self.admin_site.admin_view
        decide = require_http_methods(["GET", "POST"])(self.decide_view)
        return [
            path(
                "<path:object_id>/refresh-extract/",
                wrap(require_POST(self.refresh_extract_view)),
                name=f"{info}_refresh_extract",
            ),
            path(
                "<path:object_id>/decide/<str:decision>/",
                wrap(decide),
                name=f"{info}_decide",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        context = dict(extra_context or {})
        if obj is not None:
            context.update(self.verification_context(request, obj))
        return super().change_view(request, object_id, form_url, extra_context=context)

    def verification_context(self, request: HttpRequest, obj: Request) -> dict[str, Any]:
        """Everything the request page shows besides its fields."""
        may_decide = obj.state == READY and self.has_decide_permission(request)
        return {
            "plain": plain_words(obj),
            "extract": extract_view(obj),
            "evidence": evidence_view(obj),
            "signatures": signatures_view(obj),
            "events": events_view(obj),
            "may_refresh": may_decide,
            "refresh_url": _url("refresh_extract", obj.pk),
            "decisions": [
                {"decision": decision, "form": _form(decision, obj), "url": _url("decide", obj.pk, decision.name)}
                for decision in DECISIONS_BY_NAME.values()
            ]
            if may_decide
            else [],
        }

    def refresh_extract_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Look the organisation up in the KvK register again; say whether the signatures still match."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_decide_permission(request):
            raise PermissionDenied
        try:
            refreshed = request_refresh_extract(actor=actor_for(request), request=obj)
        except (ValidationError, PermissionDenied) as error:
            text = " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
            self.message_user(
                request,
                gettext("The KvK extract was not refreshed: %(error)s") % {"error": text},
                messages.ERROR,
            )
        else:
            date = localize(refreshed.request.extract_date)
            if not refreshed.changed:
                self.message_user(
                    request,
                    gettext("The KvK extract was looked up again (%(date)s); the organisation's data are unchanged.")
                    % {"date": date},
                    messages.SUCCESS,
                )
            else:
                self.message_user(
                    request,
                    gettext("The KvK extract was looked up again (%(date)s); the register's data have changed.")
                    % {"date": date},
                    messages.WARNING,
                )
            if not refreshed.signatures_valid:
                self.message_user(
                    request,
                    gettext(
                        "The signatures no longer match the request, so it cannot be approved. Ask the applicant for "
                        "more information: once they submit it again, the representatives sign the new version."
                    ),
                    messages.WARNING,
                )
        return HttpResponseRedirect(_url("change", obj.pk))

    def decide_view(self, request: HttpRequest, object_id: str, decision: str) -> HttpResponse:
        """Confirm a decision, then call its service; a refusal is shown on the same page, beside its field."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if decision not in DECISIONS_BY_NAME:
            return HttpResponseRedirect(_url("change", obj.pk))
        if not self.has_decide_permission(request):
            raise PermissionDenied
        chosen = DECISIONS_BY_NAME[decision]
        form = _form(chosen, obj, request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid() and request.POST.get("confirmed") == "yes":
            try:
                chosen.call(actor_for(request), obj, form.cleaned_data, form)
            except ValidationError as error:
                add_service_errors(form, error)
            except PermissionDenied as error:
                form.add_error(None, str(error))
            else:
                self.message_user(request, str(chosen.done), messages.SUCCESS)
                if chosen.name == "approve" and getattr(form, "needs_evidence", False):
                    obj.refresh_from_db()
                    self.message_user(
                        request,
                        gettext("The account of %(name)s was created; the activation link was mailed to %(email)s.")
                        % {"name": obj.applicant.name, "email": obj.applicant.email},
                        messages.SUCCESS,
                    )
                return HttpResponseRedirect(_url("changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": obj,
            "title": chosen.title,
            "subtitle": str(obj),
            "decision": chosen,
            "form": form,
            "plain": plain_words(obj),
            "extract": extract_view(obj),
            "signatures": signatures_view(obj),
            "ready": obj.state == READY,
            "change_url": _url("change", obj.pk),
            "action_url": _url("decide", obj.pk, chosen.name),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/requests/request/decide.html", context)
