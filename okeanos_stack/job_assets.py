"""JobAssets: the Spark job's code and third-party packages, uploaded as CDK assets.

Three S3 objects, each built at synth time without Docker or network:

1. the entry script ``spark/okeanos_main.py``, as a file asset;
2. a zip of the packages ``okeanos_spark`` and ``okeanos``, for ``--py-files``;
3. a zip of the job's third-party packages (opensearch-py, requests-aws4auth
   and their dependencies), also for ``--py-files``.

Third-party packages travel in a ``--py-files`` zip rather than a bootstrap
action that runs pip, for three reasons. The cluster has no internet access
at step time, and may have none at boot either. An existing cluster
(``SparkCluster(existing_cluster_id=...)``) cannot be given new bootstrap
actions. And a zip is versioned with the job, so two deployments sharing a
cluster each run with their own packages. The packages come from wheels
committed in ``okeanos_stack/cluster_deps``, not from the virtualenv: the
virtualenv runs Python 3.11 with versions (opensearch-py 3.2, requests 2.34,
urllib3 2.x) that require Python 3.10 or later, while EMR 7.12 runs the job
with Python 3.9. Downloading wheels at synth time would make synth depend on
PyPI.

NOTE: boto3 and botocore, which the job uses to list S3 inputs and to sign
OpenSearch requests, are not in the zip. botocore reads its service models
from files on disk, so it cannot be imported from a zip, and the job relies
on the boto3 of the EMR nodes, which no deployment has confirmed yet. If it
is missing, ship them with ``spark-submit --archives`` (extracted on each
node) or a bootstrap action.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

from aws_cdk import AssetHashType
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from okeanos_stack import bundling
from okeanos_stack._props import PropsChecker

ENTRY_SCRIPT_NAME = "okeanos_main.py"


class JobAssets(Construct):
    """The Spark job's entry script and ``--py-files`` zips, as S3 assets.

    The handler builds each step as ``spark-submit --py-files
    <py_files_uri>,<dependencies_uri> <entry_script_uri> --task <base64>``.

    Parameters
    ----------
    spark_dir
        Directory containing ``okeanos_main.py`` and the ``okeanos_spark``
        package. Default: ``spark/`` of this repository.

    Attributes
    ----------
    entry_script : s3_assets.Asset
        The entry script asset.
    py_files : s3_assets.Asset
        The zip of ``okeanos_spark`` and ``okeanos``.
    dependencies : s3_assets.Asset
        The zip of third-party packages.
    entry_script_uri, py_files_uri, dependencies_uri : str
        ``s3://`` URIs of the three objects (tokens until deployment).
    """

    def __init__(self, scope: Construct, construct_id: str, *, spark_dir: Optional[Path] = None) -> None:
        super().__init__(scope, construct_id)
        spark_dir = Path(spark_dir) if spark_dir is not None else bundling.SPARK_DIR
        entry = spark_dir / ENTRY_SCRIPT_NAME
        checker = PropsChecker("JobAssets")
        if not entry.is_file():
            checker.add(f"spark_dir: {entry} does not exist; the job's entry script must be there")
        if not (spark_dir / "okeanos_spark" / "__init__.py").is_file():
            checker.add(f"spark_dir: {spark_dir / 'okeanos_spark'} is not a Python package")
        wheels = bundling.cluster_wheels()
        if not wheels:
            checker.add(f"no wheels found in {bundling.CLUSTER_WHEELS_DIR}; see its requirements.txt")
        checker.raise_if_any()

        self.entry_script = s3_assets.Asset(self, "EntryScript", path=str(entry))

        package_files = bundling.python_files(spark_dir / "okeanos_spark", "okeanos_spark")
        package_files.update(bundling.shared_package_files())
        self.py_files = s3_assets.Asset(
            self,
            "PyFiles",
            path=str(spark_dir / "okeanos_spark"),
            asset_hash_type=AssetHashType.CUSTOM,
            asset_hash=bundling.content_hash(package_files.items()),
            bundling=bundling.bundling_options(lambda out: bundling.copy_bundle(package_files, out)),
        )

        self.dependencies = s3_assets.Asset(
            self,
            "Dependencies",
            path=str(bundling.CLUSTER_WHEELS_DIR),
            asset_hash_type=AssetHashType.CUSTOM,
            asset_hash=bundling.content_hash((wheel.name, wheel) for wheel in wheels),
            bundling=bundling.bundling_options(lambda out: bundling.unpack_wheels(wheels, out)),
        )

    @property
    def entry_script_uri(self) -> str:
        """``s3://`` URI of the entry script."""
        return self.entry_script.s3_object_url

    @property
    def py_files_uri(self) -> str:
        """``s3://`` URI of the zip of ``okeanos_spark`` and ``okeanos``."""
        return self.py_files.s3_object_url

    @property
    def dependencies_uri(self) -> str:
        """``s3://`` URI of the zip of third-party packages."""
        return self.dependencies.s3_object_url

    @property
    def py_files_uris(self) -> List[str]:
        """Both ``--py-files`` zips, in the order spark-submit receives them."""
        return [self.py_files_uri, self.dependencies_uri]

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` (the cluster's instance role) to read the three objects, and nothing else."""
        resources = [
            asset.bucket.arn_for_objects(asset.s3_object_key)
            for asset in (self.entry_script, self.py_files, self.dependencies)
        ]
        return iam.Grant.add_to_principal(grantee=grantee, actions=["s3:GetObject"], resource_arns=resources)
