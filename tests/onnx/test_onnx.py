"""ONNX export (``ournn.onnx.export``), checked by ``onnx.checker`` (full check) and by running
the exported file in onnxruntime: its outputs must agree with ournn's to 1e-5, on real MNIST
images, at batch 1 and 64 from one file (the batch axis is symbolic)."""
import io
import sys

import numpy as np
import pytest

import ournn
from ournn import nn
from ournn.models import get_model, list_models

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from ournn.onnx import ExportError, export  # noqa: E402

TOL = 1e-5


@pytest.fixture(scope="module")
def images():
    from ournn.data import MNIST
    try:
        ds = MNIST(train=False, download=False)
    except Exception as e:       # pragma: no cover - only without ../shared/data
        pytest.skip(f"the real MNIST files are not here ({e})")
    x, _ = ds.arrays(normalize=True)
    return np.ascontiguousarray(x[:64].reshape(64, 1, 28, 28), dtype=np.float32)


def run_onnx(path, feeds):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def ournn_outputs(model, *xs):
    with ournn.no_grad():
        out = model(*[ournn.tensor(x) for x in xs])
    return [t._data for t in ournn.tracing.tensors(out)]


def check(model, example, tmp_path, batches=(1, 64), data=None, name="m", **kwargs):
    """Export ``model`` with ``example`` (arrays), check the file, run it at each batch size;
    returns {batch: max abs difference}."""
    model.eval()
    example = example if isinstance(example, tuple) else (example,)
    path = tmp_path / f"{name}.onnx"
    export(model, tuple(ournn.tensor(x) for x in example), str(path), **kwargs)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    names = [i.name for i in proto.graph.input]
    data = example if data is None else (data if isinstance(data, tuple) else (data,))
    diffs = {}
    for b in batches:
        xs = [d[:b] for d in data]
        want = ournn_outputs(model, *xs)
        got = run_onnx(path, dict(zip(names, xs)))
        assert len(got) == len(want)
        diff = max(float(np.abs(w - g_).max()) for w, g_ in zip(want, got))
        for w, g_ in zip(want, got):
            assert w.shape == g_.shape
        assert diff <= TOL, f"batch {b}: max abs difference {diff}"
        diffs[b] = diff
    return diffs


def randomize_batchnorm(model):
    """Running statistics away from (0, 1), and weights away from (1, 0)."""
    rng = np.random.default_rng(1)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            c = m.running_mean.shape[0]
            m.running_mean[...] = rng.normal(0, 0.5, c)
            m.running_var[...] = rng.uniform(0.5, 2, c)
            m.weight._data[...] = rng.uniform(0.5, 1.5, c)
            m.bias._data[...] = rng.normal(0, 0.2, c)


# ---------------------------------------------------------------- the zoo
@pytest.mark.parametrize("name", list_models())
def test_zoo_model_agrees_in_onnxruntime(name, images, tmp_path):
    from ournn.models import SEQUENCE_MODELS
    model = get_model(name)
    randomize_batchnorm(model)
    if name in SEQUENCE_MODELS:
        # a language model: characters (batch, time) -> (logits, (h, c))
        tokens = (images.reshape(64, -1)[:, 200:232] * 40 % 80).astype(np.int64)
        tokens = np.abs(tokens) % 80
        check(model, tokens[:1], tmp_path, data=tokens)
    else:
        check(model, images[:1], tmp_path, data=images)


def test_zoo_names_parameters_as_initializers(images, tmp_path):
    model = get_model("cnn")           # in training mode: exported as in eval, mode kept
    path = tmp_path / "cnn.onnx"
    export(model, ournn.tensor(images[:2]), str(path))
    assert model.training
    proto = onnx.load(str(path))
    inits = {i.name for i in proto.graph.initializer}
    assert {n for n, _ in model.named_parameters()} <= inits
    assert "1.running_mean" in inits and "1.running_var" in inits
    types = [n.op_type for n in proto.graph.node]
    assert "BatchNormalization" in types and "Dropout" not in types
    dim = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert dim.dim_param == "batch"
    assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"


# ---------------------------------------------------------------- subclassed models
class Residual(nn.Module):
    """conv -> BN -> ReLU, two residual blocks (x + f(x)), global pooling, a linear head."""

    def __init__(self, width=8):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.BatchNorm2d(width),
                                  nn.ReLU())
        self.block1 = nn.Sequential(nn.Conv2d(width, width, 3, padding=1),
                                    nn.BatchNorm2d(width), nn.ReLU(),
                                    nn.Conv2d(width, width, 3, padding=1))
        self.pool = nn.MaxPool2d(2)
        self.block2 = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.GELU())
        self.head = nn.Linear(width, 10)

    def forward(self, x):
        x = self.stem(x)
        x = nn.functional.relu(x + self.block1(x))
        x = self.pool(x)
        x = x + self.block2(x) * 0.5
        x = nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.head(x).log_softmax(dim=-1)


@pytest.mark.parametrize("fold", [True, False])
def test_residual_model(fold, images, tmp_path):
    model = Residual()
    randomize_batchnorm(model)
    check(model, images[:1], tmp_path, data=images, do_constant_folding=fold)


class LSTMClassifier(nn.Module):
    """MNIST rows as a sequence: 28 steps of 28 pixels, the last hidden state -> 10 classes."""

    def __init__(self, hidden=32, num_layers=1, bidirectional=False, cell=nn.LSTM):
        super().__init__()
        self.rnn = cell(28, hidden, num_layers=num_layers, batch_first=True,
                        bidirectional=bidirectional)
        self.fc = nn.Linear(hidden * (2 if bidirectional else 1), 10)

    def forward(self, x):
        out, _ = self.rnn(x.reshape(x.shape[0], 28, 28))
        return self.fc(out[:, -1])


@pytest.mark.parametrize("kind", ["lstm", "lstm2-bi", "gru", "rnn"])
def test_recurrent_classifier(kind, images, tmp_path):
    model = {"lstm": lambda: LSTMClassifier(),
             "lstm2-bi": lambda: LSTMClassifier(num_layers=2, bidirectional=True),
             "gru": lambda: LSTMClassifier(cell=nn.GRU),
             "rnn": lambda: LSTMClassifier(cell=nn.RNN)}[kind]()
    check(model, images[:1], tmp_path, data=images)


# ---------------------------------------------------------------- op coverage
class Ops(nn.Module):
    """Many ops between layers, on (N, 1, 28, 28)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, stride=2, padding=1)
        self.avg = nn.AvgPool2d(3, stride=2, padding=1)
        self.ln = nn.LayerNorm(7)
        self.gn = nn.GroupNorm(2, 4)
        self.lin = nn.Linear(7, 5)
        self.acts = nn.ModuleList([nn.LeakyReLU(0.1), nn.Sigmoid(), nn.Tanh(), nn.SiLU(),
                                   nn.ELU(), nn.Softplus(), nn.Hardtanh(), nn.Hardswish(),
                                   nn.Hardsigmoid(), nn.GELU(approximate="tanh"), nn.ReLU6()])

    def forward(self, x):
        x = self.avg(self.conv(x))                  # (N, 4, 7, 7)
        x = self.gn(x)
        x = self.ln(x)
        for act in self.acts:
            x = x + 0.1 * act(x)
        y = self.lin(x)                              # Linear on 4-D: MatMul + Add
        a, b = ournn.split(y, [2, 3], dim=-1)
        z = ournn.cat([b, a.exp(), (a.abs() + 1).log().sqrt()], dim=-1)
        z = ournn.nn.functional.pad(z, (1, 1))
        z = z.permute(0, 2, 1, 3)[:, 1:6, ::2]
        z = z.clamp(-2, 2) - z.mean(dim=(1, 2), keepdim=True)
        s = z.sum(dim=-1) / (z.amax(dim=-1) - z.amin(dim=-1) + 1)
        s = ournn.maximum(s, -s) ** 2 + ournn.minimum(s, s * 0.5)
        s = s.unsqueeze(1).squeeze(1).reshape(s.shape[0], -1)
        return s.softmax(dim=-1), -z.flatten(1)


def test_op_coverage(images, tmp_path):
    check(Ops(), images[:1], tmp_path, data=images)


class MoreOps(nn.Module):
    """The rest of the activations, the reductions and the shape ops, on (N, 1, 28, 28)."""

    def __init__(self):
        super().__init__()
        self.conv1d = nn.Conv1d(28, 6, 3, padding=1)
        self.prelu = nn.PReLU(6)
        self.acts = nn.ModuleList([nn.Mish(), nn.Softsign(), nn.LogSigmoid(), nn.Tanhshrink(),
                                   nn.SELU(), nn.CELU(0.5), nn.Threshold(0.1, -0.2),
                                   nn.Softplus(beta=2.0), nn.GELU()])
        self.glu = nn.GLU(dim=1)
        mask = np.tril(np.ones((28, 28), dtype=bool))
        self.mask = ournn.tensor(mask)

    def forward(self, x):
        s = x.reshape(x.shape[0], 28, 28)
        s = ournn.where(self.mask, s, s * 0.5)                  # a constant condition
        y = self.prelu(self.conv1d(s.transpose(1, 2)))          # (N, 6, 28)
        for act in self.acts:
            y = y + 0.1 * act(y)
        y = self.glu(y)                                          # (N, 3, 28)
        v = y.var(dim=-1, keepdim=True) + y.std(dim=-1, keepdim=True)
        st = ournn.stack([y, y.double().float() * 2], dim=1)    # (N, 2, 3, 28)
        p = nn.functional.adaptive_avg_pool2d(st, (1, 2)).flatten(1)
        q = nn.functional.adaptive_max_pool2d(st, 1).flatten(1)
        r = st.flip(-1)[:, :, 0, :4].log_softmax(dim=1).flatten(1)
        return ournn.cat([p, q, r, v.flatten(1), y.prod(dim=1)[:, :3].log1p()], dim=1)


def test_more_op_coverage(images, tmp_path):
    check(MoreOps(), images[:1], tmp_path, data=images)


def test_value_computed_outside_the_ops_is_refused(images):
    class Gate(nn.Module):
        def forward(self, x):
            return ournn.where(x > 0, x, x * 0.1)     # the comparison is not an op

    with pytest.raises(ExportError, match="outside the ops"):
        export(Gate(), ournn.tensor(images[:1]), io.BytesIO())


def test_embedding_gru_language_model(tmp_path):
    class Tagger(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(50, 16)
            self.gru = nn.GRU(16, 24, batch_first=True)
            self.out = nn.Linear(24, 5)

        def forward(self, tokens):
            h, _ = self.gru(self.embed(tokens))
            return self.out(h)

    tokens = np.random.default_rng(0).integers(0, 50, (64, 12)).astype(np.int64)
    check(Tagger(), tokens[:1], tmp_path, data=tokens)


@pytest.mark.parametrize("opset", [13, 17, 20])
def test_opsets(opset, images, tmp_path):
    if opset > onnx.defs.onnx_opset_version():
        pytest.skip("onnx too old for this opset")
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.GELU(), nn.LayerNorm([4, 26, 26]),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10),
                          nn.LogSoftmax(dim=1))
    check(model, images[:1], tmp_path, data=images, opset_version=opset)
    proto = onnx.load(str(tmp_path / "m.onnx"))
    types = {n.op_type for n in proto.graph.node}
    assert ("Gelu" in types) == (opset >= 20)
    assert "GlobalAveragePool" in types


def test_conv_transpose_and_upsample(images, tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 3, 3, stride=2, padding=1),
                          nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1),
                          nn.Upsample(scale_factor=2), nn.MaxPool2d(3, stride=2, padding=1))
    check(model, images[:1], tmp_path, data=images)


def test_attention(images, tmp_path):
    class Attend(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = nn.MultiheadAttention(28, 4, batch_first=True)
            self.fc = nn.Linear(28, 10)

        def forward(self, x):
            s = x.reshape(x.shape[0], 28, 28)
            out, _ = self.attn(s, s, s, need_weights=False)
            return self.fc(out.mean(dim=1))
    check(Attend(), images[:1], tmp_path, data=images)


def test_max_min_over_a_dim_chunk_interpolate_causal_attention(images, tmp_path):
    class M(nn.Module):
        def forward(self, x):
            x = nn.functional.avg_pool2d(x, 2)                        # (N, 1, 14, 14)
            a, b = x.chunk(2, dim=-1)
            v, _ = x.max(dim=2)                                        # argmax -> ReduceMax
            w = x.min(dim=-1, keepdim=True).values
            up = nn.functional.interpolate(a, scale_factor=2, mode="bilinear",
                                           align_corners=False)
            att = nn.functional.scaled_dot_product_attention(a, b, b, is_causal=True)
            return up, v, w, att

    check(M(), images[:1], tmp_path, data=images)


# ---------------------------------------------------------------- the interface
def test_file_object_static_shapes_and_names(images, tmp_path):
    model = get_model("lenet5").eval()
    buf = io.BytesIO()
    export(model, (ournn.tensor(images[:4]),), buf, input_names=["pixels"],
           output_names=["logits"], dynamic_axes={})
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto, full_check=True)
    assert [i.name for i in proto.graph.input] == ["pixels"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 4
    path = tmp_path / "s.onnx"
    path.write_bytes(buf.getvalue())
    got = run_onnx(path, {"pixels": images[:4]})[0]
    np.testing.assert_allclose(got, ournn_outputs(model, images[:4])[0], atol=TOL)


def test_named_dynamic_axes(images, tmp_path):
    model = get_model("mlp").eval()
    path = tmp_path / "d.onnx"
    export(model, ournn.tensor(images[:2]), str(path), input_names=["x"],
           output_names=["y"], dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})
    proto = onnx.load(str(path))
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "n"
    assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "n"
    got = run_onnx(path, {"x": images[:5]})[0]
    np.testing.assert_allclose(got, ournn_outputs(model, images[:5])[0], atol=TOL)


def test_export_params_false_makes_parameters_inputs(images, tmp_path):
    model = get_model("mlp").eval()
    path = tmp_path / "p.onnx"
    export(model, ournn.tensor(images[:1]), str(path), export_params=False)
    proto = onnx.load(str(path))
    assert not proto.graph.initializer or all(
        i.name not in dict(model.named_parameters()) for i in proto.graph.initializer)
    assert "1.weight" in [i.name for i in proto.graph.input]


def test_unmapped_op_names_op_and_module(images):
    class Odd(nn.Module):
        def forward(self, x):
            return ournn.cumprod(x.flatten(1), dim=1)

    model = nn.Sequential(nn.Flatten(), Odd())
    with pytest.raises(ExportError, match=r"Cumprod.*module 1 \(Odd\).*no ONNX mapping"):
        export(model, ournn.tensor(images[:1]), io.BytesIO())


def test_missing_onnx_says_how_to_install(monkeypatch, images):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"pip install 'ournn\[onnx\]'"):
        export(get_model("mlp"), ournn.tensor(images[:1]), io.BytesIO())
