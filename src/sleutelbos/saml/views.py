"""The broker's SAML endpoints, adapting HTTP requests to the protocol code in :mod:`sleutelbos.saml.protocol`.

The login runs over three URLs: the SingleSignOnService receives the AuthnRequest (Redirect or POST binding), the
continue page (``continue/<token>/``) authenticates the person and lets them choose whom to represent, and the
ArtifactResolutionService hands the answer to the service provider over SOAP. :mod:`sleutelbos.saml.flow` holds the
logic between these views and the protocol code.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from lxml import etree

from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.models import ServiceInstance
from sleutelbos.identity.models import Person
from sleutelbos.identity.sessions import require_level, session_level
from sleutelbos.mandates.decisions import Reason, decide
from sleutelbos.saml import flow, selectors, services
from sleutelbos.saml.idp import ARTIFACT_RESOLUTION_PATH, METADATA_VALIDITY, SSO_PATH, idp_config
from sleutelbos.saml.models import ServiceProviderEntity
from sleutelbos.saml.protocol import messages, soap
from sleutelbos.saml.protocol.metadata import build_idp_metadata
from sleutelbos.saml.protocol.signatures import SignatureError, sign, verify
from sleutelbos.saml.protocol.xml import XMLError
from sleutelbos.security import POLICY

logger = logging.getLogger(__name__)

METADATA_CONTENT_TYPE = "application/samlmetadata+xml"
#: A request received by POST continues in the session after a redirect; this long the redirect stays valid.
RESUME_SECONDS = 300
_RESUME_SALT = "sleutelbos.saml.resume"


def public_url(request: HttpRequest, path: str) -> str:
    """An absolute URL of the broker: on ``SAML_IDP_BASE_URL`` when set (behind a proxy), else on the host asked
    (which ALLOWED_HOSTS limits)."""
    base = (getattr(settings, "SAML_IDP_BASE_URL", "") or "").rstrip("/")
    return f"{base}{path}" if base else request.build_absolute_uri(path)


@require_safe
def idp_metadata(request: HttpRequest) -> HttpResponse:
    """The broker's SAML metadata, signed with its current key: entity ID, signing certificate(s), SSO and artifact
    resolution endpoints."""
    config = idp_config()
    element = build_idp_metadata(
        entity_id=config.entity_id,
        sso_url=public_url(request, SSO_PATH),
        artifact_resolution_url=public_url(request, ARTIFACT_RESOLUTION_PATH),
        certificates=config.certificates,
        valid_until=timezone.now() + METADATA_VALIDITY,
    )
    sign(element, config.key_pem, config.cert_pem)
    body = etree.tostring(element, xml_declaration=True, encoding="UTF-8")
    response = HttpResponse(body, content_type=METADATA_CONTENT_TYPE)
    response["Content-Disposition"] = 'inline; filename="sleutelbos-idp-metadata.xml"'
    return response


# --------------------------------------------------------------------------------------------------------------------
# Receiving the AuthnRequest


def _error_page(request: HttpRequest, *, expired: bool = False) -> HttpResponse:
    """The generic page for a refused request: the person learns nothing an attacker could use."""
    return render(request, "saml/error.html", {"expired": expired}, status=400)


# A service provider's page posts the AuthnRequest from its own origin, so there is no CSRF token; the request's
# own signature is what authenticates it.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def sso(request: HttpRequest) -> HttpResponse:
    """The SingleSignOnService: verify the AuthnRequest, then continue the login in the person's session.

    A request received by POST comes from another site, so the browser sends no (SameSite=Lax) session cookie
    with it; writing a session now would replace the person's own. The verified request therefore travels in a
    signed redirect (:func:`sso_resume`) that the browser follows with its cookie.
    """
    now = timezone.now()
    destination = public_url(request, SSO_PATH)
    try:
        if request.method == "GET":
            # The request's ID is recorded below: with the answer, in its commit, when the answer leaves at once.
            intake = flow.receive_redirect(
                request.META.get("QUERY_STRING", ""), destination=destination, now=now, remember=False
            )
            if intake.error is not None:
                flow.remember(intake.pending, now=now)
        else:
            intake = flow.receive_post(
                request.POST.get("SAMLRequest", ""), request.POST.get("RelayState"), destination=destination, now=now
            )
    except flow.Refused as refused:
        logger.warning("SAML AuthnRequest refused: %s", refused.reason)
        return _error_page(request)
    if intake.error is not None:
        top, sub, message = intake.error
        return _send(
            request,
            intake.pending,
            flow.answer_status(pending=intake.pending, top=top, sub=sub, message=message, now=now),
            now=now,
            entity=intake.entity,
        )
    if request.method == "POST":
        state = signing.dumps(asdict(intake.pending), salt=_RESUME_SALT, compress=True)
        return HttpResponseRedirect(f"{reverse('saml:sso-resume')}?state={state}", status=303)
    answered = _answer_at_once(request, intake, now=now, remember=True)
    if answered is not None:
        return answered
    try:
        flow.remember(intake.pending, now=now)
    except flow.Refused as refused:
        logger.warning("SAML AuthnRequest refused: %s", refused.reason)
        return _error_page(request)
    token = flow.pending_store(request.session, intake.pending)
    return HttpResponseRedirect(reverse("saml:continue", args=[token]))


def _answer_at_once(
    request: HttpRequest, intake: flow.Intake, *, now: dt.datetime, remember: bool = False
) -> HttpResponse | None:
    """The answer to a request (by Redirect, or by POST once resumed in the session) when there is nothing to ask:
    the session already holds the level (and ForceAuthn is not asked) and the person may log in one way only.
    None when the person must authenticate, choose or read why not: then the login continues on its own page
    (:func:`login_continue`), which decides anew.

    ``remember``: the request's ID is not recorded yet; when an answer is given here, it is recorded with it (a
    replay is refused then), else the caller records it.
    """
    pending, entity = intake.pending, intake.entity
    if pending.force or not request.user.is_authenticated:
        return None
    reached = session_level(request)
    if reached is None or reached < Level(pending.level) or entity.provider_id is None:
        return None
    service = intake.service
    if service is None:  # the portal: the services the person may use are listed per organisation
        found = _options(request.user, entity, pending, reached)
        if found is None or len(found[1]) != 1:
            return None
        chosen = found[1][0]
    else:
        chosen = selectors.single_option_for_service(request.user, service, Level(pending.level))
        if chosen is None:
            return None
    pending.person = request.user.pk
    return _answer(request, flow.new_token(), pending, entity, service, chosen, reached, now=now, remember=remember)


@require_safe
def sso_resume(request: HttpRequest) -> HttpResponse:
    """Continue a request received by POST, now with the person's session: answered at once when there is nothing
    to ask (:func:`_answer_at_once`), else the signed state becomes a pending login of this session."""
    try:
        data = signing.loads(request.GET.get("state", ""), salt=_RESUME_SALT, max_age=RESUME_SECONDS)
        pending = flow.PendingLogin.from_dict(data)
    except (signing.BadSignature, TypeError) as error:
        logger.warning("SAML resume refused: %s", error)
        return _error_page(request, expired=True)
    if request.user.is_authenticated and not pending.force:
        entity = selectors.entity_by_issuer(pending.entity_id)
        if entity is not None and entity.provider_id is not None:
            service = None
            if not pending.is_portal:
                service = selectors.service_instance(entity.provider_id, pending.service_index, shared=True)
            if pending.is_portal or service is not None:
                intake = flow.Intake(pending, entity=entity, service=service)
                answered = _answer_at_once(request, intake, now=timezone.now())
                if answered is not None:
                    return answered
    token = flow.pending_store(request.session, pending)
    return HttpResponseRedirect(reverse("saml:continue", args=[token]))


# --------------------------------------------------------------------------------------------------------------------
# Authentication, choice, decision


@require_http_methods(["GET", "POST"])
def login_continue(request: HttpRequest, token: str) -> HttpResponse:
    """The login of one AuthnRequest: authenticate at the level asked, choose whom to represent, decide, answer."""
    pending = flow.pending_load(request.session, token)
    if pending is None:
        return _error_page(request, expired=True)
    now = timezone.now()
    if request.method == "POST" and request.POST.get("action") == "cancel":
        person = request.user if request.user.is_authenticated else None
        try:
            entity = selectors.entity_by_issuer(pending.entity_id)
            if entity is None:
                raise flow.Refused("the service provider was removed during the login")
            answer = flow.answer_status(
                pending=pending,
                top=flow.STATUS_RESPONDER,
                sub=flow.STATUS_AUTHN_FAILED,
                message="The person cancelled the login.",
                now=now,
            )
            response = _send(request, pending, answer, now=now, token=token, entity=entity)
        except Exception as error:
            return _answer_failed(request, token, pending, error)
        services.login_record_cancelled(pending=pending, person=person, entity=entity)
        return response

    redirect = _authenticate(request, token, pending)
    if redirect is not None:
        return redirect
    person: Person = request.user
    reached = session_level(request)
    entity = selectors.entity_by_issuer(pending.entity_id)
    found = None
    if entity is not None and entity.provider_id is not None and reached is not None:
        found = _options(person, entity, pending, reached)
    if found is None:
        flow.pending_drop(request.session, token)
        return _error_page(request, expired=True)
    service, options = found
    if not options:
        return _refused(request, token, pending, person, service)

    chosen = None
    error = ""
    if request.method == "POST":
        chosen = next((option for option in options if option.key == request.POST.get("option")), None)
        if chosen is None:
            error = gettext("Choose whom you represent.")
    elif len(options) == 1:
        chosen = options[0]
    if chosen is None:
        context = {"token": token, "options": options, "error": error, "entity": entity, "service": service}
        return render(request, "saml/choose.html", context, status=400 if error else 200)
    return _answer(request, token, pending, entity, service, chosen, reached, now=now)


def _options(
    person: Person, entity: ServiceProviderEntity, pending: flow.PendingLogin, reached: Level
) -> tuple[ServiceInstance | None, list[selectors.Option]] | None:
    """The service asked (None for the provider's portal) and the ways the person may log in there; None when the
    service is no longer in the catalogue."""
    if pending.is_portal:
        return None, selectors.options_for_portal(person, entity.provider_id, reached)
    service = selectors.service_instance(entity.provider_id, pending.service_index)
    if service is None:
        return None
    return service, selectors.options_for_service(person, service, Level(pending.level))


def _answer(
    request: HttpRequest,
    token: str,
    pending: flow.PendingLogin,
    entity: ServiceProviderEntity,
    service: ServiceInstance | None,
    chosen: selectors.Option,
    reached: Level,
    *,
    now: dt.datetime,
    remember: bool = False,
) -> HttpResponse:
    """Answer the DV for the chosen option: the decision (made when the options were listed, in this request, or
    anew for a branch the person chose), the signed and encrypted Response, the artifact, the audit event.
    ``remember``: the request's ID is recorded here too, in the same commit (see :func:`_answer_at_once`)."""
    person: Person = request.user
    answered: tuple[ServiceInstance, ...] = chosen.services
    branch = chosen.branch
    if service is not None:
        decision = chosen.decision
        if decision is None:
            decision = decide(
                person,
                chosen.organisation,
                service,
                level=Level(pending.level),
                intermediary=chosen.intermediary,
                branch=chosen.branch,
            )
        if not decision.allowed:  # a branch the mandate does not cover
            if remember:
                try:
                    flow.remember(pending, now=now)
                except flow.Refused as refused:
                    logger.warning("SAML AuthnRequest refused: %s", refused.reason)
                    return _error_page(request)
            return _refused(request, token, pending, person, service)
        answered, branch = (service,), decision.branch
    attributes = flow.login_attributes(
        pending=pending,
        person=person,
        organisation=chosen.organisation,
        intermediary=chosen.intermediary,
        services=answered,
        branch=branch,
    )
    try:
        answer = flow.answer_allowed(
            pending=pending, token=token, attributes=attributes, level=reached, now=now, entity=entity
        )
        # The request's ID (when not yet recorded), the artifact and the audit event are written together, in one
        # commit: no answer without its record, and a replay gets nothing.
        with transaction.atomic():
            if remember:
                flow.remember(pending, now=now)
            response = _send(request, pending, answer, now=now, token=token, entity=entity)
            services.login_record_allowed(
                pending=pending,
                person=person,
                organisation=chosen.organisation,
                intermediary=chosen.intermediary,
                services=answered,
                branch=branch,
                level=reached,
            )
    except Exception as error:
        return _answer_failed(request, token, pending, error)
    return response


def _answer_failed(request: HttpRequest, token: str, pending: flow.PendingLogin, error: Exception) -> HttpResponse:
    """The login cannot be answered: the DV's entity was removed meanwhile (:class:`flow.Refused`, a 400), or
    building or storing the answer failed (a 500). The reason goes to the log, the person sees the generic page, and
    the login is spent."""
    flow.pending_drop(request.session, token)
    if isinstance(error, flow.Replayed):
        logger.warning("SAML AuthnRequest refused: %s", error.reason)
        return _error_page(request)
    if isinstance(error, flow.Refused):
        logger.warning("SAML login %s of %s not answered: %s", pending.request_id, pending.entity_id, error.reason)
        return _error_page(request, expired=True)
    # The session middleware does not save a session on a 500; the spent login must not be retried.
    request.session.save()
    logger.error(
        "SAML login %s of %s not answered: building the answer failed",
        pending.request_id,
        pending.entity_id,
        exc_info=error,
    )
    return render(request, "saml/error.html", {"expired": False, "failed": True}, status=500)


def _authenticate(request: HttpRequest, token: str, pending: flow.PendingLogin) -> HttpResponse | None:
    """None when the person authenticated for this login at its level; else the way to the login or step-up page.

    The first successful check binds the login to the person, so that a forced authentication (ForceAuthn) is asked
    once per login, not again on the choice page; another person in the session starts over.
    """
    level = Level(pending.level)
    held = session_level(request)
    if pending.person is not None:
        if request.user.is_authenticated and request.user.pk == pending.person and held is not None and held >= level:
            return None
        pending.person = None
        flow.pending_save(request.session, token, pending)
    redirect = require_level(request, level, force=pending.force)
    if redirect is not None:
        return redirect
    pending.person = request.user.pk
    flow.pending_save(request.session, token, pending)
    return None


def _refused(
    request: HttpRequest, token: str, pending: flow.PendingLogin, person: Person, service: ServiceInstance | None
) -> HttpResponse:
    """The page that says why the person cannot log in, with a Cancel button that answers the DV."""
    if service is None:
        rows: list = []
        general = [gettext("You may not use any service of this service provider for any organisation.")]
    else:
        rows = selectors.refusals(person, service, Level(pending.level))
        general = [] if rows else [Reason("no_mandate").message]
    services.login_record_refused(
        pending=pending, person=person, decisions=[(row.organisation, row.decision) for row in rows]
    )
    context = {
        "token": token,
        "service": service,
        "general": general,
        "level": Level(pending.level).label,
        "rows": [
            {
                "organisation": row.organisation,
                "intermediary": row.intermediary,
                "reasons": [reason.message for reason in row.decision.reasons],
            }
            for row in rows
        ],
    }
    return render(request, "saml/refused.html", context, status=403)


def _send(
    request: HttpRequest,
    pending: flow.PendingLogin,
    answer: etree._Element,
    *,
    now: dt.datetime,
    token: str | None = None,
    entity: ServiceProviderEntity | None = None,
) -> HttpResponse:
    """Take the answer to the DV's registered ACS (``entity``: the DV's entity, when already read); the login's token
    is spent."""
    if token is not None:
        flow.pending_drop(request.session, token)
    delivery = flow.deliver(pending=pending, response=answer, now=now, entity=entity)
    if delivery.fields is None:
        return HttpResponseRedirect(delivery.url)
    response = render(request, "saml/post.html", {"delivery": delivery})
    # The form goes to the ACS, another origin: only that origin is added to the policy's form-action.
    response["Content-Security-Policy"] = POLICY.replace("form-action 'self'", f"form-action 'self' {delivery.origin}")
    response["Cache-Control"] = "no-store"
    return response


# --------------------------------------------------------------------------------------------------------------------
# Artifact resolution


@csrf_exempt
@require_POST
def artifact_resolution(request: HttpRequest) -> HttpResponse:
    """The ArtifactResolutionService (SOAP 1.1 ``text/xml`` or 1.2 ``application/soap+xml``): a signed
    ArtifactResolve from a registered entity gets a signed ArtifactResponse, always Success; the Response inside
    only for the entity's own artifact, once."""
    now = timezone.now()
    content_type = request.META.get("CONTENT_TYPE", "")
    version = soap.SOAP_1_1
    try:
        version = soap.version_of(content_type)
        element = soap.unwrap(request.body, content_type)
        version = soap.envelope_version(element)  # answer in the envelope's version (pysaml2 labels 1.1 as 1.2)
        resolve = messages.read_artifact_resolve(element)
        messages.check_artifact_resolve(resolve, destination=public_url(request, ARTIFACT_RESOLUTION_PATH), now=now)
        entity = selectors.entity_by_issuer(resolve.issuer)
        if entity is None:
            raise flow.Refused(f"unknown issuer {resolve.issuer[:200]!r}")
        verify(element, selectors.signing_certificates(entity))
        with transaction.atomic():  # the message ID and the claim of the artifact in one commit
            if not services.message_id_remember(issuer=entity.entity_id, message_id=resolve.id, now=now):
                raise flow.Refused(f"replayed ArtifactResolve ID {resolve.id!r}")
            message = services.artifact_resolve(
                issuer=entity.entity_id, artifact=resolve.artifact, now=now, entity=entity
            )
    except soap.SoapError as error:
        logger.warning("SAML ArtifactResolve refused: %s", error.reason)
        return _soap_fault(error.version, error.code)
    except (flow.Refused, XMLError, SignatureError, messages.MessageError) as error:
        logger.warning("SAML ArtifactResolve refused: %s", error.reason)
        return _soap_fault(version, soap.FAULT_CLIENT)
    config = idp_config()
    answer = messages.build_artifact_response(
        response_id=messages.new_id(),
        in_response_to=resolve.id,
        issuer=config.entity_id,
        message=message,
        now=now,
        sign_key=config.key_pem,
        sign_cert=config.cert_pem,
    )
    return HttpResponse(soap.wrap(answer, version), content_type=soap.CONTENT_TYPES[version])


def _soap_fault(version: str, code: str) -> HttpResponse:
    return HttpResponse(
        soap.fault(version=version, code=code),
        status=soap.fault_http_status(version, code),
        content_type=soap.CONTENT_TYPES[version],
    )
