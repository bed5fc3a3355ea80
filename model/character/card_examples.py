"""A SillyTavern card's `mes_example` read into example turns.

Cards write it in several shapes, and SillyTavern sends each as written, so every one of
them is her voice to keep:
- `{{user}}: …` / `{{char}}: …` lines between `<START>` lines;
- a reply over several lines (an action line, then speech, then a paragraph: the usual
  chub.ai / JanitorAI style): a line without a speaker belongs to the message above it;
- speakers by name (`You: …` / `Aqua: …`, Pygmalion's example dialogue): the card's names
  are `{{char}}`, the usual words for the person (You, User, Anon) `{{user}}`;
- only `{{char}}` lines (a monologue): each is a turn without a user line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import AliasChoices, BaseModel, Field

# Words cards write for the person talking with her, compared without case.
USER_LABELS = ("{{user}}", "you", "user", "anon", "anonymous")
_START = re.compile(r"^<start>$", re.IGNORECASE)
# A speaker label: up to 40 characters without a colon, then `:` or a full-width `：`
# (as a Japanese or Chinese keyboard types it).
_LABEL = re.compile(r"^([^:：]{1,40})[:：]\s?(.*)$")


class ExampleTurn(BaseModel):
    user: str = ""  # empty: a line of hers alone (a monologue example)
    # Her line. A TOML card writes it `char`; `atri`, as cards before this name did, is
    # read too.
    char: str = Field(validation_alias=AliasChoices("char", "atri"))


@dataclass
class _Message:
    from_char: bool
    lines: list[str]

    @property
    def text(self) -> str:
        # Blank lines between paragraphs are kept, at most one in a row.
        return re.sub(r"\n{3,}", "\n\n", "\n".join(self.lines)).strip()


def parse_mes_example(text: str, char_names: Iterable[str] = ()) -> list[ExampleTurn]:
    """Example turns of `mes_example`; `char_names`: the names she goes by on the card
    (name, nickname, aliases), read as `{{char}}` in speaker labels."""
    chars = {"{{char}}", *(n.strip().casefold() for n in char_names if n.strip())}
    turns: list[ExampleTurn] = []
    for block in _blocks(text):
        turns.extend(_turns(_messages(block, chars)))
    return turns


def _blocks(text: str) -> list[list[str]]:
    """The lines between `<START>` lines (an example each)."""
    blocks: list[list[str]] = [[]]
    for raw in text.splitlines():
        if _START.match(raw.strip()):
            blocks.append([])
        else:
            blocks[-1].append(raw.rstrip())
    return [b for b in blocks if any(line.strip() for line in b)]


def _messages(lines: list[str], chars: set[str]) -> list[_Message]:
    """The block's messages: a speaker's line and the unlabeled lines after it (lines
    before the first speaker say nothing anyone says, and are left out)."""
    messages: list[_Message] = []
    for line in lines:
        speaker, said = _speaker(line.strip(), chars)
        if speaker is not None:
            messages.append(_Message(from_char=speaker, lines=[said]))
        elif messages:
            messages[-1].lines.append(line.strip())
    return messages


def _speaker(line: str, chars: set[str]) -> tuple[bool | None, str]:
    """(True for her, False for the person, None for no label) and the text said."""
    match = _LABEL.match(line)
    if match is None:
        return None, line
    label = match.group(1).strip().casefold()
    if label in chars:
        return True, match.group(2)
    if label in USER_LABELS:
        return False, match.group(2)
    return None, line


def _turns(messages: list[_Message]) -> list[ExampleTurn]:
    """Each reply of hers with the person's message before it, if any; the person's
    messages in a row are one, and one she does not answer is no example."""
    turns: list[ExampleTurn] = []
    pending_user: list[str] = []
    for message in messages:
        if not message.text:
            continue
        if message.from_char:
            turns.append(ExampleTurn(user="\n".join(pending_user), char=message.text))
            pending_user = []
        else:
            pending_user.append(message.text)
    return turns
