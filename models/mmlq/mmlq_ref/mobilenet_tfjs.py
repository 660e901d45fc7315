"""Faithful PyTorch port of the MobileNetV2-1.4 backbone shipped in the npm package ``nsfwjs``.

Source: ``node_modules/nsfwjs/dist/models/mobilenet_v2_mid/`` (nsfwjs 4.4.0):

* ``model.min.js``            browserify bundle whose module 1 exports the tfjs ``model.json`` as a
                               JS object literal (graph-model, "TensorFlow.js Converter v1.7.4r1").
* ``group1-shardNofM.min.js`` browserify bundles whose module 1 exports one base64 string each;
                               the decoded bytes, concatenated in manifest order, are the weight
                               buffer.

All 108 weights are ``dtype: float32`` with ``quantization: {dtype: "uint8", min, scale}``.  tfjs
(tfjs-core ``io/io_utils.js`` ``decodeWeight``) dequantises as ``Float32Array[i] = q * scale + min``
with the arithmetic done in float64 and then rounded to float32; we do exactly the same.

Graph (TF-Hub "MobilenetV2" slim-style, depth multiplier 1.4, BN folded into the convs by the
converter):

    input [N,H,W,3] in [0,1]  ->  Mul(2) -> Sub(1)               (hub_input: maps to [-1,1])
    Conv            _FusedConv2D 3x3 s2 SAME  + BiasAdd + Relu6   48 ch
    expanded_conv   dw 3x3 s1 (+bias+relu6) -> project 1x1 (+bias, linear)  24 ch
    expanded_conv_i expand 1x1 (+bias+relu6) -> dw 3x3 (+bias+relu6) -> project 1x1 (+bias)
                    [+ AddV2 residual when stride 1 and channels match]
    Conv_1          1x1 (+bias+relu6)                                           1792 ch
    AvgPool 7x7 VALID -> Squeeze -> MatMul+BiasAdd (1792->5) -> Softmax   (nsfwjs head, not in
                                                                          MobileNetV2Features)

The architecture is *read from the graph* (strides, which blocks have an expand conv, which blocks
have a residual add, which convs have Relu6) and every node is validated, so a different nsfwjs
build with the same op vocabulary would either convert faithfully or fail loudly.

TF "SAME" padding: for a 3x3 stride-1 conv it is 1 on every side; for a 3x3 stride-2 conv on an
even-sized input it is 0 before / 1 after (right & bottom).  Inputs must therefore have H and W
divisible by 32 (all five stride-2 layers then see even sizes).
"""
from __future__ import annotations

import base64
import collections
import os
import re
import warnings
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "MobileNetV2Features",
    "NsfwjsHead",
    "load_nsfwjs_mobilenet_v2_mid",
    "load_nsfwjs_head",
    "read_nsfwjs_graph_model",
    "OUTPUT_KEYS",
]

OUTPUT_KEYS = ("stride4", "stride8", "stride16", "stride32", "final")

_REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
DEFAULT_PACKAGE_DIR = os.path.join(_REPO_ROOT, "node_modules", "nsfwjs")
_MODEL_SUBDIR = os.path.join("dist", "models", "mobilenet_v2_mid")


# --------------------------------------------------------------------------------------------
# Minimal JS object-literal parser (enough for the browserify-wrapped model.json / shard strings)
# --------------------------------------------------------------------------------------------
class _JSLiteralParser:
    _num_re = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
    _ident_re = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")

    def __init__(self, text: str, pos: int):
        self.s = text
        self.i = pos

    def _ws(self) -> None:
        s, i = self.s, self.i
        while i < len(s) and s[i] in " \t\r\n":
            i += 1
        self.i = i

    def value(self) -> Any:
        self._ws()
        c = self.s[self.i]
        if c == "{":
            return self._object()
        if c == "[":
            return self._array()
        if c in "\"'":
            return self._string()
        if c == "!" and self.s.startswith("!0", self.i):  # minifier's true
            self.i += 2
            return True
        if c == "!" and self.s.startswith("!1", self.i):  # minifier's false
            self.i += 2
            return False
        m = self._num_re.match(self.s, self.i)
        if m:
            self.i = m.end()
            t = m.group(0)
            if re.fullmatch(r"[-+]?\d+", t):
                return int(t)
            return float(t)  # correctly rounded, same double as JS
        m = self._ident_re.match(self.s, self.i)
        if m:
            self.i = m.end()
            word = m.group(0)
            consts = {"true": True, "false": False, "null": None}
            if word in consts:
                return consts[word]
            raise ValueError(f"unsupported JS identifier value {word!r} at {m.start()}")
        raise ValueError(f"unexpected character {c!r} at {self.i}")

    def _string(self) -> str:
        q = self.s[self.i]
        i = self.i + 1
        s = self.s
        # fast path: no escapes
        j = s.find(q, i)
        if j >= 0 and s.find("\\", i, j) < 0:
            self.i = j + 1
            return s[i:j]
        out: List[str] = []
        while True:
            c = s[i]
            if c == q:
                self.i = i + 1
                return "".join(out)
            if c == "\\":
                n = s[i + 1]
                if n == "u":
                    out.append(chr(int(s[i + 2 : i + 6], 16)))
                    i += 6
                    continue
                if n == "x":
                    out.append(chr(int(s[i + 2 : i + 4], 16)))
                    i += 4
                    continue
                out.append({"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "0": "\0", "v": "\v"}.get(n, n))
                i += 2
                continue
            out.append(c)
            i += 1

    def _key(self) -> str:
        self._ws()
        c = self.s[self.i]
        if c in "\"'":
            return self._string()
        m = self._ident_re.match(self.s, self.i) or re.compile(r"\d+").match(self.s, self.i)
        if not m:
            raise ValueError(f"bad object key at {self.i}")
        self.i = m.end()
        return m.group(0)

    def _object(self) -> Dict[str, Any]:
        self.i += 1
        out: Dict[str, Any] = {}
        self._ws()
        if self.s[self.i] == "}":
            self.i += 1
            return out
        while True:
            k = self._key()
            self._ws()
            assert self.s[self.i] == ":", f"expected ':' at {self.i}"
            self.i += 1
            out[k] = self.value()
            self._ws()
            c = self.s[self.i]
            self.i += 1
            if c == "}":
                return out
            assert c == ",", f"expected ',' or '}}' at {self.i - 1}"
            self._ws()
            if self.s[self.i] == "}":  # trailing comma
                self.i += 1
                return out

    def _array(self) -> List[Any]:
        self.i += 1
        out: List[Any] = []
        self._ws()
        if self.s[self.i] == "]":
            self.i += 1
            return out
        while True:
            out.append(self.value())
            self._ws()
            c = self.s[self.i]
            self.i += 1
            if c == "]":
                return out
            assert c == ",", f"expected ',' or ']' at {self.i - 1}"


_BROWSERIFY_EXPORT_RE = re.compile(r"\{\s*1\s*:\s*\[\s*function\s*\(\s*(\w+)\s*,\s*(\w+)\s*,\s*(\w+)\s*\)\s*\{\s*")


def _read_browserify_export(path: str) -> Any:
    """Return the value assigned to ``module.exports`` by module 1 of a browserify bundle."""
    with open(path, "r", encoding="utf-8") as f:
        text = f.read()
    m = _BROWSERIFY_EXPORT_RE.search(text)
    if not m:
        raise ValueError(f"{path}: could not find browserify module 1")
    mod = m.group(2)
    m2 = re.compile(re.escape(mod) + r"\.exports\s*=\s*").match(text, m.end())
    if not m2:
        raise ValueError(f"{path}: module 1 does not start with '{mod}.exports='")
    return _JSLiteralParser(text, m2.end()).value()


# --------------------------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------------------------
def _dequantise(raw: bytes, spec: Dict[str, Any]) -> Tuple[np.ndarray, int]:
    shape = [int(d) for d in spec["shape"]]
    n = int(np.prod(shape)) if shape else 1
    dtype = spec["dtype"]
    q = spec.get("quantization")
    if q is None:
        np_dt = {"float32": np.float32, "int32": np.int32}[dtype]
        nbytes = n * 4
        arr = np.frombuffer(raw[:nbytes], dtype="<" + np.dtype(np_dt).str[1:]).copy()
    else:
        qdt = q["dtype"]
        if qdt in ("uint8", "uint16"):
            item = 1 if qdt == "uint8" else 2
            nbytes = n * item
            qa = np.frombuffer(raw[:nbytes], dtype=np.uint8 if qdt == "uint8" else "<u2")
            # tfjs: values[i] = v * scale + min   (JS doubles, stored into a Float32Array)
            v = qa.astype(np.float64) * float(q["scale"]) + float(q["min"])
            arr = np.round(v).astype(np.int32) if dtype == "int32" else v.astype(np.float32)
        elif qdt == "float16":
            nbytes = n * 2
            arr = np.frombuffer(raw[:nbytes], dtype="<f2").astype(np.float32)
        else:
            raise ValueError(f"unsupported quantization {qdt}")
    return arr.reshape(shape), nbytes


def read_nsfwjs_graph_model(package_dir: str = DEFAULT_PACKAGE_DIR) -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
    """Parse model.min.js + shards; return (model_json, {weight name: dequantised np array})."""
    model_dir = os.path.join(package_dir, _MODEL_SUBDIR)
    model_json = _read_browserify_export(os.path.join(model_dir, "model.min.js"))
    weights: Dict[str, np.ndarray] = {}
    for group in model_json["weightsManifest"]:
        buf = b"".join(
            base64.b64decode(_read_browserify_export(os.path.join(model_dir, p + ".min.js"))) for p in group["paths"]
        )
        off = 0
        for spec in group["weights"]:
            arr, nbytes = _dequantise(buf[off:], spec)
            weights[spec["name"]] = arr
            off += nbytes
        if off != len(buf):
            raise ValueError(f"weight group consumed {off} bytes of {len(buf)}")
    return model_json, weights


# --------------------------------------------------------------------------------------------
# Graph helpers
# --------------------------------------------------------------------------------------------
def _short(name: str) -> str:
    """Strip the Keras/hub wrapper scopes: '.../predict/MobilenetV2/Conv/Relu6' -> 'MobilenetV2/Conv/Relu6'."""
    name = name.split(":")[0]
    return name.split("predict/", 1)[1] if "predict/" in name else name


def _attr_list(node: Dict[str, Any], key: str) -> List[Any]:
    a = node.get("attr", {}).get(key, {}).get("list", {})
    return a.get("i", []) or a.get("s", [])


def _attr_s(node: Dict[str, Any], key: str) -> str:
    return base64.b64decode(node["attr"][key]["s"]).decode()


class _Graph:
    def __init__(self, model_json: Dict[str, Any], weights: Dict[str, np.ndarray]):
        self.nodes = {_short(n["name"]): n for n in model_json["modelTopology"]["node"]}
        self.w = {_short(k): v for k, v in weights.items()}

    def has(self, name: str) -> bool:
        return name in self.nodes

    def node(self, name: str) -> Dict[str, Any]:
        return self.nodes[name]

    def inputs(self, name: str) -> List[str]:
        return [_short(i) for i in self.nodes[name].get("input", [])]

    def fused_conv(self, name: str, expect_input: str, depthwise: bool) -> Tuple[np.ndarray, np.ndarray, int, bool]:
        n = self.nodes[name]
        op = "FusedDepthwiseConv2dNative" if depthwise else "_FusedConv2D"
        if n["op"] != op:
            raise ValueError(f"{name}: expected {op}, got {n['op']}")
        ins = self.inputs(name)
        if ins[0] != expect_input:
            raise ValueError(f"{name}: input {ins[0]} != expected {expect_input}")
        if _attr_s(n, "data_format") != "NHWC" or _attr_s(n, "padding") != "SAME":
            raise ValueError(f"{name}: unsupported data_format/padding")
        if [int(v) for v in _attr_list(n, "dilations")] not in ([], [1, 1, 1, 1]):
            raise ValueError(f"{name}: dilation not supported")
        strides = [int(v) for v in _attr_list(n, "strides")]
        if strides[0] != 1 or strides[3] != 1 or strides[1] != strides[2]:
            raise ValueError(f"{name}: odd strides {strides}")
        fused = [base64.b64decode(s).decode() for s in _attr_list(n, "fused_ops")]
        if fused not in (["BiasAdd"], ["BiasAdd", "Relu6"]):
            raise ValueError(f"{name}: fused ops {fused}")
        if len(ins) != 3:
            raise ValueError(f"{name}: expected 3 inputs (x, filter, bias), got {ins}")
        return self.w[ins[1]], self.w[ins[2]], strides[1], fused[-1] == "Relu6"


# --------------------------------------------------------------------------------------------
# PyTorch modules
# --------------------------------------------------------------------------------------------
class _ConstPad(torch.autograd.Function):
    """Zero padding (left, right, top, bottom) that exports to a single ONNX Pad with constant pads.

    (torch 1.13 exports F.pad as a Pad fed by a ConstantOfShape/Concat/Reshape/Slice/Transpose/Cast
    subgraph that its constant folding does not remove; this keeps the exported graph clean.)"""

    @staticmethod
    def forward(ctx, x: torch.Tensor, pads: Tuple[int, int, int, int]) -> torch.Tensor:  # type: ignore[override]
        return F.pad(x, pads)

    @staticmethod
    def symbolic(g, x, pads):  # type: ignore[override]
        l, r, t, b = pads
        with warnings.catch_warnings():  # torch 1.13 deprecation notice on the patched g.op
            warnings.simplefilter("ignore", FutureWarning)
            onnx_pads = g.op("Constant", value_t=torch.tensor([0, 0, t, l, 0, 0, b, r], dtype=torch.int64))
            return g.op("Pad", x, onnx_pads, mode_s="constant")


class _TFConv(nn.Module):
    """Conv2d (+bias) with TF 'SAME' padding (even input for stride 2) and optional ReLU6."""

    def __init__(self, w_hwio: np.ndarray, bias: np.ndarray, stride: int, relu6: bool, depthwise: bool):
        super().__init__()
        kh, kw, cin, cm = w_hwio.shape
        if depthwise:
            if cm != 1:
                raise ValueError("depth multiplier != 1 not supported")
            cout, groups = cin, cin
            w = np.ascontiguousarray(w_hwio.transpose(2, 3, 0, 1))  # [C,1,kh,kw]
        else:
            cout, groups = cm, 1
            w = np.ascontiguousarray(w_hwio.transpose(3, 2, 0, 1))  # [O,I,kh,kw]
        if kh != kw or kh % 2 != 1:
            raise ValueError(f"kernel {kh}x{kw} not supported")
        if stride == 1:
            self.pre_pad: Optional[Tuple[int, int, int, int]] = None
            pad = (kh - 1) // 2
        elif stride == 2:
            # SAME with even input: total = k - 2, before = total // 2, after = total - before
            total = kh - 2
            before = total // 2
            self.pre_pad = (before, total - before, before, total - before)
            pad = 0
        else:
            raise ValueError(f"stride {stride} not supported")
        self.conv = nn.Conv2d(cin, cout, kh, stride=stride, padding=pad, groups=groups, bias=True)
        with torch.no_grad():
            self.conv.weight.copy_(torch.from_numpy(w))
            self.conv.bias.copy_(torch.from_numpy(np.ascontiguousarray(bias, dtype=np.float32)))
        self.relu6 = relu6
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pre_pad is not None and any(self.pre_pad):
            x = _ConstPad.apply(x, self.pre_pad)
        x = self.conv(x)
        if self.relu6:
            x = torch.clamp(x, 0.0, 6.0)
        return x


class _InvertedResidual(nn.Module):
    def __init__(self, expand: Optional[_TFConv], depthwise: _TFConv, project: _TFConv, residual: bool):
        super().__init__()
        self.expand = expand
        self.depthwise = depthwise
        self.project = project
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.expand is not None:
            y = self.expand(y)
        y = self.project(self.depthwise(y))
        if self.residual:
            y = x + y  # AddV2(block input, project output)
        return y


class MobileNetV2Features(nn.Module):
    """nsfwjs MobileNetV2-1.4 backbone.

    Input: float32 NCHW RGB in [0, 1] (nsfwjs divides uint8 pixels by 255), H and W multiples of 32.
    The graph's own hub_input normalisation (x * 2 - 1) is applied internally.

    Output: OrderedDict with keys stride4 (expanded_conv_2 out, 32 ch, H/4), stride8
    (expanded_conv_5, 48 ch, H/8), stride16 (expanded_conv_12, 136 ch, H/16), stride32
    (expanded_conv_16, 448 ch, H/32), final (Conv_1 + ReLU6 = Keras "out_relu", 1792 ch, H/32).
    """

    # Keras block_k == slim expanded_conv_k (block 0 == expanded_conv)
    TAP_BLOCKS = {2: "stride4", 5: "stride8", 12: "stride16", 16: "stride32"}

    def __init__(self, stem: _TFConv, blocks: List[_InvertedResidual], head: _TFConv, mul: float = 2.0, sub: float = 1.0):
        super().__init__()
        self.stem = stem
        self.blocks = nn.ModuleList(blocks)
        self.head = head
        self.in_mul = float(mul)
        self.in_sub = float(sub)

    @property
    def out_channels(self) -> "collections.OrderedDict[str, int]":
        ch = collections.OrderedDict()
        for i, k in self.TAP_BLOCKS.items():
            ch[k] = self.blocks[i].project.conv.out_channels
        ch["final"] = self.head.conv.out_channels
        return ch

    def forward(self, x: torch.Tensor) -> "collections.OrderedDict[str, torch.Tensor]":
        if not (torch.jit.is_tracing() or torch.jit.is_scripting()):
            if x.dim() != 4 or x.shape[1] != 3 or x.shape[2] % 32 or x.shape[3] % 32:
                raise ValueError(f"expected NCHW RGB with H, W multiples of 32, got {tuple(x.shape)}")
        out: "collections.OrderedDict[str, torch.Tensor]" = collections.OrderedDict()
        x = x * self.in_mul - self.in_sub  # hub_input/Mul, hub_input/Sub
        x = self.stem(x)
        for i, blk in enumerate(self.blocks):
            x = blk(x)
            key = self.TAP_BLOCKS.get(i)
            if key is not None:
                out[key] = x
        out["final"] = self.head(x)
        return out


class NsfwjsHead(nn.Module):
    """nsfwjs classifier on top of ``final``: AvgPool (global at 224: 7x7 VALID) + dense + softmax.

    Only used for whole-graph parity checks (classes: Drawing, Hentai, Neutral, Porn, Sexy)."""

    def __init__(self, w: np.ndarray, b: np.ndarray):
        super().__init__()
        self.fc = nn.Linear(w.shape[0], w.shape[1])
        with torch.no_grad():
            self.fc.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))
            self.fc.bias.copy_(torch.from_numpy(b))

    def forward(self, final: torch.Tensor) -> torch.Tensor:
        if final.shape[-2:] != (7, 7) and not torch.jit.is_tracing():
            raise ValueError("the nsfwjs head is a 7x7 VALID AvgPool: only defined for 224x224 inputs")
        return torch.softmax(self.fc(final.mean(dim=(2, 3))), dim=-1)


def _build(g: _Graph) -> MobileNetV2Features:
    P = "MobilenetV2"
    mul_y = float(g.w["hub_input/Mul/y"])
    sub_y = float(g.w["hub_input/Sub/y"])
    if g.node("hub_input/Mul")["op"] != "Mul" or g.node("hub_input/Sub")["op"] != "Sub":
        raise ValueError("unexpected hub_input ops")
    if g.inputs("hub_input/Sub") != ["hub_input/Mul", "hub_input/Sub/y"]:
        raise ValueError("unexpected hub_input/Sub inputs")

    stem_name = f"{P}/Conv/Relu6"
    w, b, s, r = g.fused_conv(stem_name, "hub_input/Sub", depthwise=False)
    stem = _TFConv(w, b, s, r, depthwise=False)
    prev = stem_name

    blocks: List[_InvertedResidual] = []
    i = 0
    while True:
        scope = f"{P}/expanded_conv" + ("" if i == 0 else f"_{i}")
        if not g.has(f"{scope}/depthwise/depthwise"):
            break
        block_in = prev
        expand = None
        x = block_in
        if g.has(f"{scope}/expand/Relu6"):
            w, b, s, r = g.fused_conv(f"{scope}/expand/Relu6", x, depthwise=False)
            expand = _TFConv(w, b, s, r, depthwise=False)
            x = f"{scope}/expand/Relu6"
        w, b, s, r = g.fused_conv(f"{scope}/depthwise/depthwise", x, depthwise=True)
        dw = _TFConv(w, b, s, r, depthwise=True)
        x = f"{scope}/depthwise/depthwise"
        proj_name = f"{scope}/project/BatchNorm/FusedBatchNormV3"
        w, b, s, r = g.fused_conv(proj_name, x, depthwise=False)
        if r:
            raise ValueError(f"{proj_name}: projection unexpectedly has Relu6")
        proj = _TFConv(w, b, s, r, depthwise=False)
        residual = g.has(f"{scope}/add")
        if residual:
            if g.node(f"{scope}/add")["op"] != "AddV2" or sorted(g.inputs(f"{scope}/add")) != sorted([block_in, proj_name]):
                raise ValueError(f"{scope}/add: unexpected structure")
            prev = f"{scope}/add"
        else:
            prev = proj_name
        blocks.append(_InvertedResidual(expand, dw, proj, residual))
        i += 1

    head_name = f"{P}/Conv_1/Relu6"
    w, b, s, r = g.fused_conv(head_name, prev, depthwise=False)
    head = _TFConv(w, b, s, r, depthwise=False)
    if len(blocks) != 17:
        raise ValueError(f"expected 17 inverted-residual blocks, found {len(blocks)}")
    return MobileNetV2Features(stem, blocks, head, mul_y, sub_y)


def _freeze(m: nn.Module) -> nn.Module:
    m.eval()
    for p in m.parameters():
        p.requires_grad_(False)
    return m


def load_nsfwjs_mobilenet_v2_mid(package_dir: str = DEFAULT_PACKAGE_DIR) -> MobileNetV2Features:
    """Build the backbone from the nsfwjs package files; eval mode, requires_grad False."""
    model_json, weights = read_nsfwjs_graph_model(package_dir)
    return _freeze(_build(_Graph(model_json, weights)))


def load_nsfwjs_head(package_dir: str = DEFAULT_PACKAGE_DIR) -> NsfwjsHead:
    """The nsfwjs 5-class head (for parity checks of the whole graph at 224x224)."""
    model_json, weights = read_nsfwjs_graph_model(package_dir)
    g = _Graph(model_json, weights)
    mm = g.node("StatefulPartitionedCall/sequential/dense/BiasAdd")
    ins = g.inputs("StatefulPartitionedCall/sequential/dense/BiasAdd")
    if mm["op"] != "_FusedMatMul" or mm["attr"]["transpose_b"]["b"] or mm["attr"]["transpose_a"]["b"]:
        raise ValueError("unexpected dense op")
    return _freeze(NsfwjsHead(g.w[ins[1]], g.w[ins[2]]))


if __name__ == "__main__":  # quick smoke test
    m = load_nsfwjs_mobilenet_v2_mid()
    with torch.no_grad():
        o = m(torch.rand(1, 3, 224, 224))
    print({k: tuple(v.shape) for k, v in o.items()})
