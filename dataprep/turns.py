"""Two-person turns: exchanges in which the lead speaks and the character answers, as samples."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

from dataprep.clean import CJK, interjections_only
from dataprep.formats.common import HEADING_LINE
from dataprep.records import Role, Sample, Turn, Utterance, scene_key

# A narration line that is never a stage direction: a script's code a custom regex left as
# narration, a command or comment (`@char n pos:85 scale:0.925`, `; note`, `{"bg": 1}`) or
# only `key:value` / `key=value` pairs (`pos:85 scale:0.925`, `time=100`); or a choice the
# player picks from (`> Take her home`, `＞回家`, `▶ Stay`), which no one does on stage.
_NOT_DIRECTION = re.compile(r"[@;{>＞▶►]|(?:[A-Za-z_][\w.]*[:=]\S+\s*)+$", re.ASCII)
# A narration line written as one aside, `(She sighs.)`, `*ATRI grabs the plate*`: its own
# marks go, so that the direction's brackets are not doubled.
_ASIDE_CLOSERS = {"(": ")", "（": "）", "[": "]", "*": "*"}

# Lines read at a time (see `iter_samples`).
_CHUNK = 4096

# Joins consecutive lines of one speaker: each stays its own line (a chat "bubble").
TURN_JOINER = "\n"


@dataclass(frozen=True)
class TurnRules:
    context_turns: int = 6
    narration: str = "skip"  # or "stage": short narration kept as (…) before the next turn
    stage_direction_max_chars: int = 40
    # Drop the character's lines that are only a sound ("嗯……") wherever they are: inside
    # a merged reply, and as whole turns, so no sample trains on them, not even as history.
    drop_noise: bool = True
    # Applied to each of the character's lines (the lead's names → {{user}}), once.
    replace: Callable[[str], str] | None = None
    # A turn longer than this (a reply the filter drops as too long) is never a sample's
    # history or prompt; a reply whose prompt is longer is dropped ("prompt_too_long").
    max_turn_chars: int | None = None


# The speaker the pipeline gives narration that gives words (`Role.OTHER`): her words
# (`她歪着头说「我是亚托莉」`, `"Fine," she said.`), or anyone's (`我问她“你没事吧？”`). No
# parser names a speaker so, so no other third party's line reads as narration.
NARRATED_HER_WORDS = "\x00narration: her words"
NARRATED_WORDS = "\x00narration: words"


def is_narrated_words(utterance: Utterance, role: Role) -> bool:
    """Whether the line is narration that gives someone's words, hers or not (see
    `NARRATED_WORDS`), which the pipeline passes on as a third party's line."""
    return role is Role.OTHER and utterance.speaker in (NARRATED_HER_WORDS, NARRATED_WORDS)


def _is_her_narrated_words(utterance: Utterance, role: Role) -> bool:
    return role is Role.OTHER and utterance.speaker == NARRATED_HER_WORDS


def build_samples(
    lines: Iterable[tuple[Utterance, Role]], rules: TurnRules, dropped_lines: Counter[str]
) -> list[Sample]:
    return list(iter_samples(lines, rules, dropped_lines))


def iter_samples(
    lines: Iterable[tuple[Utterance, Role]],
    rules: TurnRules,
    dropped_lines: Counter[str],
    sounds_after_lead: set[str] | None = None,
    dropped_in_scene: defaultdict[str, Counter[str]] | None = None,
) -> Iterator[Sample]:
    """Group lines into exchanges and turn each of the character's turns into a sample.

    An exchange ends at a third party's line, a line someone says that cannot be used
    (`Utterance.dropped` set: its text is never read), a scene change or a change of branch; a
    branch that forks from another (a menu's choice) starts with the last turns of the
    exchange its menu came in as history, which give no samples of their own there. A
    character turn with no lead turn before it in its exchange (or in its branch: her
    line going on into a choice from her turn before the menu) cannot be a sample; its
    lines are counted in `dropped_lines["no_lead_before"]`. With `drop_noise`, a
    character line that is only an interjection is left out (counted as
    "interjection_only"); a turn made only of such lines disappears, and the lead's turns
    on either side of it become one; the scenes (`Sample.scene_key`) where such a line of
    hers followed one of the lead go into `sounds_after_lead`, when given, so that the run
    can say why a scene has no sample; so do the lines "prompt_too_long" drops go into
    `dropped_in_scene`. A sample's history starts after the last turn longer
    than `max_turn_chars`. Narration that gives someone's words (`is_narrated_words`) ends
    the exchange as a third party's line does; narration that gives hers
    (`NARRATED_HER_WORDS`) after her turn does so only where a line not hers comes next:
    her line after it goes on her turn, as after any narration (she answered the lead; no
    one else spoke to her). After words not hers (`"Are you okay?" I asked.`) her line
    answers them, not the lead's turn before.
    Samples come out exchange by exchange, so nothing waits for the whole script.
    """
    exchange: list[Turn] = []
    # Turns before `first` are history a branch took over from the one it forks from.
    first = 0
    # Branch → its exchange's last turns, when a menu's choices fork from it (one scene's).
    forks: dict[int, list[Turn]] = {}
    stage: list[str] = []
    source = scene = ""
    branch = 0
    # Narration gave her words after her turn: the next line ends the exchange unless it
    # is hers.
    words_after_her = False
    stage_mode = rules.narration == "stage"
    max_stage = rules.stage_direction_max_chars
    drop_noise = rules.drop_noise
    replace = rules.replace
    character, narration, other = Role.CHARACTER, Role.NARRATION, Role.OTHER
    sounds = set() if sounds_after_lead is None else sounds_after_lead
    in_scene = defaultdict(Counter) if dropped_in_scene is None else dropped_in_scene

    # A few thousand lines at a time: what her lines need (noise or not, the lead's names
    # replaced) is found for all of them at once, by C functions mapped over their texts.
    stream = iter(lines)
    while chunk := list(islice(stream, _CHUNK)):
        hers = [u.text for u, r in chunk if r is character and u.dropped is None]
        noise = interjections_only(hers) if drop_noise else None
        said = hers if replace is None else list(map(replace, hers))
        her = -1  # her line's place in `hers`
        for utterance, role in chunk:
            if utterance.scene != scene or utterance.source != source or utterance.branch != branch:
                if exchange:
                    yield from _samples_of(
                        exchange, first, (source, scene), rules, dropped_lines, in_scene
                    )
                if utterance.scene != scene or utterance.source != source:
                    forks.clear()
                elif utterance.forked_from == branch:
                    forks[branch] = exchange[-(rules.context_turns + 1) :]
                # Copies: the first turn of a choice may join the last one (same speaker).
                fork = utterance.forked_from
                history = forks.get(fork, []) if fork is not None else []
                exchange = [Turn(t.role, t.text) for t in history]
                first = len(exchange)
                stage.clear()
                words_after_her = False
                source, scene, branch = utterance.source, utterance.scene, utterance.branch
            if role is narration:
                if stage_mode and exchange and _is_stage_direction(utterance.text):
                    stage.append(utterance.text)
                continue
            said_between = role is other or utterance.dropped is not None
            if said_between and _is_her_narrated_words(utterance, role) and _after_her(exchange):
                words_after_her = True
                stage.clear()  # no direction leads past words that no sample holds
                continue
            if said_between or (words_after_her and role is not character):
                # A third party's line, one said but unusable (a variable only the game
                # knows), or the lead's after words narration gave: what follows no longer
                # answers the turns before it.
                if exchange:
                    yield from _samples_of(
                        exchange, first, (source, scene), rules, dropped_lines, in_scene
                    )
                    exchange = []
                first = 0
            words_after_her = False
            if said_between:
                stage.clear()
                continue
            if role is character:
                her += 1
                if noise is not None and noise[her]:
                    dropped_lines["interjection_only"] += 1
                    # Turns alternate: two of them, or one that is not hers, hold one of his.
                    if exchange and (len(exchange) > 1 or exchange[0].role is not character):
                        sounds.add(scene_key(source, scene))
                    continue
                text = said[her]
            else:
                text = utterance.text
            if stage:
                # In her turn the lead's names become {{user}} as in her words.
                to_user = replace if role is character else None
                text = _with_direction(stage, text, max_stage, to_user)
                stage.clear()
            if exchange and exchange[-1].role is role:
                if len(exchange) == first and role is not character:
                    # The lead goes on into a choice: his turn is a prompt of this branch. Her
                    # line after the menu answers the player's pick, not a line of the lead's:
                    # joined to her reply before the menu it stays history (no sample gives
                    # that reply again, once per choice), counted as "no_lead_before".
                    first -= 1
                last = exchange[-1]
                last.text = f"{last.text}{TURN_JOINER}{text}"
                last.lines.append((utterance.source, utterance.line))
            else:
                exchange.append(Turn(role, text, [(utterance.source, utterance.line)]))
    if exchange:
        yield from _samples_of(exchange, first, (source, scene), rules, dropped_lines, in_scene)


def _after_her(exchange: list[Turn]) -> bool:
    return bool(exchange) and exchange[-1].role is Role.CHARACTER


def _is_stage_direction(narration: str) -> bool:
    """False for a narration line that is code, a choice (`_NOT_DIRECTION`) or a heading
    or cue in brackets (`【选项1】`, `[Choice 1]`: `HEADING_LINE`, as the readers skip them)."""
    if _NOT_DIRECTION.match(narration) is not None:
        return False
    return narration[:1] not in "[【" or HEADING_LINE.fullmatch(narration) is None


def _with_direction(
    stage: list[str], text: str, max_chars: int, replace: Callable[[str], str] | None
) -> str:
    """`text` after the narration before it as one stage direction, unless that is longer
    than `max_chars`: （…） with its lines joined as written in Chinese and Japanese,
    `(…) ` with a space between them in Latin-script text ("(She nodded. Her eyes
    sparkled.) Yes please!"). `replace` is applied to the direction."""
    parts = [part for part in map(_unwrapped, stage) if part]
    cjk = any(CJK.search(part) is not None for part in parts)
    direction = ("" if cjk else " ").join(parts)
    if not direction or len(direction) > max_chars:
        return text
    if replace is not None:
        direction = replace(direction)
    return f"（{direction}）{text}" if cjk else f"({direction}) {text}"


def _unwrapped(line: str) -> str:
    """A narration line without the brackets or asterisks around it, when they hold all of
    it: "(a) and (b)" and "*a* and *b*" are two asides and stay as written."""
    closer = _ASIDE_CLOSERS.get(line[:1])
    if closer is None or len(line) < 2 or line[-1] != closer:
        return line
    inner = line[1:-1]
    if line[0] in inner or closer in inner:
        return line
    return inner.strip()


def _samples_of(
    turns: list[Turn],
    first: int,
    where: tuple[str, str],
    rules: TurnRules,
    dropped_lines: Counter[str],
    dropped_in_scene: defaultdict[str, Counter[str]],
) -> Iterator[Sample]:
    """A sample for each character turn from `first` on; the turns before it are history."""
    pairs = [(t.role, t.text) for t in turns]
    longest = rules.max_turn_chars
    # The turn after the last one longer than `longest` so far: no history reaches past it
    # (kept as the turns go by, not looked for again from each of hers).
    after_long = 0
    for i, turn in enumerate(turns):
        if longest is not None and i and len(pairs[i - 1][1]) > longest:
            after_long = i
        if turn.role is not Role.CHARACTER:
            continue
        if i == 0 or i < first:  # a copied history turn has no lines: only hers are counted
            dropped_lines["no_lead_before"] += len(turn.lines)
            continue
        start = max(0, i - rules.context_turns, after_long)
        if start == i:  # the turn before hers is longer than `longest`
            dropped_lines["prompt_too_long"] += len(turn.lines)
            dropped_in_scene[scene_key(*where)]["prompt_too_long"] += len(turn.lines)
            continue
        # sharegpt needs human first: drop a leading character turn the window cut into.
        if turns[start].role is Role.CHARACTER:
            start += 1
        yield Sample(pairs[start : i + 1], where[0], where[1], turn.lines)
