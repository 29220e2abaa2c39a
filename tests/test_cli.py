"""The command line: help without the library, user errors as one line and exit 2, Ctrl-C,
and the run command's checks that come before any run (issues 20 and 21)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tsimb.cli import build_parser, main
from tsimb.data import Imbalance
from tsimb.experiments import baselines
from tsimb.experiments import runner
from tsimb.experiments.runner import provenance
from tsimb.train import Budget

ROOT = Path(__file__).resolve().parents[1]

TINY = baselines.BaselineSettings(
    datasets=("ItalyPowerDemand",), models=("cnn",), methods=("none",), imbalances=(Imbalance("step", 10),),
    seeds=(0,), budget=Budget(epochs=1), sweep_dataset="ItalyPowerDemand", sweep_model="cnn",
    sweep_methods=("none", "ros"), sweep_ratios=(1,), sweep_seeds=(0,), schedule_dataset="ItalyPowerDemand")


def cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """Run the command line in this process: (exit code, stdout, stderr)."""
    try:
        code = main(argv)
    except SystemExit as stop:  # main returns its code; this catches a regression to sys.exit
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(code: int, err: str, *needles: str) -> None:
    """One line on stderr, ``tsimb: error: ...``, exit 2, no traceback."""
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tsimb: error: "), err
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
def no_compute(monkeypatch):
    """Any run, re-execution or timing fails the test: a user error must be caught before."""
    def refuse(*args, **kwargs):
        raise AssertionError("something was computed before the user error was reported")

    monkeypatch.setattr(runner, "execute", refuse)
    monkeypatch.setattr("tsimb.experiments.verify.execute", refuse)
    monkeypatch.setattr("tsimb.bench.build_model", refuse)
    monkeypatch.setattr("tsimb.bench.benchmark_augment", refuse)


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    """The baselines chapter with tiny grids, a fresh run cache, no profile from outside."""
    monkeypatch.setitem(baselines.SETTINGS, "quick", TINY)
    for name in ("TSIMB_PROFILE", "TSIMB_DEVICE", "TSIMB_THREADS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TSIMB_CACHE", str(tmp_path / "cache"))
    return tmp_path


# ----- help ---------------------------------------------------------------------------

def test_help_imports_neither_torch_nor_the_library():
    code = ("import runpy, sys\n"
            "sys.argv = ['tsimb', '--help']\n"
            "try:\n    runpy.run_module('tsimb', run_name='__main__')\n"
            "except SystemExit as stop:\n    assert stop.code in (0, None), stop.code\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'numpy', 'pandas'))\n"
            "heavy += sorted(m for m in sys.modules if m.startswith('tsimb.') and m not in "
            "('tsimb.cli', 'tsimb.runtime', 'tsimb.__main__'))\n"
            "print('IMPORTED', heavy)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "usage: tsimb" in result.stdout and "IMPORTED []" in result.stdout, result.stdout


@pytest.mark.parametrize("command", [[], ["datasets"], ["run"], ["verify"], ["bench"]])
def test_help_texts_have_no_raw_markup_and_document_every_option(command, capsys):
    code, out, _ = cli([*command, "--help"], capsys)
    assert code == 0 and "``" not in out
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices[command[0]] if command else parser
    undocumented = [a.dest for a in sub._actions if not a.help]
    assert undocumented == []


def test_run_help_lists_the_chapters_and_their_grids(capsys):
    code, out, _ = cli(["run", "--help"], capsys)
    assert code == 0
    assert "--profile" in out and "quick" in out and "full" in out
    for chapter, grids in (("baselines", ("main", "sweep", "ldam_schedule")),
                           ("ode-augmentation", ("paper", "beyond", "imbalanced")),
                           ("ib-gan", ("paper", "trained", "pmiss", "quality"))):
        line = next(line for line in out.splitlines() if line.strip().startswith(chapter))
        assert all(g in line for g in grids), line


# ----- user errors: one line, exit 2 --------------------------------------------------

@pytest.mark.parametrize("env, argv, needle", [
    ({"TSIMB_PROFILE": "bogus"}, ["run", "ib-gan"], "unknown profile 'bogus' (from $TSIMB_PROFILE)"),
    ({"TSIMB_THREADS": "abc"}, ["run", "ib-gan"], "TSIMB_THREADS='abc'"),
    ({"TSIMB_DEVICE": "cuda"}, ["run", "ib-gan"], "no CUDA device"),
    ({"TSIMB_DEVICE": "mps"}, ["verify", "baselines"], "MPS"),
    ({}, ["run", "ib-gan", "--grid", "papr"], "did you mean 'paper'"),
    ({}, ["run", "ode-augmentaton"], "did you mean 'ode-augmentation'"),
    ({}, ["verify", "ode-augmentaton"], "did you mean 'ode-augmentation'"),
    ({}, ["verify", "--replay-epochs", "-1"], "--replay-epochs: must be at least 1"),
    ({}, ["verify", "--replay-epochs", "0"], "--replay-epochs: must be at least 1"),
    ({}, ["verify", "--sample", "0"], "--sample: must be at least 1"),
    ({}, ["verify", "--full-seconds", "nan"], "--full-seconds"),
    ({}, ["bench", "--device", "gpu"], "'gpu' is not a device"),
    ({}, ["bench", "--n", "1"], "one series per class"),
    ({}, ["bench", "--n", "3"], "one series per class"),
    ({}, ["bench", "--repeats", "0"], "--repeats: must be at least 1"),
    ({}, ["bench", "--epochs", "x"], "--epochs: must be a whole number"),
    ({}, ["frobnicate"], "invalid choice"),
    ({}, [], "required"),
])
def test_user_errors_are_one_line_and_exit_2(env, argv, needle, monkeypatch, capsys, tmp_path, no_compute):
    if env.get("TSIMB_DEVICE") == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    if env.get("TSIMB_DEVICE") == "mps" and torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    for name in ("TSIMB_PROFILE", "TSIMB_DEVICE", "TSIMB_THREADS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    store = ["--store", str(tmp_path / "runs")] if argv[:1] in (["run"], ["verify"]) else []
    assert_user_error(*cli([*argv, *store], capsys)[::2], needle)


@pytest.mark.parametrize("command", ["verify", "run"])
def test_a_planned_chapter_is_one_line_and_exit_2(command, monkeypatch, capsys, tmp_path, no_compute):
    # no chapter of the book is planned now: register one for the test
    from tsimb.experiments import CHAPTERS, Chapter

    monkeypatch.setitem(CHAPTERS._entries, "toy-planned", Chapter("toy-planned", "Toy", "", "nothing yet", ()))
    monkeypatch.setitem(CHAPTERS._summaries, "toy-planned", "")
    assert_user_error(*cli([command, "toy-planned", "--store", str(tmp_path / "runs")], capsys)[::2], "planned")


def test_python_m_tsimb_prints_the_message_alone_and_exits_2(tmp_path):
    # the issue's own command, end to end through __main__
    env = {k: v for k, v in os.environ.items() if not k.startswith("TSIMB_")}
    result = subprocess.run([sys.executable, "-m", "tsimb", "run", "baselines", "--store", str(tmp_path)],
                            capture_output=True, text=True, cwd=ROOT, timeout=300,
                            env={**env, "TSIMB_PROFILE": "bogus"})
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "tsimb: error: unknown profile 'bogus' (from $TSIMB_PROFILE); choose one of quick, full"]


def test_a_store_that_is_a_file_or_missing_is_one_line(tmp_path, capsys, no_compute):
    a_file = tmp_path / "passwd"
    a_file.write_text("root:x:0:0\n")
    assert_user_error(*cli(["run", "ib-gan", "--store", str(a_file)], capsys)[::2], "cannot write runs to")
    assert_user_error(*cli(["verify", "baselines", "--store", str(a_file)], capsys)[::2], "not a folder")
    # not "MISMATCH ... run -": the store itself is missing
    assert_user_error(*cli(["verify", "--store", str(tmp_path / "nowhere")], capsys)[::2], "does not exist")


def test_datasets_with_a_malformed_archive_folder_is_not_a_traceback(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "archive" / "Broken"
    bad.mkdir(parents=True)
    (bad / "Broken_TRAIN.tsv").write_text("1\t0.1\t0.2\n2\t0.3\t0.4\n")  # and no _TEST file
    monkeypatch.setenv("TSIMB_ARCHIVE", str(tmp_path / "archive"))
    code, out, err = cli(["datasets"], capsys)
    if code != 0:  # reporting the bad folder and listing the rest is also fine
        assert_user_error(code, err, "Broken")


@pytest.mark.parametrize("where", ["folder", "no folder", "unwritable"])
def test_out_is_checked_before_any_run(where, tiny, capsys, no_compute):
    out = {"folder": tiny, "no folder": tiny / "missing" / "t.csv", "unwritable": Path("/proc/version")}[where]
    if where == "unwritable" and not out.exists():
        pytest.skip("needs Linux's /proc")
    argv = ["run", "baselines", "--grid", "sweep", "--store", str(tiny / "runs"), "--out", str(out)]
    assert_user_error(*cli(argv, capsys)[::2], "--out")


# The CLI half of issue 20's "keep it that way": generated bad arguments for every
# subcommand, alone or together; never a traceback and never a computed run.
CHAPTERS = ["baselines", "ode-augmentation", "ib-gan"]
GRIDS = {"main", "sweep", "ldam_schedule", "paper", "beyond", "imbalanced", "long", "trained", "pmiss", "quality"}
OPTIONS = [option for sub in build_parser()._subparsers._group_actions[0].choices.values()
           for action in sub._actions for option in action.option_strings]
junk = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12)
value = junk.filter(lambda s: not s.startswith("-"))  # a value argparse does not take for an option


def _whole(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def _seconds(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _device_refused(name: str) -> bool:
    from tsimb.runtime import get_device

    try:
        get_device(name)
    except ValueError:
        return True
    return False


not_positive = st.one_of(st.integers(max_value=0).map(str), junk.filter(lambda s: _whole(s) is None))
bad_seconds = st.one_of(st.floats(max_value=-1e-9, allow_nan=False).map(str), st.just("nan"),
                        junk.filter(lambda s: _seconds(s) is None))
# argparse accepts any unambiguous prefix of an option: keep those out
unknown_flag = st.from_regex(r"--[a-z]{2,10}", fullmatch=True).filter(
    lambda f: not any(o.startswith(f) for o in OPTIONS))
bad_device = value.filter(lambda s: s.strip() != "" and _device_refused(s))


def _option(name: str, values: st.SearchStrategy) -> st.SearchStrategy:
    return st.tuples(st.tuples(st.just(name), values), st.just({}))


def _variable(name: str, values: st.SearchStrategy) -> st.SearchStrategy:
    return st.tuples(st.just(()), st.fixed_dictionaries({name: values}))


def _faults(command: str, folder: Path) -> st.SearchStrategy:
    """Lists of (argv additions, environment), each of which alone makes ``command`` a user error."""
    a_file = st.just(str(folder / "a-file"))
    flag = st.tuples(st.tuples(unknown_flag), st.just({}))
    if command == "run":
        faults = [
            _option("--profile", junk.filter(lambda s: s not in ("quick", "full"))),
            _option("--grid", junk.filter(lambda s: s not in GRIDS)),
            _option("--out", st.just(str(folder))),
            _option("--store", a_file),
            _variable("TSIMB_PROFILE", value.filter(lambda s: s.strip().lower() not in ("", "quick", "full"))),
            _variable("TSIMB_THREADS", junk.filter(lambda s: not (s.isdigit() and int(s) >= 1))),
            _variable("TSIMB_DEVICE", bad_device),
        ]
    elif command == "verify":
        faults = [
            _option("--sample", not_positive),
            _option("--replay-epochs", not_positive),
            _option("--full-seconds", bad_seconds),
            _option("--budget", bad_seconds),
            st.tuples(st.tuples(value.filter(lambda s: s not in CHAPTERS)), st.just({})),
            _option("--store", a_file),
            _variable("TSIMB_DEVICE", bad_device),
        ]
    elif command == "bench":  # not $TSIMB_DEVICE: a --device on the command line wins over it
        faults = [
            st.tuples(st.tuples(st.sampled_from(["--n", "--length", "--epochs", "--batch-size", "--repeats"]),
                                not_positive.filter(lambda s: (_whole(s) or 0) < 1)), st.just({})),
            _option("--n", st.integers(1, 3).map(str)),
            _option("--device", bad_device),
            st.tuples(st.tuples(value.filter(lambda s: s not in ("fit", "augment", "gan"))), st.just({})),
        ]
    else:  # datasets takes no arguments
        faults = [st.tuples(st.tuples(value), st.just({}))]
    return st.lists(st.one_of(*faults, flag), min_size=1, max_size=3)


@settings(max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_generated_bad_arguments_are_one_line_and_exit_2(data, tiny, monkeypatch, capsys, no_compute):
    command = data.draw(st.sampled_from(["run", "verify", "bench", "datasets"]))
    (tiny / "a-file").write_text("not a folder")
    argv, env = [command], {}
    if command == "run":
        argv += [data.draw(st.sampled_from(CHAPTERS)), "--store", str(tiny / "runs")]
    elif command == "verify":
        (tiny / "runs").mkdir(exist_ok=True)
        argv += ["--store", str(tiny / "runs")]
    for extra, variables in data.draw(_faults(command, tiny)):
        argv += list(extra)
        env.update(variables)
    with monkeypatch.context() as patch:
        for name, text in env.items():
            patch.setenv(name, text)
        code, out, err = cli(argv, capsys)
    assert_user_error(code, err)


def test_a_bug_keeps_its_traceback(tiny, monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug in tsimb, not the user's mistake")

    monkeypatch.setattr(runner, "execute", broken)
    with pytest.raises(ZeroDivisionError):
        main(["run", "baselines", "--grid", "sweep", "--store", str(tiny / "runs"), "--jobs", "1"])


# ----- run: grids once, Ctrl-C, nothing to compute -----------------------------------

def test_a_grid_named_twice_is_written_once(tiny, capsys):
    store = str(tiny / "runs")
    once, twice = tiny / "once.csv", tiny / "twice.csv"
    assert main(["run", "baselines", "--grid", "sweep", "--store", store, "--out", str(once)]) == 0
    assert main(["run", "baselines", "--grid", "sweep", "--grid", "sweep", "--store", store, "--out", str(twice)]) == 0
    assert len(pd.read_csv(twice)) == len(pd.read_csv(once)) > 0


def _fake_execute(interrupt_after: int | None = None):
    """``execute`` that returns a made-up run at once, and raises KeyboardInterrupt (as
    Ctrl-C does) after ``interrupt_after`` runs."""
    done = []

    def execute(run, config, n_threads=None, epochs=None):
        if interrupt_after is not None and len(done) >= interrupt_after:
            raise KeyboardInterrupt
        done.append(config)
        return dict(config=dict(config), metrics={"balanced_accuracy": 0.5}, trace=[0.7],
                    provenance=provenance(0.01, 1))

    return execute


def test_ctrl_c_says_what_is_stored_and_that_rerunning_resumes(tiny, monkeypatch, capsys):
    argv = ["run", "baselines", "--grid", "sweep", "--grid", "main", "--store", str(tiny / "runs"), "--jobs", "1"]
    monkeypatch.setenv("CI", "true")  # no progress bars on stderr
    monkeypatch.setattr(runner, "execute", _fake_execute(interrupt_after=1))
    code, out, err = cli(argv, capsys)
    assert code == 130 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "interrupted: 1 of 4 runs of baselines (sweep, main) are stored in" in lines[0]
    assert "run the same command again to resume" in lines[0]

    monkeypatch.setattr(runner, "execute", _fake_execute())
    code, out, err = cli(argv, capsys)
    assert code == 0 and "baselines / sweep: 2 of 2 runs stored in" in out and "nothing to compute" not in out
    code, out, err = cli(argv, capsys)
    assert code == 0
    assert "baselines / sweep: nothing to compute, all 2 runs are stored in" in out
    assert "baselines / main: nothing to compute, all 2 runs are stored in" in out
