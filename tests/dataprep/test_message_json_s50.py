"""JSON message lists as fan translators' tools write them (GalTransl json_jp / json_zh,
SExtractor, VNTextPatch: `[{"name": …, "message": …}]`; GalTransl's transl_cache with
both sides of each line). They were not read at all: a .json file was read as a plain
dump ("no dialogue found as plain"), and a folder of them had "No script files found"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from atri.cli import app
from atri.config import DataprepSettings
from dataprep.errors import DataprepError
from dataprep.formats import ParseOptions, compile_markers, detect_format, parse
from dataprep.pipeline import PrepResult, run_pipeline
from dataprep.sources import collect_scripts

MESSAGES = [
    {"name": "夏生", "message": "「おはよう、アトリ」"},
    {"name": "アトリ", "message": "「おはようございます、夏生さん」", "n": 1, "pre_jp": "「…」"},
    {"message": "海の音がする。"},
    {"name": "", "message": "波が寄せては返す。"},
    {"name": "夏生", "message": "「今日は何をする？」"},
    {"name": "アトリ", "message": "「海に行きましょう！\n　夏生さんも一緒に」"},
]


def cache_entry(index: int, name: str, jp: str, zh: str, preview: str | None = None) -> dict:
    """A GalTransl transl_cache entry: pre_zh is the engine's line, post_zh_preview the
    final one (quotes put back, punctuation full-width)."""
    entry: dict[str, object] = {
        "index": index,
        "name": name,
        "pre_jp": jp,
        "post_jp": jp.strip("「」"),
        "pre_zh": zh,
        "proofread_zh": "",
        "trans_by": "sakura-009",
        "proofread_by": "",
    }
    if preview is not None:
        entry["post_zh_preview"] = preview
    return entry


CACHE = [
    cache_entry(1, "夏生", "「おはよう、アトリ」", "早上好,亚托莉", "「早上好，亚托莉」"),
    cache_entry(2, "アトリ", "「おはようございます」", "早上好,夏生先生", "「早上好，夏生先生」"),
    cache_entry(3, "", "海の音がする。", "能听到海的声音。", "能听到海的声音。"),
    cache_entry(4, "夏生", "「今日は何をする？」", "今天做什么?", "「今天做什么？」"),
    cache_entry(5, "アトリ", "「海に行きましょう！」", "", ""),  # not translated yet
    cache_entry(6, "夏生", "「いいね」", "好啊"),  # saved before post-processing
    cache_entry(7, "アトリ", "「はい！」", "好的！", "「好的！」"),
]


def dumped(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)


def write(folder: Path, name: str, value: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(dumped(value), encoding="utf-8")
    return path


def run(paths: list[Path], **dataprep: object) -> PrepResult:
    settings = DataprepSettings(eval_ratio=0, user_placeholder=False, **dataprep)  # type: ignore[arg-type]
    return run_pipeline(settings, paths)


def replies(result: PrepResult) -> list[tuple[str, str]]:
    return [(s.prompt, s.reply) for s in result.train]


def test_a_message_list_gives_speakers_narration_and_file_lines() -> None:
    said = parse(dumped(MESSAGES), "scene01.json", "json", ParseOptions())
    assert [(u.speaker, u.text) for u in said] == [
        ("夏生", "「おはよう、アトリ」"),
        ("アトリ", "「おはようございます、夏生さん」"),
        (None, "海の音がする。"),
        (None, "波が寄せては返す。"),  # an empty name is narration too
        ("夏生", "「今日は何をする？」"),
        ("アトリ", "「海に行きましょう！夏生さんも一緒に」"),  # the text box's wrap joined
    ]
    # Each at the line its object starts on (indent=2: `[`, then 4 lines an object...).
    lines = [i + 1 for i, line in enumerate(dumped(MESSAGES).splitlines()) if line == "  {"]
    assert [u.line for u in said] == lines
    assert {u.scene for u in said} == {"0"} and all(u.dropped is None for u in said)


def test_names_and_a_scene_marker_in_narration() -> None:
    messages = [
        {"names": ["夏生"], "message": "「行こう」"},
        {"names": ["夏生", "アトリ"], "message": "「せーの」"},
        {"message": "第二章"},
        {"name": "アトリ", "message": "「はい」"},
    ]
    options = ParseOptions(scene_marker=compile_markers(DataprepSettings().scene_markers))
    said = parse(dumped(messages), "s.json", "json", options)
    assert [(u.speaker, u.text, u.scene) for u in said] == [
        ("夏生", "「行こう」", "0"),
        ("夏生、アトリ", "「せーの」", "0"),  # said together: no one's alias
        ("アトリ", "「はい」", "1"),
    ]


@pytest.mark.parametrize("side", ["translation", "original"])
def test_a_translation_cache_reads_the_chosen_side(side: str) -> None:
    said = parse(dumped(CACHE), "c.json", "json", ParseOptions(dump_side=side))
    got = [(u.speaker, u.text, u.dropped) for u in said]
    if side == "original":
        assert got == [(e["name"] or None, e["pre_jp"], None) for e in CACHE]
        return
    assert got == [
        ("夏生", "「早上好，亚托莉」", None),  # post_zh_preview: the final line
        ("アトリ", "「早上好，夏生先生」", None),
        (None, "能听到海的声音。", None),
        ("夏生", "「今天做什么？」", None),
        ("アトリ", "「海に行きましょう！」", "untranslated"),  # kept, unusable
        ("夏生", "好啊", None),  # no preview yet: the engine's line
        ("アトリ", "「好的！」", None),
    ]


def test_a_proofread_line_stands_in_for_a_missing_preview_and_a_failed_one_is_dropped() -> None:
    proofread = cache_entry(1, "アトリ", "「はい」", "是", None)
    proofread["proofread_zh"] = "嗯！"
    failed = cache_entry(2, "アトリ", "「いいえ」", "(Failed)「いいえ」", None)
    said = parse(dumped([proofread, failed]), "c.json", "json", ParseOptions())
    assert [(u.text, u.dropped) for u in said] == [("嗯！", None), ("「いいえ」", "untranslated")]


def test_json_that_is_no_message_list_is_one_sentence() -> None:
    for value in ({"atri": {"file_name": "atri_sharegpt.json"}}, [{"conversations": []}], []):
        with pytest.raises(DataprepError) as err:
            parse(dumped(value), "dataset_info.json", "json", ParseOptions())
        assert str(err.value).startswith("dataset_info.json: is JSON")
        assert "GalTransl" in str(err.value)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('[\n  {"name": "夏生", "message": "「よう」"}\n  {"message": "x"}\n]', "line 3, column 3"),
        ('[\n  {"name": "夏生", "message": "「よう」",\n]', "line 3, column 1"),
        ('{\n  "a": 1,\n}', "line 3, column 1"),
        ('[{"message": "x"}]\n]', "line 2, column 1"),
        ('[\n  {"message": "x"},', "line 2, column 20"),
    ],
)
def test_broken_json_names_the_file_line_and_column(text: str, where: str) -> None:
    with pytest.raises(DataprepError) as err:
        parse(text, "scene01.json", "json", ParseOptions())
    message = str(err.value)
    assert message.startswith("scene01.json: is not valid JSON (") and where in message
    assert message.count(". ") == 0 and message.endswith(".")  # one sentence


def test_detect_format() -> None:
    text = dumped(MESSAGES)
    assert detect_format(text, "scene01.json") == "json"
    assert detect_format(text, "scene01.txt") == "json"  # by its head
    assert detect_format(dumped(CACHE), "cache.txt") == "json"
    assert detect_format('{"name": "atri"}', "package.json") == "json"  # then skipped
    assert detect_format('[{"a": 1}]', "x.txt") != "json"
    assert detect_format("夏生：「おはよう」\nアトリ：「はい」\n", "a.txt") == "plain"


def test_a_folder_finds_json_files(tmp_path: Path) -> None:
    write(tmp_path / "json_jp", "scene01.json", MESSAGES)
    assert collect_scripts([tmp_path]) == [tmp_path / "json_jp" / "scene01.json"]


def test_the_pipeline_on_json_beside_a_dataset_info_and_a_broken_file(tmp_path: Path) -> None:
    folder = tmp_path / "scripts"
    write(folder, "scene01.json", MESSAGES)
    write(folder, "dataset_info.json", {"atri": {"file_name": "atri_sharegpt.json"}})
    (folder / "broken.json").write_text('[\n{"message": "x"\n', encoding="utf-8")
    (folder / "notes.txt").write_text("夏生：「眠い」\nアトリ：「寝ましょう」\n", encoding="utf-8")
    # Forcing a text format leaves the .json files to the json reader.
    for forced in ("auto", "plain"):
        result = run([folder], format=forced)
        assert sorted(replies(result)) == [
            ("おはよう、アトリ", "おはようございます、夏生さん"),
            ("今日は何をする？", "海に行きましょう！夏生さんも一緒に"),
            ("眠い", "寝ましょう"),
        ]
        errors = {Path(f.path).name: f.error for f in result.files if f.error}
        assert set(errors) == {"dataset_info.json", "broken.json"}
        assert "is JSON but not a list of messages" in str(errors["dataset_info.json"])
        assert "is not valid JSON" in str(errors["broken.json"])
        assert "line 3, column 1" in str(errors["broken.json"])
        assert (
            result.without_dialogue
        ) == "1 .json file is no message list, so no script (dataset_info.json)."
        assert not any("dataset_info" in e for e in result.errors)
        formats = {Path(f.path).name: f.format for f in result.files}
        assert formats["scene01.json"] == "json" and formats["notes.txt"] == forced.replace(
            "auto", "plain"
        )


def test_narration_alone_is_no_dialogue_with_no_other_format_suggested(tmp_path: Path) -> None:
    path = write(tmp_path, "n.json", [{"message": "海の音がする。"}, {"message": "風が吹く。"}])
    result = run([path])
    error = str(result.files[0].error)
    assert "no dialogue found as json" in error and "try --format" not in error


@pytest.mark.parametrize("side", ["translation", "original"])
def test_atri_prep_on_a_folder_of_transl_cache_files(tmp_path: Path, side: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[dataprep]\neval_ratio = 0\nuser_placeholder = false\ndump_side = "{side}"\n',
        encoding="utf-8",
    )
    write(tmp_path / "transl_cache", "a.json", CACHE)
    write(tmp_path / "transl_cache", "package.json", {"name": "x", "version": "1.0.0"})
    out = tmp_path / "out"
    result = CliRunner(env={"COLUMNS": "400"}).invoke(
        app, ["--config", str(config), "prep", str(tmp_path / "transl_cache"), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    # A .json beside the scripts that is no message list is one line, not a sentence each.
    assert "1 .json file is no message list, so no script (package.json)." in result.output
    written = json.loads((out / "atri_sharegpt.json").read_text("utf-8"))
    pairs = sorted(
        (c["conversations"][-2]["value"], c["conversations"][-1]["value"]) for c in written
    )
    if side == "translation":
        # 「海に行きましょう！」 is untranslated: its exchange ends there, as the game shows it.
        assert pairs == sorted([("早上好，亚托莉", "早上好，夏生先生"), ("好啊", "好的！")])
    else:
        assert pairs == sorted(
            [
                ("おはよう、アトリ", "おはようございます"),
                ("今日は何をする？", "海に行きましょう！"),
                ("いいね", "はい！"),
            ]
        )


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.sampled_from(["", "夏生", "「はい」", "\n"]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["name", "names", "message", "pre_jp", "pre_zh", "post_zh_preview"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES, st.sampled_from(["translation", "original"]))
def test_any_json_is_read_or_one_sentence(value: object, side: str) -> None:
    try:
        said = parse(dumped(value), "f.json", "json", ParseOptions(dump_side=side))
    except DataprepError as exc:
        assert str(exc).startswith("f.json: is JSON but not a list of messages")
        return
    assert all(u.text.strip() and u.line >= 1 for u in said)
