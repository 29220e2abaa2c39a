"""Readers for local copies of the UCR/UEA archives in their own layout
(``<folder>/<Name>/<Name>_TRAIN.tsv`` and ``_TEST.tsv``, or ``.ts`` / ``.arff``): the
folders of ``$TSIMB_ARCHIVE``, else ``shared/data`` beside a source checkout. Never written
to. A malformed file raises :class:`~tsimb.data.DatasetUnavailableError` naming the file
and the line."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np

from .datasets import DatasetUnavailableError, canonical_label

RawSplits = dict[str, tuple[object, np.ndarray]]  # split -> (series array or list, raw labels)
ARCHIVE_ENV = "TSIMB_ARCHIVE"
ARCHIVE_FORMATS = (".tsv", ".ts", ".arff")
FLOAT32_MAX = float(np.finfo(np.float32).max)  # series are float32: larger values would become inf


def archive_dirs() -> list[Path]:
    """Local archive folders: ``$TSIMB_ARCHIVE`` (``os.pathsep``-separated), else the
    ``shared/data`` folder beside a source checkout of tsimb when it exists.

    An entry of ``$TSIMB_ARCHIVE`` that does not exist or is a file is kept in the list
    (it is skipped when reading) and named in a warning, since it is most likely a typo."""
    value = os.environ.get(ARCHIVE_ENV)
    if value is not None:
        folders = [Path(p).expanduser() for p in value.split(os.pathsep) if p]
        for folder in folders:
            problem = archive_dir_problem(folder)
            if problem:
                warnings.warn(f"${ARCHIVE_ENV} names {folder}, which {problem}; it is ignored. Point "
                              f"${ARCHIVE_ENV} at the folder that holds one sub-folder per data set",
                              stacklevel=2)
        return folders
    beside_checkout = Path(__file__).resolve().parents[2].parent / "shared" / "data"
    return [beside_checkout] if beside_checkout.is_dir() else []


def archive_dir_problem(folder: Path) -> str | None:
    """Why ``folder`` cannot be an archive folder ("does not exist", "is a file, not a
    folder"), or None when it is a folder."""
    if folder.is_dir():
        return None
    return "is a file, not a folder" if folder.exists() else "does not exist"


def _archive_pair(folder: Path, name: str) -> tuple[Path, Path] | None:
    """The (train, test) files of ``name`` in an archive folder, or None."""
    for ext in ARCHIVE_FORMATS:
        train, test = folder / name / f"{name}_TRAIN{ext}", folder / name / f"{name}_TEST{ext}"
        if train.is_file() and test.is_file():
            return train, test
        if train.is_file() or test.is_file():
            missing = test if train.is_file() else train
            raise DatasetUnavailableError(f"{missing} is missing: an archive folder needs both the "
                                          f"_TRAIN{ext} and the _TEST{ext} file of {name}")
    return None


def _scan(folders: list[Path]) -> tuple[dict[str, Path], dict[Path, str]]:
    """The data sets of the archive folders (name -> folder, the first folder wins) and
    the sub-folders that are not readable data sets (folder -> what is wrong)."""
    found: dict[str, Path] = {}
    problems: dict[Path, str] = {}
    for folder in folders:
        if not folder.is_dir():
            continue
        try:
            subs = sorted(folder.iterdir())
        except OSError as error:
            problems[folder] = f"cannot be listed ({error.strerror or error})"
            continue
        for sub in subs:
            if not sub.is_dir() or sub.name in found or sub.name.startswith("."):
                continue
            try:
                if _archive_pair(folder, sub.name):
                    found[sub.name] = folder
                else:
                    problems[sub] = _no_pair(sub)
            except (DatasetUnavailableError, OSError) as error:
                problems[sub] = str(error)
    return found, problems


def _no_pair(sub: Path) -> str:
    """What a sub-folder without a ``<name>_TRAIN``/``_TEST`` pair holds instead."""
    try:
        held = sorted(p.name for p in sub.iterdir())
    except OSError as error:
        return f"cannot be listed ({error.strerror or error})"
    listed = ", ".join(held[:5]) + (", ..." if len(held) > 5 else "") if held else "nothing"
    return (f"holds no {sub.name}_TRAIN / {sub.name}_TEST pair in {', '.join(ARCHIVE_FORMATS)} "
            f"(it holds {listed}); tsimb reads the UCR/UEA archive layout "
            f"<folder>/<Name>/<Name>_TRAIN.tsv (or .ts, .arff)")


def archive_datasets() -> dict[str, Path]:
    """Data sets found in the archive folders: name -> folder (the first folder wins).

    A sub-folder that is not a readable data set (a ``_TRAIN`` file without its ``_TEST``
    file, files in another format) is left out and named in a warning, so that one bad
    folder does not hide the others (:func:`archive_problems` lists them)."""
    found, problems = _scan(archive_dirs())
    for folder, problem in problems.items():
        warnings.warn(f"archive folder {folder} is skipped: {problem}", stacklevel=2)
    return found


def archive_problems() -> dict[Path, str]:
    """Sub-folders of the archive folders that are not readable data sets, with what is
    wrong with each (what :func:`archive_datasets` skips)."""
    return _scan(archive_dirs())[1]


def _bad_file(path: Path, what: str) -> DatasetUnavailableError:
    return DatasetUnavailableError(f"cannot read {path}: {what}")


def read_ucr_tsv(path: str | Path) -> tuple[object, np.ndarray]:
    """One UCR 2018 ``.tsv`` file: a series a line, the class label first, then the values,
    tab separated (commas are accepted too). Unequal-length sets are padded with NaN at
    the end in the archive; the padding is dropped and a list of series returned.

    Raises :class:`DatasetUnavailableError` naming the file and line of a value that is
    not a number, infinite or beyond float32's range, a line with a label but no values,
    rows of different lengths (a truncated file) or an empty file. A UTF-8 byte-order mark
    at the start is dropped (it would otherwise be part of the first label).
    """
    path = Path(path)
    text = _read_text(path, "a UCR .tsv file")
    labels, rows, linenos = [], [], []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        text_line = line.rstrip()  # keep a leading tab: it means an empty label
        fields = text_line.split("\t") if "\t" in text_line else text_line.split(",")
        if not fields[0].strip():
            raise _bad_file(path, f"line {lineno} has no class label in its first field")
        if len(fields) < 2:
            raise _bad_file(path, f"line {lineno} has a label but no values")
        try:
            values = np.array([float(v) for v in fields[1:]], dtype=np.float64)
        except ValueError:
            bad = next(v for v in fields[1:] if not _is_number(v))
            raise _bad_file(path, f"line {lineno}: {bad[:20]!r} is not a number") from None
        _check_range(path, values, f"line {lineno}")
        if rows and values.size != rows[0].size:
            raise _bad_file(path, f"line {lineno} has {values.size} values but line {linenos[0]} has "
                                  f"{rows[0].size}: the file is truncated or its rows are ragged (the "
                                  "archive pads unequal lengths with NaN)")
        labels.append(fields[0].strip())
        rows.append(values)
        linenos.append(lineno)
    if not rows:
        raise _bad_file(path, "the file holds no series")
    series = []
    for values, lineno in zip(rows, linenos):
        observed = ~np.isnan(values)
        length = int(np.flatnonzero(observed)[-1]) + 1 if observed.any() else 0
        if length == 0 or not observed[:length].all():
            raise _bad_file(path, f"line {lineno} has missing values inside its series; "
                                  "tsimb's models need complete series")
        series.append(values[None, :length])
    if all(s.shape[1] == rows[0].size for s in series):
        return np.stack(series), np.asarray(labels)
    return series, np.asarray(labels)


def _read_text(path: Path, kind: str) -> str:
    """The file as text; a UTF-8 byte-order mark (written by some Windows editors) is dropped."""
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _bad_file(path, f"byte {error.start} is not UTF-8 text; is this {kind}?") from None


def _check_range(path: Path, values: np.ndarray, where: str) -> None:
    """Refuse infinite values and values beyond float32's range (they would become inf)."""
    bad = np.isinf(values) | (np.abs(np.nan_to_num(values)) > FLOAT32_MAX)
    if bad.any():
        raise _bad_file(path, f"{where}: value {values[bad][0]!r} is infinite or beyond float32's range "
                              f"(+-{FLOAT32_MAX:.4g}), which tsimb's float32 series cannot hold")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_ts(path: str | Path) -> tuple[object, np.ndarray]:
    """One UEA ``.ts`` (or ``.arff``) file through aeon's reader, its errors turned into a
    :class:`DatasetUnavailableError` that names the file (and the line, where aeon names
    the case). Also refused, with the line: a class label the header's ``@classLabel``
    does not declare, an infinite value or one beyond float32's range."""
    from aeon.datasets import load_from_arff_file, load_from_ts_file

    path = Path(path)
    if path.stat().st_size == 0:
        raise _bad_file(path, "the file is empty")
    text = _read_text(path, f"a UEA {path.suffix} file")
    reader = load_from_arff_file if path.suffix == ".arff" else load_from_ts_file
    try:
        X, y = reader(str(path))
    except Exception as error:  # aeon raises IOError/ValueError/IndexError with bare messages
        where = ""
        case = re.search(r"case (\d+)", str(error))
        lines = text.splitlines()
        data_line = next((i for i, line in enumerate(lines, 1) if line.strip().lower() == "@data"), None)
        if case and data_line:
            where = f" (line {data_line + int(case.group(1))})"
        raise _bad_file(path, f"{type(error).__name__}: {error}{where}") from None
    if y is None or len(y) == 0:
        raise _bad_file(path, "no class labels (@classLabel false, or no series)")
    y = np.asarray(y)
    case_lines = _case_lines(text.splitlines())
    def line_of(i: int) -> str:
        return f"line {case_lines[i]}" if i < len(case_lines) else f"series {i + 1}"

    declared = _declared_labels(text) if path.suffix == ".ts" else None
    if declared:  # compared as the loader compares labels: case aside, "1.0" is "1"
        known = {canonical_label(label).lower() for label in declared}
        undeclared = [i for i, label in enumerate(y.astype(str)) if canonical_label(label).lower() not in known]
        if undeclared:
            i = undeclared[0]
            raise _bad_file(path, f"{line_of(i)}: class label {str(y[i])!r} is not declared in the header "
                                  f"(@classLabel true {' '.join(declared)}); {len(undeclared)} series have "
                                  "undeclared labels")
    for i, series in enumerate(X):
        _check_range(path, np.asarray(series, dtype=np.float64), line_of(i))
    return X, y


def _case_lines(lines: list[str]) -> list[int]:
    """Line numbers (1-based) of the series after the ``@data`` line of a .ts/.arff file."""
    start = next((i for i, line in enumerate(lines, 1) if line.strip().lower() == "@data"), None)
    if start is None:
        return []
    return [i for i, line in enumerate(lines[start:], start + 1)
            if line.strip() and not line.lstrip().startswith(("#", "%"))]


def _declared_labels(text: str) -> list[str] | None:
    """The class labels a .ts header declares (``@classLabel true a b c``), or None."""
    match = re.search(r"^\s*@classLabel\s+true\s+(.*)$", text, flags=re.IGNORECASE | re.MULTILINE)
    return match.group(1).split() if match else None


def _load_archive(name: str, folder: Path) -> RawSplits:
    train, test = _archive_pair(folder, name)
    read = read_ucr_tsv if train.suffix == ".tsv" else read_ts
    return {"train": read(train), "test": read(test)}
