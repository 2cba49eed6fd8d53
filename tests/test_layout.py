"""The package's shape: no import circles, a library that never imports the CLI verbs, a public API."""
import ast
import os

import ganjax

ROOT = os.path.dirname(os.path.abspath(ganjax.__file__))


def module_graph() -> dict[str, set[str]]:
    """{module: ganjax modules it imports (anywhere in its text, lazily too)}, built with ast from the source."""
    mods = {}
    for folder, _, files in os.walk(ROOT):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(folder, f)
                rel = os.path.relpath(path, os.path.dirname(ROOT))[:-3].replace(os.sep, ".")
                mods[rel.removesuffix(".__init__")] = path
    graph = {}
    for mod, path in mods.items():
        is_pkg = path.endswith("__init__.py")
        deps = set()
        for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
                deps.update(f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names)
        graph[mod] = {d for d in deps if d in mods and d != mod}
    return graph


def cycles(graph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))
    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_circles():
    graph = module_graph()
    assert len(graph) > 60  # the walk found the package
    assert cycles(graph) == []


def test_the_library_never_imports_the_commands():
    graph = module_graph()
    offenders = {m: sorted(d for d in deps if d.startswith("ganjax.commands"))
                 for m, deps in graph.items() if not m.startswith("ganjax.commands") and m != "ganjax.__main__"}
    assert {m: d for m, d in offenders.items() if d} == {}


def test_cycle_finder_sees_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_one_module_per_cli_verb():
    from ganjax.commands import VERBS

    for verb in VERBS:
        assert os.path.isfile(os.path.join(ROOT, "commands", f"{verb}.py")), verb
    top = sorted(f for f in os.listdir(ROOT) if f.endswith(".py"))
    verbs_at_top = set(top) & ({f"{v}.py" for v in VERBS if v != "config"} | {"cli.py", "explain.py", "sampling.py"})
    assert verbs_at_top == set()


def test_public_api_names():
    for name in ("load_run", "generate", "translate", "integrated_gradients"):
        assert callable(getattr(ganjax, name)), name
    assert callable(ganjax.metrics.frechet_distance)


def test_ci_runs_exactly_the_readme_test_command():
    repo = os.path.dirname(ROOT)
    readme = open(os.path.join(repo, "README.md"), encoding="utf-8").read()
    ci = [line for line in open(os.path.join(repo, ".ci", "run")).read().splitlines() if "pytest" in line]
    assert len(ci) == 1 and f"\n{ci[0]}\n" in readme
    assert " -q " in ci[0] and "-qq" not in ci[0]
