"""pytest configuration for the whole repository (tests/ and the notebooks under book/).

nbval skips comparing images (``image/png``), since their bytes change with library
versions and last-bit differences, but not the same images when myst-nb's ``glue``
stores them under ``application/papermill.record/...``: skip those too. The glued
figure's text form and every glued number are still compared."""

GLUED_IMAGES = tuple(f"application/papermill.record/{mime}" for mime in ("image/png", "image/jpeg", "image/svg+xml"))


def pytest_collection_modifyitems(session, config, items):
    for item in items:
        notebook = item.parent
        if hasattr(notebook, "skip_compare") and GLUED_IMAGES[0] not in notebook.skip_compare:
            notebook.skip_compare = notebook.skip_compare + GLUED_IMAGES
