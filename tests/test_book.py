"""The book as a book: it reads offline, every chapter follows book/STYLE.md, and every
chapter's Colab cell installs the pinned release from the configured repository."""

from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import jupytext
import nbformat
import pytest

import tsimb
from tsimb.booktools import (
    colab_install_source,
    glue,
    is_install_cell,
    repository_url,
    sync_colab,
)
from tsimb.experiments import CHAPTERS

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
WRITTEN = [chapter.notebook for chapter in CHAPTERS.values() if not chapter.planned]
NOTEBOOKS = sorted(path.name for path in BOOK.glob("*.py"))

# book/STYLE.md: the level-2 headings every chapter has, in this order (others may be between)
TEMPLATE = ("What you will learn", "Running this chapter", "The method", "The experiment",
            "Beside the paper", "Summary", "Exercises", "References")
MIN_EXERCISES = 3


# ---------------------------------------------------------------- the built pages

class _Assets(HTMLParser):
    """The URLs of a page's scripts (``<script src>``) and stylesheets (``<link rel=stylesheet>``)."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.stylesheets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "script" and attributes.get("src"):
            self.scripts.append(attributes["src"])
        rel = attributes.get("rel", "").lower().split()
        if tag == "link" and attributes.get("href") and (
                "stylesheet" in rel or {"preload", "modulepreload"} & set(rel)):
            self.stylesheets.append(attributes["href"])


def _external(url: str) -> bool:
    return url.startswith("//") or urlsplit(url).scheme != ""


@pytest.fixture(scope="module")
def built_html(tmp_path_factory) -> Path:
    """The book built into a temporary folder, as its HTML output folder (about 10 s)."""
    pytest.importorskip("jupyter_book", reason="the book extra is not installed: pip install -e '.[book]'")
    out = tmp_path_factory.mktemp("book")
    build = subprocess.run(
        [sys.executable, "-c", "from jupyter_book.cli.main import main; main()",
         "build", str(ROOT), "--path-output", str(out), "--quiet"],
        capture_output=True, text=True, timeout=600, check=False)
    assert build.returncode == 0, f"the book does not build:\n{build.stdout[-3000:]}\n{build.stderr[-3000:]}"
    return out / "_build" / "html"


def test_built_pages_reference_no_external_script_or_stylesheet(built_html):
    pages = sorted(page for page in built_html.rglob("*.html")  # not the theme's templates in _static
                   if not any(part.startswith("_") for part in page.relative_to(built_html).parts))
    for notebook in ["intro", *WRITTEN]:
        assert (built_html / "book" / f"{notebook}.html").is_file(), f"no page for book/{notebook}"
    assert len(pages) >= len(WRITTEN) + 1

    external, missing, math_scripts, math_without_renderer = [], [], [], []
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assets = _Assets()
        assets.feed(html)
        name = page.relative_to(built_html)
        for url in assets.scripts + assets.stylesheets:
            if _external(url):
                external.append(f"{name}: {url}")
            elif not (page.parent / urlsplit(url).path).is_file():
                missing.append(f"{name}: {url}")
        renderers = [url for url in assets.scripts if re.search(r"mathjax|katex", url, re.IGNORECASE)]
        math_scripts += renderers
        if re.search(r'class="[^"]*\bmath\b', html) and not renderers:
            math_without_renderer.append(str(name))

    assert not external, "pages load scripts or stylesheets from the network:\n" + "\n".join(external)
    assert not missing, "pages reference local files the build does not contain:\n" + "\n".join(missing)
    assert math_scripts, "no page loads a math renderer: the equations would show as raw TeX"
    assert not math_without_renderer, f"pages with equations but no math renderer: {math_without_renderer}"


# ---------------------------------------------------------------- the chapter template

_FENCE = re.compile(r"^\s*(`{3,}|~{3,}|:{3,})(.*)$")


def _markdown_lines(notebook) -> tuple[list[str], list[tuple[int, str]]]:
    """The lines of the markdown cells, in order, and the (index, title) of the level-2
    headings among them: a ``## `` line inside a fenced block (code, directive) is not one."""
    lines, headings, fence = [], [], None
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            match = _FENCE.match(line)
            if fence is None and match:
                fence = match.group(1)
            elif fence is not None and match and not match.group(2).strip() \
                    and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                fence = None
            elif fence is None and re.match(r"## (?!#)", line):
                headings.append((len(lines), line[3:].strip()))
            lines.append(line)
        fence = None  # a block does not run on into the next cell
    return lines, headings


def _count_solutions(lines: list[str]) -> int:
    """Folded solutions: ``{admonition} Solution`` with ``:class: dropdown``, or
    ``{dropdown} Solution``, fenced with backticks or colons."""
    count = 0
    for i, line in enumerate(lines):
        match = re.match(r"^\s*(?:`{3,}|:{3,})\{(admonition|dropdown)\}\s*(.*)$", line)
        if not match or not match.group(2).strip().lower().startswith("solution"):
            continue
        if match.group(1) == "dropdown":
            count += 1
            continue
        options = []
        for option in lines[i + 1:]:
            if not option.lstrip().startswith(":"):
                break
            options.append(option)
        if any(re.match(r"^\s*:class:.*\bdropdown\b", option) for option in options):
            count += 1
    return count


def _template_problem(notebook) -> str | None:
    """What a chapter lacks of book/STYLE.md's template (``None``: it follows it)."""
    lines, headings = _markdown_lines(notebook)
    titles = [title for _, title in headings]
    found, start = {}, 0
    for k, wanted in enumerate(TEMPLATE):
        at = next((j for j in range(start, len(headings))
                   if headings[j][1].casefold().startswith(wanted.casefold())), None)
        if at is None:
            after = f" after '## {TEMPLATE[k - 1]}'" if k else ""
            return f"no '## {wanted}...'{after}; its level-2 headings: {titles}"
        found[wanted], start = headings[at][0], at + 1
    solutions = _count_solutions(lines[found["Exercises"]:found["References"]])
    if solutions < MIN_EXERCISES:
        return (f"{solutions} folded solutions under '## Exercises', at least {MIN_EXERCISES} wanted "
                "(```{admonition} Solution with :class: dropdown)")
    return None


@pytest.mark.parametrize("notebook", WRITTEN)
def test_every_chapter_follows_the_template(notebook):
    problem = _template_problem(jupytext.read(BOOK / f"{notebook}.py"))
    assert problem is None, f"book/{notebook}.py does not follow book/STYLE.md: {problem}"


@pytest.mark.parametrize("notebook", [*WRITTEN, "intro"])
def test_no_chapter_defines_a_function_or_class(notebook):
    """Chapters are narratives over the library: logic lives in tsimb, with its tests."""
    import ast

    for cell in jupytext.read(BOOK / f"{notebook}.py").cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        defined = [node.name for node in ast.walk(ast.parse(source))
                   if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))
                   and hasattr(node, "name")]
        assert not defined, f"book/{notebook}.py defines {defined}: move them into tsimb, with tests"


def _chapter(*markdown: str):
    """A percent-format notebook of these markdown cells."""
    cells = ["# %% [markdown]\n" + "\n".join(f"# {line}".rstrip() for line in cell.splitlines()) + "\n"
             for cell in markdown]
    return jupytext.reads("\n".join(cells), fmt="py:percent")


SOLUTION = "```{admonition} Solution\n:class: dropdown\n\nThe answer.\n```"


def test_the_template_check_passes_a_chapter_that_follows_it_and_only_such():
    sections = [f"## {title}\n\nText." for title in TEMPLATE]
    exercises = sections.index("## Exercises\n\nText.")
    folded = [f"1. Exercise {k}.\n\n{SOLUTION}" for k in range(3)]
    good = sections[:exercises + 1] + folded + sections[exercises + 1:]
    assert _template_problem(_chapter(*good)) is None
    colon = good[:exercises + 1] + [":::{dropdown} Solution\nThe answer.\n:::"] * 3 + good[-1:]
    assert _template_problem(_chapter(*colon)) is None
    assert "2 folded" in _template_problem(_chapter(*good[:exercises + 1], *folded[1:], *good[-1:]))
    unfolded = [f.replace(":class: dropdown", ":class: tip") for f in folded]
    assert "0 folded" in _template_problem(_chapter(*good[:exercises + 1], *unfolded, *good[-1:]))
    swapped = [sections[1], sections[0], *good[2:]]
    assert "Running this chapter" in _template_problem(_chapter(*swapped))
    fenced = ["```text\n## What you will learn\n```", *good[1:]]
    assert "What you will learn" in _template_problem(_chapter(*fenced))


# ---------------------------------------------------------------- the Colab cell

@pytest.mark.parametrize("script", NOTEBOOKS)
def test_the_colab_cell_installs_the_pinned_release_from_the_configured_repository(script):
    expected = colab_install_source(repository_url(ROOT / "_config.yml"), tsimb.__version__)
    cells = [cell for cell in jupytext.read(BOOK / script).cells if cell.cell_type == "code"]
    assert cells, f"book/{script} has no code cell"
    fix = ("run `python -m tsimb.booktools sync-colab`" if is_install_cell(cells[0].source) else
           "make it the install cell alone (`python -m tsimb.booktools colab-cell` prints it)")
    assert cells[0].source == expected, (
        f"the first code cell of book/{script} is not the install cell for the configured repository "
        f"and release: {fix}. It must be:\n{expected}\nIt is:\n{cells[0].source}")


def test_the_book_has_chapters():
    assert "intro.py" in NOTEBOOKS and len(NOTEBOOKS) >= len(WRITTEN) + 1


# ---------------------------------------------------------------- tsimb.booktools

def test_repository_url_reads_the_config(tmp_path):
    config = tmp_path / "_config.yml"
    config.write_text("title: t\nrepository:\n  url: https://example.org/me/tsimb/\n  branch: main\n")
    assert repository_url(config) == "https://example.org/me/tsimb"
    config.write_text("title: t\n")
    with pytest.raises(ValueError, match="repository"):
        repository_url(config)
    with pytest.raises(FileNotFoundError):
        repository_url(tmp_path / "absent.yml")


def test_colab_install_source_installs_the_tag_on_colab_only_and_shows_pips_error(monkeypatch):
    source = colab_install_source("https://example.org/me/tsimb", "1.2.3")
    assert is_install_cell(source) and not is_install_cell(source + "\nimport numpy as np")
    assert '"tsimb @ git+https://example.org/me/tsimb@v1.2.3"' in source
    assert 'if "google.colab" in sys.modules:' in source
    compile(source, "<colab cell>", "exec")
    calls, outcome = [], {"returncode": 0, "stdout": "", "stderr": ""}
    monkeypatch.setattr(subprocess, "run",
                        lambda *a, **k: calls.append((a, k)) or type("Done", (), dict(outcome))())
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(source, {})  # noqa: S102
    assert calls == []  # elsewhere, nothing runs
    monkeypatch.setitem(sys.modules, "google.colab", object())
    exec(source, {})  # noqa: S102
    (command,), options = calls[0]
    assert command[1:5] == ["-m", "pip", "install", "-q"] and command[-1].endswith("@v1.2.3")
    assert options["capture_output"] is True
    # a failed install stops the notebook with pip's own words, not silently
    outcome.update(returncode=1, stderr="ERROR: Could not find a version that satisfies the requirement\n")
    with pytest.raises(RuntimeError, match="(?s)installing tsimb failed.*Could not find a version"):
        exec(source, {})  # noqa: S102
    with pytest.raises(ValueError):
        colab_install_source('https://example.org/x"; import os', "1.2.3")


HEADER = """# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---
"""


def test_sync_colab_rewrites_only_the_install_cell(tmp_path):
    book = tmp_path / "book"
    book.mkdir()
    (tmp_path / "_config.yml").write_text("repository:\n  url: https://example.org/new/tsimb\n")
    old = colab_install_source("https://example.org/old/tsimb", "0.0.1")
    rest = '# %% [markdown]\n# ## Running this chapter\n\n# %% tags=["remove-input"]\nimport numpy as np\n'
    chapter = HEADER + "\n# %% [markdown]\n# # A chapter\n\n# %%\n" + old + "\n\n" + rest
    (book / "chapter.py").write_text(chapter)
    paired = jupytext.reads(chapter, fmt="py:percent")
    paired.cells[-1].outputs = [nbformat.v4.new_output("stream", text="kept\n")]
    nbformat.write(paired, book / "chapter.ipynb")
    assert sync_colab(book, version="9.9") == ["chapter.py", "chapter.ipynb"]
    new = colab_install_source("https://example.org/new/tsimb", "9.9")
    text = (book / "chapter.py").read_text()
    assert text == chapter.replace(old, new)
    notebook = nbformat.read(book / "chapter.ipynb", as_version=4)
    assert notebook.cells[1].source == new and notebook.cells[-1].outputs[0].text == "kept\n"
    assert sync_colab(book, version="9.9") == []

    (book / "other.py").write_text(HEADER + "\n# %%\nimport numpy as np\n")
    with pytest.raises(ValueError, match="other.py"):
        sync_colab(book, version="1.0")
    assert (book / "chapter.py").read_text() == text  # nothing changed


def test_glue_stores_numpy_numbers_as_numbers_and_closes_figures(monkeypatch):
    import matplotlib
    import matplotlib.pyplot as plt
    import myst_nb
    import numpy as np

    matplotlib.use("Agg")
    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: glued.update({name: value}))
    glue("gain", np.float64(1.25), display=False)
    assert type(glued["gain"]) is float and glued["gain"] == 1.25
    fig, ax = plt.subplots()
    glue("fig", ax, display=False)
    assert glued["fig"] is fig and not plt.fignum_exists(fig.number)


# ---------------------------------------------------------------- what a reader meets (issue 21)

def _display_math(notebook) -> list[str]:
    """The display equations of a chapter's markdown: ``$$ ... $$`` and top-level amsmath
    ``\\begin{equation} ... \\end{equation}`` blocks."""
    text = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    return (re.findall(r"\$\$(.*?)\$\$", text, re.S)
            + re.findall(r"\\begin\{equation\*?\}(.*?)\\end\{equation\*?\}", text, re.S))


def _glyphs(tex: str) -> int:
    """A rough width of one line of TeX in glyphs: commands count one, sub- and superscripts
    one, a fraction its wider part, spacing and layout commands nothing."""
    tex = re.sub(r"\\tag\{[^}]*\}|\\(?:begin|end)\{[a-z*]+\}", "", tex)
    tex = re.sub(r"\\(?:left|right|big|Big|bigg|Bigg|mathrm|mathbb|mathcal|text|operatorname|mathbf)\b", "", tex)
    tex = re.sub(r"\\[,;:! ]|\\q?quad|&|\{\}", " ", tex)
    group = r"([^{}]*(?:\{[^{}]*\}[^{}]*)*)"
    for _ in range(3):
        tex = re.sub(r"\\[td]?frac\{" + group + r"\}\{" + group + r"\}", lambda m: max(m.groups(), key=len), tex)
    tex = re.sub(r"[_^]\{[^{}]*\}", "x", tex)
    tex = re.sub(r"\\[A-Za-z]+", "x", tex)
    return len(re.sub(r"[{}_^\s]", "", tex))


MAX_EQUATION_GLYPHS = 34  # about the text column at 1280 px, beside the equation number


def test_the_width_estimate_tells_a_long_line_from_a_short_one():
    long = (r"L = \sum_{y} w_y^{-1} \mathbb{E}\big[\mathbb{1}\{Y = y\} \log D(X)\big] + \sum_y (w'_y)^{-1} "
            r"\mathbb{E}\big[\mathbb{1}\{Y' = y\} \log\big(1 - D(G(X_{\text{mask}}))\big)\big], \tag{2.5}")
    assert _glyphs(long) > MAX_EQUATION_GLYPHS
    assert _glyphs(r"\frac{\sum_i w_{y_i} \ell_i}{\sum_i w_{y_i}} \tag{1}") < 15


@pytest.mark.parametrize("script", NOTEBOOKS)
def test_display_equations_are_broken_over_lines_that_fit_the_column(script):
    too_wide = [" ".join(line.split())[:80] for block in _display_math(jupytext.read(BOOK / script))
                for line in re.split(r"\\\\", block) if _glyphs(line) > MAX_EQUATION_GLYPHS]
    assert not too_wide, (f"book/{script}: display equations with a line wider than the column; break them "
                          f"with \\begin{{aligned}} ... \\\\ ... \\end{{aligned}}: {too_wide}")


@pytest.mark.parametrize("script", NOTEBOOKS)
def test_nbval_reasons_are_metadata_not_a_line_the_reader_sees(script):
    for cell in jupytext.read(BOOK / script).cells:
        if cell.cell_type != "code":
            continue
        first = cell.source.lstrip().splitlines()[0] if cell.source.strip() else ""
        assert not first.startswith("# nbval"), (
            f"book/{script}: a cell starts with the test plumbing line {first!r}; put the reason in the "
            "cell's metadata: # %% tags=[\"nbval-ignore-output\"] nbval_ignore_reason=\"...\"")
        if "nbval-ignore-output" in cell.metadata.get("tags", []):
            assert cell.metadata.get("nbval_ignore_reason"), (
                f"book/{script}: a cell tagged nbval-ignore-output without nbval_ignore_reason in its metadata")


def test_the_books_css_lets_wide_things_scroll_and_does_not_forbid_wrapping_in_tables():
    css = (ROOT / "_static" / "tsimb.css").read_text(encoding="utf-8")
    rules = {selector.strip(): body for selector, body in re.findall(r"([^{}]+)\{([^}]*)\}", css)}
    nowrap = [s for s, body in rules.items() if "nowrap" in body and re.search(r"\btd\b", s)]
    assert not nowrap, f"table cells must be allowed to wrap (the intro's table was 2,544 px wide): {nowrap}"
    math = [body for s, body in rules.items() if 'mjx-container[display="true"]' in s]
    assert any("overflow-x: auto" in body and "min-width: 0" in body for body in math), \
        "a display equation wider than the column must scroll, not be cut"
    assert any("overflow-wrap: anywhere" in body for s, body in rules.items() if "code" in s)


@pytest.mark.parametrize("notebook", ["intro", *WRITTEN])
def test_every_table_a_chapter_shows_is_made_for_the_reader(notebook):
    """Tables in the stored outputs come from tsimb.tables.for_reader (labels, dashes, no
    unnamed index). Re-execute the chapter after changing its tables."""
    raw = []
    for cell in nbformat.read(BOOK / f"{notebook}.ipynb", as_version=4).cells:
        for output in cell.get("outputs", []):
            html = output.get("data", {}).get("text/html", "")
            html = "".join(html) if isinstance(html, list) else html
            if "<table" in html and "tsimb-table" not in html:
                raw.append(html[html.index("<table"):][:200])
    assert not raw, f"book/{notebook}.ipynb shows tables not made by for_reader:\n" + "\n".join(raw)


def test_citations_read_the_same_in_the_text_and_in_the_chapters_list(built_html):
    for notebook in WRITTEN:
        page = (built_html / "book" / f"{notebook}.html").read_text(encoding="utf-8")
        listed = {re.sub(r"<[^>]+>|\[|\]", "", label).strip()
                  for label in re.findall(r'<span class="label">(.*?)</span>\s*</span>', page, re.S)}
        cited = {re.sub(r"<[^>]+>", "", text).strip()
                 for text in re.findall(r'<span class="bibtex-citation"[^>]*>\[<a [^>]*>(.*?)</a>', page, re.S)}
        assert cited and listed, f"{notebook}: no citations found"
        assert cited <= listed, f"{notebook}: cited as {sorted(cited - listed)}, listed as {sorted(listed)}"
        assert not [label for label in listed if not re.search(r", \d{4}[a-z]?$", label)], sorted(listed)


def test_two_papers_of_the_same_authors_and_year_get_2019a_and_2019b():
    from tsimb.booktools import book_labels

    labels = book_labels([BOOK / "references.bib"])
    fawaz = sorted(label for key, label in labels.items() if key.startswith("fawaz2019"))
    assert fawaz == ["Ismail Fawaz et al., 2019a", "Ismail Fawaz et al., 2019b"]
    assert labels["buda2018systematic"] == "Buda et al., 2018"
    assert labels["mirza2014cgan"] == "Mirza and Osindero, 2014"
    assert len(set(labels.values())) == len(labels)


def test_the_chapter_registry_lists_the_chapters_in_the_books_order():
    """The intro's chapter table follows ``CHAPTERS``; the reader's sidebar follows ``_toc.yml``."""
    toc = re.findall(r"file:\s*book/(\w+)", (ROOT / "_toc.yml").read_text())
    assert toc == WRITTEN
