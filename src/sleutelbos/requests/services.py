"""Writes to requests: drafts, submission, signatures, and the supplier's decisions.

Every function takes keyword arguments only, runs in one transaction and leaves an audit event. Nothing a request
asks for becomes active before staff approve it; approval creates it all in one transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from sleutelbos.audit.services import SYSTEM, Actor, audit_record
from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.models import ServiceProvider
from sleutelbos.identity.activation import activation_send
from sleutelbos.identity.models import Means, Person
from sleutelbos.identity.services import EvidenceDetails, evidence_kind_for, person_create
from sleutelbos.mail.services import absolute_url
from sleutelbos.mandates.models import ScopeKind
from sleutelbos.mandates.services import Scope, add_years, chain_mandate_grant, mandate_grant
from sleutelbos.organisations.kvk import KvkError, KvkExtract
from sleutelbos.organisations.kvk import lookup as kvk_lookup
from sleutelbos.organisations.models import Branch, LegalForm, Organisation
from sleutelbos.organisations.services import (
    branch_create,
    functionary_create,
    membership_ensure,
    membership_set_manager,
    organisation_create,
)
from sleutelbos.requests.mails import (
    mail_approved,
    mail_expired,
    mail_information_requested,
    mail_ready_for_verification,
    mail_rejected,
    mail_reminder,
    mail_signature_declined,
    mail_signature_request,
    mail_submitted,
)
from sleutelbos.requests.models import (
    Request,
    RequestedChainMandate,
    RequestedMandate,
    RequestKind,
    RequestState,
    Signer,
    Years,
)
from sleutelbos.requests.signatures import (
    applicant_alone_authorized,
    applicant_identity,
    applicant_representative,
    document_hash,
    extract_to_json,
    find_signer,
    representatives,
    request_level,
    same_name,
    signature_valid,
    signatures_complete,
    signatures_required,
)
from sleutelbos.requests.states import transition
from sleutelbos.validation import fail

#: A signing link is valid this long; a request whose signatures are not complete by then expires.
SIGNING_PERIOD = dt.timedelta(days=14)
#: A signer who has not answered this long after their link gets one reminder.
REMINDER_AFTER = dt.timedelta(days=5)
EDITABLE = frozenset({RequestState.DRAFT, RequestState.MORE_INFORMATION_REQUESTED})


@dataclass(frozen=True)
class MandateWish:
    """A mandate the applicant asks for."""

    scope: Scope
    level: Level | str
    years: int = 1
    branch_number: str = ""


@dataclass(frozen=True)
class ChainMandateWish:
    """A chain mandate the organisation gives an intermediary, by KvK number."""

    intermediary_kvk: str
    scope: Scope
    level: Level | str
    years: int = 1


@dataclass(frozen=True)
class SignerWish:
    """A representative from the KvK extract who is to sign, and where their link goes."""

    name: str
    date_of_birth: dt.date
    email: str


@dataclass(frozen=True)
class IssuedLink:
    """A signer and the plain token of their one-time link; the token is shown once and stored only as a hash."""

    signer: Signer
    token: str


def hash_token(token: str) -> str:
    """How a signing token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check_applicant(actor: Actor, request: Request) -> None:
    if actor.is_staff or request.applicant_id is None:
        return
    if actor.person is None or actor.person.pk != request.applicant_id:
        raise PermissionDenied(_("Only the applicant may change this request."))


def _check_staff(actor: Actor, request: Request) -> None:
    if not actor.is_staff:
        raise PermissionDenied(_("Only supplier staff decide on requests."))
    if actor.person is not None and actor.person.pk == request.applicant_id:
        raise PermissionDenied(_("Staff cannot decide on their own request."))


def _locked(request: Request) -> Request:
    return Request.objects.select_for_update().get(pk=request.pk)


def _set_wishes(
    request: Request, mandates: Sequence[MandateWish] | None, chain_mandates: Sequence[ChainMandateWish] | None
) -> None:
    if mandates is not None:
        request.mandates.all().delete()
        RequestedMandate.objects.bulk_create(
            RequestedMandate(
                request=request,
                scope_kind=wish.scope.kind,
                providers=sorted({provider.oin for provider in wish.scope.providers}),
                services=sorted({str(uuid) for uuid in wish.scope.services}),
                level=Level.parse(wish.level),
                years=wish.years,
                branch_number=wish.branch_number,
            )
            for wish in mandates
        )
    if chain_mandates is not None:
        request.chain_mandates.all().delete()
        RequestedChainMandate.objects.bulk_create(
            RequestedChainMandate(
                request=request,
                intermediary_kvk=wish.intermediary_kvk,
                scope_kind=wish.scope.kind,
                providers=sorted({provider.oin for provider in wish.scope.providers}),
                services=sorted({str(uuid) for uuid in wish.scope.services}),
                level=Level.parse(wish.level),
                years=wish.years,
            )
            for wish in chain_mandates
        )


def _audit_content(actor: Actor, request: Request, action: str) -> None:
    data = {
        "kind": request.kind,
        "kvk": request.kvk,
        "mandates": request.mandates.count(),
        "chain_mandates": request.chain_mandates.count(),
        "wants_manager": request.wants_manager,
    }
    audit_record(actor=actor, action=action, subject=request, organisation=request.organisation, data=data)


def _offered_language(language: str) -> str:
    """The offered language a language code belongs to ("en-gb" is English); else the default language."""
    offered = [code for code, _name in settings.LANGUAGES]
    code = (language or "").lower()
    for candidate in (code, code.split("-")[0]):
        if candidate in offered:
            return candidate
    return settings.LANGUAGE_CODE


@transaction.atomic
def request_create_draft(
    *,
    actor: Actor,
    kind: RequestKind | str,
    extract: KvkExtract,
    applicant: Person | None = None,
    applicant_name: str = "",
    applicant_email: str = "",
    applicant_date_of_birth: dt.date | None = None,
    mandates: Sequence[MandateWish] = (),
    chain_mandates: Sequence[ChainMandateWish] = (),
    wants_manager: bool = False,
    manager_level: Level | str | None = None,
    language: str = "",
) -> Request:
    """Start a request on a KvK extract (the caller looked it up); without ``applicant``, name the applicant.

    ``language`` is the language the applicant fills the request in (the active one, for a view); mails about the
    request use it. Without it, or with a language Sleutelbos does not offer, the default language.
    """
    if applicant is None and not applicant_name.strip():
        raise fail("applicant_name", _("Give your name."), code="required")
    if applicant is None and not applicant_email.strip():
        raise fail("applicant_email", _("Give your e-mail address."), code="required")
    request = Request(
        applicant=applicant,
        applicant_name=applicant_name.strip(),
        applicant_email=applicant_email.strip(),
        applicant_date_of_birth=applicant_date_of_birth,
        organisation=Organisation.objects.filter(kvk=extract.kvk).first(),
        kvk=extract.kvk,
        kvk_extract=extract_to_json(extract),
        extract_date=extract.extract_date,
        kind=RequestKind(kind),
        wants_manager=wants_manager,
        manager_level=None if manager_level is None else Level.parse(manager_level),
        language=_offered_language(language),
    )
    request.full_clean(exclude=["applicant"])
    request.save()
    _set_wishes(request, mandates, chain_mandates)
    _audit_content(actor, request, "request:created")
    return request


_UNSET = object()


def _signer_choices(request: Request, signers: Sequence[SignerWish]) -> list[dict[str, str]]:
    """The chosen signers as the request keeps them, each checked against the KvK extract; a clear error otherwise."""
    choices: list[dict[str, str]] = []
    for wish in signers:
        representative = find_signer(request, name=wish.name, date_of_birth=wish.date_of_birth)
        if representative is None:
            raise fail(
                "signers",
                _("%(name)s is not a representative of this organisation in the KvK extract.") % {"name": wish.name},
                code="not_representative",
            )
        born = representative.date_of_birth.isoformat()
        if any(same_name(item["name"], representative.name) and item["date_of_birth"] == born for item in choices):
            raise fail("signers", _("Name each representative once."), code="duplicate")
        email = (wish.email or "").strip()
        if not email:
            raise fail(
                "signers",
                _("Give the e-mail address of %(name)s, for their signing link.") % {"name": representative.name},
                code="email_required",
            )
        try:
            validate_email(email)
        except ValidationError:
            raise fail(
                "signers",
                _("“%(email)s” is not a valid e-mail address for %(name)s.")
                % {"email": email, "name": representative.name},
                code="email_invalid",
            ) from None
        choices.append({"name": representative.name, "date_of_birth": born, "email": email})
    return choices


@transaction.atomic
def request_update_draft(
    *,
    actor: Actor,
    request: Request,
    extract: KvkExtract | None = None,
    mandates: Sequence[MandateWish] | None = None,
    chain_mandates: Sequence[ChainMandateWish] | None = None,
    wants_manager: bool | None = None,
    manager_level: Level | str | object | None = _UNSET,
    signers: Sequence[SignerWish] | None = None,
) -> Request:
    """Change a draft, or a request staff asked more information about; parts not given stay as they are.

    ``signers`` are the representatives the applicant chooses to sign, each with the address for their link: kept
    with the request (``signer_choices``), so that the choice holds in any browser until the request is submitted.
    Each must be a representative in the KvK extract, named once, with a valid e-mail address. A new extract keeps
    only the choices that are still representatives in it.

    A change after submission gives the request another document hash, so signatures already given no longer count.
    """
    request = _locked(request)
    _check_applicant(actor, request)
    if request.state not in EDITABLE:
        raise ValidationError(
            _("A request that is “%(state)s” can no longer be changed.") % {"state": RequestState(request.state).label},
            code="not_editable",
        )
    if extract is not None:
        if extract.kvk != request.kvk:
            raise fail("kvk", _("The KvK extract is of another organisation."), code="other_organisation")
        request.kvk_extract = extract_to_json(extract)
        request.extract_date = extract.extract_date
        if signers is None:
            request.signer_choices = [
                choice
                for choice in request.signer_choices
                if find_signer(
                    request, name=choice["name"], date_of_birth=dt.date.fromisoformat(choice["date_of_birth"])
                )
            ]
    if signers is not None:
        request.signer_choices = _signer_choices(request, signers)
    if wants_manager is not None:
        request.wants_manager = wants_manager
    if manager_level is not _UNSET:
        request.manager_level = None if manager_level is None else Level.parse(manager_level)
    request.save()
    _set_wishes(request, mandates, chain_mandates)
    _audit_content(actor, request, "request:updated")
    return request


def _means_level(request: Request) -> Level | None:
    if request.applicant_id is None:
        return None
    means = Means.objects.filter(person_id=request.applicant_id).first()
    return Level(means.level) if means is not None else None


def _scope_of(item: RequestedMandate | RequestedChainMandate) -> Scope:
    providers = list(ServiceProvider.objects.filter(oin__in=item.providers))
    missing = sorted(set(item.providers) - {provider.oin for provider in providers})
    if missing:
        raise fail(
            "scope",
            _("These service providers are unknown: %(oins)s.") % {"oins": ", ".join(missing)},
            code="unknown_provider",
        )
    return Scope(ScopeKind(item.scope_kind), providers=tuple(providers), services=tuple(map(UUID, item.services)))


def _validate_content(request: Request) -> None:
    """Everything a request must satisfy before it can be signed; each error says what to do."""
    mandates = list(request.mandates.all())
    chains = list(request.chain_mandates.all())
    if not mandates and not chains:
        raise fail("mandates", _("Ask for at least one mandate or chain mandate."), code="empty")
    means_level = _means_level(request)
    if request.applicant_id is not None and means_level is None:
        raise fail("applicant", _("You need an eHerkenning means before you can request mandates."), code="no_means")
    branches = {branch["number"] for branch in request.kvk_extract.get("branches", [])}
    for item in [*mandates, *chains]:
        _scope_of(item).validate()
        if item.years not in Years.values:
            raise fail("years", _("A mandate runs 1, 3 or 5 years."), code="years")
        if means_level is not None and item.level > means_level:
            raise fail(
                "level",
                _("You cannot request %(level)s: your means has level %(means)s. Upgrade your means first.")
                % {"level": Level(item.level).label, "means": means_level.label},
                code="above_means_level",
            )
    for mandate in mandates:
        if mandate.branch_number and mandate.branch_number not in branches:
            raise fail(
                "branch_number",
                _("Branch %(number)s is not a branch of this organisation in the KvK extract.")
                % {"number": mandate.branch_number},
                code="unknown_branch",
            )
    for chain in chains:
        if chain.intermediary_kvk == request.kvk:
            raise fail("intermediary_kvk", _("An organisation cannot be its own intermediary."), code="same")
    manager_level = request.manager_level if request.wants_manager else None
    if manager_level is not None and means_level is not None and manager_level > means_level:
        raise fail(
            "manager_level",
            _("The manager role cannot exceed the level of your means (%(means)s).") % {"means": means_level.label},
            code="above_means_level",
        )


def _issue(request: Request, *, name: str, date_of_birth: dt.date, email: str, authority: str) -> IssuedLink:
    token = secrets.token_urlsafe(32)
    signer = Signer.objects.create(
        request=request,
        functionary_name=name,
        date_of_birth=date_of_birth,
        email=email,
        authority=authority,
        token_hash=hash_token(token),
        token_expires_at=timezone.now() + SIGNING_PERIOD,
    )
    return IssuedLink(signer=signer, token=token)


@transaction.atomic
def request_submit(
    *, actor: Actor, request: Request, signers: Sequence[SignerWish] = (), note: str = ""
) -> list[IssuedLink]:
    """Submit a request (or answer staff's question) and send it for signature; returns the signing links once.

    An applicant who is alone/independently authorized per the KvK becomes manager automatically and signs it
    themselves; anyone else names the representatives who must sign, as many as the signature table demands.
    Signatures already given on exactly this document by a representative named again stay valid; every other
    earlier link is superseded (it stops working) and the representatives named get a new one. When the signatures
    kept are enough (an answer to staff's question that changed nothing), the request is ready for verification at
    once and the applicant gets only that mail: no representative is asked again.
    """
    request = _locked(request)
    _check_applicant(actor, request)
    if request.state not in EDITABLE:
        raise ValidationError(
            _("A request that is “%(state)s” cannot be submitted.") % {"state": RequestState(request.state).label},
            code="not_editable",
        )
    alone = applicant_alone_authorized(request)
    if alone:
        request.wants_manager = True
    if request.wants_manager and request.manager_level is None:
        request.manager_level = request_level(request)
    _validate_content(request)
    level = request_level(request)
    wanted: list[tuple[str, dt.date, str, str]] = []
    if alone:
        me = applicant_representative(request)
        assert me is not None
        email = request.applicant.email if request.applicant is not None else request.applicant_email
        wanted.append((me.name, me.date_of_birth, email, me.authority))
    else:
        for wish in signers:
            representative = find_signer(request, name=wish.name, date_of_birth=wish.date_of_birth)
            if representative is None:
                raise fail(
                    "signers",
                    _("%(name)s is not a representative of this organisation in the KvK extract.")
                    % {"name": wish.name},
                    code="not_representative",
                )
            if any(same_name(representative.name, w[0]) and representative.date_of_birth == w[1] for w in wanted):
                raise fail("signers", _("Name each representative once."), code="duplicate")
            wanted.append((representative.name, representative.date_of_birth, wish.email, representative.authority))
        if not wanted:
            raise fail(
                "signers",
                _("You are not alone authorized for this organisation: choose the representatives who sign."),
                code="required",
            )
    needed = signatures_required([w[3] for w in wanted], level, representatives=len(representatives(request)))
    if len(wanted) < needed:
        raise fail(
            "signers",
            _("This request needs %(needed)d signatures: choose at least %(needed)d representatives.")
            % {"needed": needed},
            code="too_few",
        )
    request.document_hash = document_hash(request)
    request.reason = request.reason if request.state == RequestState.DRAFT else ""
    request.save()
    transition(request, RequestState.SUBMITTED, actor=actor, note=note)
    transition(request, RequestState.AWAITING_SIGNATURES, actor=actor)
    now = timezone.now()
    keep: set[tuple[str, dt.date]] = set()
    signed: list[str] = []
    for signer in request.signers.filter(superseded_at__isnull=True):
        still_named = any(same_name(signer.functionary_name, w[0]) and signer.date_of_birth == w[1] for w in wanted)
        if still_named and signer.signed_at is not None and signer.signed_document_hash == request.document_hash:
            keep.add((signer.functionary_name.casefold(), signer.date_of_birth))
            signed.append(signer.functionary_name)
        else:
            signer.superseded_at = now
            signer.save(update_fields=["superseded_at"])
    links = [
        _issue(request, name=name, date_of_birth=born, email=email, authority=authority)
        for name, born, email, authority in wanted
        if (name.casefold(), born) not in keep
    ]
    audit_record(
        actor=actor,
        action="request:sent_for_signature",
        subject=request,
        organisation=request.organisation,
        data={"document_hash": request.document_hash, "signers": [link.signer.pk for link in links]},
    )
    complete = signatures_complete(request)
    if not complete:
        mail_submitted(request, mailed=[link.signer.functionary_name for link in links], signed=signed)
    for link in links:
        mail_signature_request(request, link.signer, link.token)
    if complete:
        transition(request, RequestState.READY_FOR_VERIFICATION, actor=actor)
        mail_ready_for_verification(request, resubmitted=True)
    return links


def _signer_for(token: str) -> Signer:
    """The current, open signer of this token (from the first mail or the reminder); a clear refusal otherwise."""
    digest = hash_token(token)
    signers = Signer.objects.select_for_update()
    signer = signers.filter(token_hash=digest).first() or signers.filter(reminder_token_hash=digest).first()
    if signer is None or signer.superseded_at is not None:
        raise PermissionDenied(_("This signing link is not valid. Ask the applicant for a new one."))
    if signer.signed_at is not None or signer.declined_at is not None:
        raise PermissionDenied(_("This signing link has already been used."))
    if signer.token_expires_at <= timezone.now():
        raise PermissionDenied(_("This signing link has expired. Ask the applicant to submit the request again."))
    if signer.request.state != RequestState.AWAITING_SIGNATURES:
        raise PermissionDenied(_("This request is no longer waiting for signatures."))
    return signer


def _check_identity_confirmed(signer: Signer) -> None:
    """A signer answers only after confirming who they are with the mailed code (``signer_identity_confirm``)."""
    if signer.identity_confirmed_at is None:
        raise fail(
            "code",
            _("First confirm who you are with the code we send to your e-mail address."),
            code="identity_not_confirmed",
        )


def request_sign(
    *, token: str, name: str, date_of_birth: dt.date, address: str | None = None, user_agent: str = ""
) -> Signer:
    """A representative signs, with the identity the KvK register lists (name in any case, exact date of birth).

    The signature records who, when, from where and the SHA-256 of the exact document signed. A wrong identity is
    refused (and audited); the link stays usable for the right person until it expires.
    """
    signer = _sign(token=token, name=name, date_of_birth=date_of_birth, address=address, user_agent=user_agent)
    if signer is None:
        raise fail(
            "identity",
            _("The name and date of birth do not match the representative this link was sent to."),
            code="identity",
        )
    return signer


@transaction.atomic
def _sign(*, token: str, name: str, date_of_birth: dt.date, address: str | None, user_agent: str) -> Signer | None:
    signer = _signer_for(token)
    _check_identity_confirmed(signer)
    request = _locked(signer.request)
    actor = Actor(label=f"signer:{signer.pk}")
    if not same_name(signer.functionary_name, name) or signer.date_of_birth != date_of_birth:
        audit_record(
            actor=actor,
            action="request:signature_refused",
            subject=request,
            organisation=request.organisation,
            data={"signer": signer.functionary_name, "address": address},
        )
        return None
    current = document_hash(request)
    if current != request.document_hash:
        message = _("This request was changed after it was submitted; it cannot be signed.")
        raise ValidationError(message, code="changed")
    signer.signed_at = timezone.now()
    signer.signed_document_hash = current
    signer.address = address
    signer.user_agent = user_agent[:500]
    signer.save()
    audit_record(
        actor=actor,
        action="request:signed",
        subject=request,
        organisation=request.organisation,
        data={"signer": signer.functionary_name, "document_hash": current, "address": address},
    )
    if signatures_complete(request):
        transition(request, RequestState.READY_FOR_VERIFICATION, actor=actor)
        mail_ready_for_verification(request)
    return signer


def _signatures_reachable(request: Request, *, now: dt.datetime) -> bool:
    """Whether the signatures given and those still possible (asked, not answered, link not expired) can be enough."""
    current = document_hash(request)
    possible = [
        signer
        for signer in request.signers.filter(superseded_at__isnull=True)
        if signature_valid(signer, current)
        or (signer.signed_at is None and signer.declined_at is None and signer.token_expires_at > now)
    ]
    needed = signatures_required(
        [signer.authority for signer in possible], request_level(request), representatives=len(representatives(request))
    )
    return len(possible) >= needed


@transaction.atomic
def request_decline(*, token: str, reason: str) -> Signer:
    """A representative declines to sign, with a reason; the applicant is mailed who declined and why.

    When the signatures given and still possible can no longer reach the number the request needs, the request goes
    back to the applicant as a draft (recorded in its history): they choose other representatives or change what
    they ask, and submit it again, which supersedes the earlier links. Otherwise it waits for the other signatures.
    """
    if not reason.strip():
        raise fail("reason", _("Say why you decline to sign."), code="required")
    signer = _signer_for(token)
    _check_identity_confirmed(signer)
    request = _locked(signer.request)
    actor = Actor(label=f"signer:{signer.pk}")
    now = timezone.now()
    signer.declined_at = now
    signer.decline_reason = reason.strip()
    signer.save(update_fields=["declined_at", "decline_reason"])
    audit_record(
        actor=actor,
        action="request:signature_declined",
        subject=request,
        organisation=request.organisation,
        data={"signer": signer.functionary_name, "reason": signer.decline_reason},
    )
    returned = not _signatures_reachable(request, now=now)
    if returned:
        with translation.override(request.language):  # the applicant reads the note in their request's history
            note = _(
                "%(name)s declined to sign, so the request can no longer get the signatures it needs. Choose other "
                "representatives or change what you ask, and submit the request again."
            ) % {"name": signer.functionary_name}
        transition(request, RequestState.DRAFT, actor=actor, note=note)
    mail_signature_declined(request, signer, returned=returned)
    return signer


@transaction.atomic
def request_withdraw(*, actor: Actor, request: Request, note: str = "") -> Request:
    """The applicant withdraws the request; possible until staff decide."""
    request = _locked(request)
    _check_applicant(actor, request)
    transition(request, RequestState.WITHDRAWN, actor=actor, note=note)
    return request


@transaction.atomic
def request_expire(*, actor: Actor = SYSTEM, now: dt.datetime | None = None) -> list[Request]:
    """Expire the requests whose signatures were not complete within 14 days of submission (a scheduled task)."""
    deadline = (now or timezone.now()) - SIGNING_PERIOD
    overdue = Request.objects.select_for_update().filter(
        state=RequestState.AWAITING_SIGNATURES, submitted_at__lte=deadline
    )
    expired = []
    for request in overdue:
        transition(request, RequestState.EXPIRED, actor=actor, note=_("Signatures not complete within 14 days."))
        mail_expired(request)
        expired.append(request)
    return expired


@transaction.atomic
def request_remind(*, actor: Actor = SYSTEM, now: dt.datetime | None = None) -> list[Signer]:
    """Remind each signer who has not answered 5 days after their link, once (a scheduled task).

    The reminder carries a second link; the first stays valid, both until the first one expires. The signer rows are
    locked, so two workers running this at once send each reminder only once.
    """
    now = now or timezone.now()
    due = Signer.objects.select_for_update().filter(
        request__state=RequestState.AWAITING_SIGNATURES,
        superseded_at__isnull=True,
        signed_at__isnull=True,
        declined_at__isnull=True,
        reminded_at__isnull=True,
        created_at__lte=now - REMINDER_AFTER,
        token_expires_at__gt=now,
    )
    reminded = []
    for signer in due.order_by("id"):
        token = secrets.token_urlsafe(32)
        signer.reminder_token_hash = hash_token(token)
        signer.reminded_at = now
        signer.save(update_fields=["reminder_token_hash", "reminded_at"])
        request = signer.request
        audit_record(
            actor=actor,
            action="request:signer_reminded",
            subject=request,
            organisation=request.organisation,
            data={"signer": signer.functionary_name},
        )
        mail_reminder(request, signer, token)
        reminded.append(signer)
    return reminded


def _organisation_for(actor: Actor, request: Request) -> Organisation:
    if request.organisation is not None:
        return request.organisation
    existing = Organisation.objects.filter(kvk=request.kvk).first()
    if existing is not None:
        return existing
    extract = request.kvk_extract
    organisation = organisation_create(
        actor=actor,
        kvk=request.kvk,
        name=extract["name"],
        rsin=extract.get("rsin", ""),
        legal_form=extract.get("legal_form", LegalForm.OTHER),
    )
    for representative in representatives(request):
        functionary_create(
            actor=actor,
            organisation=organisation,
            name=representative.name,
            date_of_birth=representative.date_of_birth,
            role=representative.role,
            authority=representative.authority,
        )
    return organisation


def _branch_for(actor: Actor, request: Request, organisation: Organisation, number: str) -> Branch | None:
    if not number:
        return None
    branch = Branch.objects.filter(number=number).first()
    if branch is not None:
        if branch.organisation_id != organisation.pk:
            raise fail("branch_number", _("This branch belongs to another organisation."), code="other_organisation")
        return branch
    listed = next((b for b in request.kvk_extract.get("branches", []) if b["number"] == number), None)
    if listed is None:
        raise fail(
            "branch_number",
            _("Branch %(number)s is no longer a branch of this organisation in the KvK extract.") % {"number": number},
            code="unknown_branch",
        )
    return branch_create(
        actor=actor, organisation=organisation, number=number, name=listed["name"], city=listed.get("city", "")
    )


#: A KvK extract older than this is looked up again before staff approve the request.
EXTRACT_MAX_AGE = dt.timedelta(days=14)


def extract_is_stale(request: Request, *, today: dt.date | None = None) -> bool:
    """Whether the request's KvK extract is older than 14 days (or has no date): refresh it before approving."""
    today = today or timezone.localdate()
    return request.extract_date is None or request.extract_date < today - EXTRACT_MAX_AGE


@dataclass(frozen=True)
class ExtractRefresh:
    """The outcome of looking a request's KvK extract up again."""

    request: Request
    #: The register now says something else about the organisation than the snapshot did.
    changed: bool
    #: The signatures still match the request as it is now (they do when only the date changed).
    signatures_valid: bool


def _extract_content(extract: dict) -> dict:
    return {key: value for key, value in extract.items() if key != "extract_date"}


@transaction.atomic
def request_refresh_extract(*, actor: Actor, request: Request) -> ExtractRefresh:
    """Staff look the organisation up in the KvK register again and keep the new extract as the request's snapshot.

    When only the date changed, the signatures stay valid; when the register's data changed, the request no longer
    is what the representatives signed, and it cannot be approved until they sign it again.
    """
    _check_staff(actor, request)
    if request.state != RequestState.READY_FOR_VERIFICATION:
        raise ValidationError(
            _("Only the KvK extract of a request ready for verification is refreshed; this one is “%(state)s”.")
            % {"state": RequestState(request.state).label},
            code="not_ready",
        )
    try:
        extract = kvk_lookup(request.kvk)  # before the lock: the register may take a while to answer
    except KvkError as error:
        raise fail("kvk", str(error), code="kvk_lookup") from error
    request = _locked(request)
    if request.state != RequestState.READY_FOR_VERIFICATION:
        raise ValidationError(
            _("Only the KvK extract of a request ready for verification is refreshed; this one is “%(state)s”.")
            % {"state": RequestState(request.state).label},
            code="not_ready",
        )
    before = _extract_content(request.kvk_extract)
    request.kvk_extract = extract_to_json(extract)
    request.extract_date = extract.extract_date
    request.save(update_fields=["kvk_extract", "extract_date"])
    changed = before != _extract_content(request.kvk_extract)
    valid = signatures_complete(request)
    audit_record(
        actor=actor,
        action="request:extract_refreshed",
        subject=request,
        organisation=request.organisation,
        data={"extract_date": extract.extract_date.isoformat(), "changed": changed, "signatures_valid": valid},
    )
    return ExtractRefresh(request=request, changed=changed, signatures_valid=valid)


def _applicant_account(actor: Actor, request: Request, evidence: EvidenceDetails | None) -> Person:
    """A first applicant's new account: the person, and a means at the request's level on ``evidence``."""
    name, born = applicant_identity(request)
    level = request_level(request)
    if evidence is None:
        raise fail(
            "applicant",
            _(
                "%(name)s has no account yet. Record how their identity was verified (at %(level)s at least: "
                "%(kind)s); approval then creates the account with a means at %(level)s."
            )
            % {"name": name, "level": level.label, "kind": evidence_kind_for(level).label},
            code="no_account",
        )
    email = request.applicant_email.strip()
    if Person.objects.filter(email__iexact=email).exists():
        raise fail(
            "applicant",
            _(
                "An account with the e-mail address %(email)s already exists. Ask the applicant to apply from that "
                "account."
            )
            % {"email": email},
            code="account_exists",
        )
    return person_create(actor=actor, name=name, email=email, date_of_birth=born, level=level, evidence=evidence)


def _base_url() -> str:
    """Where Sleutelbos is reached from outside, for the activation link."""
    return absolute_url("/")


@transaction.atomic
def request_approve(
    *, actor: Actor, request: Request, note: str = "", evidence: EvidenceDetails | None = None
) -> Request:
    """Staff approve: create the membership, manager role, mandates and chain mandates exactly as requested.

    A first application without an account also creates the applicant's account, with a means at the request's
    level on the identity ``evidence`` staff record now, and mails them the link to activate it. The approval is
    refused while the KvK extract is older than 14 days (refresh it first) and when the signatures do not match
    the request as it is now. Then the applicant gets the approval mail.

    The request row is locked and its state checked under the lock, so two staff approving at once create it all
    only once: the second finds the request approved and is refused.
    """
    request = _locked(request)
    _check_staff(actor, request)
    if request.state != RequestState.READY_FOR_VERIFICATION:
        raise ValidationError(
            _("Only a request ready for verification can be approved; this one is “%(state)s”.")
            % {"state": RequestState(request.state).label},
            code="not_ready",
        )
    if extract_is_stale(request):
        raise fail(
            "extract_date",
            _("The KvK extract is older than 14 days (of %(date)s): refresh it before approving.")
            % {"date": request.extract_date.isoformat() if request.extract_date else "–"},
            code="stale_extract",
        )
    if not signatures_complete(request):
        raise ValidationError(
            _("The signatures do not match the request as it is now; it cannot be approved."), code="signatures"
        )
    applicant = request.applicant
    new_account = applicant is None
    if applicant is None:
        applicant = _applicant_account(actor, request, evidence)
        request.applicant = applicant
        request.save(update_fields=["applicant"])
    organisation = _organisation_for(actor, request)
    if request.organisation_id != organisation.pk:
        request.organisation = organisation
        request.save(update_fields=["organisation"])
    now = timezone.now()
    membership_ensure(actor=actor, person=applicant, organisation=organisation)
    if request.wants_manager and request.manager_level is not None:
        membership_set_manager(
            actor=actor, person=applicant, organisation=organisation, level=Level(request.manager_level)
        )
    for wish in request.mandates.all():
        mandate_grant(
            actor=actor,
            holder=applicant,
            organisation=organisation,
            scope=_scope_of(wish),
            level=Level(wish.level),
            valid_from=now,
            valid_until=add_years(now, wish.years),
            branch=_branch_for(actor, request, organisation, wish.branch_number),
        )
    for wish in request.chain_mandates.all():
        intermediary = Organisation.objects.filter(kvk=wish.intermediary_kvk).first()
        if intermediary is None:
            raise fail(
                "intermediary_kvk",
                _("The intermediary %(kvk)s is not registered yet; register it before approving.")
                % {"kvk": wish.intermediary_kvk},
                code="unknown_intermediary",
            )
        chain_mandate_grant(
            actor=actor,
            client=organisation,
            intermediary=intermediary,
            scope=_scope_of(wish),
            level=Level(wish.level),
            valid_from=now,
            valid_until=add_years(now, wish.years),
        )
    transition(request, RequestState.APPROVED, actor=actor, note=note)
    mail_approved(request)
    if new_account:
        activation_send(actor=actor, person=applicant, base_url=_base_url(), language=request.language)
    return request


@transaction.atomic
def request_reject(*, actor: Actor, request: Request, reason: str) -> Request:
    """Staff reject the request, with the reason the applicant will read."""
    if not reason.strip():
        raise fail("reason", _("Give the reason for the rejection."), code="required")
    request = _staff_answer(actor, request, RequestState.REJECTED, reason)
    mail_rejected(request)
    return request


@transaction.atomic
def request_ask_information(*, actor: Actor, request: Request, question: str) -> Request:
    """Staff ask the applicant for more information; the applicant answers by changing and submitting again."""
    if not question.strip():
        raise fail("question", _("Write the question for the applicant."), code="required")
    request = _staff_answer(actor, request, RequestState.MORE_INFORMATION_REQUESTED, question)
    mail_information_requested(request)
    return request


def _staff_answer(actor: Actor, request: Request, to: RequestState, text: str) -> Request:
    """Staff move the request on with a text the applicant will read (a reason or a question)."""
    request = _locked(request)
    _check_staff(actor, request)
    request.reason = text.strip()
    request.save(update_fields=["reason"])
    transition(request, to, actor=actor, note=request.reason)
    return request
