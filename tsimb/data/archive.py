"""Readers for local copies of the UCR/UEA archives in their own layout
(``<folder>/<Name>/<Name>_TRAIN.tsv`` and ``_TEST.tsv``, or ``.ts`` / ``.arff``): the
folders of ``$TSIMB_ARCHIVE``, else ``shared/data`` beside a source checkout. Never written
to. A malformed file raises :class:`~tsimb.data.DatasetUnavailableError` naming the file
and the line."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .datasets import DatasetUnavailableError

RawSplits = dict[str, tuple[object, np.ndarray]]  # split -> (series array or list, raw labels)
ARCHIVE_ENV = "TSIMB_ARCHIVE"
ARCHIVE_FORMATS = (".tsv", ".ts", ".arff")


def archive_dirs() -> list[Path]:
    """Local archive folders: ``$TSIMB_ARCHIVE`` (``os.pathsep``-separated), else the
    ``shared/data`` folder beside a source checkout of tsimb when it exists."""
    value = os.environ.get(ARCHIVE_ENV)
    if value is not None:
        return [Path(p).expanduser() for p in value.split(os.pathsep) if p]
    beside_checkout = Path(__file__).resolve().parents[2].parent / "shared" / "data"
    return [beside_checkout] if beside_checkout.is_dir() else []


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


def archive_datasets() -> dict[str, Path]:
    """Data sets found in the archive folders: name -> folder (the first folder wins)."""
    found: dict[str, Path] = {}
    for folder in archive_dirs():
        if not folder.is_dir():
            continue
        for sub in sorted(folder.iterdir()):
            if sub.is_dir() and sub.name not in found and _archive_pair(folder, sub.name):
                found[sub.name] = folder
    return found


def _bad_file(path: Path, what: str) -> DatasetUnavailableError:
    return DatasetUnavailableError(f"cannot read {path}: {what}")


def read_ucr_tsv(path: str | Path) -> tuple[object, np.ndarray]:
    """One UCR 2018 ``.tsv`` file: a series a line, the class label first, then the values,
    tab separated (commas are accepted too). Unequal-length sets are padded with NaN at
    the end in the archive; the padding is dropped and a list of series returned.

    Raises :class:`DatasetUnavailableError` naming the file and line of a value that is
    not a number, a line with a label but no values, rows of different lengths
    (a truncated file) or an empty file.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise _bad_file(path, f"byte {error.start} is not UTF-8 text; is this a UCR .tsv file?") from None
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


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_ts(path: str | Path) -> tuple[object, np.ndarray]:
    """One UEA ``.ts`` (or ``.arff``) file through aeon's reader, its errors turned into a
    :class:`DatasetUnavailableError` that names the file (and the line, where aeon names
    the case)."""
    import re

    from aeon.datasets import load_from_arff_file, load_from_ts_file

    path = Path(path)
    if path.stat().st_size == 0:
        raise _bad_file(path, "the file is empty")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise _bad_file(path, f"byte {error.start} is not UTF-8 text; is this a UEA {path.suffix} file?") from None
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
    return X, np.asarray(y)


def _load_archive(name: str, folder: Path) -> RawSplits:
    train, test = _archive_pair(folder, name)
    read = read_ucr_tsv if train.suffix == ".tsv" else read_ts
    return {"train": read(train), "test": read(test)}
