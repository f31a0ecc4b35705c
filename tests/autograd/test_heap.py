"""ournn.autograd.heap: glibc's malloc set, once, to recycle freed arrays; nothing elsewhere."""
import os
import subprocess
import sys

from ournn.autograd import heap


def test_applied_once_and_answers_the_same_again():
    first = heap.keep_freed_memory()
    assert isinstance(first, bool)
    assert heap.keep_freed_memory() is first
    if heap._glibc() and os.environ.get("OURNN_KEEP_FREED_MEMORY", "1") != "0":
        assert first


def test_switched_off_by_the_environment_variable():
    code = "from ournn.autograd import heap; print(heap.keep_freed_memory())"
    env = dict(os.environ, OURNN_KEEP_FREED_MEMORY="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
