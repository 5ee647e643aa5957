"""Sphinx configuration of the course book (built by `make book`, i.e. `python -m tools.book`).

Sphinx with myst-nb reads the notebooks as the test suite executed them (execution off here). Everything a page
loads is in the site: the theme's own assets, MathJax from the pinned wheel, the book's own Colab badge.
"""

from workbook.core.config import REPO_BRANCH, REPO_URL

project = "The Post-Training Workbook"
author = "The Post-Training Workbook authors"
copyright = "the Post-Training Workbook authors"

extensions = ["myst_nb"]
nb_execution_mode = "off"  # the pages show the outputs of the suite's own run (build/executed/)
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 6
# Jupyter's anchors (the heading text, spaces as dashes), so the notebooks' links between sections still work.
myst_heading_slug_func = "tools.book.jupyter_slug"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
suppress_warnings = ["mystnb.unknown_mime_type", "myst.header"]

html_title = project
html_favicon = "_static/favicon.svg"
html_context = {"default_mode": "light"}  # a defined colour mode (the theme logs an error for an empty one)
html_theme = "sphinx_book_theme"
html_static_path = ["_static"]
html_css_files = ["book.css"]
html_last_updated_fmt = None
html_theme_options = {
    "repository_url": REPO_URL,
    "repository_branch": REPO_BRANCH,
    "use_repository_button": True,
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "launch_buttons": {},  # each page carries its own "Open in Colab" badge
}
# MathJax 3 served from the site (tools/book.py copies it from the pinned wheel), never from a CDN.
mathjax_path = "mathjax/tex-svg.js"
