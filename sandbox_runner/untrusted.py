"""Untrusted text, made safe both ways. Pure functions, no I/O.

Into the model (`strip_hidden`): what a person reviewing an issue or a log cannot see must not reach
the prompt either, because that is where injected instructions hide ("Comment and Control", the
Microsoft write-up of 2026-06): HTML comments, tags whose text is never shown (`<img alt>`,
`<picture>`), markdown image alt text, zero-width characters, bidirectional overrides and isolates
(which make text read differently from how it is stored), Unicode tag characters (invisible ASCII),
and such characters spelled as numeric HTML entities. Prose is also NFKC-normalised outside code
spans and blocks, so full-width or "mathematical" letters read as the plain words they imitate; code
is left byte-exact, since the model must quote it to edit it.

Out of the bot (`limit_links`): a model talked into it can leak data through a URL it puts in a PR
body or comment, fetched by GitHub's image proxy the moment the page renders (CamoLeak, 2025-10), or
by whoever clicks. So in text we post, images that do not point into the repository on the GitHub
host are removed, and links elsewhere become inline code: still readable, never fetched or clickable.
"""

from __future__ import annotations

import html
import re
import unicodedata
from urllib.parse import urlsplit

# -- into the prompt ----------------------------------------------------------------------------------

_HTML_COMMENT = re.compile(r"<!--.*?(?:--!?>|$)", re.DOTALL)  # an unclosed comment hides the rest too
_PICTURE = re.compile(r"<picture\b.*?(?:</picture\s*>|$)", re.DOTALL | re.IGNORECASE)
_HIDING_TAG = re.compile(r"</?(?:img|source|picture)\b[^>]*>", re.IGNORECASE)
_IMAGE_ALT = re.compile(r"!\[([^\]]*)\]")
_ENTITY = re.compile(r"&#(?:[xX]([0-9a-fA-F]{1,6})|([0-9]{1,7}));")
# fenced blocks (``` or ~~~, to the matching fence or the end) and inline code spans
_FENCED = r"^[ \t]*(`{3,}|~{3,})[^\n]*\n.*?(?:^[ \t]*\2[ \t]*$|\Z)"
_SPAN = r"(?<!`)(`+)(?!`).+?(?<!`)\3(?!`)"  # closed by a run of exactly as many backticks
_CODE = re.compile(f"({_FENCED}|{_SPAN})", re.DOTALL | re.MULTILINE)

BIDI = frozenset(map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C]))
ZERO_WIDTH = frozenset(map(chr, [0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x180E, 0x00AD]))
_BLANK_LETTERS = frozenset(map(chr, [0x115F, 0x1160, 0x3164, 0xFFA0]))  # Hangul fillers: letters, invisible


def is_hidden(char: str) -> bool:
    """Invisible or reordering: format and control characters (tab and newline excepted), private
    use, tag characters, bidi controls, zero-width, variation selectors past the basic sixteen."""
    if char in "\n\t":
        return False
    if char in BIDI or char in ZERO_WIDTH or char in _BLANK_LETTERS:
        return True
    code = ord(char)
    if 0xE0000 <= code <= 0xE007F or 0xE0100 <= code <= 0xE01EF:  # tag characters; VS 17 to 256
        return True
    return unicodedata.category(char) in ("Cf", "Cc", "Co", "Cs")


def _drop_hidden_entity(match: re.Match[str]) -> str:
    code = int(match[1], 16) if match[1] else int(match[2])
    try:
        char = chr(code)
    except (ValueError, OverflowError):
        return ""
    return "" if is_hidden(char) else match[0]


def strip_invisible(text: str) -> str:
    """`text` without hidden characters, literal or as numeric entities. Safe on code and logs."""
    text = _ENTITY.sub(_drop_hidden_entity, text)
    return "".join(c for c in text if not is_hidden(c))


def split_code(markdown: str) -> list[tuple[bool, str]]:
    """`markdown` as (is_code, text) pieces: fenced blocks and inline spans are code."""
    pieces, at = [], 0
    for match in _CODE.finditer(markdown):
        if match.start() > at:
            pieces.append((False, markdown[at : match.start()]))
        pieces.append((True, match.group()))
        at = match.end()
    if at < len(markdown):
        pieces.append((False, markdown[at:]))
    return pieces


def strip_hidden(text: str, *, prose: bool = True) -> str:
    """What a reader of the rendered text would see. `prose` (issue and comment text): also drop tags
    that hide text and image alt text, and NFKC-normalise outside code. Not prose (logs, source
    code): only comments and invisible characters go, so the code stays as the file has it."""
    text = _HTML_COMMENT.sub("", strip_invisible(text))
    if not prose:
        return text
    out = []
    for is_code, piece in split_code(text):
        if not is_code:
            piece = _PICTURE.sub("", piece)
            piece = _HIDING_TAG.sub("", piece)
            piece = _IMAGE_ALT.sub("![]", piece)
            piece = unicodedata.normalize("NFKC", piece)
        out.append(piece)
    return "".join(out)


# -- out of the bot -----------------------------------------------------------------------------------

_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\(\s*<?([^)\s>]*)>?(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
_MD_LINK = re.compile(r"(?<!!)\[([^\]]*)\]\(\s*<?([^)\s>]*)>?(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
_REF_DEF = re.compile(r"^[ ]{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.M)
_HTML_IMG = re.compile(r"<img\b[^>]*?\bsrc\s*=\s*[\"']?([^\"'\s>]*)[^>]*>", re.IGNORECASE)
_HTML_A = re.compile(r"<a\b[^>]*?\bhref\s*=\s*[\"']?([^\"'\s>]*)[^>]*>(.*?)</a\s*>", re.I | re.S)
_AUTOLINK = re.compile(r"<((?:https?|ftp)://[^>\s]+)>", re.IGNORECASE)
_BARE_URL = re.compile(r"(?<![\w(<`\"'=/])((?:https?://|www\.)[^\s<>()\[\]`]+)", re.IGNORECASE)


def web_host(api_url: str) -> str:
    """The web host for GITHUB_API_URL: github.com for api.github.com, else the GHES host itself (with its
    port when that is not the scheme's default)."""
    parts = urlsplit(api_url)
    host = (parts.hostname or "github.com").lower()
    if host == "api.github.com":
        return "github.com"
    default = 443 if parts.scheme == "https" else 80
    return host if parts.port in (None, default) else f"{host}:{parts.port}"


def link_allowed(url: str, repo_full_name: str, github_host: str) -> bool:
    """True for a URL into `repo_full_name` on `github_host` (relative ones resolve there), or a
    fragment on the same page. Everything else, other repositories on the same host included, is out."""
    if url.startswith("#"):
        return True
    parts = urlsplit(
        url if "://" in url or url.startswith("//") else f"https://{github_host}/{url.lstrip('/')}"
    )
    want_host, _, want_port = github_host.lower().partition(":")
    if parts.scheme not in ("https", "http") or (parts.hostname or "").lower() != want_host:
        return False
    ports = {int(want_port)} if want_port else {None, 443}
    if parts.username or parts.password or parts.port not in ports:
        return False
    path = parts.path.lower()
    repo = "/" + repo_full_name.lower()
    return path == repo or path.startswith(repo + "/")


def _code(text: str) -> str:
    """`text` as an inline code span that its own backticks cannot end."""
    text = text.replace("\n", " ")
    ticks = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def limit_links(markdown: str, repo_full_name: str, github_host: str = "github.com") -> str:
    """`markdown` we are about to post, with images outside the repository removed and links outside
    it turned into inline code. Code spans and blocks are left alone (nothing in them is a link)."""

    def ok(url: str) -> bool:
        return link_allowed(html.unescape(url), repo_full_name, github_host)

    def image(m: re.Match[str]) -> str:
        return m[0] if ok(m[2]) else ""

    def link(m: re.Match[str]) -> str:
        return m[0] if ok(m[2]) else f"{m[1]} ({_code(m[2])})" if m[1].strip() else _code(m[2])

    def anchor(m: re.Match[str]) -> str:
        return m[0] if ok(m[1]) else f"{m[2]} ({_code(m[1])})"

    def bare(m: re.Match[str]) -> str:
        return m[0] if ok(m[1]) else _code(m[1])

    out = []
    for is_code, piece in split_code(markdown):
        if not is_code:
            piece = _HTML_IMG.sub(lambda m: m[0] if ok(m[1]) else "", piece)
            piece = _MD_IMAGE.sub(image, piece)
            piece = _HTML_A.sub(anchor, piece)
            piece = _MD_LINK.sub(link, piece)
            piece = _REF_DEF.sub(lambda m: m[0] if ok(m[1]) else "", piece)
            piece = _AUTOLINK.sub(lambda m: m[0] if ok(m[1]) else _code(m[1]), piece)
            piece = "".join(_BARE_URL.sub(bare, p) if not c else p for c, p in split_code(piece))
        out.append(piece)
    return "".join(out)
