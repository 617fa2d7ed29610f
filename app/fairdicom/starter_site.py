"""A starter site (``fairdicom init DIR``): a configuration file, a copy of the bundled mappings
and of the dataset descriptions, ready for a site to edit.

The configuration file is generated from the declared settings (:data:`fairdicom.config.SETTINGS`):
every setting with its help text, default and environment variable, commented out, except
``mappings`` and ``descriptions``, which point at the copies beside it.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from fairdicom import __version__
from fairdicom.config import SETTINGS, Setting
from fairdicom.errors import UsageError
from fairdicom.resources import DESCRIPTIONS, MAPPINGS

CONFIG_NAME = "fairdicom.toml"
MAPPINGS_NAME = "mappings"
DESCRIPTIONS_NAME = "datasets.toml"
SITE_VALUES = {"mappings": MAPPINGS_NAME, "descriptions": DESCRIPTIONS_NAME}
"""The settings the starter file sets (the others stay commented at their defaults)."""

_HEADER = f"""\
# fairdicom settings of this site, written by `fairdicom init` (fairdicom {__version__}).
#
# A setting is read from this file, then from its FAIRDICOM_* environment variable (which
# wins), then from a command's options (which win over both). A relative path (store,
# mappings, descriptions, data_dir) is relative to the folder of this file. Uncomment a line
# to change a setting. Use the file with `fairdicom --config {CONFIG_NAME} COMMAND`, or run
# fairdicom in this folder (./{CONFIG_NAME} is read by default).
"""


@dataclass(frozen=True)
class StarterSite:
    """The files of a starter site."""

    folder: Path
    config: Path
    mappings: Path
    descriptions: Path
    mapping_files: int


def starter_config() -> str:
    """Return the text of a starter ``fairdicom.toml``: every setting, explained."""
    top = [spec for spec in SETTINGS.values() if spec.table_field is None]
    tables: dict[str, list[Setting]] = {}
    for spec in SETTINGS.values():
        if spec.table_field is not None:
            tables.setdefault(spec.key.split(".")[0], []).append(spec)
    parts = [_HEADER, *(_entry(spec) for spec in top)]
    for name, specs in tables.items():
        # Last, and its header commented too: a key added at the end of the file (as in
        # `echo 'store = "..."' >> fairdicom.toml`) would otherwise belong to the table.
        parts.append(f"\n# Uncomment the [{name}] line too when you set one of these.\n")
        parts.append(f"# [{name}]\n")
        parts += [_entry(spec) for spec in specs]
    return "".join(parts)


def _entry(spec: Setting) -> str:
    name = spec.key.split(".")[-1]
    default = spec.shown_default.replace("`", "")
    lines = [f"\n# {spec.meaning}", f"# default: {default}; environment: {spec.env}"]
    if spec.help.sensitive:
        lines.append(f"# Better kept out of files: set {spec.env} in the environment instead.")
    if spec.key in SITE_VALUES:
        lines.append(f"{name} = {_toml(SITE_VALUES[spec.key])}")
    else:
        lines.append(f"# {name} = {_toml(spec.default)}")
    return "\n".join(lines) + "\n"


def _toml(value: object) -> str:
    """Return a default as a TOML value (JSON strings are TOML basic strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def write_starter_site(folder: Path) -> StarterSite:
    """Write a starter site into ``folder`` (made if missing); refuse to overwrite any file."""
    site = StarterSite(
        folder,
        folder / CONFIG_NAME,
        folder / MAPPINGS_NAME,
        folder / DESCRIPTIONS_NAME,
        mapping_files=0,
    )
    present = [p for p in (site.config, site.mappings, site.descriptions) if p.exists()]
    if present:
        raise UsageError(
            f"{', '.join(str(p) for p in present)} already "
            f"{'exists' if len(present) == 1 else 'exist'}: fairdicom init never overwrites a "
            "site's files; nothing was written. Choose another folder, or move them away first."
        )
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} is not a folder: choose a folder for the starter site")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        count = _copy_mappings(site.mappings)
        shutil.copyfile(DESCRIPTIONS, site.descriptions)
        with site.config.open("x", encoding="utf-8") as out:
            out.write(starter_config())
    except OSError as exc:
        raise UsageError(f"cannot write the starter site into {folder}: {exc}") from None
    return StarterSite(site.folder, site.config, site.mappings, site.descriptions, count)


def _copy_mappings(target: Path) -> int:
    """Copy the bundled mapping files (tables and rules) into ``target``; return how many.

    Files and folders get this process's modes, never the install's (which may be read-only).
    """
    count = 0
    for source in sorted(MAPPINGS.rglob("*")):
        relative = source.relative_to(MAPPINGS)
        if not source.is_file() or any(
            part.startswith(".") or part == "__pycache__" for part in relative.parts
        ):
            continue
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target / relative)
        count += 1
    return count
