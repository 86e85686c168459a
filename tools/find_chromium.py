"""Print the path of the Chromium the browser tests drive, looked up in this order:

    1. $CHROMIUM, when set (it must name an executable file);
    2. the Chromium that playwright installed (`python -m playwright install chromium`);
    3. `chromium` on PATH (Debian's package); with --install, run as root, apt-get installs it.

    python tools/find_chromium.py [--install]

Otherwise one line on stderr names the three ways to get one, and the exit status is 1.
`make test` runs it with --install; tests/browser.py without.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

HOW = ("set CHROMIUM to a Chromium executable, or run `python -m playwright install chromium` (needs the network), "
       "or install Debian's chromium (`sudo apt-get install chromium`)")


def executable(path) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def playwright_chromium() -> str | None:
    """The Chromium playwright would launch, where playwright has installed it."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        return None
    try:
        with sync_playwright() as p:
            path = p.chromium.executable_path
    except Error:
        return None
    return path if executable(path) else None


def install_debian_chromium() -> None:
    print("find_chromium: no Chromium found; installing Debian's chromium with apt-get (running as root)",
          file=sys.stderr, flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for step in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        # dpkg's progress lines ask nothing of a reader: shown only when a step fails
        done = subprocess.run(step, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.stderr.write(done.stdout + done.stderr)
            return


def find_chromium(install: bool = False) -> str:
    """The path of a Chromium, in the order of the module docstring; SystemExit with one line if there is none."""
    chosen = os.environ.get("CHROMIUM")
    if chosen:
        if not executable(chosen):
            sys.exit(f"find_chromium: CHROMIUM={chosen} is not an executable file; {HOW}")
        return chosen
    found = playwright_chromium() or shutil.which("chromium")
    if not found and install and os.geteuid() == 0 and shutil.which("apt-get"):
        install_debian_chromium()
        found = shutil.which("chromium")
    if not found:
        sys.exit(f"find_chromium: no Chromium found; {HOW}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--install", action="store_true", help="install Debian's chromium with apt-get when run as root")
    print(find_chromium(parser.parse_args().install))


if __name__ == "__main__":
    main()
