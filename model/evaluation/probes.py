"""The in-character probe set: questions ATRI should answer as herself."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from atri.errors import UserError

PACKAGED_PROBES = Path(__file__).with_name("probes.toml")


class ProbeError(UserError):
    """A probe file that cannot be used; str() names the file and the problem."""


@dataclass(frozen=True)
class Probe:
    category: str
    zh: str
    en: str

    def text(self, language: str) -> str:
        """The probe in the dataset's language (Chinese unless the dataset is English)."""
        return self.en if language == "en" and self.en else self.zh or self.en


def load_probes(path: Path | None = None) -> list[Probe]:
    path = path or PACKAGED_PROBES
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProbeError(f"{path}: probe file not found; fix --probes or [eval] probes.") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProbeError(f"{path}: cannot be read as TOML ({exc}).") from None
    probes = []
    for i, entry in enumerate(data.get("probe", [])):
        if not isinstance(entry, dict):
            raise ProbeError(f"{path}: probe {i} must be a [[probe]] table.")
        zh, en = entry.get("zh", ""), entry.get("en", "")
        if not isinstance(zh, str) or not isinstance(en, str) or not (zh or en):
            raise ProbeError(f'{path}: probe {i} needs a "zh" or "en" question (a string).')
        probes.append(Probe(str(entry.get("category", "other")), zh, en))
    if not probes:
        raise ProbeError(f"{path}: no [[probe]] entries.")
    return probes
