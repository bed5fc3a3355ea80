"""What a review of `atri prep` found, each reproduced first: a file joined from two
encodings, codecs that are no script's encoding, a file mostly unreadable, a folder that
cannot be listed, the training hint with blanks in its path, and a `[train] dataset`
that names no file."""

from __future__ import annotations

import codecs
import os
import random
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from atri.config import ConfigError, DataprepSettings, Settings, settings_from_dict
from dataprep import encoding
from dataprep.cli import run_prep
from dataprep.encoding import decode_report
from dataprep.errors import DataprepError
from dataprep.pipeline import run_pipeline
from tests.without_root_powers import as_a_user_file_modes_stop

REPO = Path(__file__).resolve().parents[2]
LINES = [
    line
    for i in range(40)
    for line in (
        f"夏生「アトリ、今日は何をする？その{i}」",
        f"アトリ「はい、夏生さん！わたしは高性能ですから、海で遊びたいです。{i}番目です」",
    )
]


def joined(head: list[str], head_encoding: str, tail: list[str]) -> bytes:
    return ("\n".join(head) + "\n").encode(head_encoding) + ("\n".join(tail) + "\n").encode()


@pytest.mark.parametrize("copies", [1, 20], ids=["small", "head past the sample"])
def test_a_file_joined_from_cp932_and_utf8_reads_each_line_in_its_own(copies: int) -> None:
    # Before: read as UTF-8 with 48% of its bytes replaced (70 of 80 lines lost) and
    # exit 0; with more CP932 lines, refused whole.
    head, tail = LINES[:70] * copies, LINES[70:] * 3
    decoded = decode_report(joined(head, "cp932", tail), "mixed.txt")
    assert decoded.text == "\n".join(head + tail) + "\n"
    assert (decoded.encoding, decoded.other_encoding) == ("utf-8", "cp932")
    assert (decoded.other_lines, decoded.replaced_bytes) == (len(head), 0)


def test_a_joined_file_is_named_as_such_in_the_run(tmp_path: Path) -> None:
    script = tmp_path / "mixed.txt"
    script.write_bytes(joined(LINES[:70], "cp932", LINES[70:]))
    settings = DataprepSettings(lead_aliases=["夏生"], character_aliases=["アトリ"], eval_ratio=0)
    result = run_pipeline(settings, [script])
    assert len(result.train) == 40
    assert all("\ufffd" not in s.turns[-1][1] for s in result.train)
    (report,) = result.stats.files
    assert report.warning == (
        f"{script}: 70 of its 80 lines are not utf-8 and were read as cp932 (a file joined"
        " from two encodings); if they look garbled, save the file in one encoding."
    )


def test_a_gbk_file_is_no_joined_file_and_reads_as_before() -> None:
    text = "夏生：你好\n亚托莉：嗯……好的。\n夏生：走吧\n" * 500
    decoded = decode_report(text.encode("gbk"), "gbk.txt")
    assert (decoded.text, decoded.encoding, decoded.other_encoding) == (text, "gb18030", None)


def test_utf8_replacements_are_counted_as_the_counting_handler_counts() -> None:
    # The length arithmetic that replaced the per-error handler for UTF-8 (5 s over a
    # 15 MB GBK file read as UTF-8 first) counts the same bytes and gives the same text.
    rng = random.Random(63)
    pieces = [b"A", b"\n", "你".encode(), b"\xe4\xbd", b"\xff", b"\xc3", "\ufffd".encode()]
    for _ in range(500):
        data = b"".join(rng.choice(pieces) for _ in range(rng.randrange(1, 40)))
        encoding._replaced.count = 0
        text = codecs.decode(data, "utf-8", errors=encoding._COUNTING)
        got = encoding._decode_replacing(data, "utf-8")
        if encoding._replaced.count:  # a U+FFFD in the file counts as unreadable too
            expected = encoding._replaced.count + 3 * data.count("\ufffd".encode())
            assert (got.text, got.replaced_bytes) == (text, expected), data
        else:
            assert (got.text, got.replaced_bytes) == (text, 0), data


@pytest.mark.parametrize("name", ["rot13", "hex", "base64", "zlib", "undefined", "punycode"])
def test_a_forced_codec_that_is_no_script_encoding_is_one_sentence(name: str) -> None:
    # Before: LookupError or UnicodeError tracebacks at the first file.
    with pytest.raises(DataprepError) as err:
        decode_report("亚托莉：你好\n".encode(), "a.txt", name)
    assert str(err.value).startswith(f'a.txt: [dataprep] encoding "{name}" is not a text')


def test_a_file_most_of_whose_lines_are_unreadable_is_refused() -> None:
    # Half its bytes or fewer are unreadable (one per character of these lines), yet
    # most lines are: it was read with their words lost, and exit 0.
    good = "亚托莉：我是高性能的机器人！\n".encode() * 3
    bad = b"".join("你".encode() + b"\xff" for _ in range(10)) + b"\n"
    data = good + bad * 20
    assert decode_report(good + bad, "a.txt", "utf-8").replaced_bytes == 10
    with pytest.raises(DataprepError) as err:
        decode_report(data, "b.txt", "utf-8")
    assert "b.txt: is not valid utf-8 text" in str(err.value)


def test_a_few_unreadable_lines_are_counted_in_the_warning(tmp_path: Path) -> None:
    script = tmp_path / "stray.txt"
    lines = ["夏生：你好", "亚托莉：你好！"] * 20
    stray = "你好".encode() + b"\xff" + "！".encode()
    data = ("\n".join(lines) + "\n").encode().replace("你好！".encode(), stray, 2)
    script.write_bytes(data)
    settings = DataprepSettings(lead_aliases=["夏生"], character_aliases=["亚托莉"], eval_ratio=0)
    (report,) = run_pipeline(settings, [script]).stats.files
    assert report.warning == (
        f"{script}: 2 byte(s) could not be read as utf-8 and became �, on 2 of 40 lines, the"
        " first on line 2; the rest of the file was read."
    )


def test_a_folder_that_cannot_be_listed_is_named_not_passed_over(tmp_path: Path) -> None:
    # Before: `Path.rglob` passed over it and the run read the rest with exit 0.
    game = tmp_path / "game"
    (game / "sub").mkdir(parents=True)
    shutil.copy(REPO / "tests/dataprep/fixtures/plain_zh.txt", game / "a.txt")
    shutil.copy(REPO / "tests/dataprep/fixtures/plain_zh.txt", game / "sub" / "c.txt")
    (game / "sub").chmod(0)
    out = tmp_path / "out"
    # Root lists any folder: the run is root without that power.
    command = as_a_user_file_modes_stop(
        [sys.executable, "-m", "atri", "prep", str(game), "--out", str(out)]
    )
    try:
        done = subprocess.run(
            command,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO), "HOME": str(tmp_path)},
            timeout=120,
        )
    finally:
        (game / "sub").chmod(0o755)
    said = " ".join((done.stdout + done.stderr).split())
    assert f"skipped: {game / 'sub'}: cannot be read (Permission denied)." in said
    assert done.returncode == 0, said  # a.txt was read


def test_the_training_hint_quotes_a_path_with_blanks(tmp_path: Path) -> None:
    out = tmp_path / "出力 dir" / "x y"
    console = Console(record=True, width=1000)
    settings = Settings(root=tmp_path)
    code = run_prep(
        settings, [REPO / "tests/dataprep/fixtures/plain_zh.txt"], out, None, "S", console
    )
    assert code == 0
    hint = console.export_text().split("Train on it with: ")[1].split()
    train_file = out / "atri_sharegpt.json"
    assert shlex.split(" ".join(hint)) == ["atri", "train", "--dataset", str(train_file)]


@pytest.mark.parametrize("value", ["", "  ", "data/dataset/", "data/dataset\\"])
def test_a_train_dataset_that_names_no_file_is_refused(value: str) -> None:
    # Before: prep wrote into the folder above, and train looked elsewhere.
    with pytest.raises(ConfigError) as err:
        settings_from_dict({"train": {"dataset": value}})
    assert "must name the training file" in str(err.value)


def test_the_train_command_is_never_cut_by_a_line_break(tmp_path: Path) -> None:
    """On an 80-column terminal rich wrapped the summary with real newlines, one inside
    the quoted dataset path: pasted, the command ran without it (s66)."""
    out = tmp_path / "a long folder name with blanks, 我的 ATRI 项目, it's #1" / "ds out"
    console = Console(record=True, width=60)
    settings = Settings(root=tmp_path)
    code = run_prep(
        settings, [REPO / "tests/dataprep/fixtures/plain_zh.txt"], out, None, "S", console
    )
    assert code == 0
    line = next(line for line in console.export_text().splitlines() if "Train on it with: " in line)
    command = shlex.split(line.split("Train on it with: ")[1])
    assert command == ["atri", "train", "--dataset", str(out / "atri_sharegpt.json")]
