"""The book the app serves at /book/: a built Docusaurus site (BOOK_DIR), the same origin as the tutor, so the
book's tutor widget shares the chat's cookies, identity and history.

Until the book is built the path answers with a page that says why (building, failed, not built) and what to
do; the chat works meanwhile. `scripts/book.sh` builds the sample book and leaves `<BOOK_DIR>.pid` while it
runs and `<BOOK_DIR>.log` after, which is how this module tells a build under way from a failed one.
"""

from __future__ import annotations

import html
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

PATH = "/book"
Status = Literal["built", "building", "failed", "missing"]


@dataclass(frozen=True)
class BookBuild:
    """Where the book's build stands, read from its folder and the build script's files beside it."""

    status: Status
    seconds: int = 0  # how long a build has been running

    @classmethod
    def of(cls, folder: Path) -> BookBuild:
        if (folder / "index.html").is_file():
            return cls("built")
        pid, log = folder.with_name(folder.name + ".pid"), folder.with_name(folder.name + ".log")
        if _running(pid):
            return cls("building", round(time.time() - pid.stat().st_mtime))
        return cls("failed" if log.is_file() else "missing")


def _running(pid_file: Path) -> bool:
    try:
        os.kill(int(pid_file.read_text().strip()), 0)
    except (OSError, ValueError):
        return False
    return True


_PAGES: dict[Status, tuple[str, str]] = {
    "building": (
        "The book is being built",
        "The tutor builds the book with Docusaurus ({seconds} s so far; about a minute, two the first time). "
        "This page reloads itself when it is ready.",
    ),
    "failed": (
        "The book's build failed",
        "Its log is <code>{log}</code> on the server. Fix what it says, then run <code>make book</code>.",
    ),
    "missing": (
        "No book is built yet",
        "Run <code>make book</code> (it needs Node.js 18+ and npm), or set <code>BOOK_DIR</code> to the build "
        "folder of your own Docusaurus book.",
    ),
}


def waiting_page(build: BookBuild, folder: Path) -> str:
    """A small page, with nothing loaded from anywhere, that says why there is no book and what to do."""
    title, body = _PAGES[build.status]
    text = body.format(seconds=build.seconds, log=html.escape(folder.name + ".log"))
    refresh = '<meta http-equiv="refresh" content="5">' if build.status == "building" else ""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">{refresh}'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title></head>"
        '<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem">'
        f"<h1>{title}</h1><p>{text}</p>"
        '<p>The tutor itself is ready: <a href="/">ask it in the chat</a>.</p></body></html>'
    )


class BookSite:
    """The ASGI app mounted at /book/: the built site's files (Docusaurus' 404 page for unknown paths; no
    dotfile, whatever the build folder holds), or the waiting page (503 with Retry-After) until there is one."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.files = StaticFiles(directory=folder, html=True, check_dir=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if any(part.startswith(".") for part in scope["path"].split("/")):  # .env, .git: never the book's pages
            await PlainTextResponse("Not found", 404)(scope, receive, send)
            return
        build = BookBuild.of(self.folder)
        if build.status == "built":
            await self.files(scope, receive, send)
            return
        page = HTMLResponse(waiting_page(build, self.folder), 503, headers={"Retry-After": "5"})
        await page(scope, receive, send)
