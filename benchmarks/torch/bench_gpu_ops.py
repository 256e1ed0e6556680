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
import math
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


def rotate_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


def op(c):
    """shapes.json gpu_ops, the same work as Viper.Benchmarks' GpuOpBenchmarks, written as a PyTorch user would."""
    d, kind = c["dims"], c["op"]
    h = dict(device="cuda", dtype=torch.float16)
    if kind == "linear":
        x, w, b = torch.randn(d[0], d[2], **h), torch.randn(d[1], d[2], **h), torch.randn(d[1], **h)
        return lambda: F.linear(x, w, b)
    if kind == "layer_norm":
        x, g, b = torch.randn(d[0], d[1], **h), torch.randn(d[1], **h), torch.randn(d[1], **h)
        return lambda: F.layer_norm(x, (d[1],), g, b, 1e-5)
    if kind == "rms_norm":  # transformers' MistralRMSNorm
        x, g = torch.randn(d[0], d[1], **h), torch.randn(d[1], **h)

        def rms():
            xf = x.float()
            return g * (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + 1e-5)).half()
        return rms
    if kind == "geglu":  # diffusers GEGLU after its projection
        x = torch.randn(*d, **h)

        def geglu():
            a, gate = x.chunk(2, dim=-1)
            return a * F.gelu(gate)
        return geglu
    if kind == "swiglu":
        gate, up = torch.randn(*d, **h), torch.randn(*d, **h)
        return lambda: F.silu(gate) * up
    if kind in ("quick_gelu", "gelu_tanh", "silu"):
        x = torch.randn(*d, **h)
        return {"quick_gelu": lambda: x * torch.sigmoid(1.702 * x),
                "gelu_tanh": lambda: F.gelu(x, approximate="tanh"),
                "silu": lambda: F.silu(x)}[kind]
    if kind == "upsample":
        x = torch.randn(d[0], d[3], d[1], d[2], **h).to(memory_format=torch.channels_last)
        return lambda: F.interpolate(x, scale_factor=2.0, mode="nearest")
    if kind == "concat":
        a = torch.randn(d[0], d[3], d[1], d[2], **h).to(memory_format=torch.channels_last)
        b = torch.randn(d[0], d[4], d[1], d[2], **h).to(memory_format=torch.channels_last)
        return lambda: torch.cat([a, b], dim=1)
    if kind == "embedding":
        table = torch.randn(d[1], d[2], **h)
        ids = (torch.arange(d[0], device="cuda") * 7919) % d[1]
        return lambda: F.embedding(ids, table)
    if kind == "rotary":  # transformers' apply_rotary_pos_emb with precomputed cos/sin
        x = torch.randn(1, d[1], d[0], d[2], **h)
        inv = 1.0 / (10000 ** (torch.arange(0, d[2], 2, device="cuda").float() / d[2]))
        angles = torch.outer(torch.arange(d[0], device="cuda").float(), inv)
        emb = torch.cat((angles, angles), dim=-1)
        cos, sin = emb.cos().half(), emb.sin().half()
        return lambda: x * cos + rotate_half(x) * sin
    if kind == "cast":
        x = torch.randn(*d, **h)
        return lambda: x.float()
    if kind == "argmax":
        x = torch.randn(*d, **h)
        return lambda: x.argmax(dim=-1)
    if kind == "timestep_embedding":  # diffusers get_timestep_embedding, flip_sin_to_cos, shift 0
        t = torch.rand(d[0], device="cuda") * 1000
        half = d[1] // 2

        def temb():
            freqs = torch.exp(-math.log(10000) * torch.arange(half, device="cuda", dtype=torch.float32) / half)
            e = t[:, None] * freqs[None, :]
            return torch.cat([torch.cos(e), torch.sin(e)], dim=-1)
        return temb
    raise ValueError(f"unknown op {kind} in {c['name']}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with open(os.path.join(HERE, "..", "shapes.json")) as f:
        shapes = json.load(f)
    results = {"torch": torch.__version__, "device": torch.cuda.get_device_name(), "cases": {}}
    for family, make in (("gpu_attention", attention), ("gpu_group_norm", group_norm), ("gpu_conv", conv), ("gpu_guidance", guidance),
                         ("gpu_ops", op)):
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
