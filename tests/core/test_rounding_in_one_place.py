"""Decimals are rounded in one place, ``syaga.core.money.quantize``: one rule (half-up) everywhere."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("syaga", "invoicing", "banking", "timetracking", "mailbox", "reconciliation")
THE_ONE_PLACE = ROOT / "syaga" / "core" / "money.py"
ROUNDING_METHODS = {"quantize", "to_integral", "to_integral_value", "to_integral_exact"}


def _rounding(node: ast.AST) -> str | None:
    """What rounds here: ``x.quantize()``, ``x.to_integral_value()``, ``round()``, a ``ROUND_*`` mode."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return f".{node.func.attr}()" if node.func.attr in ROUNDING_METHODS else None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return "round()" if node.func.id == "round" else None
    name = {ast.Name: "id", ast.Attribute: "attr", ast.alias: "name"}.get(type(node))
    if name and getattr(node, name).startswith("ROUND_"):
        return getattr(node, name)
    return None


def test_no_decimal_is_rounded_outside_quantize():
    # given every module of the apps but money.py
    modules = [
        path
        for app in APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        if path != THE_ONE_PLACE and "migrations" not in path.parts
    ]
    # when
    roundings = [
        f"{path.relative_to(ROOT)}:{node.lineno}: {what}"
        for path in modules
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if (what := _rounding(node))
    ]
    # then
    assert modules
    assert not roundings, "round through syaga.core.money.quantize (exp=...):\n" + "\n".join(roundings)
