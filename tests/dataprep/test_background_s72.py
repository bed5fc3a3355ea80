"""Session 72 knowledge review of background facts through `atri prep`: 4 samples drawn at
random from 17 question/answer pairs left 3 of 6 facts untaught without a word; Markdown
`A:`/`答：` labels stayed in her replies and `**Q:**`/`Question:` were no questions; `#summer`
ended a fact and `## Minamo ##` kept its hashes; world facts were asked "Tell me about your
Eden." and "my battery" as "Tell me about my battery."."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from atri.cli import app

EILEEN = {"spec": "chara_card_v2", "data": {"name": "Eileen", "description": "A sailor girl."}}
SCRIPT = "".join(
    f"Chapter {n}\nMax: Good morning, Eileen. {n}\nEileen: Good morning, captain! {n}\n"
    f"Max: Shall we sail? {n}\nEileen: Yes, I packed sandwiches for the trip. {n}\n"
    for n in range(1, 5)
)
WORLD = "".join(
    f'[[fact]]\ntopic = "{topic}"\nanswer = "{topic} is place number {n} of the harbour."\n'
    f'questions = ["Where is {topic}?", "Is {topic} far?"]\n'
    for n, topic in enumerate(["Eden", "Port Lark", "Gull Rock", "Saltmarsh", "Tidewater"], 1)
)


def prep(
    tmp_path: Path, background: str, name: str, ratio: float
) -> tuple[list[tuple[str, str]], str]:
    """(question, answer) of every background sample `atri prep` writes, and its output."""
    (tmp_path / "eileen.json").write_text(json.dumps(EILEEN), encoding="utf-8")
    (tmp_path / name).write_text(background, encoding="utf-8")
    (tmp_path / "script.txt").write_text(SCRIPT, encoding="utf-8")
    (tmp_path / "config.toml").write_text(
        '[persona]\ncard = "eileen.json"\n[dataprep]\nlead_aliases = ["Max"]\n'
        f'character_aliases = ["Eileen"]\nbackground = "{name}"\nbackground_ratio = {ratio}\n'
        "eval_ratio = 0\n",
        encoding="utf-8",
    )
    config = str(tmp_path / "config.toml")
    run = CliRunner().invoke(app, ["--config", config, "prep", str(tmp_path / "script.txt")])
    assert run.exit_code == 0, run.output
    written = json.loads(
        (tmp_path / "data" / "dataset" / "eileen_sharegpt.json").read_text("utf-8")
    )
    script_lines = SCRIPT.splitlines()
    pairs = [(s["conversations"][0]["value"], s["conversations"][1]["value"]) for s in written]
    return [p for p in pairs if not any(p[0] in line for line in script_lines)], run.output


# 1. Facts first: each fact once before any fact twice, and a note on those left out.


def test_every_fact_is_taught_before_any_is_taught_twice(tmp_path: Path) -> None:
    # 8 dialogue samples at ratio 0.4 ask for 5 background samples: one per fact.
    pairs, output = prep(tmp_path, WORLD, "world.toml", 0.4)
    assert len(pairs) == 5
    assert sorted(answer.split()[0] for _, answer in pairs) == [
        "Eden", "Gull", "Port", "Saltmarsh", "Tidewater"
    ]  # fmt: skip
    assert "in no train sample" not in output


def test_facts_the_ratio_leaves_out_are_named_with_what_to_change(tmp_path: Path) -> None:
    pairs, output = prep(tmp_path, WORLD, "world.toml", 0.2)
    assert len(pairs) == 2  # 8 dialogue samples at 0.2: 2 background samples, 2 facts
    flat = " ".join(output.split())
    assert "3 of 5 background facts are in no train sample" in flat, output
    assert "Saltmarsh" in flat and "raise background_ratio" in flat


# 2. and 3. Markdown: question and answer labels, hashtags, closing hashes, lists, comments.

MARKDOWN = """# Harbour notes
## Eden
**Q:** What is Eden?
**A:** Eden is the city of the rich.
<!-- TODO: add dates -->
## 小镇
问：小镇怎么了？
答：小镇正在沉入大海。
## 電池
質問：バッテリーはどのくらい持つ？
答え：けっこう長持ちだよ！
## Minamo Kamiyama ##
Question: Who is Minamo?
Answer: Minamo is the class rep.
## Dates
The story takes place in summer.
#summer #sea
And the festival is in August.
```
# not a heading
```
## Rules
- I run on sandwiches.
- #1 rule: never skip lunch!
"""


def test_markdown_labels_headings_and_lists_are_read_as_markdown_means_them(
    tmp_path: Path,
) -> None:
    pairs, _ = prep(tmp_path, MARKDOWN, "lore.md", 0.9)
    answers = dict(pairs)
    assert answers["What is Eden?"] == "Eden is the city of the rich."
    assert answers["小镇怎么了？"] == "小镇正在沉入大海。"
    assert answers["バッテリーはどのくらい持つ？"] == "けっこう長持ちだよ！"
    assert answers["Who is Minamo?"] == "Minamo is the class rep."
    assert answers["Tell me about Minamo Kamiyama."] == "Minamo is the class rep."
    assert answers["Tell me about Dates."] == (
        "The story takes place in summer. #summer #sea And the festival is in August.\n"
        "# not a heading"
    )
    # Bullets lose their marks (session 76); "Rules", a common word, is asked in lower case.
    assert answers["Tell me about your rules."] == (
        "I run on sandwiches.\n#1 rule: never skip lunch!"
    )


# 4. "your" only for what is hers; her "my" asked as "your".


def test_world_facts_are_asked_without_your_and_her_my_becomes_your(tmp_path: Path) -> None:
    facts = (
        '[[fact]]\ntopic = "Eden"\nanswer = "Eden is the city of the rich. I saw it once."\n'
        '[[fact]]\ntopic = "my battery"\nanswer = "My battery lasts all day!"\n'
        '[[fact]]\ntopic = "ship"\nanswer = "My ship is the Sea Lark."\n'
    )
    asked = {question for question, _ in prep(tmp_path, facts, "bg.toml", 0.9)[0]}
    assert {"Tell me about Eden.", "What can you tell me about Eden?"} <= asked
    assert {"Tell me about your battery.", "Tell me about your ship."} <= asked
    assert not any("your Eden" in q or "my battery" in q for q in asked), asked
