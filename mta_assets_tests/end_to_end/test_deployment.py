"""What ships: the Dockerfile (linted, its install steps replayed), dagster_cloud.yaml, workspace.yaml."""

import importlib
import os
import re
import shlex
import subprocess
import sys
import venv
from pathlib import Path

import pytest
import yaml

REPOSITORY = Path(__file__).resolve().parents[2]


def test_the_dockerfile_passes_hadolint():
    hadolint = Path(sys.executable).with_name("hadolint")
    run = subprocess.run([str(hadolint), str(REPOSITORY / "Dockerfile")], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_image_runs_the_code_server_as_a_non_root_user_with_a_healthcheck():
    dockerfile = (REPOSITORY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.\d+-slim$", dockerfile, re.MULTILINE)
    assert re.search(r"^USER 10001$", dockerfile, re.MULTILINE)
    assert "HEALTHCHECK" in dockerfile and "grpc-health-check" in dockerfile
    assert '"code-server", "start"' in dockerfile and '"-m", "mta_assets.definitions"' in dockerfile
    assert "EXPOSE 4000" in dockerfile


def test_the_lock_pins_every_runtime_dependency():
    pins = [line for line in (REPOSITORY / "requirements.lock").read_text().splitlines() if line and not line.startswith("#")]
    assert pins and all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[^=\s]+", pin) for pin in pins), pins
    names = {pin.split("==")[0].lower() for pin in pins}
    assert {"dagster", "dagster-webserver", "dagster-gcp", "pandas", "pyarrow", "duckdb", "matplotlib"} <= names


@pytest.mark.parametrize(
    ("file", "module_path"),
    [
        ("dagster_cloud.yaml", ["locations", 0, "code_source", "module_name"]),
        ("workspace.yaml", ["load_from", 0, "python_module", "module_name"]),
    ],
)
def test_deployment_files_point_at_a_module_that_loads(file, module_path):
    document = yaml.safe_load((REPOSITORY / file).read_text())
    value = document
    for step in module_path:
        value = value[step]
    module = importlib.import_module(value)
    assert module.defs().resolve_asset_graph().get_all_asset_keys()


def test_the_cloud_location_names_its_build_and_environment():
    location = yaml.safe_load((REPOSITORY / "dagster_cloud.yaml").read_text())["locations"][0]
    assert location["location_name"] == "mta_assets"
    assert location["build"]["directory"] == "."


def install_steps(dockerfile: str) -> list[list[str]]:
    """The Dockerfile's `RUN pip install ...` commands, continuation lines joined, other commands dropped."""
    joined = re.sub(r"\\\n\s*", " ", dockerfile)
    steps = []
    for run in re.findall(r"^RUN (.+)$", joined, re.MULTILINE):
        for command in run.split("&&"):
            words = shlex.split(command)
            if words[:2] == ["pip", "install"]:
                steps.append(words)
    return steps


@pytest.mark.slow
def test_the_images_install_steps_give_a_venv_where_the_location_validates(tmp_path):
    """No Docker engine here: replay the image's pip steps in a fresh venv from a copy of what it COPYs."""
    steps = install_steps((REPOSITORY / "Dockerfile").read_text())
    assert [step[2:] for step in steps] == [["--no-cache-dir", "-r", "requirements.lock"], ["--no-cache-dir", "--no-deps", "-e", "."]]
    context = tmp_path / "image"
    context.mkdir()
    for name in ("requirements.lock", "pyproject.toml", "README.md"):
        (context / name).write_bytes((REPOSITORY / name).read_bytes())
    subprocess.run(["cp", "-r", str(REPOSITORY / "mta_assets"), str(context / "mta_assets")], check=True)
    venv.create(tmp_path / "venv", with_pip=True)
    bin_dir = tmp_path / "venv" / "bin"
    for step in steps:
        subprocess.run([str(bin_dir / "python"), "-m", *step], cwd=context, check=True, capture_output=True)
    validate = subprocess.run(
        [str(bin_dir / "dagster"), "definitions", "validate", "-m", "mta_assets.definitions"],
        cwd=context,  # the image's WORKDIR: a copy of what it COPYs, not this checkout
        env={key: value for key, value in os.environ.items() if not key.startswith("MTA_")},
        capture_output=True,
        text=True,
    )
    assert validate.returncode == 0, validate.stderr[-3000:]
    assert "Validation successful" in validate.stderr + validate.stdout
