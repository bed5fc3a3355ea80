"""WebGAL scenes (`game/scene/*.txt`), the open-source web visual-novel engine's script.

One statement a line, `command:content -arg -key=value;`, read as WebGAL's own parser
(webgal-parser's scriptParser) reads it:

- Everything after the first `;` not written `\\;` is a comment; a line that is only a
  comment (`;分支1`) is skipped.
- Before the first `:` is the command: one of WebGAL's (`changeBg`, `changeFigure`,
  `bgm`, `choose`, `setVar`, `label`, `jumpLabel` …) is never said; anything else is the
  speaker of the line (`雪乃:请用茶;`), an empty one narration (`:旁白;`). A line with no
  `:` keeps the speaker of the line before it (WebGAL's 连续对话), as does `say:…` without
  `-speaker=名字`; `-clear` makes it narration. A `\\:` is a colon shown, never the end of
  a speaker (WebGAL itself ends the speaker there, showing a name with a backslash).
- From the first ` -` on are the statement's arguments (`-next`, `-v1.wav` and
  `-vocal=…` voices, `-left`, `-notend`, `-when=…`): never part of the words. `-concat`
  goes on with the line before it, when the same speaker says it.
- In the words, `|` breaks the line (joined as the words read), `[文字](注音)` and
  `[文字](style=…)` show the words only, and `\\|`, `\\:`, `\\,`, `\\.`, `\\;`, `\\\\`, `\\{`
  and `\\}` are those characters shown. `{name}` is a variable the running game fills:
  one `setVar:name=亚托莉;` gave a string before it (in this scene, or in those the game
  plays before it: `ParseOptions.webgal_variables`) is that string, in a speaker too;
  any other is left for the run to fill or name, as other formats' name slots; a `{…}`
  that is no plain variable name (`{$stage.x}`, `{名字}`) makes the line unusable
  (`UNRESOLVED_VARIABLE`). A variable the player types (`getUserInput:name`, in any
  scene given) holds the player's name: a speaker `{name}:` is the lead, and `{name}` in
  a line his name (`ParseOptions.webgal_player`).
- Consecutive lines under different `-when=` conditions are alternatives, one of which
  the game shows: each condition's lines a branch of its own, the lines after them going
  on from the last (`_Alternatives`); a run on other variables right after is the next
  choice, following that last one.
- `intro:第一行|第二行;` (text on a black screen) is narration. A choice (`choose:`),
  a label (`label:`, where jumps land), a jump (`jumpLabel:`, `chooseLabel:`), another
  scene (`changeScene:`, `callScene:`) and `end` end the exchange.
- An argument line (a line starting with blanks and then `-` or `|`, as webgal-parser's
  multi-line statements) belongs to the statement above it.

The game's `config.txt` (`Game_name:…;`, `Title_img:…;`) is no scene: none of it is said.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePath

from dataprep.formats.common import UNRESOLVED_VARIABLE, ParseOptions, join_pieces, tidy_name
from dataprep.records import Utterance

# WebGAL's commands (webgal-parser's SCRIPT_CONFIG and the engine's SCRIPT_TAG_MAP) whose
# names no other script writes before a colon: a few of these lines tell a WebGAL scene.
_OWN_COMMANDS = frozenset(
    {
        "changeBg",
        "changeFigure",
        "playVideo",
        "pixiPerform",
        "pixiInit",
        "miniAvatar",
        "changeScene",
        "callScene",
        "setComplexAnimation",
        "setFilter",
        "jumpLabel",
        "chooseLabel",
        "setVar",
        "showVars",
        "unlockCg",
        "unlockBgm",
        "filmMode",
        "setTextbox",
        "setAnimation",
        "playEffect",
        "setTempAnimation",
        "setTransform",
        "setTransition",
        "getUserInput",
        "applyStyle",
        "callSteam",
        # Older versions' (4.0 – 4.3), still in the scenes of games that ship them.
        "setBgAni",
        "setFigAni",
        "setBgFilter",
        "setFigFilter",
        "setBgTransform",
        "setFigTransform",
    }
)
# Its commands with ordinary words for names: commands in a scene, weaker signs of one.
_PLAIN_COMMANDS = frozenset({"say", "bgm", "intro", "choose", "end", "label", "if", "wait"})
COMMANDS = _OWN_COMMANDS | _PLAIN_COMMANDS
# The commands after which the next line may follow other lines than those above it.
_FLOW = frozenset(
    {"choose", "chooseLabel", "jumpLabel", "label", "changeScene", "callScene", "end"}
)
# A key of the game's config.txt (`Game_name:…;`, `Title_bgm:…;`, `Enable_Continue:…;`).
_CONFIG_KEY = re.compile(
    r"(?:Game|Title|Enable|Package|Default|Steam|Show|Legacy|Max|Line|Textbox)_\w+"
)

_COMMENT = re.compile(r"(?<!\\);")
_COLON = re.compile(r"(?<!\\):")
# Where the arguments start: webgal-parser cuts the content at its first " -".
_ARGS_START = " -"
_LINE_BREAK = re.compile(r"(?<!\\)\|")
# Text enhancement: `[文字](注音)`, `[文字](style=color:#f00\; ruby=wen)`: the words shown.
# Its description ends at the first ")", as WebGAL's; no bracket inside the words, so a
# long line of "[" fails at once at each.
_ENHANCED = re.compile(r"\[([^\[\]\n]*)\]\(([^)\n]*)\)")
# Brackets left after it: WebGAL's text parser never shows them.
_BRACKET = re.compile(r"[\[\]]")
_ESCAPED = re.compile(r"\\([\\|:,;.{}])")
# `{name}` not escaped: WebGAL fills it from the game's variables.
_INTERPOLATION = re.compile(r"(?<!\\)\{([^{}]*)\}")
_PLAIN_VARIABLE = re.compile(r"[A-Za-z_]\w*", re.ASCII)
# How WebGAL's setVar reads a value (resolveSetVarValue): a call (`random()`) or anything
# with an operator or bracket is an expression, `true`/`false` anywhere a boolean, and a
# number (`1`, `.5`, `0x1f`) a number; any other word is a string, or the value of the
# variable it names.
_SET_EXPRESSION = re.compile(r"[+\-*/()]|true|false")
_JS_NUMBER = re.compile(
    r"(?:\d+\.?\d*|\.\d+)(?:[eE]\d+)?|0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|Infinity"
)
# `getUserInput:name -title=…`: the player types a value (a name) into variable `name`.
_TYPED = re.compile(r"^[ \t]*getUserInput[ \t]*:[ \t]*([^\s;:-][^\s;]*)", re.M)
# Detection: a line that is a WebGAL command, and one that is narration (`:旁白;`).
_COMMAND_LINE = re.compile(r"(?P<command>[A-Za-z]\w*)[ \t]*(?::|;|$)")
_NARRATION_LINE = re.compile(r":[^:\n]+")
# A choice between scenes (`choose:去海边:sea.txt|回家:home.txt;`): a game's start.txt
# may hold only that line, and nothing else writes a scene file after a colon there.
_SCENE_CHOICE = re.compile(r"choose[ \t]*:[^:\n]*:[^:|;\n]+\.txt[ \t]*(?:[|;]|$)")


@dataclass(frozen=True, slots=True)
class _Statement:
    """A line as webgal-parser reads it: its command (None for a say line), the speaker
    it names (None: the speaker of the line before), its content and its arguments."""

    command: str | None
    speaker: str | None
    content: str
    args: dict[str, str | bool]


@dataclass
class Variables:
    """The variables WebGAL holds as the scenes run, as `setVar` gives them: a stage variable
    (saved with the game) is looked up before a `-global` one (kept across playthroughs) of
    the same name. None is a value that is no string: a number, a boolean, an expression,
    a name the player types, or one of two values a `-when` condition picks between."""

    stage: dict[str, str | None] = field(default_factory=dict)
    global_: dict[str, str | None] = field(default_factory=dict)
    # The variables the last setVar of gave a number, a boolean or an expression: a value
    # that changes as the game is played (`setVar:sanity=60;`), never a name.
    computed: set[str] = field(default_factory=set)

    @classmethod
    def at_start(
        cls, saved: tuple[dict[str, str | None], dict[str, str | None]] | None
    ) -> Variables:
        """The variables a scene starts with: those the scenes read before it left."""
        return cls() if saved is None else cls(dict(saved[0]), dict(saved[1]))

    def saved(self) -> tuple[dict[str, str | None], dict[str, str | None]]:
        return dict(self.stage), dict(self.global_)

    def value(self, key: str) -> str | None:
        if key in self.stage:
            return self.stage[key]
        return self.global_.get(key)

    def run(self, statement: _Statement) -> None:
        """Give the variable of a `setVar:key=value` (or `getUserInput:key`) its value."""
        if statement.command == "getUserInput":
            if statement.content.strip():
                self.stage[statement.content.strip()] = None  # typed while the game runs
            return
        # WebGAL fills `{…}` in a statement before running it, and splits it at `=`.
        key, equals, rest = self.filled(statement.content).partition("=")
        key = key.strip()
        if not equals or not key:
            return
        written = rest.split("=", 1)[0].strip()
        value = self._given(written)
        if _SET_EXPRESSION.search(written) or _JS_NUMBER.fullmatch(written):
            self.computed.add(key)
        else:
            self.computed.discard(key)
        target = self.global_ if _flag(statement, "global") else self.stage
        if "when" in statement.args and value != self.value(key):
            value = None  # set only when its condition holds: either value may show
        target[key] = value

    def _given(self, written: str) -> str | None:
        """The value `setVar` gives for what is written after `=`: a word naming a
        variable is that variable's value, any other the word itself."""
        if _SET_EXPRESSION.search(written) or _JS_NUMBER.fullmatch(written):
            return None
        if written in self.stage or written in self.global_:
            return self.value(written)
        return written

    def filled(self, text: str, player: dict[str, str] | None = None) -> str:
        """`text` with each `{variable}` the player types a name into as that name, and
        each one a setVar gave a string as that string; any other left as written."""
        if "{" not in text:
            return text

        def one(m: re.Match[str]) -> str:
            key = m[1].strip()
            if player and key in player:
                return player[key]
            value = self.value(key)
            return m[0] if value is None else value

        return _INTERPOLATION.sub(one, text)

    def unfilled(self, statement: _Statement, player: dict[str, str]) -> set[str]:
        """The plain variables a say statement shows (as its speaker or in its words) that
        hold no string here."""
        named = statement.args.get("speaker")
        shown = [
            statement.content,
            statement.speaker or "",
            named if isinstance(named, str) else "",
        ]
        return {
            key
            for text in shown
            for m in _INTERPOLATION.finditer(text)
            if _PLAIN_VARIABLE.fullmatch(key := m[1].strip())
            and key not in player
            and self.value(key) is None
        }


@dataclass
class ReadVariables:
    """What `read_variables` learns from the scenes: the variables each scene (its source)
    starts with (`ParseOptions.webgal_variables`); the variables shown where no setVar
    has given them a string (a speaker `{heroine}:` before any `setVar:heroine=…;`), →
    the lines showing each (`ParseOptions.webgal_unresolved`); and those shown where the
    last setVar gave a number or an expression (`理智值：{sanity}` after
    `setVar:sanity=60;`), → their lines (`ParseOptions.webgal_computed`)."""

    starts: dict[str, tuple[dict[str, str | None], dict[str, str | None]]]
    unresolved: Counter[str]
    computed: Counter[str]


def read_variables(scenes: Iterable[tuple[str, str]], player: dict[str, str]) -> ReadVariables:
    """The variables of the scenes (source, text), run in the order the game plays them
    (`_play_order`)."""
    variables = Variables()
    read = ReadVariables({}, Counter(), Counter())
    for source, text in _play_order(list(scenes)):
        read.starts[source] = variables.saved()
        for _, statement in _run(text, variables):
            if statement.command in (None, "intro"):
                for key in variables.unfilled(statement, player):
                    shown = read.computed if key in variables.computed else read.unresolved
                    shown[key] += 1
    return read


def _play_order(scenes: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The scenes in the order the game plays them: `start.txt` first (where WebGAL starts;
    read in name order it comes after `chapter1.txt`), then the scenes its
    `changeScene:`, `callScene:` and choices lead to, nearest first; those no scene
    leads to after them, in the order given."""
    paths = ["/" + PurePath(source).as_posix().lstrip("/") for source, _ in scenes]
    order = [i for i, path in enumerate(paths) if path.endswith("/start.txt")]
    placed = set(order)
    at = 0
    while at < len(order):
        for name in _scenes_named(scenes[order[at]][1]):
            ending = "/" + name.strip().removeprefix("./")
            led = [i for i, path in enumerate(paths) if i not in placed and path.endswith(ending)]
            order += led
            placed.update(led)
        at += 1
    order += [i for i in range(len(scenes)) if i not in placed]
    return [scenes[i] for i in order]


def _scenes_named(text: str) -> Iterator[str]:
    """The scene files a scene goes on to: `changeScene:ch1.txt;`, `callScene:…`, and
    those among its choices' options (`choose:去海边:sea.txt|回家:home.txt;`)."""
    for _, raw in _statements(text):
        statement = _read(raw)
        if statement is None:
            continue
        if statement.command in ("changeScene", "callScene"):
            yield statement.content
        elif statement.command == "choose":
            for option in _LINE_BREAK.split(statement.content):
                target = option.rpartition(":")[2].strip()
                if target.endswith(".txt"):
                    yield target


def _run(text: str, variables: Variables) -> Iterator[tuple[int, _Statement]]:
    """Each statement of a scene with its line number, its `setVar`s run as read."""
    for number, raw in _statements(text):
        statement = _read(raw)
        if statement is None:
            continue
        if statement.command in ("setVar", "getUserInput"):
            variables.run(statement)
        yield number, statement


def parse(text: str, source: str, options: ParseOptions) -> list[Utterance]:
    marker = options.scene_marker.match if options.scene_marker else None
    out: list[Utterance] = []
    scene = 0
    branches = _Alternatives()
    speaker = ""  # the name WebGAL shows: "" for none (narration)
    variables = Variables.at_start(options.webgal_variables.get(source))
    player = options.webgal_player
    for number, statement in _run(text, variables):
        if statement.command in _FLOW:
            branches.end_exchange(out)  # the player's pick, a jump or another scene
            continue
        if statement.command not in (None, "intro"):
            continue
        branches.reach(statement.args.get("when"), out)
        if statement.command == "intro":
            said, dropped = _shown(variables.filled(statement.content, player))
            if said and marker is not None and marker(said):
                scene += 1
            elif said:
                out.append(branches.utterance(None, said, source, number, str(scene), dropped))
            continue
        speaker = tidy_name(variables.filled(_speaker_after(statement, speaker), player))
        said, dropped = _shown(variables.filled(statement.content, player))
        if not said:
            continue
        if not speaker and marker is not None and marker(said):
            scene += 1
            continue
        utterance = branches.utterance(speaker or None, said, source, number, str(scene), dropped)
        if _flag(statement, "concat") and _continues(out, utterance):
            out[-1].text = join_pieces([out[-1].text, said])
            out[-1].dropped = out[-1].dropped or dropped
            continue
        out.append(utterance)
    branches.reach(None, out)
    return out


@dataclass(slots=True)
class _Alternatives:
    """The branch of each line (`Utterance.branch`, `forked_from`), as the `-when=`
    conditions on consecutive lines give it. Lines under different conditions one after
    another (`台词A -when=a==1;` then `台词B -when=a==2;`) are alternatives the game shows
    one of: each condition's lines a branch forking from the lines before them, as the
    blocks of Naninovel's `@if` chain and Ren'Py's `if` are, so no exchange runs from one
    into the other. A condition written again in the run (`a==0`, `a==1`, `a==0`, `a==1`)
    goes on with its alternative: its lines are put together, in the order read. The
    lines after the run go on from its last alternative, as a player who saw that one:
    her reply in it stays before them (from the lines before the run, a lead line after
    it would be joined to the lead line before it). Lines under one condition alone are
    no alternatives: they stay in the branch they are in. Two runs of alternatives on
    different variables one after the other (`a==1`, `a==2`, then `b==1`, `b==2`) are two
    choices the game makes in turn, not four alternatives of one: the second run's
    forks from the first's last alternative, so that no branch follows a line whose
    condition excludes its own, nor leaves out the choice before it (`_choices`)."""

    branch: int = 0
    forked_from: int | None = None
    last: int = 0  # the highest branch given
    # The open run's alternatives: condition → its branch, in the order first read.
    alternatives: dict[str, int] = field(default_factory=dict)
    before: tuple[int, int | None] = (0, None)  # the branch and fork before the run
    parent: int | None = None  # the branch its alternatives fork from
    read_before: int = 0

    def utterance(
        self,
        speaker: str | None,
        said: str,
        source: str,
        line: int,
        scene: str,
        dropped: str | None,
    ) -> Utterance:
        return Utterance(speaker, said, source, line, scene, dropped, self.branch, self.forked_from)

    def reach(self, when: str | bool | None, out: list[Utterance]) -> None:
        """A line under the condition `when` (None: none): it opens a run of conditional
        lines, goes on in its alternative, starts the next one, or closes the run."""
        if when is None:
            if self.alternatives:
                self._close(out)
            return
        condition = "".join(str(when).split())
        if not self.alternatives:
            self.before, self.read_before = (self.branch, self.forked_from), len(out)
            own_lines = bool(out) and out[-1].branch == self.branch
            self.parent = self.branch if own_lines else self.forked_from
        known = self.alternatives.get(condition)
        if known is not None:
            self.branch, self.forked_from = known, self.parent
            return
        self._new_branch(self.parent)
        self.alternatives[condition] = self.branch

    def end_exchange(self, out: list[Utterance]) -> None:
        """A choice, a label, a jump or another scene: the lines after it follow no line."""
        if self.alternatives:
            self._close(out)
        self._new_branch(None)

    def _close(self, out: list[Utterance]) -> None:
        run = out[self.read_before :]
        if len(self.alternatives) == 1 or not run:
            # One condition alone (or no line read under any): no alternatives.
            for utterance in run:
                utterance.branch, utterance.forked_from = self.before
            self.branch, self.forked_from = self.before
            self.alternatives = {}
            return
        # Each choice's alternatives fork from the last one of the choice before it (its
        # last with lines: one whose line showed nothing has no branch to go on from).
        placed: dict[int, tuple[int, int | None]] = {}  # branch → (order, forked from)
        said = {u.branch for u in run}
        parent = self.parent
        for choice in _choices(list(self.alternatives)):
            branches = [self.alternatives[condition] for condition in choice]
            for branch in branches:
                placed[branch] = (len(placed), parent)
            parent = next((b for b in reversed(branches) if b in said), parent)
        for utterance in run:
            utterance.forked_from = placed[utterance.branch][1]
        # Each alternative's lines together (turns.py reads a branch's lines in a row).
        out[self.read_before :] = sorted(run, key=lambda u: placed[u.branch][0])
        self.branch, self.forked_from = out[-1].branch, out[-1].forked_from
        self.alternatives = {}

    def _new_branch(self, forked_from: int | None) -> None:
        self.last += 1
        self.branch, self.forked_from = self.last, forked_from


# The variables a condition tests (`mood`, `$stage.route`), once its strings are taken out;
# `true`, `false`, `null` and `undefined` are values.
_CONDITION_STRING = re.compile(r"\"[^\"]*\"|'[^']*'|`[^`]*`")
_CONDITION_NAME = re.compile(r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*")
_CONDITION_VALUES = frozenset({"true", "false", "null", "undefined"})


def _tested(condition: str) -> set[str]:
    names = _CONDITION_NAME.findall(_CONDITION_STRING.sub("", condition))
    return {name for name in names if name not in _CONDITION_VALUES}


def _choices(conditions: list[str]) -> list[list[str]]:
    """A run's conditions (in the order first read) as the choices the game makes in turn:
    conditions testing a variable in common are alternatives of one choice. A condition
    alone on its variables (`isHappy` beside `isSad`, `b==1` after `a==1`, `a==2`) is one
    more alternative of the choice beside it, as a run of one choice reads it: only two
    runs of alternatives each are two choices."""
    groups: list[tuple[set[str], list[str]]] = []
    for condition in conditions:
        tested = _tested(condition)
        sharing = [group for group in groups if group[0] & tested]
        if not sharing:
            groups.append((tested, [condition]))
            continue
        # A condition on the variables of two choices joins them into one.
        first = sharing[0]
        for group in sharing[1:]:
            first[0].update(group[0])
            first[1].extend(group[1])
            groups.remove(group)
        first[0].update(tested)
        first[1].append(condition)
    choices: list[list[str]] = []
    alone: list[str] = []  # conditions alone before the first choice of several
    for _, read in groups:
        if len(read) == 1 and choices:
            choices[-1].extend(read)
        elif len(read) == 1:
            alone.extend(read)
        else:
            choices.append(alone + read)
            alone = []
    if alone:
        choices.append(alone)
    return choices


def _statements(text: str) -> Iterator[tuple[int, str]]:
    """Each statement with its line number, an argument line (blanks, then `-` or `|`)
    joined to the statement above it as webgal-parser's multi-line statements are."""
    pending: tuple[int, str] | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if pending is not None and _continues_above(line):
            piece = line.strip()
            pending = (pending[0], pending[1] + (" " + piece if piece[0] == "-" else piece))
            continue
        if pending is not None:
            yield pending
        pending = (number, line)
    if pending is not None:
        yield pending


def _continues_above(line: str) -> bool:
    stripped = line.lstrip()
    return line[:1] in (" ", "\t") and stripped[:1] in ("-", "|") and "-concat" not in stripped


def _read(raw: str) -> _Statement | None:
    """The statement of a line, None for a comment, a blank or a config.txt line."""
    body = _COMMENT.split(raw, maxsplit=1)[0].replace("\\;", ";").strip()
    if not body:
        return None
    colon = _COLON.search(body)
    head = body[: colon.start()].strip() if colon else ""
    rest = body[colon.end() :] if colon else body
    content, args = _split_args(rest)
    if colon is None:
        # `end;`, `pixiInit;`: a command without content.
        command = content if content in COMMANDS and content != "say" else None
        return _Statement(command, None, content, args)
    if _CONFIG_KEY.fullmatch(head):
        return None
    if head in COMMANDS and head != "say":
        return _Statement(head, None, content, args)
    return _Statement(None, None if head == "say" else tidy_name(head), content, args)


def _split_args(rest: str) -> tuple[str, dict[str, str | bool]]:
    """The content before the first ` -`, and the arguments after it (`-next` → True,
    `-speaker=名字` → "名字"; a voice file `-v1.wav` is `vocal`)."""
    at = rest.find(_ARGS_START)
    if at < 0:
        return rest.strip(), {}
    args: dict[str, str | bool] = {}
    for part in rest[at:].split(_ARGS_START):
        key, equals, value = part.strip().partition("=")
        if key:
            args.setdefault(key.strip(), value.strip() if equals else True)
    return rest[:at].strip(), args


def _flag(statement: _Statement, key: str) -> bool:
    """Whether an argument is set: `-concat`, or `-concat=true` (WebGAL reads both)."""
    return statement.args.get(key) in (True, "true")


def _speaker_after(statement: _Statement, before: str) -> str:
    """Who says a say line: the name before its colon, else `-speaker=`, else the speaker
    of the line before; nobody with `-clear`."""
    if _flag(statement, "clear"):
        return ""
    if statement.speaker is not None:
        return statement.speaker
    named = statement.args.get("speaker")
    return tidy_name(named) if isinstance(named, str) else before


def typed_variables(text: str) -> set[str]:
    """The variables a scene has the player type into (`getUserInput:name`)."""
    return set(_TYPED.findall(text))


def _shown(content: str) -> tuple[str, str | None]:
    """The words a line shows, and its drop reason: `UNRESOLVED_VARIABLE` for a `{…}`
    that is no plain variable name."""
    unresolved = any(
        not _PLAIN_VARIABLE.fullmatch(m[1].strip()) for m in _INTERPOLATION.finditer(content)
    )
    words = _BRACKET.sub("", _ENHANCED.sub(r"\1", content))
    pieces = (_ESCAPED.sub(r"\1", piece) for piece in _LINE_BREAK.split(words))
    return join_pieces(pieces), UNRESOLVED_VARIABLE if unresolved else None


def _continues(out: list[Utterance], utterance: Utterance) -> bool:
    """Whether a `-concat` line goes on with the last one read: same speaker, scene and
    branch (a choice or a label between them starts another exchange)."""
    if not out:
        return False
    last = out[-1]
    return (last.speaker, last.scene, last.branch) == (
        utterance.speaker,
        utterance.scene,
        utterance.branch,
    )


def signs(lines: list[str]) -> str | None:
    """Why these non-blank lines are a WebGAL scene (or its config.txt), or None: WebGAL's
    own commands (`changeBg:`, `changeFigure:`, `setVar:`, a `choose:` between scene
    files), with its other commands
    (`bgm:…;`, `choose:…;`, `end;`) and narration lines (`:旁白;`) as weaker signs."""
    own = plain = narration = config = ended = 0
    for line in lines:
        stripped = line.strip()
        ended += stripped.endswith(";")
        m = _COMMAND_LINE.match(stripped)
        if m is not None and (m["command"] in _OWN_COMMANDS or _SCENE_CHOICE.match(stripped)):
            own += 1
        elif m is not None and m["command"] in _PLAIN_COMMANDS and ";" in stripped:
            plain += 1
        elif _NARRATION_LINE.match(stripped):
            narration += 1
        elif _CONFIG_KEY.match(stripped) and stripped.endswith(";"):
            config += 1
    if own >= 2 or (own and (own + plain + narration >= 3 or ended * 2 >= len(lines))):
        return f"{own} WebGAL command lines (changeBg:, changeFigure:, setVar: …)"
    # Without its own commands: its others and narration, in lines ending as statements.
    weak = plain + narration
    if (weak >= 5 and weak * 2 >= len(lines)) or (weak >= 2 and ended * 4 >= len(lines) * 3):
        return f"{weak} WebGAL statements (bgm:…;, choose:…;, :旁白;)"
    if config >= 2 and config * 2 >= len(lines):
        return "it is a WebGAL config.txt (Game_name:…;), no scene"
    return None
