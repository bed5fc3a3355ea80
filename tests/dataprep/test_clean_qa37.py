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
        (JA_KANJI, "shift_jis", "shift_jis"),
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


# 4. A dropped line ends the exchange --------------------------------------------------


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
