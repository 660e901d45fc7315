"""Rewrites of the default model's graph that onnxruntime runs faster on a CPU.

The first three change how the graph computes, not what (beyond float rounding); they are
`quantize --fast-graph`:

1. `slice_small_convs`: a single-channel 3x3 convolution with a constant kernel (the pixel statistics'
   Laplacian, at three scales) becomes a weighted sum of shifted Slices.  onnxruntime's NCHWc layout
   pass blocks a Conv's output channels by 16 (8 on AVX2), so a 1 -> 1 channel Conv computes and writes
   16 channels, 15 of them padding, then reorders the result back: on 8 x 448 x 448 that single Conv
   was 23% of the int8 graph's time.
2. `fold_input_affine`: the backbone's input scaling `x * 2 - 1` (TF MobileNet's [-1, 1]) goes into the
   stem Conv's weights and bias (w' = a w, b' = b + c sum(w)); its zero Pad becomes a Pad with the
   value that maps to zero (-c / a = 0.5), so the border stays exact.  Two full-size float passes less
   (9% of the int8 graph), and the int8 stem then reads the pixels at scale 1/255: lossless.
3. `hoist_quantize_over_pad` (after quantization): the stem's Quantize before its Pad, uint8 padding.

`backbone_input_size` is not exact: the backbone reads a smaller image (the `lowres` variant), and
`validate --scores` judges what that costs.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

INT_MAX = 2**62


def const_value(model: onnx.ModelProto, name: str):
    """The value of an initializer or Constant node by name, or None."""
    for init in model.graph.initializer:
        if init.name == name:
            return numpy_helper.to_array(init)
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output[0] == name:
            return numpy_helper.to_array(node.attribute[0].t)
    return None


def _attr(node: onnx.NodeProto, name: str, default=None):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def consumers_of(model: onnx.ModelProto) -> dict[str, list[onnx.NodeProto]]:
    """Each tensor name -> the nodes that read it."""
    out: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        for name in node.input:
            out.setdefault(name, []).append(node)
    return out


def _init(model: onnx.ModelProto, name: str, value: np.ndarray) -> str:
    model.graph.initializer.append(numpy_helper.from_array(np.asarray(value), name))
    return name


def slice_small_convs(model: onnx.ModelProto) -> int:
    """Rewrite constant-kernel 1 -> 1 channel Convs (no bias, stride 1, no pads) as shifted Slices."""
    new_nodes: list[onnx.NodeProto] = []
    done = 0
    for node in model.graph.node:
        w = const_value(model, node.input[1]) if node.op_type == "Conv" and len(node.input) == 2 else None
        if (w is None or w.ndim != 4 or w.shape[:2] != (1, 1) or _attr(node, "group", 1) != 1
                or list(_attr(node, "strides", [1, 1])) != [1, 1]
                or any(_attr(node, "pads", [0, 0, 0, 0])) or any(d != 1 for d in _attr(node, "dilations", [1, 1]))
                or _attr(node, "auto_pad", b"NOTSET") not in (b"NOTSET", b"")):
            new_nodes.append(node)
            continue
        kh, kw = w.shape[2:]
        x, y, tag = node.input[0], node.output[0], node.name or node.output[0]
        axes = _init(model, f"{tag}/slice_axes", np.array([2, 3], np.int64))
        # Group taps by weight: one Sum of the shifted Slices per distinct weight, then scale and add.
        by_weight: dict[float, list[tuple[int, int]]] = {}
        for i in range(kh):
            for j in range(kw):
                if w[0, 0, i, j] != 0:
                    by_weight.setdefault(float(w[0, 0, i, j]), []).append((i, j))
        terms = []
        for k, (weight, taps) in enumerate(sorted(by_weight.items(), key=lambda t: -len(t[1]))):
            parts = []
            for i, j in taps:
                starts = _init(model, f"{tag}/s{i}{j}_starts", np.array([i, j], np.int64))
                ends = _init(model, f"{tag}/s{i}{j}_ends",
                             np.array([i - kh + 1 if i < kh - 1 else INT_MAX, j - kw + 1 if j < kw - 1 else INT_MAX],
                                      np.int64))
                out = f"{tag}/s{i}{j}"
                new_nodes.append(helper.make_node("Slice", [x, starts, ends, axes], [out], name=out))
                parts.append(out)
            total = parts[0]
            if len(parts) > 1:
                total = f"{tag}/sum{k}"
                new_nodes.append(helper.make_node("Sum", parts, [total], name=total))
            terms.append((weight, total))
        # sum of weight * term: the most common weight first; +-1 need no Mul.
        acc = None
        for k, (weight, term) in enumerate(terms):
            last = k == len(terms) - 1
            out = y if last else f"{tag}/acc{k}"
            if acc is None:
                if weight == 1.0 and not last:
                    acc = term
                    continue
                c = _init(model, f"{tag}/w{k}", np.array(weight, w.dtype))
                new_nodes.append(helper.make_node("Mul", [term, c], [out], name=out))
            elif weight in (1.0, -1.0):
                new_nodes.append(helper.make_node("Add" if weight == 1.0 else "Sub", [acc, term], [out], name=out))
            else:
                scaled = f"{tag}/scaled{k}"
                c = _init(model, f"{tag}/w{k}", np.array(weight, w.dtype))
                new_nodes.append(helper.make_node("Mul", [term, c], [scaled], name=scaled))
                new_nodes.append(helper.make_node("Add", [acc, scaled], [out], name=out))
            acc = out
        if acc != y:  # a single term of weight 1
            new_nodes.append(helper.make_node("Identity", [acc], [y], name=f"{tag}/out"))
        done += 1
    del model.graph.node[:]
    model.graph.node.extend(new_nodes)
    return done


def fold_input_affine(model: onnx.ModelProto) -> int:
    """Fold Mul(x, a) -> Sub(., c') / Add(., c) -> [zero Pad] -> Conv into the Conv; returns how many."""
    consumers = consumers_of(model)
    inits = {i.name: i for i in model.graph.initializer}
    folded = 0
    for mul in list(model.graph.node):
        if mul.op_type != "Mul":
            continue
        a = const_value(model, mul.input[1])
        users = consumers.get(mul.output[0], [])
        if a is None or a.size != 1 or len(users) != 1 or users[0].op_type not in ("Sub", "Add"):
            continue
        shift = users[0]
        c = const_value(model, shift.input[1])
        if c is None or c.size != 1 or shift.input[0] != mul.output[0]:
            continue
        c = float(c) if shift.op_type == "Add" else -float(c)
        nxt = consumers.get(shift.output[0], [])
        if len(nxt) != 1:
            continue
        pad = nxt[0] if nxt[0].op_type == "Pad" else None
        conv = consumers.get(pad.output[0], [None])[0] if pad is not None else nxt[0]
        if pad is not None and (len(consumers.get(pad.output[0], [])) != 1 or _attr(pad, "mode", b"constant") != b"constant"
                                or (len(pad.input) > 2 and pad.input[2] and float(const_value(model, pad.input[2])) != 0.0)):
            continue
        if conv is None or conv.op_type != "Conv" or conv.input[1] not in inits or _attr(conv, "group", 1) != 1:
            continue
        if any(_attr(conv, "pads", [0, 0, 0, 0])) and pad is None:
            continue  # its own zero padding would no longer be exact
        w = numpy_helper.to_array(inits[conv.input[1]]).astype(np.float64)
        b = numpy_helper.to_array(inits[conv.input[2]]).astype(np.float64) if len(conv.input) > 2 else np.zeros(w.shape[0])
        a = float(a)
        dtype = numpy_helper.to_array(inits[conv.input[1]]).dtype
        inits[conv.input[1]].CopyFrom(numpy_helper.from_array((w * a).astype(dtype), conv.input[1]))
        bias = (b + c * w.sum(axis=(1, 2, 3))).astype(dtype)
        if len(conv.input) > 2:
            inits[conv.input[2]].CopyFrom(numpy_helper.from_array(bias, conv.input[2]))
        else:
            conv.input.append(_init(model, f"{conv.name}/folded_bias", bias))
        if pad is not None:
            value = _init(model, f"{pad.name}/folded_value", np.array(-c / a, dtype))
            del pad.input[2:]
            pad.input.append(value)
            pad.input[0] = mul.input[0]
        else:
            conv.input[0] = mul.input[0]
        model.graph.node.remove(mul)
        model.graph.node.remove(shift)
        folded += 1
    return folded


def hoist_quantize_over_pad(model: onnx.ModelProto) -> int:
    """After quantization: Pad(x, v) -> QuantizeLinear(s, z) becomes QuantizeLinear(x) -> Pad(uint8, q(v)).

    Quantizing each element commutes with padding, so this is exact; the Pad then moves a quarter of the
    bytes and onnxruntime's QDQ fusion reads the padded uint8 tensor straight into the stem's QLinearConv.
    (onnxruntime's quantizer leaves a quantized Pad as DequantizeLinear -> float Pad -> QuantizeLinear.)"""
    consumers = consumers_of(model)
    graph_inputs = {i.name for i in model.graph.input}
    done = 0
    for pad in list(model.graph.node):
        users = consumers.get(pad.output[0], [])
        if pad.op_type != "Pad" or pad.input[0] not in graph_inputs or len(users) != 1 \
                or users[0].op_type != "QuantizeLinear" or _attr(pad, "mode", b"constant") != b"constant":
            continue
        q = users[0]
        scale, zero = const_value(model, q.input[1]), const_value(model, q.input[2]) if len(q.input) > 2 else None
        value = const_value(model, pad.input[2]) if len(pad.input) > 2 and pad.input[2] else np.array(0.0)
        if scale is None or zero is None or value is None or scale.size != 1:
            continue
        info = np.iinfo(zero.dtype)
        qv = np.clip(np.round(float(value) / float(scale)) + int(zero), info.min, info.max).astype(zero.dtype)
        x, padded = pad.input[0], q.output[0]
        hoisted = f"{x}_quantized_before_pad"
        q.input[0] = x
        q.output[0] = hoisted
        pad.input[0] = hoisted
        del pad.input[2:]
        pad.input.append(_init(model, f"{pad.name}/quantized_value", qv))
        pad.output[0] = padded
        # Topological order: the QuantizeLinear now runs first.
        model.graph.node.remove(q)
        model.graph.node.insert(list(model.graph.node).index(pad), q)
        done += 1
    return done


def backbone_input_size(model: onnx.ModelProto, size: int, backbone_input: str = "/encoder/backbone/Mul") -> int:
    """The backbone reads the image resized to size x size (bilinear) instead of the model's input size.

    Not exact, unlike the rewrites above: a cheaper graph with the same weights (the `lowres` variant).
    Only the backbone's input changes: the pixel statistics still read the full-size pixels, and the head
    takes the smaller token grid as it is (its queries attend over any number of tokens). Whether it still
    ranks as the model does is for `validate --scores` to say. Returns 1, or 0 when the backbone's first
    node reads something else than the graph's image input."""
    node = next((n for n in model.graph.node if n.name == backbone_input), None)
    image = model.graph.input[0].name
    if node is None or node.input[0] != image:
        return 0
    resized = f"{image}_backbone_{size}"
    hw = _init(model, f"/backbone_input/{size}", np.array([size, size], np.int64))
    nodes = [helper.make_node("Shape", [image], ["/backbone_input/nc"], name="/backbone_input/Shape", start=0, end=2),
             helper.make_node("Concat", ["/backbone_input/nc", hw], ["/backbone_input/sizes"], name="/backbone_input/Concat",
                              axis=0),
             helper.make_node("Resize", [image, "", "", "/backbone_input/sizes"], [resized], name="/backbone_input/Resize",
                              mode="linear")]
    node.input[0] = resized
    at = list(model.graph.node).index(node)
    for k, n in enumerate(nodes):
        model.graph.node.insert(at + k, n)
    return 1


def rewrite(model: onnx.ModelProto) -> dict:
    """Both rewrites, in place; returns what each did."""
    return {"input_affine_folded": fold_input_affine(model), "small_convs_sliced": slice_small_convs(model)}
