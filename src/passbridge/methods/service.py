"""Every authentication method a user holds, whatever its kind (Graph's `/authentication/methods`).

Each kind of method (the Temporary Access Pass, passkeys, authenticator apps) registers one lister in
`KINDS`; the list and the lookup by id walk them in order. A lister reads what methods/reads.py
`all_methods` loaded in its one statement (a new kind adds a branch there) and may run further selects
on the same reader.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from passbridge.domain.errors import NotFound
from passbridge.methods import passwordless as passwordless_methods
from passbridge.methods.access import Scopes, readable_methods
from passbridge.methods.reads import AllMethods, all_methods
from passbridge.passes import service as taps
from passbridge.services.context import Env, Principal
from passbridge.store.tx import Tx

# Graph documents only the broad permissions for the list of every method: a TAP-only
# permission does not reveal the user's other methods.
READ = ("UserAuthenticationMethod.Read.All", "UserAuthenticationMethod.ReadWrite.All")
OWN_READ = ("UserAuthenticationMethod.Read", "UserAuthenticationMethod.ReadWrite", *READ)
READ_SCOPES = Scopes(others=READ, own=OWN_READ)


class MethodView(Protocol):
    @property
    def id(self) -> str: ...


@dataclass(frozen=True)
class MethodKind:
    name: str
    list_for: Callable[[Tx, Env, AllMethods], Sequence[MethodView]]


KINDS: tuple[MethodKind, ...] = (
    MethodKind("temporaryAccessPass", taps.pass_views),
    MethodKind("fido2", passwordless_methods.passkey_views),
    MethodKind("softwareOath", passwordless_methods.app_views),
)


@dataclass
class MethodsService:
    """Reads only, as Core: on the Graph read path `tx` is an autocommit one."""

    tx: Tx
    env: Env
    principal: Principal

    def _methods(self, found: AllMethods) -> list[MethodView]:
        return [m for kind in KINDS for m in kind.list_for(self.tx, self.env, found)]

    def list(self, user_ref_text: str) -> list[MethodView]:
        found = readable_methods(self.tx, self.principal, user_ref_text, READ_SCOPES, load=all_methods)
        return self._methods(found)

    def get(self, user_ref_text: str, method_id: str) -> MethodView:
        found = readable_methods(self.tx, self.principal, user_ref_text, READ_SCOPES, load=all_methods)
        wanted = method_id.strip().lower()
        for method in self._methods(found):
            if method.id.lower() == wanted:
                return method
        raise NotFound(f"No authentication method with id '{method_id}' exists for this user.", kind="method")
