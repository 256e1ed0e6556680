#!/usr/bin/env python3
"""Writes tests/fixtures/ops/*.safetensors: inputs and PyTorch's outputs for every backend op.

Run with Debian's python3-torch (1.13, CPU):  /usr/bin/python3 tools/refs/make_op_fixtures.py
Each fixture's __metadata__ names the function here that made it ("generator") and the op's
parameters ("params", JSON). Layout conventions match the engine: convolutional activations NHWC,
conv weights (Cout, KH, KW, Cin), transformer activations (B, T, H*D).

Float16/bfloat16 fixtures hold inputs rounded to that dtype, the f32 reference computed from those
rounded inputs in float64 ("expected"), and a naive same-precision result ("naive": the op run by
PyTorch in that dtype where its CPU kernels support it, else computed in f32 and rounded once, as
metadata "naive" says). Tests require our error to be at most 2x the naive error.
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

import safetensors_io
from safetensors_io import DTYPES

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "ops")
LOW = {"f16": torch.float16, "bf16": torch.bfloat16}


def save(name, generator, tensors, **params):
    meta = {"generator": f"tools/refs/make_op_fixtures.py::{generator}", "params": json.dumps(params),
            "torch": torch.__version__}
    safetensors_io.write(os.path.join(OUT, name + ".safetensors"), tensors, meta)


def rnd(gen, *shape, scale=1.0):
    return torch.randn(*shape, generator=gen) * scale


def low_precision(name, generator, fn, inputs, dtype, **params):
    """Saves a low-precision fixture: rounded inputs, f64 reference, naive same-dtype result."""
    low = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in inputs.items()}
    expected = fn(**{k: (v.double() if v.is_floating_point() else v) for k, v in low.items()}).float()
    try:
        naive = fn(**low)
        how = "pytorch " + str(dtype)
        if naive.dtype != dtype:
            raise RuntimeError("op upcast")
    except RuntimeError:
        naive = fn(**{k: (v.float() if v.is_floating_point() else v) for k, v in low.items()}).to(dtype)
        how = "f32 compute, rounded once"
    tensors = dict(low)
    tensors["expected"] = expected
    tensors["naive"] = naive.to(dtype)
    save(name, generator, tensors, dtype=DTYPES[dtype], naive=how, **params)


# ---- GEMM ------------------------------------------------------------------------------------

def linear(gen):
    x, w, b = rnd(gen, 2, 13, 40), rnd(gen, 72, 40, scale=0.2), rnd(gen, 72)
    save("linear_f32", "linear", {"x": x, "weight": w, "bias": b, "expected": F.linear(x, w, b)})
    x2, w2 = rnd(gen, 77, 96), rnd(gen, 33, 96, scale=0.1)
    save("linear_nobias_f32", "linear", {"x": x2, "weight": w2, "expected": F.linear(x2, w2)})
    for tag, dt in LOW.items():
        low_precision(f"linear_{tag}", "linear", lambda x, weight, bias: F.linear(x, weight, bias),
                      {"x": x, "weight": w, "bias": b}, dt)


def matmul(gen):
    a, b = rnd(gen, 3, 17, 33), rnd(gen, 3, 33, 9)
    save("matmul_f32", "matmul", {"a": a, "b": b, "expected": 0.5 * torch.bmm(a, b)}, alpha=0.5, transpose_b=False)
    bt = rnd(gen, 3, 9, 33)
    save("matmul_tb_f32", "matmul", {"a": a, "b": bt, "expected": torch.bmm(a, bt.transpose(1, 2))}, alpha=1.0, transpose_b=True)


def matmul_transposed_a(gen):
    """aᵀ·b and aᵀ·bᵀ with a stored (B, K, M): the weight-gradient GEMM dW = dYᵀ·X."""
    at, b, bt = rnd(gen, 3, 33, 17), rnd(gen, 3, 33, 9), rnd(gen, 3, 9, 33)
    save("matmul_ta_f32", "matmul", {"a": at, "b": b, "expected": 2.0 * torch.bmm(at.transpose(1, 2), b)},
         alpha=2.0, transpose_a=True, transpose_b=False)
    save("matmul_ta_tb_f32", "matmul", {"a": at, "b": bt, "expected": torch.bmm(at.transpose(1, 2), bt.transpose(1, 2))},
         alpha=1.0, transpose_a=True, transpose_b=True)


def rotary_rows(gen):
    """Rotary positions per batch row (B, T): HF apply_rotary_pos_emb with position_ids of a left-padded batch."""
    heads, d, theta = 2, 16, 10000.0
    x = rnd(gen, 2, 9, heads * d)
    pos = torch.stack([torch.arange(3, 12), torch.clamp(torch.arange(-4, 5), min=0)]).to(torch.int32)
    inv_freq = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d))
    freqs = pos.float()[:, :, None] * inv_freq[None, None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    xh = x.view(2, 9, heads, d)
    y = xh * emb.cos()[:, :, None, :] + rotate_half(xh) * emb.sin()[:, :, None, :]
    save("rotary_rows_f32", "embeddings", {"x": x, "positions": pos, "expected": y.reshape(2, 9, heads * d)}, head_dim=d, theta=theta)


def kv_cache_write_rows(gen):
    """Each batch row's values written at its own position (sequences of different lengths in one decode batch)."""
    cache, values = rnd(gen, 3, 10, 12), rnd(gen, 3, 2, 12)
    positions = torch.tensor([0, 5, 8], dtype=torch.int32)
    after = cache.clone()
    for b, p in enumerate(positions.tolist()):
        after[b, p:p + 2] = values[b]
    save("kv_cache_write_rows_f32", "kv_cache_append", {"cache": cache, "values": values, "positions": positions, "expected": after})


def sum_leading(gen):
    """Sums over leading axes (a bias gradient over (B, T)), f32 and a bf16 input within twice the naive error."""
    x = rnd(gen, 3, 17, 24)
    save("sum_leading_2_f32", "sum_leading", {"x": x, "expected": x.sum(dim=(0, 1))}, axes=2)
    save("sum_leading_1_f32", "sum_leading", {"x": x, "expected": x.sum(dim=0)}, axes=1)
    for tag, dt in LOW.items():
        low_precision(f"sum_leading_2_{tag}", "sum_leading", lambda x: x.sum(dim=(0, 1)), {"x": x}, dt, axes=2)


# ---- convolution -----------------------------------------------------------------------------

def conv_nhwc(x, w, b, stride, pad):
    """x NHWC, w (Cout, KH, KW, Cin), pad (top, bottom, left, right) → NHWC."""
    xn = F.pad(x.permute(0, 3, 1, 2), (pad[2], pad[3], pad[0], pad[1]))
    y = F.conv2d(xn, w.permute(0, 3, 1, 2), b, stride=stride)
    return y.permute(0, 2, 3, 1).contiguous()


def conv2d(gen):
    cases = [("conv3x3_s1_f32", (2, 9, 11, 12), (20, 3, 3, 12), 1, (1, 1, 1, 1)),
             ("conv3x3_s2_vae_f32", (1, 10, 13, 8), (8, 3, 3, 8), 2, (0, 1, 0, 1)),
             ("conv3x3_s2_f32", (2, 9, 9, 8), (16, 3, 3, 8), 2, (1, 1, 1, 1)),
             ("conv1x1_f32", (2, 5, 7, 16), (24, 1, 1, 16), 1, (0, 0, 0, 0))]
    for name, xs, ws, stride, pad in cases:
        x, w, b = rnd(gen, *xs), rnd(gen, *ws, scale=0.2), rnd(gen, ws[0])
        save(name, "conv2d", {"x": x, "weight": w, "bias": b, "expected": conv_nhwc(x, w, b, stride, pad)},
             stride=stride, padding=list(pad))
    x, w, b = rnd(gen, 1, 8, 8, 32), rnd(gen, 32, 3, 3, 32, scale=0.1), rnd(gen, 32)
    for tag, dt in LOW.items():
        low_precision(f"conv3x3_s1_{tag}", "conv2d",
                      lambda x, weight, bias: conv_nhwc(x, weight, bias, 1, (1, 1, 1, 1)),
                      {"x": x, "weight": w, "bias": b}, dt, stride=1, padding=[1, 1, 1, 1])


# ---- norms -----------------------------------------------------------------------------------

def group_norm_nhwc(x, gamma, beta, groups, eps, silu):
    y = F.group_norm(x.permute(0, 3, 1, 2), groups, gamma, beta, eps).permute(0, 2, 3, 1).contiguous()
    return F.silu(y) if silu else y


def group_norm(gen):
    x, g, b = rnd(gen, 2, 6, 5, 32, scale=2.0) + 0.5, rnd(gen, 32), rnd(gen, 32)
    for silu in (False, True):
        save(f"group_norm{'_silu' if silu else ''}_f32", "group_norm",
             {"x": x, "gamma": g, "beta": b, "expected": group_norm_nhwc(x, g, b, 8, 1e-5, silu)},
             groups=8, eps=1e-5, silu=silu)
    xt = rnd(gen, 2, 19, 64)  # (B, T, C) as the UNet transformer's GroupNorm input, eps 1e-6
    gt, bt = rnd(gen, 64), rnd(gen, 64)
    save("group_norm_btc_f32", "group_norm",
         {"x": xt, "gamma": gt, "beta": bt,
          "expected": F.group_norm(xt.transpose(1, 2), 32, gt, bt, 1e-6).transpose(1, 2).contiguous()},
         groups=32, eps=1e-6, silu=False)
    for tag, dt in LOW.items():
        low_precision(f"group_norm_silu_{tag}", "group_norm",
                      lambda x, gamma, beta: group_norm_nhwc(x, gamma, beta, 8, 1e-5, True),
                      {"x": x, "gamma": g, "beta": b}, dt, groups=8, eps=1e-5, silu=True)


def layer_norm(gen):
    x, g, b = rnd(gen, 2, 7, 48) * 3 + 1, rnd(gen, 48), rnd(gen, 48)
    save("layer_norm_f32", "layer_norm", {"x": x, "gamma": g, "beta": b,
                                          "expected": F.layer_norm(x, (48,), g, b, 1e-5)}, eps=1e-5)
    save("layer_norm_noaffine_f32", "layer_norm", {"x": x, "expected": F.layer_norm(x, (48,), None, None, 1e-6)}, eps=1e-6)
    for tag, dt in LOW.items():
        low_precision(f"layer_norm_{tag}", "layer_norm",
                      lambda x, gamma, beta: F.layer_norm(x, (48,), gamma, beta, 1e-5),
                      {"x": x, "gamma": g, "beta": b}, dt, eps=1e-5)


def rms_norm_ref(x, gamma, eps):
    """transformers' MistralRMSNorm: x * rsqrt(mean(x^2) + eps) * weight, statistics in f32+."""
    xf = x.float() if x.dtype != torch.float64 else x
    y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
    return gamma * y.to(x.dtype)


def rms_norm(gen):
    x, g = rnd(gen, 2, 5, 64) * 2, rnd(gen, 64) * 0.3 + 1
    save("rms_norm_f32", "rms_norm", {"x": x, "gamma": g, "expected": rms_norm_ref(x, g, 1e-5)}, eps=1e-5)
    for tag, dt in LOW.items():
        low_precision(f"rms_norm_{tag}", "rms_norm", lambda x, gamma: rms_norm_ref(x, gamma, 1e-5),
                      {"x": x, "gamma": g}, dt, eps=1e-5)


# ---- attention -------------------------------------------------------------------------------

def attention_ref(q, k, v, hq, hkv, d, causal=False, key_lengths=None, scale=None, key_mask=None, bias=None):
    """softmax(scale q k^T + bias + mask) v with (B, T, H*D) layout; causal aligned to the end of the keys; key_mask (B, Tk)
    nonzero = attend; bias (B, 1 or H, Tq, Tk) added to the scaled scores."""
    bsz, tq, tk = q.shape[0], q.shape[1], k.shape[1]
    qh = q.view(bsz, tq, hq, d).transpose(1, 2)
    kh = k.view(bsz, tk, hkv, d).transpose(1, 2).repeat_interleave(hq // hkv, dim=1)
    vh = v.view(bsz, tk, hkv, d).transpose(1, 2).repeat_interleave(hq // hkv, dim=1)
    s = (qh @ kh.transpose(-1, -2)) * (scale if scale is not None else 1.0 / math.sqrt(d))
    if bias is not None:
        s = s + bias.to(s.dtype)
    mask = torch.zeros(bsz, 1, tq, tk, dtype=torch.bool)
    if key_mask is not None:
        mask |= (key_mask == 0)[:, None, None, :]
    if causal:
        mask |= torch.ones(tq, tk, dtype=torch.bool).triu(1 + tk - tq)
    if key_lengths is not None:
        mask |= (torch.arange(tk)[None, :] >= key_lengths[:, None])[:, None, None, :]
    s = s.masked_fill(mask, float("-inf"))
    return (s.softmax(-1) @ vh).transpose(1, 2).reshape(bsz, tq, hq * d)


def attention(gen):
    cases = [("attention_cross_f32", 2, 19, 23, 3, 3, 40, False, None),
             ("attention_causal_f32", 1, 17, 17, 4, 4, 16, True, None),
             ("attention_keypad_f32", 2, 12, 14, 2, 2, 24, False, [14, 9]),
             ("attention_gqa_causal_f32", 2, 11, 11, 8, 2, 32, True, None),
             ("attention_decode_gqa_f32", 1, 1, 29, 4, 1, 64, True, None),
             ("attention_chunk_prefill_f32", 1, 5, 21, 2, 1, 8, True, [18])]
    for name, bsz, tq, tk, hq, hkv, d, causal, lengths in cases:
        q, k, v = rnd(gen, bsz, tq, hq * d), rnd(gen, bsz, tk, hkv * d), rnd(gen, bsz, tk, hkv * d)
        kl = None if lengths is None else torch.tensor(lengths, dtype=torch.int32)
        tensors = {"q": q, "k": k, "v": v,
                   "expected": attention_ref(q.double(), k.double(), v.double(), hq, hkv, d, causal, kl).float()}
        if kl is not None:
            tensors["key_lengths"] = kl
        save(name, "attention", tensors, query_heads=hq, kv_heads=hkv, head_dim=d, causal=causal)
    q, k, v = rnd(gen, 2, 33, 2 * 40), rnd(gen, 2, 33, 2 * 40), rnd(gen, 2, 33, 2 * 40)
    for tag, dt in LOW.items():
        low_precision(f"attention_{tag}", "attention", lambda q, k, v: attention_ref(q, k, v, 2, 2, 40),
                      {"q": q, "k": k, "v": v}, dt, query_heads=2, kv_heads=2, head_dim=40, causal=False)


def attention_masks(gen):
    """Key masks with holes anywhere in the row and additive biases (shared or per head), alone and with causality, on
    the row kernel, the split-KV decode kernel (Tk 600) and, in f16/bf16, the flash kernel."""
    cases = [("attention_keymask_f32", 2, 6, 9, 4, 2, 16, False, [[1, 1, 0, 1, 1, 1, 0, 1, 1], [0, 1, 1, 1, 1, 1, 1, 1, 0]], None),
             ("attention_bias_causal_f32", 2, 5, 7, 2, 2, 8, True, [[1] * 7, [1, 0, 1, 1, 1, 1, 1]], 2),
             ("attention_decode_mask_f32", 1, 1, 600, 2, 1, 32, False, [[int(j % 7 != 3) for j in range(600)]], 1)]
    for name, bsz, tq, tk, hq, hkv, d, causal, mask, bias_heads in cases:
        q, k, v = rnd(gen, bsz, tq, hq * d), rnd(gen, bsz, tk, hkv * d), rnd(gen, bsz, tk, hkv * d)
        km = torch.tensor(mask, dtype=torch.int32)
        tensors = {"q": q, "k": k, "v": v, "key_mask": km}
        if bias_heads is not None:
            tensors["bias"] = rnd(gen, bsz, bias_heads, tq, tk) * 2
        tensors["expected"] = attention_ref(q.double(), k.double(), v.double(), hq, hkv, d, causal,
                                            key_mask=km, bias=tensors.get("bias")).float()
        save(name, "attention", tensors, query_heads=hq, kv_heads=hkv, head_dim=d, causal=causal)
    q, k, v = rnd(gen, 2, 33, 2 * 40), rnd(gen, 2, 33, 2 * 40), rnd(gen, 2, 33, 2 * 40)
    km = (torch.rand(2, 33, generator=gen) > 0.3).to(torch.int32)
    bias = rnd(gen, 2, 1, 33, 33)
    for tag, dt in LOW.items():
        low = {"q": q.to(dt), "k": k.to(dt), "v": v.to(dt)}
        expected = attention_ref(*(low[n].double() for n in ("q", "k", "v")), 2, 2, 40, key_mask=km, bias=bias).float()
        naive = attention_ref(*(low[n].float() for n in ("q", "k", "v")), 2, 2, 40, key_mask=km, bias=bias).to(dt)
        save(f"attention_mask_{tag}", "attention", {**low, "key_mask": km, "bias": bias, "expected": expected, "naive": naive},
             dtype=DTYPES[dt], naive="f32 compute, rounded once", query_heads=2, kv_heads=2, head_dim=40, causal=False)


# ---- elementwise -----------------------------------------------------------------------------

def activations(gen):
    x = torch.linspace(-9, 9, 1001) + rnd(gen, 1001) * 0.01
    refs = {"silu": F.silu(x), "gelu": F.gelu(x), "gelu_tanh": F.gelu(x, approximate="tanh"),
            "quick_gelu": x * torch.sigmoid(1.702 * x)}
    for act, y in refs.items():
        save(f"act_{act}_f32", "activations", {"x": x, "expected": y}, activation=act)
    h = rnd(gen, 3, 5, 48)
    hidden, gate = h.chunk(2, dim=-1)
    save("geglu_f32", "activations", {"x": h, "expected": hidden * F.gelu(gate)})
    g, u = rnd(gen, 3, 40), rnd(gen, 3, 40)
    save("swiglu_f32", "activations", {"gate": g, "up": u, "expected": F.silu(g) * u})
    for tag, dt in LOW.items():
        low_precision(f"act_gelu_{tag}", "activations", lambda x: F.gelu(x), {"x": x}, dt, activation="gelu")


def arithmetic(gen):
    a = rnd(gen, 2, 3, 4, 5)
    for name, bshape in [("same", (2, 3, 4, 5)), ("bias", (5,)), ("mid", (3, 1, 5)), ("time", (2, 1, 1, 5))]:
        b = rnd(gen, *bshape)
        save(f"add_{name}_f32", "arithmetic", {"a": a, "b": b, "expected": a + b})
        save(f"mul_{name}_f32", "arithmetic", {"a": a, "b": b, "expected": a * b})
    save("scale_f32", "arithmetic", {"x": a, "expected": a * 0.18215}, factor=0.18215)


def blockwise_elementwise(gen):
    """Half-precision element-by-element ops over 9003 values: the CPU backend widens and narrows them in blocks of
    2048 within chunks per thread, so these cross block and chunk edges at odd places."""
    g, u = rnd(gen, 3, 3001, scale=3.0), rnd(gen, 3, 3001)
    for tag, dt in LOW.items():
        low_precision(f"swiglu_{tag}", "blockwise_elementwise", lambda gate, up: F.silu(gate) * up, {"gate": g, "up": u}, dt)
        low_precision(f"add_same_{tag}", "blockwise_elementwise", lambda a, b: a + b, {"a": g, "b": u}, dt)
        low_precision(f"act_silu_{tag}", "blockwise_elementwise", lambda x: F.silu(x), {"x": g}, dt, activation="silu")


def clamp(gen):
    """torch.clamp with bounds inside the values' range (the schedulers' clip_sample), NaN and infinities passing through or clamped."""
    x = rnd(gen, 4, 9, 13, scale=2.0)
    x[0, 0, :3] = torch.tensor([float("nan"), float("inf"), float("-inf")])
    save("clamp_f32", "clamp", {"x": x, "expected": torch.clamp(x, -1.0, 1.0)}, min=-1.0, max=1.0)
    save("clamp_one_sided_f32", "clamp", {"x": x, "expected": torch.clamp(x, -0.5, float("inf"))}, min=-0.5, max="inf")
    for tag, dt in LOW.items():
        low_precision(f"clamp_{tag}", "clamp", lambda x: torch.clamp(x, -1.5, 1.5), {"x": x[1:]}, dt, min=-1.5, max=1.5)


# ---- layout ----------------------------------------------------------------------------------

def layout(gen):
    a, b, c = rnd(gen, 2, 3, 4, 5), rnd(gen, 2, 3, 4, 7), rnd(gen, 2, 3, 4, 1)
    save("concat_channels_f32", "layout", {"p0": a, "p1": b, "p2": c, "expected": torch.cat([a, b, c], -1)}, axis=-1)
    d = rnd(gen, 2, 5, 4, 5)
    save("concat_axis1_f32", "layout", {"p0": a, "p1": d, "expected": torch.cat([a, d], 1)}, axis=1)
    x = rnd(gen, 3, 4, 12)
    parts = torch.split(x, [5, 4, 3], dim=-1)
    save("split_channels_f32", "layout", {"x": x, **{f"expected{i}": p.contiguous() for i, p in enumerate(parts)}},
         axis=-1, sizes=[5, 4, 3])
    u = rnd(gen, 2, 3, 4, 5)
    up = F.interpolate(u.permute(0, 3, 1, 2), scale_factor=2.0, mode="nearest").permute(0, 2, 3, 1).contiguous()
    save("upsample_nearest2x_f32", "layout", {"x": u, "expected": up})


def narrow(gen):
    """torch.narrow along the first, a middle and the last axis (negative), f32 and a bf16 copy."""
    x = rnd(gen, 2, 5, 4, 6)
    for name, axis, start, length in [("axis0", 0, 1, 1), ("axis1", 1, 1, 3), ("last", -1, 2, 3)]:
        save(f"narrow_{name}_f32", "narrow", {"x": x, "expected": x.narrow(axis, start, length).contiguous()},
             axis=axis, start=start, length=length)
    xb = x.to(torch.bfloat16)
    save("narrow_last_bf16", "narrow", {"x": xb, "expected": xb.narrow(-1, 2, 3).contiguous()}, axis=-1, start=2, length=3)


# ---- embeddings ------------------------------------------------------------------------------

def get_timestep_embedding(timesteps, embedding_dim, flip_sin_to_cos=False, downscale_freq_shift=1, scale=1,
                           max_period=10000):
    """diffusers v0.29.2 embeddings.get_timestep_embedding, verbatim in behaviour."""
    half_dim = embedding_dim // 2
    exponent = -math.log(max_period) * torch.arange(start=0, end=half_dim, dtype=torch.float32)
    exponent = exponent / (half_dim - downscale_freq_shift)
    emb = torch.exp(exponent)
    emb = timesteps[:, None].float() * emb[None, :]
    emb = scale * emb
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half_dim:], emb[:, :half_dim]], dim=-1)
    if embedding_dim % 2 == 1:
        emb = F.pad(emb, (0, 1, 0, 0))
    return emb


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def embeddings(gen):
    table = rnd(gen, 50, 16)
    ids = torch.randint(0, 50, (2, 7), generator=gen)
    save("embedding_i64_f32", "embeddings", {"table": table, "ids": ids, "expected": F.embedding(ids, table)})
    save("embedding_i32_f32", "embeddings", {"table": table, "ids": ids.int(), "expected": F.embedding(ids, table)})
    t = torch.tensor([0.0, 1.0, 261.0, 500.5, 999.0])
    for name, dim, flip, shift in [("sd", 320, True, 0.0), ("default", 256, False, 1.0), ("odd", 7, True, 0.0)]:
        save(f"timestep_embedding_{name}_f32", "embeddings",
             {"timesteps": t, "expected": get_timestep_embedding(t, dim, flip, shift)},
             dim=dim, flip_sin_to_cos=flip, downscale_freq_shift=shift)
    heads, d, theta = 2, 16, 10000.0
    x = rnd(gen, 2, 9, heads * d)
    pos = torch.arange(3, 12, dtype=torch.int32)
    inv_freq = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d))
    freqs = pos.float()[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    xh = x.view(2, 9, heads, d)
    y = xh * emb.cos()[None, :, None, :] + rotate_half(xh) * emb.sin()[None, :, None, :]
    save("rotary_f32", "embeddings", {"x": x, "positions": pos, "expected": y.reshape(2, 9, heads * d)},
         head_dim=d, theta=theta)


# ---- casts and reductions --------------------------------------------------------------------

def casts(gen):
    special = torch.tensor([0.0, -0.0, 1.0, -1.0, 65504.0, 65520.0, 1e5, -1e5, 6e-8, 3e-8, 2.9e-8, 6.1e-5,
                            1.00048828125, 1.0009765625 + 2 ** -11, 1.001953125 + 2 ** -11, 3.14159265,
                            float("inf"), float("-inf"), float("nan"), 1.00390625, 1.01171875, 3.4e38, 1e-40])
    x = torch.cat([special, rnd(gen, 200) * 100])
    save("cast_f32_f16", "casts", {"x": x, "expected": x.half()})
    save("cast_f32_bf16", "casts", {"x": x, "expected": x.bfloat16()})
    h, bf = x.half(), x.bfloat16()
    save("cast_f16_f32", "casts", {"x": h, "expected": h.float()})
    save("cast_bf16_f32", "casts", {"x": bf, "expected": bf.float()})
    save("cast_f16_bf16", "casts", {"x": h, "expected": h.bfloat16()})
    save("cast_bf16_f16", "casts", {"x": bf, "expected": bf.half()})
    fi = torch.tensor([0.0, 0.5, -0.5, 1.9, -1.9, 2.5, -2.5, 1e6, -1e6, 123456.7])
    save("cast_f32_i32", "casts", {"x": fi, "expected": fi.int()})
    ii = torch.tensor([0, 1, -7, 2 ** 24 + 1, -(2 ** 40) - 3], dtype=torch.int64)
    save("cast_i64_f32", "casts", {"x": ii, "expected": ii.float()})


def reductions(gen):
    x = rnd(gen, 5, 33)
    save("argmax_f32", "reductions", {"x": x, "expected": x.argmax(-1).int()})
    save("mean_f32", "reductions", {"x": x, "expected": x.mean(-1)})
    y = rnd(gen, 3, 4, 768)
    y[0, 0] = 0.0  # the eps branch: a zero row stays zero
    save("l2_normalize_f32", "reductions", {"x": y, "expected": F.normalize(y, dim=-1)})


def logits(gen):
    """transformers' RepetitionPenaltyLogitsProcessor: gather, scale (× penalty if < 0 else ÷), scatter."""
    scores = rnd(gen, 2, 50) * 3
    ids = torch.tensor([[3, 7, 7, 49, 0], [11, 11, 2, 30, 30]], dtype=torch.int64)
    penalty = 1.3
    picked = torch.gather(scores, 1, ids)
    picked = torch.where(picked < 0, picked * penalty, picked / penalty)
    expected = scores.clone().scatter_(1, ids, picked)
    save("repetition_penalty_f32", "logits", {"logits": scores, "ids": ids, "expected": expected}, penalty=penalty)


def group_norm_add(gen):
    """GroupNorm of x + add: diffusers ResnetBlock2D's norm2(hidden_states + temb[:, :, None, None]) and a full-shape add."""
    x, g, b = rnd(gen, 2, 5, 3, 32, scale=2.0), rnd(gen, 32), rnd(gen, 32)
    temb, full = rnd(gen, 2, 32, scale=3.0), rnd(gen, 2, 5, 3, 32)
    save("group_norm_temb_silu_f32", "group_norm_add",
         {"x": x, "add": temb, "gamma": g, "beta": b,
          "expected": group_norm_nhwc(x + temb[:, None, None, :], g, b, 8, 1e-5, True)}, groups=8, eps=1e-5, silu=True)
    save("group_norm_full_add_f32", "group_norm_add",
         {"x": x, "add": full, "gamma": g, "beta": b, "expected": group_norm_nhwc(x + full, g, b, 8, 1e-5, False)},
         groups=8, eps=1e-5, silu=False)
    for tag, dt in LOW.items():
        low_precision(f"group_norm_temb_silu_{tag}", "group_norm_add",
                      lambda x, add, gamma, beta: group_norm_nhwc(x + add[:, None, None, :], gamma, beta, 8, 1e-5, True),
                      {"x": x, "add": temb, "gamma": g, "beta": b}, dt, groups=8, eps=1e-5, silu=True)


# ---- gradients (aesthetic gradients' backward pass) --------------------------------------------

def grads_of(fn, inputs, wrt, dy):
    """PyTorch autograd: the gradients of sum(fn(inputs) * dy) with respect to the inputs named in wrt."""
    leaves = {k: (v.clone().requires_grad_(k in wrt) if v.is_floating_point() else v) for k, v in inputs.items()}
    fn(**leaves).backward(dy)
    return {k: leaves[k].grad for k in wrt}


def save_gradients(name, fn, inputs, wrt, dy, **params):
    """f32 fixture: inputs, dy and expected_<input> for every input in wrt."""
    tensors = dict(inputs)
    tensors["dy"] = dy
    for k, g in grads_of(fn, inputs, wrt, dy).items():
        tensors["expected_" + k] = g
    save(name, "gradients", tensors, **params)


def low_precision_gradients(name, fn, inputs, wrt, dy, dtype, **params):
    """f16/bf16: rounded inputs, f64 autograd reference ("expected_<input>"), and the naive result: PyTorch's autograd in
    that dtype where its CPU kernels have it, else f32 autograd rounded once ("naive" says which)."""
    low = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in inputs.items()}
    low_dy = dy.to(dtype)
    expected = grads_of(fn, {k: (v.double() if v.is_floating_point() else v) for k, v in low.items()}, wrt, low_dy.double())
    try:
        naive = grads_of(fn, low, wrt, low_dy)
        how = "pytorch " + str(dtype)
    except RuntimeError:
        naive = {k: g.to(dtype) for k, g in grads_of(fn, {k: (v.float() if v.is_floating_point() else v) for k, v in low.items()},
                                                       wrt, low_dy.float()).items()}
        how = "f32 autograd, rounded once"
    tensors = dict(low)
    tensors["dy"] = low_dy
    for k in wrt:
        tensors["expected_" + k] = expected[k].float()
        tensors["naive_" + k] = naive[k].to(dtype)
    save(name, "gradients", tensors, dtype=DTYPES[dtype], naive=how, **params)


def gradients(gen):
    ids = torch.tensor([[3, 0, 6, 3, 3], [1, 6, 2, 0, 3]], dtype=torch.int32)
    emb = lambda table, ids: F.embedding(ids.long(), table)
    table, dy = rnd(gen, 7, 24), rnd(gen, 2, 5, 24)
    save_gradients("embedding_backward_f32", emb, {"table": table, "ids": ids}, ["table"], dy, rows=7)
    for tag, dt in LOW.items():
        low_precision_gradients(f"embedding_backward_{tag}", emb, {"table": table, "ids": ids}, ["table"], dy, dt, rows=7)

    ln = lambda x, gamma, beta: F.layer_norm(x, (48,), gamma, beta, 1e-5)
    x, g, b, dy = rnd(gen, 2, 7, 48) * 3 + 1, rnd(gen, 48), rnd(gen, 48), rnd(gen, 2, 7, 48)
    save_gradients("layer_norm_backward_f32", ln, {"x": x, "gamma": g, "beta": b}, ["x", "gamma", "beta"], dy, eps=1e-5)
    for tag, dt in LOW.items():
        low_precision_gradients(f"layer_norm_backward_{tag}", ln, {"x": x, "gamma": g, "beta": b}, ["x", "gamma", "beta"], dy, dt, eps=1e-5)

    cases = [("attention_backward_causal_f32", 1, 9, 9, 3, 3, 16, True),
             ("attention_backward_clip_f32", 1, 77, 77, 2, 2, 32, True),
             ("attention_backward_gqa_cross_f32", 2, 6, 11, 4, 2, 8, False),
             ("attention_backward_gqa_causal_f32", 2, 5, 8, 4, 1, 8, True)]
    for name, bsz, tq, tk, hq, hkv, d, causal in cases:
        att = lambda q, k, v, hq=hq, hkv=hkv, d=d, causal=causal: attention_ref(q, k, v, hq, hkv, d, causal)
        q, k, v, dy = rnd(gen, bsz, tq, hq * d), rnd(gen, bsz, tk, hkv * d), rnd(gen, bsz, tk, hkv * d), rnd(gen, bsz, tq, hq * d)
        save_gradients(name, att, {"q": q, "k": k, "v": v}, ["q", "k", "v"], dy, query_heads=hq, kv_heads=hkv, head_dim=d, causal=causal)
    att = lambda q, k, v: attention_ref(q, k, v, 2, 2, 16, True)
    q, k, v, dy = rnd(gen, 1, 13, 32), rnd(gen, 1, 13, 32), rnd(gen, 1, 13, 32), rnd(gen, 1, 13, 32)
    for tag, dt in LOW.items():
        low_precision_gradients(f"attention_backward_{tag}", att, {"q": q, "k": k, "v": v}, ["q", "k", "v"], dy, dt,
                                query_heads=2, kv_heads=2, head_dim=16, causal=True)

    acts = {"silu": F.silu, "gelu": F.gelu, "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
            "quick_gelu": lambda x: x * torch.sigmoid(1.702 * x)}
    x, dy = rnd(gen, 4, 33) * 3, rnd(gen, 4, 33)
    for act, f in acts.items():
        save_gradients(f"activation_backward_{act}_f32", lambda x, f=f: f(x), {"x": x}, ["x"], dy, activation=act)
    for tag, dt in LOW.items():
        for act in ("gelu", "quick_gelu"):
            low_precision_gradients(f"activation_backward_{act}_{tag}", lambda x, f=acts[act]: f(x), {"x": x}, ["x"], dy, dt, activation=act)

    x, dy = rnd(gen, 4, 16), rnd(gen, 4, 16)
    x[3] = 0.0  # a clamped row: the gradient is dy / eps
    save_gradients("l2_normalize_backward_f32", lambda x: F.normalize(x, dim=-1, eps=1e-3), {"x": x}, ["x"], dy, eps=1e-3)


def adam(gen):
    """torch.optim.Adam / AdamW over 3 steps with given gradients: the parameter after each step and the moments after the last."""
    cases = [("adam_f32", torch.optim.Adam, dict(lr=1e-3)),
             ("adam_weight_decay_f32", torch.optim.Adam, dict(lr=3e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
             ("adamw_f32", torch.optim.AdamW, dict(lr=1e-2, weight_decay=0.05))]
    for name, opt_class, hp in cases:
        p0 = rnd(gen, 300)
        grads = rnd(gen, 3, 300) * torch.tensor([1.0, 1e-3, 10.0])[:, None]
        grads[:, :5] = 0.0  # never-touched entries stay put
        p = p0.clone().requires_grad_(True)
        opt = opt_class([p], **hp)
        after = []
        for g in grads:
            p.grad = g.clone()
            opt.step()
            after.append(p.detach().clone())
        st = opt.state[p]
        save(name, "adam", {"param": p0, "grads": grads, "expected": torch.stack(after), "expected_m": st["exp_avg"],
                            "expected_v": st["exp_avg_sq"]}, optimizer=opt_class.__name__, lr=hp["lr"],
             beta1=hp.get("betas", (0.9, 0.999))[0], beta2=hp.get("betas", (0.9, 0.999))[1], eps=hp.get("eps", 1e-8),
             weight_decay=hp.get("weight_decay", 0.0))


# ---- weight formats (an independent numpy implementation of each format's quantizer) -----------------------------

E4M3_VALUES = np.array([(m / 8) * 2.0 ** -6 if e == 0 else (1 + m / 8) * 2.0 ** (e - 7)
                        for e in range(16) for m in range(8)][:127], dtype=np.float64)  # codes 0x00..0x7E


def e4m3_encode(v):
    """Nearest E4M3 code (ties to the even code, saturating at 448) by search over the code table."""
    a = np.minimum(np.abs(v.astype(np.float64)), 448.0)
    hi = np.clip(np.searchsorted(E4M3_VALUES, a), 1, 126)
    lo = hi - 1
    dlo, dhi = a - E4M3_VALUES[lo], E4M3_VALUES[hi] - a
    code = np.where(dlo < dhi, lo, np.where(dhi < dlo, hi, np.where(lo % 2 == 0, lo, hi)))
    return (code | np.where(np.signbit(v), 0x80, 0)).astype(np.uint8)


def e4m3_decode(q):
    v = E4M3_VALUES[q & 0x7F]
    return np.where(q & 0x80, -v, v)


def quantize_weight(fmt, w):
    """(stored bytes (N, row bytes), scale or None, dequantized float64) of w (N, K) float32, as llama.cpp / the engine define them."""
    n, k = w.shape
    if fmt == "int8":
        scale = (np.abs(w).max(axis=1) / np.float32(127)).astype(np.float32)
        q = np.clip(np.round(w / np.where(scale == 0, 1, scale)[:, None]), -127, 127).astype(np.int8)  # a zero row: scale 0, codes 0
        return q.view(np.uint8), scale, q.astype(np.float64) * scale[:, None]
    if fmt == "fp8_e4m3":
        scale = (np.abs(w).max(axis=1) / np.float32(448)).astype(np.float32)
        q = e4m3_encode((w / np.where(scale == 0, 1, scale)[:, None]).astype(np.float32))
        return q, scale, e4m3_decode(q) * scale[:, None]
    if fmt == "fp8_e5m2":  # read-only format: random finite codes (exponent < 31) and a random scale
        rs = np.random.RandomState(5)  # sign, exponent 8..18 (|value| 2^-7 … 2^4, like trained weights), mantissa
        q = ((rs.randint(0, 2, size=(n, k)) << 7) | (rs.randint(8, 19, size=(n, k)) << 2) | rs.randint(0, 4, size=(n, k))).astype(np.uint8)
        scale = np.random.RandomState(6).uniform(0.01, 0.02, size=n).astype(np.float32)
        values = (q.astype(np.uint16) << 8).view(np.float16).astype(np.float64)
        return q, scale, values * scale[:, None]
    blocks = w.reshape(n, k // 32, 32)
    if fmt == "q8_0":
        d = (np.abs(blocks).max(axis=2) / np.float32(127)).astype(np.float32)
        inv = np.where(d != 0, np.float32(1) / np.where(d != 0, d, 1), 0).astype(np.float32)
        x = (blocks * inv[:, :, None]).astype(np.float32)
        q = (np.sign(x) * np.floor(np.abs(x) + np.float32(0.5))).astype(np.int8)  # C roundf: half away from zero
        values = q.astype(np.float64)
    else:  # q4_0
        at = np.abs(blocks).argmax(axis=2)
        mx = np.take_along_axis(blocks, at[:, :, None], axis=2)[:, :, 0]
        d = (mx / np.float32(-8)).astype(np.float32)
        inv = np.where(d != 0, np.float32(1) / np.where(d != 0, d, 1), 0).astype(np.float32)
        x = (blocks * inv[:, :, None] + np.float32(8.5)).astype(np.float32)
        q = np.minimum(15, np.trunc(x)).astype(np.uint8)
        values = q.astype(np.float64) - 8
    dh = d.astype(np.float16)
    deq = (values * dh.astype(np.float64)[:, :, None]).reshape(n, k)
    scale_bytes = dh.view(np.uint8).reshape(n, k // 32, 2)
    if fmt == "q8_0":
        body = q.view(np.uint8)
    else:
        body = (q[:, :, :16] | (q[:, :, 16:] << 4)).astype(np.uint8)
    return np.concatenate([scale_bytes, body], axis=2).reshape(n, -1), None, deq


def quantized_linear(gen):
    """A linear over each weight format: the f32 source weight, the stored bytes and scale, and the f64 linear on the
    dequantized weight. Decode-sized (1 and 3 rows) and prefill-sized (26 rows) inputs; bf16 inputs carry the naive
    result (f32 compute on the dequantized weight, rounded once)."""
    n, k = 37, 96
    w = (rnd(gen, n, k) * 0.2).numpy().astype(np.float32)
    w[3] = 0.0  # an all-zero row: scale 0
    bias = rnd(gen, n)
    for fmt in ("int8", "fp8_e4m3", "fp8_e5m2", "q8_0", "q4_0"):
        stored, scale, deq = quantize_weight(fmt, w)
        deq_t = torch.from_numpy(deq)
        for tag, shape, dtype in (("decode", (1, 1, k), torch.float32), ("prefill", (2, 13, k), torch.float32), ("bf16", (1, 3, k), torch.bfloat16)):
            x = rnd(gen, *shape).to(dtype)
            b = bias.to(dtype)
            expected = torch.nn.functional.linear(x.double(), deq_t, b.double())
            tensors = {"source": torch.from_numpy(w.copy()), "weight": torch.from_numpy(stored.copy()), "x": x, "bias": b,
                       "expected": expected.float()}
            if scale is not None:
                tensors["scale"] = torch.from_numpy(scale.copy())
            if dtype != torch.float32:
                tensors["naive"] = torch.nn.functional.linear(x.float(), deq_t.float(), b.float()).to(dtype)
            save(f"linear_{fmt}_{tag}", "quantized_linear", tensors, format=fmt, rows=n, cols=k,
                 **({"dtype": DTYPES[dtype], "naive": "f32 compute on the dequantized weight, rounded once"} if dtype != torch.float32 else {}))


def quantized_linear_eight_rows(gen):
    """Q4_0 decode over whole groups of eight rows (40 = 5 groups, 5 blocks per row), which the CPU backend rearranges
    eight rows interleaved at the first decode: one and three rows of x, the f64 linear on the dequantized weight."""
    n, k = 40, 160
    w = (rnd(gen, n, k) * 0.2).numpy().astype(np.float32)
    bias = rnd(gen, n)
    stored, _, deq = quantize_weight("q4_0", w)
    for tag, rows in (("1row", 1), ("3rows", 3)):
        x = rnd(gen, 1, rows, k)
        expected = torch.nn.functional.linear(x.double(), torch.from_numpy(deq), bias.double())
        save(f"linear_q4_0_eight_rows_{tag}", "quantized_linear", {"source": torch.from_numpy(w.copy()), "weight": torch.from_numpy(stored.copy()),
             "x": x, "bias": bias, "expected": expected.float()}, format="q4_0", rows=n, cols=k)


def quantized_linear_long_k(gen):
    """Q4_0 and Q8_0 decode over K = 4160 > 4096, which the CPU backend holds in tiles with K in chunks (4096 + 64 values):
    Q4_0 72 rows (nine groups of eight: a tile of eight groups and one of one), Q8_0 70 rows (a tile of 64 rows and one of
    6); one and three rows of x, the f64 linear on the dequantized weight. No f32 source is kept (it would be 1.2 MB)."""
    k = 4160
    for fmt, n in (("q4_0", 72), ("q8_0", 70)):
        w = (rnd(gen, n, k) * 0.05).numpy().astype(np.float32)
        bias = rnd(gen, n)
        stored, _, deq = quantize_weight(fmt, w)
        for tag, rows in (("1row", 1), ("3rows", 3)):
            x = rnd(gen, 1, rows, k)
            expected = torch.nn.functional.linear(x.double(), torch.from_numpy(deq), bias.double())
            save(f"linear_{fmt}_long_k_{tag}", "quantized_linear", {"weight": torch.from_numpy(stored.copy()), "x": x, "bias": bias,
                 "expected": expected.float()}, format=fmt, rows=n, cols=k)


def fp8_prefill(gen):
    """FP8 prefill on FP8 tensor cores (CUDA, sm_89+): x quantized to E4M3 with one dynamic scale (amax / 448, codes of
    x·(448 / amax) in f32, nearest with ties to even), the E4M3 weight with a per-channel or a per-tensor scale, and the
    f64 linear of the two dequantized operands plus bias. The codes and the scale are kept for the quantizing kernel."""
    n, k = 48, 64
    w = (rnd(gen, n, k) * 0.2).numpy().astype(np.float32)
    bias = rnd(gen, n)
    for tag, shape, dtype, per_tensor in (("per_channel_bf16", (2, 9, k), torch.bfloat16, False), ("per_tensor_f32", (1, 12, k), torch.float32, True),
                                          ("per_channel_f16", (3, 5, k), torch.float16, False)):
        if per_tensor:
            scale = np.array([np.abs(w).max() / np.float32(448)], dtype=np.float32)
            codes_w = e4m3_encode((w / scale[0]).astype(np.float32))
            deq_w = e4m3_decode(codes_w) * np.float64(scale[0])
        else:
            codes_w, scale, deq_w = quantize_weight("fp8_e4m3", w)
        x = (rnd(gen, *shape) * 3).to(dtype)
        xf = x.float().numpy().reshape(-1, k)
        amax = np.float32(np.abs(xf).max())
        inv = np.float32(448) / amax
        codes_x = e4m3_encode((xf * inv).astype(np.float32))
        x_scale = np.float32(amax / np.float32(448))
        deq_x = e4m3_decode(codes_x) * np.float64(x_scale)
        b = bias.to(dtype)
        expected = torch.from_numpy(deq_x @ deq_w.T + b.double().numpy()).reshape(*shape[:-1], n)
        tensors = {"x": x, "weight": torch.from_numpy(codes_w.copy()), "scale": torch.from_numpy(scale.copy()), "bias": b,
                   "expected": expected.float(), "codes": torch.from_numpy(codes_x.reshape(*shape).copy()),
                   "activation_scale": torch.tensor([x_scale])}
        if dtype != torch.float32:
            tensors["naive"] = torch.nn.functional.linear(torch.from_numpy(deq_x).float(), torch.from_numpy(deq_w).float(), b.float()).reshape(*shape[:-1], n).to(dtype)
        save(f"linear_fp8_w8a8_{tag}", "fp8_prefill", tensors, format="fp8_e4m3", rows=n, cols=k,
             **({"dtype": DTYPES[dtype], "naive": "f32 compute on the dequantized operands, rounded once"} if dtype != torch.float32 else {}))


def top_gap(gen):
    """Largest minus second largest per row (a greedy pick's margin): random rows, a tied top, a row of -1e30s, a 2-wide row."""
    x = rnd(gen, 6, 1000)
    x[1, 10] = x[1, 700] = x[1].max() + 1  # a tie at the top: gap 0
    x[2] = -1e30
    x[2, 999] = -1e29
    top = x.topk(2, dim=-1).values
    save("top_gap_f32", "top_gap", {"x": x, "expected": top[:, 0] - top[:, 1]})
    narrow = rnd(gen, 3, 2)
    top = narrow.topk(2, dim=-1).values
    save("top_gap_narrow_f32", "top_gap", {"x": narrow, "expected": top[:, 0] - top[:, 1]})
    for tag, dt in LOW.items():
        low = x.to(dt)
        top = low.double().topk(2, dim=-1).values
        save(f"top_gap_{tag}", "top_gap", {"x": low, "expected": (top[:, 0] - top[:, 1]).float()})


def retired(*shapes):
    """The draws of generators whose ops left the engine (kv_cache_append, softmax, subtract/divide/roots: no model called
    them), made in their place so that every later generator draws, and writes, exactly what it did before."""
    def draw(gen):
        for shape in shapes:
            torch.randn(*shape, generator=gen)
    return draw


def main():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(20261122)
    for make in (linear, matmul, conv2d, group_norm, layer_norm, rms_norm, attention, retired((2, 10, 12), (2, 3, 12)), retired((4, 37)),
                 activations, arithmetic, layout, embeddings, casts, reductions, logits, group_norm_add,
                 retired((2, 3, 4, 5), (2, 3, 4, 5), (5,), (3, 1, 5), (3, 7, 11), (5,), (5,)),
                 narrow, matmul_transposed_a, rotary_rows, kv_cache_write_rows, sum_leading, attention_masks, gradients, adam, clamp):
        make(gen)
    quantized_linear(torch.Generator().manual_seed(20261207))  # its own seeds: adding them changed no earlier fixture
    top_gap(torch.Generator().manual_seed(20261208))
    fp8_prefill(torch.Generator().manual_seed(20261209))
    quantized_linear_eight_rows(torch.Generator().manual_seed(20261210))
    quantized_linear_long_k(torch.Generator().manual_seed(20261211))
    blockwise_elementwise(torch.Generator().manual_seed(20261212))
    print(f"wrote {len(os.listdir(OUT))} fixtures to {os.path.normpath(OUT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
