#!/usr/bin/env python3
"""PyTorch (CUDA) timings of the shapes in benchmarks/shapes.json gpu_*, the same work Viper.Benchmarks' Gpu*
classes time, in f16: F.scaled_dot_product_attention on (B, H, T, D), F.group_norm + F.silu, F.conv2d on
channels_last tensors (cuDNN), the guidance step written out in PyTorch, and a 1 GiB device copy (the
bandwidth yardstick). Each case is captured in a CUDA graph and replayed: the median of 20 replays after 3,
timed with CUDA events, as the C# side replays its captured graph.

Run on the GPU machine:  python3 benchmarks/torch/bench_gpu_ops.py --out torch_gpu.json
"""
import argparse
import json
import os
import statistics

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


def graph_median_ms(fn, warmup=3, iterations=20):
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(warmup):
            fn()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    times = []
    for _ in range(iterations):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        graph.replay()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def attention(c):
    q = torch.randn(c["batch"], c["heads"], c["tq"], c["head_dim"], device="cuda", dtype=torch.float16)
    k = torch.randn(c["batch"], c["heads"], c["tk"], c["head_dim"], device="cuda", dtype=torch.float16)
    v = torch.randn_like(k)
    return lambda: F.scaled_dot_product_attention(q, k, v, is_causal=c["causal"])


def group_norm(c):
    x = torch.randn(c["batch"], c["channels"], c["h"], c["w"], device="cuda", dtype=torch.float16).to(memory_format=torch.channels_last)
    g = torch.randn(c["channels"], device="cuda", dtype=torch.float16)
    b = torch.randn_like(g)
    if c["temb"]:  # diffusers ResnetBlock2D: norm2(hidden_states + temb[:, :, None, None])
        t = torch.randn(c["batch"], c["channels"], 1, 1, device="cuda", dtype=torch.float16)
        return lambda: F.silu(F.group_norm(x + t, c["groups"], g, b, 1e-5))
    return lambda: F.silu(F.group_norm(x, c["groups"], g, b, 1e-5))


def conv(c):
    x = torch.randn(c["batch"], c["cin"], c["h"], c["w"], device="cuda", dtype=torch.float16).to(memory_format=torch.channels_last)
    w = torch.randn(c["cout"], c["cin"], c["kernel"], c["kernel"], device="cuda", dtype=torch.float16).to(memory_format=torch.channels_last)
    b = torch.randn(c["cout"], device="cuda", dtype=torch.float16)
    top, bottom, left, right = c["padding"]
    if top == bottom and left == right:
        return lambda: F.conv2d(x, w, b, stride=c["stride"], padding=(top, left))
    return lambda: F.conv2d(F.pad(x, (left, right, top, bottom)), w, b, stride=c["stride"])


def guidance(c):
    eps = [torch.randn(c["elements"], device="cuda", dtype=torch.float16) for _ in range(4)]
    x = torch.randn(c["elements"], device="cuda", dtype=torch.float32)
    w, bp, bn, sigma, sigma_next = 5.0, 0.85, 0.85, 1.0, 0.9

    def run():
        u = eps[0].float()
        e = u + w * (eps[1].float() + bp * eps[2].float() - u - bn * eps[3].float())
        x.add_(e, alpha=sigma_next - sigma)

    return run


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with open(os.path.join(HERE, "..", "shapes.json")) as f:
        shapes = json.load(f)
    results = {"torch": torch.__version__, "device": torch.cuda.get_device_name(), "cases": {}}
    for family, make in (("gpu_attention", attention), ("gpu_group_norm", group_norm), ("gpu_conv", conv), ("gpu_guidance", guidance)):
        for case in shapes[family]:
            results["cases"][case["name"]] = graph_median_ms(make(case))
            print(f"{case['name']}: {results['cases'][case['name']]:.4f} ms", flush=True)
    a = torch.empty(1 << 30, dtype=torch.uint8, device="cuda")
    b = torch.empty_like(a)
    results["cases"]["device_copy_1GiB"] = graph_median_ms(lambda: b.copy_(a))
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
