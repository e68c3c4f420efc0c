"""--help reads like a manual; usage errors exit 2."""

import pytest

from cli_run import cli

COMMANDS = ["inspect", "verify", "tail", "compact", "cleanup"]


def test_top_level_help_lists_commands_examples_and_exit_codes():
    out = cli("--help").stdout
    for word in COMMANDS + ["examples:", "exit status:", "0  success", "1  verify found problems", "2  usage error"]:
        assert word in out, word


@pytest.mark.parametrize("command", COMMANDS)
def test_command_help_is_a_manual(command):
    out = cli(command, "--help").stdout
    assert f"usage: persisting {command}" in out
    assert "examples:" in out and f"persisting {command} " in out.split("examples:")[1]
    assert "exit status:" in out and "PATH" in out


def test_version_matches_the_package():
    from persisting import __version__

    assert cli("--version").stdout.strip() == f"persisting {__version__}"


@pytest.mark.parametrize("args", [
    [],                                       # no command
    ["frobnicate", "x"],                      # unknown command
    ["tail"],                                 # no PATH
    ["tail", ".", "--poll", "0"],             # poll must be positive
    ["tail", ".", "--from", "x"],
    ["cleanup", ".", "--older-than", "soon"],
    ["inspect", ".", "--versions", "-1"],
])
def test_bad_arguments_exit_2(args):
    proc = cli(*args, check=2)
    assert "usage: persisting" in proc.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_a_path_without_buckets_exits_2(command, tmp_path):
    missing = cli(command, tmp_path / "missing", check=2)
    assert "no such file or directory" in missing.stderr
    empty = cli(command, tmp_path, check=2)
    assert "no bucket here" in empty.stderr


def test_the_wrapper_says_when_the_program_is_missing(tmp_path):
    """`persisting` and `python -m persisting` run the Go program; without one: status 3 and why."""
    import subprocess
    import sys

    from helpers import child_env

    missing = tmp_path / "persisting"
    proc = subprocess.run([sys.executable, "-m", "persisting", "--version"], capture_output=True, text=True,
                          env=child_env(PERSISTING_CLI=str(missing)), timeout=60)
    assert proc.returncode == 3 and str(missing) in proc.stderr and "PERSISTING_CLI" in proc.stderr, proc.stderr
