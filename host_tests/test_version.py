"""One version: the firmware's camstream.__version__, which pyproject.toml reads and the hub reports."""

import ast
import tomllib
from pathlib import Path

import camhub
import camstream

ROOT = Path(__file__).resolve().parent.parent


def test_the_package_takes_its_version_from_the_firmware():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["dynamic"] == ["version"] and "version" not in project["project"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "camstream.__version__"}
    source = (ROOT / "CIRCUITPY" / "lib" / "camstream" / "__init__.py").read_text()
    literal = next(
        node.value.value
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign) and node.targets[0].id == "__version__"  # type: ignore[attr-defined]
    )
    assert literal == camstream.__version__
    assert camhub.__version__ == camstream.__version__, "reinstall (make setup) after changing the version"


def test_changes_lists_the_current_version():
    assert f"## {camstream.__version__}" in (ROOT / "CHANGES.md").read_text()


async def test_the_hub_reports_its_version(hub, client):
    async with client.get(f"{hub.url}/healthz") as response:
        assert (await response.json())["version"] == camstream.__version__
    async with client.get(f"{hub.url}/api/v1/devices") as response:
        assert (await response.json())["version"] == camstream.__version__
    async with client.get(f"{hub.url}/metrics") as response:
        assert f'camhub_build_info{{version="{camstream.__version__}"}} 1' in await response.text()
