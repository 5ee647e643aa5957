"""nbgrader zip_collect plugins: unpack student uploads safely and keep the evidence files, not only notebooks.

Uploads are named `<assignment>-<student_id>.zip` (what `python -m assessments.student export` writes); an LMS
suffix such as ` (1)` is tolerated. Inside, the notebook sits at the top (or under one top folder) and the lab's
packet under `evidence/`. Colab's "Copy of X.ipynb" and duplicate suffixes are renamed back to `X.ipynb`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

from nbgrader.plugins import ExtractorPlugin, FileNameCollectorPlugin

from workbook.core.io import sha256_file

UPLOAD_NAME = re.compile(r"^(?P<assignment>[a-z0-9_]+)-(?P<student_id>[A-Za-z0-9][A-Za-z0-9._-]*?)(?: \(\d+\))?\.zip$")
KEPT_SUFFIXES = (".ipynb", ".json", ".jsonl", ".md", ".png", ".txt", ".csv")
SKIPPED_PARTS = ("__MACOSX", ".ipynb_checkpoints", "__pycache__")
MAX_FILES = 200
MAX_TOTAL_BYTES = 100 * 2**20
SUBMISSION_MANIFEST = "submission_manifest.json"


class UploadError(ValueError):
    """An upload that cannot be accepted; the message names the file and the reason."""


def clean_notebook_name(name: str) -> str:
    """'Copy of lab1.ipynb' and 'lab1 (2).ipynb' -> 'lab1.ipynb' (Colab and browsers add these)."""
    path = PurePosixPath(name)
    if path.suffix != ".ipynb":
        return name
    stem = re.sub(r"^(Copy of )+", "", path.stem)
    stem = re.sub(r"( \(\d+\)|-checkpoint)$", "", stem)
    return str(path.with_name(stem + ".ipynb"))


def safe_members(archive: zipfile.ZipFile, label: str) -> list[zipfile.ZipInfo]:
    """The regular files of an upload, after refusing traversal, links, bombs and junk."""
    members, total = [], 0
    for info in archive.infolist():
        name = PurePosixPath(info.filename)
        if info.is_dir() or any(part in SKIPPED_PARTS for part in name.parts):
            continue
        if name.is_absolute() or ".." in name.parts or "\\" in info.filename:
            raise UploadError(f"{label}: refusing path '{info.filename}' (absolute or leaving the folder).")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UploadError(f"{label}: refusing symbolic link '{info.filename}'.")
        total += info.file_size
        members.append(info)
    if len(members) > MAX_FILES:
        raise UploadError(f"{label}: {len(members)} files, more than the {MAX_FILES} allowed.")
    if total > MAX_TOTAL_BYTES:
        raise UploadError(f"{label}: {total / 2**20:.0f} MiB unpacked, more than {MAX_TOTAL_BYTES / 2**20:.0f} MiB.")
    return members


def unpack_upload(zip_path: Path, dest: Path) -> list[str]:
    """Unpack one upload into `dest` (flattening a single top folder); return the relative file names."""
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members = safe_members(archive, zip_path.name)
            names = [PurePosixPath(m.filename) for m in members]
            tops = {n.parts[0] for n in names if len(n.parts) > 1}
            strip = len(tops) == 1 and all(len(n.parts) > 1 for n in names) and tops != {"evidence"}
            written = []
            for info, name in zip(members, names, strict=True):
                rel = PurePosixPath(*name.parts[1:]) if strip else name
                target = dest / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
                written.append(rel.as_posix())
            return written
    except zipfile.BadZipFile as exc:
        raise UploadError(f"{zip_path.name}: not a readable zip file ({exc}).") from exc


def verify_manifest(folder: Path) -> list[str]:
    """Problems with the upload's sha256 manifest (empty when it matches or is absent)."""
    manifest = folder / SUBMISSION_MANIFEST
    if not manifest.is_file():
        return [f"no {SUBMISSION_MANIFEST} in the upload"]
    try:
        listed = json.loads(manifest.read_text(encoding="utf-8")).get("files", {})
    except (json.JSONDecodeError, AttributeError):
        return [f"{SUBMISSION_MANIFEST} is not valid JSON"]
    problems = []
    for rel, digest in sorted(listed.items()):
        path = folder / rel
        if not path.is_file():
            problems.append(f"{rel}: listed in the manifest but missing")
        elif sha256_file(path) != digest:
            problems.append(f"{rel}: sha256 differs from the manifest")
    return problems


class SafeExtractor(ExtractorPlugin):
    """Unpack each upload into extracted/<upload name>/, refusing unsafe archives (logged, then skipped)."""

    def extract(self, archive_path: str, extracted_path: str) -> None:
        for upload in sorted(Path(archive_path).iterdir()):
            if upload.suffix != ".zip":
                self.log.warning("Skipping %s: uploads are zip files named <assignment>-<student>.zip", upload.name)
                continue
            dest = Path(extracted_path) / upload.name
            try:
                files = unpack_upload(upload, dest)
            except UploadError as exc:
                shutil.rmtree(dest, ignore_errors=True)
                self.log.error("Rejected upload: %s", exc)
                continue
            problems = verify_manifest(dest)
            for problem in problems:
                self.log.warning("%s: %s", upload.name, problem)
            self.log.info("Unpacked %s: %d files", upload.name, len(files))


class WorkbookCollector(FileNameCollectorPlugin):
    """Student id from the upload's name; file id = the path inside the upload (evidence/ included)."""

    valid_ext = list(KEPT_SUFFIXES)

    def collect(self, submitted_file: str):
        parts = Path(submitted_file).parts
        if "extracted" not in parts:
            return None
        index = len(parts) - 1 - parts[::-1].index("extracted")
        upload, inside = parts[index + 1], parts[index + 2:]
        match = UPLOAD_NAME.match(upload)
        if not match or not inside:
            self.log.warning("Upload name '%s' is not <assignment>-<student_id>.zip; skipped", upload)
            return None
        if Path(submitted_file).suffix not in self.valid_ext:
            self.log.warning("Skipping %s in %s: not a notebook or evidence file", "/".join(inside), upload)
            return None
        return {"student_id": match["student_id"], "file_id": clean_notebook_name(os.path.join(*inside))}
