#!/usr/bin/env python3
"""PyTorch (CPU) timings of the shapes in benchmarks/shapes.json, the same work Viper.Benchmarks times.

Run with Debian's python3-torch:  /usr/bin/python3 benchmarks/torch/bench_cpu_ops.py --threads 2 --out torch.json
GEMM: F.linear with bias. Conv: F.conv2d on channels_last f32 (NHWC in memory, as the engine), explicit
asymmetric padding through F.pad like diffusers' Downsample2D. Attention: diffusers' AttnProcessor math
(baddbmm, softmax, bmm with heads folded into the batch), since PyTorch 1.13 has no SDPA.
CLIP (cpu_models): the plain-PyTorch CLIP forward of tools/refs/make_clip_model_refs.py (transformers' math)
with random weights of the shapes in weights-manifest/<component>.json.
Each case: 3 warm-ups, then the median of 10 timed runs.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "refs"))
import make_clip_model_refs  # noqa: E402  (the reference CLIP forward)


def median_ms(fn, warmup=3, iterations=10):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def gemm(case):
    x, w, b = torch.randn(case["m"], case["k"]), torch.randn(case["n"], case["k"]), torch.randn(case["n"])
    return lambda: F.linear(x, w, b)


def conv(case):
    x = torch.randn(1, case["cin"], case["h"], case["w"]).to(memory_format=torch.channels_last)
    w = torch.randn(case["cout"], case["cin"], case["kernel"], case["kernel"]).to(memory_format=torch.channels_last)
    b = torch.randn(case["cout"])
    top, bottom, left, right = case["padding"]
    if top == bottom and left == right:
        return lambda: F.conv2d(x, w, b, stride=case["stride"], padding=(top, left))
    return lambda: F.conv2d(F.pad(x, (left, right, top, bottom)), w, b, stride=case["stride"])


def attention(case):
    bsz, tq, tk, h, d = case["batch"], case["tq"], case["tk"], case["heads"], case["head_dim"]
    q, k, v = torch.randn(bsz, tq, h * d), torch.randn(bsz, tk, h * d), torch.randn(bsz, tk, h * d)
    mask = torch.full((tq, tk), float("-inf")).triu(1 + tk - tq) if case["causal"] else None

    def heads(t):
        return t.view(bsz, -1, h, d).transpose(1, 2).reshape(bsz * h, -1, d)

    def run():
        qh, kh, vh = heads(q), heads(k), heads(v)
        bias = torch.zeros(bsz * h, tq, tk) if mask is None else mask.expand(bsz * h, tq, tk)
        scores = torch.baddbmm(bias, qh, kh.transpose(1, 2), beta=0 if mask is None else 1, alpha=1 / math.sqrt(d))
        out = torch.bmm(scores.softmax(-1), vh)
        return out.view(bsz, h, tq, d).transpose(1, 2).reshape(bsz, tq, h * d)

    return run


def clip(case):
    with open(os.path.join(HERE, "..", "..", "weights-manifest", case["component"] + ".json")) as f:
        manifest = json.load(f)
    gen = torch.Generator().manual_seed(1)
    sd = {name: torch.rand(t["shape"], generator=gen) * 0.04 - 0.02 for name, t in manifest["tensors"].items()}
    cfg = dict(case, layer_norm_eps=1e-5, eos_token_id=2)
    if "image_size" in case:
        pixels = torch.rand(case["batch"], case["image_size"], case["image_size"], 3, generator=gen)
        return lambda: make_clip_model_refs.vision(sd, cfg, pixels)
    ids = torch.randint(0, 49406, (case["batch"], case["tokens"]), generator=gen)
    return lambda: make_clip_model_refs.text(sd, cfg, ids)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with open(os.path.join(HERE, "..", "shapes.json")) as f:
        shapes = json.load(f)
    results = {"torch": torch.__version__, "threads": torch.get_num_threads(), "cases": {}}
    with torch.no_grad():
        for family, make in (("cpu_gemm", gemm), ("cpu_conv", conv), ("cpu_attention", attention), ("cpu_models", clip)):
            for case in shapes[family]:
                results["cases"][case["name"]] = median_ms(make(case))
                print(f"{case['name']}: {results['cases'][case['name']]:.3f} ms", flush=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
