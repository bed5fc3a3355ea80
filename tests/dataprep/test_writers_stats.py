"""Writers: rows equal to json.dumps, names from the character; the stats picture."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from dataprep.records import Role, Sample
from dataprep.stats import PlotFailed, PlotProcess, Stats, _compact, display_name, plot_stats
from dataprep.writers import dataset_stem, to_alpaca, to_messages, to_sharegpt, write_datasets

SAMPLES = [
    Sample(
        [
            (Role.LEAD, 'a "quote"\n\\ back'),
            (Role.CHARACTER, "一"),
            (Role.LEAD, "二"),
            (Role.CHARACTER, "三\t\u2028"),
        ],
        "s.txt",
        "1",
        [("s.txt", 4)],
    ),
    Sample([(Role.LEAD, "hi"), (Role.CHARACTER, "yo")], "s.txt", "2", [("s.txt", 9)]),
]


@pytest.mark.parametrize("system", ["你是{{user}}的朋友。", ""])
def test_streamed_rows_equal_json_dumps(tmp_path: Path, system: str) -> None:
    write_datasets(
        tmp_path, SAMPLES, SAMPLES[:1], system, ["sharegpt", "messages", "alpaca"], "mia"
    )
    sharegpt = json.loads((tmp_path / "mia_sharegpt.json").read_text(encoding="utf-8"))
    assert sharegpt == [to_sharegpt(s, system) for s in SAMPLES]
    lines = (tmp_path / "mia_messages.jsonl").read_text(encoding="utf-8").split("\n")[:-1]
    assert lines == [json.dumps(to_messages(s, system), ensure_ascii=False) for s in SAMPLES]
    alpaca = (tmp_path / "mia_alpaca.json").read_text(encoding="utf-8")
    rows = [json.dumps(to_alpaca(s, system), ensure_ascii=False) for s in SAMPLES]
    assert alpaca == "[\n" + ",\n".join(rows) + "\n]\n"
    assert json.loads((tmp_path / "mia_sharegpt_eval.json").read_text(encoding="utf-8")) == [
        to_sharegpt(SAMPLES[0], system)
    ]
    info = json.loads((tmp_path / "dataset_info.json").read_text(encoding="utf-8"))
    assert set(info) == {
        *("mia", "mia_eval", "mia_messages", "mia_messages_eval"),
        *("mia_alpaca", "mia_alpaca_eval"),
    }
    held_out = json.loads((tmp_path / "mia_alpaca_eval.json").read_text(encoding="utf-8"))
    assert held_out == [to_alpaca(SAMPLES[0], system)]


@pytest.mark.parametrize(
    ("aliases", "stem"),
    [
        (["ATRI", "亚托莉"], "atri"),
        (["Eileen"], "eileen"),
        (["亚托莉", "Atri"], "atri"),
        (["Mary Anne"], "mary_anne"),
        (["雪菜"], "character"),
    ],
)
def test_file_names_come_from_the_character(aliases: list[str], stem: str) -> None:
    assert dataset_stem(aliases) == stem


def test_compact_tick_labels() -> None:
    assert [_compact(v) for v in (0, 12, 999, 3400, 1_250_000, 2e9)] == [
        "0",
        "12",
        "999",
        "3.4k",
        "1.2M",
        "2G",
    ]


def test_name_without_a_cjk_font_falls_back_to_a_latin_alias() -> None:
    assert display_name("亚托莉", ["亚托莉", "ATRI"], can_draw_cjk=False) == "ATRI"
    assert display_name("雪菜", ["雪菜"], can_draw_cjk=False) == "the character"
    assert display_name("亚托莉", ["亚托莉"], can_draw_cjk=True) == "亚托莉"


def test_stats_picture_for_a_huge_and_a_tiny_run(tmp_path: Path) -> None:
    from matplotlib import pyplot as plt

    huge = Stats(character="Eileen", character_lines_in=2_000_003, character_lines_kept=1_900_000)
    huge.character_lines_dropped = Counter(too_long=100_000, duplicate=2, interjection_only=1)
    huge.reply_lengths = list(range(1, 400)) * 2000
    huge.samples = {"train": 1_700_000, "eval": 200_000}
    tiny = Stats(character="Eileen")
    for name, stats in (("huge", huge), ("tiny", tiny)):
        path = tmp_path / f"{name}.png"
        plot_stats(stats, path, ["Eileen"])
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.get_fignums()  # every figure closed


def _small_stats() -> Stats:
    stats = Stats(character="Eileen", character_lines_in=30, character_lines_kept=25)
    stats.character_lines_dropped = Counter(duplicate=4, too_long=1)
    stats.reply_lengths = [3, 5, 8, 13, 21] * 5
    stats.samples = {"train": 20, "eval": 5}
    return stats


def test_a_child_process_draws_the_same_picture(tmp_path: Path) -> None:
    plot_stats(_small_stats(), tmp_path / "here.png", ["Eileen"])
    child = PlotProcess()
    child.draw(_small_stats(), tmp_path / "child.png", ["Eileen"])
    child.wait()
    child.cancel()  # after wait: nothing left to stop
    assert (tmp_path / "child.png").read_bytes() == (tmp_path / "here.png").read_bytes()


def test_a_failed_child_says_why_and_a_cancelled_one_draws_nothing(tmp_path: Path) -> None:
    failing = PlotProcess()
    failing.draw(_small_stats(), tmp_path / "no such folder" / "stats.png")
    with pytest.raises(PlotFailed):
        failing.wait()
    cancelled = PlotProcess()
    cancelled.cancel()
    assert list(tmp_path.iterdir()) == []
