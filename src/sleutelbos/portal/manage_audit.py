"""Manager pages: the organisation's audit trail, filtered by what happened, who and when, and exported as CSV.

The trail holds the events recorded *about* the organisation (``AuditEvent.organisation``): mandates granted and
revoked, chain mandates, people linked, requests signed, logins at service providers. Nothing else is ever read: every
query starts from the managed organisation, so a filter value from another organisation (a person's id, say) only
narrows the organisation's own events down to none.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.paginator import Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q, QuerySet
from django.forms.utils import flatatt
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_safe

from sleutelbos.audit.models import AuditEvent
from sleutelbos.catalogue.levels import Level
from sleutelbos.identity.models import Person
from sleutelbos.organisations.models import Membership
from sleutelbos.portal.managers import Managed, manager_view

#: Events per page.
PAGE = 50

#: What happened, in words, for the actions recorded about an organisation. An action missing here is shown as
#: recorded (``thing:verb``) and can still be found with the filter's "everything".
ACTIONS: dict[str, Any] = {
    "mandate:granted": gettext_lazy("Mandate granted"),
    "mandate:renewed": gettext_lazy("Mandate renewed"),
    "mandate:reactivated": gettext_lazy("Mandate re-activated"),
    "mandate:revoked": gettext_lazy("Mandate revoked"),
    "mandate:expiry_warned": gettext_lazy("Warned that a mandate expires"),
    "chain_mandate:granted": gettext_lazy("Chain mandate granted"),
    "chain_mandate:revoked": gettext_lazy("Chain mandate revoked"),
    "membership:created": gettext_lazy("Person linked"),
    "membership:ended": gettext_lazy("Person unlinked"),
    "membership:manager_set": gettext_lazy("Made mandate manager"),
    "membership:manager_ended": gettext_lazy("No longer mandate manager"),
    "invitation:sent": gettext_lazy("Invitation sent"),
    "invitation:accepted": gettext_lazy("Invitation accepted"),
    "invitation:declined": gettext_lazy("Invitation declined"),
    "invitation:withdrawn": gettext_lazy("Invitation withdrawn"),
    "saml:login_allowed": gettext_lazy("Logged in at a service provider"),
    "request:created": gettext_lazy("Request started"),
    "request:updated": gettext_lazy("Request changed"),
    "request:submitted": gettext_lazy("Request submitted"),
    "request:awaiting_signatures": gettext_lazy("Request awaits signatures"),
    "request:sent_for_signature": gettext_lazy("Request sent for signature"),
    "request:signed": gettext_lazy("Request signed"),
    "request:signature_declined": gettext_lazy("Signature declined"),
    "request:signature_refused": gettext_lazy("Signature refused"),
    "request:signer_reminded": gettext_lazy("Signer reminded"),
    "request:ready_for_verification": gettext_lazy("Request ready for verification"),
    "request:more_information_requested": gettext_lazy("More information requested"),
    "request:approved": gettext_lazy("Request approved"),
    "request:rejected": gettext_lazy("Request rejected"),
    "request:withdrawn": gettext_lazy("Request withdrawn"),
    "request:expired": gettext_lazy("Request expired"),
    "request:extract_refreshed": gettext_lazy("Chamber of Commerce extract refreshed"),
    "organisation:created": gettext_lazy("Organisation registered"),
    "branch:created": gettext_lazy("Branch registered"),
    "functionary:created": gettext_lazy("Representative registered"),
}

MEMBERSHIP = Membership._meta.label_lower

#: The columns of the CSV export, in order.
CSV_COLUMNS = (
    gettext_lazy("When"),
    gettext_lazy("What"),
    gettext_lazy("Action"),
    gettext_lazy("Who"),
    gettext_lazy("Actor"),
    gettext_lazy("Details"),
    gettext_lazy("Subject"),
    gettext_lazy("Data"),
)


def action_words(action: str) -> str:
    """What an action code means, in the user's language; the code itself when it has no words yet."""
    words = ACTIONS.get(action)
    return str(words) if words is not None else action


class ListSelect(forms.Select):
    """A select whose options are written in Python: a long list without a template render per option.

    The same HTML as Django's select (the attributes the bound field adds, ``aria-describedby`` among them, included);
    the audit trail renders its filter on every page load.
    """

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (option["value"], mark_safe(" selected") if option["selected"] else "", option["label"])
                for _group, group_options, _index in widget["optgroups"]
                for option in group_options
            ),
        )
        return format_html('<select name="{}"{}>{}</select>', widget["name"], flatatt(widget["attrs"]), options)


class AuditFilterForm(forms.Form):
    """Which events to show: one kind of event, one person (who acted, or whom it was about) and a date range.

    A GET form: every filtered view has an address, and the CSV export takes the same query string.
    """

    action = forms.ChoiceField(label=gettext_lazy("What happened"), required=False, widget=ListSelect)
    person = forms.TypedChoiceField(
        label=gettext_lazy("Person"),
        help_text=gettext_lazy("Events by this person or about them."),
        required=False,
        coerce=int,
        empty_value=None,
        widget=ListSelect,
    )
    start = forms.DateField(
        label=gettext_lazy("From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    end = forms.DateField(
        label=gettext_lazy("Until"),
        help_text=gettext_lazy("This day included."),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, *args: Any, people: Iterable[Person], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        actions = sorted(ACTIONS, key=lambda code: str(ACTIONS[code]).casefold())
        self.fields["action"].choices = [("", _("Everything")), *((code, ACTIONS[code]) for code in actions)]
        self.fields["person"].choices = [("", _("Everybody")), *((person.pk, _label(person)) for person in people)]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", _("The end date cannot be before the start date (%(date)s).") % {"date": _day(start)})
        return data


def _label(person: Person) -> str:
    return f"{person.name} ({person.email})"


def _day(day: dt.date) -> str:
    return date_format(day, "j F Y")


def _people(managed: Managed) -> list[Person]:
    """The people a manager can filter by: the organisation's members and whoever acted in its events."""
    organisation = managed.organisation
    members = Membership.objects.filter(organisation=organisation).values("person_id")
    actors = AuditEvent.objects.filter(organisation=organisation, actor_person__isnull=False).values("actor_person_id")
    return list(
        Person.objects.filter(Q(pk__in=members) | Q(pk__in=actors)).only("pk", "name", "email").order_by("name", "pk")
    )


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def filtered_events(managed: Managed, filters: dict[str, Any]) -> QuerySet[AuditEvent]:
    """The organisation's events that pass ``filters`` (an :class:`AuditFilterForm`'s cleaned data), newest first."""
    events = AuditEvent.objects.filter(organisation=managed.organisation)
    if filters.get("action"):
        events = events.filter(action=filters["action"])
    person = filters.get("person")
    if person is not None:
        memberships = Membership.objects.filter(organisation=managed.organisation, person_id=person)
        events = events.filter(
            Q(actor_person_id=person)
            | Q(subject_type="identity.person", subject_id=str(person))
            | Q(subject_type=MEMBERSHIP, subject_id__in=[str(pk) for pk in memberships.values_list("pk", flat=True)])
            | Q(data__holder=person)
            | Q(data__person=person)
        )
    if filters.get("start"):
        events = events.filter(at__gte=_start_of(filters["start"]))
    if filters.get("end"):
        events = events.filter(at__lt=_start_of(filters["end"] + dt.timedelta(days=1)))
    return events.select_related("actor_person").order_by("-at", "-id")


@dataclass(frozen=True)
class Row:
    """One event as the trail shows it."""

    event: AuditEvent
    what: str
    who: str
    details: str


class _Names:
    """The names an event's data refers to by id or key, read once per page (or per export chunk)."""

    def __init__(self, events: list[AuditEvent]) -> None:
        person_ids = {
            value for event in events for key in ("holder", "person") if isinstance(value := event.data.get(key), int)
        }
        membership_ids = {int(event.subject_id) for event in events if event.subject_type == MEMBERSHIP}
        self.members: dict[str, int] = {}
        if membership_ids:
            links = Membership.objects.filter(pk__in=membership_ids).values_list("pk", "person_id")
            self.members = {str(pk): person_id for pk, person_id in links}
            person_ids.update(self.members.values())
        entity_ids = {event.data["entity_id"] for event in events if isinstance(event.data.get("entity_id"), str)}
        self.people = dict(Person.objects.filter(pk__in=person_ids).values_list("pk", "name")) if person_ids else {}
        self.entities: dict[str, str] = {}
        if entity_ids:
            from sleutelbos.saml.models import ServiceProviderEntity

            entities = ServiceProviderEntity.objects.filter(entity_id__in=entity_ids).select_related("provider")
            for entity in entities:
                provider = entity.provider.name if entity.provider_id else ""
                self.entities[entity.entity_id] = provider or entity.name or entity.entity_id

    def person(self, pk: object) -> str:
        return self.people.get(pk, "") if isinstance(pk, int) else ""


def _level(label: object) -> str:
    try:
        return Level.parse(label).label
    except (TypeError, ValueError):
        return ""


def _details(event: AuditEvent, names: _Names) -> str:
    """The few facts of an event a manager looks for, in words; the whole data goes into the CSV export."""
    data = event.data
    parts: list[str] = []
    if holder := names.person(data.get("holder")):
        parts.append(_("for %(name)s") % {"name": holder})
    if person := names.person(data.get("person")):
        parts.append(person)
    elif event.subject_type == MEMBERSHIP and (member := names.person(names.members.get(event.subject_id))):
        parts.append(member)
    elif isinstance(email := data.get("email"), str) and email:
        parts.append(email)
    if entity_id := data.get("entity_id"):
        parts.append(_("at %(service_provider)s") % {"service_provider": names.entities.get(entity_id, entity_id)})
    if intermediary := data.get("intermediary"):
        parts.append(_("intermediary with KvK number %(kvk)s") % {"kvk": intermediary})
    if level := _level(data.get("level")):
        parts.append(_("level %(level)s") % {"level": level})
    if branch := data.get("branch"):
        parts.append(_("branch %(number)s") % {"number": branch})
    until = data.get("valid_until")
    if isinstance(until, str):
        with contextlib.suppress(ValueError):
            parts.append(_("until %(date)s") % {"date": _day(dt.datetime.fromisoformat(until).date())})
    if reason := data.get("reason"):
        parts.append(_("reason: %(reason)s") % {"reason": reason})
    return ", ".join(str(part) for part in parts)


def _who(event: AuditEvent) -> str:
    if event.actor_person is not None:
        return event.actor_person.name
    if event.actor == "system":
        return _("Sleutelbos itself")
    if event.actor.startswith("api:"):
        return _("API client %(name)s") % {"name": event.actor.removeprefix("api:")}
    return event.actor


def rows(events: list[AuditEvent]) -> list[Row]:
    """The events in words, with the names they refer to read in at most two queries."""
    names = _Names(events)
    return [Row(event, action_words(event.action), _who(event), _details(event, names)) for event in events]


@manager_view()
@require_safe
def audit_trail(request: HttpRequest, managed: Managed) -> HttpResponse:
    """The organisation's events, newest first, filtered by the query string and a page at a time."""
    form = AuditFilterForm(request.GET or None, people=_people(managed))
    if form.is_bound and not form.is_valid():
        context = {"managed": managed, "form": form, "page": None, "rows": [], "filtered": True}
        return render(request, "portal/manage/audit.html", context, status=400)
    filters = form.cleaned_data if form.is_bound else {}
    page = Paginator(filtered_events(managed, filters), PAGE).get_page(request.GET.get("page"))
    context = {
        "managed": managed,
        "form": form,
        "page": page,
        "rows": rows(list(page.object_list)),
        "filtered": any(value not in (None, "") for value in filters.values()),
    }
    return render(request, "portal/manage/audit.html", context)


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: a leading =, +, -, @ or control character would start a formula."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r", "\n"):
        return "'" + text
    return text


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_lines(events: QuerySet[AuditEvent]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow([str(column) for column in CSV_COLUMNS])
    chunk: list[AuditEvent] = []
    for event in events.iterator(chunk_size=1000):
        chunk.append(event)
        if len(chunk) == 1000:
            yield from _csv_rows(writer, chunk)
            chunk = []
    yield from _csv_rows(writer, chunk)


def _csv_rows(writer: Any, chunk: list[AuditEvent]) -> Iterator[str]:
    for row in rows(chunk):
        event = row.event
        subject = f"{event.subject_type}:{event.subject_id}" if event.subject_type else ""
        data = json.dumps(event.data, cls=DjangoJSONEncoder, ensure_ascii=False, sort_keys=True)
        at = timezone.localtime(event.at).isoformat(timespec="seconds")
        values = (at, row.what, event.action, row.who, event.actor, row.details, subject, data)
        yield writer.writerow([_cell(value) for value in values])


@manager_view()
@require_safe
def audit_export(request: HttpRequest, managed: Managed) -> HttpResponse:
    """The events the trail shows for the same query string, all of them (no pages), as a CSV file."""
    form = AuditFilterForm(request.GET, people=_people(managed))
    if not form.is_valid():
        context = {"managed": managed, "form": form, "page": None, "rows": [], "filtered": True}
        return render(request, "portal/manage/audit.html", context, status=400)
    events = filtered_events(managed, form.cleaned_data)
    response = StreamingHttpResponse(_csv_lines(events), content_type="text/csv; charset=utf-8")
    filename = f"audit-{managed.organisation.kvk}-{timezone.localdate():%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
