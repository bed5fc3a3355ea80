"""README.md, the format reference it links (dataprep/README.md) and the shipped
config.toml say only what the code does.

Every `atri …` command line the docs show names a real command and real flags, every
`[section] key` they name is a real setting, and config.toml holds every setting at its
built-in default. Nothing here loads a model: the CLI is read as typer builds it.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, get_args

import pytest
import typer
from typer.core import TyperGroup

from atri.cli import app
from atri.config import RENAMED_KEYS, ModelSettings, Section, Settings, settings_from_dict

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
# The per-format detail of `atri prep`, moved out of README.md: checked as README is.
DATAPREP_README = (REPO / "dataprep" / "README.md").read_text(encoding="utf-8")
DOCS = {"README.md": README, "dataprep/README.md": DATAPREP_README}
CONFIG_TOML = (REPO / "config.toml").read_text(encoding="utf-8")

# Keys whose value in the shipped config.toml deliberately differs from the built-in
# default, each with the reason. Keep it small: users read the file as the defaults.
SHIPPED_DIFFERS_FROM_DEFAULT: dict[tuple[str, str], str] = {}

# A fenced block, also one indented under a list item.
FENCE = re.compile(r"^[ \t]*```([\w-]*)[^\n]*\n(.*?)^[ \t]*```", re.MULTILINE | re.DOTALL)
# `atri` as a command: at the start, after a space, `(` or a path's bin/; never a slash
# command (`/atri reset`), a package (`bot.qq.atri`), a model name ("atri") or `atri-admin`.
ATRI_COMMAND = re.compile(r"(?:^|(?<=[\s(])|(?<=bin/))atri(?![\w-])[ \t]+([^\n#;]*)", re.M)
# `[section] key`; a section followed by a word of prose ("[train] in config.toml") is
# no reference.
SECTION_KEY = re.compile(
    r"\[([a-z_]+)\]\s+(?!(?:in|is|and|or|of|the|to|for|with|on)\b)([a-z_][a-z0-9_]*)"
)


# Each `[section]` of the file and its settings model (root and notices are no section).
SECTIONS: dict[str, type[Section]] = {
    name: field.annotation
    for name, field in Settings.model_fields.items()
    if isinstance(field.annotation, type) and issubclass(field.annotation, Section)
}


def _code_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced block."""
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(text)]


# A run of backticks: a code span opens with one and closes with the next run of the
# same length (CommonMark), so ```` `` ``` `` ```` is one span holding backticks.
BACKTICKS = re.compile(r"`+")


def _code_spans(text: str) -> list[str]:
    """The inline code spans outside fenced blocks (a span may run over a line break)."""
    prose = FENCE.sub("", text)
    spans = []
    at = 0
    while opening := BACKTICKS.search(prose, at):
        run = opening.group()
        closing = next(
            (m for m in BACKTICKS.finditer(prose, opening.end()) if m.group() == run), None
        )
        if closing is None:  # no closing run: literal backticks
            at = opening.end()
            continue
        spans.append(prose[opening.end() : closing.start()])
        at = closing.end()
    return spans


def _command_lines(text: str) -> list[str]:
    """Every `atri …` command line in a text's code spans and code blocks (a line's
    comment cut off)."""
    found = []
    for piece in _code_spans(text) + [body for _, body in _code_blocks(text)]:
        for match in ATRI_COMMAND.finditer(piece):
            words = match.group(1).split()
            if words:
                found.append(" ".join(words))
    return found


def _cli() -> TyperGroup:
    # typer builds its own copy of click's objects: a group is a TyperGroup.
    command = typer.main.get_command(app)
    assert isinstance(command, TyperGroup)
    return command


def _flags(command: Any) -> set[str]:
    """Every option spelling a command takes, `--x/--no-x` pairs and short forms included."""
    names = {"--help"}
    for param in command.params:
        if param.param_type_name == "option":
            names.update(param.opts, param.secondary_opts)
    return names


def command_problems(line: str, cli: TyperGroup) -> list[str]:
    """What in one `atri …` line the CLI does not have ([] when all of it exists)."""
    problems = []
    words = [w.strip("`.,:") for w in line.split()]
    top_flags = _flags(cli)
    index = 0
    while index < len(words) and words[index].startswith("-"):
        word = words[index]
        if word.split("=")[0] not in top_flags:
            problems.append(f"`atri {line}`: atri has no option {word}")
        # --config PATH takes a value; the next word is not the command.
        index += 2 if word in {"--config", "-c"} else 1
    if index >= len(words) or words[index] in {"…", "..."}:
        return problems
    name = words[index]
    command = cli.commands.get(name)
    if command is None:
        return [*problems, f"`atri {line}`: atri has no command {name!r}"]
    index += 1
    if isinstance(command, TyperGroup):
        # The group's own options (`atri memory --config PATH list`) come first.
        while index < len(words) and words[index].startswith("-"):
            word = words[index]
            if word.split("=")[0] not in _flags(command):
                problems.append(f"`atri {line}`: `atri {name}` has no option {word}")
            index += 2 if word in {"--config", "-c"} else 1
        if index >= len(words):
            return problems
        subcommands: dict[str, Any] = {}
        for sub in words[index].split("|"):  # `atri memory list|show|reset`
            if sub not in command.commands:
                problems.append(f"`atri {line}`: `atri {name}` has no command {sub!r}")
            else:
                subcommands[f"{name} {sub}"] = command.commands[sub]
        index += 1
    else:
        subcommands = {name: command}
    for word in words[index:]:
        if not word.startswith("--") and not re.fullmatch(r"-[a-z]", word):
            continue
        flag = word.split("=")[0]
        for label, sub in subcommands.items():
            if flag not in _flags(sub):
                problems.append(f"`atri {line}`: `atri {label}` has no option {flag}")
    return problems


def _field_names(section: str) -> set[str]:
    model = SECTIONS.get(section)
    return set(model.model_fields) if model else set()


def key_problems(pieces: list[str], source: str, whole: str) -> list[str]:
    """Each `[section] key` named in `pieces` (code spans, comments, help texts of
    `whole`) that is no setting. An old key name the loader still reads passes only
    where the paragraph naming it says it is old."""
    problems = []
    for piece in pieces:
        for match in SECTION_KEY.finditer(piece):
            section, key = match.groups()
            if section not in SECTIONS:
                problems.append(f"{source}: [{section}] {key}: there is no section [{section}]")
            elif key not in _field_names(section) and not (
                (section, key) in RENAMED_KEYS and _said_to_be_old(match.group(0), whole)
            ):
                problems.append(f"{source}: [{section}] {key}: [{section}] has no key {key!r}")
    return problems


def _said_to_be_old(reference: str, whole: str) -> bool:
    for paragraph in re.split(r"\n\s*\n", whole):
        if reference in " ".join(paragraph.split()) and re.search(r"\bold\b", paragraph):
            return True
    return False


def _doc_key_pieces(doc: str) -> list[str]:
    """Where a doc names settings: its code spans and its non-TOML code blocks (TOML
    blocks are checked whole, as config files)."""
    blocks = [body for lang, body in _code_blocks(doc) if lang != "toml"]
    return [" ".join(span.split()) for span in _code_spans(doc)] + blocks


def test_every_atri_command_in_the_docs_exists() -> None:
    cli = _cli()
    lines = [line for doc in [*DOCS.values(), CONFIG_TOML] for line in _command_lines(doc)]
    assert len(lines) > 30, "the README's command lines were not found"
    assert _command_lines(DATAPREP_README), "dataprep/README.md's command lines were not found"
    problems = [p for line in lines for p in command_problems(line, cli)]
    assert problems == []


def test_the_readme_shows_every_command() -> None:
    shown = set()
    for line in _command_lines(README):
        line = re.sub(r"^(?:(?:--config|-c) \S+ |-\S+ )*", "", line)  # options before it
        words = [w for w in line.split() if not w.startswith("-")]
        if words:
            shown.add(words[0])
            shown.update(f"{words[0]} {sub}" for sub in words[1:2] for sub in sub.split("|"))
    cli = _cli()
    commands = [
        f"{name} {sub}" if sub else name
        for name, command in cli.commands.items()
        for sub in (list(command.commands) if isinstance(command, TyperGroup) else [""])
    ]
    assert [c for c in commands if c not in shown] == [], "README never shows these commands"


@pytest.mark.parametrize(("name", "least"), [("README.md", 30), ("dataprep/README.md", 5)])
def test_every_section_key_the_docs_name_exists(name: str, least: int) -> None:
    pieces = _doc_key_pieces(DOCS[name])
    assert sum(len(SECTION_KEY.findall(p)) for p in pieces) > least, "no [section] keys found"
    assert key_problems(pieces, name, DOCS[name]) == []


def test_every_section_key_in_config_comments_and_cli_help_exists() -> None:
    # A comment's reference may run over into the next comment line.
    comments = "\n".join(
        line.lstrip("# ") for line in CONFIG_TOML.splitlines() if line.lstrip().startswith("#")
    )
    helps = []
    for command in _walk(_cli()):
        helps.append(command.help or "")
        helps.extend(getattr(p, "help", None) or "" for p in command.params)
    # typer's help escapes `[` for rich markup.
    help_text = "\n\n".join(helps).replace("\\[", "[")
    problems = key_problems([comments], "config.toml", CONFIG_TOML)
    assert problems + key_problems([help_text], "atri --help", help_text) == []


def _walk(group: TyperGroup) -> list[Any]:
    found: list[Any] = [group]
    for command in group.commands.values():
        found.extend(_walk(command) if isinstance(command, TyperGroup) else [command])
    return found


# Flags the README shows alone that belong to another program, not to `atri`.
OTHER_PROGRAMS_FLAGS = {
    "--max-lora-rank": "vllm serve",
    "--api-key": "vllm serve",
    "--chat-template": "vllm serve",
    "--max-loras": "vllm serve",
    "--max-cpu-loras": "vllm serve",
    "--max-model-len": "vllm serve",
    "--reasoning-parser": "vllm serve",
    "--default-chat-template-kwargs": "vllm serve",
    "--ctx-size": "llama-server",
    "--context-length": "sglang",
}


def bare_flag_problems(spans: list[str], cli: TyperGroup) -> list[str]:
    """A code span that starts with a flag (`--archived`, `--out FILE`) names an option
    of some `atri` command, of a bench/ script, or of a program listed above."""
    atri_flags = set().union(*(_flags(c) for c in _walk(cli)))
    bench = "".join(p.read_text(encoding="utf-8") for p in (REPO / "bench").glob("*.py"))
    problems = []
    for span in spans:
        if not re.match(r"--[a-z]", span):
            continue
        # A flag starts a word, or follows another (`--host/--port`).
        for flag in re.findall(r"(?<![^\s/])(--[a-z][\w-]*)", span):
            if flag not in atri_flags | set(OTHER_PROGRAMS_FLAGS) and f'"{flag}"' not in bench:
                problems.append(f"`{span}`: no atri command (nor bench script) has {flag}")
    return problems


def test_every_flag_the_docs_show_alone_exists() -> None:
    spans = [" ".join(s.split()) for doc in DOCS.values() for s in _code_spans(doc)]
    assert sum(s.startswith("--") for s in spans) > 10
    assert any(s.startswith("--format") for s in _code_spans(DATAPREP_README))
    assert bare_flag_problems(spans, _cli()) == []


# A path inside this repository, as the docs name it (`model/room.py`, `bench/`).
REPO_PATH = re.compile(
    r"(?<![\w./<-])(?:atri|bot|model|dataprep|bench|scripts|tests|\.ci)/[\w./-]*"
)


def path_problems(text: str, source: str) -> list[str]:
    return [
        f"{source}: {path} does not exist"
        for path in sorted(set(REPO_PATH.findall(text)))
        if not (REPO / path.rstrip(".")).exists()
    ]


def test_every_repository_path_the_docs_name_exists() -> None:
    helps = "\n".join(
        [c.help or "" for c in _walk(_cli())]
        + [getattr(p, "help", None) or "" for c in _walk(_cli()) for p in c.params]
    )
    problems = [p for name, doc in DOCS.items() for p in path_problems(doc, name)]
    problems += path_problems(CONFIG_TOML, "config.toml")
    assert problems + path_problems(helps, "atri --help") == []


def test_where_things_live_names_every_benchmark_and_engine() -> None:
    rows = {
        m.group(1): m.group(2)
        for m in re.finditer(r"^\| `([\w/.]+)` \| (.*) \|$", README, re.MULTILINE)
    }
    benchmarks = [
        p.name
        for p in sorted((REPO / "bench").glob("*.py"))
        if '__name__ == "__main__"' in p.read_text(encoding="utf-8")
    ]
    engines = [f"{name}.py" for name in get_args(ModelSettings.model_fields["engine"].annotation)]
    missing = [f"bench/{b}" for b in benchmarks if f"`{b}`" not in rows["bench/"]]
    missing += [f"model/engines/{e}" for e in engines if f"`{e}`" not in rows["model/engines/"]]
    assert missing == [], "README's 'Where things live' does not name these"


def test_every_environment_variable_the_docs_name_is_read() -> None:
    """ATRI_… names: the secrets and ATRI_CONFIG (atri/config.py), and the QQ plugin's
    keys for another NoneBot project's .env, each of which README lists."""
    from bot.qq.config import Config as QQPluginConfig

    read = set(re.findall(r'"(ATRI_[A-Z_]+)"', (REPO / "atri" / "config.py").read_text("utf-8")))
    plugin = {name.upper() for name in QQPluginConfig.model_fields}
    named = set(re.findall(r"\bATRI_[A-Z_]*[A-Z]", "\n".join([*DOCS.values(), CONFIG_TOML])))
    assert sorted(named - read - plugin) == [], "no part of ATRI reads these"
    assert sorted(plugin - named) == [], "README's QQ plugin keys leave these out"


def test_readme_toml_examples_are_valid_settings() -> None:
    blocks = [
        (name, body)
        for name, doc in DOCS.items()
        for lang, body in _code_blocks(doc)
        if lang == "toml"
    ]
    assert len(blocks) >= 4
    for name, body in blocks:
        settings_from_dict(tomllib.loads(body), source=name)  # ConfigError names it


def test_readme_default_tables_match_the_code() -> None:
    """Rows like | `[memory] summaries` | `true` | … state the built-in default."""
    rows = re.findall(
        r"^\| `\[([a-z_]+)\] (\w+)` \| `([^`]*)` \|", "\n".join(DOCS.values()), re.MULTILINE
    )
    assert rows
    defaults = Settings()
    for section, key, shown in rows:
        value = getattr(getattr(defaults, section), key)
        assert tomllib.loads(f"v = {shown}")["v"] == value, f"[{section}] {key}"


def test_readme_first_chat_starts_with_the_lines_the_console_prints() -> None:
    """The transcript under "Two commands" quotes the console's fixed start lines."""
    from bot.console import HELP, OFFLINE_DEMO_NOTE

    transcript = next(body for lang, body in _code_blocks(README) if lang == "text")
    assert OFFLINE_DEMO_NOTE.format(name="ATRI") in transcript.splitlines()
    assert HELP in transcript.splitlines()


def test_readme_route_table_names_every_worker_route() -> None:
    """Each route `atri worker` serves has a row in the README's route table."""
    routes = []
    for source, prefix in (("app.py", ""), ("openai_api.py", "/v1")):
        text = (REPO / "model" / "server" / source).read_text(encoding="utf-8")
        for verb, path in re.findall(r'@(?:app|router)\.(get|post|api_route)\("([^"]+)"', text):
            path = re.sub(r"\{[^}]*\}", "{}", prefix + path)  # a parameter's name aside
            routes.append(("GET" if verb == "api_route" else verb.upper(), path))
    rows = (line for line in README.splitlines() if line.startswith("| `"))
    table = re.sub(r"\{\w+\}", "{}", "\n".join(rows))
    missing = [f"{verb} {path}" for verb, path in routes if f"`{verb} {path}`" not in table]
    assert len(routes) >= 15
    assert not missing, f"routes with no row in README's table: {missing}"


def _config_lines_by_section() -> dict[str, list[str]]:
    lines: dict[str, list[str]] = {"": []}
    section = ""
    for line in CONFIG_TOML.splitlines():
        header = re.fullmatch(r"\[([a-z_]+)\]\s*", line)
        if header:
            section = header.group(1)
            lines.setdefault(section, [])
        else:
            lines[section].append(line)
    return lines


def test_shipped_config_has_a_line_for_every_setting() -> None:
    by_section = _config_lines_by_section()
    missing = []
    for section in SECTIONS:
        for key in _field_names(section):
            pattern = re.compile(rf"^#?\s*{key}\s*=")
            if not any(pattern.match(line) for line in by_section.get(section, [])):
                missing.append(f"[{section}] {key}")
    assert missing == [], "config.toml has no line (commented or not) for these"


def test_shipped_config_values_are_the_defaults() -> None:
    data = tomllib.loads(CONFIG_TOML)
    defaults = Settings()
    differs = {}
    for section, keys in data.items():
        assert section in SECTIONS, f"config.toml: no section [{section}]"
        for key, value in keys.items():
            assert key in _field_names(section), f"config.toml: [{section}] has no key {key!r}"
            read = getattr(getattr(settings_from_dict({section: {key: value}}), section), key)
            if read != getattr(getattr(defaults, section), key):
                differs[(section, key)] = read
    assert set(differs) == set(SHIPPED_DIFFERS_FROM_DEFAULT), (
        "config.toml differs from atri/config.py's defaults; fix one, or list a deliberate "
        f"difference with its reason: {differs}"
    )


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("train --max-steps 200 --lr 1e-4", None),
        ("--config eileen.toml prep game/script.rpy --out data/eileen", None),
        ("memory list|show|reset|purge|export|import", None),
        ("memory show SCOPE --archived", None),
        ("train --no-packing", None),
        ("eval --recall --recall-filler 3", None),
        ("train --learning-rate 1e-4", "`atri train` has no option --learning-rate"),
        ("memory list|forget", "`atri memory` has no command 'forget'"),
        ("trian", "atri has no command 'trian'"),
        ("--debug chat", "atri has no option --debug"),
        ("memory export --archived", "`atri memory export` has no option --archived"),
        ("memory --config x.toml list", None),
        ("memory --verbose list", "`atri memory` has no option --verbose"),
    ],
)
def test_command_check_tells_real_from_made_up(line: str, problem: str | None) -> None:
    problems = command_problems(line, _cli())
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problem in problems[0]


def test_key_check_tells_real_from_made_up() -> None:
    def check(text: str) -> list[str]:
        return key_problems(_code_spans(text), "t", text)

    assert check("`[train] eval_dataset`, `[memory] scope`, `[worker]\nurl`") == []
    assert check("`[memory] scopes`") == ["t: [memory] scopes: [memory] has no key 'scopes'"]
    assert check("`[memroy] scope`")[0].endswith("there is no section [memroy]")
    assert check("the old key `[train] output_dir` is still read") == []
    assert check("set `[train] output_dir` to a folder") != []
    # Two spans in a row are not one reference.
    assert check("leftover `[tags]` from `custom_regex`") == []


def test_bare_flag_and_path_checks_tell_real_from_made_up() -> None:
    cli = _cli()
    assert bare_flag_problems(["--archived", "--out FILE", "--quant bf16", "--api-key"], cli) == []
    assert bare_flag_problems(["--host/--port", "ruff format --check"], cli) == []
    assert len(bare_flag_problems(["--host/--ports"], cli)) == 1
    assert bare_flag_problems(["--recall-count N"], cli) == [
        "`--recall-count N`: no atri command (nor bench script) has --recall-count"
    ]
    assert path_problems("see model/room.py and `bench/relay.py`, /onebot/v11/ws", "t") == []
    assert path_problems("(model/personas/atri.toml)", "t") == [
        "t: model/personas/atri.toml does not exist"
    ]


# A Markdown link in prose, `[text](target)`; code spans and blocks hold none.
LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")
INLINE_CODE = re.compile(r"`[^`\n]*`")


def _heading_anchors(doc: str) -> set[str]:
    """The anchors GitHub gives a doc's headings: lower case, punctuation dropped, each
    space a hyphen ("data → train → serve" is #data--train--serve)."""
    headings = re.findall(r"^#{1,6}[ \t]+(.*?)[ \t]*$", FENCE.sub("", doc), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def link_problems(text: str, source: Path) -> list[str]:
    """Each relative link in `text` (the doc at `source`) leads to a file that exists,
    and its #anchor to a heading of that file."""
    shown = source.relative_to(REPO).as_posix()
    problems = []
    for target in LINK.findall(INLINE_CODE.sub("", FENCE.sub("", text))):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        linked = (source.parent / path).resolve() if path else source
        if not linked.exists():
            problems.append(f"{shown}: ({target}): no file {path}")
        elif anchor and anchor not in _heading_anchors(linked.read_text(encoding="utf-8")):
            problems.append(f"{shown}: ({target}): no heading #{anchor}")
    return problems


def test_every_link_between_the_docs_leads_to_a_file_and_heading() -> None:
    problems = [p for name, doc in DOCS.items() for p in link_problems(doc, REPO / name)]
    assert problems == []
    assert "dataprep/README.md" in README, "README.md no longer links the format reference"


def test_link_check_tells_real_from_made_up() -> None:
    readme = REPO / "README.md"
    assert link_problems("[a](dataprep/README.md#formats) [b](#data--train--serve)", readme) == []
    assert link_problems("`[a](nowhere.md)` [b](https://example.org/#x)", readme) == []
    assert link_problems("[a](dataprep/README.md#no-such-heading)", readme) == [
        "README.md: (dataprep/README.md#no-such-heading): no heading #no-such-heading"
    ]
    assert link_problems("[a](nowhere.md)", readme) == [
        "README.md: (nowhere.md): no file nowhere.md"
    ]
    assert link_problems("[a](../README.md#two-commands)", REPO / "dataprep" / "README.md") == []
