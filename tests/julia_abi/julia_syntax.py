#!/usr/bin/env python3
"""Fails on any syntax error in the Julia package and examples, using tree-sitter's Julia grammar
(for machines without julia; `Pkg.test()` is the full check where julia exists)."""

import sys
from pathlib import Path

import tree_sitter_julia
from tree_sitter import Language, Parser

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted((ROOT / "bindings" / "julia").rglob("*.jl")) + sorted((ROOT / "examples" / "julia").glob("*.jl"))


def errors(node):
    if node.type == "ERROR" or node.is_missing:
        yield node
    else:
        for child in node.children:
            yield from errors(child)


def main():
    parser = Parser(Language(tree_sitter_julia.language()))
    failed = 0
    for path in FILES:
        for node in errors(parser.parse(path.read_bytes()).root_node):
            line, column = node.start_point
            what = f"missing {node.type}" if node.is_missing else "syntax error"
            print(f"{path.relative_to(ROOT)}:{line + 1}:{column + 1}: {what}: {node.text[:60]!r}", file=sys.stderr)
            failed += 1
    if failed or not FILES:
        sys.exit(f"{failed} Julia syntax error(s)" if FILES else "no Julia files found")
    print(f"Julia syntax: {len(FILES)} files parse cleanly")


if __name__ == "__main__":
    main()
