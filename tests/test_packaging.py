"""pyproject.toml, environment.yml and binder/environment.yml must install the same packages."""
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _yml_packages(path: Path) -> set[str]:
    names = set()
    text = path.read_text()
    for line in text[text.index("dependencies:"):].splitlines():
        m = re.match(r"\s*-\s+([A-Za-z0-9_.\-]+.*)$", line)
        if m and not m.group(1).startswith(("pip", "python", "--")) and ":" not in m.group(1):
            names.add(_name(m.group(1)))
    return names


def test_environment_files_list_the_pyproject_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    assert _yml_packages(ROOT / "environment.yml") == wanted


def _body(path: Path) -> list[str]:
    """The environment file without its comment header."""
    return [line for line in path.read_text().splitlines() if not line.startswith("#")]


def test_binder_environment_is_the_root_one_with_cpu_torch():
    # repo2docker reads only binder/ when it exists (docs/background.md §5); mybinder has no GPU, so torch must come from the CPU index
    binder = _body(ROOT / "binder" / "environment.yml")
    cpu_index = "      - --extra-index-url https://download.pytorch.org/whl/cpu"
    assert cpu_index in binder
    assert [line for line in binder if line != cpu_index] == _body(ROOT / "environment.yml")
    apt = (ROOT / "binder" / "apt.txt").read_text().split()
    assert {"libegl1", "libgl1", "libusb-1.0-0", "libgomp1"} <= set(apt)


def test_open3d_pin_explains_itself():
    text = (ROOT / "pyproject.toml").read_text()
    assert "open3d>=0.19,<0.20" in text and "Vulkan" in text
