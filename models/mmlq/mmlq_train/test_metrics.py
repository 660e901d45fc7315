"""Unit tests of metrics.py against scipy.stats on fixed vectors (run by the smoke build:
`PYTHONPATH=models/mmlq /usr/bin/python3 -m unittest mmlq_train.test_metrics`)."""
from __future__ import annotations

import unittest

import numpy as np
from scipy import stats

from mmlq_train import metrics as M

PRED = [5.1, 4.3, 6.8, 5.5, 3.9, 6.1, 5.5, 4.8, 7.2, 5.0]
GT = [4.9, 4.0, 6.1, 5.9, 4.4, 5.2, 5.2, 5.0, 6.9, 5.3]


class Metrics(unittest.TestCase):
    def test_srcc_equals_scipy_with_ties(self):
        want = stats.spearmanr(PRED, GT).correlation
        self.assertAlmostEqual(M.srcc(PRED, GT), want, places=12)

    def test_plcc_equals_scipy(self):
        self.assertAlmostEqual(M.plcc(PRED, GT), stats.pearsonr(PRED, GT)[0], places=12)

    def test_rankdata_equals_scipy(self):
        x = [3, 1, 2, 3, 3, 0, 1]
        np.testing.assert_allclose(M.rankdata(x), stats.rankdata(x))

    def test_srcc_random_vectors(self):
        rng = np.random.default_rng(7)
        for _ in range(5):
            a = np.round(rng.normal(5, 1, 200), 1)  # rounded: many ties
            b = a + rng.normal(0, 0.8, 200)
            self.assertAlmostEqual(M.srcc(a, b), stats.spearmanr(a, b).correlation, places=10)
            self.assertAlmostEqual(M.plcc(a, b), stats.pearsonr(a, b)[0], places=10)

    def test_binary_accuracy_at_5(self):
        # high = mean > 5 on both sides; 5.0 itself is "low"
        self.assertEqual(M.binary_accuracy([5.1, 4.9, 5.0, 6.0], [5.2, 5.1, 4.0, 4.0]), 0.5)
        self.assertEqual(M.binary_accuracy(PRED, GT), 0.8)  # items 0 and 9 disagree

    def test_emd_r2(self):
        p = np.zeros((1, 10))
        q = np.zeros((1, 10))
        p[0, 0] = 1.0   # all mass on score 1
        q[0, 9] = 1.0   # all mass on score 10: CDFs differ by 1 on bins 1..9
        self.assertAlmostEqual(M.emd(p, q), np.sqrt(9 / 10), places=12)
        self.assertEqual(M.emd(p, p), 0.0)
        # shifting one bin: CDFs differ by 1 on exactly one bin
        q2 = np.zeros((1, 10))
        q2[0, 1] = 1.0
        self.assertAlmostEqual(M.emd(p, q2), np.sqrt(1 / 10), places=12)
        # agrees with the torch training loss
        import torch

        from mmlq_ref.loss import emd_loss
        rng = np.random.default_rng(3)
        a, b = rng.dirichlet(np.ones(10), 8), rng.dirichlet(np.ones(10), 8)
        self.assertAlmostEqual(M.emd(a, b), float(emd_loss(torch.tensor(a), torch.tensor(b))), places=10)

    def test_all_metrics_and_bad_input(self):
        rng = np.random.default_rng(0)
        gt = rng.dirichlet(np.ones(10), 50)
        r = M.all_metrics(gt, gt)
        self.assertEqual((r["srcc"], r["plcc"], r["acc"], r["emd"], r["n"]), (1.0, 1.0, 1.0, 0.0, 50))
        with self.assertRaises(ValueError):
            M.srcc([1.0], [2.0])
        with self.assertRaises(ValueError):
            M.plcc([1.0, float("nan")], [1.0, 2.0])


if __name__ == "__main__":
    unittest.main()
