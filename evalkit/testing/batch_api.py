"""The test server's batch endpoints: OpenAI's Files + Batch API and Anthropic's Message Batches.

Mounted by :class:`evalkit.testing.server.TestServer` (its ``batch`` attribute). Each request of a
batch is answered by the same rules and responder as the live endpoints, at the moment the
batch ends (``complete_after_s`` after it was created; until then it is ``in_progress``).

OpenAI: ``POST /v1/files`` (multipart, ``purpose=batch``), ``POST /v1/batches``,
``GET /v1/batches/{id}``, ``GET /v1/files/{id}/content``. Successful lines go to the output file,
failed and expired ones to the error file, as OpenAI does.
Anthropic: ``POST /v1/messages/batches``, ``GET /v1/messages/batches/{id}``,
``GET /v1/messages/batches/{id}/results`` (JSONL; ``succeeded`` / ``errored`` / ``expired``).

Controls (:class:`BatchControls`, in-process via ``srv.batch.controls`` or
``POST /_evalkit/batch/script`` with the same fields as JSON; ``GET /_evalkit/batch/stats``):

- ``complete_after_s``: seconds from creation until a batch ends;
- ``expire_contains``: ``{substring: times}``: that many requests whose last user message contains
  the substring come back expired;
- ``expire_batches``: the next N batches created expire as a whole (every request expired);
- ``max_requests`` / ``max_bytes``: the server refuses (400) a batch beyond these, like the providers.

:meth:`BatchEmulator.stats` counts what was submitted: ``requests`` (every request line of every
batch), ``by_prompt`` (last user message -> times submitted, so a test can assert nothing was
paid twice), ``batches`` (created), ``by_api``.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict
from typing import Any

from aiohttp import web

from evalkit.testing._http import Answering, error_response, parse, presented_keys
from evalkit.testing.batch_shapes import (
    Batch,
    BatchControls,
    anthropic_batch_object,
    openai_batch_object,
    openai_result_lines,
)
from evalkit.testing.rules import Api

__all__ = ["BatchControls", "BatchEmulator"]

OPENAI_MAX_REQUESTS = 50_000
OPENAI_MAX_BYTES = 200 * 1024 * 1024
ANTHROPIC_MAX_REQUESTS = 100_000
ANTHROPIC_MAX_BYTES = 256 * 1024 * 1024


class BatchEmulator:
    """The batch endpoints of one :class:`~evalkit.testing.server.TestServer`."""

    def __init__(self, server: Answering) -> None:
        self.server = server
        self.controls = BatchControls()
        self._lock = threading.Lock()
        self._files: dict[str, bytes] = {}
        self._batches: dict[str, Batch] = {}
        self._requests = 0
        self._by_prompt: Counter[str] = Counter()
        self._by_api: Counter[str] = Counter()
        self._created = 0

    # -- Python API -------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self._requests,
                "batches": self._created,
                "by_prompt": dict(self._by_prompt),
                "by_api": dict(self._by_api),
            }

    def reset(self) -> None:
        with self._lock:
            self._requests = self._created = 0
            self._by_prompt.clear()
            self._by_api.clear()

    def mount(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/_evalkit/batch/stats", self._get_stats)
        r.add_post("/_evalkit/batch/script", self._post_script)
        r.add_post("/v1/files", self._openai_upload)
        r.add_get("/v1/files/{id}/content", self._openai_content)
        r.add_post("/v1/batches", self._openai_create)
        r.add_get("/v1/batches/{id}", self._openai_retrieve)
        r.add_post("/v1/messages/batches", self._anthropic_create)
        r.add_get("/v1/messages/batches/{id}", self._anthropic_retrieve)
        r.add_get("/v1/messages/batches/{id}/results", self._anthropic_results)

    # -- control endpoints ------------------------------------------------------------

    async def _get_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    async def _post_script(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise TypeError("expected a JSON object of batch controls")
            self.controls.update(body)
        except (ValueError, TypeError) as e:
            return web.json_response({"error": str(e)}, status=400)
        return web.json_response({"ok": True, "controls": asdict(self.controls)})

    # -- shared -----------------------------------------------------------------------

    def _denied(self, api: Api, request: web.Request) -> web.Response | None:

        srv = self.server
        if srv.require_key is not None and srv.require_key not in presented_keys(api, request):
            return error_response(api, 401, "invalid api key")
        return None

    def _too_big(self, api: Api, n: int, size: int) -> web.Response | None:

        c = self.controls
        max_n = c.max_requests or (OPENAI_MAX_REQUESTS if api == "openai" else ANTHROPIC_MAX_REQUESTS)
        max_b = c.max_bytes or (OPENAI_MAX_BYTES if api == "openai" else ANTHROPIC_MAX_BYTES)
        if n > max_n or size > max_b:
            return error_response(
                api, 400, f"batch too large: {n} requests, {size} bytes (max {max_n}, {max_b})"
            )
        if n == 0:
            return error_response(api, 400, "a batch needs at least one request")
        return None

    def _register(self, batch: Batch) -> None:

        with self._lock:
            self._created += 1
            if self.controls.expire_batches > 0:
                self.controls.expire_batches -= 1
                batch.expire_all = True
            for line in batch.lines:
                body = line["body"] if batch.api == "openai" else line["params"]
                self._requests += 1
                self._by_api[batch.api] += 1
                self._by_prompt[parse(batch.api, body).last_user] += 1
            self._batches[batch.id] = batch

    def _settle(self, batch: Batch) -> None:
        """End the batch once its time has come: answer every request by the server's rules."""
        if batch.ended is not None or time.time() < batch.created + self.controls.complete_after_s:
            return

        results: list[dict[str, Any]] = []
        for line in batch.lines:
            body = line["body"] if batch.api == "openai" else line["params"]
            try:
                ex = parse(batch.api, body)
            except (ValueError, TypeError, AttributeError, KeyError):
                results.append({"custom_id": line["custom_id"], "status": 400, "body": None})
                continue
            if batch.expire_all or self._expires(ex.last_user):
                results.append({"custom_id": line["custom_id"], "status": None, "body": None})
                batch.counts["expired"] += 1
                continue
            rule = self.server.pick_rule(ex)
            if rule is not None and (rule.hang or rule.drop_connection):
                results.append({"custom_id": line["custom_id"], "status": None, "body": None})
                batch.counts["expired"] += 1
                continue
            resp = self.server.respond(ex, rule)
            assert isinstance(resp.body, bytes)
            try:
                payload: Any = json.loads(resp.body)
            except ValueError:
                payload = resp.body.decode(errors="replace")
            results.append({"custom_id": line["custom_id"], "status": resp.status, "body": payload})
            batch.counts["succeeded" if resp.status == 200 else "errored"] += 1
        batch.results = results
        batch.ended = time.time()

    def _expires(self, last_user: str) -> bool:
        with self._lock:
            for key, left in self.controls.expire_contains.items():
                if left > 0 and key in last_user:
                    self.controls.expire_contains[key] = left - 1
                    return True
        return False

    # -- OpenAI -----------------------------------------------------------------------

    async def _openai_upload(self, request: web.Request) -> web.Response:

        if (denied := self._denied("openai", request)) is not None:
            return denied
        form = await request.post()
        upload = form.get("file")
        if form.get("purpose") != "batch" or not isinstance(upload, web.FileField):
            return error_response("openai", 400, "expected multipart purpose=batch and a file")
        content = upload.file.read()
        fid = f"file-{uuid.uuid4().hex[:24]}"
        with self._lock:
            self._files[fid] = content
        return web.json_response(
            {
                "id": fid,
                "object": "file",
                "bytes": len(content),
                "created_at": int(time.time()),
                "filename": upload.filename,
                "purpose": "batch",
                "status": "processed",
            }
        )

    async def _openai_content(self, request: web.Request) -> web.Response:

        if (denied := self._denied("openai", request)) is not None:
            return denied
        content = self._files.get(request.match_info["id"])
        if content is None:
            return error_response("openai", 404, "no such file")
        return web.Response(body=content, content_type="application/octet-stream")

    async def _openai_create(self, request: web.Request) -> web.Response:

        if (denied := self._denied("openai", request)) is not None:
            return denied
        body = await request.json()
        content = self._files.get(body.get("input_file_id", ""))
        if content is None:
            return error_response("openai", 400, "input_file_id: no such file")
        if body.get("endpoint") != "/v1/chat/completions":
            return error_response("openai", 400, "endpoint: only /v1/chat/completions is emulated")
        try:
            lines = [json.loads(x) for x in content.decode().splitlines() if x.strip()]
            ids = [x["custom_id"] for x in lines]
            if any(x.get("url") != "/v1/chat/completions" or "body" not in x for x in lines):
                raise ValueError("every line needs url /v1/chat/completions and a body")
        except (ValueError, KeyError, TypeError) as e:
            return error_response("openai", 400, f"invalid input file: {e}")
        if len(set(ids)) != len(ids):
            return error_response("openai", 400, "custom_id values must be unique within a batch")
        if (big := self._too_big("openai", len(lines), len(content))) is not None:
            return big
        batch = Batch(f"batch_{uuid.uuid4().hex[:24]}", "openai", lines, time.time(), body["input_file_id"])
        self._register(batch)
        return web.json_response(self._openai_view(batch))

    async def _openai_retrieve(self, request: web.Request) -> web.Response:

        if (denied := self._denied("openai", request)) is not None:
            return denied
        batch = self._batches.get(request.match_info["id"])
        if batch is None or batch.api != "openai":
            return error_response("openai", 404, "no such batch")
        self._settle(batch)
        return web.json_response(self._openai_view(batch))

    def _openai_view(self, b: Batch) -> dict[str, Any]:
        if b.ended is not None and b.output_file_id is None and b.error_file_id is None:
            self._openai_files(b)
        return openai_batch_object(b)

    def _openai_files(self, b: Batch) -> None:
        out, err = openai_result_lines(b)
        with self._lock:
            if out:
                b.output_file_id = f"file-{uuid.uuid4().hex[:24]}"
                self._files[b.output_file_id] = ("\n".join(out) + "\n").encode()
            if err:
                b.error_file_id = f"file-{uuid.uuid4().hex[:24]}"
                self._files[b.error_file_id] = ("\n".join(err) + "\n").encode()

    # -- Anthropic --------------------------------------------------------------------

    async def _anthropic_create(self, request: web.Request) -> web.Response:

        if (denied := self._denied("anthropic", request)) is not None:
            return denied
        raw = await request.read()
        try:
            body = json.loads(raw)
            lines = list(body["requests"])
            ids = [x["custom_id"] for x in lines]
            if any(not isinstance(x.get("params"), dict) for x in lines):
                raise ValueError("every request needs params")
        except (ValueError, KeyError, TypeError) as e:
            return error_response("anthropic", 400, f"invalid batch: {e}")
        if len(set(ids)) != len(ids):
            return error_response("anthropic", 400, "custom_id values must be unique within a batch")
        if (big := self._too_big("anthropic", len(lines), len(raw))) is not None:
            return big
        batch = Batch(f"msgbatch_{uuid.uuid4().hex[:24]}", "anthropic", lines, time.time())
        self._register(batch)
        return web.json_response(anthropic_batch_object(batch, str(request.url.origin())))

    async def _anthropic_retrieve(self, request: web.Request) -> web.Response:

        if (denied := self._denied("anthropic", request)) is not None:
            return denied
        batch = self._batches.get(request.match_info["id"])
        if batch is None or batch.api != "anthropic":
            return error_response("anthropic", 404, "no such batch")
        self._settle(batch)
        return web.json_response(anthropic_batch_object(batch, str(request.url.origin())))

    async def _anthropic_results(self, request: web.Request) -> web.Response:

        if (denied := self._denied("anthropic", request)) is not None:
            return denied
        b = self._batches.get(request.match_info["id"])
        if b is None or b.api != "anthropic":
            return error_response("anthropic", 404, "no such batch")
        self._settle(b)
        if b.ended is None:
            return error_response("anthropic", 400, "batch is still processing")
        out = []
        for r in b.results:
            result: dict[str, Any]
            if r["status"] is None:
                result = {"type": "expired"}
            elif r["status"] == 200:
                result = {"type": "succeeded", "message": r["body"]}
            else:
                err = r["body"] if isinstance(r["body"], dict) else {"type": "error", "error": {}}
                result = {"type": "errored", "error": err}
            out.append(json.dumps({"custom_id": r["custom_id"], "result": result}))
        return web.Response(body=("\n".join(out) + "\n").encode(), content_type="application/binary")
