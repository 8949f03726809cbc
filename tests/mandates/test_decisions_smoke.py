import pytest

from sleutelbos.audit.services import SYSTEM
from sleutelbos.mandates.decisions import decide
from sleutelbos.mandates.services import Scope, mandate_revoke
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_a_provider_mandate_opens_the_door_and_revocation_closes_it() -> None:
    service = f.instance(level="EH3")
    org = f.organisation()
    person = f.person(level="EH3")
    assert decide(person, org, service).codes == ["no_mandate"]
    granted = f.mandate(person, org, scope=Scope.of_providers(service.provider))
    assert decide(person, org, service).allowed
    mandate_revoke(actor=SYSTEM, mandate=granted)
    assert decide(person, org, service).codes == ["mandate_revoked"]
