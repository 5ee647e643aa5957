"""nbgrader configuration of the course. nbgrader reads it when run from this folder (the CLI does that)."""

import os

HERE = os.path.dirname(os.path.abspath(__file__))
# The CLI points this at a scratch course in tests and benchmarks; by default it is this folder.
ROOT = os.environ.get("WORKBOOK_COURSE_ROOT", HERE)

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

c.CourseDirectory.root = ROOT
c.CourseDirectory.course_id = "post-training-workbook"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(ROOT, "gradebook.db")
# Evidence travels with the notebook; keep nbgrader from skipping or truncating it.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]
c.CourseDirectory.max_file_size = 20_000  # kB per file copied into autograded/

# Autograde: every kernel runs under bubblewrap (assessments/sandbox.py), no network, private filesystem.
c.Execute.kernel_manager_class = "assessments.sandbox.SandboxKernelManager"
c.Execute.timeout = int(os.environ.get("WORKBOOK_CELL_TIMEOUT", "60"))  # seconds per cell, then interrupted
c.Execute.startup_timeout = 60
c.Execute.interrupt_on_timeout = True
# After an interrupt, late output must not fail the whole notebook (nbgrader's default would discard it).
c.Execute.raise_on_iopub_timeout = False
c.Execute.iopub_timeout = 10
# Library warnings on stderr would zero a test cell (nbgrader counts any stderr as failure); drop them.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"\b\w*Warning\b|pip install kernels|huggingface/tokenizers"

# Student release: answer stubs, and hidden tests stripped.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearHiddenTests.enforce_metadata = True
c.GenerateAssignment.create_assignment = True

# The release's graded structure comes back first (deleted, unmarked, renamed, invented or malformed cells), before
# nbgrader checks the metadata and restores the instructor's text.
c.Autograde.sanitize_preprocessors = [
    "assessments.preprocessors.RestoreMissingCells",
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "assessments.isolation.IsolateHiddenTests",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# The kernel only records the student's values for comparable hidden asserts; they are compared here, in the
# trusted process, right after execution (assessments/isolation.py), and errors always outrank a shown result.
# LimitedExecute (assessments/execute.py) adds per-submission output and wall-time budgets, and stops sending
# cells to a kernel that ignored an interrupt.
c.Autograde.autograde_preprocessors = [
    "assessments.execute.LimitedExecute",
    "assessments.isolation.CompareHiddenValues",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# Feedback HTML: hidden tests removed, and tracebacks in their cells cut to the message.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "assessments.preprocessors.HideHiddenTestDetails",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
# Uploads: safe unpacking, student id from the file name, evidence files kept.
c.ZipCollectApp.extractor_plugin = "assessments.collect.SafeExtractor"
c.ZipCollectApp.collector_plugin = "assessments.collect.WorkbookCollector"

# Timestamped logs: how long each submission took is readable from the autograde log.
c.NbGrader.log_format = "%(asctime)s.%(msecs)03d [%(name)s | %(levelname)s] %(message)s"
c.NbGrader.log_datefmt = "%H:%M:%S"
