"""The "This wasn't me" link of a pass notice (passes/notices.py): GET shows what the pass was and asks
to confirm, changing nothing (mail scanners and link previews follow links); the POST does it. The
token in the path is the only credential, so no session or CSRF token is needed, and the page is
never cached nor sent as a Referer."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from passbridge.passes import notices
from passbridge.passes.notices import LinkStatus, LinkView
from passbridge.services import portal
from passbridge.store import runner
from passbridge.web.pages import client_ip, env_of, page

router = APIRouter(include_in_schema=False)

STATUS_CODES = {
    LinkStatus.READY: 200,
    LinkStatus.DONE: 200,
    LinkStatus.USED: 200,
    LinkStatus.EXPIRED: 410,
    LinkStatus.UNKNOWN: 404,
}


def _render(request: Request, tenant: str, token: str, view: LinkView) -> Response:
    return page(
        "notice.html",
        status=STATUS_CODES[view.status],
        headers={"Referrer-Policy": "no-referrer"},
        tenant=tenant,
        view=view,
        action=f"{notices.LINK_PATH}{token}",
        helpdesk_told=bool(env_of(request).settings.mail_helpdesk),
    )


@router.get(notices.LINK_PATH + "{token}")
async def confirm_page(request: Request, token: str) -> Response:
    env = env_of(request)

    def work() -> tuple[str, LinkView]:
        with env.db.transaction("read") as tx:
            return portal.tenant_name(tx), notices.look(tx, env, token)

    tenant, view = await runner.off_loop(work)
    return _render(request, tenant, token, view)


@router.post(notices.LINK_PATH + "{token}")
async def report(request: Request, token: str) -> Response:
    env = env_of(request)
    ip = client_ip(request)

    def work() -> tuple[str, LinkView]:
        with env.db.transaction() as tx:
            return portal.tenant_name(tx), notices.report(tx, env, token, ip=ip)

    tenant, view = await runner.off_loop(work)
    return _render(request, tenant, token, view)
