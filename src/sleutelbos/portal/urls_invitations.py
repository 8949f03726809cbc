"""The invitee's pages: open the link of an invitation mail, then accept or decline."""

from django.urls import path

from sleutelbos.portal import invitations

urlpatterns = [
    path("", invitations.answer, name="invitation_answer"),
    path("<str:token>/", invitations.open_link, name="invitation_open"),
]
