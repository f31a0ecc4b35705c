"""The names of the checks in mpi_checks.py (read without running it: it starts MPI)."""
import ast
from pathlib import Path

_tree = ast.parse((Path(__file__).with_name("mpi_checks.py")).read_text())
NAMES = [f.name[len("check_"):] for f in _tree.body
         if isinstance(f, ast.FunctionDef) and f.name.startswith("check_")]
