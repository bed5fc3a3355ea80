"""Session 51: tokenizers that need a package (a folder with tokenizer.model and no
tokenizer.json needs sentencepiece; InternLM3's and Baichuan2's own tokenizer code
imports it) told the user to copy in tokenizer files the folder has, or, with
trust_remote_code on, printed transformers' 70-line ImportError. sentencepiece is now a
dependency, a missing package is one sentence naming it, and a tokenizer that is the
model's own code asks for trust_remote_code first."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest

from atri.config import Settings
from atri.errors import UserError
from model.engines import loading
from model.engines.loading import RemoteCodeError, load_pretrained

REPO = Path(__file__).resolve().parents[3]
# transformers' own words, as it says them without sentencepiece installed.
TIKTOKEN_FALLBACK = (
    "`tiktoken` is required to read a `tiktoken` file. Install it with `pip install tiktoken`."
)
REMOTE_IMPORTS = (
    "This modeling file requires the following packages that were not found in your "
    "environment: sentencepiece. Run `pip install sentencepiece`"
)


def spm_folder(tiny_model_dir: Path, folder: Path, auto_map: bool = False) -> Path:
    """The tiny model as a sentencepiece model ships: tokenizer.model, no tokenizer.json."""
    shutil.copytree(tiny_model_dir, folder)
    (folder / "tokenizer.json").unlink()
    (folder / "tokenizer.model").write_bytes(b"\x00" * 64)
    config_path = folder / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["tokenizer_class"] = "LlamaTokenizer"
    if auto_map:
        config["auto_map"] = {"AutoTokenizer": ["tokenization_internlm3.InternLM3Tokenizer", None]}
    config_path.write_text(json.dumps(config), encoding="utf-8")
    return folder


def failing_tokenizer(monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    from transformers import AutoTokenizer

    def from_pretrained(*args: Any, **kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(AutoTokenizer, "from_pretrained", from_pretrained)


def test_a_sentencepiece_folder_without_sentencepiece_names_the_package(
    tiny_settings: Settings, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = str(spm_folder(tiny_model_dir, tmp_path / "spm"))
    tiny_settings.model.base = source
    failing_tokenizer(monkeypatch, ValueError(TIKTOKEN_FALLBACK))
    monkeypatch.setattr(loading, "_installed", lambda package: package != "sentencepiece")
    with pytest.raises(UserError) as raised:
        load_pretrained(tiny_settings, source)
    assert str(raised.value).endswith(
        "this model's tokenizer needs the Python package sentencepiece: pip install sentencepiece"
    )
    assert "copy in" not in str(raised.value)


def test_remote_tokenizer_code_missing_a_package_is_one_sentence(
    tiny_settings: Settings, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = str(spm_folder(tiny_model_dir, tmp_path / "internlm3", auto_map=True))
    tiny_settings.model.base = source
    tiny_settings.model.trust_remote_code = True
    failing_tokenizer(monkeypatch, ImportError(REMOTE_IMPORTS))
    with pytest.raises(UserError, match=r"needs the Python package sentencepiece: pip"):
        load_pretrained(tiny_settings, source)


def test_a_tokenizer_that_is_the_model_s_own_code_asks_for_trust_first(
    tiny_settings: Settings, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = str(spm_folder(tiny_model_dir, tmp_path / "internlm3", auto_map=True))
    tiny_settings.model.base = source
    assert tiny_settings.model.trust_remote_code is False
    # Without trust, transformers reads tokenizer.model itself and names what it lacks.
    failing_tokenizer(monkeypatch, ValueError(TIKTOKEN_FALLBACK))
    with pytest.raises(RemoteCodeError, match=r"set \[model\] trust_remote_code = true"):
        load_pretrained(tiny_settings, source)


def test_a_tiktoken_tokenizer_without_tiktoken_names_tiktoken(
    tiny_settings: Settings, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "kimi"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "tokenizer.json").unlink()
    (folder / "tiktoken.tiktoken").write_text("", encoding="utf-8")
    tiny_settings.model.base = str(folder)
    failing_tokenizer(monkeypatch, ValueError(TIKTOKEN_FALLBACK))
    monkeypatch.setattr(loading, "_installed", lambda package: package != "tiktoken")
    with pytest.raises(UserError, match=r"needs the Python package tiktoken: pip"):
        load_pretrained(tiny_settings, str(folder))


def test_a_folder_without_tokenizer_files_is_still_told_to_copy_them_in(
    tiny_settings: Settings, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "weights"
    folder.mkdir()
    shutil.copy(tiny_model_dir / "config.json", folder / "config.json")
    tiny_settings.model.base = str(folder)
    # transformers names both packages whatever is installed.
    monkeypatch.setattr(loading, "_installed", lambda package: False)
    with pytest.raises(UserError, match=r"no tokenizer could be loaded from .*; copy in"):
        load_pretrained(tiny_settings, str(folder))


def test_sentencepiece_is_a_pinned_dependency() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    names = [d.split(">")[0].split("=")[0].strip() for d in project["project"]["dependencies"]]
    assert "sentencepiece" in names
    pins = (REPO / "constraints.txt").read_text(encoding="utf-8").splitlines()
    assert any(line.startswith("sentencepiece==") for line in pins)
