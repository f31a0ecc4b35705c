"""The examples run and show what they promise."""
import pathlib
import runpy
import subprocess
import sys

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def test_xor_example_learns_gates_and_xor_needs_hidden_layer():
    ns = runpy.run_path(str(EXAMPLES / "xor.py"))
    results = ns["main"](steps=600)
    for gate in ("AND", "OR", "NAND"):
        assert results[("perceptron", gate)], gate
    assert not results[("perceptron", "XOR")]      # not linearly separable
    assert results[("mlp", "XOR")]


def test_custom_op_example_runs():
    out = subprocess.run([sys.executable, str(EXAMPLES / "custom_op.py")], capture_output=True,
                         text=True, check=True)
    assert "gradcheck passed" in out.stdout
