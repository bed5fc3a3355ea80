"""The in-character probe set: questions ATRI should answer as herself."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from atri.config import LANGUAGE_NAMES
from atri.errors import UserError
from atri.text_files import NotUtf8Error, read_hand_written

PACKAGED_PROBES = Path(__file__).with_name("probes.toml")


class ProbeError(UserError):
    """A probe file that cannot be used; str() names the file and the problem."""


# The keys a [[probe]] table may have: its category and its question in each language.
PROBE_KEYS = ("category", "zh", "en", "ja")


@dataclass(frozen=True)
class Probe:
    category: str
    zh: str
    en: str
    ja: str = ""

    def has(self, language: str) -> bool:
        return bool(getattr(self, language, "")) if language in LANGUAGE_NAMES else False

    def naming(self, char: str, user: str) -> Probe:
        """The probe with her name for `{{char}}` and the person's for `{{user}}`, as a
        card's text is filled in (`{{char}}` was asked as written)."""
        from model.character.card_formats import fill_names

        return Probe(
            self.category,
            fill_names(self.zh, char, user),
            fill_names(self.en, char, user),
            fill_names(self.ja, char, user),
        )

    def asked_in(self, language: str) -> str:
        """The language the probe is asked in: hers, else Chinese, English, Japanese."""
        return next(lang for lang in (language, "zh", "en", "ja") if self.has(lang))

    def text(self, language: str) -> str:
        """The probe in the language she speaks, or the one it has (`asked_in`)."""
        return str(getattr(self, self.asked_in(language)))


def fallback_note(probes: list[Probe], language: str) -> str:
    """A sentence when some probes have no question in `language`: they are asked in
    another one, and her replies then say little about how she speaks it."""
    missing = [p for p in probes if not p.has(language)]
    if not missing:
        return ""
    spoken = LANGUAGE_NAMES.get(language, f'"{language}"')
    asked = sorted({LANGUAGE_NAMES[p.asked_in(language)] for p in missing})
    return (
        f"{len(missing)} of {len(probes)} probes have no {spoken} question "
        f"(no {language} = in the probe file); asked in {' and '.join(asked)} instead."
    )


# Below this many probes one reply moves the out-of-character rate by over 10 points, and
# the reload job's allowance for chance (two rates over n replies each) passes nearly
# any version: the figures still print, but the gate is said to be toothless.
FEW_PROBES = 10


def few_probes_note(count: int) -> str:
    """A sentence when `count` probes are too few for the reload job's comparison."""
    if count >= FEW_PROBES:
        return ""
    share = 100 / count
    packaged = len(load_probes(PACKAGED_PROBES))
    return (
        f"Only {count} probe{'s' if count != 1 else ''}: one reply moves the "
        f"out-of-character rate by {share:.0f} points, more than the reload job can tell "
        "from chance, so with [reload] require_eval it lets through almost any version "
        f"evaluated this way; use {FEW_PROBES} or more (the packaged set has {packaged}) for the "
        "evaluation it gates on."
    )


def load_probes(path: Path | None = None) -> list[Probe]:
    path = path or PACKAGED_PROBES
    try:
        data = tomllib.loads(read_hand_written(Path(path)))
    except FileNotFoundError:
        raise ProbeError(f"{path}: probe file not found; fix --probes or [eval] probes.") from None
    except NotUtf8Error as exc:
        raise ProbeError(f"{path}: probe file {exc}.") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProbeError(f"{path}: cannot be read as TOML ({exc}).") from None
    probes = []
    for i, entry in enumerate(data.get("probe", [])):
        if not isinstance(entry, dict):
            raise ProbeError(f"{path}: probe {i} must be a [[probe]] table.")
        # A key the run does not read ("answer", "expected") would be checked by nothing
        # while the author believes it is: refused, as the file's other mistakes are.
        if unknown := [key for key in entry if key not in PROBE_KEYS]:
            raise ProbeError(
                f"{path}: probe {i} has {'keys' if len(unknown) > 1 else 'a key'} a probe does"
                f" not have: {', '.join(unknown)}; a probe has {', '.join(PROBE_KEYS[:-1])}"
                f" and {PROBE_KEYS[-1]} only (replies are not compared with an expected answer)."
            )
        zh, en, ja = entry.get("zh", ""), entry.get("en", ""), entry.get("ja", "")
        if not all(isinstance(q, str) for q in (zh, en, ja)):
            raise ProbeError(f'{path}: probe {i} needs a "zh", "ja" or "en" question (a string).')
        zh, en, ja = zh.strip(), en.strip(), ja.strip()  # a blank one was asked as it was
        if not (zh or en or ja):
            raise ProbeError(f'{path}: probe {i} needs a "zh", "ja" or "en" question (a string).')
        category = entry.get("category", "other")
        if not isinstance(category, str) or not category.strip():
            raise ProbeError(f"{path}: probe {i}'s category must be a word (a string).")
        probes.append(Probe(category.strip(), zh, en, ja))
    if not probes:
        raise ProbeError(f"{path}: no [[probe]] entries.")
    return probes
