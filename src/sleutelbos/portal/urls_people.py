"""Manager pages: the people of an organisation."""

from django.urls import path

from sleutelbos.portal import manage_people

urlpatterns = [
    path("", manage_people.people, name="manage_people"),
    path("invite/", manage_people.invite, name="manage_people_invite"),
    path("invite/csv/", manage_people.invite_csv, name="manage_people_invite_csv"),
    path("invite/csv/send/", manage_people.invite_csv_send, name="manage_people_invite_csv_send"),
    path(
        "invitations/<int:invitation>/resend/",
        manage_people.invitation_resend,
        name="manage_people_invitation_resend",
    ),
    path(
        "invitations/<int:invitation>/withdraw/",
        manage_people.invitation_withdraw_view,
        name="manage_people_invitation_withdraw",
    ),
    path("inactive/", manage_people.inactive, name="manage_people_inactive"),
    path("inactive/clean-up/", manage_people.clean_up, name="manage_people_clean_up"),
    path("<int:person>/unlink/", manage_people.unlink, name="manage_people_unlink"),
]
