"""The pytest plugin in a user's project: a throwaway project (one test file, one ini, no conftest) run by pytest in
a subprocess, under pytest-asyncio strict mode (its default), auto mode, and anyio's plugin (asyncio and trio).

The projects run with ``filterwarnings = error``: a client left open (an unclosed aiohttp session or socket) fails
them. The subprocesses run in parallel, so the whole module costs about one pytest start-up.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

_COMMON = """
import asyncio
import sys

import pytest

SEEN = []


def _request():
    from target_async import ChannelType, Context, DeliveryRequest, ExecuteRequest, MboxRequest

    return DeliveryRequest(
        context=Context(channel=ChannelType.WEB), execute=ExecuteRequest(mboxes=[MboxRequest(name="m", index=0)])
    )


{mark}
async def test_readme_example(target_client):
    SEEN.append(target_client)
    result = await target_client.get_offers(request=_request())
    assert result.response.status == 200


{mark}
async def test_loopback_target_client(target_loopback_client, target_emulator_url):
    SEEN.append(target_loopback_client)
    result = await target_loopback_client.get_offers(request=_request())
    assert result.target_cookie is not None


{mark}
async def test_repository_clients(repository_client, repository_loopback_client):
    assert await repository_client.list_containers()
    assert await repository_loopback_client.list_containers()


{mark}
async def test_async_with_in_the_test(target_loopback_client):
    async with target_loopback_client as client:
        assert (await client.get_offers(request=_request())).response.status == 200


{mark}
async def test_ondevice_client(target_ondevice_client):
    SEEN.append(target_ondevice_client)
    result = await target_ondevice_client.get_offers(request=_request())
    assert result.meta.decisioning_method == "on-device"


def test_fixtures_left_unused(target_ondevice_client, target_loopback_client, repository_loopback_client):
    SEEN.append(target_ondevice_client)


def test_a_plain_test_running_its_own_loop(target_loopback_client):
    async def main():
        async with target_loopback_client as client:
            return await client.get_offers(request=_request())

    assert asyncio.run(main()).response.status == 200


def test_the_fixtures_closed_the_clients():
    from target_async import ClientClosedError

    assert SEEN
    for client in SEEN:
        with pytest.raises(ClientClosedError):
            asyncio.run(client.get_offers(request=_request()))
"""

_USER_FIXTURE = {
    "asyncio": """
import pytest_asyncio


@pytest_asyncio.fixture
async def offers(target_client):
    return await target_client.get_offers(request=_request())


{mark}
async def test_an_async_user_fixture_on_a_client_fixture(offers):
    assert offers.response.status == 200
""",
    "anyio": """
@pytest.fixture
async def offers(target_client):
    return await target_client.get_offers(request=_request())


{mark}
async def test_an_async_user_fixture_on_a_client_fixture(offers):
    assert offers.response.status == 200
""",
}

# name: (ini lines, the mark of async tests, the user fixture flavour, extra pytest arguments)
_MODES: dict[str, tuple[str, str, str, list[str]]] = {
    "strict": ("", "@pytest.mark.asyncio", "asyncio", []),
    "auto": ("asyncio_mode = auto\n", "", "asyncio", []),
    "anyio": ("", "@pytest.mark.anyio", "anyio", ["-p", "no:asyncio"]),
}

_COST = """
import sys

LOADED = sorted(
    name
    for name in sys.modules
    if name.split(".")[0] in {"httpx", "aiohttp", "anyio", "attrs", "cattrs", "starlette", "uvicorn"}
    or name.startswith(("target_async.delivery", "target_async.models", "target_async.emulator"))
)


def test_loading_the_plugin_imported_nothing_heavy(request):
    assert request.config.pluginmanager.has_plugin("target_async.testing")
    assert LOADED == []
"""

_NO_EXTRA = """
import sys

sys.modules["starlette"] = None  # as if target-async were installed without the emulator extra
import pytest

sys.exit(pytest.main([*sys.argv[1:], "test_no_extra.py"]))
"""

_NO_EXTRA_TEST = """
async def test_needs_the_emulator(target_client):
    pass


def test_the_app_fixture(target_emulator_app):
    pass
"""


# other plugins of this checkout's environment that a user's project would not have (hypothesis's takes 1-3 s to
# load): the projects load pytest-asyncio, anyio and target_async's plugin only
_QUIET = ["-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:benchmark", "-p", "no:respx"]


def _readme_example() -> str:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("## Testing your code") :]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    return next(block for block in blocks if "async def test_my_handler" in block)


def _project(root: Path, ini: str, files: dict[str, str]) -> Path:
    root.mkdir()
    # warnings are errors, but for pytest-asyncio's advice to set a loop scope (a default setup leaves it unset)
    warnings = 'error\n    ignore:The configuration option "asyncio_default_fixture_loop_scope" is unset'
    (root / "pytest.ini").write_text(f"[pytest]\n{ini}filterwarnings =\n    {warnings}\n")
    for name, text in files.items():
        (root / name).write_text(textwrap.dedent(text))
    return root


def _pytest(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", *_QUIET, "-rA", "--durations=4", *args],
        cwd=root,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[int, str]]]:
    """Every throwaway project, started together; name -> (exit code, output)."""
    base = tmp_path_factory.mktemp("plugin-projects")
    started: dict[str, subprocess.Popen[str]] = {}
    for name, (ini, mark, flavour, args) in _MODES.items():
        text = _COMMON.format(mark=mark) + _USER_FIXTURE[flavour].format(mark=mark)
        files = {"test_plugin.py": text}
        if name == "strict":  # the README's example, as written
            files["test_readme.py"] = _readme_example()
        started[name] = _pytest(_project(base / name, ini, files), *args)
    # the plugin loaded explicitly, with no other plugin: what loading it costs
    cost = _project(base / "cost", "", {"test_cost.py": _COST})
    started["cost"] = _pytest(cost, "-p", "target_async.testing", env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    no_extra = _project(base / "no_extra", "asyncio_mode = auto\n", {"test_no_extra.py": _NO_EXTRA_TEST})
    (no_extra / "run.py").write_text(_NO_EXTRA)
    started["no_extra"] = subprocess.Popen(
        [sys.executable, "run.py", *_QUIET], cwd=no_extra, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    results = {}
    try:
        for name, process in started.items():
            output, _ = process.communicate(timeout=60)
            results[name] = (process.returncode, output)
        yield results
    finally:
        for process in started.values():
            if process.poll() is None:
                process.kill()


@pytest.mark.parametrize(("mode", "tests"), [("strict", 10), ("auto", 9)])  # strict: + the README's example
def test_the_fixtures_work_under_pytest_asyncio(runs: dict[str, tuple[int, str]], mode: str, tests: int) -> None:
    code, output = runs[mode]
    assert code == 0, output
    assert f"{tests} passed" in output, output
    if mode == "strict":
        assert "PASSED test_readme.py::test_my_handler" in output, output


def test_the_fixtures_work_under_anyio_on_asyncio_and_trio(runs: dict[str, tuple[int, str]]) -> None:
    code, output = runs["anyio"]
    assert code == 0, output
    # the five async tests on each backend, the two plain tests once per backend module parameter
    assert "test_readme_example[asyncio]" in output and "test_readme_example[trio]" in output, output


def test_loading_the_plugin_imports_nothing_heavy(runs: dict[str, tuple[int, str]]) -> None:
    code, output = runs["cost"]
    assert code == 0, output


def test_without_the_emulator_extra_a_fixture_names_the_extra(runs: dict[str, tuple[int, str]]) -> None:
    code, output = runs["no_extra"]
    assert code != 0, output
    assert output.count("pip install 'target-async[emulator]'") >= 2, output
    assert "2 errors" in output, output


def test_importing_the_plugin_module_imports_nothing_heavy() -> None:
    code = (
        "import sys, target_async.testing\n"
        "heavy = {'httpx', 'aiohttp', 'anyio', 'attrs', 'cattrs', 'starlette', 'uvicorn', 'asyncio', 'sniffio'}\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in heavy or "
        "(n.startswith('target_async.') and n not in {'target_async._version', 'target_async.testing'})))\n"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"


def test_the_package_still_gives_every_public_name() -> None:
    code = (
        "import target_async\n"
        "assert 'AsyncTargetClient' not in vars(target_async)\n"
        "from target_async import *\n"
        "import target_async.errors as e\n"
        "assert e.NotFoundError is target_async.NotFoundError and target_async.models.DeliveryRequest\n"
        "missing = [n for n in target_async.__all__ if n not in vars(target_async)]\n"
        "assert not missing, missing\n"
        "assert set(target_async.__all__) <= set(dir(target_async))\n"
        "try:\n"
        "    target_async.NoSuchName\n"
        "except AttributeError as exc:\n"
        "    assert 'NoSuchName' in str(exc)\n"
        "else:\n"
        "    raise AssertionError('no AttributeError')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
