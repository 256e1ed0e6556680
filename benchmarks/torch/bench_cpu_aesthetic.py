#!/usr/bin/env python3
"""Aesthetic gradients in plain PyTorch (CPU, f32): transformers 4.42's CLIPTextTransformer math written out as an
nn.Module tree with the checkpoint's parameter names, and the released method (vicgalle/stable-diffusion-aesthetic-gradients,
PersonalizedCLIPEmbedder.forward) on it: image embedding normalised, loss = -cos(normalised text_projection(pooled),
image), torch.optim.Adam over text_model's parameters only, T times zero_grad / backward / step / recompute, then
text_model(ids).last_hidden_state. It first checks itself against ../shared/refs/aesthetic (T = 3, lr 1e-3: losses
and the final state), then times one personalization (T = 10, lr 1e-4, batch 1) of the CLIP-L folder
Viper.Benchmarks.AestheticBenchmarks wrote, with the same ids and embedding: restoring the original weights
(load_state_dict, the released code reloads the model instead) and the loop, median of 3 after 1 warm-up.

With --folder-g (SDXL) it times instead both towers one after the other — the CLIP-L folder, then the OpenCLIP bigG
folder Viper.Benchmarks.SdxlAestheticBenchmarks wrote (gelu, 1280 wide, 32 layers) — each T = 10 and ending with the
state SDXL conditions on, as the engine's pipeline does; one run, no warm-up (it takes minutes).

Usage: bench_cpu_aesthetic.py --folder DIR [--folder-g DIR] --threads N --out torch.json
"""
import argparse
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_cpu_ops import median_ms  # noqa: E402
from bench_cpu_idefics2 import load  # noqa: E402


class Layer(nn.Module):
    def __init__(self, c, inter, heads, act):
        super().__init__()
        self.heads, self.act = heads, act
        self.layer_norm1, self.layer_norm2 = nn.LayerNorm(c), nn.LayerNorm(c)
        self.self_attn = nn.ModuleDict({n: nn.Linear(c, c) for n in ("q_proj", "k_proj", "v_proj", "out_proj")})
        self.mlp = nn.ModuleDict({"fc1": nn.Linear(c, inter), "fc2": nn.Linear(inter, c)})

    def forward(self, x):
        b, t, c = x.shape
        d = c // self.heads
        h = self.layer_norm1(x)
        q, k, v = (self.self_attn[n](h).view(b, t, self.heads, d).transpose(1, 2) for n in ("q_proj", "k_proj", "v_proj"))
        s = (q * d ** -0.5) @ k.transpose(-1, -2)
        s = s.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf"))
        a = (s.softmax(-1) @ v).transpose(1, 2).reshape(b, t, c)
        x = x + self.self_attn["out_proj"](a)
        h = self.mlp["fc1"](self.layer_norm2(x))
        h = h * torch.sigmoid(1.702 * h) if self.act == "quick_gelu" else F.gelu(h)
        return x + self.mlp["fc2"](h)


class TextModel(nn.Module):
    """text_model.*: embeddings, causal encoder, final LayerNorm; pooled at argmax(ids) (eos_token_id 2, transformers 4.42)."""

    def __init__(self, cfg):
        super().__init__()
        c = cfg["hidden_size"]
        self.embeddings = nn.ModuleDict({"token_embedding": nn.Embedding(cfg["vocab_size"], c),
                                         "position_embedding": nn.Embedding(cfg["max_position_embeddings"], c)})
        self.encoder = nn.ModuleDict({"layers": nn.ModuleList(
            Layer(c, cfg["intermediate_size"], cfg["num_attention_heads"], cfg["hidden_act"]) for _ in range(cfg["num_hidden_layers"]))})
        self.final_layer_norm = nn.LayerNorm(c, eps=cfg["layer_norm_eps"])
        for m in self.modules():
            if isinstance(m, nn.LayerNorm):
                m.eps = cfg["layer_norm_eps"]

    def forward(self, ids):
        x = self.embeddings["token_embedding"](ids) + self.embeddings["position_embedding"](torch.arange(ids.shape[1]))
        for layer in self.encoder["layers"]:
            x = layer(x)
        last = self.final_layer_norm(x)
        return last, last[torch.arange(ids.shape[0]), ids.argmax(-1)]


def build(folder):
    cfg = json.load(open(os.path.join(folder, "config.json")))
    text = dict(vocab_size=49408, hidden_size=512, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=8,
                max_position_embeddings=77, hidden_act="quick_gelu", layer_norm_eps=1e-5)
    text.update({k: v for k, v in cfg.get("text_config", cfg).items() if k in text})
    weights = load(os.path.join(folder, "model.safetensors"))
    model = TextModel(text)
    model.load_state_dict({k[len("text_model."):]: v for k, v in weights.items() if k.startswith("text_model.")})
    return model, weights["text_projection.weight"]


def personalize(model, projection, ids, image, steps, lr):
    """PersonalizedCLIPEmbedder.forward for a non-empty prompt; returns the losses and the final last_hidden_state."""
    image = image / image.norm(dim=-1, keepdim=True)

    def loss_now():
        text = F.linear(model(ids)[1], projection)
        text = text / text.norm(dim=-1, keepdim=True)
        return -(text @ image.T)

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss = loss_now()
    losses = [loss.item()]
    for _ in range(steps):
        opt.zero_grad()
        loss.mean().backward()
        opt.step()
        loss = loss_now()
        losses.append(loss.item())
    with torch.no_grad():
        return losses, model(ids)[0]


def self_check(refs):
    model, projection = build(refs)
    inputs, outputs = load(os.path.join(refs, "inputs.safetensors")), load(os.path.join(refs, "outputs.safetensors"))
    losses, last = personalize(model, projection, inputs["tokens"], outputs["aesthetic_embedding"], 3, 1e-3)
    return max(max(abs(a - b) for a, b in zip(losses, outputs["losses"].tolist())), (last - outputs["last_hidden_state_after"]).abs().max().item())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--folder", required=True)
    ap.add_argument("--folder-g")
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--refs", default=os.path.join(HERE, "..", "..", "..", "shared", "refs", "aesthetic"))
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    err = self_check(args.refs)
    if err > 1e-4:
        sys.exit(f"the PyTorch model does not reproduce ../shared/refs/aesthetic (max |err| {err:.2e})")

    if args.folder_g:
        towers = []
        for folder in (args.folder, args.folder_g):
            m, proj = build(folder)
            inp = load(os.path.join(folder, "inputs.safetensors"))
            towers.append((m, proj, inp["input_ids"], inp["aesthetic_embedding"], {k: v.clone() for k, v in m.state_dict().items()}))
        losses = {}

        def run_both():
            for i, (m, proj, ids, image, original) in enumerate(towers):
                m.load_state_dict(original)
                losses[i], _ = personalize(m, proj, ids, image, 10, 1e-4)

        ms = median_ms(run_both, warmup=0, iterations=1)
        json.dump({"threads": args.threads, "torch": torch.__version__, "self_check_max_err": err, "cases": {"personalize_sdxl_t10": ms},
                   "losses": losses}, open(args.out, "w"), indent=1)
        print(f"personalize_sdxl_t10: {ms:.0f} ms; CLIP-L {losses[0][0]:.5f} -> {losses[0][-1]:.5f}, bigG {losses[1][0]:.5f} -> {losses[1][-1]:.5f}")
        return

    model, projection = build(args.folder)
    inputs = load(os.path.join(args.folder, "inputs.safetensors"))
    ids, image = inputs["input_ids"], inputs["aesthetic_embedding"]
    original = {k: v.clone() for k, v in model.state_dict().items()}
    result = {}

    def run():
        model.load_state_dict(original)
        result["losses"], _ = personalize(model, projection, ids, image, 10, 1e-4)

    ms = median_ms(run, warmup=1, iterations=3)
    json.dump({"threads": args.threads, "torch": torch.__version__, "self_check_max_err": err, "cases": {"personalize_t10": ms},
               "losses": result["losses"]}, open(args.out, "w"), indent=1)
    print(f"personalize_t10: {ms:.0f} ms; losses {result['losses'][0]:.5f} -> {result['losses'][-1]:.5f}")


if __name__ == "__main__":
    main()
