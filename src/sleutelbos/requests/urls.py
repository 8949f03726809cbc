"""URLs of the request wizard and my requests."""

from django.urls import path

from sleutelbos.requests import views

app_name = "requests"

urlpatterns = [
    path("", views.request_list, name="list"),
    path("new/", views.new, name="new"),
    path("apply/", views.apply, name="apply"),
    path("link/<str:token>/", views.applicant_link, name="applicant_link"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/organisation/", views.organisation, name="organisation"),
    path("<int:pk>/mandates/", views.mandates, name="mandates"),
    path("<int:pk>/manager/", views.manager, name="manager"),
    path("<int:pk>/representatives/", views.representatives_step, name="representatives"),
    path("<int:pk>/review/", views.review, name="review"),
    path("<int:pk>/withdraw/", views.withdraw, name="withdraw"),
]
