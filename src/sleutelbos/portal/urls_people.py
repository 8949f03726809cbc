"""Manager pages: the people of an organisation."""

from django.urls import path

from sleutelbos.portal import manage_people

urlpatterns = [
    path("", manage_people.people, name="manage_people"),
]
