"""Split a long reply into messages a platform accepts, at sentence boundaries.

Code blocks (```…```) stay whole when they fit; a longer one is split at line ends into
parts that each open and close the fence. Anything longer than the limit with no boundary
inside is cut hard as a last resort, though not inside a custom emoji or an emoji of
several characters.

Where the platform renders markdown (Discord, `markup=True`), a spoiler (||…||), bold,
italic, underline, strikethrough or inline code span is kept whole the same way: a part
that ended inside one left its marker unpaired, shown as plain text, and a spoiler's words
uncovered. One longer than a part is closed at the end of each part and reopened at the
start of the next, also one that holds a code block.
"""

from __future__ import annotations

import bisect
import re
from typing import NamedTuple

from atri.graphemes import MAX_CUT_BACK, character_cut
from model.protocol import GRAPHEME

# A sentence ends after CJK or Latin end punctuation (with closing quotes) or a newline.
# After a Latin mark, not where a word goes on ("example.com", "3.14", "?q=1"): a
# reply was split inside a link it gave, which then led nowhere. A run of marks
# ("……", "？！", "...", "！」？") ends it once, after the last: a part began with "…".
_END_MARKS = "。！？…～!?~."
_SENTENCE_END = re.compile(
    r"(?<=[。！？…～])[」』”\"')）]*+(?![" + _END_MARKS + r"])\s*"
    r"|(?<=[!?~.])[」』”\"')）]*+(?![" + _END_MARKS + r"A-Za-z0-9_/%&=#+@-])\s*"
    r"|\n+"
)
_CODE_BLOCK = re.compile(r"```.*?(?:```|$)", re.DOTALL)


# A markdown span as Discord pairs it, tried left to right at each position: the next
# closer of its kind ends it, whatever lies between (Discord's rules are regexes too).
# An escaped character is no marker; a marker nothing closes is text.
# A fenced block is read whole and nothing inside it is a span. A `_` italic starts and
# ends a word only: snake_case is no italics.
_SPAN = re.compile(
    r"\\."
    r"|```.*?(?:```|\Z)"
    r"|(?P<code>`{1,2})(?P<code_body>.*?[^`])(?P=code)(?!`)"
    r"|\|\|(?P<spoiler>.+?)\|\|"
    r"|\*\*(?P<bold>.+?)\*\*(?!\*)"
    r"|\*(?=[^\s*])(?P<italic>(?:\\.|\*\*|[^*\\])+?)(?<=[^\s\\])\*(?!\*)"
    r"|~~(?P<strike>.+?)~~"
    r"|__(?P<underline>.+?)__(?!_)"
    r"|(?<![A-Za-z0-9_])_(?=[^\s_])(?P<underscore>(?:\\.|__|[^_\\])+?)"
    r"(?<=[^\s\\])_(?![A-Za-z0-9_])",
    re.DOTALL,
)
_SPAN_MARKERS = {
    "spoiler": "||",
    "bold": "**",
    "italic": "*",
    "strike": "~~",
    "underline": "__",
    "underscore": "_",
}
# Spans read inside spans, at most: "****…" nests bold in bold as deep as it is long.
_MAX_NESTING = 3
# Below this a part has no room for markers around its words: markup is left to chance.
_MIN_MARKUP_LIMIT = 32


class _Span(NamedTuple):
    start: int  # of its opening marker
    end: int  # after its closing marker
    marker: str
    words_start: int  # its content without the blanks at either end
    words_end: int


def _spans(text: str, start: int = 0, end: int | None = None, depth: int = 0) -> list[_Span]:
    """The markdown spans in text[start:end] and those nested in them, by start."""
    spans: list[_Span] = []
    for match in _SPAN.finditer(text, start, len(text) if end is None else end):
        if match["code"]:
            spans.append(_span(match, "code_body", match["code"]))
            continue
        name = next((name for name in _SPAN_MARKERS if match[name] is not None), None)
        if name is not None:
            spans.append(_span(match, name, _SPAN_MARKERS[name]))
            if depth < _MAX_NESTING:
                spans += _spans(text, match.start(name), match.end(name), depth + 1)
    return spans


def _span(match: re.Match[str], content: str, marker: str) -> _Span:
    words = match[content]
    words_start = match.start(content) + len(words) - len(words.lstrip())
    words_end = match.start(content) + len(words.rstrip())
    return _Span(match.start(), match.end(), marker, words_start, max(words_start, words_end))


def _pieces(text: str, markup: bool = False) -> list[str]:
    """Sentences and whole code blocks, in order, whitespace kept with them; with
    `markup`, the sentences of one markdown span are one piece, and so is a span that
    holds a code block (`_wrapping_span`)."""
    pieces: list[str] = []
    pos = 0
    for span in _outermost(_spans(text)) if markup else []:
        if _holds_code_block(text, span):
            pieces += _block_pieces(text[pos : span.start], markup)
            pieces.append(text[span.start : span.end])
            pos = span.end
    pieces += _block_pieces(text[pos:], markup)
    return [p for p in pieces if p]


def _block_pieces(text: str, markup: bool) -> list[str]:
    pieces: list[str] = []
    pos = 0
    for block in _CODE_BLOCK.finditer(text):
        pieces += _text_pieces(text[pos : block.start()], markup)
        pieces.append(block.group(0))
        pos = block.end()
    return pieces + _text_pieces(text[pos:], markup)


def _holds_code_block(text: str, span: _Span) -> bool:
    """Whether a whole fenced block lies inside the span's markers."""
    inside = text[span.start + len(span.marker) : span.end - len(span.marker)]
    return "`" not in span.marker and any(
        b.group().endswith(FENCE) for b in _CODE_BLOCK.finditer(inside)
    )


def _wrapping_span(piece: str) -> _Span | None:
    """The span that is the whole piece when it holds a code block. Cut around blocks,
    its markers were never closed and reopened: a spoiler's words went uncovered."""
    spans = _spans(piece)
    if spans and spans[0].start == 0 and spans[0].end == len(piece):
        return spans[0] if _holds_code_block(piece, spans[0]) else None
    return None


def _text_pieces(text: str, markup: bool) -> list[str]:
    sentences = _sentences(text)
    if not markup or len(sentences) < 2:
        return sentences
    outer = _outermost(_spans(text))
    pieces = [sentences[0]]
    at = len(sentences[0])
    span = 0
    for sentence in sentences[1:]:
        while span < len(outer) and outer[span].end <= at:
            span += 1
        if span < len(outer) and outer[span].start < at:
            pieces[-1] += sentence  # no sentence end inside a span
        else:
            pieces.append(sentence)
        at += len(sentence)
    return pieces


def _outermost(spans: list[_Span]) -> list[_Span]:
    """The spans nested in no other, by start."""
    outer: list[_Span] = []
    for span in spans:
        if not outer or span.start >= outer[-1].end:
            outer.append(span)
    return outer


def _sentences(text: str) -> list[str]:
    out: list[str] = []
    start = 0
    # Where characters as a reader sees them begin: an end mark a variation selector or
    # an accent follows ("！️") is one character with it, not cut from it.
    characters = {cluster.start() for cluster in GRAPHEME.finditer(text)}
    for match in _SENTENCE_END.finditer(text):
        if match.end() > start and (match.end() in characters or match.end() == len(text)):
            out.append(text[start : match.end()])
            start = match.end()
    if start < len(text):
        out.append(text[start:])
    return out


FENCE = "```"

# A link (its scheme, ://, and the ASCII up to a blank or <>) or an email address: an
# escape put inside one ("bob@<U+200B>hereford.ac.uk") breaks it for whoever copies or
# opens it. Tried only where a run of their characters starts, never given back: tried at
# each character of a long word, each try read it to its end (quadratic in its length).
WEB_ADDRESS = re.compile(
    r"(?<![A-Za-z0-9+.-])[0-9+.-]*+[A-Za-z][A-Za-z0-9+.-]*+://[!-;=?-~]++"
    r"|(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]++@[A-Za-z0-9-]++(?:\.[A-Za-z0-9-]++)++(?<=[A-Za-z])"
)


def _split_code_block(block: str, limit: int, lead: str = "") -> list[str]:
    """A fenced block too long for one message: parts that each open and close the fence.
    `lead`, the text before it, goes in front of the first part with the code lines that
    fit beside it (a part of its own when none do): an intro is no message of its own."""
    opener, _, body = block.partition("\n")
    body = body.removesuffix(FENCE).rstrip("\n")
    room = limit - len(opener) - len(FENCE) - 2  # two newlines
    if room < 20:  # a fence that leaves no room for code: plain hard cuts
        cuts = _hard_cuts(block, limit)
        return [lead, *cuts] if lead.strip() else cuts
    lines = body.split("\n")
    parts: list[str] = []
    if lead.strip():
        beside = _lines_within(lines, room - len(lead))
        parts.append(lead + _fenced(opener, "\n".join(lines[:beside])) if beside else lead)
        lines = lines[beside:]
    return parts + [_fenced(opener, code) for code in _code_parts(lines, room)]


def _hard_cuts(text: str, limit: int) -> list[str]:
    """`text` in parts of at most `limit` characters, each cut by `hard_cut`."""
    parts: list[str] = []
    while len(text) > limit:
        cut = hard_cut(text, limit)
        parts.append(text[:cut])
        text = text[cut:]
    return [*parts, text] if text else parts


def _fenced(opener: str, code: str) -> str:
    return f"{opener}\n{code}\n{FENCE}"


def _lines_within(lines: list[str], room: int) -> int:
    """How many of the first lines fit in `room` characters, joined by newlines."""
    used = -1
    for count, line in enumerate(lines):
        used += len(line) + 1
        if used > room:
            return count
    return len(lines)


def _code_parts(lines: list[str], room: int) -> list[str]:
    """Code lines packed into parts of at most `room` characters; a longer line is cut."""
    parts: list[str] = []
    current = ""
    for line in lines:
        while len(line) > room:  # a line longer than a part: cut hard
            if current:
                parts.append(current)
                current = ""
            cut = hard_cut(line, room)
            parts.append(line[:cut])
            line = line[cut:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > room:
            parts.append(current)
            candidate = line
        current = candidate
    if current:
        parts.append(current)
    return parts


# What a hard cut keeps whole: Discord's <…> markup (a custom emoji <:name:id>, a
# <#channel>, a <t:…> time), which cut in two shows as its raw text in both parts; a
# character as a reader sees one, a grapheme cluster (👨‍👩‍👧's joiners, a flag's two
# letters, a skin tone, an accent, Thai "กำ", Hangul jamo, an Arabic prepended mark);
# and a run of end marks ("……"). A cut moves back at most `MAX_CUT_BACK`; past it (a run
# of nothing else) it stays hard.
_MARKUP_TOKEN = re.compile(r"<[^<>\s]{1,100}>")


def hard_cut(piece: str, limit: int) -> int:
    """Where to cut `piece` for at most `limit` characters before the cut: `limit`, or a
    little before it where that would split a whole thing in two."""
    cut = limit
    for token in _MARKUP_TOKEN.finditer(piece, max(0, cut - 102), cut + 102):
        if token.start() < cut < token.end():
            cut = token.start()
            break
    while 0 < cut < len(piece) and piece[cut] in _END_MARKS and piece[cut - 1] in _END_MARKS:
        cut -= 1  # "……" is one mark
    backslashes = len(piece[:cut]) - len(piece[:cut].rstrip("\\"))
    if 0 < cut < len(piece) and backslashes % 2:
        cut -= 1  # an escape and what it escapes are one: "*" alone would be markup
    # Last, as the one never given up (short of `MAX_CUT_BACK`): the moves above stop
    # at a mark or a backslash, which an accent may follow as part of its character.
    cut = character_cut(piece, cut)
    return cut if limit - MAX_CUT_BACK <= cut and cut > 0 else limit


def _cut_at(piece: str, limit: int) -> int:
    """Where to cut a piece longer than `limit` with no sentence end in it: after the
    last blank that fits (a word, a link, stays whole), else hard near the limit."""
    blank = max(piece.rfind(" ", 0, limit), piece.rfind("\t", 0, limit))
    if blank <= 0:
        return hard_cut(piece, limit)
    word = re.match(r"\S*", piece[blank + 1 :])
    # A word longer than a part is cut hard anyway: then the part is filled first.
    return blank + 1 if word is None or len(word.group()) <= limit else hard_cut(piece, limit)


def split_message(text: str, limit: int, markup: bool = False) -> list[str]:
    """Parts of at most `limit` characters each, joined back they give `text` (trimmed).
    `markup`: the platform renders markdown spans, which a part never leaves unpaired
    (the markers that close and reopen one cut in two are added, the blanks beside
    them dropped)."""
    if limit <= 0:
        raise ValueError("limit must be positive")
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    markup = markup and limit >= _MIN_MARKUP_LIMIT
    parts: list[str] = []
    current = ""
    for piece in _pieces(text, markup):
        if len(current) + len(piece) <= limit:
            current += piece
            continue
        span = _wrapping_span(piece) if markup else None
        if span is not None:
            *done, current = _wrapped_parts(current, piece, span.marker, limit)
            parts += done
            continue
        if piece.startswith(FENCE) and len(piece) > limit:
            # What follows may join the block's last part, as what came before its first.
            *done, current = _split_code_block(piece, limit, current) or [""]  # no code
            parts += done
            continue
        # What follows may join the piece's last part.
        *done, current = (_marked_parts if markup else _plain_parts)(current, piece, limit)
        parts += done
    if current.strip():
        parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _wrapped_parts(lead: str, piece: str, marker: str, limit: int) -> list[str]:
    """A span holding a code block, longer than the room after `lead`: what it holds,
    split with room for its markers, each part inside them; beside `lead` if that fits."""
    inner = split_message(piece[len(marker) : -len(marker)], limit - 2 * len(marker), True)
    parts = [marker + part + marker for part in inner] or [""]
    if not lead.strip():
        return parts
    if len(lead) + len(parts[0]) <= limit:
        return [lead + parts[0], *parts[1:]]
    return [lead, *parts]


def _plain_parts(lead: str, piece: str, limit: int) -> list[str]:
    """A piece longer than `limit` with no sentence end inside, after `lead` (a part of
    its own): cut between words if any."""
    parts = [lead] if lead.strip() else []
    while len(piece) > limit:
        cut = _cut_at(piece, limit)
        parts.append(piece[:cut])
        piece = piece[cut:]
    return [*parts, piece]


def _marked_parts(lead: str, piece: str, limit: int) -> list[str]:
    """A piece longer than `limit`, after `lead`, cut at the sentence ends inside its
    spans (else as `_plain_parts` does), each span it cuts closed at a part's end and
    reopened after. As much of a long span as fits goes beside `lead`."""
    spans = _spans(lead + piece)
    if not any(span.end > len(lead) for span in spans):
        return _plain_parts(lead, piece, limit)
    piece = lead + piece
    ends = [end.end() for end in _SENTENCE_END.finditer(piece)]
    parts: list[str] = []
    start = 0
    while start < len(piece):
        reopen = _markers_open(spans, start)
        rest = piece[start:].lstrip() if reopen else piece[start:]
        if len(reopen) + len(rest) <= limit:
            return [*parts, reopen + rest]
        cut = _marked_cut(piece, start, limit, spans, ends)
        if cut is None:  # no room beside the markers: the rest is cut as plain text
            return parts + _plain_parts("", reopen + rest, limit)
        words = piece[start:cut]
        closers = _markers_open(spans, cut)[::-1]
        if reopen:
            words = words.lstrip()
        if closers:
            words = words.rstrip()
        parts.append(reopen + words + closers)
        start = cut
    return [*parts, ""]


def _markers_open(spans: list[_Span], at: int) -> str:
    """The markers of the spans open at `at`, outermost first, as they reopen there."""
    return "".join(span.marker for span in spans if span.start < at < span.end)


def _marked_cut(
    piece: str, start: int, limit: int, spans: list[_Span], ends: list[int]
) -> int | None:
    """Where the part from `start` ends, its reopened and closing markers included:
    at the last sentence end that fits, else as `_cut_at`; before a span that fits a
    part of its own rather than inside it; never inside or beside a marker. None where
    nothing fits beside the markers."""
    room = limit - len(_markers_open(spans, start))
    words_room = room
    while words_room > 0:
        last_end = bisect.bisect_right(ends, start + words_room) - 1
        found = [start + _cut_at(piece[start:], words_room)]
        if last_end >= 0 and ends[last_end] > start:
            found.insert(0, ends[last_end])
        for cut in found:
            cut = _placed_cut(spans, start, cut, limit)
            over = cut - start + len(_markers_open(spans, cut)) - room
            if cut > start and over <= 0:
                return cut
        words_room -= max(1, over)  # what moving it off markers added did not fit
    return None


def _placed_cut(spans: list[_Span], start: int, cut: int, limit: int) -> int:
    """`cut` off the markers, and before a span that fits a part where that leaves words
    in the part from `start`."""
    cut = _clear_of_markers(spans, cut)
    earlier = _clear_of_markers(spans, _before_span_that_fits(spans, start, cut, limit))
    return earlier if earlier > start else cut


def _clear_of_markers(spans: list[_Span], cut: int) -> int:
    """`cut` moved off a span's marker and the blanks beside it: before its opening marker
    (a part ending in an empty span), after its closing one (the part keeps it)."""
    moved = True
    while moved:
        moved = False
        for span in spans:
            if span.start < cut <= span.words_start:
                cut, moved = span.start, True
            elif span.words_end <= cut < span.end and cut > span.start:
                cut, moved = span.end, True
    return cut


def _before_span_that_fits(spans: list[_Span], start: int, cut: int, limit: int) -> int:
    """`cut` moved back before the outermost span it falls inside that fits in a part
    (with the markers of those around it, reopened and closed), so that span goes whole
    into the next part."""
    for span in spans:
        if start < span.start < cut < span.end:
            around = 2 * len(_markers_open(spans, span.start))
            if span.end - span.start + around <= limit:
                return span.start
    return cut
