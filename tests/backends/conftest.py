"""One harness per provider module in ``providers/``, started once per worker."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator

import pytest

from tests.backends import providers
from tests.backends.harness import ProviderHarness

PROVIDER_MODULES = sorted(info.name for info in pkgutil.iter_modules(providers.__path__)
                          if not info.name.startswith("_"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "provider_name" in metafunc.fixturenames:
        metafunc.parametrize("provider_name", PROVIDER_MODULES, scope="session")


@pytest.fixture(scope="session")
def harness(provider_name: str, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[ProviderHarness]:
    module = importlib.import_module(f"tests.backends.providers.{provider_name}")
    started: ProviderHarness = module.start(tmp_path_factory.mktemp(provider_name))
    try:
        yield started
    finally:
        started.stop()
