"""README's "The export file" names the version `atri memory export` writes, and the
older versions `import` reads: it said 7 and "1 to 6" after exports became version 8."""

from __future__ import annotations

import json
import re
from pathlib import Path

from model.memory import Memory
from tests.atri.memory_cli import atri, memory_config

README = " ".join((Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8").split())


def test_readme_names_the_version_an_export_has(tmp_path: Path) -> None:
    async def fill(memory: Memory) -> None:
        await memory.append_many("qq:user:42", [("user", "42", "Max", "Ahoy!", "")])

    config = memory_config(tmp_path, fill)
    out = tmp_path / "qq-42.json"
    assert atri(config, "memory", "export", "qq:user:42", "--out", str(out))[0] == 0
    version = json.loads(out.read_text(encoding="utf-8"))["version"]

    said = re.search(r'`export SCOPE` writes one scope as JSON \(.*?`"version": (\d+)`', README)
    assert said and int(said[1]) == version
    older = re.search(
        r"`import` reads an export or a backup \(also version 1 to (\d+) files", README
    )
    assert older and int(older[1]) == version - 1
