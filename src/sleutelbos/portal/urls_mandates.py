"""Manager pages: mandates of people, and chain mandates."""

from django.urls import path

from sleutelbos.portal import manage_mandates

urlpatterns = [
    path("", manage_mandates.mandates, name="manage_mandates"),
    path("chain/", manage_mandates.chain_mandates, name="manage_chain_mandates"),
]
