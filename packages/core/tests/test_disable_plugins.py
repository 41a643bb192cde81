"""Disabling an installed plugin by name: ``-p no:NAME``, ``--disable-plugin NAME``, the env variable."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from youtu_embedding.core.cli.app import disabled_on_command_line
from youtu_embedding.core.plugins import PluginRegistry

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("youtu_embedding_example_plugin") is None, reason="the example plugin is not installed"
)


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "youtu_embedding.core.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "YOUTU_EMBED_DISABLE_PLUGINS": "", **(env or {})},
    )


def _report(result: subprocess.CompletedProcess[str]) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["-p", "no:example"], {}),
        (["--disable-plugin", "example"], {}),
        (["--disable-plugin=youtu-embedding-example-plugin"], {}),  # the distribution's name works too
        ([], {"YOUTU_EMBED_DISABLE_PLUGINS": "onnxruntime, example"}),
    ],
)
def test_a_disabled_plugin_is_left_out_and_listed(args: list[str], env: dict[str, str]) -> None:
    enabled = _report(_cli("plugins", "--json"))
    assert "example" in {p["name"] for p in enabled["plugins"]} and enabled["disabled"] == []
    assert "count-tokens" in enabled["commands"] and enabled["templates"]["instructor"]["plugin"] == "example"

    report = _report(_cli(*args, "plugins", "--json", env=env))
    assert "example" not in {p["name"] for p in report["plugins"]}
    assert {"name": "example", "distribution": "youtu-embedding-example-plugin", "version": "0.1.0"} in report[
        "disabled"
    ]
    assert "count-tokens" not in report["commands"]
    assert "instructor" not in report["templates"]
    assert all(item["plugin"] != "example" for section in ("pooling", "templates") for item in report[section].values())
    assert {"encode", "search", "plugins"} <= set(report["commands"])  # the built-ins stay


def test_the_table_lists_disabled_plugins_and_their_commands_are_gone() -> None:
    table = _cli("-p", "no:example", "plugins")
    assert table.returncode == 0 and "disabled plugin: example (youtu-embedding-example-plugin 0.1.0)" in table.stdout
    missing = _cli("-p", "no:example", "count-tokens", "--help")
    assert missing.returncode == 2 and "No such command 'count-tokens'" in missing.stderr


def test_builtins_cannot_be_disabled_and_unknown_names_are_reported() -> None:
    result = _cli("-p", "no:pooling", "--disable-plugin", "no-such-plugin", "plugins", "--json")
    report = _report(result)
    assert "mean" in report["pooling"] and "pooling" in {p["name"] for p in report["plugins"]}
    lines = result.stderr.strip().splitlines()
    assert "warning: plugin 'pooling' is built into youtu-embedding-core and cannot be disabled (ignored)" in lines
    assert any(
        line.startswith("warning: cannot disable plugin 'no-such-plugin': no installed plugin has that name")
        and "example" in line
        for line in lines
    )


def test_minus_p_needs_no_prefix() -> None:
    result = _cli("-p", "example", "plugins")
    assert result.returncode == 2 and "expected no:NAME" in result.stderr


def test_command_line_parsing_stops_at_the_subcommand() -> None:
    assert disabled_on_command_line(["-p", "no:a", "-pno:b", "--disable-plugin", "c", "--disable-plugin=d", "x"]) == [
        "a",
        "b",
        "c",
        "d",
    ]
    assert disabled_on_command_line(["encode", "-p", "no:a"]) == []


def test_the_registry_takes_names_from_python() -> None:
    registry = PluginRegistry(disable=["example"])
    assert [d.name for d in registry.disabled] == ["example"]
    assert "instructor" not in registry.collect("register_instruction_templates")
    assert registry.disable_requested == {"example"}
