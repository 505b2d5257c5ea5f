"""Parse one Docusaurus `.md`/`.mdx` page into titled sections of readable text.

Follows what Docusaurus itself does where it matters for citations: the doc id
and URL (number prefixes stripped, `id` and `slug` honoured) and the heading
anchors (github-slugger rules, `{#custom-id}`, `-1`/`-2` for duplicates).
Fenced code blocks pass through untouched; outside them MDX/HTML is reduced to
its text.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import quote

import frontmatter
import yaml

FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
CUSTOM_ID = re.compile(r"\s*\{#([^}]+)\}\s*$")
ADMONITION_OPEN = re.compile(r"^\s*:::\s*([A-Za-z]+)\s*(.*?)\s*$")
ADMONITION_CLOSE = re.compile(r"^\s*:::\s*$")
MDX_IMPORT_EXPORT = re.compile(
    r"""^\s*(import\s+(.+\s+from\s+)?['"]|export\s+(default|const|let|var|function|class)\b)"""
)
NUMBER_PREFIX = re.compile(r"^\d+\s*[-_.]\s*")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")
IMG = re.compile(r"<img\b[^>]*?\balt=[\"']([^\"']*)[\"'][^>]*>", re.IGNORECASE)
BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
TAG = re.compile(r"</?[A-Za-z][\w.:-]*(\s+[^<>]*?)?\s*/?>")
JSX_COMMENT = re.compile(r"\{/\*.*?\*/\}")
MDX_EXPRESSION = re.compile(r"\{[^{}\n]*\}")
HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
# A thematic break (`---`, `***`) is layout, not text; table rules (with `|`) stay so tables still render.
THEMATIC_BREAK = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
EMPHASIS = re.compile(r"(\*\*|__|\*|_|~~)(?=\S)(.+?)(?<=\S)\1")
# github-slugger removes everything that is not a letter, number, mark, space, '-' or '_'.
SLUG_DROP = re.compile(r"[^\w\- ]", re.UNICODE)


class ParseError(ValueError):
    """This file cannot be ingested; the message says why."""


@dataclass
class Section:
    """Text under one heading. `path` is the heading trail below the page title."""

    path: list[str]
    anchor: str
    text: str


@dataclass
class Document:
    source_path: str  # relative to the docs folder, with '/'
    doc_id: str
    title: str
    url: str
    description: str = ""
    category: str = ""
    sidebar_position: float | None = None
    sections: list[Section] = field(default_factory=list)


class Slugger:
    """github-slugger: lower-case, punctuation dropped, spaces to '-', duplicates numbered."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def slug(self, text: str) -> str:
        base = SLUG_DROP.sub("", text.lower()).replace(" ", "-")
        slug, n = base, self.seen.get(base, 0)
        while slug in self.seen:
            n += 1
            slug = f"{base}-{n}"
        self.seen[base] = n
        self.seen[slug] = 0
        return slug


def plain_inline(text: str) -> str:
    """Heading text as rendered: links to their text, emphasis and code marks removed."""
    text = LINK.sub(r"\1", text)
    text = INLINE_CODE.sub(r"\2", text)
    text = TAG.sub("", text)
    for _ in range(2):
        text = EMPHASIS.sub(r"\2", text)
    return html.unescape(text).strip()


def _clean_prose(line: str) -> str:
    """HTML/JSX to text on a non-code line, leaving inline code spans as they are."""
    parts = []
    last = 0
    for m in INLINE_CODE.finditer(line):
        parts.append(_strip_tags(line[last : m.start()]))
        parts.append(m.group(0))
        last = m.end()
    parts.append(_strip_tags(line[last:]))
    return "".join(parts)


def _strip_tags(text: str) -> str:
    text = JSX_COMMENT.sub("", text)
    if "$" not in text:  # MDX evaluates `{1 + 2}`; we cannot, so the expression goes (inline math keeps its braces)
        while MDX_EXPRESSION.search(text):
            text = MDX_EXPRESSION.sub("", text)
    text = IMG.sub(lambda m: f"[image: {m.group(1)}]" if m.group(1) else "", text)
    text = BREAK.sub("\n", text)
    return TAG.sub("", text)


def strip_number_prefix(segment: str) -> str:
    return NUMBER_PREFIX.sub("", segment)


def doc_id_and_url(rel: PurePosixPath, meta: dict, base_url: str) -> tuple[str, str]:
    """The doc id and page URL as Docusaurus builds them."""
    folders = [strip_number_prefix(p) for p in rel.parent.parts]
    name = strip_number_prefix(rel.stem)
    last = str(meta.get("id") or name)
    doc_id = "/".join([*folders, last])
    slug = meta.get("slug")
    if slug is not None:
        slug = str(slug)
        route = slug if slug.startswith("/") else "/" + "/".join([*folders, slug])
    elif name.lower() in ("index", "readme") or (folders and name == folders[-1]):
        route = "/" + "/".join(folders)  # a category index page takes its folder's URL
    else:
        route = "/" + doc_id
    route = re.sub(r"/+", "/", route).rstrip("/") or "/"
    # Percent-encoded: front matter is text, and a URL is written into markdown links ("/a) [x](javascript:...").
    return doc_id, base_url.rstrip("/") + quote(route, safe="/-._~")


def category_label(folder: Path, docs_root: Path) -> str:
    """The `_category_.json` label of the page's folder, else the folder name without its number prefix."""
    if folder == docs_root:
        return ""
    try:
        return str(json.loads((folder / "_category_.json").read_text(encoding="utf-8"))["label"])
    except (OSError, ValueError, KeyError, TypeError):
        return strip_number_prefix(folder.name).replace("-", " ").replace("_", " ").strip().capitalize()


def read_text(path: Path) -> str:
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise ParseError("binary file (contains NUL bytes), not markdown")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(
            f"not valid UTF-8 (byte {exc.start}: {data[exc.start : exc.start + 1]!r}); save it as UTF-8"
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def split_front_matter(text: str) -> tuple[dict, str]:
    """YAML front matter and body. Unlike `frontmatter.loads`, a front matter that is not a mapping is
    an error, not silently dropped."""
    handler = frontmatter.YAMLHandler()
    if not handler.detect(text):
        return {}, text
    try:
        raw, content = handler.split(text)
    except ValueError:  # only the opening `---`
        raise ParseError(
            "front matter opened on line 1 is never closed: add a line with `---` after its last `key: value` line"
        ) from None
    try:
        meta = handler.load(raw) or {}
    except yaml.YAMLError as exc:
        raise ParseError(f"broken front matter: {' '.join(str(exc).split())}") from None
    if not isinstance(meta, dict):
        raise ParseError("broken front matter: it must be `key: value` lines")
    return meta, content


def parse_document(path: Path, docs_root: Path, base_url: str) -> Document:
    """Parse one page; raises `ParseError` with the reason when it cannot be ingested."""
    meta, content = split_front_matter(read_text(path))
    rel = PurePosixPath(path.relative_to(docs_root).as_posix())
    doc_id, url = doc_id_and_url(rel, meta, base_url)
    sections, h1 = split_sections(content)
    title = str(meta.get("title") or h1 or meta.get("sidebar_label") or strip_number_prefix(rel.stem))
    position = meta.get("sidebar_position")
    return Document(
        source_path=str(rel),
        doc_id=doc_id,
        title=title,
        url=url,
        description=str(meta.get("description") or ""),
        category=category_label(path.parent, docs_root),
        sidebar_position=float(position) if isinstance(position, int | float) else None,
        sections=sections,
    )


def split_sections(body: str) -> tuple[list[Section], str | None]:
    """Sections under each heading (text before the first heading under the page itself), and the H1."""
    slugger = Slugger()
    sections: list[Section] = []
    trail: list[tuple[int, str]] = []
    lines: list[str] = []
    anchor = ""
    h1: str | None = None
    fence: str | None = None

    def flush() -> None:
        text = "\n".join(lines).strip()
        text = re.sub(r"\n{3,}", "\n\n", text)
        if text:
            sections.append(Section([t for _, t in trail], anchor, text))
        lines.clear()

    for raw in HTML_COMMENT.sub("", body).split("\n"):
        if fence:
            lines.append(raw)
            if raw.strip().startswith(fence) and raw.strip().strip(fence[0]) == "":
                fence = None
            continue
        if m := FENCE.match(raw):
            fence = m.group(1)
            lines.append(raw)
            continue
        if m := HEADING.match(raw):
            level, heading = len(m.group(1)), m.group(2)
            custom = CUSTOM_ID.search(heading)
            heading = plain_inline(CUSTOM_ID.sub("", heading))
            slug = custom.group(1) if custom else slugger.slug(heading)
            if level == 1 and h1 is None and not sections and not trail:
                h1 = heading
                continue
            flush()
            trail = [(lvl, t) for lvl, t in trail if lvl < level] + [(level, heading)]
            anchor = slug
            continue
        if MDX_IMPORT_EXPORT.match(raw) or ADMONITION_CLOSE.match(raw) or THEMATIC_BREAK.match(raw):
            continue
        if m := ADMONITION_OPEN.match(raw):
            kind, label = m.group(1).capitalize(), m.group(2)
            # A titled admonition's title stands alone, as a heading would: never run into its first sentence.
            lines.extend([f"**{kind}: {label}**", ""] if label else [f"{kind}:"])
            continue
        lines.append(_clean_prose(raw).rstrip())
    flush()
    return sections, h1
