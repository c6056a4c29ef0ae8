"""examples/python/dlrm.py on tiny data: embrt and pure PyTorch train the same model; the
benchmark of its step (bench/python_step.py) runs."""

import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "examples" / "python"))
try:
    import torch
    import dlrm
except ImportError as error:  # every test is skipped (still collected: pytest exits 0)
    torch = None
    MISSING = f"python3-torch is not installed ({error})"
pytestmark = pytest.mark.skipif(torch is None, reason=MISSING if torch is None else "")


def test_tf_exact_adagrad_tables_match_torch_after_a_few_steps():
    torch.set_num_threads(1)
    data = dlrm.synthetic_clicks(6 * 32, vocab=50, seed=3)
    (ours, ours_opts), (theirs, theirs_opts) = dlrm.make_models(
        data.vocab_sizes, dim=8, batch=32, lr=0.1, dense_lr=0.05)
    assert dlrm.train(ours, ours_opts, data, 32) == 6
    assert dlrm.train(theirs, theirs_opts, data, 32) == 6
    tables = ours.tables.tables()
    moved = 0
    for f, bag in enumerate(theirs.bags):
        ours_table = tables[f"C{f + 1}"]["parameters"]
        theirs_table = bag.weight.detach().numpy()
        np.testing.assert_allclose(ours_table, theirs_table, rtol=1e-5, atol=1e-6,
                                   err_msg=f"table C{f + 1}")
        accumulators = tables[f"C{f + 1}"]["accumulators"]
        state = theirs_opts[0].state[bag.weight]["sum"].numpy()
        np.testing.assert_allclose(accumulators, state, rtol=1e-5, atol=1e-6)
        moved += int((accumulators != np.float32(0.1)).any(axis=1).sum())
    assert moved > 26  # the steps really updated rows
    for a, b in zip(ours.towers.parameters(), theirs.towers.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_same_metrics_within_noise_and_better_than_chance():
    torch.set_num_threads(1)
    data = dlrm.synthetic_clicks(2400, vocab=100, seed=1)
    train, test = data.split(0.8)
    (ours, ours_opts), (theirs, theirs_opts) = dlrm.make_models(
        data.vocab_sizes, dim=8, batch=100, lr=0.1)
    dlrm.train(ours, ours_opts, train, 100, epochs=2)
    dlrm.train(theirs, theirs_opts, train, 100, epochs=2)
    ours_scores = dlrm.predict(ours, test, 100)
    theirs_scores = dlrm.predict(theirs, test, 100)
    ours_auc, theirs_auc = dlrm.auc(test.labels, ours_scores), dlrm.auc(test.labels, theirs_scores)
    assert ours_auc > 0.6
    assert abs(ours_auc - theirs_auc) < 0.01
    assert abs(dlrm.log_loss(test.labels, ours_scores)
               - dlrm.log_loss(test.labels, theirs_scores)) < 0.01


def test_auc_and_log_loss():
    assert dlrm.auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == 0.75
    assert dlrm.auc(np.array([0, 1]), np.array([0.5, 0.5])) == 0.5
    assert dlrm.log_loss(np.array([1.0]), np.array([0.5])) == pytest.approx(np.log(2))


def test_reads_both_criteo_formats(tmp_path):
    tab = "1\t5\t\t3" + "\t" * 10 + "\t68fd1e64\t\t" + "\t".join(["a"] * 10)  # stripped tail
    comma = ("label," + ",".join(f"I{i}" for i in range(1, 14)) + ","
             + ",".join(f"C{i}" for i in range(1, 27)) + "\n"
             + "0,1.0" + "," * 12 + ",ff" + "," * 25 + "\n")
    (tmp_path / "a.txt").write_text(tab + "\n")
    (tmp_path / "b.txt").write_text(comma)
    data = dlrm.read_criteo([tmp_path / "a.txt", tmp_path / "b.txt"], buckets=100)
    assert len(data) == 2 and data.dense.shape == (2, 13) and data.ids.shape == (26, 2)
    np.testing.assert_allclose(data.dense[0, :3], [np.log1p(5), 0, np.log1p(3)], rtol=1e-6)
    assert data.ids[0, 0] == int("68fd1e64", 16) % 99 + 1 and data.ids[1, 0] == 0
    assert data.ids[25, 0] == 0  # the stripped trailing fields are missing values
    assert data.labels.tolist() == [1.0, 0.0]


def test_main_on_the_criteo_sample(capsys):
    if not dlrm.criteo_files():
        pytest.skip(f"no Criteo sample under {dlrm.CRITEO_DIR}")
    assert dlrm.main(["--data", "criteo", "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert out.count("AUC") == 2 and "log loss" in out


def test_python_step_benchmark_runs_on_tiny_data():
    """bench/python_step.py end to end on a tiny shape (what it prints, not how fast)."""
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "python_step.py"), "--batch", "8", "--vocab",
         "100", "--steps", "1", "--repeats", "2", "--threads", "1"],
        capture_output=True, text=True, timeout=100, check=False)
    assert result.returncode == 0, result.stderr
    rows = [line.split("|") for line in result.stdout.splitlines()
            if line.startswith("| 1 |")]
    assert [row[2].strip() for row in rows] == ["wall", "CPU"], result.stdout
    for row in rows:
        times = [float(t) for t in row[3].split("/")]  # pytorch, embrt, stacked, binding, C++
        ratios = [float(r.strip().rstrip("x")) for r in row[4:8]]
        whole = [float(t) for t in row[8].split("/")]
        assert len(times) == 5 and all(t > 0 for t in times + ratios + whole), row
