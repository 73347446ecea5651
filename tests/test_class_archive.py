"""The class archive of local Spark JVMs: where it is, when it is used, how it is written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from okeanos.local.runner import LocalRunner
from okeanos_spark import class_archive

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("OKEANOS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(class_archive.DISABLE_ENV, raising=False)
    return tmp_path / "home"


def test_archive_unused_when_missing(home) -> None:
    assert class_archive.java_options() == []


def test_archive_used_when_present(home) -> None:
    path = class_archive.archive_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"archive")
    assert path.parent == home / "jvm"
    assert class_archive.java_options() == [f"-XX:SharedArchiveFile={path}", "-Xlog:cds=off", "-Xlog:cds+dynamic=off"]


def test_archive_disabled(home, monkeypatch) -> None:
    monkeypatch.setenv(class_archive.DISABLE_ENV, "off")
    assert class_archive.creation_options() is None
    assert class_archive.java_options() == []


def test_archive_path_with_space(tmp_path) -> None:
    assert class_archive.archive_path(tmp_path / "my home") is None


def test_archive_creation_moved_into_place(home) -> None:
    options = class_archive.creation_options()
    temporary = Path(options[0].split("=", 1)[1])
    temporary.write_bytes(b"archive")
    assert class_archive.finish_creation(options, succeeded=True) == class_archive.archive_path()
    assert class_archive.archive_path().read_bytes() == b"archive"
    assert not temporary.exists()
    assert class_archive.creation_options() is None


def test_archive_creation_failed_deleted(home) -> None:
    options = class_archive.creation_options()
    temporary = Path(options[0].split("=", 1)[1])
    temporary.write_bytes(b"partial")
    assert class_archive.finish_creation(options, succeeded=False) is None
    assert not temporary.exists()
    assert not class_archive.archive_path().exists()


def test_runner_writes_then_uses_archive(home, tmp_path, monkeypatch) -> None:
    commands = []

    def fake_run(command, **kwargs):
        commands.append(command)
        options = command[command.index("--driver-java-options") + 1]
        for option in options.split():
            if option.startswith("-XX:ArchiveClassesAtExit="):
                Path(option.split("=", 1)[1]).write_bytes(b"archive")
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr("okeanos.local.runner.subprocess.run", fake_run)
    runner = LocalRunner(spark_submit="/opt/spark-submit", work_dir=tmp_path / "work")
    for _ in range(2):
        runner.add_step("okeanos web-a", ["spark-submit", "--py-files", "s3://a/jobs.zip", "s3://a/main.py", "--task", "x"])
        runner.run_next()

    first, second = (command[command.index("--driver-java-options") + 1] for command in commands)
    assert first.startswith("-XX:ArchiveClassesAtExit=")
    assert second.startswith(f"-XX:SharedArchiveFile={class_archive.archive_path()} ")
    assert class_archive.archive_path().read_bytes() == b"archive"


@pytest.mark.spark
def test_archive_loads_in_a_real_jvm(home) -> None:
    # -Xshare:on makes the JVM fail to start unless it maps the archive.
    path = class_archive.ensure()
    assert path is not None and path.stat().st_size > 1_000_000
    script = (
        "from okeanos_spark.session import build_session\n"
        "spark = build_session('check', master='local[1]', log_level='ERROR',"
        " config={'spark.driver.extraJavaOptions': '-Xshare:on'})\n"
        "print(spark.range(3).count())\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "spark"), str(ROOT)]))
    completed = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.strip().splitlines()[-1] == "3"
