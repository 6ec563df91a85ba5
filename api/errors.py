"""One error hierarchy, one JSON shape (RFC 9457 ``application/problem+json``), one set of handlers."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

log = logging.getLogger("oversight.api")
PROBLEM = "application/problem+json"


class ProblemError(Exception):
    """An error the service explains to its caller; its message is safe to show."""

    status = 500
    title = "Internal error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    @staticmethod
    def unauthorized() -> ProblemError:
        return Unauthorized("a bearer token is required (Authorization: Bearer …)")


class Unauthorized(ProblemError):
    status = 401
    title = "Unauthorized"


class Forbidden(ProblemError):
    status = 403
    title = "Forbidden"


class BadParameter(ProblemError):
    """A query parameter (or path parameter) has a value the service cannot use."""

    status = 400
    title = "Bad parameter"

    def __init__(self, parameter: str, detail: str) -> None:
        super().__init__(f"{parameter}: {detail}", parameter=parameter)


class NotFound(ProblemError):
    status = 404
    title = "Not found"


class Conflict(ProblemError):
    """A step the object's state does not allow, or one another request changed it under."""

    status = 409
    title = "Conflict"


class InvalidRequest(ProblemError):
    """A request body that names a value the service cannot take (the field is in the message)."""

    status = 422
    title = "Invalid request"


class Unavailable(ProblemError):
    status = 503
    title = "Service unavailable"


def problem(status: int, title: str, detail: str, request: Request, **extra: Any) -> Response:
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extra,
    }
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM)


def _validation_detail(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    errors = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body")]
        errors.append({"parameter": ".".join(loc) or "request", "message": err.get("msg", "invalid")})
    detail = "; ".join(f"{e['parameter']}: {e['message']}" for e in errors) or "invalid request"
    return detail, errors


def install(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> Response:
        return problem(exc.status, exc.title, exc.detail, request, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        detail, errors = _validation_detail(exc)
        return problem(422, "Invalid request", detail, request, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
        return problem(exc.status_code, title, str(exc.detail), request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path)
        return problem(500, "Internal error", "the service failed to answer; the error is logged", request)
