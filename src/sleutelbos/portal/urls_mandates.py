"""Manager pages: mandates of people, and chain mandates."""

from django.urls import path

from sleutelbos.portal import manage_mandates

urlpatterns = [
    path("", manage_mandates.mandates, name="manage_mandates"),
    path("grant/", manage_mandates.grant, name="manage_mandate_grant"),
    path("<int:mandate>/renew/", manage_mandates.renew, name="manage_mandate_renew"),
    path("<int:mandate>/reactivate/", manage_mandates.reactivate, name="manage_mandate_reactivate"),
    path("<int:mandate>/revoke/", manage_mandates.revoke, name="manage_mandate_revoke"),
    path("chain/", manage_mandates.chain_mandates, name="manage_chain_mandates"),
    path("chain/request/", manage_mandates.chain_mandate_request, name="manage_chain_mandate_request"),
    path(
        "chain/<int:chain_mandate>/revoke/",
        manage_mandates.chain_mandate_revoke_page,
        name="manage_chain_mandate_revoke",
    ),
]
