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

from workbook.evidence import untrusted

UPLOAD_NAME = re.compile(r"^(?P<assignment>[a-z0-9_]+)-(?P<student_id>[A-Za-z0-9][A-Za-z0-9._-]*?)(?: \(\d+\))?\.zip$")
KEPT_SUFFIXES = (".ipynb", ".json", ".jsonl", ".md", ".png", ".txt", ".csv")
SKIPPED_PARTS = ("__MACOSX", ".ipynb_checkpoints", "__pycache__")
MAX_FILES = 200
MAX_TOTAL_BYTES = 100 * 2**20
MAX_NAME_BYTES = 200  # one path component (file systems allow 255)
MAX_PATH_BYTES = 1000
MAX_DEPTH = 8  # folders inside an upload
METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated", zipfile.ZIP_BZIP2: "bzip2",
           zipfile.ZIP_LZMA: "lzma"}
SUBMISSION_MANIFEST = "submission_manifest.json"
REJECTED = "rejected.json"  # written beside extracted/: upload name -> why it was refused


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


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why one zip member cannot be unpacked safely, or None."""
    name = PurePosixPath(info.filename)
    if name.is_absolute() or ".." in name.parts or "\\" in info.filename or "\0" in info.filename:
        return f"refusing path '{info.filename[:100]}' (absolute or leaving the folder)"
    if stat.S_ISLNK(info.external_attr >> 16):
        return f"refusing symbolic link '{info.filename[:100]}'"
    if len(info.filename.encode()) > MAX_PATH_BYTES or any(len(p.encode()) > MAX_NAME_BYTES for p in name.parts):
        return f"refusing an over-long name ('{info.filename[:60]}...')"
    if len(name.parts) > MAX_DEPTH:
        return f"refusing '{info.filename[:100]}': more than {MAX_DEPTH} folders deep"
    if info.flag_bits & 0x1:
        return f"'{info.filename[:100]}' is encrypted: export the upload again without a password"
    if info.compress_type not in METHODS:
        return f"'{info.filename[:100]}' uses an unsupported compression method ({info.compress_type})"
    return None


def safe_members(archive: zipfile.ZipFile, label: str) -> list[zipfile.ZipInfo]:
    """The regular files of an upload, after refusing traversal, links, bombs, odd members and junk."""
    members, total, seen = [], 0, set()
    for info in archive.infolist():
        name = PurePosixPath(info.filename)
        if info.is_dir() or any(part in SKIPPED_PARTS for part in name.parts):
            continue
        problem = _member_problem(info)
        if problem:
            raise UploadError(f"{label}: {problem}.")
        key = name.as_posix()
        if key in seen:
            raise UploadError(f"{label}: '{key[:100]}' appears twice.")
        seen.add(key)
        total += info.file_size
        members.append(info)
    folders = {PurePosixPath(*PurePosixPath(m.filename).parts[:i]).as_posix()
               for m in members for i in range(1, len(PurePosixPath(m.filename).parts))}
    clash = sorted(seen & folders)
    if clash:
        raise UploadError(f"{label}: '{clash[0][:100]}' is both a file and a folder.")
    if len(members) > MAX_FILES:
        raise UploadError(f"{label}: {len(members)} files, more than the {MAX_FILES} allowed.")
    if total > MAX_TOTAL_BYTES:
        raise UploadError(f"{label}: {total / 2**20:.0f} MiB unpacked, more than {MAX_TOTAL_BYTES / 2**20:.0f} MiB.")
    return members


def _copy_capped(src, out, budget: int, label: str) -> int:
    """Copy a member, counting the bytes really produced (a member may lie about its size)."""
    written = 0
    while chunk := src.read(2**20):
        written += len(chunk)
        if written > budget:
            raise UploadError(f"{label}: more than {MAX_TOTAL_BYTES / 2**20:.0f} MiB unpacked.")
        out.write(chunk)
    return written


def unpack_upload(zip_path: Path, dest: Path) -> list[str]:
    """Unpack one upload into `dest` (flattening a single top folder); return the relative file names.

    Any problem with the upload, of whatever kind, is an UploadError naming it: one bad upload never stops the
    collection of the others.
    """
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members = safe_members(archive, zip_path.name)
            names = [PurePosixPath(m.filename) for m in members]
            tops = {n.parts[0] for n in names if len(n.parts) > 1}
            strip = len(tops) == 1 and all(len(n.parts) > 1 for n in names) and tops != {"evidence"}
            written, budget = [], MAX_TOTAL_BYTES
            for info, name in zip(members, names, strict=True):
                rel = PurePosixPath(*name.parts[1:]) if strip else name
                target = dest / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as src, open(target, "xb") as out:
                    budget -= _copy_capped(src, out, budget, zip_path.name)
                written.append(rel.as_posix())
            return written
    except UploadError:
        raise
    except zipfile.BadZipFile as exc:
        raise UploadError(f"{zip_path.name}: not a readable zip file ({exc}).") from exc
    except Exception as exc:  # encrypted, odd methods, names the file system refuses, truncated data ...
        raise UploadError(f"{zip_path.name}: cannot be unpacked ({type(exc).__name__}: {str(exc)[:200]}).") from exc


def verify_manifest(folder: Path, files: list[str] | None = None) -> list[str]:
    """Problems with the upload's sha256 manifest (empty when it matches or is absent).

    Only files that were unpacked from the upload (`files`, relative names) are ever hashed: a manifest entry
    naming anything else (an absolute path, `..`, a folder) is reported, never opened.
    """
    manifest = folder / SUBMISSION_MANIFEST
    if not untrusted.regular_file(manifest):
        return [f"no {SUBMISSION_MANIFEST} in the upload"]
    try:
        data = untrusted.read_json(manifest, limit=2**20)
    except untrusted.UntrustedFileError as error:
        return [str(error)]
    listed = data.get("files") if isinstance(data, dict) else None
    if not isinstance(listed, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in listed.items()):
        return [f"{SUBMISSION_MANIFEST} has no `files` table of file names and sha256 strings"]
    unpacked = set(files) if files is not None else {
        p.relative_to(folder).as_posix() for p in folder.rglob("*") if untrusted.regular_file(p)}
    problems = []
    for rel, digest in sorted(listed.items()):
        if rel not in unpacked:
            problems.append(f"{rel[:100]}: listed in the manifest but missing")
            continue
        try:
            if untrusted.sha256(folder / rel, MAX_TOTAL_BYTES) != digest:
                problems.append(f"{rel}: sha256 differs from the manifest")
        except untrusted.UntrustedFileError as error:
            problems.append(f"{rel}: {error}")
    return problems[:20]


def record_rejection(extracted: Path, upload: str, reason: str) -> None:
    """Remember why an upload was refused, for the collect command's summary."""
    path = extracted.parent / REJECTED
    try:
        known = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except ValueError:
        known = {}
    known[upload] = reason
    path.write_text(json.dumps(known, indent=1, sort_keys=True), encoding="utf-8")


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
                record_rejection(Path(extracted_path), upload.name, str(exc))
                continue
            problems = verify_manifest(dest, files)
            for problem in problems:
                self.log.warning("%s: %s", upload.name, problem)
            self.log.info("Unpacked %s: %d files", upload.name, len(files))


class WorkbookCollector(FileNameCollectorPlugin):
    """Student id from the upload's name; file id = the path inside the upload (evidence/ included)."""

    valid_ext = list(KEPT_SUFFIXES)

    def collect(self, submitted_file: str):
        try:
            return self._collect(submitted_file)
        except Exception as exc:  # an odd name must not stop the others
            self.log.error("Skipping %s: %s", submitted_file, exc)
            return None

    def _collect(self, submitted_file: str):
        if not untrusted.regular_file(submitted_file):
            self.log.warning("Skipping %s: not a plain file", submitted_file)
            return None
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
