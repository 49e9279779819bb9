"""Texture (Gram) features: what cross-validation computes in numpy is what the served Keras layers compute.

The head is fitted on projected Gram entries and folded into one weight vector over the raw matrix;
these tests hold the two paths to the same logits on real activations of the frozen network.
"""

import numpy as np
import pytest

from models import logreg, texture


@pytest.fixture(scope="module")
def maps():
    """Block-10 maps of the frozen Lite0 for a few made images (structured, not noise)."""
    import keras

    from models import lite0

    trunk = lite0.pretrained_backbone()
    lower = keras.Model(trunk.input, trunk.get_layer(texture.LAYER).output)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:224, 0:224]
    imgs = []
    for k in range(12):
        f = rng.uniform(0.02, 0.2, 3)
        base = np.stack([np.sin(xx * f[0] + yy * f[1] + c) for c in range(3)], -1) * 90 + 128
        imgs.append(np.clip(base + rng.normal(0, 4 + 4 * k, base.shape), 0, 255))
    x = np.array(imgs, np.float32)
    return x, lower.predict(x, verbose=0)


def test_keras_gram_layer_matches_numpy_gram(maps):
    import keras

    _, m = maps
    inp = keras.Input(m.shape[1:])
    layer = keras.Model(inp, texture.gram_layer(inp))
    full = layer.predict(m, verbose=0).reshape(len(m), texture.CHANNELS, texture.CHANNELS)
    iu = np.triu_indices(texture.CHANNELS)
    assert np.allclose(full[:, iu[0], iu[1]], texture.gram(m), rtol=1e-4, atol=1e-4)
    assert np.allclose(full, full.transpose(0, 2, 1), atol=1e-4)


def test_folded_head_gives_the_projected_heads_logits(maps):
    _, m = maps
    g = texture.gram(m)
    proj = texture.fit_projection(g, n=6)
    rng = np.random.default_rng(1)
    f = rng.normal(size=(len(m), 5))
    y = np.arange(len(m)) % 2
    head = logreg.fit(np.hstack([f, proj(g)]), y, l2=1.0)
    wf, wg, b = texture.fold_head(head, proj, n_content=5)
    full = np.einsum("npc,npd->ncd", *(m.reshape(len(m), -1, texture.CHANNELS),) * 2) / (m.shape[1] * m.shape[2])
    folded = f @ wf + full.reshape(len(m), -1) @ wg + b
    assert np.allclose(folded, head.logit(np.hstack([f, proj(g)])), atol=1e-3)
    assert np.ptp(folded) > 0.1  # the head is not constant: the comparison means something


def test_served_texture_detector_gives_the_fitted_heads_probabilities(maps):
    """models.train.content_model with a projection: raw pixels in, the head's sigmoid out."""
    import keras

    from models import features, metrics, train

    x, m = maps
    feat = features.feature_model()
    both = keras.Model(feat.input, [feat.output, feat.get_layer(texture.LAYER).output])
    f, m2 = both.predict(x, verbose=0)
    assert np.allclose(m2, m, atol=1e-4)  # the same layer the cache keeps
    g = texture.gram(m)
    proj = texture.fit_projection(g, n=6)
    head = logreg.fit(np.hstack([f, proj(g)]), np.arange(len(x)) % 2, l2=1.0)
    served = train.content_model(head, proj=proj).predict(x, verbose=0)[:, 0]
    expected = metrics.sigmoid(head.logit(np.hstack([f, proj(g)])))
    assert np.allclose(served, expected, atol=1e-4), (served, expected)
    assert np.ptp(expected) > 0.01
