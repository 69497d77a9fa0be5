"""What the sync and async clients share: settings, headers, reading answers."""

from __future__ import annotations

import json
import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, TypeVar
from urllib.parse import unquote

import httpx
import pydantic

from autoscorer import __version__
from autoscorer.client import _errors as e
from autoscorer.client._calls import Call
from autoscorer.client._models import ErrorDetail, JobResult, Response
from autoscorer.client._retry import RetryPolicy, as_policy, parse_retry_after

T = TypeVar("T")
StrPath = str | os.PathLike[str]

DEFAULT_BASE_URL = "http://localhost:8000"
DEFAULT_TIMEOUT = 30.0
USER_AGENT = f"autoscorer-client/{__version__}"


class ClientSettings:
    """Base URL, API key, time-outs and retry policy of one client."""

    def __init__(
        self,
        base_url: str | None,
        api_key: str | None,
        timeout: float | httpx.Timeout | None,
        retries: RetryPolicy | int | None,
        headers: dict[str, str] | None,
        auto_idempotency: bool = False,
    ) -> None:
        self.auto_idempotency = auto_idempotency
        self.base_url = (
            base_url or os.environ.get("AUTOSCORER_SERVER") or DEFAULT_BASE_URL
        ).rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("AUTOSCORER_API_KEY")
        self.timeout = timeout
        self.retry = as_policy(3 if retries is None else retries)
        self.headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
        if self.api_key:
            self.headers["Authorization"] = f"Bearer {self.api_key}"

    def submit_key(self, idempotency_key: str | None) -> str | None:
        """The ``Idempotency-Key`` of one submit call: the caller's, else a fresh uuid4
        when ``auto_idempotency`` is on (kept for every retry of that call)."""
        if idempotency_key is None and self.auto_idempotency:
            return str(uuid.uuid4())
        return idempotency_key


def text_problem(value: Any, where: str) -> str | None:
    """Why ``value`` (a JSON-like tree) cannot be sent as the server would accept it."""
    if isinstance(value, str):
        if "\x00" in value:
            return f"{where} contains a NUL character"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return f"{where} is not valid Unicode (a lone surrogate at position {exc.start})"
    elif isinstance(value, dict):
        for key, sub in value.items():
            found = text_problem(str(key), f"{where} key") or text_problem(sub, f"{where}.{key}")
            if found:
                return found
    elif isinstance(value, list | tuple):
        for i, sub in enumerate(value):
            found = text_problem(sub, f"{where}[{i}]")
            if found:
                return found
    return None


def check_call(call: Call[Any]) -> None:
    """Client-side: refuse what the server refuses on every field (NUL, lone surrogates)."""
    for where, value in (("path", call.path), ("params", call.params), ("body", call.body)):
        problem = text_problem(value, where)
        if problem:
            raise e.InvalidParameter(f"not sent: {problem}", field=where)


def build_request(http: httpx.Client | httpx.AsyncClient, call: Call[Any]) -> httpx.Request:
    check_call(call)
    extensions = {}
    if call.timeout is not None:
        extensions["timeout"] = httpx.Timeout(call.timeout).as_dict()
    try:
        return http.build_request(
            call.method,
            call.path,
            params=call.params,
            json=call.body,
            headers=call.headers,
            extensions=extensions,
        )
    except httpx.InvalidURL as exc:  # e.g. "URL too long": a value far above any bound
        raise e.InvalidParameter(f"not sent: {exc}", field="path") from exc


def key_in_progress(call: Call[Any], response: httpx.Response) -> bool:
    """True for a 409 saying the first request with this call's ``Idempotency-Key``
    is still being processed (``details.retry``): the same request may be sent again."""
    if response.status_code != 409 or call.idempotency_key is None:
        return False
    try:
        body = json.loads(response.content)
    except httpx.ResponseNotRead:
        return False  # a streamed answer is not read here (submits are never streamed)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    errors = body.get("errors") if _is_envelope(body) else None
    first = errors[0] if isinstance(errors, list) and errors else None
    details = first.get("details") if isinstance(first, dict) else None
    return isinstance(details, dict) and details.get("retry") is True


def retry_after(response: httpx.Response) -> float | None:
    return parse_retry_after(response.headers.get("retry-after"))


def transport_error(exc: httpx.TransportError) -> e.TransportError:
    """The SDK's view of an httpx transport failure (the original is the cause)."""
    request = exc.request if _has_request(exc) else None
    where = f" ({request.method} {request.url})" if request is not None else ""
    if isinstance(exc, httpx.TimeoutException):
        return e.RequestTimeout(f"request timed out{where}: {exc}", request=request)
    if isinstance(exc, httpx.ConnectError):
        return e.ConnectError(f"cannot connect to the server{where}: {exc}", request=request)
    return e.TransportError(f"connection failed{where}: {exc}", request=request)


def _has_request(exc: httpx.TransportError) -> bool:
    try:
        exc.request  # noqa: B018 -- raises RuntimeError when httpx has none
    except RuntimeError:
        return False
    return True


def read_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _is_envelope(body: Any) -> bool:
    return isinstance(body, dict) and "success" in body


def api_error(response: httpx.Response, body: Any) -> e.APIError:
    """Rebuild the server's error as the SDK exception named after its code."""
    first: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    if _is_envelope(body) and body.get("errors"):
        errors = [x for x in body["errors"] if isinstance(x, dict)]
        first = errors[0] if errors else {}
    code = first.get("code")
    cls = e.error_class(code, response.status_code)
    message = first.get("message") or f"HTTP {response.status_code} {response.reason_phrase}"
    meta = body.get("meta") if _is_envelope(body) else None
    request_id = (meta or {}).get("request_id") or response.headers.get("x-request-id")
    return cls(
        message,
        code=code,
        field=first.get("field"),
        details=first.get("details"),
        request_id=request_id,
        response=response,
        errors=errors,
    )


def handle(call: Call[T], response: httpx.Response) -> T:
    """``data`` of a successful answer parsed into ``T``; raise the API error otherwise."""
    body = read_body(response)
    if response.is_error or (_is_envelope(body) and body.get("success") is False):
        raise api_error(response, body)
    if body is None:
        raise e.UnexpectedResponse("the server's answer is not JSON", response=response)
    data = body.get("data") if _is_envelope(body) else body
    try:
        return call.parse(data)
    except pydantic.ValidationError as exc:
        raise e.UnexpectedResponse(
            f"unexpected answer to {call.method} {call.path}: {exc}", response=response
        ) from exc


def result_envelope(response: httpx.Response) -> Response[JobResult]:
    """The result answer as a whole envelope (``success``, ``data``, ``errors``), never raising
    for an API error: this is what ``wait_for_completion`` returns."""
    body = read_body(response)
    if not _is_envelope(body):
        err = api_error(response, body) if response.is_error else None
        errors = [ErrorDetail(code=err.code, message=err.message)] if err else []
        return Response[JobResult](
            success=err is None, data=body if err is None else None, errors=errors
        )
    return Response[JobResult].model_validate(body)


def raise_for_download(response: httpx.Response) -> None:
    """Raise the API error of a (read) download answer that failed."""
    if response.is_error:
        raise api_error(response, read_body(response))


def download_target(dest: str | os.PathLike[str], response: httpx.Response, name: str) -> Path:
    """Where to write a download: ``dest`` itself, or the server's file name inside ``dest``
    when it is a directory (only the last part of that name is used)."""
    target = Path(dest)
    if not target.is_dir():
        return target
    header = response.headers.get("content-disposition", "")
    match = re.search(r"filename\*=UTF-8''([^;]+)", header) or re.search(
        r'filename="([^"]+)"', header
    )
    filename = PurePosixPath(unquote(match.group(1)) if match else name).name
    return target / (filename if filename not in ("", ".", "..") else name)


@contextmanager
def atomic_file(target: Path) -> Iterator[BinaryIO]:
    """A file that appears at ``target`` only once completely written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise
