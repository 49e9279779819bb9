"""Source-held-out cross-validation: families, folds, threshold rules and the per-source report."""

import numpy as np

from models import crossval, data, folds, logreg


def _items(spec):
    """Items from [(source, n)], labels from the class folder."""
    return [data.Item(f"/x/{s}/{k}.jpg", int(s.startswith("fake/")), s, f"{s}:{k}") for s, n in spec for k in range(n)]


def test_related_folders_are_one_family_and_held_out_together():
    assert folds.family("fake/imagen-2022-glid3") == folds.family("fake/imagen-2022-mdif") == "fake/imagen-2022"
    assert folds.family("fake/comfyui-templates") == folds.family("fake/comfyui-media-video") == "fake/comfyui"
    assert folds.family("fake/sdxl-finetunes-art-display") == folds.family("fake/sd15-finetunes-art-display")
    assert folds.family("real/people-u2net-tests") == folds.family("real/faces-group-photos")
    assert folds.family("real/bsds500") == "real/bsds500"
    assert folds.fold_of("real/imagenet-sample") == folds.fold_of("real/imagenet-imagen")
    # every fold holds out both classes
    for fams in folds.FOLDS:
        assert {f.split("/")[0] for f in fams} == {"real", "fake"}
    assert len(folds.FOLDS) >= 5


def test_every_training_folder_is_placed_in_a_fold():
    root = data.default_data_dir()
    if root.is_dir():
        assert folds.unlisted({i.source for i in data.list_items(root)}) == []


def test_fake_threshold_keeps_two_percent_overall_and_five_percent_per_family():
    rng = np.random.default_rng(0)
    z = np.r_[rng.normal(-2, 1, 900), rng.normal(1, 1, 100), rng.normal(2, 1, 500)]
    y = np.r_[np.zeros(1000, int), np.ones(500, int)]
    fam = np.array(["real/a"] * 900 + ["real/people"] * 100 + ["fake/g"] * 500)
    th = crossval.thresholds(z, y, fam)
    assert (z[y == 0] >= th["fake"]).mean() <= crossval.FAKE_MAX_FPR
    assert (z[fam == "real/people"] >= th["fake"]).mean() <= crossval.FAMILY_MAX_FPR  # the hard family is protected
    assert (z[y == 1] <= th["real"]).mean() <= crossval.REAL_MAX_FNR
    assert th["real"] <= th["fake"]


def test_report_scores_each_source_against_its_folds_other_class():
    items = _items([("real/imagenet-sample", 40), ("fake/imagen-2022-glid3", 40),
                    ("real/bsds500", 40), ("fake/stylegan-faces", 40)])
    fold = np.array([folds.fold_of(i.source) for i in items])
    y = np.array([i.label for i in items])
    # fold 0 separates perfectly, fold 1 is inverted
    z = np.where(fold == 0, np.where(y == 1, 2.0, -2.0), np.where(y == 1, -1.0, 1.0)) + np.linspace(0, 0.01, len(y))
    res = crossval.report(items, fold, {"original": z})
    assert res["per_family"]["fake/imagen-2022"]["auc"] == 1.0
    assert res["per_family"]["fake/stylegan-faces"]["auc"] == 0.0
    assert res["mean_family_auc"] == 0.5
    shares = res["per_source"]["real/imagenet-sample"]
    assert abs(shares["called_fake"] + shares["called_uncertain"] + shares["called_real"] - 1) < 1e-9


def test_logistic_regression_recovers_a_separating_direction_and_folds_its_scaling():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 3)) * [1, 10, 100] + [5, 0, -3]
    y = (x[:, 0] - 5 + 0.1 * x[:, 1] > 0).astype(int)
    m = logreg.fit(x, y, l2=1e-3)
    assert ((m.logit(x) > 0) == y).mean() > 0.97
    w, b = m.raw_weights()
    assert np.allclose(x @ w + b, m.logit(x))
    weights = logreg.source_weights(np.array(["a"] * 90 + ["b"] * 10 + ["c"] * 50), np.r_[np.zeros(100), np.ones(50)])
    assert np.isclose(weights[:100].sum(), weights[100:].sum())  # classes weigh the same
    assert np.isclose(weights[:90].sum() / weights[90:100].sum(), 3.0)  # sources weigh sqrt(size)


def test_content_balance_evens_the_classes_inside_a_mixed_cluster_and_leaves_a_pure_one():
    # "faces": 30 genuine and 10 AI rows around one direction; "scenes": 20 genuine rows around another
    rng = np.random.default_rng(2)
    faces = np.r_[0:40]
    x = np.vstack([np.r_[5.0, 0, 0] + rng.normal(0, 0.3, (40, 3)), np.r_[0, 5.0, 0] + rng.normal(0, 0.3, (20, 3))])
    y = np.r_[np.zeros(30), np.ones(10), np.zeros(20)].astype(int)
    w = logreg.content_balance(x, y, k=2)
    assert np.isclose(w[faces][y[faces] == 0].sum(), w[faces][y[faces] == 1].sum())
    assert np.allclose(w[40:], 1.0)  # one class only: nothing to balance
    capped = logreg.content_balance(x, np.r_[np.zeros(39), 1, np.zeros(20)].astype(int), k=2)
    assert capped[39] == 4.0  # a lone AI row in the cluster does not get the whole half


def test_the_balanced_fine_tuning_sampler_draws_a_sources_views_by_their_weight():
    """finetune._sampler: half of each batch per class, sources ~ sqrt(size); with weights, a source's
    views in proportion to them (the content-balance multipliers of ``finetune15b``)."""
    from models import finetune

    items = _items([("real/a", 4), ("real/b", 16), ("fake/c", 9)])
    image = np.repeat(np.arange(len(items)), 2)  # two cached views per image
    rows = np.arange(len(image))
    train = np.ones(len(items), bool)
    weight = np.where(image < 4, 1.0, 0.25)  # real/a's views weigh 4x real/b's
    weight[image >= 20] = np.where(rows[image >= 20] % 2 == 0, 3.0, 1.0)  # fake/c: each first view 3x the second
    plain = finetune._sampler(items, train, rows, image, np.random.default_rng(0))
    weighted = finetune._sampler(items, train, rows, image, np.random.default_rng(0), weight)
    for draw in (plain, weighted):
        idx, y = draw(32)
        assert (y == 1).sum() == 16 and set(image[idx[y == 1]]) <= set(range(20, 29))
        assert set(image[idx[y == 0]]) <= set(range(20))
    got = np.concatenate([weighted(32)[0] for _ in range(400)])
    src_a = np.isin(image[got], range(4)).sum() / (image[got] < 20).sum()
    assert abs(src_a - np.sqrt(4) / (np.sqrt(4) + np.sqrt(16))) < 0.03  # the source's share: sqrt of its size
    fake = got[image[got] >= 20]
    assert abs((fake % 2 == 0).mean() - 0.75) < 0.03  # inside a source: by weight
    first = np.concatenate([plain(32)[0] for _ in range(400)])
    assert abs((first[image[first] >= 20] % 2 == 0).mean() - 0.5) < 0.03  # without weights: uniform
