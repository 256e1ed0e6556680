#!/usr/bin/env python3
"""A Mistral-7B-shaped decoder stack in plain PyTorch (CPU, bf16), the counterpart of Viper.Benchmarks.MistralStack:
hidden 4096, MLP 14336, 32 query / 8 key-value heads, rotary θ 1e4, RMSNorm eps 1e-5, the 32000-token head, random
weights. transformers 4.42 modeling_mistral.py's eager math written out: RMSNorm statistics in f32, rotary cos/sin in
f32 cast to bf16, repeat_kv, causal softmax in f32, silu(gate)·up; a preallocated KV cache written in place.

Cases (the same work as the C# side): prefill_512 = 512 prompt tokens from an empty cache + logits of the last
position; decode_after_512 = one token after them + its logits. One warm-up and five timed runs each (median);
--prefill-runs 1 times a single cold prefill (which also fills the cache for the decodes).
Also records this process's peak resident set (ru_maxrss) next to the weight bytes.

Usage: bench_cpu_mistral.py --layers N --threads T --out torch.json
"""
import argparse
import json
import math
import resource
import sys
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_cpu_ops import median_ms  # noqa: E402

HIDDEN, MLP, HEADS, KV_HEADS, VOCAB, THETA, EPS = 4096, 14336, 32, 8, 32000, 10000.0, 1e-5
D = HIDDEN // HEADS


def matrix(out_features, in_features):
    bound = 1.0 / math.sqrt(in_features)
    return torch.empty(out_features, in_features, dtype=torch.bfloat16).uniform_(-bound, bound)


def rms_norm(x, weight):
    h = x.to(torch.float32)
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + EPS)
    return weight * h.to(x.dtype)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Stack:
    def __init__(self, layers, capacity):
        self.layers = [dict(
            ln1=torch.ones(HIDDEN, dtype=torch.bfloat16), ln2=torch.ones(HIDDEN, dtype=torch.bfloat16),
            q=matrix(HIDDEN, HIDDEN), k=matrix(KV_HEADS * D, HIDDEN), v=matrix(KV_HEADS * D, HIDDEN), o=matrix(HIDDEN, HIDDEN),
            gate=matrix(MLP, HIDDEN), up=matrix(MLP, HIDDEN), down=matrix(HIDDEN, MLP)) for _ in range(layers)]
        self.embed = torch.empty(VOCAB, HIDDEN, dtype=torch.bfloat16).uniform_(-1, 1)
        self.norm = torch.ones(HIDDEN, dtype=torch.bfloat16)
        self.head = matrix(VOCAB, HIDDEN)
        self.keys = [torch.zeros(1, KV_HEADS, capacity, D, dtype=torch.bfloat16) for _ in range(layers)]
        self.values = [torch.zeros(1, KV_HEADS, capacity, D, dtype=torch.bfloat16) for _ in range(layers)]
        self.inv_freq = 1.0 / (THETA ** (torch.arange(0, D, 2, dtype=torch.int64).float() / D))

    def weight_bytes(self):
        tensors = [t for layer in self.layers for t in layer.values()] + [self.embed, self.norm, self.head]
        return sum(t.numel() * t.element_size() for t in tensors)

    def attention(self, i, layer, x, start):
        b, t, _ = x.shape
        q = (x @ layer["q"].T).view(b, t, HEADS, D).transpose(1, 2)
        k = (x @ layer["k"].T).view(b, t, KV_HEADS, D).transpose(1, 2)
        v = (x @ layer["v"].T).view(b, t, KV_HEADS, D).transpose(1, 2)
        positions = torch.arange(start, start + t).float()
        freqs = positions[:, None] * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        self.keys[i][:, :, start:start + t] = k
        self.values[i][:, :, start:start + t] = v
        keys = self.keys[i][:, :, :start + t].repeat_interleave(HEADS // KV_HEADS, dim=1)
        values = self.values[i][:, :, :start + t].repeat_interleave(HEADS // KV_HEADS, dim=1)
        scores = (q @ keys.transpose(2, 3)) / math.sqrt(D)
        if t > 1:
            mask = torch.full((t, start + t), float("-inf")).triu(start + 1)
            scores = scores + mask.to(scores.dtype)
        probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(x.dtype)
        out = (probs @ values).transpose(1, 2).reshape(b, t, HIDDEN)
        return out @ layer["o"].T

    def forward(self, x, start):
        for i, layer in enumerate(self.layers):
            x = x + self.attention(i, layer, rms_norm(x, layer["ln1"]), start)
            h = rms_norm(x, layer["ln2"])
            x = x + (torch.nn.functional.silu(h @ layer["gate"].T) * (h @ layer["up"].T)) @ layer["down"].T
        return rms_norm(x, self.norm)

    def logits(self, hidden):
        return hidden[:, -1:] @ self.head.T


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--layers", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--prefill-runs", type=int, default=5, help="timed prefills (after one warm-up unless 1)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    stack = Stack(args.layers, args.tokens + 1)
    ids = torch.randint(0, VOCAB, (1, args.tokens + 1))
    prompt, next_token = stack.embed[ids[:, :args.tokens]], stack.embed[ids[:, args.tokens:]]

    def prefill():
        with torch.no_grad():
            stack.logits(stack.forward(prompt, 0))

    def decode():
        with torch.no_grad():
            stack.logits(stack.forward(next_token, args.tokens))

    # PyTorch 1.13's CPU bf16 GEMM without AVX-512 BF16 runs at ~1 GFLOP/s: a single prefill can take minutes.
    runs = args.prefill_runs
    cases = {"prefill_512": median_ms(prefill, warmup=1 if runs > 1 else 0, iterations=runs)}
    if runs > 1:
        prefill()
    cases["decode_after_512"] = median_ms(decode, warmup=1, iterations=5)
    result = {"torch": torch.__version__, "threads": args.threads, "layers": args.layers, "cases": cases,
              "prefill_runs": runs, "weight_bytes": stack.weight_bytes(), "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    with open(args.out, "w") as f:
        json.dump(result, f)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
