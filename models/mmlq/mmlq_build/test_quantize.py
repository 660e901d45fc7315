"""Unit tests of mmlq_build.quantize's graph rewrites and its shipping rule (Debian's onnx, no onnxruntime).

  PYTHONPATH=models/mmlq /usr/bin/python3 -m unittest mmlq_build.test_quantize    (also run by the smoke build)
"""
import unittest

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

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
