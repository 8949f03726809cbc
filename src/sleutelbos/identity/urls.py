"""Login, step-up, activation and the management of one's own factors."""

app_name = "identity"
urlpatterns: list = []
