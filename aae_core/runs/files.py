"""File plumbing shared by every command that writes: atomic writes, JSON readers, locks, and the
checks of a path a user gave (can it name a file, can it be written, is it someone else's).

Every file is written to a temporary name and renamed, so a process killed at any moment leaves
either the old file or the new one, never half of one. A folder one process writes is held by its
lock (`.lock`, fcntl.flock) from start to end.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import torch

from ..errors import AAEError
from ..paths import check_path
from ..provenance import git_commit
from ..repository import REPO_ROOT

LOCK = ".lock"


def atomic_write(path: Path, write) -> None:
    """Call write(tmp_path), then rename tmp_path to path (same folder, so the rename is atomic). A write
    that fails (a full disk, a permission lost) is an AAEError naming the file; the old file stays."""
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; run files are meant to be shared
        os.replace(tmp, path)
    except (OSError, RuntimeError) as err:  # torch.save reports a failed write as a RuntimeError
        raise AAEError(f"cannot write {path} ({write_failure(err, path.parent)}); any earlier {path.name} is "
                       "unchanged: make room or fix the permission, then run again") from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)  # gone already when the rename succeeded


def write_failure(err: Exception, folder: Path) -> str:
    """What went wrong with a write, in words. torch.save reports a full disk as 'unexpected pos ...', so
    a folder with (almost) no space left is named as the cause (asked while the partial file still fills it)."""
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    try:
        if shutil.disk_usage(folder).free < 1 << 20:
            return f"No space left on device; torch: {first_line(err)}"
    except OSError:
        pass
    return first_line(err)


def first_line(err: Exception) -> str:
    """An exception's message, one line of at most 200 characters (its type when it has none)."""
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else type(err).__name__


def write_json(path: Path, data) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(data, indent=2) + "\n"))


def write_jsonl(path: Path, records: list[dict]) -> None:
    """One JSON object per line (a history), replaced atomically like every other run file."""
    lines = "".join(json.dumps(record) + "\n" for record in records)
    atomic_write(path, lambda tmp: Path(tmp).write_text(lines))


def read_json(path: Path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:  # ValueError: bad JSON, or bytes that are not UTF-8
        raise AAEError(f"cannot read {path}: {err}") from None


def read_json_object(path: Path, what: str) -> dict:
    """read_json, refusing anything but a JSON object (a list or a number where `what` should be)."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise AAEError(f"{path} is not {what} (not a JSON object)")
    return data


def refuse_to_overwrite(path: Path, force: bool) -> None:
    """A result a user made is replaced only on purpose."""
    if path.exists() and not force:
        raise AAEError(f"{path} exists; pass --force to overwrite it, or choose another --out")


def probe_writable(folder: Path) -> None:
    """Check, before the work, that files can be written in `folder` or where it would be made, without
    making it: a temporary file is created and removed in the nearest folder that exists."""
    nearest = next(path for path in (folder, *folder.parents) if path.exists() or path == Path(path.anchor or "."))
    if not nearest.is_dir():
        raise AAEError(f"{nearest} is a file, not a folder")
    try:
        tempfile.NamedTemporaryFile(dir=nearest, prefix=".write-test-").close()
    except OSError as err:
        raise AAEError(f"cannot write files in {nearest} ({err.strerror or err})") from None


def make_folder(folder: Path) -> None:
    """mkdir -p, with an AAEError naming the folder when it cannot be made."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise AAEError(f"cannot make the folder {folder} ({err.strerror or err})") from None


def claim_output_file(path: Path, force: bool) -> None:
    """Check before the work that the file `path` may be written: not there (or `force`), its folder
    made and writable."""
    path = check_path(path)
    if path.is_dir():
        raise AAEError(f"{path} is a folder; give a file name")
    refuse_to_overwrite(path, force)
    probe_writable(path.parent)
    make_folder(path.parent)


@contextlib.contextmanager
def exclusive(lock_path: Path, what: str):
    """Hold `lock_path` locked (fcntl.flock) inside the block; a second writer stops at once with an
    AAEError naming the holder's pid. The lock file is removed at the end (one left by a killed
    process is unlocked, and taken over)."""
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            if err.errno not in (errno.EAGAIN, errno.EACCES):
                raise AAEError(f"cannot lock {lock_path} ({err.strerror})") from None
            raise AAEError(f"{what} is in use by another process (pid {lock_holder(lock_path)}); wait for it to "
                           "finish, or choose another --out") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(lock_path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder removed the file between our open and our lock: take the new one
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        Path(lock_path).unlink(missing_ok=True)
        os.close(fd)


def lock_holder(lock_path: Path) -> str:
    """The pid written in a lock file ('unknown' while its holder has not written it yet)."""
    try:
        return Path(lock_path).read_text().strip() or "unknown"
    except OSError:
        return "unknown"


def torch_load(path: Path) -> dict:
    """torch.load with weights_only=True; an unreadable file is an AAEError naming it."""
    if not Path(path).is_file():
        raise AAEError(f"no checkpoint at {path}")
    try:
        with warnings.catch_warnings():  # a damaged file also makes torch warn; the error says it all
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for a damaged file
        raise AAEError(f"checkpoint {path} is corrupt or not a checkpoint ({type(err).__name__})") from None


def is_own_temporary(name: str) -> bool:
    """A file this package makes beside its outputs: a lock, the temporary of a write, a write test."""
    return name == LOCK or (name.startswith(".") and name.endswith(".tmp")) or name.startswith(".write-test-")


def refuse_foreign_files(folder: Path, names, what: str, own=lambda path: False) -> None:
    """--out `folder` is absent, or a folder that holds only `names`, entries that `own(path)` recognises,
    and this package's temporaries: a command never writes into someone else's folder."""
    check_path(folder)
    if folder.exists() and not folder.is_dir():
        raise AAEError(f"--out {folder} is a file, not a folder")
    if not folder.is_dir():
        return
    try:
        foreign = sorted(name for name in os.listdir(folder)
                         if name not in names and not is_own_temporary(name) and not own(folder / name))
    except OSError as err:
        raise AAEError(f"cannot read the folder {folder} ({err.strerror})") from None
    if foreign:
        raise AAEError(f"--out {folder} holds files that are not {what} ({', '.join(foreign[:3])}"
                       f"{', ...' if len(foreign) > 3 else ''}); give a new or empty folder")


def json_object(line: str) -> dict | None:
    """One line of a .jsonl file as a dict; None when it is not a JSON object."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def read_history(path: Path, remedy: str = "") -> list[dict]:
    """The epoch records of a history.jsonl, one JSON object a line; a bad line is one error naming it
    (and `remedy`, what mends it), not a record silently dropped."""
    try:
        lines = path.read_text().splitlines()
    except (OSError, ValueError) as err:
        raise AAEError(f"cannot read {path}: {getattr(err, 'strerror', None) or err}") from None
    records = [json_object(line) for line in lines if line.strip()]
    if None in records:
        raise AAEError(f"{path}: line {records.index(None) + 1} is not a JSON object" + (f"; {remedy}" if remedy else ""))
    return records


def refuse_dirty_results(out: Path, allow_dirty: bool) -> None:
    """A run into results/ starts from a clean commit, so that its git_commit says exactly what code made
    it; scratch runs anywhere else are free."""
    inside = (REPO_ROOT / "results").resolve() in [out.resolve(), *out.resolve().parents]
    if inside and not allow_dirty and git_commit().endswith("+dirty"):
        raise AAEError(f"{out} is under results/, and the code has uncommitted changes; commit them first "
                       "(or pass --allow-dirty to record a +dirty commit)")
