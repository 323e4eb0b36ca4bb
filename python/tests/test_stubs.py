"""The type stubs against the module they describe: every public name has a stub, and every
stubbed callable has the parameters (names, order, defaults) the module really takes. The stubs
drifted before (``side`` in the module, ``side_name`` in the stub); this keeps them honest."""

import ast
import inspect
import os

import pytest

import ssl_gmm
from ssl_gmm import _native

HERE = os.path.join(os.path.dirname(ssl_gmm.__file__))


def stub(name):
    with open(os.path.join(HERE, name)) as f:
        return ast.parse(f.read())


def stub_functions(tree):
    """``{qualified name: ast.FunctionDef}`` of top-level functions and class methods."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            out[node.name] = node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and not any(
                    isinstance(d, ast.Name) and d.id == "property" for d in item.decorator_list
                ):
                    out[f"{node.name}.{item.name}"] = item
    return out


def stub_params(fn):
    """``[(name, default source or None)]`` without ``self``."""
    args = fn.args
    positional = args.posonlyargs + args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + [ast.unparse(d) for d in args.defaults]
    out = [(a.arg, d) for a, d in zip(positional, defaults)]
    out += [(a.arg, None if d is None else ast.unparse(d)) for a, d in zip(args.kwonlyargs, args.kw_defaults)]
    return [(n, d) for n, d in out if n not in ("self", "cls")]


def runtime_params(obj):
    sig = inspect.signature(obj)
    return [
        (p.name, None if p.default is inspect.Parameter.empty else repr(p.default))
        for p in sig.parameters.values()
        if p.name not in ("self", "cls") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def resolve(module, qualified):
    obj = module
    for part in qualified.split("."):
        obj = getattr(obj, part)
    return obj


def normal(default):
    """Defaults compared by value: ``'x'`` and ``"x"``, ``1e-05`` and ``0.00001``."""
    return None if default is None else repr(ast.literal_eval(default))


NATIVE = stub_functions(stub("_native.pyi"))


@pytest.mark.parametrize("qualified", sorted(NATIVE), ids=str)
def test_native_stub_matches_the_module(qualified):
    if qualified.endswith(("__init__", "__new__")):
        cls = resolve(_native, qualified.rsplit(".", 1)[0])
        obj = cls
    else:
        obj = resolve(_native, qualified)
    want = [(n, normal(d)) for n, d in stub_params(NATIVE[qualified])]
    got = [(n, normal(d)) for n, d in runtime_params(obj)]
    assert got == want, f"{qualified}: module {got} against stub {want}"


def test_every_public_native_name_has_a_stub():
    tree = stub("_native.pyi")
    stubbed = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    stubbed |= {t.target.id for t in tree.body if isinstance(t, ast.AnnAssign)}
    public = {n for n in dir(_native) if not n.startswith("_") or n == "__version__"}
    assert public - stubbed == set()
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    for name, node in classes.items():
        members = {i.name for i in node.body if isinstance(i, ast.FunctionDef)}
        members |= {i.target.id for i in node.body if isinstance(i, ast.AnnAssign)}
        runtime = {m for m in dir(getattr(_native, name)) if not m.startswith("_")}
        assert runtime - members == set(), name


def test_every_name_the_package_exports_has_a_stub():
    tree = stub("__init__.pyi")
    names = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            names |= {a.asname or a.name for a in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign):
            names.add(node.target.id)
    assert set(ssl_gmm.__all__) - names == set()


PACKAGE = {k: v for k, v in stub_functions(stub("__init__.pyi")).items() if not k.startswith("_")}


@pytest.mark.parametrize("qualified", sorted(PACKAGE), ids=str)
def test_package_stub_matches_the_module(qualified):
    obj = resolve(ssl_gmm, qualified)
    want = [(n, normal(d)) for n, d in stub_params(PACKAGE[qualified])]
    got = [(n, normal(d)) for n, d in runtime_params(obj)]
    assert got == want, f"{qualified}: module {got} against stub {want}"
