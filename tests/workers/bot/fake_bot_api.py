"""The smallest fake for what telegram-test-api lacks, in front of it; everything else passes through.

telegram-test-api 4.2 (npm) emulates getMe, getUpdates, sendMessage, editMessageText, editMessageReplyMarkup,
answerCallbackQuery, deleteMessage and the webhooks, and a client API to play the user. It has no file
download (``getFile``, ``/file/bot<token>/<path>``) and no uploads (``sendPhoto``, ``sendAudio``, ``sendVideo``:
multipart bodies). This front adds just those:

- ``getFile``: files the test put in ``--files DIR`` (the ``file_id`` is the file's name), served under
  ``/file/bot<token>/files/<name>``;
- ``sendPhoto`` / ``sendAudio`` / ``sendVideo`` / ``sendVoice`` / ``sendDocument``: the uploaded file is saved in
  ``--sent DIR`` and the message is handed to the emulator's ``sendMessage`` with a ``photo`` / ``audio`` / ...
  field naming the saved file (``file_id``), so the test reads it with the emulator's client API like any reply.

and mends three answers of the emulator that aiogram's strict types refuse: ``getMe`` without ``is_bot``,
``editMessageText`` answering ``null`` (Telegram answers the message or ``true``), a callback query without
``chat_instance``. ``getUpdates`` waits up to 1 s for an update instead of answering at once (the emulator ignores
``timeout``, which would make a long-polling bot spin).

    python fake_bot_api.py --upstream http://127.0.0.1:9000 --port 9001 --files DIR --sent DIR
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import mimetypes
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, web

_KINDS = {"sendPhoto": "photo", "sendAudio": "audio", "sendVideo": "video", "sendVoice": "voice",
          "sendDocument": "document", "sendVideoNote": "video_note"}
_counter = itertools.count(1)


def make_app(upstream: str, files: Path, sent: Path) -> web.Application:
    app = web.Application(client_max_size=200 * 1024 * 1024)

    async def session() -> ClientSession:
        if "session" not in app:
            app["session"] = ClientSession()
        return app["session"]  # type: ignore[no-any-return]

    async def forward(method: str, token: str, body: bytes, ctype: str | None) -> dict[str, Any]:
        s = await session()
        headers = {"Content-Type": ctype} if ctype else {}
        async with s.post(f"{upstream}/bot{token}/{method}", data=body, headers=headers) as r:
            return await r.json(content_type=None)  # type: ignore[no-any-return]

    async def bot_method(request: web.Request) -> web.Response:
        token, method = request.match_info["token"], request.match_info["method"]
        if method == "getFile":
            fields = dict(await request.post()) if request.method == "POST" else dict(request.query)
            file_id = str(fields.get("file_id", ""))
            path = files / file_id
            if not file_id or "/" in file_id or not path.is_file():
                return web.json_response({"ok": False, "error_code": 400,
                                          "description": "Bad Request: invalid file_id"})
            return web.json_response({"ok": True, "result": {
                "file_id": file_id, "file_unique_id": file_id, "file_size": path.stat().st_size,
                "file_path": f"files/{file_id}"}})
        if method in _KINDS:
            return await upload(request, token, method)
        body = await request.read()
        ctype = request.headers.get("Content-Type")
        if method == "getUpdates":
            for _ in range(20):
                out = await forward(method, token, body, ctype)
                if out.get("result"):
                    for u in out["result"]:
                        cq = u.get("callback_query")
                        if cq is not None:
                            cq.setdefault("chat_instance", "1")
                    return web.json_response(out)
                await asyncio.sleep(0.05)
            return web.json_response(out)
        out = await forward(method, token, body, ctype)
        if method == "getMe" and isinstance(out.get("result"), dict):
            out["result"].setdefault("is_bot", True)
        if method in ("editMessageText", "editMessageReplyMarkup", "answerCallbackQuery", "deleteMessage") \
                and out.get("ok") and out.get("result") is None:
            out["result"] = True
        return web.json_response(out)

    async def upload(request: web.Request, token: str, method: str) -> web.Response:
        kind = _KINDS[method]
        fields: dict[str, str] = {}
        saved: Path | None = None
        reader = await request.multipart()
        async for part in reader:
            if part.filename:  # the file (aiogram sends it as attach://<name> with its own part)
                n = next(_counter)
                saved = sent / f"{n:04d}-{kind}{Path(part.filename).suffix}"
                with open(saved, "wb") as f:  # noqa: ASYNC230 - a test fake, small files
                    while chunk := await part.read_chunk():
                        f.write(chunk)
            else:
                fields[part.name or ""] = await part.text()
        if saved is None:
            return web.json_response({"ok": False, "error_code": 400, "description": f"Bad Request: no {kind}"})
        media = {"file_id": saved.name, "file_unique_id": saved.name, "file_size": saved.stat().st_size,
                 "file_name": saved.name, "mime_type": mimetypes.guess_type(saved.name)[0] or ""}
        if kind in ("audio", "video", "voice", "video_note"):
            media["duration"] = 0
        if kind == "video":
            media.update(width=0, height=0)
        if kind == "photo":
            media = [{**media, "width": 0, "height": 0}]  # type: ignore[assignment]
        msg: dict[str, Any] = {"chat_id": fields.get("chat_id"), kind: media}
        for key in ("caption", "reply_markup", "title", "performer"):
            if key in fields:
                msg[key] = json.loads(fields[key]) if key == "reply_markup" else fields[key]
        out = await forward("sendMessage", token, json.dumps(msg).encode(), "application/json")
        return web.json_response(out)

    async def file_download(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = files / name
        if "/" in name or not path.is_file():
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        return web.FileResponse(path)

    async def passthrough(request: web.Request) -> web.Response:  # the emulator's client API
        s = await session()
        async with s.request(request.method, f"{upstream}{request.path_qs}", data=await request.read(),
                             headers={"Content-Type": request.headers.get("Content-Type", "application/json")}) as r:
            return web.Response(body=await r.read(), status=r.status, content_type="application/json")

    async def close(_: web.Application) -> None:
        if "session" in app:
            await app["session"].close()

    app.router.add_route("*", "/bot{token}/{method}", bot_method)
    app.router.add_get("/file/bot{token}/files/{name}", file_download)
    app.router.add_route("*", "/{tail:.*}", passthrough)
    app.on_cleanup.append(close)
    return app


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--files", type=Path, required=True)
    ap.add_argument("--sent", type=Path, required=True)
    a = ap.parse_args()
    a.files.mkdir(parents=True, exist_ok=True)
    a.sent.mkdir(parents=True, exist_ok=True)
    web.run_app(make_app(a.upstream.rstrip("/"), a.files, a.sent), host="127.0.0.1", port=a.port,
                print=lambda *_: print("fake bot api ready", flush=True))


if __name__ == "__main__":
    main()
