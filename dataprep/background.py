"""Background facts about the character, turned into question/answer dialogue in their voice.

A fact has a topic, an answer in the character's first person and optionally its own questions;
question templates (`{topic}` filled in) add more ways of asking. The file's name says how it
is read: `.toml` is TOML, `.md`/`.markdown` Markdown (another name is read as TOML, with a
note, only when it holds `[[fact]]` tables). TOML:

    [[fact]]
    topic = "名字"
    answer = "我叫亚托莉！是高性能的机器人哦。"
    questions = ["你叫什么名字？"]

Markdown: each `## topic` section is a fact, read as `background_markdown.py` says (a
section of Q:/A: pairs is a fact per pair).

A fact with an empty answer, or that no question can ask, is refused; an answer longer than
`[dataprep] max_reply_chars` or with a table is left out (as a dialogue reply is), a
(question, answer) pair two facts share is kept once, and each of these says so in a note;
so do answers kept as written (narration, a transcript) and the lead's name made {{user}}.
"""

from __future__ import annotations

import random
import re
import tomllib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from atri.config import DEFAULT_BACKGROUND_QUESTIONS
from atri.text_files import NotUtf8Error, read_hand_written
from dataprep.background_markdown import SPEAKER_NAME, TABLE_RULE, Section, read_markdown
from dataprep.clean import FilterRules, iter_filter
from dataprep.errors import DataprepError
from dataprep.formats.common import tidy_name
from dataprep.languages import LANGUAGE_CODES, sample_language
from dataprep.records import Role, Sample

BACKGROUND_SOURCE = "background"
_FIRST_PERSON = re.compile(r"我|私|わたし|あたし|\bI\b|\bmy\b|\bme\b", re.I)
_FACT_KEYS = ("topic", "answer", "questions")
# A file of another name that holds these is TOML (a lore.txt).
_FACT_TABLE = re.compile(r"^\s*\[\[\s*fact\s*\]\]", re.M)
_MARKDOWN_SUFFIXES = (".md", ".markdown")
# A fact's label in messages shows this much of its topic (`Fact.label`).
_LABEL_CHARS = 40
# The text before her name that tells whether it is a name given (`_is_a_name_given`), and
# after it (アトリっていいます).
_NAME_GIVEN_BEFORE = 40
_NAME_GIVEN_AFTER = 8

# `[dataprep] background_questions`' default, per language a fact is written in: a Chinese
# fact on an English card was asked "Tell me about your 喜欢的食物.".
QUESTIONS_BY_LANGUAGE = {
    "zh": list(DEFAULT_BACKGROUND_QUESTIONS),
    "en": ["Tell me about your {topic}.", "What can you tell me about your {topic}?"],
    "ja": ["{topic}について教えて。", "{topic}のこと、話してくれる？"],
}
# A topic that names its own owner (喜欢的食物, 夏生的事; "the town", "Natsuki's cat") is
# asked without a template's 你的 / "your ": "你的喜欢的食物" and "your the town" do not read.
_OWNER_IN_TOPIC = re.compile(r"(?:the|a|an|my|your|her|his|our|their)\s|.*?(?:的|['’]s\s)", re.I)
# Her own words in a topic ("my battery", 我的电池), which the user asks as "your battery".
_HER_OWN = re.compile(r"^(?:my\b|我的|私の)", re.I)
# "About" the topic says itself (夏生について, 关于夏生, "About Natsuki").
_ABOUT = re.compile(r"^(?:关于|about[ \t]+)|(?:について|のこと)$", re.I)
# A topic that is her ("About me", 关于我, 私について): asked about "yourself", not about the
# user's "me".
_YOURSELF = {
    **dict.fromkeys(("me", "myself"), "yourself"),
    **dict.fromkeys(("我", "我自己", "自己"), "你自己"),
    **dict.fromkeys(("私", "わたし", "あたし", "自分"), "あなた自身"),
}
# Words that start an English topic written as a title ("Favorite food") and read in
# lower case in a question ("about your favorite food"); a name is none of them.
# fmt: off
_COMMON_WORDS = frozenset({
    "the", "a", "an", "my", "your", "her", "his", "its", "our", "their", "this", "that", "some",
    "favorite", "favourite", "favorites", "favourites", "birthday", "likes", "dislikes",
    "hobbies", "hobby", "family", "friends", "friend", "food", "personality", "appearance",
    "body", "age", "height", "weight", "name", "job", "work", "home", "past", "future", "dream",
    "dreams", "rules", "habits", "school", "town", "city", "house", "room", "clothes", "voice",
    "skills", "abilities", "weaknesses", "strengths", "memories", "hometown", "daily", "life",
    "relationships", "backstory", "origin", "goals", "fears", "secrets", "music", "pets",
    "owner", "master", "first", "last",
})
# fmt: on
_KANA = re.compile(r"[\u3041-\u309f\u30a0-\u30ff\uff66-\uff9d]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")

# Where a Chinese clause starts: her name after these (or at the start) is its subject, or
# before 的 its owner, and 我 takes its place whatever follows.
_CLAUSE_ENDS = "。！？!?；;，,、：:\n…—「『“\"'（("
_BLANKS_AND_QUOTES = " \t\u3000「『“\"'"
# Her name after these is a name being given ("全名 ATRI"), kept as written.
_NAMING_WORDS = ("全名", "本名", "原名", "名叫", "叫做", "名为", "又名", "昵称", "简称", "名字")
# Her name after these is hers, given by her (我叫亚托莉, "I'm Atri"), or before these
# (アトリです！); not before 的/の ("我是亚托莉的朋友" is someone else's).
_SELF_INTRODUCED = re.compile(
    r"(?:我叫|叫我|我是|我就是|(?:私|わたし|あたし|名前)は|\bI['’]m|\bI am|\bmy name(?: is|['’]s)"
    r"|\bcall me|\bit['’]s me,?)$",
    re.I,
)
_JAPANESE_NAMING = ("です", "だよ", "と申します", "っていいます", "って言います", "でーす")
# A speaker's label: a name (up to three words) and 说/"said", or a colon, before a quote
# (说 first: `亚托莉说：“` is 亚托莉's, as `亚托莉：“` is).
_SPEAKER_LABEL = re.compile(
    rf"({SPEAKER_NAME})[ \t]*(?:说道|说|问道|问|答道|喊道|道|said|says|asked|asks|replied)"
    rf"[ \t]*[:：,，]?[ \t]*[“\"「『]"
    rf"|(?:^|(?<=[。！？!?\n]))[ \t]*({SPEAKER_NAME})[ \t]*[:：][ \t]*[“\"「『]"
)
_QUOTES = frozenset('“"「『')
_QUOTE_MARK = re.compile('[“"「『]')
# How far before a quote its label is looked for: a label is a few words.
_SPEAKER_LABEL_CHARS = 100
# Another person in the answer ("她说…"): who it is cannot be told, so nothing is rewritten.
_THIRD_PERSON = re.compile(r"(?<!其)[她他]")


@dataclass
class Fact:
    topic: str
    answer: str
    questions: list[str] = field(default_factory=list)
    number: int = 0  # its place in the file, for messages
    heading: str = ""  # a Markdown Q&A pair's section (it has no topic)

    @property
    def label(self) -> str:
        """`fact 3 (名字)`, `fact 4 (Q&A: 你喜欢吃什么？)`: a long topic shortened (a whole
        file on one heading line was a 3.6 MB message)."""
        name = self.topic or self.heading
        if self.heading and not self.topic and self.questions:
            name = f"{self.heading}: {self.questions[0]}"
        if len(name) > _LABEL_CHARS:
            name = name[:_LABEL_CHARS] + "…"
        return f"fact {self.number} ({name})" if name else f"fact {self.number}"


@dataclass
class Lore:
    """A background file's facts, and notes on what was read differently from its name or ignored."""

    path: Path
    facts: list[Fact]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Asking:
    """How a run turns facts into samples: the dialogue's own settings and conversions."""

    templates: list[str]
    character_aliases: list[str]
    character: str = "the character"
    card_language: str = ""
    to_simplified: Callable[[str], str] | None = None
    replace: Callable[[str], str] | None = None  # the lead's names → {{user}}, in both turns
    max_reply_chars: int = FilterRules.max_reply_chars


@dataclass
class Pool:
    """Each fact's samples (its label, and its questions asked with its answer), in file order."""

    facts: list[tuple[str, list[Sample]]]
    notes: list[str]

    @property
    def samples(self) -> list[Sample]:
        return [sample for _, asked in self.facts for sample in asked]


def read_lore(path: Path) -> Lore:
    raw = _read(path)
    notes: list[str] = []
    markdown = path.suffix.lower() in _MARKDOWN_SUFFIXES
    if markdown:
        read = read_markdown(raw)
        facts = _numbered(read.sections)
        if not facts:
            raise DataprepError(f"{path}: no facts found; {_headings_found(read.headings)}")
    elif path.suffix.lower() == ".toml" or _is_toml_named_otherwise(raw, path, notes):
        facts = parse_toml(raw, path, notes)
    else:
        named = f"a {path.suffix} file" if path.suffix else "a file without an extension"
        raise DataprepError(
            f"{path}: background file is {named}; expected a .toml ([[fact]] tables) or .md"
            " (## sections) file."
        )
    if not facts:
        raise DataprepError(
            f"{path}: no facts found; expected [[fact]] tables with topic and answer, or"
            " Markdown ## sections."
        )
    _refuse_empty_answers(facts, path, markdown)
    return Lore(path, facts, notes)


def _headings_found(headings: Counter[int]) -> str:
    """Why a Markdown file gave no fact: "found 2 # headings; a fact is a ## section…"."""
    found = [
        f"{n} {'#' * level} heading{'s' if n != 1 else ''}" for level, n in sorted(headings.items())
    ]
    return (
        f"found {' and '.join(found) if found else 'no heading'}; a fact is a ## section"
        " (## topic, then its answer on the lines below)."
    )


def _read(path: Path) -> str:
    try:
        return read_hand_written(path)
    except FileNotFoundError:
        raise DataprepError(f"{path}: background file not found ([dataprep] background).") from None
    except NotUtf8Error as exc:
        raise DataprepError(f"{path}: background file {exc}.") from None
    except OSError:
        raise DataprepError(
            f"{path}: background file cannot be read; expected a UTF-8 .toml or .md file."
        ) from None


def _is_toml_named_otherwise(raw: str, path: Path, notes: list[str]) -> bool:
    if _FACT_TABLE.search(raw) is None:
        return False
    notes.append(
        f"{path}: read as TOML for its [[fact]] tables; name it .toml to say so (a name"
        " other than .toml or .md is not read)."
    )
    return True


def _refuse_empty_answers(facts: list[Fact], path: Path, markdown: bool) -> None:
    for fact in facts:
        if not fact.answer:
            on_heading = (
                " (its text is all on the ## heading line: the answer goes on the lines below it)"
                if markdown and len(fact.topic) > _LABEL_CHARS  # more than a label shows
                else ""
            )
            raise DataprepError(
                f"{path}: {fact.label} has an empty answer{on_heading}; write what the"
                " character would say, or remove the fact."
            )


def parse_toml(raw: str, path: Path, notes: list[str] | None = None) -> list[Fact]:
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise DataprepError(f"{path}: background file is not valid TOML ({exc}).") from None
    if "fact" not in data and data:
        raise DataprepError(
            f"{path}: no [[fact]] tables found (the file has {', '.join(data)}); each fact is a"
            " [[fact]] table with topic and answer."
        )
    facts = [_toml_fact(item, i + 1, path) for i, item in enumerate(data.get("fact", []))]
    unknown = _unknown_keys(data.get("fact", []), facts)
    if unknown and notes is not None:
        notes.append(
            f"{path}: ignored keys a background fact does not have: {'; '.join(unknown)}; a"
            " fact takes topic, answer and questions."
        )
    return facts


def _toml_fact(item: object, number: int, path: Path) -> Fact:
    if not isinstance(item, dict) or not isinstance(item.get("answer"), str):
        raise DataprepError(f"{path}: fact number {number} needs an answer string.")
    questions = item.get("questions", [])
    if not isinstance(questions, list) or not all(isinstance(q, str) for q in questions):
        raise DataprepError(f"{path}: fact number {number}: questions must be a list of strings.")
    return Fact(str(item.get("topic", "")).strip(), item["answer"].strip(), questions, number)


def _unknown_keys(items: list[dict[str, object]], facts: list[Fact]) -> list[str]:
    """ "question in fact 1 (名字)" for each fact with keys a fact does not have."""
    said = []
    for item, fact in zip(items, facts, strict=True):
        if extra := [key for key in item if key not in _FACT_KEYS]:
            said.append(f"{', '.join(extra)} in {fact.label}")
    return said


def parse_markdown(raw: str) -> list[Fact]:
    return _numbered(read_markdown(raw).sections)


def _numbered(sections: list[Section]) -> list[Fact]:
    return [
        Fact(s.topic, s.answer, s.questions, number, s.heading)
        for number, s in enumerate(sections, 1)
    ]


def first_person(answer: str, character_aliases: list[str]) -> str | None:
    """A Chinese fact written about the character ("亚托莉喜欢螃蟹") as theirs ("我喜欢螃蟹"):
    each alias as written and as the readers name speakers (`tidy_name`: `　恋　` is 恋).
    None when it names her and cannot be rewritten without a grammar mistake: English
    ("I loves"), Japanese (kana: 私 or あたし is hers to choose), another person in it
    (她说…), her name where 我 would not read (夏生和亚托莉), her name beside someone's 我 or
    "I" (a fan's "我觉得亚托莉最可爱", "Atri loves crabs and I love her"), or a speaker's
    label (`亚托莉说：“…”`, `夏生：“…”`). Her name given (我叫亚托莉, アトリです) is hers."""
    if speakers_labelled(answer):
        return None
    # Windows around each mention, not the whole answer twice per mention (quadratic).
    mentions = [
        found
        for found in _alias_pattern(character_aliases).finditer(answer)
        if not _is_a_name_given(
            answer[max(0, found.start() - _NAME_GIVEN_BEFORE) : found.start()],
            answer[found.end() : found.end() + _NAME_GIVEN_AFTER],
        )
    ]
    if not mentions:
        return answer
    if _FIRST_PERSON.search(answer):
        return None
    if _KANA.search(answer) or not _HAN.search(answer) or _THIRD_PERSON.search(answer):
        return None
    out, end = [], 0
    for found in mentions:
        # What comes before her name: the text since the last mention, or that mention.
        before = answer[end : found.start()].rstrip(_BLANKS_AND_QUOTES) or answer[:end]
        if before and before[-1] not in _CLAUSE_ENDS:
            return None
        out += [answer[end : found.start()], "我"]
        end = found.end()
    return "".join([*out, answer[end:]])


def speakers_labelled(answer: str) -> set[str]:
    """The names an answer labels as speakers (`亚托莉说：“…”`, `夏生：“…”`, `Natsuki: "…"`):
    narration or a transcript, not her own words."""
    names = set()
    start = 0
    # Only the text just before each quote mark, once: the names' runs tried at every
    # place of a long answer took seconds.
    for quote in _QUOTE_MARK.finditer(answer):
        at = quote.start()
        window = max(start, at - _SPEAKER_LABEL_CHARS)
        found = _SPEAKER_LABEL.search(answer, window, at + 1)
        if found is not None and found.end() == at + 1:
            names.add(found.group(1) or found.group(2))
        start = at + 1
    return names


def _is_a_name_given(before: str, after: str) -> bool:
    """Whether her name, between `before` and `after`, is given: after 全名, 名叫, 名字是,
    我叫, "I'm", "my name is", 私は; or before です (アトリです！)."""
    before = before[-_NAME_GIVEN_BEFORE:].rstrip(_BLANKS_AND_QUOTES + ":：")
    if _SELF_INTRODUCED.search(before) and not after.startswith(("的", "の", "'s", "’s")):
        return True
    if after.startswith(_JAPANESE_NAMING) and (not before or before[-1] in _CLAUSE_ENDS):
        return True
    return before.endswith(_NAMING_WORDS) or (
        before[:-1].endswith(_NAMING_WORDS) and before[-1:] in "是为叫"
    )


def _alias_pattern(character_aliases: list[str]) -> re.Pattern[str]:
    names = {n for a in character_aliases for n in (a, tidy_name(a)) if n.strip()}
    longest_first = sorted(names, key=lambda n: (-len(n), n))
    return re.compile(
        "|".join(
            rf"(?<![A-Za-z0-9]){re.escape(n)}(?![A-Za-z0-9])" if n.isascii() else re.escape(n)
            for n in longest_first
        )
        or r"(?!)"
    )


def templates_for(fact: Fact, configured: list[str], card_language: str = "") -> list[str]:
    """The question templates for a fact: a list written in config.toml as it is; left at
    the (Chinese) default, the default in the fact's own language."""
    if list(configured) != list(DEFAULT_BACKGROUND_QUESTIONS):
        return configured
    return QUESTIONS_BY_LANGUAGE[fact_language(fact, card_language)]


def fact_language(fact: Fact, card_language: str = "") -> str:
    """The language of a fact's default questions, "zh", "en" or "ja": told by its words, else
    its letters (a fact is short), else the card's language."""
    text = "\n".join([fact.topic, fact.answer, *fact.questions])
    told = LANGUAGE_CODES.get(sample_language(text), "")
    for code in (told, _letters_language(text), card_language or "zh"):
        if code in QUESTIONS_BY_LANGUAGE:
            return code
    return "en"


def _letters_language(text: str) -> str:
    if _KANA.search(text):
        return "ja"
    if _HAN.search(text):
        return "zh"
    return "en" if _LATIN.search(text) else ""


def background_pool(lore: Lore, asking: Asking) -> Pool:
    """The samples a run may choose from, and notes on the facts left out or as written:
    a fact no question asks is refused (DataprepError naming it)."""
    facts: list[tuple[str, list[Sample]]] = []
    seen: set[tuple[str, str]] = set()
    as_written, transcripts, tables, too_long = [], [], [], []
    repeating, renamed = Counter[str](), _Renamed()
    for written in lore.facts:
        fact = _converted(written, asking.to_simplified)
        if TABLE_RULE.search(fact.answer):
            tables.append(fact.label)  # a table is no reply; its rows are not what she says
            continue
        answer = first_person(fact.answer, asking.character_aliases)
        if len(speakers_labelled(fact.answer)) > 1:
            transcripts.append(fact.label)
        elif answer is None:
            as_written.append(fact.label)
        asked = _fact_samples(fact, answer or fact.answer, asking, renamed)
        if not asked:
            raise DataprepError(
                f"{lore.path}: {fact.label} has neither a topic nor questions, so nothing asks"
                " it; give it a topic or questions."
            )
        kept = _within_length(asked, asking.max_reply_chars)
        if not kept:
            too_long.append(fact.label)
        own: list[Sample] = []
        for sample in kept:
            pair = (sample.prompt, sample.reply)
            if pair in seen:
                repeating[fact.label] += 1
                continue
            seen.add(pair)
            own.append(sample)
        if own:
            facts.append((fact.label, own))
    notes = [
        *lore.notes,
        *_facts_note(as_written, _AS_WRITTEN.replace("{character}", asking.character)),
        *_facts_note(transcripts, _TRANSCRIPTS.replace("{character}", asking.character)),
        *_facts_note(tables, _TABLES),
        *_facts_note(too_long, _TOO_LONG.replace("{max}", str(asking.max_reply_chars))),
        *_repeats_note(repeating),
        *renamed.note(),
    ]
    return Pool(facts, notes)


def _converted(fact: Fact, to_simplified: Callable[[str], str] | None) -> Fact:
    """The fact in Simplified Chinese where the dialogue is converted (Japanese, with
    kana, is left as the dialogue's is)."""
    if to_simplified is None:
        return fact

    def convert(text: str) -> str:
        return text if _KANA.search(text) else to_simplified(text)

    return Fact(
        convert(fact.topic),
        convert(fact.answer),
        [convert(q) for q in fact.questions],
        fact.number,
        convert(fact.heading),
    )


@dataclass
class _Renamed:
    """Where the lead's names became {{user}}: in how many answers and questions, of which
    facts."""

    answers: int = 0
    questions: int = 0
    labels: list[str] = field(default_factory=list)

    def replaced(
        self, label: str, answer: str, questions: list[str], replace: Callable[[str], str] | None
    ) -> tuple[str, list[str]]:
        """`answer` and `questions` with the lead's names replaced, counted."""
        if replace is None:
            return answer, questions
        reply, asked = replace(answer), [replace(q) for q in questions]
        answers = int(reply != answer)
        renamed = sum(was != now for was, now in zip(questions, asked, strict=True))
        if answers or renamed:
            self.answers += answers
            self.questions += renamed
            self.labels.append(label)
        return reply, asked

    def note(self) -> list[str]:
        if not self.labels:
            return []
        said = [
            f"{n} background {word}{'s' if n != 1 else ''}"
            for n, word in ((self.answers, "answer"), (self.questions, "question"))
            if n
        ]
        named = ", ".join(self.labels[:5]) + (
            f" and {len(self.labels) - 5} more" if len(self.labels) > 5 else ""
        )
        return [
            f"The lead's name became {{{{user}}}} in {' and '.join(said)} ({named}), as in"
            " her dialogue lines: {{user}} is whoever chats with her, so these facts are taught"
            " as the user's; [dataprep] user_placeholder = false keeps his name."
        ]


def _fact_samples(fact: Fact, answer: str, asking: Asking, renamed: _Renamed) -> list[Sample]:
    """Each question of the fact asked with its answer; the lead's names {{user}} in both
    (a question "Tell me about Natsuki." answered "{{user}} is my master." spoke of two)."""
    reply, asked = renamed.replaced(
        fact.label, answer, _questions(fact, answer, asking), asking.replace
    )
    return [
        Sample(
            turns=[(Role.LEAD, question), (Role.CHARACTER, reply)],
            source=BACKGROUND_SOURCE,
            scene=fact.topic,
            from_background=True,
        )
        for question in dict.fromkeys(q.strip() for q in asked if q.strip())
    ]


def _questions(fact: Fact, answer: str, asking: Asking) -> list[str]:
    """Its own questions, and the templates' about its topic; a topic that is a question
    ("Who is Natsuki?") is asked as it is."""
    if not fact.topic:
        return list(fact.questions)
    if fact.topic.endswith(("?", "？")):
        return [*fact.questions, fact.topic]
    topic = _bare_topic(fact.topic)
    if (yourself := _YOURSELF.get(topic.lower())) is not None:
        templates = templates_for(fact, asking.templates, asking.card_language)
        return [*fact.questions, *(_asked_about(yourself, t, answer, False) for t in templates)]
    # Not "your" where the topic is the lead (夏生 is no 你的夏生) or not hers.
    hers = _is_hers(topic, answer) and not _names_the_lead(topic, asking.replace)
    templates = templates_for(fact, asking.templates, asking.card_language)
    return [*fact.questions, *(_asked_about(topic, t, answer, hers) for t in templates)]


def _bare_topic(topic: str) -> str:
    """A topic without its own "about" (夏生について, 关于夏生), which a template says."""
    return _ABOUT.sub("", topic) or topic


def _names_the_lead(topic: str, replace: Callable[[str], str] | None) -> bool:
    return replace is not None and replace(topic) != topic


def _asked_about(topic: str, template: str, answer: str, hers: bool) -> str:
    """`template` with `topic` filled in: without its 你的 / "your " where the topic names its
    own owner or is not hers, her "my battery" asked as "your battery", and a common
    word that starts a topic in lower case inside the question ("about your birthday")."""
    if _OWNER_IN_TOPIC.match(topic) is not None or not hers:
        template = template.replace("你的{topic}", "{topic}").replace("your {topic}", "{topic}")
    topic = _HER_OWN.sub(_yours, topic)
    if not template.startswith("{topic}"):
        topic = _in_sentence(topic, answer)
    return template.replace("{topic}", topic)


def _in_sentence(topic: str, answer: str) -> str:
    """An English topic written as a title ("Birthday", "The sunken town") as it reads in a
    sentence: its first word in lower case where that is a common word (in `_COMMON_WORDS`,
    or so written in its answer), and all its words ("Favorite Food") where each is; a name
    ("Natsuki", "Eden") is kept."""
    words = list(_TITLE_WORD.finditer(topic))
    if not words or words[0].start() != 0 or not _reads_lower(words[0].group(0), answer):
        return topic
    if all(_reads_lower(w.group(0), answer) for w in words[1:]):
        return _TITLE_WORD.sub(lambda w: w.group(0).lower(), topic)
    return topic[: words[0].end()].lower() + topic[words[0].end() :]


_TITLE_WORD = re.compile(r"(?<![A-Za-z'’])[A-Z][a-z]*+(?![A-Za-z'’])")


def _reads_lower(word: str, answer: str) -> bool:
    word = word.lower()
    return (
        word in _COMMON_WORDS or re.search(rf"(?<![A-Za-z]){word}(?![A-Za-z])", answer) is not None
    )


def _is_hers(topic: str, answer: str) -> bool:
    """Whether a topic is hers ("birthday": "The day Natsuki found me…") rather than of the
    world ("Eden": "Eden is the city…", "我听说，伊甸是…") or someone's ("夏生先生是我的主人"):
    her answer is in the first person, does not start with the topic and does not say what
    it is, unless as hers ("My ship is…", "我的电池是…")."""
    if _FIRST_PERSON.search(answer) is None or answer.lstrip(_BLANKS_AND_QUOTES).lower().startswith(
        topic.lower()
    ):
        return False
    said = re.compile(
        rf"(?<!my )(?<!我的)(?<!私の){re.escape(topic)}(?:\s+(?:is|are|was|were)\b|是|は|って)",
        re.I,
    )
    return said.search(answer) is None


def _yours(mine: re.Match[str]) -> str:
    word = mine.group(0)
    return {"我的": "你的", "私の": "あなたの"}.get(word) or ("Your" if word == "My" else "your")


def _within_length(samples: list[Sample], max_reply_chars: int) -> list[Sample]:
    """The samples the dialogue's length filter keeps (its other rules are for script lines)."""
    rules = FilterRules(
        min_reply_chars=0,
        max_reply_chars=max_reply_chars,
        drop_interjections=False,
        short_reply_max_chars=0,
        drop_near_duplicates=False,
    )
    return list(iter_filter(samples, rules, Counter(), Counter()))


# The notes naming the facts ({facts}) an answer of which was kept as written or left out.
_AS_WRITTEN = (
    "Background answers that speak of {character} instead of as {character} were kept as"
    " written: {facts}; write each answer as {character} would say it."
)
_TRANSCRIPTS = (
    "Background answers written as a dialogue, each line labelled with its speaker, were"
    " kept as written: {facts}; {character} would learn to write the user's lines and the"
    " labels too: keep only her words, without a label."
)
_TABLES = (
    "Background facts left out for a table in the answer, which is no reply anyone says:"
    " {facts}; write each row as a sentence of hers."
)
_TOO_LONG = (
    "Background facts left out for an answer over [dataprep] max_reply_chars ({max}), as a"
    " longer reply in the dialogue is: {facts}; split each into shorter facts."
)


def _facts_note(labels: list[str], sentence: str) -> list[str]:
    """`sentence` naming the facts of `labels`, or no note where there are none. (Filled
    with `replace`: a character's name may hold braces.)"""
    return [sentence.replace("{facts}", ", ".join(labels))] if labels else []


def _repeats_note(repeating: Counter[str]) -> list[str]:
    """`repeating`: how many of each fact's question/answer pairs an earlier fact gave."""
    if not repeating:
        return []
    count = sum(repeating.values())
    return [
        f"{count} background question/answer pair{'s' if count != 1 else ''} another fact"
        f" already gives {'were' if count != 1 else 'was'} kept once: those of"
        f" {', '.join(repeating)}."
    ]


def mix_count(dialogue: int, ratio: float) -> int:
    """How many background samples make them `ratio` of dialogue + background."""
    if ratio <= 0 or dialogue <= 0:
        return 0
    return round(dialogue * ratio / (1 - ratio))


def shortfall_note(asked: int, given: int, dialogue: int, ratio: float) -> list[str]:
    """Where the facts give fewer than the `asked` samples `ratio` needs beside `dialogue`
    train samples: all `given` are used, and their share is smaller than asked."""
    if given >= asked:
        return []
    share = given / (dialogue + given)
    return [
        f"[dataprep] background_ratio {ratio:g} asked for {asked} background samples, but the"
        f" facts give {given} ({share:.0%} of the train samples); add facts or questions for"
        " more."
    ]


def choose_background(pool: Pool, count: int, seed: int) -> list[Sample]:
    """`count` samples, fact by fact: each fact's first question before any fact's second
    (a random pick of pairs left most facts out), each fact's questions in a seeded order."""
    rng = random.Random(seed)
    queues = [rng.sample(asked, len(asked)) for _, asked in pool.facts]
    chosen: list[Sample] = []
    for turn in range(max(map(len, queues), default=0)):
        chosen += [asked[turn] for asked in queues if turn < len(asked)]
    return chosen[:count]


def left_out_note(pool: Pool, chosen: list[Sample], ratio: float) -> list[str]:
    """Where `ratio` gives fewer samples than there are facts: which facts none teaches."""
    taught = {id(sample) for sample in chosen}
    left = [label for label, asked in pool.facts if not any(id(s) in taught for s in asked)]
    if not left:
        return []
    named = ", ".join(left[:5]) + (f" and {len(left) - 5} more" if len(left) > 5 else "")
    given = f"{len(chosen)} background sample{'s' if len(chosen) != 1 else ''}"
    return [
        f"{len(left)} of {len(pool.facts)} background facts are in no train sample, as"
        f" [dataprep] background_ratio {ratio:g} gives only {given}: {named}; raise"
        " background_ratio to teach every fact."
    ]
