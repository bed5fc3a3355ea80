"""ATRI's character card: the system prompt, and Character Card V2 import/export
(JSON, or a PNG image with the card in it; a V3 card is read too).

Pure Python (no torch) so that dataprep can build the same system prompt the worker
uses at chat time.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, PrivateAttr, ValidationError

from atri.config import (
    DEFAULT_SMOKE_PROMPT,
    DEFAULT_TRAINING_PROMPT,
    LANGUAGE_NAMES,
    OLD_DEFAULT_SMOKE_PROMPT,
    PersonaSettings,
    Settings,
    WorkerSettings,
)
from atri.errors import UserError
from atri.text_files import (
    BROKEN_CHARACTER,
    NotUtf8Error,
    decode_hand_written,
    without_lone_surrogates,
)
from model.character.card_examples import ExampleTurn, parse_mes_example
from model.character.card_fields import (
    AFTER_CHAR,
    AT_DEPTH,
    BEFORE_CHAR,
    DEFAULT_INSERTION_DEPTH,
    DEFAULT_SCAN_DEPTH,
    SELECTIVE_LOGIC_IDS,
    KeywordEntry,
    NoteRole,
    Told,
    alternate_greetings,
    called_up,
    depth_prompt_depth_note,
    depth_prompt_note,
    lore_places,
    read_depth_prompt,
    read_lorebook,
    slashed_regex,
)
from model.character.card_formats import (
    TEXT_CARD_SUFFIXES,
    UNKNOWN_FORMAT,
    ZIP_SIGNATURE,
    CardFormatError,
    as_card_v2,
    charx_card,
    fill_names,
    with_standard_macros,
    with_stripped_names,
)
from model.character.ooc import detect_language
from model.character.png_card import PNG_SIGNATURE, PngCardError, png_card
from model.character.prompt import NOTE_HEADINGS, CharacterNote

log = logging.getLogger(__name__)

# `[persona] training_prompt`'s default, per language the card can speak.
TRAINING_PROMPTS = {
    "zh": DEFAULT_TRAINING_PROMPT,
    # "{{char}}'s own voice", as the Japanese says: "her" misgendered every male character.
    "en": "You are {{char}}. Talk with {{user}} as {{char}}, in {{char}}'s own voice, and "
    "never step out of the role.",
    "ja": "あなたは{{char}}です。{{char}}として、{{char}}の口調で{{user}}と話し、役から外れないでください。",
}

# The summary instruction's default (a card's `summary_prompt` overrides it), per
# language: memory summaries are written in the language she speaks.
SUMMARY_PROMPTS = {
    "zh": "你是{{char}}的记忆。下面是你之前的记忆摘要（可能为空）和之后的一段对话。"
    "请写出更新后的摘要：用第三人称简短列出对方告诉过{{char}}的事实（名字、喜好、宠物、"
    "计划、约定等）和发生过的重要事情，保留具体的名字和数字，不要编造，不要写对话以外的内容。",
    "en": "You are {{char}}'s memory. Below are your summary so far (it may be empty) and the "
    "next part of the conversation. Write the updated summary: briefly list, in the third "
    "person, the facts the other person told {{char}} (names, likes, pets, plans, promises) "
    "and what happened that matters. Keep exact names and numbers, invent nothing, and add "
    "nothing that was not said.",
    "ja": "あなたは{{char}}の記憶です。下にこれまでの要約（空のこともあります）と、その後の"
    "会話があります。更新した要約を書いてください：相手が{{char}}に話した事実（名前、好み、"
    "ペット、予定、約束）と大事な出来事を三人称で短く挙げ、名前や数字はそのまま残し、"
    "話されていないことは書かないでください。",
}

# `[reload] smoke_prompt`'s default, per language: a new version is greeted by name in
# the language it was trained to speak, not with ATRI's Chinese line.
SMOKE_PROMPTS = {
    "zh": DEFAULT_SMOKE_PROMPT,
    "en": "Hi, {{char}}! How has your day been?",
    "ja": "こんにちは、{{char}}！今日はどうだった？",
}

PACKAGED_CARD = Path(__file__).with_name("personas") / "atri.toml"
_CARD_SPECS = ("chara_card_v2", "chara_card_v3")
# Description, personality and scenario shorter than this together leave the scene to the
# greeting, which the system prompt then carries (Persona._scene_only_in_greeting).
SCENE_IN_GREETING_CHARS = 40
# SillyTavern's global instructions in a card's `post_history_instructions`: ATRI has none.
_ORIGINAL = re.compile(r"\{\{original\}\}", re.IGNORECASE)


@dataclass(frozen=True)
class Framing:
    """The system prompt's own sentences, in the language of the card's text."""

    intro: str  # {name} is the character's name
    character: str
    personality: str
    scenario: str
    speech_style: str
    examples: str
    heading: str  # {title} is one of the titles above
    colon: str
    background: str  # a card's lorebook entries
    opening: str  # the greeting, on a card whose scene is only there
    instructions: str  # a card's post-history instructions


FRAMINGS = {
    "zh": Framing(
        "你是{name}。请始终以{name}的身份和口吻回答，不要跳出角色。",
        "角色",
        "性格",
        "场景",
        "说话方式",
        "对话示例",
        "【{title}】",
        "：",
        background="背景设定",
        opening="开场",
        instructions="指示",
    ),
    "en": Framing(
        "You are {name}. Always answer as {name}, in {name}'s own voice, and never step out of "
        "character.",
        "Character",
        "Personality",
        "Scenario",
        "Speech style",
        "Example dialogue",
        "[{title}] ",
        ": ",
        background="Background",
        opening="Opening scene",
        instructions="Instructions",
    ),
    "ja": Framing(
        "あなたは{name}です。いつも{name}として、{name}の口調で答え、キャラクターを崩さないでください。",
        "人物",
        "性格",
        "場面",
        "話し方",
        "会話例",
        "【{title}】",
        "：",
        background="背景設定",
        opening="導入",
        instructions="指示",
    ),
}


class PersonaError(UserError):
    """A character card that cannot be read; str() names the file and the problem."""


class CannedLines(BaseModel):
    """What she says when there is no model reply to give (`[worker]` can override them)."""

    busy: str = ""  # overloaded, timed out or rate-limited
    error: str = ""  # the worker failed
    empty: str = ""  # an empty message


# What she calls the person, for a card that names nobody (a SillyTavern card has no such
# field) and `[persona] user_name` left at its default: never ATRI's 夏生 for someone else.
DEFAULT_USER_NAMES = {"zh": "你", "en": "you", "ja": "あなた"}


# What she says when there is no model reply, for a card that has no `lines` of its own,
# per language ({{char}}: her name).
DEFAULT_LINES = {
    "zh": CannedLines(
        busy="呜……{{char}}现在有点忙不过来，请稍等一下再和我说话吧！",
        error="诶？{{char}}的脑袋好像短路了一下……能再说一遍吗？",
        empty="嗯？你想对{{char}}说什么呢？",
    ),
    "en": CannedLines(
        busy="Uu... {{char}} is a little swamped right now. Talk to me again in a moment!",
        error="Huh? {{char}}'s head short-circuited for a second... Could you say that again?",
        empty="Hm? What did you want to tell {{char}}?",
    ),
    "ja": CannedLines(
        busy="うう……{{char}}、いまちょっと手が回らないの。少ししてからまた話しかけてね！",
        error="あれ？{{char}}の頭が一瞬ショートしちゃった……もう一度言ってくれる？",
        empty="ん？{{char}}に何を言いたかったの？",
    ),
}


class Persona(BaseModel):
    # The card's main language ("zh", "en", "ja"); "" = told from its text.
    language: str = ""
    name: str
    # What she calls the person when a platform gives no name ([persona] user_name).
    user_name: str = ""
    aliases: list[str] = Field(default_factory=list)
    description: str = ""
    personality: str = ""
    scenario: str = ""
    speech_style: str = ""
    greeting: str = ""
    # A card's `alternate_greetings`: a conversation opens with one of them or
    # `greeting` (`greetings`).
    alternate_greetings: list[str] = Field(default_factory=list)
    example_dialogue: list[ExampleTurn] = Field(default_factory=list)
    # A SillyTavern card's system_prompt: it takes the place of the prompt's first
    # sentence, which `{{original}}` in it stands for.
    card_system_prompt: str = ""
    lore: list[str] = Field(default_factory=list)  # background facts (its lorebook)
    # Background facts SillyTavern puts before the card's description (`before_char`).
    lore_before_card: list[str] = Field(default_factory=list)
    # Lorebook entries told only when a key of theirs is in the last `lore_scan_depth`
    # messages (or always, where `constant`): in the chat, never the system prompt
    # (`called_up_lore`).
    keyword_lore: list[KeywordEntry] = Field(default_factory=list)
    lore_scan_depth: int = Field(default=DEFAULT_SCAN_DEPTH, ge=1)
    # Whether the text of the lorebook's entries told (and of `lore`) calls up others, as
    # SillyTavern's recursive scan: the book's `recursive_scanning`.
    lore_recursive: bool = True
    # Facts of `lore` and `lore_before_card` whose text calls up no entry
    # (SillyTavern's `prevent_recursion`).
    lore_not_scanned: list[str] = Field(default_factory=list)
    # Its extensions.depth_prompt (SillyTavern's "Character's Note"): told in the chat,
    # `character_note_depth` messages up, never in the system prompt (`note_in_chat`).
    character_note: str = ""
    character_note_depth: int = Field(default=DEFAULT_INSERTION_DEPTH, ge=0)
    # Whose message SillyTavern makes it; ATRI tells every one as a note in a user's turn.
    character_note_role: NoteRole = "system"
    post_history_instructions: str = ""  # the prompt's last section
    # Who wrote the card and how it is labelled: kept as read, so an export of someone
    # else's card carries their credit, not this project's.
    creator: str = ""
    creator_notes: str = ""
    tags: list[str] = Field(default_factory=list)
    character_version: str = ""
    # Fields of the card that are not used, said by `atri persona show` and at start.
    unused: list[str] = Field(default_factory=list, exclude=True)
    lines: CannedLines = Field(default_factory=CannedLines)
    # How the engine is asked to fold old exchanges into her memory summary; "" = the
    # default for the card's language (SUMMARY_PROMPTS).
    summary_prompt: str = ""
    # The same card in other languages, keyed by language: every field but the aliases.
    translations: dict[str, Persona] = Field(default_factory=dict)
    # The card as read (a JSON, PNG or .charx card, in V2's shape), which its export writes
    # back: None for our TOML card.
    _card: dict[str, Any] | None = PrivateAttr(default=None)

    @property
    def main_language(self) -> str:
        if self.language:
            return self.language
        sample = " ".join((self.description, self.personality, self.greeting))
        return detect_language(sample) or "en"

    @property
    def languages(self) -> list[str]:
        return [self.main_language, *(k for k in self.translations if k != self.main_language)]

    def in_language(self, language: str) -> Persona:
        """This card in `language`: itself, or its translation under the same aliases."""
        if language == self.main_language:
            return self.model_copy(update={"language": language, "translations": {}})
        version = self.translations.get(language)
        if version is None:
            raise PersonaError(
                f'the character card has no "{language}" version (it has '
                f'{", ".join(self.languages)}): set [persona] language to one of them or "auto", '
                f"or point [persona] card at a card written in {LANGUAGE_NAMES.get(language, language)} "
                "(a SillyTavern card, or a TOML card like model/character/personas/atri.toml)."
            )
        names = [*self.aliases, self.name, *version.aliases]
        aliases = [a for a in dict.fromkeys(names) if a != version.name]
        # The same card's credit, unless the translation gives its own (a translator's).
        credits = {key: getattr(self, key) for key in _CREDITS if not getattr(version, key)}
        return version.model_copy(
            update={"language": language, "aliases": aliases, "translations": {}, **credits}
        )

    def fill(self, text: str, user_name: str) -> str:
        return fill_names(text, self.name, user_name).strip()

    def system_prompt(self, user_name: str = "{{user}}") -> str:
        """The system prompt: who she is, how she talks, and a few example lines.

        Training data and the worker keep `{{user}}` as it is (the default): the prompt
        is then the same for every user, so its KV states can be cached and shared, and
        the worker puts the person's name into the reply instead (`fill`)."""
        frame = FRAMINGS.get(self.main_language, FRAMINGS["en"])
        intro = frame.intro.format(name=self.name)
        if self.card_system_prompt.strip():
            intro = self.fill(self.card_system_prompt.replace("{{original}}", intro), user_name)
        parts = [intro]
        for title, body in (
            (frame.background, "\n".join(self.lore_before_card)),
            (frame.character, self.description),
            (frame.personality, self.personality),
            (frame.scenario, self.scenario),
            (frame.opening, self.greeting if self._scene_only_in_greeting() else ""),
            (frame.speech_style, self.speech_style),
            (frame.background, "\n".join(self.lore)),
        ):
            if body.strip():
                parts.append(frame.heading.format(title=title) + self.fill(body, user_name))
        if self.example_dialogue:
            lines = [self._example(t, frame.colon, user_name) for t in self.example_dialogue]
            parts.append(
                frame.heading.format(title=frame.examples).rstrip() + "\n" + "\n".join(lines)
            )
        # `{{original}}` stands for SillyTavern's global instructions, which ATRI has none of.
        instructions = _ORIGINAL.sub("", self.post_history_instructions)
        if instructions.strip():
            parts.append(
                frame.heading.format(title=frame.instructions) + self.fill(instructions, user_name)
            )
        return "\n".join(parts)

    def _scene_only_in_greeting(self) -> bool:
        """A card that says almost nothing of her but in its greeting (a chub.ai "scenario"
        bot): SillyTavern makes the greeting the chat's first message, so the model reads
        the scene; ATRI only shows it, so the prompt carries it instead."""
        told = sum(len(f.strip()) for f in (self.description, self.personality, self.scenario))
        return told < SCENE_IN_GREETING_CHARS and bool(self.greeting.strip())

    def _example(self, turn: ExampleTurn, colon: str, user_name: str) -> str:
        """One example turn as the prompt shows it; a line of hers alone has no user line."""
        said = f"{self.name}{colon}{self.fill(turn.char, user_name)}"
        if not turn.user.strip():
            return said
        return f"{user_name}{colon}{self.fill(turn.user, user_name)}\n{said}"

    def training_prompt(self, template: str) -> str:
        """The short prompt an adapter is trained and served with (`[persona]
        training_prompt`): the card's name filled in, `{{user}}` kept for the worker.
        Left at its (Chinese) default, it is said in the language she speaks."""
        if template == DEFAULT_TRAINING_PROMPT:
            template = TRAINING_PROMPTS.get(self.main_language, TRAINING_PROMPTS["en"])
        return template.replace("{{char}}", self.name).strip()

    def smoke_prompt(self, configured: str) -> str:
        """The message a new adapter version must answer (`[reload] smoke_prompt`), her
        name filled in. Left at its default, it greets her in the language she speaks."""
        if configured in (DEFAULT_SMOKE_PROMPT, OLD_DEFAULT_SMOKE_PROMPT):
            configured = SMOKE_PROMPTS.get(self.main_language, SMOKE_PROMPTS["en"])
        return configured.replace("{{char}}", self.name).strip()

    def summary_instruction(self) -> str:
        """The system prompt a memory summary is written under, in the card's language."""
        template = self.summary_prompt or SUMMARY_PROMPTS.get(
            self.main_language, SUMMARY_PROMPTS["en"]
        )
        return template.replace("{{char}}", self.name).strip()

    def called_up_lore(self, recent: Sequence[str], user_name: str = "{{user}}") -> list[Told]:
        """The lorebook entries told with a message: those whose keys are in `recent` (the
        messages her prompt is made of, oldest first, the new one last) or in the text of
        the background facts and entries told, and the constant ones at a depth, her name
        filled in and `{{user}}` kept, as the system prompt keeps it. A key's `{{char}}`
        is her name and its `{{user}}` `user_name`, as SillyTavern fills keys."""
        scanned = [
            f for f in (*self.lore_before_card, *self.lore) if f not in self.lore_not_scanned
        ]
        entries = called_up(
            self.keyword_lore,
            recent,
            self.lore_scan_depth,
            recursive=self.lore_recursive,
            background=scanned,
            fill=lambda text: fill_names(text, self.name, user_name),
        )
        told = [entry._replace(content=self.fill(entry.content, "{{user}}")) for entry in entries]
        if told:
            # With -v, which entries a message called up: seen nowhere else but in the
            # prompt itself (an echo engine's reply).
            log.info(
                "Lorebook entries called up: %s",
                " | ".join(
                    t.content if len(t.content) <= 60 else t.content[:59] + "…" for t in told
                ),
            )
        return told

    def note_in_chat(self) -> CharacterNote | None:
        """The character's note as told in the chat, `character_note_depth` messages up,
        under a heading in her language: her name filled in and `{{user}}` kept, as the
        system prompt keeps it; None for none. The system prompt never holds it, so it
        stays the same text for every conversation and its KV states stay cached."""
        text = self.fill(self.character_note, "{{user}}")
        if not text:
            return None
        heading = NOTE_HEADINGS.get(self.main_language, NOTE_HEADINGS["zh"])
        return CharacterNote(text, self.character_note_depth, heading)

    @property
    def greetings(self) -> list[str]:
        """The greetings a conversation may open with (`Character.greeting_of` picks one),
        `greeting` first; none for a card with no greeting. A card whose scene is only in
        its greeting has that one alone: the system prompt, the same for every
        conversation, carries it."""
        if self._scene_only_in_greeting():
            return [self.greeting]
        return [g for g in (self.greeting, *self.alternate_greetings) if g.strip()]

    def greeting_for(self, user_name: str) -> str:
        return self.fill(self.greeting, user_name)

    def to_card_v2(self) -> dict[str, Any]:
        """SillyTavern's Character Card V2 (spec `chara_card_v2`; V3 for a V3 card): the
        card as read where it was one (`_card_as_read`), else one written from these
        fields."""
        if self._card is not None:
            return self._card_as_read(self._card)
        examples = "\n".join(
            "<START>\n"
            + (f"{{{{user}}}}: {t.user}\n" if t.user.strip() else "")
            + f"{{{{char}}}}: {t.char}"
            for t in self.example_dialogue
        )
        return {
            "spec": "chara_card_v2",
            "spec_version": "2.0",
            "data": {
                "name": self.name,
                "description": self.description.strip(),
                "personality": self.personality.strip(),
                "scenario": self.scenario.strip(),
                "first_mes": self.greeting.strip(),
                "mes_example": examples,
                "creator_notes": self.creator_notes.strip(),
                "system_prompt": self.card_system_prompt.strip(),
                "post_history_instructions": self.post_history_instructions.strip(),
                "alternate_greetings": [g.strip() for g in self.alternate_greetings],
                "tags": list(self.tags),
                "creator": self.creator.strip(),
                "character_version": self.character_version.strip(),
                "extensions": {
                    "atri": {
                        "aliases": self.aliases,
                        "speech_style": self.speech_style.strip(),
                        "user_name": self.user_name,
                    },
                    **self._depth_prompt(),
                },
                **self._character_book(),
            },
        }

    def _card_as_read(self, card: dict[str, Any]) -> dict[str, Any]:
        """The card as read, every field and extension ATRI does not use kept (the V2 spec:
        an app must not destroy them), with what ATRI changes in it: V2's spec (V3's for a
        V3 card), its name
        without blanks around it, its credit as text (`_credits`), the `extensions` V2
        requires, the character's note at the depth and in the role ATRI tells it, and the
        lorebook in the shape SillyTavern imports (`_book_as_read`). Its macros stay as
        written: a `{{random}}` is picked again, the same, when it is read."""
        data = copy.deepcopy(with_stripped_names(card)["data"])
        data |= {k: v for k, v in _credits(data).items() if k in data and data[k] != v}
        if data.get("extensions") is None:
            data["extensions"] = {}
        depth_prompt = data["extensions"].get("depth_prompt")
        if isinstance(depth_prompt, dict) and self.character_note.strip():
            depth_prompt |= self._depth_prompt()["depth_prompt"]
        if "character_book" in data:
            data["character_book"] = _book_as_read(data["character_book"])
        # A V3 card stays one (its nickname, assets, group greetings are V3's): labelled
        # V2, apps that read V3 fields only from V3 cards would drop them on import.
        if card.get("spec") == "chara_card_v3":
            return {**card, "spec": "chara_card_v3", "spec_version": "3.0", "data": data}
        return {**card, "spec": "chara_card_v2", "spec_version": "2.0", "data": data}

    def _depth_prompt(self) -> dict[str, Any]:
        """The character's note as SillyTavern's depth prompt, at the depth and in the role
        the card gave it."""
        if not self.character_note.strip():
            return {}
        return {
            "depth_prompt": {
                "prompt": self.character_note.strip(),
                "depth": self.character_note_depth,
                "role": self.character_note_role,
            }
        }

    def _character_book(self) -> dict[str, Any]:
        """The background facts as a lorebook of constant entries, in their order (those
        before the card first), then the entries told in the chat as SillyTavern writes
        them."""
        if not (self.lore_before_card or self.lore or self.keyword_lore):
            return {}
        facts = [
            *((fact, BEFORE_CHAR) for fact in self.lore_before_card),
            *((fact, AFTER_CHAR) for fact in self.lore),
        ]
        constant: list[dict[str, Any]] = [
            {
                "id": i,
                "keys": [],
                "content": fact,
                "enabled": True,
                "insertion_order": i,
                "constant": True,
                "position": "before_char" if position == BEFORE_CHAR else "after_char",
                "extensions": {
                    "position": position,
                    "prevent_recursion": fact in self.lore_not_scanned,
                },
            }
            for i, (fact, position) in enumerate(facts)
        ]
        keyword = [
            _keyword_entry_v2(entry, len(constant) + i) for i, entry in enumerate(self.keyword_lore)
        ]
        book: dict[str, Any] = {
            "entries": [*constant, *keyword],
            "recursive_scanning": self.lore_recursive,
            "extensions": {},
        }
        if self.lore_scan_depth != DEFAULT_SCAN_DEPTH:
            book["scan_depth"] = self.lore_scan_depth
        return {"character_book": book}

    @classmethod
    def from_card_v2(cls, card: Any) -> Persona:
        """A Character Card V2, or V3 (the same fields, and its `nickname`), its macros put
        in the spelling ATRI fills in and blanks taken from around her name; the card as
        given is kept for its export. A field of the wrong type is refused by name: `str()`
        of a list is no name, nor a string's letters a list of aliases."""
        if not isinstance(card, dict):
            raise PersonaError(f"character card is not a JSON object (it is {_json_kind(card)}).")
        if card.get("spec") not in _CARD_SPECS or not isinstance(card.get("data"), dict):
            raise PersonaError(
                'not a Character Card V2 or V3 (expected "spec": "chara_card_v2" or '
                '"chara_card_v3" and a "data" object).'
            )
        as_read = copy.deepcopy(card)
        data = with_stripped_names(with_standard_macros(card))["data"]
        extensions = _card_field(data, "data", "extensions", dict)
        ext = _card_field(extensions, "data.extensions", "atri", dict)
        aliases = _card_field(ext, "data.extensions.atri", "aliases", list)
        if not all(isinstance(a, str) for a in aliases):
            raise PersonaError(
                "character card field data.extensions.atri.aliases: must be a list of strings."
            )
        name = _card_field(data, "data", "name", str)
        # V3: the name {{char}} stands for in the prompt; her card name stays an alias.
        nickname = _card_field(data, "data", "nickname", str)
        if nickname.strip():
            name, aliases = (
                nickname,
                [a for a in dict.fromkeys([name, *aliases]) if a and a != nickname],
            )
        text = {
            key: _card_field(data, "data", key, str)
            for key in (
                "description",
                "personality",
                "scenario",
                "first_mes",
                "mes_example",
                "system_prompt",
                "post_history_instructions",
            )
        }
        book, book_notes = read_lorebook(_character_book(data))
        depth_prompt = _card_field(extensions, "data.extensions", "depth_prompt", dict)
        note = read_depth_prompt(depth_prompt)
        greetings = _card_field(data, "data", "alternate_greetings", list)
        persona = cls(
            name=name,
            user_name=_card_field(ext, "data.extensions.atri", "user_name", str),
            aliases=aliases,
            description=text["description"],
            personality=text["personality"],
            scenario=text["scenario"],
            speech_style=_card_field(ext, "data.extensions.atri", "speech_style", str),
            greeting=text["first_mes"],
            alternate_greetings=alternate_greetings(greetings),
            example_dialogue=parse_mes_example(text["mes_example"], [name, *aliases]),
            card_system_prompt=text["system_prompt"],
            lore=book.constant,
            lore_before_card=book.before_card,
            keyword_lore=book.keyword,
            lore_scan_depth=book.scan_depth,
            lore_recursive=book.recursive,
            lore_not_scanned=book.not_scanned,
            character_note=note.text,
            character_note_depth=note.depth,
            character_note_role=note.role,
            post_history_instructions=text["post_history_instructions"],
            **_credits(data),
            unused=[
                *book_notes,
                *depth_prompt_depth_note(depth_prompt),
                *depth_prompt_note(note.text, note.role),
            ],
        )
        persona._card = as_read
        if persona.alternate_greetings and persona._scene_only_in_greeting():
            persona.unused.append(
                f"alternate_greetings: {len(persona.alternate_greetings)} not used (the "
                "card's scene is only in first_mes, which the system prompt carries)"
            )
        return persona


def _book_as_read(book: Any) -> Any:
    """The card's lorebook as read, in the shape SillyTavern imports: a list of entries
    given in its place (a hand edit) is its `entries`, and so are a world-info file's
    entries by uid. An entry's `use_regex` says which keys are expressions, as SillyTavern
    and ATRI read them (/pattern/flags), for RisuAI, which reads only those it marks."""
    if isinstance(book, list):
        book = {"entries": book}
    if not isinstance(book, dict):
        return book
    entries = book.get("entries")
    if isinstance(entries, dict):
        book["entries"] = entries = list(entries.values())
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("keys"), list):
            secondary = entry.get("secondary_keys")
            keys = [*entry["keys"], *(secondary if isinstance(secondary, list) else [])]
            slashed = any(isinstance(k, str) and slashed_regex(k) for k in keys)
            if slashed or "use_regex" in entry:
                entry["use_regex"] = slashed
    return book


def _keyword_entry_v2(entry: KeywordEntry, entry_id: int) -> dict[str, Any]:
    """A keyword entry in the V2 shape, with SillyTavern's own fields for what V2 lacks."""
    extensions: dict[str, Any] = {
        "selectiveLogic": SELECTIVE_LOGIC_IDS[entry.logic],
        "match_whole_words": entry.whole_words,
        "case_sensitive": entry.case_sensitive,
        "position": AFTER_CHAR if entry.depth is None else AT_DEPTH,
        "exclude_recursion": entry.exclude_recursion,
        "prevent_recursion": entry.prevent_recursion,
        "delay_until_recursion": entry.delay_until_recursion,
    }
    if entry.scan_depth is not None:
        extensions["scan_depth"] = entry.scan_depth
    if entry.depth is not None:
        extensions |= {"depth": entry.depth, "role": 0}  # a system note, as SillyTavern's default
    return {
        "id": entry_id,
        "keys": entry.keys,
        "secondary_keys": entry.secondary_keys,
        "selective": bool(entry.secondary_keys),
        "content": entry.content,
        "enabled": True,
        "insertion_order": entry.insertion_order,
        "constant": entry.constant,
        "position": "after_char",
        "case_sensitive": entry.case_sensitive,
        # SillyTavern reads /pattern/flags keys whatever this says; RisuAI only where it is true.
        "use_regex": any(slashed_regex(k) for k in [*entry.keys, *entry.secondary_keys]),
        **({"priority": entry.priority} if entry.priority is not None else {}),
        "extensions": extensions,
    }


def _json_kind(value: object) -> str:
    """What a JSON value is, as a sentence says it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


_JSON_TYPES: dict[type, str] = {str: "a string", list: "a list", dict: "an object"}


def _character_book(data: dict[str, Any]) -> dict[str, Any]:
    """The card's `character_book`; a list given in its place (a hand edit) is read as
    the book's entries."""
    found = data.get("character_book")
    if isinstance(found, list):
        return {"entries": found}
    return _card_field(data, "data", "character_book", dict)


_CREDIT_TEXTS = ("creator", "creator_notes", "character_version")
_CREDITS = (*_CREDIT_TEXTS, "tags")


def _credits(data: dict[str, Any]) -> dict[str, Any]:
    """The card's credit and labels, kept for its export. Nothing reads them, so a card
    that writes them oddly (a version as a number, tags as one string) loads, keeping
    what is text."""
    found: dict[str, Any] = {}
    for key in _CREDIT_TEXTS:
        value = data.get(key)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            found[key] = str(value)
    tags = data.get("tags")
    tags = [tags] if isinstance(tags, str) else tags if isinstance(tags, list) else []
    found["tags"] = [t.strip() for t in tags if isinstance(t, str) and t.strip()]
    return found


def _card_field(obj: dict[str, Any], where: str, key: str, kind: type) -> Any:
    """`obj[key]` of JSON type `kind` (str, list or dict); missing or null is empty."""
    value = obj.get(key)
    if value is None:
        return kind()
    if not isinstance(value, kind):
        raise PersonaError(
            f"character card field {where}.{key}: must be {_JSON_TYPES[kind]} (it is "
            f"{_json_kind(value)})."
        )
    return value


def load_persona(path: str | Path | None = None) -> Persona:
    """Load a card: our TOML format, a Character Card V1/V2/V3 or Pygmalion JSON, a PNG
    card with one in it, or a RisuAI .charx (a zip with card.json); default: ATRI's card.
    Whatever the file holds, a problem is one sentence."""
    card_path = Path(path) if path else PACKAGED_CARD
    try:
        raw = card_path.read_bytes()
    except OSError as exc:
        # Every card but the packaged one is the one `[persona] card` names.
        fix = "" if card_path == PACKAGED_CARD else "; fix [persona] card"
        raise PersonaError(
            f"{card_path}: character card cannot be read ({exc.strerror}){fix}."
        ) from None
    try:
        if raw.startswith(PNG_SIGNATURE):
            persona = _from_card(png_card(raw), card_path)
        elif raw.startswith(ZIP_SIGNATURE) or card_path.suffix.lower() == ".charx":
            persona = _from_card(charx_card(raw), card_path)
        elif card_path.suffix.lower() == ".png":
            raise PersonaError("character card is not a PNG image.")
        elif card_path.suffix.lower() == ".json":
            persona = _from_card(json.loads(_card_text(raw, card_path)), card_path)
        else:
            table = tomllib.loads(_card_text(raw, card_path))
            persona = Persona.model_validate(table)
            persona.name = persona.name.strip()
            # pydantic drops keys the model lacks: each is named, or a `background` or
            # `[[character_book]]` the author wrote does nothing and nothing says so.
            ignored = _unknown_keys_note(table, "")
            tables = table.get("translations", {})
            for language, version in (("", persona), *persona.translations.items()):
                version.unused += depth_prompt_note(
                    version.character_note, version.character_note_role
                )
                if language:
                    version.unused += _unknown_keys_note(
                        tables[language], f"[translations.{language}] "
                    )
                version.unused += ignored + _toml_lore_note(version)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PersonaError(f"{card_path}: character card is not valid ({exc}).") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PersonaError(f"{card_path}: character card field {where}: {first['msg']}.") from None
    except (PersonaError, PngCardError, CardFormatError) as exc:
        raise PersonaError(f"{card_path}: {exc}") from None
    if not persona.name.strip():
        raise PersonaError(f"{card_path}: character card has no name.")
    for version in (persona, *persona.translations.values()):
        version.unused += unfilled_macros_note(
            version.system_prompt(), version.greeting, *version.alternate_greetings
        )
    return persona


# Keys other card formats (SillyTavern's JSON) use for a TOML card's fields: said with
# the field to write instead. None of them is read.
_TOML_KEY_ALIASES = {
    "background": "lore",
    "facts": "lore",
    "character_book": "keyword_lore",
    "lorebook": "keyword_lore",
    "world_info": "keyword_lore",
    "first_mes": "greeting",
    "mes_example": "example_dialogue",
    "system_prompt": "card_system_prompt",
    "scan_depth": "lore_scan_depth",
}


def _unknown_keys_note(table: dict[str, Any], where: str) -> list[str]:
    """The note `unused` gets for a TOML card's keys (at the top of `table`) that are no
    field of `Persona`, which therefore are ignored; none where every key is one."""
    unknown = [key for key in table if key not in Persona.model_fields]
    if not unknown:
        return []
    instead = [f"{key} as {_TOML_KEY_ALIASES[key]}" for key in unknown if key in _TOML_KEY_ALIASES]
    return [
        f"{where}{', '.join(unknown)}: not keys of a TOML card, so ignored (a TOML card's "
        "lore is `lore`, facts always in the system prompt, and `[[keyword_lore]]`, "
        "entries of `keys` and `content` told when a key is in the chat"
        + (f"; write {', '.join(instead)}" if instead else "")
        + ")"
    ]


def _toml_lore_note(persona: Persona) -> list[str]:
    """How many of a TOML card's lore entries are where, said as a JSON card's
    `character_book` note is (and, as that one, only for a card with keyword entries:
    constant facts alone are all in the prompt `atri persona show` prints)."""
    if not persona.keyword_lore:
        return []
    constant = len(persona.lore) + len(persona.lore_before_card)
    parts = lore_places(constant, persona.keyword_lore, persona.lore_scan_depth)
    return ["lore and keyword_lore: " + "; ".join(parts)]


# A SillyTavern macro ATRI does not fill ({{time}}, {{date}}, {{weekday}},
# {{idle_duration}}, {{lastMessage}}…): SillyTavern puts the moment's value in; here it
# would reach her prompt as written and she would read "It is {{time}}".
_MACRO = re.compile(r"\{\{[^{}\n]{1,40}\}\}")
_FILLED_MACROS = frozenset({"{{user}}", "{{char}}"})


def unfilled_macros_note(*texts: str) -> list[str]:
    """The note `unused` gets for macros in `texts` (her prompt, her greetings) that
    nothing fills in; none when every macro is {{user}} or {{char}}."""
    found = dict.fromkeys(m for text in texts for m in _MACRO.findall(text))
    unfilled = [m for m in found if m not in _FILLED_MACROS]
    if not unfilled:
        return []
    listed = ", ".join(unfilled[:5]) + (", …" if len(unfilled) > 5 else "")
    return [
        f"{listed}: macros ATRI does not fill in (it fills {{{{char}}}} and {{{{user}}}} "
        "only), so her prompt holds them as written; write what they stand for instead"
    ]


def _from_card(card: Any, card_path: Path) -> Persona:
    """A V1, V2, V3 or Pygmalion card read (`from_card_v2`). A lone surrogate in its JSON
    (half an emoji) is U+FFFD, said in a note: left in, the first print of the card
    (`atri persona show`, chat, the worker's start) failed to encode it."""
    card, broken = without_lone_surrogates(card)
    persona = Persona.from_card_v2(as_card_v2(card))
    if broken:
        more = f" and {len(broken) - 3} more" if len(broken) > 3 else ""
        persona.unused.append(
            f"{card_path}: {', '.join(broken[:3])}{more} held {BROKEN_CHARACTER}, read as "
            "\ufffd; mend it in the card"
        )
    return persona


def _card_text(raw: bytes, card_path: Path) -> str:
    try:
        return decode_hand_written(raw)
    except NotUtf8Error as exc:
        if card_path.suffix.lower() not in TEXT_CARD_SUFFIXES:  # a .webp, a .zip: no text
            raise PersonaError(UNKNOWN_FORMAT) from None
        raise PersonaError(
            f"character card {exc}, or give the PNG or JSON file SillyTavern exports."
        ) from None


def chosen_language(settings: Settings, card: Persona) -> str:
    """`[persona] language`; "auto" is English on the offline default model (it knows
    only English) when the card has an English version, else the card's main language."""
    wanted = settings.persona.language
    if wanted != "auto":
        return wanted
    if settings.model.runs_offline_default and "en" in card.languages:
        return "en"
    return card.main_language


def configured_persona(settings: Settings, card: Persona | None = None) -> Persona:
    """The card `[persona] card` names (ATRI's packaged card when it is empty), in the
    language `[persona] language` chooses. `card`: that card, already read (`atri serve`
    reads it once for the service and the bots)."""
    card_path = configured_card_path(settings)
    if card is None:
        card = load_persona(card_path)
    try:
        return card.in_language(chosen_language(settings, card))
    except (PersonaError, PngCardError) as exc:
        raise PersonaError(f"{card_path}: {exc}") from None


def configured_card_path(settings: Settings) -> Path:
    """The card `[persona] card` names, or ATRI's packaged card when it is empty."""
    card = settings.persona.card
    return settings.path(card) if card else PACKAGED_CARD


def _own_or_card(configured: str, default: str, from_card: str) -> str:
    """A value written in config.toml wins; left at its default (the card's Chinese
    line), the card's own value in the chosen language is used."""
    return configured if configured != default or not from_card else from_card


def reply_lines(persona: Persona, settings: Settings) -> CannedLines:
    """The busy, error and empty-message lines, in the card's language unless `[worker]`
    gives lines of its own. A card without such lines (a SillyTavern card has none) says
    DEFAULT_LINES in its language with its own name: never ATRI's lines for someone else."""
    worker, defaults = settings.worker, WorkerSettings()
    generic = DEFAULT_LINES.get(persona.main_language, DEFAULT_LINES["en"])
    own = CannedLines(
        **{
            field: (getattr(persona.lines, field) or getattr(generic, field)).replace(
                "{{char}}", persona.name
            )
            for field in CannedLines.model_fields
        }
    )
    return CannedLines(
        busy=_own_or_card(worker.busy_reply, defaults.busy_reply, own.busy),
        error=_own_or_card(worker.error_reply, defaults.error_reply, own.error),
        empty=own.empty,
    )


def canned_lines(settings: Settings, card: Persona | None = None) -> CannedLines:
    """`reply_lines` of the configured character (`card` when already read): what the
    bots say in her voice when they cannot reach a separate worker."""
    return reply_lines(configured_persona(settings, card), settings)


def default_user_name(persona: Persona, settings: Settings) -> str:
    """What she calls someone whose platform gives no name (`[persona] user_name`): left
    at its default, the card's own name for the person, or a neutral word in her
    language when the card names nobody (ATRI's card names 夏生, an Eileen card no one)."""
    neutral = DEFAULT_USER_NAMES.get(persona.main_language, DEFAULT_USER_NAMES["en"])
    return _own_or_card(
        settings.persona.user_name, PersonaSettings().user_name, persona.user_name or neutral
    )
