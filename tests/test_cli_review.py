"""The command line after a second review (issue 13, items 13-21): files that are not what
they claim, standard output that cannot be written, outputs naming the input, memory by what
a rule computes, and messages that say one thing once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.helpers.cli import run_error


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("training started")

    monkeypatch.setattr("sbrml.simulation.run", refuse)


@pytest.mark.usefixtures("no_training")
@pytest.mark.parametrize(
    "content",
    [
        pytest.param(None, id="an .npy file"),
        pytest.param(b'rules = ["\xff"]\n', id="invalid UTF-8"),
        pytest.param(b"\xfe\xff\x00r\x00u", id="UTF-16"),
    ],
)
def test_a_grid_that_is_not_utf8_is_not_readable_toml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None
) -> None:
    grid = tmp_path / "grid.toml"
    if content is None:
        np.save(tmp_path / "x.npy", np.zeros((3, 2)))
        grid = tmp_path / "x.npy"
    else:
        grid.write_bytes(content)
    err = run_error(["simulate", "--out", str(tmp_path / "o"), "--grid", str(grid)], capsys)
    assert err.startswith(f"sbrml: error: --grid {str(grid)!r}: not a readable TOML file")
    assert "not UTF-8 text" in err and "bug" not in err
