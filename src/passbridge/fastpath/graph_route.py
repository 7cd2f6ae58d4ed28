"""Graph routes served without FastAPI's per-request dependency and parameter solving.

Relies on FastAPI 0.163: `APIRoute.get_route_handler` (called once, when the route is built) and the
`dependant` it solved (`request_param_name`, `path_params`, `query_params`, ...). It needs the flat
routes of fastpath/routing.py (an included router's routes are served as FastAPI's own copies). Off
(PASSBRIDGE_FASTPATH=0, or another FastAPI), every Graph route takes FastAPI's handler.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any, get_type_hints

from fastapi import Request, Response
from fastapi.routing import APIRoute

from passbridge import fastpath
from passbridge.graph.auth import SCOPE_KEY, caller, verified_caller


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
        if not fastpath.active("graph_route") or not self._plain():
            return super().get_route_handler()
        endpoint = self.endpoint
        request_name = self.dependant.request_param_name or "request"

        async def handler(request: Request) -> Response:
            request.scope[SCOPE_KEY] = await verified_caller(request)
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
