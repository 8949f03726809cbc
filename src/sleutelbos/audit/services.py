"""Recording audit events. Every write service in Sleutelbos calls ``audit_record`` inside its transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import models

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
    """Append one event to the audit log; an event about the system as a whole (a clean-up) has no subject."""
    return AuditEvent.objects.create(
        action=action,
        actor=actor.label,
        actor_person=actor.person,
        subject_type=subject._meta.label_lower if subject is not None else "",
        subject_id=str(subject.pk) if subject is not None else "",
        organisation=organisation,
        data=data or {},
    )
