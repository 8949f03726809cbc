"""URLs of the REST API, version 1."""

urlpatterns: list = []
