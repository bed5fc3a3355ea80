"""A Markdown background file read as facts: each `## topic` section is one, its answer the
text a reader sees, without the markup (`background.py` turns them into dialogue).

`Q:`/`Question:`/`问：`/`質問：` lines are questions, the rest of the section is the answer
(an `A:`/`答：` label dropped). A section of question/answer pairs (`Q:` … `A:` … `Q:` …
`A:` …) is one fact per pair, each question asked only with the answer after it, and its
heading asks none of them. A `# title` and the text before the first `##` are no fact; a
`###` (or deeper) heading is a line of the current fact's answer, its text without the
`#`s; as in CommonMark only `#`s and a space make a heading (`#summer` is text), and never
inside a ``` code block. Bullets lose their marker (each item stays a line of its own), and
**bold**, *emphasis*, `code` and links lose their marks (a link keeps its text); a table's
rows are kept as lines, for `background.py` to leave the fact out.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from dataprep.formats.common import join_pieces

# A question or answer label, bold or not, with an ASCII or full-width colon: `Q: …`,
# `**Q:** …`, `Question: …`, `问：…`, `質問：…`; `A:`, `答：`, `答え：` are stripped from the answer.
# Possessive blanks: a long line of blanks was tried at every split of them (quadratic).
_LABEL = r"^[ \t]*+(?:(?:[-*+]|\d{1,9}[.)])[ \t]++)?(?:\*\*|__)?(?:LABELS)(?:\*\*|__)?[ \t]*+[:：](?:\*\*|__)?[ \t]*+"
_QUESTION_LINE = re.compile(
    _LABEL.replace("LABELS", "Question|Q|质问|問題|问题|質問|问|問") + "(.+)$", re.I
)
_ANSWER_LABEL = re.compile(_LABEL.replace("LABELS", "Answer|A|答え|回答|答案|答"), re.I)
# CommonMark: 1 to 6 `#`s then a blank (or nothing) make a heading, closing `#`s no part of
# its text; `#summer` or `#1 rule` is a line of text.
_HEADING = re.compile(r"^ {0,3}+(#{1,6}+)(?:[ \t](.*))?$")
_FENCE = re.compile(r"^ {0,3}+(`{3,}+|~{3,}+)")
_LIST_ITEM = re.compile(r"^[ \t]*+(?:[-*+]|\d{1,9}[.)])[ \t]")
# A bullet's marker and a quote's `>`: no part of what she says (an item's number is).
_BULLET_OR_QUOTE = re.compile(r"^[ \t]*+(?:[-*+][ \t]++|>[ \t]*+)++")
_THEMATIC_BREAK = re.compile(r"^ {0,3}+(?:(?:\*[ \t]*+){3,}+|(?:-[ \t]*+){3,}+|(?:_[ \t]*+){3,}+)$")
# A table's row (`| a | b |`) and the rule under its header (`|---|:---:|`, `--- | ---`).
_TABLE_ROW = re.compile(r"^[ \t]*+\|")
TABLE_RULE = re.compile(
    r"^[ \t]*+\|?[ \t]*+:?-++:?[ \t]*+(?:\|[ \t]*+:?-++:?[ \t]*+)++\|?[ \t]*+$", re.M
)
# Inline marks, their spans bounded (a line of unclosed `**` is read at once, not tried
# from each to the line's end): code, images and links (their text kept), strong, emphasis.
_CODE_SPAN = re.compile(r"(?<!`)(`++)([^`\n]{1,500}?)\1(?!`)")
_LINK = re.compile(r"!?\[([^\[\]\n]{0,500})\]\([^()\s]{0,2000}(?:[ \t]++\"[^\"\n]{0,500}\")?\)")
_STRONG = re.compile(
    r"\*\*(?=\S)([^*\n]{1,500}?)(?<=\S)\*\*|(?<![\w])__(?=\S)([^_\n]{1,500}?)(?<=\S)__(?![\w])"
)
_EMPHASIS = re.compile(
    r"\*(?=[^\s*])([^*\n]{1,500}?)(?<=[^\s*])\*|(?<![\w])_(?=[^\s_])([^_\n]{1,500}?)(?<=[^\s_])_(?![\w])"
)
_MARKS = frozenset("`[*_")
# A speaker's name in a label (up to three words): `夏生`, `Natsuki` in `Natsuki: "…"`.
SPEAKER_NAME = (
    r"[^\s:：“”\"「」『』，,。！？!?、]{1,20}(?:[ \t][^\s:：“”\"「」『』，,。！？!?、]{1,20}){0,2}"
)
# A source line that starts with one (`夏生：“…”`, `Natsuki: "Hi."`): a transcript's line,
# kept a line of its own, or two speakers' labels joined read as one.
_SPEAKER_LINE = re.compile(rf"[ \t]*+{SPEAKER_NAME}[ \t]*[:：][ \t]*[“\"「『]")


@dataclass
class Section:
    """What one `##` section gives: a fact (`topic` its heading), or one of its
    question/answer pairs (`topic` empty, `heading` the section's)."""

    topic: str
    answer: str
    questions: list[str] = field(default_factory=list)
    heading: str = ""


@dataclass
class MarkdownLore:
    sections: list[Section]
    headings: Counter[int]  # how many headings of each level (1 for `#`), for a file of none


def read_markdown(raw: str) -> MarkdownLore:
    sections: list[Section] = []
    headings = Counter[int]()
    current: _SectionLines | None = None
    fence = ""  # the ``` or ~~~ that opened the code block we are in
    for line in _without_comments(raw).splitlines():
        mark = _FENCE.match(line)
        if mark and (not fence or mark.group(1).startswith(fence)):
            # A fence's marks are no part of her answer; the lines inside are, as written.
            fence = "" if fence else mark.group(1)[:3]
            if current:
                current.new_line()
        elif fence:
            if current:
                current.add_alone(line)
        elif heading := _HEADING.match(line):
            level, text = len(heading.group(1)), plain(_heading_text(heading.group(2) or ""))
            headings[level] += 1
            if level <= 2:  # a title ends the fact before it; only ## opens one
                if current:
                    sections += current.sections()
                current = _SectionLines(text) if level == 2 else None
            elif current:
                current.add_alone(text)
        elif current is None:
            continue
        elif q := _QUESTION_LINE.match(line):
            current.ask(plain(q.group(1).strip()))
        else:
            current.add(_ANSWER_LABEL.sub("", line, count=1))
    if current:
        sections += current.sections()
    return MarkdownLore(sections, headings)


def plain(text: str) -> str:
    """`text` without its inline marks: `**高性能**` is 高性能, `[维基](https://…)` 维基,
    `` `code` `` code; a code span's inside is kept as written."""
    if not _MARKS.intersection(text):
        return text
    pieces = _CODE_SPAN.split(text)  # text, ticks, code, text, ticks, code, …
    return "".join(
        piece if i % 3 == 2 else _without_marks(piece)
        for i, piece in enumerate(pieces)
        if i % 3 != 1
    )


def _without_marks(text: str) -> str:
    text = _LINK.sub(r"\1", text)
    text = _STRONG.sub(lambda m: m.group(1) or m.group(2), text)
    return _EMPHASIS.sub(lambda m: m.group(1) or m.group(2), text)


class _SectionLines:
    """A `##` section's questions and answer lines, as one fact and as question/answer
    pairs: a pair starts at a question after answer text."""

    def __init__(self, heading: str) -> None:
        self.heading = heading
        self.whole = _AnswerLines()
        self.pairs: list[tuple[list[str], _AnswerLines]] = [([], _AnswerLines())]

    def ask(self, question: str) -> None:
        if self.pairs[-1][1].text():
            self.pairs.append(([], _AnswerLines()))
        self.pairs[-1][0].append(question)

    def add(self, line: str) -> None:
        self.whole.add(line)
        self.pairs[-1][1].add(line)

    def add_alone(self, line: str) -> None:
        self.whole.add_alone(line)
        self.pairs[-1][1].add_alone(line)

    def new_line(self) -> None:
        self.whole.new_line()
        self.pairs[-1][1].new_line()

    def sections(self) -> list[Section]:
        asked = [(questions, lines.text()) for questions, lines in self.pairs]
        if sum(bool(questions and answer) for questions, answer in asked) < 2:
            questions = [q for qs, _ in asked for q in qs]
            return [Section(self.heading, self.whole.text(), questions)]
        # Q&A pairs: text before the first question is the heading's own fact.
        return [
            Section("", answer, questions, self.heading)
            if questions
            else Section(self.heading, answer)
            for questions, answer in asked
            if questions or answer
        ]


class _AnswerLines:
    """A Markdown answer: wrapped prose joined into one line (no space where Chinese or
    Japanese wrapped: `机器人，` / `而且`), each list item, transcript line (`夏生：“…”`),
    table row, code line and `###` heading on a line of its own, as a TOML answer keeps them."""

    def __init__(self) -> None:
        self.lines: list[list[str]] = [[]]
        self.in_item = False

    def add(self, line: str) -> None:
        if _TABLE_ROW.match(line) or TABLE_RULE.match(line):
            self.add_alone(line.strip())
            return
        if _THEMATIC_BREAK.match(line):
            self.new_line()
            return
        item = _LIST_ITEM.match(line) is not None
        if (
            item
            or _SPEAKER_LINE.match(line)
            or (self.in_item and line.strip() and not line[:1].isspace())
        ):
            self.new_line()
        if line.strip():
            self.lines[-1].append(plain(_BULLET_OR_QUOTE.sub("", line, count=1)))
            self.in_item = item or self.in_item
        elif self.in_item:  # a blank line ends a list
            self.new_line()
            self.in_item = False

    def add_alone(self, line: str) -> None:
        """A line of its own, as written (a code line, a heading's text, a table's row)."""
        self.new_line()
        if line.strip():
            self.lines[-1].append(line)
        self.new_line()
        self.in_item = False

    def new_line(self) -> None:
        if self.lines[-1]:
            self.lines.append([])

    def text(self) -> str:
        return "\n".join(filter(None, (join_pieces(pieces) for pieces in self.lines)))


def _without_comments(raw: str) -> str:
    """`raw` without its HTML comments (`<!-- TODO -->` is no part of her answer); an
    unclosed one is kept. One pass: a regex retried the rest of the file at each `<!--`."""
    kept, start = [], 0
    while (opened := raw.find("<!--", start)) != -1:
        closed = raw.find("-->", opened + 4)
        if closed == -1:
            break
        kept.append(raw[start:opened])
        start = closed + 3
    return "".join([*kept, raw[start:]])


def _heading_text(text: str) -> str:
    """A heading's text without its closing `#`s (`## Minamo ##`; `## C#` keeps its `#`)."""
    text = text.strip()
    bare = text.rstrip("#")
    return bare.rstrip() if bare != text and (not bare or bare[-1] in " \t") else text
