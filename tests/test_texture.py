"""Texture (Gram) features: what cross-validation computes in numpy is what the served Keras layers compute.

The head is fitted on projected Gram entries and folded into one weight vector over the raw matrix;
these tests hold the two paths to the same logits on real activations of the frozen network.
"""

import numpy as np
import pytest

from models import logreg, texture


@pytest.fixture(scope="module")
def maps():
    """Block-10 and early-layer maps of the frozen Lite0 for a few made images (structured, not noise)."""
    import keras

    from models import lite0

    trunk = lite0.pretrained_backbone()
    lower = keras.Model(trunk.input, [trunk.get_layer(n).output for n in (texture.LAYER, *texture.EARLY)])
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:224, 0:224]
    imgs = []
    for k in range(12):
        f = rng.uniform(0.02, 0.2, 3)
        base = np.stack([np.sin(xx * f[0] + yy * f[1] + c) for c in range(3)], -1) * 90 + 128
        imgs.append(np.clip(base + rng.normal(0, 4 + 4 * k, base.shape), 0, 255))
    x = np.array(imgs, np.float32)
    m, *early = lower.predict(x, verbose=0)
    return x, m, early


def test_keras_gram_layer_matches_numpy_gram(maps):
    import keras

    _, m, _ = maps
    inp = keras.Input(m.shape[1:])
    layer = keras.Model(inp, texture.gram_layer(inp))
    full = layer.predict(m, verbose=0).reshape(len(m), texture.CHANNELS, texture.CHANNELS)
    iu = np.triu_indices(texture.CHANNELS)
    assert np.allclose(full[:, iu[0], iu[1]], texture.gram(m), rtol=1e-4, atol=1e-4)
    assert np.allclose(full, full.transpose(0, 2, 1), atol=1e-4)


def test_the_caches_tensorflow_gram_matches_numpy(maps):
    """finetune.cache keeps the early layers' Gram triangles from texture.gram_tf: the same entries, in order."""
    _, m, early = maps
    assert np.allclose(texture.gram_tf(m).numpy(), texture.gram(m), rtol=1e-4, atol=1e-4)
    for e in early:
        c = e.shape[-1]
        full = np.einsum("npc,npd->ncd", *(e.reshape(len(e), -1, c),) * 2) / (e.shape[1] * e.shape[2])
        assert np.allclose(texture.gram_tf(e).numpy(), full[:, *np.triu_indices(c)], rtol=1e-4, atol=1e-5)


def _early(early) -> np.ndarray:
    return np.hstack([texture.gram_tf(e).numpy() for e in early])


def test_folded_head_gives_the_projected_heads_logits(maps):
    _, m, early = maps
    g, e = texture.gram(m), _early(early)
    projs = [("texture", texture.fit_projection(g, n=6)), ("early", texture.fit_projection(e, n=4))]
    rng = np.random.default_rng(1)
    f = rng.normal(size=(len(m), 5))
    y = np.arange(len(m)) % 2
    z = np.hstack([f, projs[0][1](g), projs[1][1](e)])
    head = logreg.fit(z, y, l2=1.0)
    wf, wg, b = texture.fold_head(head, projs, n_content=5)
    assert [len(w) for w in wg] == [112 * 112, 24 * 24, 40 * 40]
    fulls = [np.einsum("npc,npd->ncd", *(a.reshape(len(a), -1, a.shape[-1]),) * 2) / (a.shape[1] * a.shape[2])
             for a in (m, *early)]
    folded = f @ wf + sum(full.reshape(len(m), -1) @ w for full, w in zip(fulls, wg)) + b
    assert np.allclose(folded, head.logit(z), atol=1e-3)
    assert np.ptp(folded) > 0.1  # the head is not constant: the comparison means something


@pytest.mark.parametrize("groups", [("texture",), ("texture", "early")])
def test_served_texture_detector_gives_the_fitted_heads_probabilities(maps, groups):
    """models.train.content_model with projections: raw pixels in, the head's sigmoid out."""
    import keras

    from models import features, metrics, train

    x, m, early = maps
    feat = features.feature_model()
    both = keras.Model(feat.input, [feat.output, feat.get_layer(texture.LAYER).output])
    f, m2 = both.predict(x, verbose=0)
    assert np.allclose(m2, m, atol=1e-4)  # the same layer the cache keeps
    blocks = {"texture": texture.gram(m), "early": _early(early)}
    projs = [(grp, texture.fit_projection(blocks[grp], n=6)) for grp in groups]
    z = np.hstack([f] + [p(blocks[grp]) for grp, p in projs])
    head = logreg.fit(z, np.arange(len(x)) % 2, l2=1.0)
    served = train.content_model(head, projs=projs).predict(x, verbose=0)[:, 0]
    expected = metrics.sigmoid(head.logit(z))
    assert np.allclose(served, expected, atol=1e-4), (served, expected)
    assert np.ptp(expected) > 0.01
