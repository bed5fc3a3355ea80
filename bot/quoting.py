"""Notes for what a message carries beside its own words, written for the model: the
message it quotes, a Discord poll. Short and clearly marked, in the bots' language
(`bot.lines`), so the model reads "（引用了小明的消息：明天全校放假）他说得对吗" instead of a
question about nothing.

Quoted text is someone else's message: it is cleaned as any message text is (the caller
does that) and cut, so a quote cannot crowd out what the person said. The model reads it
for the one reply to the quoting message (`ChatRequest.with_quote`); what is stored names
only whose message was quoted (`quote_mark`: "（引用了小明的消息）他说得对吗"), so a
message recalled or purged since stays in no conversation that quoted it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.lines import card_names, lines
from model.character.prompt import told_apart
from model.protocol import visible_name, visible_text

# The most of a quoted message (or of a poll's answers) the model reads: enough to know
# what is being answered.
MAX_QUOTE_CHARS = 200
MAX_NAME_CHARS = 32
CUT_MARK = "…"
ANSWERS_SEPARATOR = " / "


def cut(text: str, limit: int = MAX_QUOTE_CHARS) -> str:
    """At most `limit` characters, marked when cut; on one line."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - len(CUT_MARK)] + CUT_MARK


def cut_name(name: str) -> str:
    """A person's name inside a note: without the invisible controls that would turn
    the rest of the note around (`visible_name`: U+202E), and cut (cleaned again: a cut
    may end inside a flag's tags)."""
    return visible_name(cut(visible_name(name), MAX_NAME_CHARS))


def at_name(name: object) -> str:
    """A name sent with an @ as the model reads it after the "@": without invisible
    controls (`visible_name`), outer blanks or an "@" of its own; "" when nothing of it
    shows (the caller then names the person otherwise: by QQ number)."""
    if not isinstance(name, str):
        return ""
    return visible_text(visible_text(visible_name(name)).lstrip("@"))


def reserved_names(*more: str) -> list[str]:
    """Names an author of a quote or a forwarded message must not go by bare: hers as the
    bots speak (`lines().name`), her card's and the lead's (`card_names`), and `more`."""
    return [lines().name, *card_names(), *more]


def author_label(name: str, author_id: str, her_names: Iterable[str] = ()) -> str:
    """How a quote or a forwarded message names its author: their name, with their id
    where it reads as one of `reserved_names` (`told_apart`, as room lines name people),
    so a member nicknamed after her is not quoted as her."""
    shown = cut_name(name)
    person = (author_id or "?", shown)
    return told_apart([person], reserved_names(*her_names))[person]


def quote_note(who: str | None, text: str) -> str:
    """A quoted message before the words: `who` None when it was her own."""
    if who is None:
        return lines().own_quote_note.format(text=cut(text))
    return lines().quote_note.format(who=cut_name(who), text=cut(text))


def quote_mark(who: str | None) -> str:
    """The note stored in place of `quote_note`: whose message it quoted (`who` None when
    it was her own), not its words."""
    if who is None:
        return lines().own_quote_mark
    return lines().quote_mark.format(who=cut_name(who))


@dataclass(frozen=True)
class QuoteNotes:
    """A quoted message's two notes: `shown` (`quote_note`) before the words the model
    reads for this reply, `kept` (`quote_mark`) before the words stored."""

    shown: str = ""
    kept: str = ""

    def texts(self, words: str, separator: str = "") -> tuple[str, str]:
        """`words` after each note: as stored (`ChatRequest.text`) and as read for this
        reply (`ChatRequest.with_quote`, "" when nothing is quoted)."""
        if not self.shown:
            return words, ""
        return _joined(self.kept, words, separator), _joined(self.shown, words, separator)


def _joined(note: str, words: str, separator: str) -> str:
    return separator.join(part for part in (note, words) if part)


def quote_notes(who: str | None, text: str) -> QuoteNotes:
    """Both notes of a quoted message (`who` None when it was her own)."""
    return QuoteNotes(quote_note(who, text), quote_mark(who))


def poll_note(question: str, answers: list[str]) -> str:
    """A poll's question and its answers (cut to `MAX_QUOTE_CHARS` together)."""
    listed = cut(ANSWERS_SEPARATOR.join(answers))
    return lines().poll_note.format(question=cut(question), answers=listed)
