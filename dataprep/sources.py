"""Find the script files a user named and read each one into text."""

from __future__ import annotations

import zipfile
from pathlib import Path

from dataprep.encoding import Decoded, decode_report
from dataprep.errors import DataprepError

# Extensions picked up when a folder is given; a file named directly is read whatever
# its extension (voice lists come as .list, .txt, .csv …).
SCRIPT_SUFFIXES = frozenset({".txt", ".ks", ".rpy", ".docx", ".list", ".tsv", ".scn", ".lab"})


def collect_scripts(paths: list[Path]) -> list[Path]:
    """Expand folders (recursively, sorted, hidden entries skipped); keep files as given."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file()
                and p.suffix.lower() in SCRIPT_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        else:
            found.append(path)
    return found


def read_script(path: Path, encoding: str = "auto") -> Decoded:
    """The text of a .txt-like or .docx file; DataprepError if unreadable."""
    if path.suffix.lower() == ".docx":
        return Decoded(read_docx(path), "docx")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataprepError(f"{path}: file not found; expected a script file or folder.") from None
    except IsADirectoryError:
        raise DataprepError(f"{path}: is a folder with no script files in it.") from None
    except OSError as exc:
        raise DataprepError(f"{path}: cannot be read ({exc.strerror}).") from None
    return decode_report(data, str(path), encoding)


def read_docx(path: Path) -> str:
    """Paragraphs one per line; a table row becomes `cell<TAB>cell` (name | line tables)."""
    import docx  # python-docx; imported here so plain-text runs do not pay for it
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise DataprepError(
            f"{path}: is not a readable Word document; expected a .docx saved by Word or"
            " LibreOffice."
        ) from None
    # Walk the body in order, so a table between two paragraphs stays between them.
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            lines.append(block.text)
        elif isinstance(block, Table):
            for row in block.rows:
                lines.append("\t".join(cell.text.strip() for cell in row.cells))
    return "\n".join(lines)
