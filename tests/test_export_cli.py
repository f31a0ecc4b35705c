"""``ournn export --ckpt RUN/best.ckpt OUT.safetensors | OUT.onnx``: the weights for PyTorch
(checked with ``safetensors.torch`` and a PyTorch twin of the model, on real MNIST images)
and the graph for onnxruntime; its flags checked like the other commands'."""
import sys

import numpy as np
import pytest

import ournn
from ournn.cli import main
from ournn.data import MNIST
from ournn.models import get_model

try:
    import safetensors.torch as st_torch
    import torch
except ImportError:
    st_torch = torch = None
try:
    import onnx  # noqa: F401
    import onnxruntime
except ImportError:
    onnxruntime = None

needs_torch = pytest.mark.skipif(st_torch is None, reason="needs PyTorch and safetensors")
needs_ort = pytest.mark.skipif(onnxruntime is None, reason="needs pip install 'ournn[onnx]'")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A checkpoint of `ournn train` (the MLP, one epoch on 512 images)."""
    out = tmp_path_factory.mktemp("export") / "mlp"
    assert main(["train", "--model", "mlp", "--epochs", "1", "--limit", "512", "--out",
                 str(out), "--verbose", "0", "--seed", "3"]) == 0
    return out


@pytest.fixture(scope="module")
def cnn_ckpt(tmp_path_factory):
    """A saved zoo CNN whose BatchNorm statistics have moved (a few training steps)."""
    model = get_model("cnn")
    x = images(64)
    opt = ournn.optim.SGD(model.parameters(), lr=0.01)
    for i in range(3):
        loss = ournn.nn.functional.cross_entropy(model(x), ournn.tensor(np.arange(64) % 10))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    path = tmp_path_factory.mktemp("cnn") / "cnn.ckpt"
    ournn.save(model, path)
    return path


def images(n=64):
    x, _ = MNIST(train=False).arrays()
    return x[:n]


def _torch_twin(model):
    """The same Sequential, built in PyTorch from the ournn layers' settings."""
    layers = []
    for m in model.children():
        kind = type(m).__name__
        if kind == "Linear":
            layers.append(torch.nn.Linear(m.in_features, m.out_features, bias=m.bias is not None))
        elif kind == "Conv2d":
            layers.append(torch.nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size,
                                          m.stride, m.padding, bias=m.bias is not None))
        elif kind in ("BatchNorm1d", "BatchNorm2d"):
            layers.append(getattr(torch.nn, kind)(m.num_features, eps=m.eps))
        elif kind == "MaxPool2d":
            layers.append(torch.nn.MaxPool2d(m.kernel_size, m.stride, m.padding))
        elif kind == "Dropout":
            layers.append(torch.nn.Dropout(m.p))
        else:
            layers.append(getattr(torch.nn, kind)())
    return torch.nn.Sequential(*layers).eval()


def _ournn_outputs(ckpt, x):
    from ournn.train.checkpoints import load_model
    model, _ = load_model(str(ckpt))
    with ournn.no_grad():
        return model, model(ournn.tensor(x)).numpy()


@needs_torch
@pytest.mark.parametrize("which", ["mlp", "cnn"])
def test_safetensors_export_loads_strictly_into_pytorch_and_agrees(which, run, cnn_ckpt,
                                                                   tmp_path, capsys):
    ckpt = run / "best.ckpt" if which == "mlp" else cnn_ckpt
    out = tmp_path / "weights.safetensors"
    assert main(["export", "--ckpt", str(ckpt), str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    x = images(64)
    model, ours = _ournn_outputs(ckpt, x)
    twin = _torch_twin(model)
    twin.load_state_dict(st_torch.load_file(str(out)), strict=True)
    with torch.no_grad():
        theirs = twin(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
    assert (ours.argmax(1) == theirs.argmax(1)).all()
    # the weights alone: no optimizer or loader state, no architecture
    assert set(ournn.load(out)) == set(model.state_dict())


@needs_ort
@pytest.mark.parametrize("which", ["mlp", "cnn"])
def test_onnx_export_runs_in_onnxruntime_and_agrees(which, run, cnn_ckpt, tmp_path):
    ckpt = run / "best.ckpt" if which == "mlp" else cnn_ckpt
    out = tmp_path / "model.onnx"
    # a saved model does not say its input shape (a checkpoint of `ournn train` does)
    shape = [] if which == "mlp" else ["--input", "1,28,28"]
    assert main(["export", "--ckpt", str(ckpt), "--format", "onnx", *shape, str(out)]) == 0
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    for n in (1, 64):                            # the batch is symbolic
        x = images(n)
        _, ours = _ournn_outputs(ckpt, x)
        (theirs,) = session.run(None, {name: x})
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("argv, match", [
    (["--format", "onnx", "m.safetensors"], "--format onnx but 'm.safetensors'"),
    (["--format", "safetensors", "m.onnx"], "--format safetensors but"),
    (["m.bin"], "give --format safetensors or onnx"),
    (["--input", "1,28,28", "m.safetensors"], "--input and --opset apply to --format onnx"),
    (["--opset", "7", "m.onnx"], "argument --opset"),
    (["--input", "0,28", "m.onnx"], "argument --input"),
    (["--format", "pdf", "m.pdf"], "argument --format"),
    (["--format", "onnx", "m\n.onnx"], "control character"),
])
def test_bad_flags_are_one_usage_line(argv, match, run, capsys):
    with pytest.raises(SystemExit) as e:
        main(["export", "--ckpt", str(run / "best.ckpt"), *argv])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1


def test_a_folder_as_out_is_a_usage_error(run, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["export", "--ckpt", str(run / "best.ckpt"), "--format", "safetensors",
              str(tmp_path)])
    assert e.value.code == 2 and "folder" in capsys.readouterr().err


def test_missing_flags_are_usage_errors(capsys):
    for argv in (["export", "m.onnx"], ["export", "--ckpt", "x.ckpt"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2
        assert capsys.readouterr().err.count("\n") == 1


def test_a_saved_model_without_its_input_shape_needs_input(cnn_ckpt, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["export", "--ckpt", str(cnn_ckpt), str(tmp_path / "m.onnx")])
    assert e.value.code == 2 and "give --input" in capsys.readouterr().err


def test_checkpoint_problems_are_one_line_exit_1(tmp_path, capsys):
    assert main(["export", "--ckpt", str(tmp_path / "missing.ckpt"), "m.onnx"]) == 1
    assert "no such checkpoint" in capsys.readouterr().err
    ournn.save(get_model("mlp").state_dict(), tmp_path / "sd.ckpt")   # no architecture
    assert main(["export", "--ckpt", str(tmp_path / "sd.ckpt"),
                 str(tmp_path / "o.safetensors")]) == 1
    err = capsys.readouterr().err
    assert "holds no model" in err and err.count("\n") == 1
    assert not (tmp_path / "o.safetensors").exists()


def test_onnx_without_the_package_is_one_line(run, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnx", None)
    out = tmp_path / "m.onnx"
    assert main(["export", "--ckpt", str(run / "best.ckpt"), str(out)]) == 1
    err = capsys.readouterr().err
    assert "pip install 'ournn[onnx]'" in err and err.count("\n") == 1
    assert not out.exists() and list(tmp_path.iterdir()) == []    # no partial file left


def test_safetensors_export_needs_no_optional_package(run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "safetensors", None)
    out = tmp_path / "w.safetensors"
    assert main(["export", "--ckpt", str(run / "best.ckpt"), str(out)]) == 0
    from ournn.train.checkpoints import load_model
    model, _ = load_model(str(run / "best.ckpt"))
    back = ournn.load(out, tensors=False)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(back[k], v.numpy())
