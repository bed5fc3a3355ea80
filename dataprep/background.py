"""Background facts about the character, turned into question/answer dialogue in their voice.

A fact has a topic, an answer in the character's first person and optionally its own questions;
question templates (`{topic}` filled in) add more ways of asking. TOML:

    [[fact]]
    topic = "名字"
    answer = "我叫亚托莉！是高性能的机器人哦。"
    questions = ["你叫什么名字？"]

Markdown: one `## topic` section per fact; `Q:`/`问：` lines are questions, the rest of
the section is the answer.
"""

from __future__ import annotations

import random
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from atri.text_files import NotUtf8Error, read_hand_written
from dataprep.errors import DataprepError
from dataprep.formats.common import tidy_name
from dataprep.records import Role, Sample

BACKGROUND_SOURCE = "background"
# Possessive blanks: a long line of blanks was tried at every split of them (quadratic).
_QUESTION_LINE = re.compile(r"^\s*+(?:[-*]\s*+)?(?:Q|问|問|质问)\s*[:：]\s*(.+)$", re.I)
_FIRST_PERSON = re.compile(r"我|私|わたし|あたし|\bI\b|\bmy\b|\bme\b", re.I)


@dataclass
class Fact:
    topic: str
    answer: str
    questions: list[str] = field(default_factory=list)


def load_background(path: Path) -> list[Fact]:
    try:
        raw = read_hand_written(path)
    except FileNotFoundError:
        raise DataprepError(f"{path}: background file not found ([dataprep] background).") from None
    except NotUtf8Error as exc:
        raise DataprepError(f"{path}: background file {exc}.") from None
    except OSError:
        raise DataprepError(
            f"{path}: background file cannot be read; expected a UTF-8 .toml or .md file."
        ) from None
    facts = parse_toml(raw, path) if path.suffix.lower() == ".toml" else parse_markdown(raw)
    if not facts:
        raise DataprepError(
            f"{path}: no facts found; expected [[fact]] tables with topic and answer, or"
            " Markdown ## sections."
        )
    return facts


def parse_toml(raw: str, path: Path) -> list[Fact]:
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise DataprepError(f"{path}: background file is not valid TOML ({exc}).") from None
    facts = []
    for i, item in enumerate(data.get("fact", [])):
        if not isinstance(item, dict) or not isinstance(item.get("answer"), str):
            raise DataprepError(f"{path}: fact number {i + 1} needs an answer string.")
        questions = item.get("questions", [])
        if not isinstance(questions, list) or not all(isinstance(q, str) for q in questions):
            raise DataprepError(
                f"{path}: fact number {i + 1}: questions must be a list of strings."
            )
        facts.append(Fact(str(item.get("topic", "")).strip(), item["answer"].strip(), questions))
    return facts


def parse_markdown(raw: str) -> list[Fact]:
    facts: list[Fact] = []
    topic: str | None = None
    body: list[str] = []
    questions: list[str] = []

    def close() -> None:
        answer = " ".join(line.strip() for line in body if line.strip())
        if topic is not None and answer:
            facts.append(Fact(topic, answer, list(questions)))

    for line in raw.splitlines():
        if line.startswith("#"):
            close()
            topic, body, questions = line.lstrip("#").strip(), [], []
            continue
        q = _QUESTION_LINE.match(line)
        if q:
            questions.append(q.group(1).strip())
        else:
            body.append(line)
    close()
    return facts


def to_first_person(answer: str, character_aliases: list[str]) -> str:
    """A fact written about the character ("亚托莉喜欢螃蟹") becomes theirs ("我喜欢螃蟹"):
    each alias as written and as the readers name speakers (`tidy_name`: `　恋　` is 恋)."""
    if _FIRST_PERSON.search(answer):
        return answer
    names = {n for a in character_aliases for n in (a, tidy_name(a))}
    for name in sorted(names, key=lambda n: (-len(n), n)):
        if name.strip():
            answer = re.sub(
                rf"\b{re.escape(name)}\b" if name.isascii() else re.escape(name),
                "I" if name.isascii() else "我",
                answer,
            )
    return answer


def background_samples(
    facts: list[Fact], templates: list[str], character_aliases: list[str]
) -> list[Sample]:
    """Every (question, answer) pair the facts and templates give, one sample each."""
    out: list[Sample] = []
    for fact in facts:
        answer = to_first_person(fact.answer, character_aliases)
        asked = list(fact.questions)
        if fact.topic:
            asked += [t.replace("{topic}", fact.topic) for t in templates]
        for question in dict.fromkeys(q.strip() for q in asked if q.strip()):
            out.append(
                Sample(
                    turns=[(Role.LEAD, question), (Role.CHARACTER, answer)],
                    source=BACKGROUND_SOURCE,
                    scene=fact.topic,
                    from_background=True,
                )
            )
    return out


def mix_count(dialogue: int, ratio: float) -> int:
    """How many background samples make them `ratio` of dialogue + background."""
    if ratio <= 0 or dialogue <= 0:
        return 0
    return round(dialogue * ratio / (1 - ratio))


def choose_background(samples: list[Sample], count: int, seed: int) -> list[Sample]:
    if count >= len(samples):
        return list(samples)
    return random.Random(seed).sample(samples, count)
