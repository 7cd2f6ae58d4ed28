"""Every authentication method a user holds, whatever its kind (Graph's `/authentication/methods`).

Each kind of method (today the Temporary Access Pass; passkeys and authenticator apps later)
registers one lister in `KINDS`; the list and the lookup by id walk them in order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session

from passbridge.domain.errors import NotFound
from passbridge.services import taps
from passbridge.services.context import Env, Principal
from passbridge.services.method_access import MethodAccess, Scopes
from passbridge.store.models import User

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
    list_for: Callable[[Session, Env, User], Sequence[MethodView]]


KINDS: tuple[MethodKind, ...] = (MethodKind("temporaryAccessPass", taps.pass_views),)


@dataclass
class MethodsService:
    session: Session
    env: Env
    principal: Principal

    def _methods(self, user: User) -> list[MethodView]:
        return [m for kind in KINDS for m in kind.list_for(self.session, self.env, user)]

    def list(self, user_ref_text: str) -> list[MethodView]:
        user = MethodAccess(self.session, self.env, self.principal).reader(user_ref_text, READ_SCOPES)
        return self._methods(user)

    def get(self, user_ref_text: str, method_id: str) -> MethodView:
        user = MethodAccess(self.session, self.env, self.principal).reader(user_ref_text, READ_SCOPES)
        wanted = method_id.strip().lower()
        for method in self._methods(user):
            if method.id.lower() == wanted:
                return method
        raise NotFound(f"No authentication method with id '{method_id}' exists for this user.", kind="method")
