"""The project's settings with a fast password hasher, for servers under test only.

Each sign-up and token request hashes a password; Django's default hasher is
slow on purpose, which would spend a fuzzing run's budget on PBKDF2.
"""

from idem_project.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
