"""tools/find_chromium.py looks for the browser in its documented order: $CHROMIUM, playwright's own
Chromium, `chromium` on PATH (Debian's, installed with apt-get only with --install, as root);
otherwise one line names the three ways. Every browser here is a fake executable in tmp_path."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

FIND = ROOT / "tools" / "find_chromium.py"


def fake_executable(path: Path, body: str = "exit 0") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


class Places:
    """Where each kind of Chromium would be found, and the environment that points there."""

    def __init__(self, tmp_path: Path):
        self.bin = tmp_path / "bin"  # the whole PATH: no real chromium or apt-get can be found
        self.bin.mkdir()
        self.env = {k: v for k, v in os.environ.items() if k != "CHROMIUM"}
        self.env.update(PATH=str(self.bin), PLAYWRIGHT_BROWSERS_PATH=str(tmp_path / "playwright-browsers"))
        asked = subprocess.run([sys.executable, "-c", "from playwright.sync_api import sync_playwright\n"
                                "with sync_playwright() as p: print(p.chromium.executable_path)"],
                               env=self.env, capture_output=True, text=True, check=True)
        self.paths = {"CHROMIUM": tmp_path / "mine" / "chromium", "playwright": Path(asked.stdout.strip()),
                      "PATH": self.bin / "chromium"}

    def make(self, *kinds: str) -> None:
        for kind in kinds:
            fake_executable(self.paths[kind])
        if "CHROMIUM" in kinds:
            self.env["CHROMIUM"] = str(self.paths["CHROMIUM"])

    def find(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(FIND), *args], env=self.env, capture_output=True, text=True,
                              timeout=120)


@pytest.fixture
def places(tmp_path):
    return Places(tmp_path)


def assert_one_line(result, *words):
    assert result.returncode != 0 and result.stdout == "", result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize("present,expected", [
    (("CHROMIUM", "playwright", "PATH"), "CHROMIUM"),
    (("CHROMIUM", "PATH"), "CHROMIUM"),
    (("playwright", "PATH"), "playwright"),
    (("playwright",), "playwright"),
    (("PATH",), "PATH"),
])
def test_lookup_order(places, present, expected):
    places.make(*present)
    result = places.find()
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(places.paths[expected])


def test_none_found_names_the_three_ways(places):
    assert_one_line(places.find(), "CHROMIUM", "python -m playwright install chromium", "apt-get install chromium")


def test_a_wrong_chromium_variable_is_an_error_not_a_fallback(places):
    places.make("PATH")
    places.env["CHROMIUM"] = str(places.paths["CHROMIUM"])  # no file there
    assert_one_line(places.find(), f"CHROMIUM={places.paths['CHROMIUM']}", "not an executable")


@pytest.mark.skipif(os.geteuid() != 0, reason="apt-get is used only when running as root")
def test_install_uses_apt_get_as_root_and_says_so(places):
    log = places.bin.parent / "apt-get.log"
    chromium = places.paths["PATH"]
    fake_executable(places.bin / "apt-get", f'echo "$@" >> {log}\n'  # installs a fake chromium on PATH
                    f'if [ "$1" = install ]; then echo "#!/bin/sh" > {chromium}; command -p chmod +x {chromium}; fi')
    assert_one_line(places.find(), "no Chromium found")  # without --install nothing is installed
    assert not log.exists()
    result = places.find("--install")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(chromium)
    assert "installing Debian's chromium with apt-get" in result.stderr
    assert log.read_text().splitlines() == ["update -qq", "install -y -qq chromium"]
