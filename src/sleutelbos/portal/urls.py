"""The self-service site."""

urlpatterns: list = []
