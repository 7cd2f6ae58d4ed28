"""Who is calling a Graph endpoint: the bearer token, verified, as a Principal."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any, get_type_hints

from fastapi import Request, Response
from fastapi.routing import APIRoute

from passbridge.graph.odata import refuse_unstorable_url
from passbridge.services.context import Env, Principal
from passbridge.services.tokens import TokenRejected, principal_from_token, principal_without_store
from passbridge.store.db import run_point_read


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header or scheme.lower() != "bearer" or not token.strip():
        raise TokenRejected("Access token is empty.")
    return token.strip()


# Where `caller` leaves the principal for `established`, in the request's ASGI scope.
_SCOPE_KEY = "passbridge.principal"


def established(request: Request) -> Principal:
    """The caller that `caller`, applied to every Graph route by graph/routes.py, established for this
    request. The busiest routes read it here instead of declaring `caller` a second time: FastAPI solves
    every declared dependency afresh, cached or not. Without the route dependency it fails closed."""
    principal = request.scope.get(_SCOPE_KEY)
    if not isinstance(principal, Principal):
        raise TokenRejected("Access token is empty.")
    return principal


async def caller(request: Request) -> Principal:
    """FastAPI dependency for every Graph route."""
    principal = await _verified_caller(request)
    request.scope[_SCOPE_KEY] = principal
    return principal


async def _verified_caller(request: Request) -> Principal:
    token = _bearer(request)
    refuse_unstorable_url(request)
    env: Env = request.app.state.env
    # The address ClientAddress resolved (behind a trusted proxy, the one it forwarded for).
    ip = request.client.host if request.client else None
    # A token this process verified recently needs neither the database nor a threadpool hop: the
    # check is a few dictionary lookups, cheap enough for the event loop (services/tokens.py says
    # what is relied on and for how long).
    known = principal_without_store(env, token, ip_address=ip)
    if known is not None:
        return known

    def verify() -> Principal:
        with env.db.unit_of_work(readonly=True) as session:
            return principal_from_token(session, env, token, ip_address=ip)

    return await run_point_read(env.db, verify)


class GraphRoute(APIRoute):
    """A Graph route that, when its endpoint takes only the request and string path parameters and
    returns a Response, is served without FastAPI's per-request dependency solving: the handler
    establishes the caller with the same `caller` the route declares, then calls the endpoint.

    Solving a route's declared dependencies and parameters cost about a quarter of a Graph read
    (bench/README.md). What FastAPI would have done for such a route is exactly this: run `caller`,
    pass the path parameters through unchanged (a `str` needs no conversion), and send the Response
    the endpoint returned. Any other route (a query, header, cookie or body parameter, another
    dependency, a non-Response result) keeps FastAPI's handler, and the OpenAPI document is built
    from the declaration either way."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        if not self._plain():
            return super().get_route_handler()
        endpoint = self.endpoint
        request_name = self.dependant.request_param_name or "request"

        async def handler(request: Request) -> Response:
            request.scope[_SCOPE_KEY] = await _verified_caller(request)
            response: Response = await endpoint(**{request_name: request}, **request.path_params)
            return response

        return handler

    def _plain(self) -> bool:
        dependant = self.dependant
        if not inspect.iscoroutinefunction(self.endpoint) or dependant.request_param_name is None:
            return False
        if dependant.query_params or dependant.header_params or dependant.cookie_params:
            return False
        if dependant.body_params or [d.call for d in dependant.dependencies] != [caller]:
            return False
        if any(param.field_info.annotation is not str for param in dependant.path_params):
            return False
        returns = get_type_hints(self.endpoint).get("return")
        return isinstance(returns, type) and issubclass(returns, Response)
