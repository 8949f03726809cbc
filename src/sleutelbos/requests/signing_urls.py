"""URLs of the signing pages for representatives (one-time links), and of the request PDF."""

from django.urls import path

from sleutelbos.requests import signing_views

app_name = "signing"

urlpatterns = [
    path("", signing_views.signing_page, name="page"),
    path("done/", signing_views.signing_done, name="done"),
    path("pdf/", signing_views.signing_pdf, name="pdf"),
    path("request/<int:pk>/pdf/", signing_views.applicant_pdf, name="request_pdf"),
    path("<str:token>/", signing_views.sign_link, name="sign"),
    path("<str:token>/pdf/", signing_views.signing_link_pdf, name="link_pdf"),
]
