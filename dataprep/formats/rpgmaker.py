"""RPG Maker MV / MZ event data: `data/Map001.json`, `CommonEvents.json`, `Troops.json`.

A map holds events (`"events": [null, {"id": 1, "pages": [{"list": [...]}]}]`), each
page a list of event commands (`{"code": 101, "indent": 0, "parameters": [...]}`); the
common events and troops files are lists of such lists. Of the commands only these show
text: 101 opens a message box (face name, face index, background, position, and in MZ a
fifth parameter, the speaker's name), whose lines are the 401 commands after it; 105
opens scrolling text, its lines the 405 after it (narration). A choice (102, its branches
402/403, their end 404) is what the player picks, never said: it ends the exchange.
Every other command is code.

Without MZ's name, plugins put it in the text: a first line `【Name】`, a name box
(Yanfly's `\\n<Name>`, `\\nc<…>`, `\\nr<…>`; `\\nw[Name]`), a first line that is the
name alone, or one that starts with it and a colon (`莉亚：走吧。`, `Ria: Let's go.`). A
colon line names its speaker when the name is an actor's, starts several boxes of the
file, or is short and its words end as a sentence does; a label of the interface
(`小提示：按Z键调查`, `Note: …`, `提示：`, `系统：`) names nobody unless its words are quoted. A box that names no one otherwise is said by the actor whose face it
shows: the face file named as the actor (`愛思特`), or the actor's face in Actors.json
(`faceName` and `faceIndex`: `Actor1` 0); a face sheet no actor (or several) has is
narration's. `\\N[n]` is actor n's name, from Actors.json beside the file (actor 1 is
usually the lead); `\\V[n]` (a game variable), `\\P[n]` (a party member), or `\\N[n]` of
an actor no Actors.json names, make the line unusable (`UNRESOLVED_VARIABLE`); the other
control codes (`\\C[n]`, `\\I[n]`, `\\.`, `\\|`, `\\!`, `\\{` …) are deleted.

Each page (a common event, a troop's page) is a scene, in the order of the events' ids.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from dataprep.errors import NoScript
from dataprep.formats.common import (
    UNRESOLVED_VARIABLE,
    ParseOptions,
    join_pieces,
    tidy_name,
    unreadable_json,
)
from dataprep.records import Utterance

# An event command list, as RPG Maker writes it: what tells its data from other JSON.
_EVENT_LIST = re.compile(r'"list"\s*:\s*\[\s*\{\s*"code"\s*:')
# A map's keys (`"tilesetId": 1`, `"events": [`): they tell a map with no events from
# other JSON. RPG Maker writes the tileset id before the map's (long) tile data.
_MAP_KEY = re.compile(r'"tilesetId"\s*:\s*\d')
_EVENTS_KEY = re.compile(r'"events"\s*:\s*\[')
_MAP_HEAD_CHARS = 4096
# The database files beside the event data: no script (System.json, Actors.json …).
DATABASE_FILES = frozenset(
    f"{name}.json"
    for name in [
        "Actors",
        "Animations",
        "Armors",
        "Classes",
        "Enemies",
        "Items",
        "MapInfos",
        "Skills",
        "States",
        "System",
        "Tilesets",
        "Weapons",
    ]
)
_EVENT_FILES = re.compile(r"Map\d+\.json|CommonEvents\.json|Troops\.json")

_MESSAGE, _TEXT_LINE, _SCROLL, _SCROLL_LINE = 101, 401, 105, 405
_CHOICE_CODES = frozenset({102, 402, 403, 404})

# `\N[n]` / `\n[n]`: actor n's name (RPG Maker reads its codes in either case).
_ACTOR = re.compile(r"\\[Nn]\[(\d+)\]")
# Name boxes of message plugins: Yanfly's `\n<Name>` (`\nc<…>`, `\nr<…>`, …), `\nw[Name]`.
_NAME_BOX = re.compile(r"\\n[a-z]{0,3}<(?P<angle>[^<>\n]*)>|\\nw\[(?P<square>[^\[\]\n]*)\]")
# A first line `【Name】`, and what follows it on that line.
_BRACKETED_NAME = re.compile(r"【([^【】]{1,24})】(.*)")
# A first line `Name：words` / `Name: words`: a short name without sentence punctuation,
# not a number (`10:30`); `???：` too.
_NOT_IN_NAME = r"\s:：。、，,.!?！？…「」『』“”\"()（）\[\]【】"
_COLON_NAME = re.compile(
    rf"(?P<name>[^{_NOT_IN_NAME}0-9０-９][^{_NOT_IN_NAME}]{{0,11}}"
    rf"(?: [^{_NOT_IN_NAME}]{{1,12}}){{0,2}}|[?？]{{2,8}})"
    r"[^\S\n]*(?P<colon>[:：])(?P<gap>[^\S\n]*)(?P<said>.*)"
)
_VARIABLE = re.compile(r"\\[Vv]\[(\d+)\]")
# What parts a name from the label of a value shown after it: `天影 好感度：`, `张兰山-好感度`.
_VALUE_LABEL_GAP = re.compile(r"\s*[\s\-－—–:：(（/|]\s*")
_PARTY = re.compile(r"\\[Pp]\[(\d+)\]")
# Any other control code, with its argument: `\C[2]`, `\I[64]`, `\FS[20]`, `\.`, `\|`, `\!`,
# `\>`, `\<`, `\^`, `\{`, `\}`, `\$`, `\G`. `\\` is a backslash shown.
_CONTROL = re.compile(r"\\(?:[A-Za-z]+(?:\[[^\]\n]*\]|<[^>\n]*>)?|[.|!<>^{}$])")
# A first line that is only a name: short, no sentence punctuation.
_NAME_ONLY = re.compile(
    r"[^\s。、，,.!?！？…「」『』“”\"()（）:：]{1,12}(?: [^\s。、，,.!?！？…]{1,12}){0,2}"
)
_QUOTE_OPENERS = '「『“"（('
# How words that are said end: a sentence's punctuation, or a closing quote.
_SENTENCE_END = tuple('。！？!?.…‥~～」』”"')
# Labels of the interface, never a speaker's name (`小提示：按Z键调查`, `Note: …`): English
# ones as the whole name, CJK ones as its end (`系统提示`, `操作说明`).
_LABEL_WORDS = frozenset({
    "note", "notes", "tip", "tips", "hint", "hints", "system", "info", "information", "notice",
    "warning", "caution", "tutorial", "help", "quest", "objective", "mission", "reward",
    "rewards", "obtained", "received", "controls", "location", "place", "time", "date",
})  # fmt: skip
_LABEL_ENDS = (
    "提示", "说明", "說明", "注意", "系统", "系統", "警告", "教程", "教学", "教學", "任务", "任務",
    "获得", "獲得", "奖励", "獎勵", "操作", "帮助", "幫助", "公告", "通知", "ヒント", "システム",
    "説明", "お知らせ", "入手", "報酬", "クエスト", "チュートリアル", "地点", "地點", "时间", "時間",
    "日期", "場所", "時刻",
)  # fmt: skip
# A name written without spaces longer than this is a label before a sentence
# (`已收取救助物资包裹：…。`), not a speaker, unless it starts several boxes.
_SHORT_NAME = 6


def is_event_data(text: str) -> bool:
    """Whether a .json file's text holds RPG Maker event command lists, or is a map
    without events (a map the player only walks through: no script, but RPG Maker's)."""
    if _EVENT_LIST.search(text) is not None:
        return True
    head = text[:_MAP_HEAD_CHARS]
    return _MAP_KEY.search(head) is not None and _EVENTS_KEY.search(text) is not None


def is_database_file(path: Path) -> bool:
    """A database file (Actors.json, System.json …) beside RPG Maker event data: not a
    script of the folder it is in, however the folder is given."""
    return path.name in DATABASE_FILES and any(
        _EVENT_FILES.fullmatch(p.name) for p in path.parent.glob("*.json")
    )


def parse(text: str, source: str, options: ParseOptions) -> list[Utterance]:
    data = _load(text, source)
    folder = str(Path(source).parent)
    reader = _Reader(source, _actor_names(folder), options, _actor_faces(folder))
    lines = _event_lines(text, data)
    command_lists = list(_command_lists(data))
    reader.count_colon_names(commands for _, commands in command_lists)
    for index, (scene, commands) in enumerate(command_lists):
        reader.read(commands, scene, lines[index] if index < len(lines) else 1)
    return reader.out


def _load(text: str, source: str) -> object:
    try:
        data = json.loads(text.removeprefix("\ufeff"))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise unreadable_json(source, exc, "RPG Maker data") from None
    if not isinstance(data, (dict, list)):
        raise NoScript(f"{source}: is JSON but no RPG Maker event data, so no script.")
    return data


def _events(data: object) -> list[object]:
    """A map's events, or the common events / troops of a list file."""
    if isinstance(data, dict):
        events = data.get("events")
        return events if isinstance(events, list) else []
    return data if isinstance(data, list) else []


def _command_lists(data: object) -> Iterator[tuple[str, list[object]]]:
    """Each command list with its scene key (`event id.page`), events by id."""
    events = [(i, e) for i, e in enumerate(_events(data)) if isinstance(e, dict)]
    events.sort(key=lambda ie: _id(ie[1], ie[0]))
    for index, event in events:
        event_id = _id(event, index)
        if isinstance(event.get("list"), list):
            yield str(event_id), event["list"]
        pages = event.get("pages")
        for number, page in enumerate(pages if isinstance(pages, list) else []):
            if isinstance(page, dict) and isinstance(page.get("list"), list):
                yield f"{event_id}.{number + 1}", page["list"]


def _id(event: dict[str, object], index: int) -> int:
    value = event.get("id")
    return value if isinstance(value, int) else index


def _event_lines(text: str, data: object) -> list[int]:
    """The file line of each command list `_command_lists` yields (the line its event
    starts on: RPG Maker writes one event a line), or [] where that cannot be told."""
    m = re.search(r'(?<!\\)"events"\s*:\s*\[' if isinstance(data, dict) else r"\[", text)
    if m is None:
        return []
    starts = _array_value_lines(text, m.end() - 1)
    events = _events(data)
    if len(starts) != len(events):
        return []
    by_event = {id(e): line for e, line in zip(events, starts, strict=True) if isinstance(e, dict)}
    order = [(i, e) for i, e in enumerate(events) if isinstance(e, dict)]
    order.sort(key=lambda ie: _id(ie[1], ie[0]))
    lines: list[int] = []
    for _, event in order:
        pages = event.get("pages")
        count = isinstance(event.get("list"), list) + sum(
            1
            for p in (pages if isinstance(pages, list) else [])
            if isinstance(p, dict) and isinstance(p.get("list"), list)
        )
        lines += [by_event[id(event)]] * count
    return lines


def _array_value_lines(text: str, at: int) -> list[int]:
    """The line each value of the JSON array opening at `at` starts on."""
    decoder = json.JSONDecoder()
    lines: list[int] = []
    line, counted = 1 + text.count("\n", 0, at), at
    at += 1
    try:
        while True:
            while text[at] in " \t\r\n,":
                at += 1
            if text[at] == "]":
                return lines
            line += text.count("\n", counted, at)
            counted = at
            lines.append(line)
            _, at = decoder.raw_decode(text, at)
    except (ValueError, IndexError):
        return []


@dataclass(frozen=True, slots=True)
class _Actor:
    """An actor of Actors.json: id, name, and face (file and index; "" where none)."""

    id: int
    name: str
    face: str
    face_index: int


@lru_cache(maxsize=8)
def _actors(folder: str) -> tuple[_Actor, ...]:
    """The actors of the folder's Actors.json that have an id and a name (none where
    there is no such file)."""
    try:
        actors = json.loads((Path(folder) / "Actors.json").read_text("utf-8-sig"))
    except (OSError, ValueError):
        return ()
    if not isinstance(actors, list):
        return ()
    return tuple(
        _Actor(a["id"], a["name"], _face(a.get("faceName")), _face_index(a.get("faceIndex")))
        for a in actors
        if isinstance(a, dict) and isinstance(a.get("id"), int) and isinstance(a.get("name"), str)
    )


def _face(value: object) -> str:
    return value if isinstance(value, str) else ""


def _face_index(value: object) -> int:
    return value if isinstance(value, int) else 0


def _actor_names(folder: str) -> dict[int, str]:
    """Actor id → name, from the folder's Actors.json ({} where there is none)."""
    return {actor.id: actor.name for actor in _actors(folder)}


@lru_cache(maxsize=8)
def _actor_faces(folder: str) -> dict[tuple[str, int], str]:
    """(face file, index) → the name of the one actor with that face in Actors.json: a
    face two actors share names neither."""
    faces: dict[tuple[str, int], set[str]] = {}
    for actor in _actors(folder):
        if actor.face and actor.name:
            faces.setdefault((actor.face, actor.face_index), set()).add(actor.name)
    return {face: names.pop() for face, names in faces.items() if len(names) == 1}


@dataclass
class _Reader:
    source: str
    actors: dict[int, str]
    options: ParseOptions
    faces: dict[tuple[str, int], str] = field(default_factory=dict)
    out: list[Utterance] = field(default_factory=list)
    # How many boxes of the file each `Name：` of a first line starts.
    colon_uses: Counter[str] = field(default_factory=Counter)
    scene: str = ""
    marks: int = 0  # scene markers seen in this list
    branch: int = 0

    def count_colon_names(self, command_lists: Iterator[list[object]]) -> None:
        """Count the boxes each `Name：` starts, before any is read: a name that starts
        several is a speaker's, whatever the words after it."""
        for commands in command_lists:
            for at, command in enumerate(commands):
                code, parameters = _code(command)
                if code != _MESSAGE:
                    continue
                end = at + 1
                while end < len(commands) and _code(commands[end])[0] == _TEXT_LINE:
                    end += 1
                name, texts = self.given_name(
                    parameters, [_first_text(c) for c in commands[at + 1 : end]]
                )
                lines = [t for t in texts if t.strip()]
                named = _colon_name(_strip_codes(lines[0])[0].strip()) if lines else None
                if not name.strip() and named is not None:
                    self.colon_uses[named[0]] += 1

    def read(self, commands: list[object], scene: str, line: int) -> None:
        self.scene, self.marks, self.branch = scene, 0, 0
        at = 0
        while at < len(commands):
            command = commands[at]
            code, parameters = _code(command)
            if code in (_MESSAGE, _TEXT_LINE, _SCROLL):
                follows = _SCROLL_LINE if code == _SCROLL else _TEXT_LINE
                first = at + 1 if code != _TEXT_LINE else at
                end = first
                while end < len(commands) and _code(commands[end])[0] == follows:
                    end += 1
                texts = [_first_text(commands[i]) for i in range(first, end)]
                if code == _SCROLL:
                    self.say(None, texts, line)
                else:
                    self.message(parameters if code == _MESSAGE else [], texts, line)
                at = max(end, at + 1)
                continue
            if code in _CHOICE_CODES:
                self.branch += 1  # the player's pick: the exchange ends here
            at += 1

    def message(self, parameters: list[object], texts: list[str], line: int) -> None:
        """A message box: its speaker from MZ's name, a name box, its first line or the
        face it shows."""
        name, texts = self.given_name(parameters, texts)
        if not name.strip():
            name, texts = self.first_line_name(texts, mz=len(parameters) > 4)
        if not name.strip():
            name = self.face_name(parameters)
        self.say(tidy_name(name) or None, texts, line)

    def given_name(self, parameters: list[object], texts: list[str]) -> tuple[str, list[str]]:
        """The name MZ's name field or a name box gives ("" where none does), and the
        box's lines with actors named and without the name box."""
        texts = [self.actors_named(t) for t in texts]
        named = parameters[4] if len(parameters) > 4 and isinstance(parameters[4], str) else ""
        name = _speaker_name(self.actors_named(named))
        boxed: list[str] = []

        def box(m: re.Match[str]) -> str:
            boxed.append(m["angle"] if m["angle"] is not None else m["square"])
            return ""

        texts = [_NAME_BOX.sub(box, t) for t in texts]
        if not name.strip() and boxed:
            name = _speaker_name(self.actors_named(boxed[0]))
        return name, texts

    def face_name(self, parameters: list[object]) -> str:
        """The actor whose face the box shows: the face file named as the actor, or the
        one actor with that face (file and index) in Actors.json; "" for any other face."""
        face = _face(parameters[0]) if parameters else ""
        index = _face_index(parameters[1]) if len(parameters) > 1 else 0
        if not face:
            return ""
        if face in self.actors.values():
            return face
        return self.faces.get((face, index), "")

    def first_line_name(self, texts: list[str], mz: bool = False) -> tuple[str, list[str]]:
        """A name the box's first line gives (`【Name】…`, or the name alone above the
        words), and the lines without it; ("", texts) where it gives none."""
        lines = [t for t in texts if t.strip()]
        if not lines:
            return "", texts
        first = _strip_codes(lines[0])[0].strip()
        m = _BRACKETED_NAME.fullmatch(first)
        if m is not None:
            return m[1], [m[2], *lines[1:]]
        named = _colon_name(first)
        if named is not None and (named[1] or len(lines) > 1):
            said = join_pieces(_strip_codes(t)[0] for t in [named[1], *lines[1:]])
            if self.colon_names(named[0], said, mz):
                return named[0], [named[1], *lines[1:]]
        if len(lines) > 1 and _NAME_ONLY.fullmatch(first):
            below = _strip_codes(lines[1])[0].lstrip()
            if below.startswith(tuple(_QUOTE_OPENERS)) or first in self.actors.values():
                return first, lines[1:]
        return "", texts

    def colon_names(self, name: str, said: str, mz: bool) -> bool:
        """Whether `Name：words` (`said`: the box's words after the colon) names a
        speaker. An actor's name does; a label of the interface (`小提示：`, `Note:`) only
        before quoted words. MZ has a name field, so there a colon line is a label
        (`已收取包裹：木板`, `营业时间：8点`) unless its words are quoted; MV has none, and
        its games write the speaker so: a name that starts several boxes, or a short one
        whose words end as a sentence (`莉亚：走吧。`, not `已收取包裹：木板`)."""
        if name in self.actors.values():
            return True
        if mz or _is_label(name):
            return _is_speech(said)
        short = len(name) <= _SHORT_NAME or " " in name or name.isascii()
        return self.colon_uses[name] > 1 or (short and said.endswith(_SENTENCE_END))

    def say(self, speaker: str | None, texts: list[str], line: int) -> None:
        said, unresolved = _strip_codes(join_pieces(self.actors_named(t) for t in texts))
        if not said:
            return
        marker = self.options.scene_marker
        if speaker is None and marker is not None and marker.match(said):
            self.marks += 1
            return
        scene = f"{self.scene}#{self.marks}" if self.marks else self.scene
        dropped = UNRESOLVED_VARIABLE if unresolved else None
        self.out.append(
            Utterance(
                speaker, said, self.source, line, scene, dropped, self.branch, shown=not unresolved
            )
        )

    def actors_named(self, text: str) -> str:
        """`\\N[n]` as actor n's name; `[actor_n]` for an actor no Actors.json names."""
        return _ACTOR.sub(lambda m: self.actors.get(int(m[1])) or f"[actor_{m[1]}]", text)


def _code(command: object) -> tuple[object, list[object]]:
    if not isinstance(command, dict):
        return None, []
    parameters = command.get("parameters")
    return command.get("code"), parameters if isinstance(parameters, list) else []


def _first_text(command: object) -> str:
    parameters = _code(command)[1]
    return parameters[0] if parameters and isinstance(parameters[0], str) else ""


def _is_speech(words: str) -> bool:
    """Words in speech quotes: `「…`, or `“…”` whole (`“最后工作”包裹…` quotes a title)."""
    words = words.strip()
    return words.startswith(("「", "『")) or (
        len(words) > 1 and words[0] in '“"' and words[-1] in '”"'
    )


def _is_label(name: str) -> bool:
    """Whether a name is a label of the interface (`提示`, `系统提示`, `Note`)."""
    return name.lower() in _LABEL_WORDS or name.endswith(_LABEL_ENDS)


def _colon_name(line: str) -> tuple[str, str] | None:
    """(name, words) of a line `Name：words`; None where it is no such line. An ASCII
    name's colon is followed by a blank or ends the line (`http://…`, `x:y` are words)."""
    m = _COLON_NAME.fullmatch(line)
    if m is None:
        return None
    if m["name"].isascii() and m["colon"] == ":" and m["said"] and not m["gap"]:
        return None
    return m["name"], m["said"]


def _speaker_name(name: str) -> str:
    """A speaker's name without its codes. A name that shows a game value after it
    (`天影 好感度：\\V[379]`, `Rin - Love \\V[5]`: a stat beside the name) is the name
    before the value's label."""
    value = _VARIABLE.search(name)
    if value is not None:
        before = _strip_codes(name[: value.start()])[0]
        if before:
            return _VALUE_LABEL_GAP.split(before, maxsplit=1)[0]
    return _strip_codes(name)[0]


def _strip_codes(text: str) -> tuple[str, bool]:
    """Text with its control codes deleted, game variables as `[variable_n]` (`[party_n]`
    for a party member), and whether it holds such a value or an unnamed actor."""
    text = _VARIABLE.sub(r"[variable_\1]", text)
    text = _PARTY.sub(r"[party_\1]", text)
    unresolved = "[variable_" in text or "[party_" in text or "[actor_" in text
    text = _CONTROL.sub("", text.replace("\\\\", "\0")).replace("\0", "\\")
    return text.strip(), unresolved
