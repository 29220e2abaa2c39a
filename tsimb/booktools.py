"""The book's build helpers: the Colab install cell, generated from one setting, and
:func:`glue`, myst-nb's glue made safe for the chapters' numbers and figures.

The repository URL is set once, in the book's ``_config.yml`` (``repository: url:``), and
the release in ``tsimb.__version__``. Every chapter's first code cell installs that tagged
release on Colab (the release whose outputs the page shows) and does nothing elsewhere.
After changing either, run ``python -m tsimb.booktools sync-colab`` and re-execute.

The contract with the chapters (``book/*.py``, jupytext percent format, paired with
``book/*.ipynb``):

* the first code cell (the first ``# %%`` cell that is not ``[markdown]``) is the install
  cell and holds nothing else: the imports go in the next code cell;
* its source is exactly :func:`colab_install_source` for the configured URL and version;
  :func:`is_install_cell` recognises it (and an older one, for another URL or release): it
  holds only ``import subprocess``, ``import sys`` and ``if "google.colab" in sys.modules:``.

:func:`sync_colab` replaces the source of that cell only, in each ``.py`` and, when its
first code cell is an install cell too, in the paired ``.ipynb`` (whose outputs stay); it
leaves every other cell, the metadata and the header as they are (and warns about an
``.ipynb`` that is not re-paired with its script yet). A chapter whose first code
cell is anything else (imports, say) is an error, not something overwritten: print the cell
with ``python -m tsimb.booktools colab-cell`` and put it in front of the chapter's imports.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
import warnings
from pathlib import Path
from typing import Any

__all__ = ["author_year_label", "book_labels", "colab_install_source", "glue", "is_install_cell", "main", "repository_url",
           "setup", "sync_colab"]

_ROOT = Path(__file__).resolve().parents[1]  # the repository (an editable install)
_URL = re.compile(r"https?://[^\s\"'\\@]+")


def repository_url(config_path: str | Path | None = None) -> str:
    """The book's repository URL, ``repository: url:`` in ``_config.yml`` (by default the
    one at the repository's root), without a trailing slash."""
    import yaml

    path = Path(config_path) if config_path is not None else _ROOT / "_config.yml"
    if not path.is_file():
        raise FileNotFoundError(f"no book configuration at {path}; pass the path to _config.yml")
    config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    url = (config.get("repository") or {}).get("url")
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"{path} sets no repository URL: add `repository: url: https://...`")
    return url.strip().rstrip("/")


def colab_install_source(url: str, version: str) -> str:
    """The exact source of a chapter's first code cell: on Colab only, quietly pip-install
    ``tsimb @ git+{url}@v{version}`` (Colab has PyTorch already; the wheel carries the book's
    run store, so the chapter reads its results instead of recomputing them). pip's output is
    captured, and shown, with an error that stops the notebook, when the install fails."""
    url = url.strip().rstrip("/")
    if not _URL.fullmatch(url):
        raise ValueError(f"not a plain http(s) repository URL: {url!r}")
    if not re.fullmatch(r"[0-9A-Za-z.+_-]+", version or ""):
        raise ValueError(f"not a release version: {version!r}")
    requirement = f"tsimb @ git+{url}@v{version}"
    return (
        "import subprocess\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "{requirement}"],\n'
        "                         capture_output=True, text=True)\n"
        "    if pip.returncode != 0:\n"
        '        raise RuntimeError(f"installing tsimb failed; pip said:\\n{pip.stdout[-2000:]}{pip.stderr[-4000:]}")'
    )


def is_install_cell(source: str) -> bool:
    """Whether a code cell is a Colab install cell (of any URL and release): only
    ``import subprocess``, ``import sys`` and ``if "google.colab" in sys.modules:`` blocks."""
    try:
        statements = ast.parse(source).body
    except SyntaxError:
        return False
    guarded = False
    for statement in statements:
        if isinstance(statement, ast.Import) and {a.name for a in statement.names} <= {"subprocess", "sys"}:
            continue
        if isinstance(statement, ast.If) and ast.unparse(statement.test) == "'google.colab' in sys.modules":
            guarded = True
            continue
        return False
    return guarded


def glue(name: str, value: Any, display: bool = True) -> None:
    """:func:`myst_nb.glue` for the chapters: glue ``value`` under ``name`` for
    ``{glue:text}`` / ``{glue:figure}`` in the prose.

    A NumPy scalar is glued as the Python number (so ``{glue:text}`name:.1f``` can format
    it; NumPy 2 prints ``np.float64(...)``, which myst-nb cannot); an Axes or a seaborn grid
    as its figure, which is then closed, so that the cell does not show it a second time.
    Where myst-nb is not installed (Colab), a figure is shown instead, and any value when
    ``display``."""
    import numpy as np
    from matplotlib.figure import Figure

    if isinstance(value, np.generic):
        value = value.item()
    if not isinstance(value, Figure) and isinstance(getattr(value, "figure", None), Figure):
        value = value.figure
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        myst_glue = None
    if myst_glue is not None:
        myst_glue(name, value, display=display)
    elif display or isinstance(value, Figure):
        from IPython.display import display as show

        show(value)
    if isinstance(value, Figure):
        import matplotlib.pyplot as plt

        plt.close(value)


def _first_code_cell(notebook) -> int | None:
    return next((i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"), None)


def _header(text: str) -> str:
    """The jupytext YAML header (``# ---`` ... ``# ---``) that opens a percent script, or ''."""
    match = re.match(r"# ---\n.*?^# ---\n", text, flags=re.DOTALL | re.MULTILINE)
    return match.group(0) if match else ""


def _is_percent_notebook(text: str) -> bool:
    return "format_name: percent" in _header(text)


def sync_colab(book_dir: str | Path, url: str | None = None, version: str | None = None) -> list[str]:
    """Rewrite the install cell (the first code cell) of every chapter in ``book_dir`` to
    :func:`colab_install_source`; returns the names of the files it changed.

    ``url`` defaults to :func:`repository_url` of ``book_dir/../_config.yml``, ``version`` to
    ``tsimb.__version__``. Raises :class:`ValueError`, changing nothing, when a chapter's
    first code cell is not an install cell (see the module's docstring)."""
    import jupytext
    import nbformat

    book_dir = Path(book_dir)
    if url is None:
        url = repository_url(book_dir.resolve().parent / "_config.yml")
    if version is None:
        from . import __version__ as version
    source = colab_install_source(url, version)

    scripts = sorted(p for p in book_dir.glob("*.py") if _is_percent_notebook(p.read_text(encoding="utf-8")))
    plans: list[tuple[Path, object, int]] = []
    wrong = []
    for script in scripts:
        notebook = jupytext.read(script)
        index = _first_code_cell(notebook)
        if index is None or not is_install_cell(notebook.cells[index].source):
            wrong.append(script.name)
        else:
            plans.append((script, notebook, index))
    if wrong:
        raise ValueError(f"the first code cell of {', '.join(wrong)} is not the Colab install cell "
                         f"alone: make it the output of `python -m tsimb.booktools colab-cell`, with "
                         f"the imports in the next cell")

    changed = []
    for script, notebook, index in plans:
        if notebook.cells[index].source != source:
            notebook.cells[index].source = source
            original = script.read_text(encoding="utf-8")
            text = jupytext.writes(notebook, fmt="py:percent")
            # keep the header as it was (jupytext would add its own version to it)
            script.write_text(_header(original) + text[len(_header(text)):], encoding="utf-8")
            changed.append(script.name)
        paired = script.with_suffix(".ipynb")
        if paired.is_file():
            ipynb = nbformat.read(paired, as_version=nbformat.NO_CONVERT)
            cell = _first_code_cell(ipynb)
            if cell is None or not is_install_cell(ipynb.cells[cell].source):
                warnings.warn(f"{paired.name} is not paired with {script.name} (its first code cell is "
                              f"not an install cell): re-execute it from the script", stacklevel=2)
            elif ipynb.cells[cell].source != source:
                ipynb.cells[cell].source = source
                nbformat.write(ipynb, paired)
                changed.append(paired.name)
    return changed


def author_year_label(entry) -> str:
    """The label of a pybtex bibliography entry as the book cites it: "Buda et al., 2018",
    "Mirza and Osindero, 2014", "Wang, 2023" (last names; "et al." from three authors)."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [" ".join(person.prelast_names + person.last_names) for person in people]
    names = [re.sub(r"[{}]", "", name) for name in names]
    if not names:
        who = entry.key
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


_BOOK_LABELS: dict[str, str] = {}  # key -> label over the book's whole bibliography (set by setup())


def _unique_labels(sorted_entries) -> list[str]:
    """:func:`author_year_label` of each entry, with "a", "b", ... after the year where two
    entries would get the same label (in the entries' order)."""
    from collections import Counter

    labels = [author_year_label(entry) for entry in sorted_entries]
    count, seen, unique = Counter(labels), Counter(), []
    for label in labels:
        if count[label] == 1:
            unique.append(label)
        else:
            unique.append(label + chr(ord("a") + seen[label]))
            seen[label] += 1
    return unique


def book_labels(bib_files) -> dict[str, str]:
    """The label of every entry of the ``.bib`` files, made unique over all of them (the
    entries in author-year-title order, as the chapters' lists sort them)."""
    from pybtex.database import parse_file
    from pybtex.style.sorting.author_year_title import SortingStyle

    entries = {}
    for path in bib_files:
        entries.update(parse_file(str(path), bib_format="bibtex").entries)
    ordered = SortingStyle().sort(list(entries.values()))
    return dict(zip((entry.key for entry in ordered), _unique_labels(ordered)))


def _register_bibliography_style() -> None:
    """Register the pybtex style ``tsimb`` (``bibtex_default_style: tsimb`` in _config.yml):
    the bibliography lists each entry under its author-year label, the same text that
    ``bibtex_reference_style: label`` prints in the prose, with "2019a"/"2019b" where one
    list holds two papers of the same authors and year."""
    from pybtex.plugin import register_plugin
    from pybtex.style.formatting.plain import Style as Plain
    from pybtex.style.labels import BaseLabelStyle

    class AuthorYearLabels(BaseLabelStyle):
        def format_labels(self, sorted_entries):
            sorted_entries = list(sorted_entries)
            local = dict(zip((e.key for e in sorted_entries), _unique_labels(sorted_entries)))
            for entry in sorted_entries:
                # the label over the whole bibliography, so that a paper has one label in every chapter
                yield _BOOK_LABELS.get(entry.key, local[entry.key])

    class Style(Plain):
        default_label_style = "tsimb-author-year"
        default_sorting_style = "author_year_title"

    register_plugin("pybtex.style.labels", "tsimb-author-year", AuthorYearLabels, force=True)
    register_plugin("pybtex.style.formatting", "tsimb", Style, force=True)


def setup(app) -> dict:
    """Sphinx extension hook (``sphinx: extra_extensions: [tsimb.booktools]`` in _config.yml):
    registers the book's bibliography style (see :func:`_register_bibliography_style`)."""
    def read_bibliography(app, config) -> None:
        _BOOK_LABELS.clear()
        _BOOK_LABELS.update(book_labels(Path(app.srcdir) / name for name in config.bibtex_bibfiles))

    _register_bibliography_style()
    app.connect("config-inited", read_bibliography)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def main(argv: list[str] | None = None) -> int:
    """``python -m tsimb.booktools sync-colab [--book-dir book]`` or ``... colab-cell``."""
    parser = argparse.ArgumentParser(prog="python -m tsimb.booktools", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    sync = commands.add_parser("sync-colab", help="rewrite every chapter's Colab install cell")
    sync.add_argument("--book-dir", default=str(_ROOT / "book"), help="the chapters' folder (default: %(default)s)")
    cell = commands.add_parser("colab-cell", help="print the Colab install cell")
    cell.add_argument("--config", default=None, help="the book's _config.yml (default: the repository's)")
    args = parser.parse_args(argv)
    if args.command == "colab-cell":
        from . import __version__

        print(colab_install_source(repository_url(args.config), __version__))
        return 0
    try:
        changed = sync_colab(args.book_dir)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print("changed: " + ", ".join(changed) if changed else "every install cell is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
