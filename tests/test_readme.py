"""README.md says only what is true: its commands parse, its make targets and npm scripts exist,
and its options table is the server's option list.

Commands are read from the README's shell code blocks (each `jewel-retouch ...` must parse with
the real argparse parser, without running) and from its inline code (each `jewel-retouch X
--flag` must name a subcommand X that has --flag). HTML comments are left out: they hold notes
for maintainers, such as text to put in once another branch is merged.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import shlex
from pathlib import Path

import pytest

from server.cli import build_parser
from server.commands.info import options_markdown

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SHELL_BLOCKS = {"", "sh", "bash", "shell", "console", "powershell", "ps1", "bat", "cmd"}
OPERATORS = {"&&", "||", ";", "|", "&", "(", ")", ";;"}
TABLE_BEGIN, TABLE_END = "<!-- options-table:begin -->\n", "<!-- options-table:end -->"


def readme() -> str:
    return re.sub(r"<!--(?!\s*options-table).*?-->", "", README.read_text("utf-8"), flags=re.S)


def code_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced block."""
    return [
        (m.group(1).strip().lower(), m.group(2))
        for m in re.finditer(r"^ *```([^\n]*)\n(.*?)^ *```", text, flags=re.S | re.M)
    ]


def inline_spans(text: str) -> list[str]:
    prose = re.sub(r"^ *```[^\n]*\n.*?^ *```", "", text, flags=re.S | re.M)
    return [" ".join(span.split()) for span in re.findall(r"`([^`\n]+(?:\n[^`\n]+)?)`", prose)]


def words(line: str) -> list[list[str]]:
    """The simple commands of one shell line: `a && b | c  # note` -> [[a], [b], [c]].
    Backslashes become slashes first (Windows paths; continuations are joined before)."""
    lex = shlex.shlex(line.replace("\\", "/"), posix=True, punctuation_chars=True)
    lex.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lex:
        if token in OPERATORS:
            commands.append([])
        else:
            commands[-1].append(token)
    return [command for command in commands if command]


def block_lines(body: str) -> list[str]:
    """Logical lines: `\\` / PowerShell backtick continuations joined, and a line starting
    with `[` (a synopsis's optional flags) joined to the one before."""
    lines: list[str] = []
    pending = ""
    for raw in body.splitlines():
        if pending:
            raw = pending + " " + raw.strip()
            pending = ""
        stripped = raw.rstrip()
        if stripped.endswith(("\\", "`")):
            pending = stripped[:-1]
            continue
        if raw.lstrip().startswith("[") and lines:
            lines[-1] += " " + raw.strip()
        else:
            lines.append(raw)
    if pending:
        lines.append(pending)
    return lines


def is_program(word: str, name: str) -> bool:
    return word.rsplit("/", 1)[-1] in (name, name + ".exe")


def block_commands(text: str) -> list[list[str]]:
    found = []
    for language, body in code_blocks(text):
        if language not in SHELL_BLOCKS:
            continue
        for line in block_lines(body):
            found += words(line)
    return found


def span_commands(text: str) -> list[list[str]]:
    found = []
    for span in inline_spans(text):
        try:
            found += words(span)
        except ValueError:  # a span that is no command (an unbalanced quote in prose)
            continue
    return found


def jewel_args(command: list[str]) -> list[str] | None:
    """The arguments of a `jewel-retouch` (or `.venv/bin/jewel-retouch`) command, synopsis
    brackets removed; None for any other program."""
    if not command or not is_program(command[0], "jewel-retouch"):
        return None
    return [word.strip("[]") for word in command[1:] if word.strip("[]")]


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("the CLI has no subcommands")


def parse_error(parser: argparse.ArgumentParser, args: list[str]) -> str | None:
    """None when argparse accepts `args` (help and --version count), else its message."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            parser.parse_args(args)
        except SystemExit as exit_:
            if exit_.code not in (0, None):
                return err.getvalue().strip().splitlines()[-1]
    return None


def test_the_readme_has_commands_to_check():
    """The checks below are not vacuous: the README's blocks and spans are found."""
    text = readme()
    blocks = [c for c in block_commands(text) if jewel_args(c) is not None]
    spans = [c for c in span_commands(text) if jewel_args(c) is not None]
    assert len(blocks) >= 20 and len(spans) >= 10
    assert ["jewel-retouch", "install", "gimp", "--gimp", "2.10"] in blocks
    assert [".venv/Scripts/jewel-retouch", "serve"] in blocks  # the Windows line, as typed


def test_every_jewel_retouch_command_in_a_code_block_parses():
    parser = build_parser()
    wrong = []
    for command in block_commands(readme()):
        args = jewel_args(command)
        if args is None:
            continue
        error = parse_error(parser, args)
        if error:
            wrong.append(f"{shlex.join(command)}: {error}")
    assert not wrong, "README commands the CLI refuses:\n" + "\n".join(wrong)


def test_every_subcommand_and_flag_named_inline_exists():
    """`jewel-retouch X --flag` in the prose: X is a subcommand, has --flag, and takes the
    words given (missing required arguments aside)."""
    parser = build_parser()
    commands = subparsers(parser)
    wrong = []
    for command in span_commands(readme()):
        args = jewel_args(command)
        if not args:
            continue
        name, rest = args[0], args[1:]
        if name.startswith("-"):
            if name not in parser._option_string_actions:
                wrong.append(f"{shlex.join(command)}: no option {name}")
            continue
        if name not in commands:
            wrong.append(f"{shlex.join(command)}: no subcommand {name!r}")
            continue
        known = commands[name]._option_string_actions
        for word in rest:
            flag = word.split("=", 1)[0]
            if flag.startswith("--") and flag not in known:
                wrong.append(f"{shlex.join(command)}: `{name}` has no {flag}")
        # Prose may name a command without its required arguments (`jewel-retouch batch`);
        # any other refusal (an unknown choice such as `install nothing`) is an error.
        error = parse_error(parser, args)
        if error and "arguments are required" not in error:
            wrong.append(f"{shlex.join(command)}: {error}")
    assert not wrong, "README names what the CLI lacks:\n" + "\n".join(wrong)


def test_every_subcommand_is_in_the_readme():
    text = readme()
    named = {
        args[0]
        for command in block_commands(text) + span_commands(text)
        if (args := jewel_args(command))
    }
    missing = set(subparsers(build_parser())) - named
    assert not missing, f"subcommands the README never shows: {sorted(missing)}"


def make_targets() -> set[str]:
    makefile = (ROOT / "Makefile").read_text("utf-8")
    targets = set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", makefile, flags=re.M))
    for phony in re.findall(r"^\.PHONY\s*:(.*)$", makefile, flags=re.M):
        targets |= set(phony.split())
    return targets


def test_every_make_target_and_npm_script_named_exists():
    text = readme()
    targets = make_targets()
    scripts = set(json.loads((ROOT / "photoshop_uxp" / "package.json").read_text())["scripts"])
    wrong, seen = [], 0
    for command in block_commands(text) + span_commands(text):
        if is_program(command[0], "make"):
            for word in command[1:]:
                if "=" in word or word.startswith("-"):
                    continue  # VAR=value and make's own options
                seen += 1
                if word not in targets:
                    wrong.append(f"{shlex.join(command)}: no make target {word!r}")
        elif is_program(command[0], "npm") and command[1:2] == ["run"] and len(command) > 2:
            seen += 1
            if command[2] not in scripts:
                wrong.append(f"{shlex.join(command)}: no npm script {command[2]!r}")
    assert seen >= 5, "no make targets found: the README parsing is broken"
    assert not wrong, "\n".join(wrong)


def options_table(text: str) -> str:
    start = text.index(TABLE_BEGIN) + len(TABLE_BEGIN)
    return text[start : text.index(TABLE_END, start)]


def test_the_options_table_is_the_servers_option_list():
    """Compared with OPTION_SPECS as it is when the test runs: an option added to the model
    without a README row (or a row left for a removed option) fails here."""
    import models

    table = options_table(README.read_text("utf-8"))
    labels = {row.split("|")[1].strip() for row in table.splitlines() if row.startswith("| ")} - {
        "setting (web page, GIMP, Photoshop)"
    }
    expected = {option["label"] for option in models.options_schema()}
    flags = set(re.findall(r"`(--[a-z0-9-]+)", table))
    spec_flags = {"--" + spec.name.replace("_", "-") for spec in models.OPTION_SPECS}
    fix = "run `jewel-retouch info --options-markdown` and paste it between the markers"
    assert expected - labels == set(), f"options missing from the README table: {fix}"
    assert labels - expected == set(), f"README rows for options that do not exist: {fix}"
    assert spec_flags <= flags
    assert table == options_markdown(), f"the README options table is out of date: {fix}"


@pytest.mark.parametrize(
    "line, expected",
    [
        ("jewel-retouch serve &   # comment", [["jewel-retouch", "serve"]]),
        ("cd a && npm run package", [["cd", "a"], ["npm", "run", "package"]]),
        (r".venv\Scripts\jewel-retouch serve", [[".venv/Scripts/jewel-retouch", "serve"]]),
    ],
)
def test_shell_lines_are_split_into_commands(line, expected):
    assert words(line) == expected


def test_synopsis_and_continuations_are_joined():
    body = "jewel-retouch serve [--port 8765]\n      [--cors]\nmake \\\n  serve\n"
    assert block_lines(body) == ["jewel-retouch serve [--port 8765] [--cors]", "make  serve"]
    args = jewel_args(words(block_lines(body)[0])[0])
    assert args == ["serve", "--port", "8765", "--cors"]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_every_link_to_a_section_has_its_heading():
    text = readme()
    prose = re.sub(r"^ *```[^\n]*\n.*?^ *```", "", text, flags=re.S | re.M)
    anchors = {slug(h) for h in re.findall(r"^#+ (.+)$", prose, flags=re.M)}
    links = set(re.findall(r"\]\(#([^)]+)\)", prose))
    assert links, "no section links found"
    assert links <= anchors, f"links to missing sections: {sorted(links - anchors)}"
