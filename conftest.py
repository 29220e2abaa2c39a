"""pytest configuration for the whole repository (tests/ and the notebooks under book/).

nbval skips comparing images (``image/png``), since their bytes change with library
versions and last-bit differences, but not the same images when myst-nb's ``glue``
stores them under ``application/papermill.record/...``: skip those too. The glued
figure's text form and every glued number are still compared.

Under pytest-xdist (``-n 2``, what ``.ci/run`` uses) every worker, and every notebook
kernel nbval starts from it (they inherit its environment), computes on one thread:
two workers of two threads each on two cores would oversubscribe them, and OpenMP
threads waiting for a core slowed a training step 17x on this machine. ``tests/conftest.py``
sets the workers' own torch to one thread; the variables below reach the kernels and any
other subprocess. Without xdist nothing changes."""

import os

if os.environ.get("PYTEST_XDIST_WORKER"):
    for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_name, "1")

GLUED_IMAGES = tuple(f"application/papermill.record/{mime}" for mime in ("image/png", "image/jpeg", "image/svg+xml"))


def pytest_collection_modifyitems(session, config, items):
    for item in items:
        notebook = item.parent
        if hasattr(notebook, "skip_compare") and GLUED_IMAGES[0] not in notebook.skip_compare:
            notebook.skip_compare = notebook.skip_compare + GLUED_IMAGES
