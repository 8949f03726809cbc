"""Login, step-up, activation and the management of one's own factors."""

from django.urls import path

from sleutelbos.identity import views

app_name = "identity"
urlpatterns = [
    path("", views.account, name="account"),
    path("login/", views.login_view, name="login"),
    path("login/factor/", views.login_factor, name="login_factor"),
    path("step-up/", views.step_up, name="step_up"),
    path("logout/", views.logout_view, name="logout"),
    path("logout/everywhere/", views.logout_everywhere, name="logout_everywhere"),
    path("activate/password/", views.activate_password, name="activate_password"),
    path("activate/<str:uidb64>/<str:token>/", views.activate, name="activate"),
    path("factors/app/", views.totp_add, name="totp_add"),
    path("factors/app/confirm/", views.totp_confirm, name="totp_confirm"),
    path("factors/key/", views.webauthn_add, name="webauthn_add"),
    path("factors/<str:kind>/<int:pk>/remove/", views.factor_remove, name="factor_remove"),
    path("recovery-codes/", views.recovery_codes, name="recovery_codes"),
    path("password/", views.password_change, name="password_change"),
]
