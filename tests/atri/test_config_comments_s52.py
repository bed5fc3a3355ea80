"""The shipped config.toml's `[model] adapters_dir` comment said every version trained as
another card's character is refused; one from before manifests recorded the character
records none and is taken by any character's worker, and the comment (and README) says so."""

from __future__ import annotations

from pathlib import Path

from model.adapters.versions import trained_as

ROOT = Path(__file__).parents[2]
COMMENTS = " ".join(
    line.lstrip("# ").strip()
    for line in (ROOT / "config.toml").read_text(encoding="utf-8").splitlines()
    if line.startswith("#")
)
README = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())


def test_a_version_recording_no_character_is_taken_by_any_as_the_comment_says() -> None:
    assert trained_as({"base_model": "builtin:smollm2-135m"}) is None  # an older manifest
    assert (
        "A version from before manifests recorded the character (trained by an older ATRI) "
        "is taken by any character's worker." in COMMENTS
    )
    assert (
        "A version from before manifests recorded the character (trained by an older ATRI) "
        "records none, and any character's worker takes it." in README
    )
