"""ATRI's character card: the system prompt, and Character Card V2 import/export.

Pure Python (no torch) so that dataprep can build the same system prompt the worker
uses at chat time.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from atri.config import Settings
from atri.errors import UserError

PACKAGED_CARD = Path(__file__).with_name("personas") / "atri.toml"


class PersonaError(UserError):
    """A character card that cannot be read; str() names the file and the problem."""


class ExampleTurn(BaseModel):
    user: str
    atri: str


class Persona(BaseModel):
    name: str
    aliases: list[str] = Field(default_factory=list)
    description: str = ""
    personality: str = ""
    scenario: str = ""
    speech_style: str = ""
    greeting: str = ""
    example_dialogue: list[ExampleTurn] = Field(default_factory=list)

    def fill(self, text: str, user_name: str) -> str:
        return text.replace("{{char}}", self.name).replace("{{user}}", user_name).strip()

    def system_prompt(self, user_name: str = "{{user}}") -> str:
        """The system prompt: who she is, how she talks, and a few example lines.

        Training data and the worker keep `{{user}}` as it is (the default): the prompt
        is then the same for every user, so its KV states can be cached and shared, and
        the worker puts the person's name into the reply instead (`fill`)."""
        parts = [f"你是{self.name}。请始终以{self.name}的身份和口吻回答，不要跳出角色。"]
        for title, body in (
            ("角色", self.description),
            ("性格", self.personality),
            ("场景", self.scenario),
            ("说话方式", self.speech_style),
        ):
            if body.strip():
                parts.append(f"【{title}】{self.fill(body, user_name)}")
        if self.example_dialogue:
            lines = [
                f"{user_name}：{self.fill(t.user, user_name)}\n{self.name}：{self.fill(t.atri, user_name)}"
                for t in self.example_dialogue
            ]
            parts.append("【对话示例】\n" + "\n".join(lines))
        return "\n".join(parts)

    def training_prompt(self, template: str) -> str:
        """The short prompt an adapter is trained and served with (`[persona]
        training_prompt`): the card's name filled in, `{{user}}` kept for the worker."""
        return template.replace("{{char}}", self.name).strip()

    def greeting_for(self, user_name: str) -> str:
        return self.fill(self.greeting, user_name)

    def to_card_v2(self) -> dict[str, Any]:
        """SillyTavern's Character Card V2 (spec `chara_card_v2`)."""
        examples = "\n".join(
            f"<START>\n{{{{user}}}}: {t.user}\n{{{{char}}}}: {t.atri}"
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
                "creator_notes": "Written for the ATRI project from public facts about the character.",
                "system_prompt": "",
                "post_history_instructions": "",
                "alternate_greetings": [],
                "tags": ["ATRI", "visual novel", "robot"],
                "creator": "ATRI project",
                "character_version": "1",
                "extensions": {
                    "atri": {"aliases": self.aliases, "speech_style": self.speech_style.strip()}
                },
            },
        }

    @classmethod
    def from_card_v2(cls, card: dict[str, Any]) -> Persona:
        if card.get("spec") != "chara_card_v2" or not isinstance(card.get("data"), dict):
            raise PersonaError(
                'not a Character Card V2 (expected "spec": "chara_card_v2" and a "data" object).'
            )
        data = card["data"]
        ext = (data.get("extensions") or {}).get("atri") or {}
        return cls(
            name=str(data.get("name") or ""),
            aliases=list(ext.get("aliases") or []),
            description=str(data.get("description") or ""),
            personality=str(data.get("personality") or ""),
            scenario=str(data.get("scenario") or ""),
            speech_style=str(ext.get("speech_style") or ""),
            greeting=str(data.get("first_mes") or ""),
            example_dialogue=_parse_mes_example(str(data.get("mes_example") or "")),
        )


def _parse_mes_example(text: str) -> list[ExampleTurn]:
    """Read `<START>` blocks of `{{user}}: …` / `{{char}}: …` lines into example turns."""
    turns: list[ExampleTurn] = []
    pending_user: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("{{user}}:"):
            pending_user = line.removeprefix("{{user}}:").strip()
        elif line.startswith("{{char}}:") and pending_user is not None:
            turns.append(
                ExampleTurn(user=pending_user, atri=line.removeprefix("{{char}}:").strip())
            )
            pending_user = None
    return turns


def load_persona(path: str | Path | None = None) -> Persona:
    """Load a card: our TOML format or a Character Card V2 JSON; default: ATRI's card."""
    card_path = Path(path) if path else PACKAGED_CARD
    try:
        raw = card_path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise PersonaError(
            f"{card_path}: character card cannot be read ({exc.strerror})."
        ) from None
    try:
        if card_path.suffix.lower() == ".json":
            persona = Persona.from_card_v2(json.loads(raw))
        else:
            persona = Persona.model_validate(tomllib.loads(raw))
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PersonaError(f"{card_path}: character card is not valid ({exc}).") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PersonaError(f"{card_path}: character card field {where}: {first['msg']}.") from None
    except PersonaError as exc:
        raise PersonaError(f"{card_path}: {exc}") from None
    if not persona.name.strip():
        raise PersonaError(f"{card_path}: character card has no name.")
    return persona


def configured_persona(settings: Settings) -> Persona:
    """The card `[persona] card` names, or ATRI's packaged card when it is empty."""
    card = settings.persona.card
    return load_persona(settings.path(card) if card else None)
