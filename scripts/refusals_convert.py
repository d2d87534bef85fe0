"""Rewrite inline refusals in backend/ into references to the catalogue, backend/refusals.py.

    python -m scripts.refusals_convert [--check] [--exclude PATH ...] [--no-routes]

1. Raise sites: ``ApiError("code", "message", status, details)``, ``Forbidden(...)``,
   ``NotFound(...)`` and ``Unauthenticated(...)`` with a literal code become
   ``CODE(...)`` (the catalogue's message), ``CODE(field=...)`` (an f-string message becomes
   the entry's template) or ``CODE.saying(message)`` (a message other than the entry's).
   A code the catalogue lacks gets an entry, appended under its package's name.
2. Routes: every view in backend/*/*routes.py gets one ``@refuses(...)`` line listing the
   entries its call graph can raise (computed statically, over-approximating); an existing
   ``@refuses`` line is replaced, so hand-added entries must go in the service code.

Idempotent: a second run changes nothing. Made to be re-run after merging branches that
added inline refusals. ``--check`` writes nothing and exits 1 when something would change.
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BACKEND = ROOT / "backend"
CATALOGUE = BACKEND / "refusals.py"

HELPERS = {"Forbidden": ("forbidden", 403), "NotFound": ("not_found", 404),
           "Unauthenticated": ("unauthenticated", 401)}
# The one code whose call sites said the same thing twice (architecture review §8): one
# message for both. Other codes with several messages keep them (clients see them).
CHOSEN = {"attendance_locked": "该记录已审核，不能再修改；如有错误请走积分冲正"}
# The entry's message where the first call site's is not the one to keep (sites that say
# something else go on saying it, through .saying()).
PREFERRED = {
    "four_eyes_required": "须由两位不同的人确认和审批，且不能是获得积分的本人，"
                          "请由其他工作人员办理",
    "swap_conflict": "换班会违反值班规则",
}
SKIP_FILES = {"backend/errors.py", "backend/refusals.py"}


@dataclass
class Entry:
    name: str
    code: str
    status: int
    message: str


@dataclass
class Site:
    path: Path
    node: ast.Call
    code: str
    status: int
    message: ast.expr | None  # None: the helper's default message
    details: ast.expr | None
    fields: dict[str, str] = field(default_factory=dict)
    template: str | None = None  # the message as a catalogue template, when it can be one


# --- the catalogue -----------------------------------------------------------------------

def read_catalogue() -> dict[str, Entry]:
    entries: dict[str, Entry] = {}
    for node in ast.parse(CATALOGUE.read_text()).body:
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Name) and node.value.func.id == "Refusal"):
            code, status, message = (ast.literal_eval(a) for a in node.value.args)
            entries[code] = Entry(node.targets[0].id, code, status, message)
    return entries


def entry_source(entry: Entry) -> str:
    line = f"{entry.name} = Refusal({_quote(entry.code)}, {entry.status}, {_quote(entry.message)})"
    if width(line) <= 100:
        return line
    return (f"{entry.name} = Refusal(\n    {_quote(entry.code)}, {entry.status},\n"
            f"    {_quote_wrapped(entry.message, '    ')},\n)")


def width(text: str) -> int:
    """Columns as ruff counts them (a CJK character takes two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _quote_wrapped(text: str, indent: str, room: int = 96) -> str:
    """``text`` as implicitly concatenated literals, one per line, each within the limit."""
    chunks, chunk = [], ""
    for char in text:
        if width(indent) + width(_quote(chunk + char)) > room:
            chunks.append(chunk)
            chunk = ""
        chunk += char
    chunks.append(chunk)
    return ("\n" + indent).join(_quote(c) for c in chunks)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- finding the sites -------------------------------------------------------------------

def constants(trees: dict[Path, ast.Module]) -> dict[str, str]:
    """Module-level string constants of backend/ (a message given by name)."""
    found: dict[str, str] = {}
    for tree in trees.values():
        for node in tree.body:
            if (isinstance(node, ast.Assign) and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name)
                    and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
                found[node.targets[0].id] = node.value.value
    return found


def find_sites(path: Path, tree: ast.Module) -> list[Site]:
    sites = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        keywords = {k.arg: k.value for k in node.keywords}
        name = node.func.id
        if name == "ApiError":
            args = node.args + [None] * 4
            code_node, message, status_node, details = args[:4]
            code_node = code_node or keywords.get("code")
            message = message or keywords.get("message")
            status_node = status_node or keywords.get("status")
            details = details or keywords.get("details")
            status = 409 if status_node is None else _literal(status_node)
        elif name in HELPERS:
            code_node = keywords.get("code")
            message = node.args[0] if node.args else keywords.get("message")
            details = keywords.get("details")
            status = HELPERS[name][1]
            if code_node is None:
                code_node = ast.Constant(HELPERS[name][0])
        else:
            continue
        code = _literal(code_node)
        literal = isinstance(code, str) and isinstance(status, int)
        if not literal or (message is None and name == "ApiError"):
            print(f"left as is (no literal code/status): {_where(path, node)}", file=sys.stderr)
            continue
        sites.append(Site(path, node, code, status, message, details))
    return sites


def _literal(node: ast.expr | None):
    try:
        return ast.literal_eval(node) if node is not None else None
    except ValueError:
        return None


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT)}:{node.lineno}"


def as_template(message: ast.expr, named: dict[str, str],
                source: str) -> tuple[str, dict[str, str]] | None:
    """An f-string (or a string concatenation) as a str.format template and its fields."""
    if isinstance(message, ast.Constant) and isinstance(message.value, str):
        return message.value.replace("{", "{{").replace("}", "}}"), {}
    if isinstance(message, ast.Name) and message.id in named:
        return named[message.id].replace("{", "{{").replace("}", "}}"), {}
    parts: list[ast.expr]
    if isinstance(message, ast.JoinedStr):
        parts = list(message.values)
    elif isinstance(message, ast.BinOp) and isinstance(message.op, ast.Add):
        parts = _flatten_add(message)
    else:
        return None
    text, fields = "", {}
    for part in parts:
        if isinstance(part, ast.Constant) and isinstance(part.value, str):
            text += part.value.replace("{", "{{").replace("}", "}}")
            continue
        value, conversion, spec = part, -1, ""
        if isinstance(part, ast.FormattedValue):
            value, conversion = part.value, part.conversion
            if part.format_spec is not None:
                if not all(isinstance(v, ast.Constant) for v in part.format_spec.values):
                    return None
                spec = ":" + "".join(v.value for v in part.format_spec.values)
        name = _field_name(value, fields)
        fields[name] = ast.get_source_segment(source, value) or ast.unparse(value)
        text += "{" + name + ("!" + chr(conversion) if conversion != -1 else "") + spec + "}"
    return text, fields


def _flatten_add(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _flatten_add(node.left) + _flatten_add(node.right)
    return [node]


def _field_name(value: ast.expr, taken: dict[str, str]) -> str:
    node, name = value, None
    while name is None:
        if isinstance(node, ast.Name):
            name = node.id
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            name = node.attr
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            name = str(node.slice.value)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            node = node.func.value
        elif isinstance(node, ast.Attribute):
            node = node.value
        else:
            name = "value"
    name = re.sub(r"\W", "_", name).lstrip("_") or "value"
    base, n = name, 2
    while name in taken and taken[name] != ast.unparse(value):
        name, n = f"{base}{n}", n + 1
    return name


# --- rewriting ---------------------------------------------------------------------------

def replacement(site: Site, entry: Entry, source: str) -> str:
    text = _call_text(site, entry, source)
    line = source.splitlines()[site.node.lineno - 1]
    start = len(line.encode()[:site.node.col_offset].decode())
    end_line = source.splitlines()[site.node.end_lineno - 1]
    tail = end_line[len(end_line.encode()[:site.node.end_col_offset].decode()):]
    if width(line[:start]) + width(text) + width(tail) <= 100 or "(" not in text:
        return text
    head, args = text.split("(", 1)
    indent = " " * (len(line) - len(line.lstrip()) + 4)
    if width(indent) + width(args[:-1]) + 1 <= 100:
        return f"{head}(\n{indent}{args[:-1]},\n{indent[:-4]})"
    parts = _split_args(args[:-1])
    return f"{head}(\n" + "".join(f"{indent}{a},\n" for a in parts) + f"{indent[:-4]})"


def _split_args(args: str) -> list[str]:
    """Top-level comma-separated arguments of a call's source text."""
    call = ast.parse(f"f({args})", mode="eval").body
    segment = f"f({args})"
    nodes = list(call.args) + [k for k in call.keywords]
    return [ast.get_source_segment(segment, n) if not isinstance(n, ast.keyword)
            else f"{n.arg}={ast.get_source_segment(segment, n.value)}" for n in nodes]


def _call_text(site: Site, entry: Entry, source: str) -> str:
    details = f"details={ast.get_source_segment(source, site.details)}" if site.details else None
    if site.message is None or site.code in CHOSEN:
        args = [details] if details else []
        return f"{entry.name}({', '.join(args)})"
    if site.template == entry.message:
        args = [f"{k}={v}" for k, v in site.fields.items()] + ([details] if details else [])
        return f"{entry.name}({', '.join(args)})"
    message = ast.get_source_segment(source, site.message)
    return f"{entry.name}.saying({', '.join([message] + ([details] if details else []))})"


def rewrite(path: Path, source: str, edits: list[tuple[ast.Call, str]], names: set[str]) -> str:
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))

    def pos(lineno: int, col: int) -> int:
        # ast columns are UTF-8 byte offsets
        return offsets[lineno - 1] + len(lines[lineno - 1].encode()[:col].decode())

    spans = sorted(((pos(n.lineno, n.col_offset), pos(n.end_lineno, n.end_col_offset), text)
                    for n, text in edits), reverse=True)
    for start, end, text in spans:
        source = source[:start] + text + source[end:]
    return fix_imports(source, names)


def fix_imports(source: str, names: set[str]) -> str:
    tree = ast.parse(source)
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    used |= {n.value.id for n in ast.walk(tree)
             if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)}
    lines = source.splitlines(keepends=True)
    existing: ast.ImportFrom | None = None
    errors_import: ast.ImportFrom | None = None
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "backend.refusals":
            existing = node
        if isinstance(node, ast.ImportFrom) and node.module == "backend.errors":
            errors_import = node
    wanted = set(names)
    if existing is not None:
        wanted |= {a.name for a in existing.names}
    new_line = f"from backend.refusals import {', '.join(sorted(wanted))}\n"
    if len(new_line) > 101:
        new_line = ("from backend.refusals import (\n"
                    + "".join(f"    {n},\n" for n in sorted(wanted)) + ")\n")
    replaced: dict[int, tuple[int, str]] = {}  # first line → (last line, text)
    if errors_import is not None:
        keep = [a.name for a in errors_import.names if a.name in used]
        text = f"from backend.errors import {', '.join(keep)}\n" if keep else ""
        replaced[errors_import.lineno] = (errors_import.end_lineno, text)
    if existing is not None:
        replaced[existing.lineno] = (existing.end_lineno, new_line)
    elif errors_import is not None:
        last, text = replaced[errors_import.lineno]
        replaced[errors_import.lineno] = (last, text + new_line)
    else:
        anchor = max((n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)),
                     key=lambda n: n.end_lineno)
        replaced[anchor.lineno] = (anchor.end_lineno,
                                   "".join(lines[anchor.lineno - 1:anchor.end_lineno]) + new_line)
    out, i = [], 1
    while i <= len(lines):
        if i in replaced:
            last, text = replaced[i]
            out.append(text)
            i = last + 1
        else:
            out.append(lines[i - 1])
            i += 1
    return "".join(out)


def convert(files: list[Path], write: bool) -> list[Path]:
    sources = {p: p.read_text() for p in files}
    trees = {p: ast.parse(sources[p]) for p in files}
    named = constants({p: ast.parse(p.read_text()) for p in BACKEND.rglob("*.py")})
    entries = read_catalogue()
    sites = [s for p in files for s in find_sites(p, trees[p])]
    for site in sites:
        if site.message is not None:
            made = as_template(site.message, named, sources[site.path])
            if made is not None:
                site.template, site.fields = made
    new_entries: dict[str, list[Entry]] = defaultdict(list)
    for site in sorted(sites, key=lambda s: (str(s.path), s.node.lineno)):
        if site.code in entries:
            if entries[site.code].status != site.status:
                sys.exit(f"{_where(site.path, site.node)}: {site.code} answers "
                         f"{site.status}, the catalogue says {entries[site.code].status}")
            continue
        message = CHOSEN.get(site.code) or PREFERRED.get(site.code) or site.template
        if message is None:
            sys.exit(f"{_where(site.path, site.node)}: {site.code} has no message to catalogue;"
                     " give it one in PREFERRED")
        entry = Entry(site.code.upper(), site.code, site.status, message)
        entries[site.code] = entry
        new_entries[site.path.relative_to(BACKEND).parts[0]].append(entry)
    changed = []
    by_file: dict[Path, list[Site]] = defaultdict(list)
    for site in sites:
        by_file[site.path].append(site)
    for path, file_sites in by_file.items():
        source = path.read_text()
        edits = [(s.node, replacement(s, entries[s.code], source)) for s in file_sites]
        names = {entries[s.code].name for s in file_sites}
        new_source = rewrite(path, source, edits, names)
        if new_source != source:
            changed.append(path)
            if write:
                path.write_text(new_source)
    if new_entries:
        changed.append(CATALOGUE)
        if write:
            text = CATALOGUE.read_text().rstrip("\n") + "\n"
            for package in sorted(new_entries):
                text += f"\n# --- {package} ---\n"
                text += "".join(entry_source(e) + "\n" for e in new_entries[package])
            CATALOGUE.write_text(text)
    return changed


# --- documenting the routes --------------------------------------------------------------

# What the app-wide request hooks refuse (backend/common/bodies.py, idempotency.py), by method.
HOOKS = {
    "post": ["BAD_REQUEST", "IDEMPOTENCY_KEY_REUSED", "IDEMPOTENCY_REQUEST_IN_PROGRESS",
             "VALIDATION_ERROR"],
    "put": ["BAD_REQUEST"],
    "patch": ["BAD_REQUEST"],
}
COMMON_METHODS = {"get", "add", "all", "first", "scalar", "scalars", "execute", "commit", "flush",
                  "delete", "append", "update", "items", "values", "keys", "pop", "join", "format",
                  "one", "one_or_none", "filter", "where", "order_by", "limit", "count", "close",
                  "copy", "setdefault", "extend", "strip", "split", "encode", "decode", "read",
                  "write", "send", "run", "load", "dump", "dumps", "loads", "sign", "verify",
                  "now", "replace", "isoformat", "astimezone", "lock", "error", "saying"}


class CallGraph:
    """Which catalogue entries each backend function can raise, through the functions it calls."""

    def __init__(self, files: list[Path], entries: dict[str, Entry]) -> None:
        self.entry_names = {e.name for e in entries.values()}
        self.functions: dict[str, ast.AST] = {}  # module.qualname → node
        self.methods: dict[str, list[str]] = defaultdict(list)  # method name → qualified
        self.module_of: dict[str, str] = {}
        self.imports: dict[str, dict[str, str]] = {}  # module → local name → target
        self.imported_modules: dict[str, set[str]] = {}  # module → modules it imports from
        for path in files:
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            tree = ast.parse(path.read_text())
            self.imports[module] = self._imports(tree, module)
            self.imported_modules[module] = {module} | {
                target.rsplit(".", 1)[0] for target in self.imports[module].values()
            } | set(self.imports[module].values())
            for node in tree.body:
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    self._add(f"{module}.{node.name}", node, module)
                elif isinstance(node, ast.ClassDef):
                    for item in node.body:
                        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                            qualified = f"{module}.{node.name}.{item.name}"
                            self._add(qualified, item, module)
                            self.methods[item.name].append(qualified)
        self.memo: dict[str, set[str]] = {}

    def _add(self, qualified: str, node: ast.AST, module: str) -> None:
        self.functions[qualified] = node
        self.module_of[qualified] = module

    @staticmethod
    def _imports(tree: ast.Module, module: str) -> dict[str, str]:
        found = {}
        package = module.rsplit(".", 1)[0]
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                    + ([node.module] if node.module else []))
                for alias in node.names:
                    found[alias.asname or alias.name] = f"{base}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    found[alias.asname or alias.name] = alias.name
        return found

    def raised(self, qualified: str, stack: frozenset[str] = frozenset()) -> set[str]:
        if qualified in self.memo:
            return self.memo[qualified]
        if qualified in stack or qualified not in self.functions:
            return set()
        module = self.module_of[qualified]
        found: set[str] = set()
        for node in ast.walk(self.functions[qualified]):
            if isinstance(node, ast.Name) and self.imports[module].get(node.id, "").startswith(
                    "backend.refusals.") and node.id in self.entry_names:
                found.add(node.id)
            if isinstance(node, ast.Call):
                for target in self.callees(node, module, qualified):
                    found |= self.raised(target, stack | {qualified})
        self.memo[qualified] = found
        return found

    def callees(self, call: ast.Call, module: str, caller: str) -> list[str]:
        """What ``call`` runs: its function, and the functions handed to it as arguments
        (``checked_first(require_x, "cid")`` runs ``require_x``)."""
        handed = [arg for arg in call.args if isinstance(arg, ast.Name | ast.Attribute)]
        return [target for func in (call.func, *handed)
                for target in self._targets(func, module, caller)]

    def _targets(self, func: ast.expr, module: str, caller: str) -> list[str]:
        imports = self.imports[module]
        if isinstance(func, ast.Name):
            local = f"{module}.{func.id}"
            if local in self.functions:
                return [local]
            target = imports.get(func.id, "")
            return [target] if target in self.functions else []
        if isinstance(func, ast.Attribute):
            if isinstance(func.value, ast.Name):
                base = imports.get(func.value.id)
                if base and f"{base}.{func.attr}" in self.functions:
                    return [f"{base}.{func.attr}"]
                if func.value.id in {"self", "cls"}:
                    owner = caller.rsplit(".", 1)[0]
                    if f"{owner}.{func.attr}" in self.functions:
                        return [f"{owner}.{func.attr}"]
                klass = imports.get(func.value.id) or f"{module}.{func.value.id}"
                if f"{klass}.{func.attr}" in self.functions:
                    return [f"{klass}.{func.attr}"]
            if func.attr not in COMMON_METHODS:
                # obj.method(): a method of a class from a module the caller imports from
                return [q for q in self.methods.get(func.attr, [])
                        if self.module_of[q] in self.imported_modules[module]]
        return []


def document_routes(write: bool) -> list[Path]:
    files = [p for p in sorted(BACKEND.rglob("*.py")) if p.name != "refusals.py"]
    graph = CallGraph(files, read_catalogue())
    changed = []
    for path in sorted(BACKEND.glob("*/*routes.py")):
        source = path.read_text()
        new_source = _decorate(path, source, graph)
        if new_source != source:
            changed.append(path)
            if write:
                path.write_text(new_source)
    return changed


def _decorate(path: Path, source: str, graph: CallGraph) -> str:
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    views: list[tuple[ast.FunctionDef, str, list[str]]] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and _is_route(node):
            views.append((node, f"{module}.{node.name}", _methods(node)))
        if isinstance(node, ast.ClassDef) and _is_route(node):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name in {
                        "get", "post", "put", "patch", "delete"}:
                    views.append((item, f"{module}.{node.name}.{item.name}", [item.name]))
    refused = {q: graph.raised(q) | {h for m in methods for h in HOOKS.get(m, [])}
               | _decorators_raise(view, module, graph) for view, q, methods in views}
    edits: dict[int, tuple[int, str | None]] = {}  # line index → (lines to drop, insert)
    for view, qualified, _ in views:
        names = sorted(refused[qualified])
        indent = " " * view.col_offset
        decorator = f"{indent}@refuses({', '.join(names)})\n"
        if len(decorator) > 101:
            decorator = (f"{indent}@refuses(\n" + "".join(f"{indent}    {n},\n" for n in names)
                         + f"{indent})\n")
        old = [d for d in view.decorator_list if isinstance(d, ast.Call)
               and isinstance(d.func, ast.Name) and d.func.id == "refuses"]
        if old:
            edits[old[0].lineno - 1] = (old[0].end_lineno - old[0].lineno + 1, decorator)
        else:
            # right above the def, below the blueprint's decorators
            edits[view.lineno - 1] = (0, decorator)
    out = []
    i = 0
    while i < len(lines):
        if i in edits:
            drop, text = edits[i]
            if drop == 0:
                out.append(text)
                out.append(lines[i])
                i += 1
            else:
                out.append(text)
                i += drop
        else:
            out.append(lines[i])
            i += 1
    new_source = "".join(out)
    if new_source != source:
        used = {n for names in refused.values() for n in names}
        new_source = _route_imports(new_source, used)
    return new_source


def _decorators_raise(view: ast.FunctionDef, module: str, graph: CallGraph) -> set[str]:
    """What the view's own decorators (``@staff_only`` …) refuse."""
    found: set[str] = set()
    for decorator in view.decorator_list:
        targets = (graph.callees(decorator, module, module) if isinstance(decorator, ast.Call)
                   else graph._targets(decorator, module, module))
        for target in targets:
            found |= graph.raised(target)
    return found


def _methods(view: ast.FunctionDef) -> list[str]:
    for decorator in view.decorator_list:
        if (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)
                and decorator.func.attr == "route"):
            for keyword in decorator.keywords:
                if keyword.arg == "methods":
                    return [m.lower() for m in ast.literal_eval(keyword.value)]
    return ["get"]


def _is_route(node: ast.FunctionDef | ast.ClassDef) -> bool:
    return any(isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute)
               and d.func.attr == "route" for d in node.decorator_list)


def _route_imports(source: str, names: set[str]) -> str:
    tree = ast.parse(source)
    has_refuses = any(isinstance(n, ast.ImportFrom) and n.module == "backend.common.api"
                      and any(a.name == "refuses" for a in n.names) for n in tree.body)
    if not has_refuses:
        anchor = max((n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)),
                     key=lambda n: n.end_lineno)
        lines = source.splitlines(keepends=True)
        lines.insert(anchor.end_lineno, "from backend.common.api import refuses\n")
        source = "".join(lines)
    return fix_imports(source, names) if names else source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 on changes")
    parser.add_argument("--exclude", action="append", default=[], help="a file to leave alone")
    parser.add_argument("--no-routes", action="store_true", help="leave the routes' @refuses")
    args = parser.parse_args()
    skip = SKIP_FILES | set(args.exclude)
    files = [p for p in sorted(BACKEND.rglob("*.py"))
             if str(p.relative_to(ROOT)) not in skip]
    changed = convert(files, write=not args.check)
    if not args.no_routes:
        changed += document_routes(write=not args.check)
    changed = sorted(set(changed))
    if changed and not args.check:
        # import order as ruff wants it, in the files this run touched only
        subprocess.run([sys.executable, "-m", "ruff", "check", "--quiet", "--fix",
                        "--select", "I001,F401", *map(str, changed)], cwd=ROOT, check=False)
    for path in changed:
        print(("would change " if args.check else "changed ") + str(path.relative_to(ROOT)))
    if args.check and changed:
        sys.exit(1)


if __name__ == "__main__":
    main()
