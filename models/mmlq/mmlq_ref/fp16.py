"""float16 rounding of a torch model, as the ONNX export stores its weights."""
from __future__ import annotations

import torch
from torch import nn


def round_fp16_(module: nn.Module, min_elems: int = 1024) -> nn.Module:
    """Round every float32 parameter / buffer with >= min_elems elements to float16 values in place
    (the export stores those as float16; the torch reference then matches the graph exactly)."""
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            if t.dtype == torch.float32 and t.numel() >= min_elems:
                t.copy_(t.half().float())
    return module
