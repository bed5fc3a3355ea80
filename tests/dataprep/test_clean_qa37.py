"""QA pass 37: straight quotes around part of a line, EUC-JP scripts, name slots left in
plain dumps (`[player]`, `{name}`), and the exchange a dropped line ends."""

from __future__ import annotations

from pathlib import Path

import pytest
from opencc import OpenCC

from atri.config import DataprepSettings
from dataprep.clean import clean_text
from dataprep.encoding import MIN_PLAUSIBLE, decode_report, plausibility
from dataprep.pipeline import PrepResult, run_pipeline
from dataprep.records import Role
from tests.dataprep.conftest import FIXTURES

ZH = (FIXTURES / "plain_zh.txt").read_text(encoding="utf-8")
JA = (FIXTURES / "plain_ja.txt").read_text(encoding="utf-8")
# Kanji on most lines, as in a real script: kana alone read the same in EUC-JP and GB2312.
JA_KANJI = (
    "夏生：おはよう、アトリ。\n"
    "アトリ：おはようございます、夏生さん。海が綺麗ですね。\n"
    "夏生：今日は何をする？\n"
    "アトリ：朝ごはんを作りました！高性能ですから。\n"
    "夏生：午後は？\n"
    "アトリ：海で泳ぎましょう。私、泳ぎは得意なんです。\n"
)


def settings(**dataprep: object) -> DataprepSettings:
    return DataprepSettings(eval_ratio=0, **dataprep)  # type: ignore[arg-type]


def run(
    tmp_path: Path, text: str, **dataprep: object
) -> tuple[list[list[tuple[Role, str]]], PrepResult]:
    script = tmp_path / "script.txt"
    script.write_text(text, encoding="utf-8")
    result = run_pipeline(settings(**dataprep), [script])
    return [s.turns for s in result.train], result


# 1. Straight double quotes ----------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        '"Hi," she said. "How are you?"',
        '"Of course! I\'m high-performance, after all." She puffed out her chest.',
        '"A" "B"',
    ],
)
def test_straight_quotes_beside_narration_stay_as_curly_ones_do(line: str) -> None:
    # It gave 'Hi," she said. "How are you?': the outer marks went, the inner stayed.
    assert clean_text(line) == line
    # The curly version of the same line was already kept whole.
    curly = line.replace('"', "“", 1).replace('"', "”", 1).replace('"', "“", 1).replace('"', "”", 1)
    assert clean_text(curly) == curly
    # A line that is one quote still loses its marks, as does an unclosed opener.
    assert clean_text('"Let\'s go!"') == "Let's go!"
    assert clean_text('"Wait for me') == "Wait for me"


def test_a_straight_quote_with_narration_after_it_trains_whole(tmp_path: Path) -> None:
    samples, _ = run(
        tmp_path,
        "Natsuki: Can you cook?\n"
        'Atri: "Of course! I\'m high-performance, after all." She puffed out her chest.\n',
    )
    assert samples[0][-1] == (
        Role.CHARACTER,
        '"Of course! I\'m high-performance, after all." She puffed out her chest.',
    )


# 2. EUC-JP ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", [JA, JA_KANJI])
def test_euc_jp_is_read_as_euc_jp(text: str) -> None:
    # It was read as GB18030 without a word: kana the same, every kanji another hanzi.
    decoded = decode_report(text.encode("euc_jp"), "ja.txt")
    assert (decoded.encoding, decoded.text) == ("euc_jp", text)
    assert decoded.guessed and decoded.replaced_bytes == 0
    # Kana count for nothing in a Chinese reading: that decode is implausible now.
    as_gb = text.encode("euc_jp").decode("gb18030")
    assert plausibility(as_gb, "gb18030") < MIN_PLAUSIBLE <= plausibility(text, "euc_jp")


def only(text: str, encoding: str) -> str:
    return "".join(c for c in text if c.encode(encoding, errors="ignore"))


ZH_TRADITIONAL = OpenCC("s2t").convert(ZH.replace("・", "…"))


@pytest.mark.parametrize(
    ("text", "encoding", "found"),
    [
        (JA_KANJI, "shift_jis", "cp932"),
        (JA_KANJI, "utf-16-le", "utf-16-le"),  # no BOM
        (ZH.replace("・", "…"), "gbk", "gb18030"),
        # Japanese saved as GBK: no Japanese codec reads it, and kana are no reason to
        # refuse it (charset-normalizer guessed it wrong).
        (JA, "gbk", "gb18030"),
        (JA_KANJI, "gb18030", "gb18030"),
        (only(ZH_TRADITIONAL, "big5"), "big5", "big5"),
    ],
)
def test_the_other_encodings_still_read_back(
    text: str, encoding: str, found: str, tmp_path: Path
) -> None:
    decoded = decode_report(text.encode(encoding), "x.txt")
    assert (decoded.encoding, decoded.text) == (found, text)
    # The euc_jp case above fails on the old code; this checks the run's line for each.
    script = tmp_path / "x.txt"
    script.write_bytes(text.encode(encoding))
    result = run_pipeline(settings(), [script])
    assert [n for n in result.notes if n.startswith("Read as")] == [
        f"Read as {found} (guessed: not UTF-8, no BOM): x.txt; if the text looks garbled,"
        " set [dataprep] encoding to the right one."
    ]


def test_the_run_names_a_guessed_encoding_once_per_encoding(tmp_path: Path) -> None:
    # Nothing said which encoding was used: a garbled guess showed only in the dataset.
    names = []
    for i in range(5):
        path = tmp_path / f"ja{i}.txt"
        path.write_bytes(JA_KANJI.encode("euc_jp"))
        names.append(path)
    utf8 = tmp_path / "zh.txt"
    utf8.write_text(ZH, encoding="utf-8")
    result = run_pipeline(settings(), [*names, utf8])
    said = [n for n in result.notes if n.startswith("Read as")]
    assert said == [
        "Read as euc_jp (guessed: not UTF-8, no BOM): ja0.txt, ja1.txt, ja2.txt and 2 more"
        " files; if the text looks garbled, set [dataprep] encoding to the right one."
    ]
    assert result.train[0].reply == "おはようございます、{{user}}さん。海が綺麗ですね。"
    # An encoding the config names is no guess.
    forced = run_pipeline(settings(encoding="euc_jp"), names[:1])
    assert not [n for n in forced.notes if n.startswith("Read as")]
    assert forced.train[0].reply == result.train[0].reply


# 3. Name slots in plain dumps ---------------------------------------------------------

LEAD_THEN = "Natsuki: Morning.\nAtri: {said}\n"


@pytest.mark.parametrize(
    ("said", "slot"),
    [
        ("Good morning, [player]! I made breakfast.", "[player]"),
        ("You are welcome, {name}. It is crab!", "{name}"),
        ("Hi [mc_name], ready?", "[mc_name]"),
        ("Hi [playerName], ready?", "[playerName]"),
        ("Hi [player!c], ready?", "[player!c]"),
        ("Hi %(name)s, ready?", "%(name)s"),
        ("Hi {0}, ready?", "{0}"),
        ('Hi [emb exp="f.name"], ready?', '[emb exp="f.name"]'),
    ],
)
def test_a_name_only_the_game_knows_drops_the_line(said: str, slot: str, tmp_path: Path) -> None:
    # 'Good morning, ! I made breakfast.': the name was deleted as markup, the line kept
    # (and "%(name)s", "{0}" stayed in her reply as written).
    samples, result = run(tmp_path, LEAD_THEN.format(said=said))
    assert samples == []
    assert result.stats.character_lines_dropped["unresolved_variable"] == 1
    clean = next(s for s in result.stats.stages if s.stage == "clean text")
    assert clean.dropped["unresolved_variable"] == 1
    assert [n for n in result.notes if n.startswith("Lines with a name")] == [
        f"Lines with a name only the game fills in were dropped: {slot} in 1 line. If one"
        " stands for the lead, add its word (e.g. player) to [dataprep] lead_aliases, and"
        " it becomes the lead."
    ]


@pytest.mark.parametrize(
    ("said", "reply"),
    [
        ("It is {i}crab{/i}![w=0.5]", "It is crab!"),
        ("Wait.{w=0.5} Crab.{nw}", "Wait. Crab."),
        ("[sighs] Fine, Natsuki.[r][l]", "Fine, {{user}}."),
        ("[my_macro]Crab[wait time=200] again.[p]", "Crab again."),
        ("Good morning, [Natsuki]!", "Good morning, {{user}}!"),  # the lead's alias
        ("Good morning, {natsuki}!", "Good morning, {{user}}!"),
    ],
)
def test_markup_goes_and_the_leads_own_slot_is_the_placeholder(
    said: str, reply: str, tmp_path: Path
) -> None:
    samples, result = run(tmp_path, LEAD_THEN.format(said=said) + "Natsuki: x\nAtri: [player]\n")
    assert samples[0][-1] == (Role.CHARACTER, reply)
    # Only the [player] line below was dropped; markup is no name.
    assert result.stats.character_lines_dropped["unresolved_variable"] == 1


def test_a_slot_given_as_a_lead_alias_or_without_the_placeholder(tmp_path: Path) -> None:
    text = LEAD_THEN.format(said="Good morning, [player]!")
    samples, _ = run(tmp_path, text, lead_aliases=["Natsuki", "player"])
    assert samples[0][-1] == (Role.CHARACTER, "Good morning, {{user}}!")
    samples, _ = run(tmp_path, text, lead_aliases=["Natsuki", "player"], user_placeholder=False)
    assert samples[0][-1] == (Role.CHARACTER, "Good morning, Natsuki!")


# 4. A dropped line ends the exchange --------------------------------------------------


def test_a_dropped_line_of_hers_ends_the_exchange(tmp_path: Path) -> None:
    # The lead's lines on either side of it became one turn: 'じゃあ朝ごはんを頼む\nありがとう、アトリ'.
    samples, _ = run(
        tmp_path,
        "夏生：じゃあ朝ごはんを頼む\n"
        "アトリ：はい、[player]さん！\n"
        "夏生：ありがとう、アトリ\n"
        "アトリ：どういたしまして\n"
        # A line that is only a sound still leaves the lead's lines one turn.
        "夏生：美味しい\n"
        "アトリ：えっ\n"
        "夏生：本当に\n"
        "アトリ：よかったです！\n",
        drop_near_duplicates=False,
    )
    assert samples == [
        [(Role.LEAD, "ありがとう、アトリ"), (Role.CHARACTER, "どういたしまして")],
        [
            (Role.LEAD, "ありがとう、アトリ"),
            (Role.CHARACTER, "どういたしまして"),
            (Role.LEAD, "美味しい\n本当に"),
            (Role.CHARACTER, "よかったです！"),
        ],
    ]


def test_a_renpy_line_dropped_for_its_variable_ends_the_exchange() -> None:
    result = run_pipeline(
        DataprepSettings(lead_aliases=["Max"], character_aliases=["Eileen"], eval_ratio=0),
        [FIXTURES / "player_name" / "script.rpy"],
    )
    # Her "You have [points] points" line sits between the two questions.
    assert [s.turns for s in result.train][-1] == [
        (Role.LEAD, "Shall we go?"),
        (Role.CHARACTER, "Yes, let's go!"),
    ]
    assert result.stats.character_lines_dropped["unresolved_variable"] == 1


def test_the_leads_dropped_line_ends_the_exchange_too(tmp_path: Path) -> None:
    # Her answer to a line of his that was dropped is no answer to his line before it.
    samples, result = run(
        tmp_path,
        "Natsuki: Listen.\nNatsuki: My name is [player].\nAtri: Nice to meet you!\n"
        "Natsuki: Hungry?\nAtri: Always!\n",
    )
    assert samples == [[(Role.LEAD, "Hungry?"), (Role.CHARACTER, "Always!")]]
    assert result.stats.character_lines_dropped["no_lead_before"] == 1
