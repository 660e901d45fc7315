"""Unit tests of mmlq_build.quantize's and fastgraph's graph rewrites and the shipping rule (Debian's onnx, no
onnxruntime: the rewritten graphs are run by a small numpy evaluator and must give the same values).

  PYTHONPATH=models/mmlq /usr/bin/python3 -m unittest mmlq_build.test_quantize    (also run by the smoke build)
"""
import unittest

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from mmlq_build.fastgraph import backbone_input_size, fold_input_affine, hoist_quantize_over_pad, slice_small_convs
from mmlq_build.quantize import fold_pads, prune_unused, variant_failures


def graph(pad_mode="constant", pad_value=0.0, pads=(0, 0, 0, 0, 0, 0, 1, 1), second_user=False, conv_pads=(0, 0, 0, 0)):
    """x -> Pad -> Conv(3x3, stride 2) -> y (optionally the Pad's output also read by an Identity)."""
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    p = numpy_helper.from_array(np.array(pads, np.int64), "pads")
    v = numpy_helper.from_array(np.array(pad_value, np.float32), "value")
    nodes = [helper.make_node("Pad", ["x", "pads", "value"], ["xp"], name="pad", mode=pad_mode),
             helper.make_node("Conv", ["xp", "w"], ["y"], name="conv", kernel_shape=[3, 3], strides=[2, 2],
                              pads=list(conv_pads))]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4, "h", "w"])]
    if second_user:
        nodes.append(helper.make_node("Identity", ["xp"], ["z"], name="id"))
        outputs.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, ["n", 3, "h", "w"]))
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])], outputs,
                          initializer=[w, p, v])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def conv_pads(model):
    conv = next(n for n in model.graph.node if n.op_type == "Conv")
    return list(next(a.ints for a in conv.attribute if a.name == "pads")), conv.input[0]


class FoldPads(unittest.TestCase):
    def test_folds_a_zero_spatial_pad_into_its_only_conv(self):
        m = graph(conv_pads=(1, 0, 0, 1))
        self.assertEqual(fold_pads(m), 1)
        self.assertEqual([n.op_type for n in m.graph.node], ["Conv"])
        # pads are [top, left, bottom, right]: the Pad's bottom/right 1 added to the Conv's own
        self.assertEqual(conv_pads(m), ([1, 0, 1, 2], "x"))
        self.assertEqual(prune_unused(m), 2)  # the Pad's pads and value initializers
        self.assertEqual(sorted(i.name for i in m.graph.initializer), ["w"])
        onnx.checker.check_model(m)

    def test_leaves_pads_it_cannot_fold(self):
        for kwargs in ({"pad_mode": "reflect"}, {"pad_value": 1.0}, {"second_user": True},
                       {"pads": (0, 1, 0, 0, 0, 0, 0, 0)}):
            m = graph(**kwargs)
            self.assertEqual(fold_pads(m), 0, kwargs)
            self.assertEqual(conv_pads(m), ([0, 0, 0, 0], "xp"), kwargs)


def run(model, feeds):
    """A numpy evaluator for the few ops these graphs use (Debian's onnx 1.12 has no reference runtime)."""
    env = dict(feeds)
    env.update({i.name: numpy_helper.to_array(i) for i in model.graph.initializer})
    for n in model.graph.node:
        a = {x.name: helper.get_attribute_value(x) for x in n.attribute}
        x = [env[i] if i else None for i in n.input]
        if n.op_type == "Conv":
            w, (sh, sw) = x[1], a.get("strides", [1, 1])
            t, l, b, r = a.get("pads", [0, 0, 0, 0])
            xp = np.pad(x[0], ((0, 0), (0, 0), (t, b), (l, r)))
            kh, kw = w.shape[2:]
            oh, ow = (xp.shape[2] - kh) // sh + 1, (xp.shape[3] - kw) // sw + 1
            y = np.zeros((xp.shape[0], w.shape[0], oh, ow), np.float64)
            for i in range(kh):
                for j in range(kw):
                    y += np.einsum("nchw,oc->nohw", xp[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw], w[:, :, i, j])
            out = y + (x[2].reshape(1, -1, 1, 1) if len(x) > 2 else 0)
        elif n.op_type == "Slice":
            idx = [slice(None)] * x[0].ndim
            for st, en, ax in zip(x[1], x[2], x[3]):
                idx[ax] = slice(int(st), int(min(en, 2**31)))
            out = x[0][tuple(idx)]
        elif n.op_type == "Pad":
            k = len(x[1]) // 2
            out = np.pad(x[0], [(int(x[1][i]), int(x[1][i + k])) for i in range(k)], constant_values=x[2] if len(x) > 2 and x[2] is not None else 0)
        elif n.op_type == "QuantizeLinear":
            out = np.clip(np.rint(x[0] / x[1]) + x[2], 0, 255).astype(np.uint8)
        else:
            out = {"Sum": lambda *v: sum(v), "Add": np.add, "Sub": np.subtract, "Mul": np.multiply,
                   "Identity": lambda v: v}[n.op_type](*x)
        env[n.output[0]] = out
    return [env[o.name] for o in model.graph.output]


def model_of(nodes, inits, x_shape, out_shape, out_type=TensorProto.FLOAT):
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                          [helper.make_tensor_value_info("y", out_type, out_shape)],
                          initializer=[numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


class FastGraph(unittest.TestCase):
    x = np.random.default_rng(0).integers(0, 256, (2, 3, 9, 10)).astype(np.float32) / 255

    def test_a_one_channel_constant_conv_becomes_shifted_slices_with_the_same_values(self):
        lap = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], np.float32).reshape(1, 1, 3, 3)
        sobel = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], np.float32).reshape(1, 1, 3, 3)
        for k in (lap, sobel):
            m = model_of([helper.make_node("Conv", ["x", "k"], ["y"], name="c", kernel_shape=[3, 3])],
                         {"k": k}, [2, 1, 9, 10], [2, 1, 7, 8])
            x = self.x[:, :1]
            (want,) = run(m, {"x": x})
            self.assertEqual(slice_small_convs(m), 1)
            self.assertNotIn("Conv", [n.op_type for n in m.graph.node])
            onnx.checker.check_model(m)
            (got,) = run(m, {"x": x})
            np.testing.assert_allclose(got, want, atol=1e-6)

    def test_leaves_convs_it_cannot_slice(self):
        for k, attrs in ((np.ones((2, 1, 3, 3), np.float32), {}), (np.ones((1, 1, 3, 3), np.float32), {"strides": [2, 2]}),
                         (np.ones((1, 1, 3, 3), np.float32), {"pads": [1, 1, 1, 1]})):
            m = model_of([helper.make_node("Conv", ["x", "k"], ["y"], name="c", kernel_shape=[3, 3], **attrs)],
                         {"k": k}, [2, 1, 9, 10], ["n", "c", "h", "w"])
            self.assertEqual(slice_small_convs(m), 0, attrs)

    def affine(self):
        w = np.random.default_rng(1).normal(size=(4, 3, 3, 3)).astype(np.float32)
        nodes = [helper.make_node("Mul", ["x", "two"], ["m"], name="mul"),
                 helper.make_node("Sub", ["m", "one"], ["s"], name="sub"),
                 helper.make_node("Pad", ["s", "pads"], ["p"], name="pad", mode="constant"),
                 helper.make_node("Conv", ["p", "w", "b"], ["y"], name="conv", kernel_shape=[3, 3], strides=[2, 2])]
        return model_of(nodes, {"two": np.float32(2), "one": np.float32(1), "w": w, "b": np.arange(4, dtype=np.float32),
                                "pads": np.array([0, 0, 0, 0, 0, 0, 1, 1], np.int64)}, [2, 3, 9, 10], [2, 4, 5, 5])

    def test_folds_x_times_2_minus_1_into_the_stem_and_keeps_the_border_exact(self):
        m = self.affine()
        (want,) = run(m, {"x": self.x})
        self.assertEqual(fold_input_affine(m), 1)
        self.assertEqual([n.op_type for n in m.graph.node], ["Pad", "Conv"])
        onnx.checker.check_model(m)
        (got,) = run(m, {"x": self.x})
        np.testing.assert_allclose(got, want, atol=1e-5)  # the last row and column read the padding

    def test_moves_the_quantize_before_the_pad_exactly(self):
        nodes = [helper.make_node("Pad", ["x", "pads", "half"], ["p"], name="pad", mode="constant"),
                 helper.make_node("QuantizeLinear", ["p", "scale", "zero"], ["y"], name="q")]
        m = model_of(nodes, {"pads": np.array([0, 0, 0, 0, 0, 0, 1, 1], np.int64), "half": np.float32(0.25),
                             "scale": np.float32(1 / 255), "zero": np.uint8(0)}, [2, 3, 9, 10], [2, 3, 10, 11],
                     TensorProto.UINT8)
        (want,) = run(m, {"x": self.x})
        self.assertEqual(hoist_quantize_over_pad(m), 1)
        self.assertEqual([n.op_type for n in m.graph.node], ["QuantizeLinear", "Pad"])
        onnx.checker.check_model(m)
        (got,) = run(m, {"x": self.x})
        np.testing.assert_array_equal(got, want)
        self.assertEqual(int(want[0, 0, -1, -1]), 64)  # the padding, quantized: round(0.25 * 255)


class BackboneInputSize(unittest.TestCase):
    def graph(self, first_input="x"):
        nodes = [helper.make_node("Mul", [first_input, "two"], ["m"], name="/encoder/backbone/Mul"),
                 helper.make_node("ReduceMean", ["x"], ["stats"], name="/encoder/ReduceMean", keepdims=0),
                 helper.make_node("Identity", ["m"], ["y"], name="out")]
        return model_of(nodes, {"two": np.float32(2)}, ["n", 3, 448, 448], ["n", 3, "h", "w"])

    def test_resizes_only_what_the_backbone_reads(self):
        m = self.graph()
        self.assertEqual(backbone_input_size(m, 320), 1)
        onnx.checker.check_model(m)
        by_name = {n.name: n for n in m.graph.node}
        resize = by_name["/backbone_input/Resize"]
        self.assertEqual(resize.input[0], "x")
        self.assertEqual(by_name["/encoder/backbone/Mul"].input[0], resize.output[0])
        self.assertEqual(by_name["/encoder/ReduceMean"].input[0], "x")  # the pixel statistics keep the full size
        sizes = next(i for i in m.graph.initializer if i.name == "/backbone_input/320")
        self.assertEqual(numpy_helper.to_array(sizes).tolist(), [320, 320])
        names = [n.name for n in m.graph.node]
        self.assertLess(names.index("/backbone_input/Resize"), names.index("/encoder/backbone/Mul"))

    def test_refuses_a_graph_whose_backbone_reads_something_else(self):
        m = self.graph(first_input="two")
        self.assertEqual(backbone_input_size(m, 320), 0)
        self.assertNotIn("/backbone_input/Resize", [n.name for n in m.graph.node])


def figures(ordered, mild, gates):
    return {"ordered_pair_accuracy": ordered, "mild_accuracy": mild,
            "gates": [{"name": n, "pass": p, "value": 0.5, "target": ">= 0.9"} for n, p in gates]}


class VariantRule(unittest.TestCase):
    def test_keeps_the_floors_and_every_gate_fp32_passes(self):
        fp32 = figures(0.96, 0.94, [("crop", False), ("bw", True)])
        self.assertEqual(variant_failures(fp32, figures(0.95, 0.90, [("crop", False), ("bw", True)])), [])
        why = variant_failures(fp32, figures(0.94, 0.89, [("crop", False), ("bw", False)]))
        self.assertEqual(len(why), 3)
        self.assertIn("ordered-pair accuracy 0.94 < 0.95", why[0])
        self.assertIn("mild pairwise accuracy 0.89 < 0.9", why[1])
        self.assertIn("gate 'bw' passes in fp32, fails in int8", why[2])


if __name__ == "__main__":
    unittest.main()
