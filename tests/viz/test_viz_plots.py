"""ournn.viz.plots and ournn.viz.diagnostics: every picture is a valid image file, and the data
drawn in the returned Figure is the data it was given (checked by reading the artists back)."""
import json
import os
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import numpy as np
import pytest

import ournn
from ournn import nn
from ournn.data import MNIST
from ournn.optim import lr_scheduler
from ournn.train import LRSchedulerCallback

pytest.importorskip("matplotlib")
Image = pytest.importorskip("PIL.Image")

from ournn.viz import plots
from ournn.viz.diagnostics import GradientNormLogger, plot_gradient_norms


# ---------------------------------------------------------------- shared data
@pytest.fixture(scope="module")
def run():
    """A small MLP trained briefly on an MNIST slice, with a per-step LR schedule and a
    gradient-norm logger: real histories, real mistakes."""
    ournn.manual_seed(0)
    images, labels = MNIST(train=False).arrays()  # the smaller file: quicker to decode
    x, y, tx, ty = images[400:1400], labels[400:1400], images[:400], labels[:400]
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))
    optimizer = ournn.optim.Adam(model.parameters(), lr=3e-3)
    schedule = lr_scheduler.StepLR(optimizer, step_size=20, gamma=0.5)
    logger = GradientNormLogger()
    history = model.fit((x, y), epochs=3, batch_size=50, optimizer=optimizer,
                        validation_data=(tx, ty), verbose=0,
                        callbacks=[logger, LRSchedulerCallback(schedule, interval="step")])
    return SimpleNamespace(model=model, history=history, logger=logger, tx=tx, ty=ty,
                           logits=model.predict(tx), classes=list(MNIST.classes))


def check_png(path):
    with Image.open(path) as image:
        assert image.format == "PNG"
        width, height = image.size
        image.load()
    assert 300 < width < 5000 and 200 < height < 5000, image.size
    return width, height


def axes_titled(fig, title):
    found = [ax for ax in fig.axes if ax.get_visible() and ax.get_title().startswith(title)]
    assert len(found) == 1, [ax.get_title() for ax in fig.axes]
    return found[0]


def line(ax, label):
    found = [ln for ln in ax.get_lines() if ln.get_label().startswith(label)]
    assert len(found) == 1, [ln.get_label() for ln in ax.get_lines()]
    return found[0]


# ---------------------------------------------------------------- learning curves
def test_plot_history_draws_the_history(run, tmp_path):
    h = run.history
    fig = plots.plot_history(h, tmp_path / "curves.png")
    check_png(tmp_path / "curves.png")

    loss = axes_titled(fig, "Loss per epoch")
    assert np.allclose(line(loss, "train").get_xdata(), h.epoch)
    assert np.allclose(line(loss, "train").get_ydata(), h.history["loss"])
    assert np.allclose(line(loss, "validation").get_ydata(), h.history["val_loss"])
    acc = axes_titled(fig, "Accuracy per epoch")
    assert np.allclose(line(acc, "train").get_ydata(), h.history["accuracy"])
    val = line(acc, "validation")
    assert np.allclose(val.get_ydata(), h.history["val_accuracy"])
    assert f"{max(h.history['val_accuracy']):.2%}" in val.get_label()

    steps = axes_titled(fig, "Training loss per step")
    assert np.allclose(line(steps, "loss per step").get_ydata(), h.steps["loss"])
    assert np.allclose(line(steps, "smoothed").get_ydata(),
                       plots.exponential_moving_average(h.steps["loss"], 0.9))
    lr = axes_titled(fig, "Learning rate per step")
    assert np.allclose(lr.get_lines()[0].get_ydata(), h.steps["lr"])
    assert len(set(h.steps["lr"])) > 1  # the schedule really moved
    for ax in (loss, acc, steps):
        assert ax.get_legend() is not None and ax.get_xlabel() and ax.get_ylabel()


def test_plot_history_reads_saved_histories(run):
    state = json.loads(json.dumps(run.history.state_dict()))  # what history.json holds
    fig = plots.plot_history(state, None)
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 4
    only_epochs = plots.plot_history({"loss": [1.0, 0.5, 0.25]}, None)
    (ax,) = [ax for ax in only_epochs.axes if ax.get_visible()]
    assert list(line(ax, "train").get_ydata()) == [1.0, 0.5, 0.25]
    with pytest.raises(ValueError, match="history"):
        plots.plot_history({}, None)
    with pytest.raises(ValueError, match="smooth"):
        plots.plot_history(run.history, None, smooth=1.0)


def test_exponential_moving_average():
    assert np.allclose(plots.exponential_moving_average([3.0, 3.0, 3.0], 0.9), 3.0)  # no bias
    values = np.array([1.0, 2.0, 4.0, 8.0])
    s, expected = 0.0, []
    for t, v in enumerate(values, start=1):
        s = 0.5 * s + 0.5 * v
        expected.append(s / (1 - 0.5 ** t))
    assert np.allclose(plots.exponential_moving_average(values, 0.5), expected)
    out = plots.exponential_moving_average([1.0, float("nan"), 1.0], 0.5)
    assert np.isnan(out[1]) and np.allclose(out[[0, 2]], 1.0)


def test_svg_output_is_valid_xml(run, tmp_path):
    lrs = run.history.steps["lr"]
    fig = plots.plot_lr_schedule(lrs, tmp_path / "lr.svg")
    root = ET.parse(tmp_path / "lr.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    width, height = fig.get_size_inches() * 72                # the figure's size, in points
    assert root.get("width") == f"{width:g}pt" and root.get("height") == f"{height:g}pt"
    ids = [g.get("id") or "" for g in root.iter("{http://www.w3.org/2000/svg}g")]
    drawn = [ln for ax in fig.axes for ln in ax.get_lines() if len(ln.get_xdata()) > 2]
    assert len(drawn) == 1 and np.allclose(drawn[0].get_ydata(), lrs)   # the schedule itself
    assert sum(i.startswith("line2d_") for i in ids) >= 1      # ... and it is in the file


def test_plot_lr_schedule_in_a_thread(run, tmp_path):
    result = {}
    worker = threading.Thread(target=lambda: result.update(
        fig=plots.plot_lr_schedule(run.history.steps["lr"], tmp_path / "lr.png")))
    worker.start()
    worker.join()
    check_png(tmp_path / "lr.png")
    assert np.allclose(result["fig"].axes[0].get_lines()[0].get_ydata(), run.history.steps["lr"])
    with pytest.raises(ValueError, match="lrs"):
        plots.plot_lr_schedule([], None)
    with pytest.raises(ValueError, match="lrs"):
        plots.plot_lr_schedule([[0.1, 0.2]], None)


# ---------------------------------------------------------------- predictions
def test_confusion_matrix_counts(run):
    predicted = run.logits.argmax(axis=1)
    expected = np.zeros((10, 10), dtype=np.int64)
    np.add.at(expected, (run.ty, predicted), 1)
    assert np.array_equal(plots.confusion_matrix(run.ty, predicted, 10), expected)
    assert np.array_equal(plots.confusion_matrix(run.ty, run.logits), expected)  # from logits

    fig = plots.plot_confusion_matrix(run.ty, run.logits, None, class_names=run.classes)
    ax = fig.axes[0]
    rows = expected / expected.sum(axis=1, keepdims=True)
    assert np.allclose(ax.images[0].get_array(), rows)
    written = sum(int(t.get_text().replace(",", "")) for t in ax.texts)
    assert written == len(run.ty)
    assert [t.get_text() for t in ax.get_xticklabels()] == run.classes
    assert f"{np.trace(expected) / len(run.ty):.2%}" in ax.get_title()

    fig = plots.plot_confusion_matrix(run.ty, predicted, None, normalize=True)
    diagonal = [float(t.get_text()) for t in fig.axes[0].texts
                if t.get_position()[0] == t.get_position()[1]]
    assert np.allclose(diagonal, 100 * np.diag(rows), atol=0.05)


def test_confusion_matrix_checks_its_inputs():
    with pytest.raises(ValueError, match="y_pred"):
        plots.confusion_matrix([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match="y_true.*out of range"):
        plots.confusion_matrix([0, 5], [0, 1], num_classes=3)
    with pytest.raises(ValueError, match="y_true"):
        plots.confusion_matrix([0.5, 1.0], [0, 1])
    with pytest.raises(ValueError, match="class_names"):
        plots.plot_confusion_matrix([0, 1, 2], [0, 1, 2], None, class_names=["a", "b"])


def test_worst_predictions_are_wrong_and_shown(run):
    indices, predicted, probability = plots.worst_predictions(run.ty, run.logits, n=16)
    assert 0 < len(indices) <= 16
    assert np.all(predicted != run.ty[indices])
    assert np.all(run.logits[indices].argmax(axis=1) == predicted)
    assert np.all(np.diff(probability) <= 0)  # most confident first
    wrong = np.flatnonzero(run.logits.argmax(axis=1) != run.ty)
    shifted = run.logits - run.logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    assert probability[0] == pytest.approx(probs[wrong].max(), rel=1e-5)

    fig = plots.plot_worst_predictions(run.tx, run.ty, run.logits, None,
                                       class_names=run.classes, n=16)
    tiles = [ax for ax in fig.axes if ax.get_visible()]
    assert len(tiles) == len(indices)
    for ax, i, p in zip(tiles, indices, predicted):
        assert np.array_equal(ax.images[0].get_array(), run.tx[i, 0])
        assert f"#{i}" in ax.get_title() and run.classes[run.ty[i]] in ax.get_title()
        assert run.classes[p] in ax.get_xlabel()


def test_worst_predictions_without_mistakes_and_bad_input(run):
    perfect = np.eye(10, dtype=np.float32)[run.ty] * 10
    fig = plots.plot_worst_predictions(run.tx, run.ty, perfect, None)
    assert "No wrong predictions" in fig.axes[0].texts[0].get_text()
    with pytest.raises(ValueError, match="images"):
        plots.plot_worst_predictions(run.tx[:10], run.ty, run.logits, None)
    with pytest.raises(ValueError, match="logits"):
        plots.worst_predictions(run.ty, run.logits[:, 0])


def test_write_run_plots(run, tmp_path):  # curves, confusion matrix and worst predictions
    written = plots.write_run_plots(tmp_path / "run", run.history, run.model, run.tx, run.ty,
                                    run.classes)
    assert written == {name: os.path.join(tmp_path / "run", f"{name}.png")
                       for name in ("curves", "confusion", "worst")}
    for path in written.values():
        check_png(path)
    assert run.model.training  # predict put it back in training mode
    # Each file is the picture its own function draws from the history and the predictions.
    plots.plot_history(run.history, tmp_path / "curves.png")
    plots.plot_confusion_matrix(run.ty, run.logits, tmp_path / "confusion.png",
                                class_names=run.classes)
    plots.plot_worst_predictions(run.tx, run.ty, run.logits, tmp_path / "worst.png",
                                 class_names=run.classes)
    for name, path in written.items():
        with Image.open(path) as got, Image.open(tmp_path / f"{name}.png") as want:
            assert got.size == want.size
            assert np.array_equal(np.asarray(got), np.asarray(want)), name


# ---------------------------------------------------------------- inside the network
def test_plot_filters(tmp_path):
    model = ournn.models.get_model("lenet5")
    fig = plots.plot_filters(model[0], tmp_path / "filters.png")
    check_png(tmp_path / "filters.png")
    weight = model[0].weight.numpy()
    tiles = [ax for ax in fig.axes if ax.get_visible() and ax.images]
    assert len(tiles) == 6
    for ax, kernel in zip(tiles, weight):
        assert np.allclose(ax.images[0].get_array(), kernel[0])

    rgb = plots.plot_filters(nn.Conv2d(3, 4, 3).weight, None)
    assert [ax.images[0].get_array().shape for ax in rgb.axes if ax.images] == [(3, 3, 3)] * 4
    deep = plots.plot_filters(nn.Conv2d(4, 5, 3), None)  # 5 filters x 4 input channels
    assert len([ax for ax in deep.axes if ax.images]) == 5 * 4
    with pytest.raises(ValueError, match="conv_weight"):
        plots.plot_filters(np.zeros((3, 3)), None)


def test_plot_feature_maps(run, tmp_path):
    model = ournn.models.get_model("lenet5")
    image = run.tx[0]
    fig = plots.plot_feature_maps(model, image, tmp_path / "maps.png")
    check_png(tmp_path / "maps.png")
    with ournn.no_grad():
        first = model[0](image[None])
        second = model[3](model[2](model[1](first)))
    maps = [ax.images[0].get_array() for ax in fig.axes if ax.get_visible()]
    assert len(maps) == 1 + 6 + 16  # the input, then each channel of the two convolutions
    assert np.allclose(maps[0], image[0])
    assert all(np.allclose(m, c, atol=1e-6) for m, c in zip(maps[1:7], first.data[0]))
    assert all(np.allclose(m, c, atol=1e-6) for m, c in zip(maps[7:], second.numpy()[0]))
    assert not any(m.__dict__.get("_hooks") for m in model.modules())  # untouched
    assert not any("forward" in m.__dict__ for m in model.modules())
    assert model.training

    only = plots.plot_feature_maps(model, image, None, layers=["3"])
    assert len([ax for ax in only.axes if ax.get_visible()]) == 1 + 16
    with pytest.raises(ValueError, match="no layer named 'conv9'"):
        plots.plot_feature_maps(model, image, None, layers=["conv9"])
    with pytest.raises(ValueError, match="image"):
        plots.plot_feature_maps(model, run.tx[:2], None)


def deep_tanh(init, depth=6, width=64):
    layers = [nn.Flatten()]
    for i in range(depth):
        linear = nn.Linear(784 if i == 0 else width, width)
        if init == "xavier":
            nn.init.xavier_normal_(linear.weight)
        else:
            nn.init.normal_(linear.weight, 0.0, init)
        nn.init.zeros_(linear.bias)
        layers += [linear, nn.Tanh()]
    return nn.Sequential(*layers)


def test_histograms_show_why_initialisation_matters(run, tmp_path):
    x = run.tx[:200]
    small = plots.activation_histograms(deep_tanh(0.01), x)
    xavier = plots.activation_histograms(deep_tanh("xavier"), x)
    assert list(xavier) == [f"layer {2 * i + 2} (Tanh)" for i in range(6)]
    assert np.std(small["layer 12 (Tanh)"]) < 1e-4      # collapsed towards zero
    assert np.std(xavier["layer 12 (Tanh)"]) > 0.1      # still spread out

    fig = plots.plot_histograms(xavier, tmp_path / "acts.png", "tanh, Xavier", sharex=True)
    check_png(tmp_path / "acts.png")
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == list(xavier)
    for ax, values in zip(panels, xavier.values()):
        assert ax.patches[0].get_data().values.sum() == values.size

    linear = plots.activation_histograms(deep_tanh("xavier"), x, layers=nn.Linear)
    assert list(linear) == [f"layer {2 * i + 1} (Linear)" for i in range(6)]


def test_weight_and_gradient_histograms(run):
    model = deep_tanh("xavier", depth=2)
    weights = plots.weight_histograms(model)
    assert list(weights) == [name for name, _ in model.named_parameters()]
    with pytest.raises(ValueError, match="backward"):
        plots.gradient_histograms(model)
    nn.functional.cross_entropy(model(run.tx[:32]), run.ty[:32]).backward()
    grads = plots.gradient_histograms(model)
    for name, p in model.named_parameters():
        assert np.array_equal(grads[name], p.grad)
    fig = plots.plot_histograms(grads, None, "Gradients", log=True)
    assert fig.axes[0].get_yscale() == "log"
    with pytest.raises(ValueError, match="arrays_by_name"):
        plots.plot_histograms({}, None)


def test_gradient_norm_logger(run, tmp_path):
    logger = run.logger
    names = [name for name, _ in run.model.named_parameters()]
    assert list(logger.norms) == names
    assert logger.steps == list(range(1, len(run.history.steps["loss"]) + 1))
    assert all(len(v) == len(logger.steps) and np.all(np.isfinite(v))
               for v in logger.norms.values())

    # The value recorded at on_batch_end is the norm of the gradient then in p.grad.
    model = deep_tanh("xavier", depth=2)
    nn.functional.cross_entropy(model(run.tx[:32]), run.ty[:32]).backward()
    fresh = GradientNormLogger(every=2)
    fresh.on_batch_end(SimpleNamespace(model=model, global_step=1), 0.0)
    assert fresh.steps == []  # step 1 is skipped with every=2
    fresh.on_batch_end(SimpleNamespace(model=model, global_step=2), 0.0)
    for name, p in model.named_parameters():
        assert fresh.norms[name] == [pytest.approx(np.linalg.norm(p.grad), rel=1e-5)]

    fig = plot_gradient_norms(logger, tmp_path / "norms.png")
    check_png(tmp_path / "norms.png")
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    for name in names:
        assert np.allclose(line(ax, name).get_ydata(), logger.norms[name])
        assert np.allclose(line(ax, name).get_xdata(), logger.steps)
    with pytest.raises(ValueError, match="every"):
        GradientNormLogger(every=0)
    with pytest.raises(ValueError, match="no gradient norms"):
        plot_gradient_norms({}, None)


# ---------------------------------------------------------------- the optional dependency
def test_missing_matplotlib_gives_the_install_hint(run, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    hint = r"pip install 'ournn\[viz\]'"
    with pytest.raises(ImportError, match=hint):
        plots.plot_history(run.history, None)
    with pytest.raises(ImportError, match=hint):
        plots.plot_confusion_matrix(run.ty, run.logits, None)
    with pytest.raises(ImportError, match=hint):
        plot_gradient_norms(run.logger, None)
    # What needs no drawing still works.
    assert plots.confusion_matrix([0, 1], [1, 1]).sum() == 2


def test_import_ournn_does_not_import_matplotlib():
    code = ("import sys, ournn; f = ournn.viz.plot_history; "
            "assert f is ournn.viz.plots.plot_history; "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert "plot_history" in dir(ournn.viz)


def test_unknown_file_extension():
    with pytest.raises(ValueError, match=r"\.png, \.svg or \.pdf"):
        plots.plot_lr_schedule([0.1, 0.2], "schedule.jpg")
