"""The package's import structure: simulators apart from production code, and no import cycles.

grimp (import-linter's engine) reads every import statement, including those inside functions and
under `TYPE_CHECKING`, so a lazy or type-only import cannot hide a ring or a boundary crossing.
"""

from __future__ import annotations

import grimp
import pytest

PACKAGE = "cerbero_mcp"
SIMULATORS = f"{PACKAGE}.simulators"
# Only the demo entry point may start simulators from production code; tests and benches live outside.
MAY_IMPORT_SIMULATORS = (SIMULATORS, f"{PACKAGE}.demo")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    """Return the import graph of the package."""
    return grimp.build_graph(PACKAGE, include_external_packages=False)


def test_no_production_module_imports_the_simulators(graph: grimp.ImportGraph) -> None:
    crossings = sorted(
        f"{importer} imports {imported}"
        for imported in graph.find_descendants(SIMULATORS) | {SIMULATORS}
        for importer in graph.find_modules_that_directly_import(imported)
        if not importer.startswith(MAY_IMPORT_SIMULATORS)
    )
    assert crossings == []


def test_the_package_has_no_import_cycles(graph: grimp.ImportGraph) -> None:
    rings = sorted(
        " -> ".join((importer, *(graph.find_shortest_chain(importer=imported, imported=importer) or ())))
        for importer in graph.modules
        for imported in graph.find_modules_directly_imported_by(importer)
        if graph.chain_exists(importer=imported, imported=importer)
    )
    assert rings == []
