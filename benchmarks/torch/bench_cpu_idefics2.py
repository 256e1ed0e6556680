#!/usr/bin/env python3
"""IDEFICS2 in plain PyTorch (CPU, f32) — transformers 4.42's modeling_idefics2.py math written out: the SigLIP tower
with patch masks and bucketed position ids, the SwiGLU modality projection and perceiver resampler (RMS norms with the
text eps, latents attending to context + latents), the <image> merge, the Mistral decoder with a KV cache and greedy
decoding with the repetition penalty. It first checks itself against ../shared/refs/idefics2 (the tiny model:
connector output and final hidden states of the VPE prompt), then times the same work as
Viper.Benchmarks.Idefics2Benchmarks on the medium folder and the ids/pixels the C# side exported:
extractor_prefill (8 images), decode_32 (32 greedy tokens, penalty 0.99), metric_recompute (10 queries, each with the
whole 8-pair prompt, as metric.py). One warm-up and three timed runs each (median).

Usage: bench_cpu_idefics2.py --folder DIR --inputs bench_inputs.safetensors --threads N --out torch.json
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_cpu_ops import median_ms  # noqa: E402

DTYPES = {"F32": np.float32, "I64": np.int64, "I32": np.int32, "U8": np.uint8}


def load(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[k] = torch.from_numpy(np.frombuffer(data[a:b], dtype=DTYPES[v["dtype"]]).copy().reshape(v["shape"]))
    return out


class Idefics2:
    def __init__(self, folder):
        self.w = load(os.path.join(folder, "model.safetensors"))
        c = json.load(open(os.path.join(folder, "config.json")))
        self.v, self.p, self.t, self.image_token = c["vision_config"], c["perceiver_config"], c["text_config"], c["image_token_id"]
        self.t.setdefault("rope_theta", 10000.0)

    def lin(self, x, name, bias=True):
        return F.linear(x, self.w[name + ".weight"], self.w.get(name + ".bias") if bias else None)

    def rms(self, x, name, eps):
        return self.w[name + ".weight"] * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))

    def mlp(self, x, name):
        return self.lin(F.silu(self.lin(x, name + ".gate_proj", False)) * self.lin(x, name + ".up_proj", False), name + ".down_proj", False)

    def image_states(self, pixels, mask):
        v, P = self.v, self.v["patch_size"]
        side = v["image_size"] // P
        patch_mask = mask.bool().unfold(1, P, P).unfold(2, P, P).sum((-1, -2)) > 0  # 4.42: any real pixel
        n = pixels.shape[0]
        x = F.conv2d(pixels, self.w["model.vision_model.embeddings.patch_embedding.weight"],
                     self.w["model.vision_model.embeddings.patch_embedding.bias"], stride=P).flatten(2).transpose(1, 2)
        boundaries = torch.arange(1 / side, 1.0, 1 / side)
        pos = torch.zeros((n, x.shape[1]), dtype=torch.long)
        for i, m in enumerate(patch_mask):
            bh = torch.bucketize(torch.arange(0, 1 - 1e-6, 1 / m[:, 0].sum()), boundaries, right=True)
            bw = torch.bucketize(torch.arange(0, 1 - 1e-6, 1 / m[0].sum()), boundaries, right=True)
            pos[i][m.view(-1)] = (bh[:, None] * side + bw).flatten()
        x = x + self.w["model.vision_model.embeddings.position_embedding.weight"][pos]
        keys = patch_mask.view(n, -1)
        add = torch.zeros(n, 1, 1, keys.shape[1]).masked_fill(~keys[:, None, None, :], torch.finfo(torch.float32).min)
        H, C = v["num_attention_heads"], v["hidden_size"]
        D = C // H
        for l in range(v["num_hidden_layers"]):
            p = f"model.vision_model.encoder.layers.{l}."
            h = F.layer_norm(x, (C,), self.w[p + "layer_norm1.weight"], self.w[p + "layer_norm1.bias"], v.get("layer_norm_eps", 1e-6))
            q, k, vv = (self.lin(h, p + f"self_attn.{s}_proj").view(n, -1, H, D).transpose(1, 2) for s in "qkv")
            a = torch.softmax(q @ k.transpose(2, 3) * D ** -0.5 + add, -1) @ vv
            x = x + self.lin(a.transpose(1, 2).reshape(n, -1, C), p + "self_attn.out_proj")
            h = F.layer_norm(x, (C,), self.w[p + "layer_norm2.weight"], self.w[p + "layer_norm2.bias"], v.get("layer_norm_eps", 1e-6))
            x = x + self.lin(F.gelu(self.lin(h, p + "mlp.fc1"), approximate="tanh"), p + "mlp.fc2")
        x = F.layer_norm(x, (C,), self.w["model.vision_model.post_layernorm.weight"], self.w["model.vision_model.post_layernorm.bias"], v.get("layer_norm_eps", 1e-6))
        ctx = self.mlp(x, "model.connector.modality_projection")
        pc, eps = self.p, self.t["rms_norm_eps"]  # 4.42: the perceiver's norms use the text eps
        L, Hh, Dd, Hk = pc["resampler_n_latents"], pc["resampler_n_heads"], pc["resampler_head_dim"], pc["num_key_value_heads"]
        lat = self.w["model.connector.perceiver_resampler.latents"].unsqueeze(0).expand(n, -1, -1)
        am = torch.cat([keys, torch.ones(n, L, dtype=torch.bool)], -1)
        add = torch.zeros(n, 1, 1, am.shape[1]).masked_fill(~am[:, None, None, :], torch.finfo(torch.float32).min)
        for l in range(pc["resampler_depth"]):
            p = f"model.connector.perceiver_resampler.layers.{l}."
            la, c = self.rms(lat, p + "input_latents_norm", eps), self.rms(ctx, p + "input_context_norm", eps)
            hs = torch.cat([c, la], 1)
            q = self.lin(la, p + "self_attn.q_proj", False).view(n, L, Hh, Dd).transpose(1, 2)
            k = self.lin(hs, p + "self_attn.k_proj", False).view(n, -1, Hk, Dd).transpose(1, 2).repeat_interleave(Hh // Hk, 1)
            vv = self.lin(hs, p + "self_attn.v_proj", False).view(n, -1, Hk, Dd).transpose(1, 2).repeat_interleave(Hh // Hk, 1)
            a = torch.softmax(q @ k.transpose(2, 3) / math.sqrt(Dd) + add, -1) @ vv
            lat = lat + self.lin(a.transpose(1, 2).reshape(n, L, Hh * Dd), p + "self_attn.o_proj", False)
            lat = lat + self.mlp(self.rms(lat, p + "post_attention_layernorm", eps), p + "mlp")
        return self.rms(lat, "model.connector.perceiver_resampler.norm", eps)

    def merged(self, ids, states):
        x = self.w["model.text_model.embed_tokens.weight"][ids].clone()
        x[ids == self.image_token] = states.reshape(-1, states.shape[-1])
        return x.unsqueeze(0)

    def text(self, x, cache, start):
        t = self.t
        C, H, Hk = t["hidden_size"], t["num_attention_heads"], t["num_key_value_heads"]
        D, T = C // H, x.shape[1]
        inv = 1.0 / (t["rope_theta"] ** (torch.arange(0, D, 2).float() / D))
        f = torch.arange(start, start + T).float()[:, None] * inv[None, :]
        emb = torch.cat((f, f), -1)
        cos, sin = emb.cos(), emb.sin()
        rot = lambda z: torch.cat((-z[..., D // 2:], z[..., :D // 2]), -1)  # noqa: E731
        mask = torch.full((T, start + T), float("-inf")).triu(start + 1) if T > 1 else None
        for l in range(t["num_hidden_layers"]):
            p = f"model.text_model.layers.{l}."
            h = self.rms(x, p + "input_layernorm", t["rms_norm_eps"])
            q = self.lin(h, p + "self_attn.q_proj", False).view(1, T, H, D).transpose(1, 2)
            k = self.lin(h, p + "self_attn.k_proj", False).view(1, T, Hk, D).transpose(1, 2)
            v = self.lin(h, p + "self_attn.v_proj", False).view(1, T, Hk, D).transpose(1, 2)
            q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
            cache[l] = (k, v) if start == 0 else (torch.cat([cache[l][0], k], 2), torch.cat([cache[l][1], v], 2))
            kk, vv = (c.repeat_interleave(H // Hk, 1) for c in cache[l])
            s = q @ kk.transpose(2, 3) / math.sqrt(D)
            if mask is not None:
                s = s + mask
            x = x + self.lin((torch.softmax(s, -1) @ vv).transpose(1, 2).reshape(1, T, C), p + "self_attn.o_proj", False)
            x = x + self.mlp(self.rms(x, p + "post_attention_layernorm", t["rms_norm_eps"]), p + "mlp")
        return self.rms(x, "model.text_model.norm", t["rms_norm_eps"])

    def prefill(self, ids, pixels, mask):
        cache = {}
        hidden = self.text(self.merged(ids.long(), self.image_states(pixels, mask)), cache, 0)
        return cache, F.linear(hidden[:, -1], self.w["lm_head.weight"])

    def greedy(self, ids, cache, logits, tokens, penalty):
        seq, start = ids.long().tolist(), len(ids)
        for _ in range(tokens):
            l = logits[0].clone()
            seen = torch.tensor(sorted(set(seq)))
            s = l[seen]
            l[seen] = torch.where(s < 0, s * penalty, s / penalty)
            nxt = int(l.argmax())
            seq.append(nxt)
            x = self.w["model.text_model.embed_tokens.weight"][torch.tensor([[nxt]])]
            logits = F.linear(self.text(x, cache, start)[:, -1], self.w["lm_head.weight"])
            start += 1
        return seq


def self_check(refs):
    m = Idefics2(refs)
    i, o = load(os.path.join(refs, "inputs.safetensors")), load(os.path.join(refs, "outputs.safetensors"))
    states = m.image_states(i["vpe_pixel_values"][0], i["vpe_pixel_attention_mask"][0])
    hidden = m.text(m.merged(i["vpe_input_ids"][0], states), {}, 0)
    e1 = (states - o["vpe_image_hidden_states"]).abs().max().item()
    e2 = (hidden - o["vpe_text_last_hidden_state"]).abs().max().item()
    assert e1 < 1e-4 and e2 < 1e-4, f"the PyTorch IDEFICS2 disagrees with transformers' tiny refs: {e1}, {e2}"
    return max(e1, e2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--folder", required=True)
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--refs", default=os.path.join(HERE, "..", "..", "..", "shared", "refs", "idefics2"))
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    check = self_check(a.refs)
    m, x = Idefics2(a.folder), load(a.inputs)
    ids, px, mk = x["extractor_ids"], x["extractor_pixels"], x["extractor_mask"]
    with torch.no_grad():
        cases = {"extractor_prefill": median_ms(lambda: m.prefill(ids, px, mk), warmup=1, iterations=3)}
        cache, logits = m.prefill(ids, px, mk)

        def decode():
            c = {k: v for k, v in cache.items()}
            m.greedy(ids, c, logits, 32, 0.99)

        cases["decode_32"] = median_ms(decode, warmup=1, iterations=3)

        def metric():
            for q in range(10):
                _, l = m.prefill(x[f"metric{q}_ids"], x[f"metric{q}_pixels"], x[f"metric{q}_mask"])
                torch.exp(l[0, 648]) / (torch.exp(l[0, 648]) + torch.exp(l[0, 387]))

        cases["metric_recompute"] = median_ms(metric, warmup=1, iterations=3)
    result = {"torch": torch.__version__, "threads": a.threads, "cases": cases, "self_check_max_err": check,
              "prompt_tokens": {"extractor": int(ids.numel()), "metric": int(x["metric0_ids"].numel())}}
    json.dump(result, open(a.out, "w"))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
