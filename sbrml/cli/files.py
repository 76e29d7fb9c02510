"""Files of the command line: the ``.npy`` input, checked before it is read, and the outputs,
checked before any work and written to exactly the path given (README, "Command line").

Every problem here is the user's to fix, so it is a ``CliError`` (exit status 2).
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

import numpy as np
from numpy.typing import NDArray

from sbrml.cli.errors import CliError

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class NpyInfo:
    """What a ``.npy`` header declares: shape, element type, and where the data begins."""

    path: str
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    offset: int

    @property
    def data_bytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def _read_header(stream: BinaryIO, where: str) -> tuple[tuple[int, ...], np.dtype[Any]]:
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, _fortran, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version == (2, 0):
        shape, _fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    else:
        # Version 3.0 only differs by a UTF-8 header; NumPy reads it with a private helper.
        reader = getattr(np.lib.format, "_read_array_header", None)
        if reader is None:
            raise CliError(f"{where}: .npy format version {version} is not supported")
        shape, _fortran, dtype = reader(stream, version)
    return tuple(int(s) for s in shape), np.dtype(dtype)


def inspect_npy(path: str) -> NpyInfo:
    """Read and check the header of ``path`` without reading its data.

    Checks, in order: the file exists and is a ``.npy`` file (not text, not an ``.npz``
    archive), the header parses, the array is a non-empty ``n x d`` matrix of real numbers
    (no Python objects), and the file holds exactly the bytes the header declares, so a
    forged header cannot make ``np.load`` allocate more than the file's size.
    """
    where = f"INPUT {path!r}"
    try:
        with open(path, "rb") as stream:
            start = stream.read(len(NPY_MAGIC))
            if start.startswith(ZIP_MAGIC):
                raise CliError(
                    f"{where}: an .npz archive, not an .npy array; save one array with numpy.save"
                )
            if start != NPY_MAGIC:
                raise CliError(
                    f"{where}: not an .npy file (it does not begin with the .npy magic string "
                    "\\x93NUMPY); write the n x d array with numpy.save"
                )
            stream.seek(0)
            try:
                shape, dtype = _read_header(stream, where)
            except (ValueError, SyntaxError, TypeError, EOFError) as err:
                raise CliError(f"{where}: the .npy header cannot be read ({err})") from err
            offset = stream.tell()
            size = os.fstat(stream.fileno()).st_size
    except FileNotFoundError as err:
        raise CliError(f"{where}: no such file") from err
    except IsADirectoryError as err:
        raise CliError(f"{where}: a directory, not an .npy file") from err
    except OSError as err:
        raise CliError(f"{where}: cannot be read ({err.strerror})") from err
    if dtype.hasobject:
        raise CliError(
            f"{where}: holds Python objects (pickled data, dtype {dtype}), which are never "
            "loaded; need an array of real numbers"
        )
    if dtype == np.bool_ or dtype.kind not in "iuf":
        raise CliError(f"{where}: need real numbers; got dtype {dtype}")
    if len(shape) != 2:
        raise CliError(f"{where}: need an n x d array (one row per worker); got shape {shape}")
    if min(shape) < 0:
        raise CliError(
            f"{where}: the header declares shape {shape}, which is not a valid shape (a "
            "dimension is negative): not written by numpy.save"
        )
    if shape[0] == 0 or shape[1] == 0:
        raise CliError(f"{where}: need n >= 1 workers and d >= 1 coordinates; got shape {shape}")
    info = NpyInfo(path, shape, dtype, offset)
    if size - offset != info.data_bytes:
        raise CliError(
            f"{where}: the header declares shape {shape} of {dtype} "
            f"({human(info.data_bytes)} of data) but the file holds {human(size - offset)} "
            "after the header: truncated or not written by numpy.save"
        )
    return info


def load_matrix(info: NpyInfo) -> NDArray[np.float64]:
    """The checked matrix of ``inspect_npy`` as float64 (call the memory check in between)."""
    try:
        arr = np.load(info.path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise CliError(f"INPUT {info.path!r}: cannot be read as .npy ({err})") from err
    return np.asarray(arr, dtype=np.float64)


def human(size: float) -> str:
    """A byte count with a binary unit, e.g. ``7.3 TiB``."""
    if size < 1024:
        return f"{size:.0f} bytes"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        size /= 1024
        if size < 1024:
            return f"{size:.1f} {unit}"
    return f"{size / 1024:.1f} PiB"


def _probe_folder(option: str, path: str, folder: Path) -> None:
    # Creating and removing a file is the only test of writability that also holds for
    # root, read-only mounts and network file systems.
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".sbrml-check-"):
            pass
    except OSError as err:
        raise CliError(
            f"{option} {path!r}: cannot write in {str(folder)!r} ({err.strerror})"
        ) from err


def in_place(path: str) -> bool:
    """Whether ``path`` is written in place rather than replaced: a symbolic link (replacing
    it would replace the link, e.g. ``/dev/stdout``, not write where it points) or something
    that is neither a regular file nor a folder (``/dev/null``, a named pipe)."""
    target = Path(path)
    special = target.exists() and not target.is_file() and not target.is_dir()
    return target.is_symlink() or special


def same_file(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` name one file: the same file on disk when both exist (through a
    symbolic link, a hard link or another spelling of the path), else the same full path."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return Path(a).resolve() == Path(b).resolve()


def check_not_input(option: str, path: str, inputs: dict[str, str]) -> None:
    """Refuse an output that is one of the run's input files (``inputs``: option -> path):
    writing it would replace the input the run reads. Devices and pipes are exempt (a
    terminal can be both /dev/stdin and /dev/stdout)."""
    for name, source in inputs.items():
        if Path(source).is_file() and same_file(path, source):
            raise CliError(
                f"{option} {path!r}: is the {name} file {source!r}; writing it would overwrite "
                "the input: give another path"
            )


def is_standard_output(path: str) -> bool:
    """Whether ``path`` is the file behind sbrml's standard output (``/dev/stdout``, its
    terminal, or the file stdout is redirected to); /dev/null, where nothing is kept, aside."""
    try:
        printed = os.fstat(sys.stdout.fileno())
        target = os.stat(path)
        if os.path.samefile(path, os.devnull):
            return False
    except (AttributeError, OSError, ValueError):  # no stdout or no descriptor; no such file
        return False
    return (printed.st_dev, printed.st_ino) == (target.st_dev, target.st_ino)


def check_not_stdout(option: str, path: str, printed: str) -> None:
    """Refuse an output file that is standard output, where sbrml also prints ``printed``
    (its summary or the --json report): the two would be mixed into one stream."""
    if is_standard_output(path):
        raise CliError(
            f"{option} {path!r}: is standard output, where sbrml prints {printed}; the two "
            "would be mixed: write the file elsewhere"
        )


def check_output_file(option: str, path: str) -> None:
    """Fail now, before any work, if ``path`` cannot be written as a file."""
    if not path:
        raise CliError(f"{option} '': the path is empty; give a file name")
    target = Path(path)
    if target.is_dir():
        raise CliError(f"{option} {path!r}: is a directory; give a file name")
    if in_place(path):
        if not target.exists():
            raise CliError(f"{option} {path!r}: a symbolic link to a missing place")
        if not os.access(target, os.W_OK):
            raise CliError(f"{option} {path!r}: not writable")
        return
    folder = target.parent
    if not folder.exists():
        raise CliError(f"{option} {path!r}: the folder {str(folder)!r} does not exist")
    if not folder.is_dir():
        raise CliError(f"{option} {path!r}: {str(folder)!r} is not a folder")
    if target.exists() and not os.access(target, os.W_OK):
        raise CliError(f"{option} {path!r}: the file exists and is not writable")
    _probe_folder(option, path, folder)


def check_output_dir(option: str, path: str, names: tuple[str, ...]) -> None:
    """Fail now if the folder ``path`` cannot be created or ``names`` written in it.

    A missing folder is created here (with its parents), as the run would do at its end.
    """
    if not path:  # Path("") is the current folder: an empty --out is a mistake, not "."
        raise CliError(f"{option} '': the path is empty; give a folder (. for this one)")
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise CliError(f"{option} {path!r}: exists and is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CliError(f"{option} {path!r}: cannot create the folder ({err.strerror})") from err
    for name in names:
        if (folder / name).is_dir():
            raise CliError(f"{option} {path!r}: {name} inside it is a folder; it must be a file")
    _probe_folder(option, path, folder)


class _Stream:
    """Only ``write``: numpy.save then writes in chunks instead of ``tofile``, which needs a
    seekable file and fails on a pipe."""

    def __init__(self, stream: BinaryIO):
        self._stream = stream

    def write(self, data: bytes | memoryview) -> int:
        return self._stream.write(data)


def _new_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_output_file(option: str, path: str, write: Callable[[BinaryIO], None]) -> None:
    """Write exactly ``path``: into a temporary file beside it, then renamed over it, so a
    failure leaves any earlier file intact. Links, devices and pipes (``/dev/stdout``) are
    written in place (``in_place``)."""
    target = Path(path)
    try:
        if in_place(path):
            with open(target, "wb") as stream:
                write(cast(BinaryIO, _Stream(stream)))
            return
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".sbrml-")
        try:
            with os.fdopen(fd, "wb") as stream:
                write(stream)
            # mkstemp makes the file private (0600); give it the mode a plain open would.
            os.chmod(tmp, target.stat().st_mode & 0o7777 if target.exists() else _new_file_mode())
            os.replace(tmp, target)
        except BaseException:
            os.unlink(tmp)
            raise
    except BrokenPipeError:
        raise  # --out /dev/stdout read by `head`: a closed pipe, handled by main
    except OSError as err:
        raise CliError(f"{option} {path!r}: could not be written ({err.strerror or err})") from err
