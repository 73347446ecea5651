"""Local asset bundling: copy Python packages into asset directories without Docker.

CDK runs :class:`LocalBundling` in place of a bundling container, so ``cdk
synth`` needs neither Docker nor network access. Each asset's hash is computed
here from the contents of the files that go into it (``AssetHashType.CUSTOM``),
so the hash changes exactly when the bundle would, and CDK skips bundling when
``cdk.out`` already contains an asset with that hash.
"""

from __future__ import annotations

import ast
import hashlib
import shutil
import zipfile
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Tuple

import jsii
from aws_cdk import BundlingOptions, DockerImage, ILocalBundling

REPO_ROOT = Path(__file__).resolve().parents[1]
SPARK_DIR = REPO_ROOT / "spark"
SHARED_PACKAGE_DIR = REPO_ROOT / "okeanos"
HANDLER_PACKAGE_DIR = REPO_ROOT / "lambda_src" / "okeanos_handler"
CLUSTER_WHEELS_DIR = Path(__file__).resolve().parent / "cluster_deps"

# CDK requires an image in BundlingOptions even when local bundling is
# given. This image is never pulled, because LocalBundling.try_bundle returns
# True or raises, and CDK falls back to Docker only on False.
UNUSED_BUNDLING_IMAGE = DockerImage.from_registry("public.ecr.aws/sam/build-python3.12")

# Subpackages of okeanos that only the CLI on an operator's machine uses.
_OPERATOR_ONLY = ("cli", "local")

# A bundle is a mapping of destination path (relative, POSIX) to source file.
Bundle = Dict[str, Path]


@jsii.implements(ILocalBundling)
class LocalBundling:
    """An ``ILocalBundling`` that runs a Python function to fill the output directory."""

    def __init__(self, build: Callable[[Path], None]) -> None:
        self._build = build

    def try_bundle(self, output_dir: str, options: Optional[object] = None, **_: object) -> bool:
        """Build the asset into ``output_dir`` and return True; errors propagate to ``cdk synth``."""
        self._build(Path(output_dir))
        return True


def bundling_options(build: Callable[[Path], None]) -> BundlingOptions:
    """Return BundlingOptions that build the asset locally with ``build``."""
    return BundlingOptions(image=UNUSED_BUNDLING_IMAGE, local=LocalBundling(build))


def python_files(package_dir: Path, prefix: str, skip: Iterable[str] = ()) -> Bundle:
    """Map every ``.py`` file under ``package_dir`` to ``prefix/<relative path>``.

    ``skip`` names top-level subdirectories to leave out.
    """
    skipped = set(skip)
    files: Bundle = {}
    for path in sorted(package_dir.rglob("*.py")):
        relative = path.relative_to(package_dir)
        if "__pycache__" in relative.parts or (len(relative.parts) > 1 and relative.parts[0] in skipped):
            continue
        files[f"{prefix}/{relative.as_posix()}"] = path
    return files


def shared_package_files() -> Bundle:
    """Map the files of the shared ``okeanos`` package, without its operator-only subpackages."""
    return python_files(SHARED_PACKAGE_DIR, "okeanos", skip=_OPERATOR_ONLY)


def registry_files() -> Bundle:
    """Map ``okeanos_spark``'s registry and job modules, plus the modules they import.

    The handler validates job names with the registry, which imports every
    job module. Modules of ``okeanos_spark`` that those import are found by
    reading their import statements (an imported subpackage is copied whole),
    so the Lambda bundle leaves out the Spark-only modules but misses nothing
    the registry loads.
    """
    package_dir = SPARK_DIR / "okeanos_spark"
    files: Bundle = {}
    pending: List[Path] = [package_dir / "__init__.py", package_dir / "registry.py"]
    pending.extend(path for path in sorted((package_dir / "jobs").rglob("*.py")) if "__pycache__" not in path.parts)
    while pending:
        path = pending.pop()
        destination = "okeanos_spark/" + path.relative_to(package_dir).as_posix()
        if destination in files:
            continue
        files[destination] = path
        for module in _imported_spark_modules(path):
            pending.extend(_module_files(package_dir, module))
    return files


def _imported_spark_modules(path: Path) -> List[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    modules: List[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.append(node.module)
            modules.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return [name for name in modules if name.startswith("okeanos_spark.")]


def _module_files(package_dir: Path, module: str) -> List[Path]:
    parts = module.split(".")[1:]
    candidates = []
    for depth in range(1, len(parts) + 1):
        base = package_dir.joinpath(*parts[:depth])
        if base.with_suffix(".py").is_file():
            candidates.append(base.with_suffix(".py"))
        elif (base / "__init__.py").is_file():
            # A subpackage goes in whole: packages such as formats import
            # their modules by name at run time, which no import statement shows.
            candidates.extend(path for path in sorted(base.rglob("*.py")) if "__pycache__" not in path.parts)
    return candidates


def handler_bundle() -> Bundle:
    """Map every file of the Lambda asset: the handler, ``okeanos`` and the job registry."""
    files = python_files(HANDLER_PACKAGE_DIR, "okeanos_handler")
    files.update(shared_package_files())
    files.update(registry_files())
    return files


def cluster_wheels() -> List[Path]:
    """Return the committed pure-Python wheels of the job's third-party packages."""
    return sorted(CLUSTER_WHEELS_DIR.glob("*.whl"))


def copy_bundle(files: Bundle, output_dir: Path) -> None:
    """Copy each source file to its destination under ``output_dir``."""
    for destination, source in files.items():
        target = output_dir / destination
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def unpack_wheels(wheels: Iterable[Path], output_dir: Path) -> None:
    """Unpack pure-Python wheels into ``output_dir``, as ``pip install --target`` lays them out.

    Raises
    ------
    ValueError
        If a wheel contains compiled code, which Python cannot import from a zip.
    """
    for wheel in wheels:
        if not wheel.name.endswith("-none-any.whl"):
            raise ValueError(
                f"{wheel.name} is not a pure-Python wheel (py3-none-any); Spark's --py-files "
                "zip cannot hold compiled extensions. Pick a pure-Python version in "
                f"{CLUSTER_WHEELS_DIR / 'requirements.txt'}"
            )
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(output_dir)


def content_hash(files: Iterable[Tuple[str, Path]]) -> str:
    """Return the SHA-256 of destination names and file contents, in name order."""
    digest = hashlib.sha256()
    for name, path in sorted(files):
        digest.update(name.encode("utf-8") + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()
