"""``POST /v1/channels/{name}/callback``: a signed answer coming back through a channel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.channels.service import MAX_BODY, handle
from api.errors import Unavailable, problem
from api.responses import OrjsonResponse
from connectors.delivery.config import current_config
from connectors.sync.config import ConfigError

router = APIRouter(prefix="/v1", tags=["feedback"])

CALLBACK_DOC = f"""A finance bureau's system answers an inquiry or takes a warning's lifecycle step through
the webhook channel it receives events on. No bearer token: the request is signed with the channel's secret
in the Standard Webhooks manner (`webhook-id`, `webhook-timestamp` within 5 minutes, `webhook-signature`
= `v1,` base64 HMAC-SHA256 of `id.timestamp.body`). It acts as the finance bureau of the channel's
`callback_region`. A replayed `webhook-id` gets the first answer again, with `idempotent-replayed: true`,
and changes nothing. Body (JSON, at most {MAX_BODY} bytes), one of:

- `{{"type": "inquiry.answer", "inquiry_id": 12, "answer": "…", "attachments": [{{"name": "…",
  "media_type": "application/pdf", "size": 1024, "sha256": "…"}}], "actor": {{"sub": "…", "org": "…"}}}}`
- `{{"type": "warning.transition", "warning_id": 5, "action": "verify", "verdict": "no_issue",
  "comment": "…", "actor": {{"sub": "…"}}}}`
"""


@router.post(
    "/channels/{name}/callback",
    summary="A signed callback: an answer to an inquiry or a warning's step, from a channel",
    description=CALLBACK_DOC,
    responses={
        200: {"description": "applied (or replayed)"},
        401: {"description": "unsigned, badly signed or stale"},
        404: {"description": "no such channel taking callbacks, or an object outside its region"},
        409: {"description": "the step is not allowed from the object's state"},
        422: {"description": "the body is not a valid callback"},
    },
)
async def callback(
    request: Request,
    name: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")],
) -> Response:
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY:
            return problem(413, "Payload too large", f"body: at most {MAX_BODY} bytes", request)
    try:
        config = current_config()
    except ConfigError as exc:
        raise Unavailable(f"the feedback configuration cannot be used: {exc}") from None
    headers = {k.lower(): v for k, v in request.headers.items()}
    # a refusal before anything is applied (unsigned, no such channel, …) is raised as a problem
    answer = await run_in_threadpool(handle, request.app.state.writer, config, name, headers, bytes(body))
    if answer.status >= 400:
        response = problem(
            answer.status,
            str(answer.document.get("title", "Error")),
            str(answer.document.get("detail", "")),
            request,
            **{
                k: v
                for k, v in answer.document.items()
                if k not in ("type", "title", "status", "detail", "instance")
            },
        )
    else:
        response = OrjsonResponse(answer.document, status_code=answer.status)
    if answer.replayed:
        response.headers["idempotent-replayed"] = "true"
    return response
