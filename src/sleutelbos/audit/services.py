"""Recording audit events. Every write service in Sleutelbos calls ``audit_record`` inside its transaction."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import connection, models

from sleutelbos.audit.models import AuditEvent

if TYPE_CHECKING:
    from sleutelbos.identity.models import Person
    from sleutelbos.organisations.models import Organisation


@dataclass(frozen=True)
class Actor:
    """Who did something: a person (portal, back office), an API client (by token name), or the system itself."""

    label: str
    person: Person | None = None

    @classmethod
    def for_person(cls, person: Person) -> Actor:
        return cls(label=f"person:{person.pk}", person=person)

    @classmethod
    def for_api(cls, token_name: str) -> Actor:
        return cls(label=f"api:{token_name}")

    @property
    def is_staff(self) -> bool:
        """Supplier staff and integrations act for the supplier, not as an organisation's manager."""
        return self.person is None or bool(self.person.is_staff)


SYSTEM = Actor(label="system")


def audit_record(
    *,
    actor: Actor,
    action: str,
    subject: models.Model | None = None,
    organisation: Organisation | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the audit log; an event about the system as a whole (a clean-up) has no subject.

    Written with one prepared ``INSERT … RETURNING`` (every login writes one): the values are prepared for the
    database by the model's own fields, exactly as ``save()`` would, without the ORM's query building."""
    event = AuditEvent(
        action=action,
        actor=actor.label,
        actor_person=actor.person,
        subject_type=subject._meta.label_lower if subject is not None else "",
        subject_id=str(subject.pk) if subject is not None else "",
        organisation=organisation,
        data=data or {},
    )
    if not connection.features.can_return_columns_from_insert:  # SQLite before 3.35
        event.save(force_insert=True)
        return event
    statement, fields = _insert_statement(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(
            statement, [field.get_db_prep_save(getattr(event, field.attname), connection) for field in fields]
        )
        event.pk = cursor.fetchone()[0]
    event._state.adding = False
    event._state.db = connection.alias
    return event


@functools.cache
def _insert_statement(vendor: str) -> tuple[str, list[models.Field]]:
    """The INSERT of one audit event in the database's quoting, and the fields whose values it takes in order."""
    meta = AuditEvent._meta
    quote = connection.ops.quote_name
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    statement = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders}) "  # noqa: S608 (names only)
        f"RETURNING {quote(meta.pk.column)}"
    )
    return statement, fields
