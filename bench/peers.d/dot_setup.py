"""Prepare django-oauth-toolkit's store for bench/peers (run by bench/.venv-peers's Python, cwd here):
an RSA key for ID tokens (RS256 is DOT's only asymmetric algorithm), the schema, one user, and two
confidential clients (a DOT application has one grant type): one for client credentials, one whose
refresh tokens are seeded, `chains` per batch (each the head of its own rotating chain), as an
authorization-code sign-in would have left them. Prints JSON: the clients and the batches of chain heads.
Client secrets are stored unhashed: DOT's default hashes them with Django's password hasher (PBKDF2,
a million iterations, ~0.5 s a grant), where Passbridge and oidc-provider check a fast keyed hash or
the plain secret; a high-entropy random secret needs no slow hash."""

import json
import os
import secrets
import sys
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dot_settings")
key = Path(os.environ["BENCH_DOT_DIR"]) / "oidc.key"
key.write_bytes(
    rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
)

import django  # noqa: E402 (the key must exist before the settings are read)

django.setup()
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402
from oauth2_provider.models import AccessToken, Application, RefreshToken  # noqa: E402

SCOPE = "openid profile read"
batches, chains = int(sys.argv[1]), int(sys.argv[2])
call_command("migrate", verbosity=0)
user = get_user_model().objects.create_user("bench", "bench@bench.example", first_name="Bench")
clients = {}
for name, grant in (
    ("cc", Application.GRANT_CLIENT_CREDENTIALS),
    ("rt", Application.GRANT_AUTHORIZATION_CODE),
):
    secret = secrets.token_urlsafe(32)
    app = Application.objects.create(
        name=f"bench {name}", client_type=Application.CLIENT_CONFIDENTIAL, authorization_grant_type=grant,
        client_secret=secret, hash_client_secret=False, redirect_uris="http://localhost/cb",
        algorithm=Application.RS256_ALGORITHM, user=user if name == "rt" else None,
    )  # fmt: skip
    clients[name] = {"id": app.client_id, "secret": secret}
rt_app = Application.objects.get(client_id=clients["rt"]["id"])
heads = []
for _ in range(batches):
    batch = []
    for _ in range(chains):
        access = AccessToken.objects.create(
            user=user, application=rt_app, token=secrets.token_urlsafe(30), scope=SCOPE,
            expires=timezone.now() + timedelta(hours=1),
        )  # fmt: skip
        value = secrets.token_urlsafe(30)
        RefreshToken.objects.create(user=user, application=rt_app, token=value, access_token=access)
        batch.append(value)
    heads.append(batch)
print(json.dumps({"clients": clients, "scope": SCOPE, "heads": heads}))
