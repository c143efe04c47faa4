"""The layering contract, read from the source: judge → reviewer → sampler, never upward;
no module imports another package's private module; no import cycle among our modules;
curated ``__all__`` on every package; one root exception; light public modules."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sampler", "reviewer", "judge")
#: What each package may import of the others (the design's dependency direction).
ALLOWED = {"sampler": {"sampler"}, "reviewer": {"reviewer", "sampler"}, "judge": {"judge", "reviewer", "sampler"}}


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    is_package: bool

    @property
    def top(self) -> str:
        return self.name.split(".")[0]


def our_modules() -> dict[str, Module]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            name = ".".join(parts[:-1] if is_package else parts)
            modules[name] = Module(name, path, is_package)
    return modules


def imports(module: Module, source: str, known: set[str]) -> Iterator[tuple[int, str]]:
    """Every module ``source`` imports (at module level, in functions, under
    TYPE_CHECKING alike), absolute; ``from X import y`` names ``X.y`` when that is a module."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                yield node.lineno, candidate if candidate in known or alias.name.startswith("_") else target


def _private(dotted: str) -> bool:
    return any(part.startswith("_") and not part.startswith("__") for part in dotted.split(".")[1:])


def layer_violations(module: Module, source: str, known: set[str]) -> list[str]:
    """What ``source`` (the text of ``module``) imports against the layering contract."""
    problems = []
    for line, target in imports(module, source, known):
        top = target.split(".")[0]
        if top not in PACKAGES or top == module.top:
            continue
        where = f"{module.path.relative_to(ROOT) if module.path.is_absolute() else module.path}:{line}"
        if top not in ALLOWED[module.top]:
            problems.append(f"{where}: {module.top} imports {target} (upward: the layers are judge → reviewer → sampler)")
        elif _private(target):
            problems.append(f"{where}: imports {target}, a private module of {top} (make what is shared public)")
    return problems


def import_graph(sources: dict[str, tuple[Module, str]]) -> dict[str, set[str]]:
    known = set(sources)
    return {
        name: {target for _, target in imports(module, source, known) if target in known and target != name}
        for name, (module, source) in sources.items()
    }


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def _sources() -> dict[str, tuple[Module, str]]:
    return {name: (module, module.path.read_text()) for name, module in our_modules().items()}


# -- the tree as it is ----------------------------------------------------------------------
def test_no_upward_import_and_no_private_module_of_another_package() -> None:
    sources = _sources()
    problems = [p for module, source in sources.values() for p in layer_violations(module, source, set(sources))]
    assert problems == []


def test_no_import_cycle_among_our_modules() -> None:
    assert import_cycles(import_graph(_sources())) == []


# -- the checks catch what they are meant to ------------------------------------------------
@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("judge.checks", "from sampler._redact import Redactor", "a private module of sampler"),
        ("judge.x", "from reviewer import _errors", "reviewer._errors, a private module of reviewer"),
        ("judge.x", "import reviewer.store._helpers as h", "a private module of reviewer"),
        ("reviewer.cli", "def f():\n    from judge.cli_judge import judge", "upward"),
        ("reviewer.x", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import judge", "upward"),
        ("sampler._core", "from reviewer.errors import TastevinError", "upward"),
        ("sampler.x", "from judge import rubric", "upward"),
    ],
    ids=["private-from", "private-name", "private-import", "lazy-upward", "type-checking-upward",
         "sampler-to-reviewer", "sampler-to-judge"],
)
def test_layer_check_flags(module: str, source: str, expected: str) -> None:
    problems = layer_violations(Module(module, Path(module.replace(".", "/") + ".py"), False), source, set())
    assert len(problems) == 1 and expected in problems[0], problems


@pytest.mark.parametrize(
    "source",
    ["from reviewer.errors import TastevinError", "from sampler.redact import Redactor", "from ._x import y",
     "from sampler import __version__"],
    ids=["public-reviewer", "public-sampler", "own-private", "dunder"],
)
def test_layer_check_allows(source: str) -> None:
    assert layer_violations(Module("judge.checks", Path("judge/checks.py"), False), source, set()) == []


def test_cycle_check_finds_a_cycle_through_lazy_and_type_checking_imports() -> None:
    def module(name: str, source: str, is_package: bool = False) -> tuple[str, tuple[Module, str]]:
        return name, (Module(name, Path(name), is_package), source)

    sources = dict([
        module("judge", "", is_package=True),
        module("judge.checks", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .rubric import Rubric"),
        module("judge.rubric", "from .checks import Check"),
        module("reviewer.ingest", "", is_package=True),
        module("reviewer.ingest.command", "def f():\n    from .workers import run"),
        module("reviewer.ingest.workers", "def g():\n    from .command import echo_line"),
        module("reviewer.ingest.writer", "from . import consumer"),
        module("reviewer.ingest.consumer", ""),
    ])
    assert import_cycles(import_graph(sources)) == [
        ["judge.checks", "judge.rubric"],
        ["reviewer.ingest.command", "reviewer.ingest.workers"],
    ]


# -- light public modules -------------------------------------------------------------------
def _loaded_after(statement: str, prefixes: tuple[str, ...]) -> list[str]:
    code = f"import json, sys; {statement}; print(json.dumps(sorted(m for m in sys.modules if m.startswith({prefixes!r}))))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(result.stdout)


def test_the_redactor_loads_neither_the_opentelemetry_sdk_nor_kafka() -> None:
    """judge.checks uses sampler.redact: it must not drag in the sampler's transport."""
    assert _loaded_after("import sampler.redact", ("opentelemetry", "kafka", "confluent_kafka")) == []
    assert _loaded_after("import judge.checks", ("opentelemetry.sdk", "kafka", "confluent_kafka")) == []


@pytest.mark.parametrize("package", ["sampler", "reviewer", "judge"])
def test_importing_a_package_is_light(package: str) -> None:
    heavy = ("opentelemetry", "kafka", "confluent_kafka", "sqlalchemy", "sqlmodel", "anthropic", "pandas",
             "scipy", "numpy", "streamlit", "jsonschema", "yaml")
    assert _loaded_after(f"import {package}", heavy) == []


# -- curated __all__ and one root exception -------------------------------------------------
def _packages() -> list[str]:
    return sorted(name for name, module in our_modules().items() if module.is_package)


@pytest.mark.parametrize("package", _packages())
def test_every_package_has_a_curated_all(package: str) -> None:
    module = importlib.import_module(package)
    names = module.__dict__.get("__all__")
    assert isinstance(names, list), f"{package}/__init__.py has no __all__"
    assert len(names) == len(set(names))
    missing = [name for name in names if not hasattr(module, name)]
    assert missing == []


@pytest.mark.parametrize("package", _packages())
def test_a_public_name_is_not_shadowed_by_a_submodule_of_the_same_name(package: str) -> None:
    """Importing ``reviewer.ingest.decode`` sets the package's ``decode`` to the module
    unless the package bound the function itself: a lazy ``__getattr__`` never runs then."""
    from types import ModuleType

    module = importlib.import_module(package)
    directory = Path(module.__file__ or "").parent
    for name in module.__all__:
        if (directory / f"{name}.py").exists() or (directory / name / "__init__.py").exists():
            importlib.import_module(f"{package}.{name}")
            assert not isinstance(getattr(module, name), ModuleType), f"{package}.{name} is the module"


def test_the_sampler_public_api_is_unchanged() -> None:
    import sampler

    assert sampler.__all__ == [
        "SCHEMA", "KafkaTransport", "MemoryTransport", "Sampler", "SamplerSettings", "SamplingSpanProcessor",
        "SendResult", "Transport", "flush", "init", "instrument", "json_schema", "record_call", "shutdown",
        "stats", "tag",
    ]
    from sampler._core import Sampler
    from sampler._transport import MemoryTransport

    assert sampler.Sampler is Sampler and sampler.MemoryTransport is MemoryTransport
    assert set(sampler.__all__) <= set(dir(sampler))
    with pytest.raises(AttributeError, match="has no attribute 'nothing_here'"):
        sampler.nothing_here  # noqa: B018


@pytest.mark.parametrize(
    ("where", "name"),
    [
        ("reviewer.errors", "ConfigError"),
        ("reviewer.errors", "StoreError"),
        ("reviewer.errors", "BrokerError"),
        ("reviewer.ingest.decode", "PoisonRecord"),
        ("reviewer.reviews", "ReviewError"),
        ("reviewer.queries._windows", "WindowError"),
        ("judge.prompt", "BadReply"),
        ("judge.llm", "BudgetExhausted"),
        ("judge.llm", "JudgeRejected"),
        ("judge.rubric", "RubricError"),
        ("judge.demo.traffic", "TrafficError"),
    ],
)
def test_every_exception_hangs_under_tastevin_error(where: str, name: str) -> None:
    import judge
    import reviewer
    from reviewer.errors import TastevinError

    assert reviewer.TastevinError is TastevinError and judge.TastevinError is TastevinError
    error = getattr(importlib.import_module(where), name)
    assert issubclass(error, TastevinError)
    import reviewer.errors as errors_module

    assert name in (errors_module.__doc__ or ""), f"{name} is missing from the tree in reviewer/errors.py"


def test_every_exception_class_of_ours_is_in_the_tree() -> None:
    """A new exception class anywhere in the three packages must join the tree (a private
    ``_Name`` one is a module's own control flow, caught where it is raised)."""
    import reviewer.errors as errors_module

    found = []
    for module in our_modules().values():
        for node in ast.walk(ast.parse(module.path.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                isinstance(base, ast.Name) and (base.id.endswith(("Error", "Exception")) or base.id == "TastevinError")
                for base in node.bases
            ):
                if not node.name.startswith("_"):
                    found.append(node.name)
    assert {"TastevinError", "PoisonRecord", "BadReply", "BudgetExhausted"} <= set(found)
    assert [name for name in found if name not in (errors_module.__doc__ or "")] == []


def test_poison_record_is_still_a_value_error() -> None:
    from reviewer.ingest.decode import PoisonRecord

    assert issubclass(PoisonRecord, ValueError)
