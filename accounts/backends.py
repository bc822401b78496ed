"""Authentication by e-mail, whatever its case."""

from django.contrib.auth.backends import ModelBackend


class EmailBackend(ModelBackend):
    """Django's model backend; the manager's ``get_by_natural_key`` ignores case.

    The e-mail is unique through a functional constraint on ``Lower("email")``,
    which Django's ``auth.E003`` check cannot see; naming our own backend turns
    that check into the ``auth.W004`` warning silenced in settings.
    """
