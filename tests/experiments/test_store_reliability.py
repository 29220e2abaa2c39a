"""The run store refuses on read what it refuses on write, normalises numpy scalars in
configurations, checks the chapter's file up front, and leaves the file whole when an
append fails (issue 20 items 7, 13, 20, 29 and "keep it that way")."""

from __future__ import annotations

import json
import math
import os
import subprocess
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tsimb.experiments import RunOutput, run_grid
from tsimb.experiments.store import RunStore, StoreError, check_record, config_key


def _record(config: dict, value: float = 0.5) -> dict:
    return {"key": config_key(config), "config": config, "metrics": {"accuracy": value}, "trace": [1.0, 0.5]}


def _write_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))


# item 7 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("metrics", ['{"accuracy": NaN}', '{"accuracy": "high"}', "{}", '{"accuracy": Infinity}',
                                     '{"accuracy": true}', "[]", "null"],
                         ids=["nan", "text", "empty", "inf", "bool", "list", "null"])
def test_a_hand_merged_line_the_writer_would_refuse_is_skipped_and_recomputed(tmp_path, metrics):
    good = _record({"i": 0})
    bad_config = {"i": 1}
    bad = json.dumps(_record(bad_config)).replace('{"accuracy": 0.5}', metrics)
    _write_lines(tmp_path / "ch.jsonl", [json.dumps(good), bad])
    store = RunStore(tmp_path)
    with pytest.warns(UserWarning, match=rf"ch.jsonl:2: skipped an unreadable run"):
        records = store.records("ch")
    assert list(records) == [good["key"]]
    computed = []

    def run(config):
        computed.append(config["i"])
        return RunOutput({"accuracy": 0.25})

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = run_grid([{"i": 0}, {"i": 1}], run, chapter="ch", store=store, cache=None, write="store")
    assert computed == [1]  # the refused run is computed again, not served and not lost from the table
    assert table.set_index("i").loc[1, "value"] == 0.25


def test_a_skipped_run_with_empty_metrics_is_still_served(tmp_path):
    skipped = {**_record({"i": 0}), "metrics": {}, "skipped": "too few series"}
    _write_lines(tmp_path / "ch.jsonl", [json.dumps(skipped)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert RunStore(tmp_path).records("ch")[skipped["key"]]["skipped"] == "too few series"


# "keep it that way": generated malformed lines ---------------------------------------------------

BAD_VALUES = [float("nan"), float("inf"), "high", None, True, [], {}, "0.5"]
MUTATIONS = st.one_of(
    st.tuples(st.just("metric"), st.sampled_from(BAD_VALUES)),
    st.tuples(st.just("metrics"), st.sampled_from([{}, [], "x", None, 1])),
    st.tuples(st.just("drop"), st.sampled_from(["key", "config", "metrics"])),
    st.tuples(st.just("key"), st.text("0123456789abcdef", min_size=0, max_size=24)),
    st.tuples(st.just("config"), st.sampled_from([[1, 2], "i=1", 3, None])),
    st.tuples(st.just("trace"), st.sampled_from([[float("nan")], ["x"], "1.0", {"a": 1}])),
    st.tuples(st.just("cut"), st.floats(0.05, 0.95)),
    st.tuples(st.just("top"), st.sampled_from(["[1, 2]", '"text"', "3", "null", "true"])),
    st.tuples(st.just("garbage"), st.text(min_size=1, max_size=40).filter(lambda t: t.strip() and "\n" not in t
                                                                           and "\r" not in t)),
)


def _malformed(mutation: tuple, config: dict) -> str:
    kind, arg = mutation
    record = _record(config)
    if kind == "metric":
        record["metrics"]["accuracy"] = arg
    elif kind == "metrics":
        record["metrics"] = arg
    elif kind == "drop":
        del record[arg]
    elif kind == "key":
        record["key"] = arg
    elif kind == "config":
        record["config"] = arg
        record["key"] = config_key({"wrapped": arg})  # any key: none is the hash of a non-object
    elif kind == "trace":
        record["trace"] = arg
    elif kind in ("top", "garbage"):
        return arg
    line = json.dumps(record)  # NaN and Infinity tokens, as a hand edit or another tool writes them
    return line[:max(1, int(len(line) * arg))] if kind == "cut" else line


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutation=MUTATIONS, position=st.integers(0, 2))
def test_generated_malformed_lines_are_skipped_with_file_and_line_never_served(tmp_path_factory, mutation, position):
    folder = tmp_path_factory.mktemp("store")
    good = [_record({"i": i}) for i in range(2)]
    lines = [json.dumps(r) for r in good]
    lines.insert(position, _malformed(mutation, {"i": 99}))
    _write_lines(folder / "ch.jsonl", lines)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        records = RunStore(folder).records("ch")
    assert set(records) == {r["key"] for r in good}  # the malformed run is never served
    for record in records.values():
        check_record(record)
        assert all(math.isfinite(v) for v in record["metrics"].values())
    messages = [str(w.message) for w in caught]
    assert any(f"ch.jsonl:{position + 1}: skipped" in m for m in messages), messages


# item 13 -----------------------------------------------------------------------------------------


def test_numpy_scalars_in_a_config_are_the_python_numbers_they_hold(tmp_path):
    plain = {"i": 1, "x": 0.5, "flag": True, "shape": [2, 3]}
    numpy = {"i": np.int64(1), "x": np.float32(0.5), "flag": np.bool_(True), "shape": np.array([2, 3])}
    assert config_key(numpy) == config_key(plain)
    store = RunStore(tmp_path)
    store.append("ch", {**_record(plain), "config": numpy})
    stored = store.records("ch")[config_key(plain)]
    assert stored["config"] == plain and type(stored["config"]["i"]) is int
    assert store.get("ch", numpy) is not None and store.get("ch", plain) is not None
    calls = []
    run_grid([numpy], lambda c: calls.append(c) or RunOutput({"accuracy": 1.0}), chapter="ch", store=store,
             cache=None, write="store")
    assert calls == []  # resume finds the run stored under the plain configuration


# item 29 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("chapter", ["../escaped", "a/b", "..", "a\\b", "/tmp/x", ".hidden", ""])
def test_chapter_names_that_are_paths_are_refused(tmp_path, chapter):
    store = RunStore(tmp_path / "store")
    with pytest.raises(ValueError, match="chapter name"):
        run_grid([{"i": 0}], lambda c: RunOutput({"accuracy": 1.0}), chapter=chapter, store=store, cache=None,
                 write="store")
    with pytest.raises(ValueError, match="chapter name"):
        store.append(chapter, _record({"i": 0}))
    assert not (tmp_path / "escaped.jsonl").exists() and list(tmp_path.rglob("*.jsonl")) == []


# item 20 -----------------------------------------------------------------------------------------


@contextmanager
def _read_only(path: Path):
    """``path`` read-only, for this process too: ``chmod`` where we are not root; as root
    (whom modes do not stop) a read-only bind mount of the file, or a skip where that fails."""
    path.chmod(0o444)
    if os.geteuid() != 0:
        yield
        return
    bound = subprocess.run(["mount", "--bind", str(path), str(path)], capture_output=True)
    if bound.returncode != 0:
        pytest.skip(f"running as root and cannot bind-mount {path} read-only: {bound.stderr.decode().strip()}")
    try:
        ro = subprocess.run(["mount", "-o", "remount,ro,bind", str(path)], capture_output=True)
        if ro.returncode != 0:
            pytest.skip(f"cannot remount {path} read-only: {ro.stderr.decode().strip()}")
        yield
    finally:
        subprocess.run(["umount", str(path)], capture_output=True)


def test_a_read_only_store_file_is_found_before_any_run_is_computed(tmp_path):
    store = RunStore(tmp_path)
    store.append("ch", _record({"i": 0}))
    before = store.path("ch").read_bytes()
    computed = []
    with _read_only(store.path("ch")):
        with pytest.raises(StoreError, match=r"cannot write runs to .*ch.jsonl"):
            run_grid([{"i": 0}, {"i": 1}], lambda c: computed.append(c) or RunOutput({"accuracy": 1.0}),
                     chapter="ch", store=store, cache=None, write="store")
        with pytest.raises(StoreError, match="every run stored before is kept"):
            store.append("ch", _record({"i": 2}))
    assert computed == [] and store.path("ch").read_bytes() == before


@pytest.fixture
def small_disk(tmp_path):
    """A 16 kB tmpfs (skipped where it cannot be mounted: not root, no mount permission)."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


def test_a_full_disk_cuts_the_partial_line_and_says_what_was_kept(small_disk):
    store = RunStore(small_disk)
    padding = "x" * 1500  # a few runs per 4 kB page, so one append is cut midway
    stored = []
    with pytest.raises(StoreError, match=r"No space left on device.*every run stored before is kept") as info:
        for i in range(100):
            store.append("ch", {**_record({"i": i}), "provenance": {"note": padding}})
            stored.append(config_key({"i": i}))
    assert "cut back to its previous" in str(info.value)
    text = store.path("ch").read_bytes()
    assert text.endswith(b"\n") and len(text.splitlines()) == len(stored) > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no line cut short: nothing to warn about
        assert list(RunStore(small_disk).records("ch")) == stored
    # free space and resume: the next append works and the file stays whole
    (small_disk / "ch.jsonl").write_bytes(b"\n".join(text.splitlines()[:1]) + b"\n")
    store.append("ch", _record({"i": 1000}))
    assert list(RunStore(small_disk).records("ch")) == [stored[0], config_key({"i": 1000})]
