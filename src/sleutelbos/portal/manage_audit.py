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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.forms.utils import flatatt
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_safe

from sleutelbos.audit.models import AuditEvent
from sleutelbos.catalogue.levels import Level
from sleutelbos.identity.models import Person
from sleutelbos.mandates.models import ChainMandate
from sleutelbos.organisations.models import Branch, Functionary, Membership, Organisation
from sleutelbos.portal.managers import Managed, manager_view
from sleutelbos.requests.models import Request

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
    "request:draft": gettext_lazy("Request returned to the applicant"),
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
PERSON = Person._meta.label_lower
ORGANISATION = Organisation._meta.label_lower
BRANCH = Branch._meta.label_lower
FUNCTIONARY = Functionary._meta.label_lower
CHAIN_MANDATE = ChainMandate._meta.label_lower
REQUEST = Request._meta.label_lower

#: The columns of the CSV export, in order.
CSV_COLUMNS = (
    gettext_lazy("Event number"),
    gettext_lazy("When"),
    gettext_lazy("What happened"),
    gettext_lazy("Who"),
    gettext_lazy("About whom or what"),
    gettext_lazy("Details"),
    gettext_lazy("Event code"),
)

#: The reasons Sleutelbos records as a code, in words (a reason a person typed is shown as typed): cleaning up
#: inactive people, and the mandates revoked because their holder was unlinked.
REASONS: dict[str, Any] = {
    "inactive": gettext_lazy("cleaned up as inactive"),
    "unlinked": gettext_lazy("the person was unlinked from the organisation"),
}


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
    """The people a manager can filter by: the organisation's members and everyone its events name.

    Former members stay in the trail, so they stay a choice: whoever acted in one of the organisation's events or is
    named by one (its subject, the mandate's holder, the person linked or unlinked). Only the organisation's own events
    are read, so nobody who appears in another organisation's trail alone is offered.
    """
    organisation = managed.organisation
    events = AuditEvent.objects.filter(organisation=organisation)
    members = Membership.objects.filter(organisation=organisation).values("person_id")
    actors = events.filter(actor_person__isnull=False).values("actor_person_id")
    subjects = events.filter(subject_type=PERSON).values_list("subject_id", flat=True).distinct()
    named = {int(pk) for pk in subjects if pk.isdigit()}
    for key in ("holder", "person"):
        values = events.filter(**{f"data__{key}__isnull": False}).values_list(f"data__{key}", flat=True).distinct()
        named.update(pk for pk in values if isinstance(pk, int))
    people = Person.objects.filter(Q(pk__in=members) | Q(pk__in=actors) | Q(pk__in=named))
    return list(people.only("pk", "name", "email").order_by("name", "pk"))


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def filtered_events(managed: Managed, filters: dict[str, Any]) -> QuerySet[AuditEvent]:
    """The organisation's events that pass ``filters`` (an :class:`AuditFilterForm`'s cleaned data), newest first."""
    organisation = managed.organisation
    events = AuditEvent.objects.filter(organisation=organisation)
    if filters.get("action"):
        events = events.filter(action=filters["action"])
    person = filters.get("person")
    if person is not None:
        current = Membership.objects.filter(organisation=organisation, person_id=person).values_list("pk", flat=True)
        # An unlinked person's membership is gone, but the organisation's events about it still say whose it was.
        former = AuditEvent.objects.filter(organisation=organisation, subject_type=MEMBERSHIP, data__person=person)
        events = events.filter(
            Q(actor_person_id=person)
            | Q(subject_type=PERSON, subject_id=str(person))
            | Q(subject_type=MEMBERSHIP, subject_id__in=[str(pk) for pk in current])
            | Q(subject_type=MEMBERSHIP, subject_id__in=former.values("subject_id"))
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
    """One event as the trail shows it and the export lists it."""

    event: AuditEvent
    what: str
    who: str
    #: Whom or what the event is about, by name; empty when the event does not say.
    about: str
    #: The trail's line under what happened: for whom, then the facts.
    details: str
    #: The facts alone: the export's column next to ``about``.
    facts: str


class _Names:
    """The names an event refers to by id or key, read once per page (or per export chunk)."""

    def __init__(self, events: list[AuditEvent]) -> None:
        person_ids = {
            value for event in events for key in ("holder", "person") if isinstance(value := event.data.get(key), int)
        }
        person_ids.update(int(event.subject_id) for event in events if _is_person(event))
        membership_ids = {
            event.subject_id for event in events if event.subject_type == MEMBERSHIP and event.subject_id.isdigit()
        }
        self.members: dict[str, int] = {}
        if membership_ids:
            links = Membership.objects.filter(pk__in=membership_ids).values_list("pk", "person_id")
            self.members = {str(pk): person_id for pk, person_id in links}
            if gone := membership_ids - self.members.keys():
                # The membership of someone unlinked since: its events say whose it was.
                about = AuditEvent.objects.filter(subject_type=MEMBERSHIP, subject_id__in=gone, data__has_key="person")
                for membership_id, person_id in about.values_list("subject_id", "data__person"):
                    if isinstance(person_id, int):
                        self.members[membership_id] = person_id
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


def _is_person(event: AuditEvent) -> bool:
    return event.subject_type == PERSON and event.subject_id.isdigit()


def _level(label: object) -> str:
    try:
        return Level.parse(label).label
    except (TypeError, ValueError):
        return ""


def reason_words(reason: object) -> str:
    """A recorded reason in the user's language: a code Sleutelbos records in words, a typed reason as typed."""
    text = str(reason)
    words = REASONS.get(text)
    return str(words) if words is not None else text


def _about(event: AuditEvent, names: _Names) -> tuple[str, str]:
    """Whom or what the event is about: as the trail's details begin (or not at all), and by name for the export."""
    data = event.data
    if holder := names.person(data.get("holder")):
        return _("for %(name)s") % {"name": holder}, holder
    name = names.person(data.get("person"))
    if not name and event.subject_type == MEMBERSHIP:
        name = names.person(names.members.get(event.subject_id))
    if not name and isinstance(email := data.get("email"), str):
        name = email
    if name:
        return name, name
    if event.subject_type == CHAIN_MANDATE and (kvk := data.get("intermediary")):
        intermediary = _("intermediary with KvK number %(kvk)s") % {"kvk": kvk}
        return intermediary, intermediary
    # The trail leaves these to its other columns (the person who logged in is who did it).
    if _is_person(event):
        return "", names.person(int(event.subject_id))
    if event.subject_type in (ORGANISATION, FUNCTIONARY) and isinstance(data.get("name"), str):
        return "", data["name"]
    if event.subject_type == BRANCH and data.get("number"):
        return "", _("branch %(number)s") % {"number": data["number"]}
    if event.subject_type == REQUEST:
        return "", _("Request %(number)s") % {"number": event.subject_id}
    return "", ""


def _facts(event: AuditEvent, names: _Names) -> list[str]:
    """The few facts of an event a manager looks for, in words, besides whom it is about."""
    data = event.data
    parts: list[str] = []
    if entity_id := data.get("entity_id"):
        parts.append(_("at %(service_provider)s") % {"service_provider": names.entities.get(entity_id, entity_id)})
    if (intermediary := data.get("intermediary")) and event.subject_type != CHAIN_MANDATE:
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
        parts.append(_("reason: %(reason)s") % {"reason": reason_words(reason)})
    return parts


def _who(event: AuditEvent) -> str:
    if event.actor_person is not None:
        return event.actor_person.name
    if event.actor == "system":
        return _("Sleutelbos itself")
    if event.actor.startswith("api:"):
        return _("API client %(name)s") % {"name": event.actor.removeprefix("api:")}
    return event.actor


def _row(event: AuditEvent, names: _Names) -> Row:
    phrase, about = _about(event, names)
    facts = _facts(event, names)
    details = ", ".join(part for part in (phrase, *facts) if part)
    return Row(event, action_words(event.action), _who(event), about, details, ", ".join(facts))


def rows(events: list[AuditEvent]) -> list[Row]:
    """The events in words, with the names they refer to read in a few queries for all of them."""
    names = _Names(events)
    return [_row(event, names) for event in events]


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


def _delimiter(language: str) -> str:
    """Dutch spreadsheets read semicolons (the comma is their decimal sign); English ones commas."""
    return ";" if language.split("-")[0] == "nl" else ","


def _csv_lines(events: QuerySet[AuditEvent], language: str) -> Iterator[str]:
    """The file a thousand events at a time, in ``language``.

    The words are made while the response streams, after the view (and the request's language) has returned, so each
    part is made in ``language`` explicitly, and never while this generator waits.
    """
    writer = csv.writer(_Echo(), delimiter=_delimiter(language))
    with translation.override(language):
        headings = writer.writerow([str(column) for column in CSV_COLUMNS])
    yield "\ufeff" + headings
    chunk: list[AuditEvent] = []
    for event in events.iterator(chunk_size=1000):
        chunk.append(event)
        if len(chunk) == 1000:
            yield _csv_rows(writer, chunk, language)
            chunk = []
    if chunk:
        yield _csv_rows(writer, chunk, language)


def _csv_rows(writer: Any, chunk: list[AuditEvent], language: str) -> str:
    with translation.override(language):
        lines = []
        for row in rows(chunk):
            event = row.event
            at = timezone.localtime(event.at).strftime("%Y-%m-%d %H:%M:%S")
            values = (event.pk, at, row.what, row.who, row.about, row.facts, event.action)
            lines.append(writer.writerow([_cell(value) for value in values]))
    return "".join(lines)


@manager_view()
@require_safe
def audit_export(request: HttpRequest, managed: Managed) -> HttpResponse:
    """The events the trail shows for the same query string, all of them (no pages), as a CSV file.

    A file a manager opens in a spreadsheet: the columns of the trail in their language (semicolons in Dutch), UTF-8
    with a byte order mark so Excel reads the accents; the event's number and code keep rows findable by a program.
    """
    form = AuditFilterForm(request.GET, people=_people(managed))
    if not form.is_valid():
        context = {"managed": managed, "form": form, "page": None, "rows": [], "filtered": True}
        return render(request, "portal/manage/audit.html", context, status=400)
    events = filtered_events(managed, form.cleaned_data)
    language = translation.get_language() or settings.LANGUAGE_CODE
    response = StreamingHttpResponse(_csv_lines(events, language), content_type="text/csv; charset=utf-8")
    filename = f"audit-{managed.organisation.kvk}-{timezone.localdate():%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
