"""Folding TF-style "same" padding into convolutions.

Graphs converted from TensorFlow (the FaceRes body among them) compute each convolution's
padding at run time from the input's shape: a Shape/Gather/Cast/Concat chain feeding a
``Pad`` before the ``Conv``, about 800 small nodes in FaceRes that cost more CPU than its 27
convolutions. For a fixed input size those pads are constants: :func:`fold_same_padding`
evaluates them, writes them into each ``Conv``'s own ``pads``, drops what is left unused,
and checks that the folded graph computes the same outputs before it is written.
"""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

import numpy as np

from .._fs import write_bytes_atomic
from ..errors import ModelError


def fold_same_padding(src: Path, dst: Path, *, fp32: bool = False) -> dict[str, float]:
    """Write ``src`` with every dynamic Pad folded into its Conv's pads (outputs identical)."""
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError as e:
        raise ModelError('folding an ONNX graph needs onnx: pip install "agegender[convert]"') from e
    import onnxruntime as ort

    m = onnx.load(str(src))
    g = m.graph
    (inp,) = g.input
    dims = [d.dim_value for d in inp.type.tensor_type.shape.dim]
    pads_nodes = [n for n in g.node if n.op_type == "Pad"]
    probe = onnx.load(str(src))
    for n in pads_nodes:
        probe.graph.output.append(helper.make_tensor_value_info(n.input[1], onnx.TensorProto.INT64, None))
    sess = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    pads: dict[str, list[int]] = {}
    for batch in (1, 5):
        got = dict(zip(names, sess.run(None, {inp.name: np.zeros([batch, *dims[1:]], np.float32)})))
        for n in pads_nodes:
            v = [int(p) for p in got[n.input[1]]]
            if pads.setdefault(n.output[0], v) != v:
                raise ModelError(f"{src}: {n.name}: its pads depend on the batch size; cannot fold")
    users: dict[str, list[Any]] = collections.defaultdict(list)
    for n in g.node:
        for i in n.input:
            users[i].append(n)
    for n in pads_nodes:
        p = pads[n.output[0]]
        mode = [a.s for a in n.attribute if a.name == "mode"]
        (conv,) = users[n.output[0]]
        ok = (conv.op_type == "Conv" and mode in ([], [b"constant"]) and (len(n.input) < 3 or not n.input[2])
              and p[0] == p[1] == p[4] == p[5] == 0 and min(p) >= 0)
        if not ok:
            raise ModelError(f"{src}: {n.name}: not a zero Pad over H and W feeding one Conv; cannot fold")
        for a in conv.attribute:
            if a.name == "pads":
                if list(a.ints) != [0, 0, 0, 0]:
                    raise ModelError(f"{src}: {conv.name} already has pads; cannot fold")
                a.ints[:] = [p[2], p[3], p[6], p[7]]
        conv.input[0] = n.input[0]
    if fp32:  # Cast(float16 initializer) -> a float32 initializer
        inits = {t.name: t for t in g.initializer}
        for n in list(g.node):
            if n.op_type == "Cast" and n.input[0] in inits and inits[n.input[0]].data_type == onnx.TensorProto.FLOAT16:
                arr = numpy_helper.to_array(inits[n.input[0]]).astype(np.float32)
                g.initializer.append(numpy_helper.from_array(arr, n.output[0]))
                g.node.remove(n)
    live = {o.name for o in g.output}
    keep = []
    for n in reversed(list(g.node)):  # what the outputs need, nothing else
        if any(o in live for o in n.output):
            keep.append(n)
            live.update(i for i in n.input if i)
    del g.node[:]
    g.node.extend(reversed(keep))
    kept = [t for t in g.initializer if t.name in live]
    del g.initializer[:]
    g.initializer.extend(kept)
    del g.value_info[:]
    m = onnx.shape_inference.infer_shapes(m)
    onnx.checker.check_model(m)
    folded = m.SerializeToString()
    a = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"])
    b = ort.InferenceSession(folded, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).uniform(-124, 152, (7, *dims[1:])).astype(np.float32)
    diff = max(float(np.abs(u - v).max()) for u, v in zip(a.run(None, {inp.name: x}), b.run(None, {inp.name: x})))
    if diff > 1e-5:
        raise ModelError(f"the folded graph differs from {src} by {diff}; not written")
    before = len(onnx.load(str(src)).graph.node)
    write_bytes_atomic(Path(dst), folded)
    return {"nodes_before": before, "nodes_after": len(m.graph.node), "max_abs_diff": diff}
