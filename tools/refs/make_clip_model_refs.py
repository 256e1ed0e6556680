#!/usr/bin/env python3
"""Writes tests/fixtures/clip/tiny-clip-*.safetensors: inputs and outputs of the tiny CLIP towers.

Run with Debian's python3-torch (1.13, CPU):  /usr/bin/python3 tools/refs/make_clip_model_refs.py
The checkpoints come from the engine's own writer (`viper make-tiny NAME --seed 0`, deterministic), so the tests
can rebuild them; the forward passes here are plain PyTorch written from transformers 4.42's modeling_clip.py
(CLIPTextTransformer, CLIPVisionTransformer, CLIPEncoderLayer, CLIPAttention with q scaled before q·kᵀ and a
causal mask of -inf above the diagonal for text, quick_gelu / gelu, pooling at argmax(ids) when eos_token_id == 2,
else at the first EOS), independent of the C# code it checks. ../shared/refs has no vectors for these
configurations (gelu, projections, first-EOS pooling, the vision tower).
"""
import json
import os
import subprocess
import sys
import tempfile

import torch
import torch.nn.functional as F

import safetensors_io

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
OUT = os.path.join(ROOT, "tests", "fixtures", "clip")


def activation(name):
    return {"quick_gelu": lambda x: x * torch.sigmoid(1.702 * x), "gelu": F.gelu}[name]


def encoder(h, sd, prefix, cfg, causal):
    d, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    act, eps = activation(cfg["hidden_act"]), cfg["layer_norm_eps"]
    states = [h]
    for i in range(cfg["num_hidden_layers"]):
        p = f"{prefix}.encoder.layers.{i}"
        lin = lambda x, name: F.linear(x, sd[f"{p}.{name}.weight"], sd[f"{p}.{name}.bias"])
        b, t, _ = h.shape
        x = F.layer_norm(h, (d,), sd[f"{p}.layer_norm1.weight"], sd[f"{p}.layer_norm1.bias"], eps)
        split = lambda y: y.view(b, t, heads, d // heads).transpose(1, 2)
        q = split(lin(x, "self_attn.q_proj") * (d // heads) ** -0.5)
        k, v = split(lin(x, "self_attn.k_proj")), split(lin(x, "self_attn.v_proj"))
        w = q @ k.transpose(-1, -2)
        if causal:
            w = w.masked_fill(torch.triu(torch.ones(t, t, dtype=torch.bool), 1), float("-inf"))
        o = (w.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d)
        h = h + lin(o, "self_attn.out_proj")
        x = F.layer_norm(h, (d,), sd[f"{p}.layer_norm2.weight"], sd[f"{p}.layer_norm2.bias"], eps)
        h = h + lin(act(lin(x, "mlp.fc1")), "mlp.fc2")
        states.append(h)
    return states


def text(sd, cfg, ids):
    t = ids.shape[1]
    h = sd["text_model.embeddings.token_embedding.weight"][ids] + sd["text_model.embeddings.position_embedding.weight"][:t]
    states = encoder(h, sd, "text_model", cfg, causal=True)
    last = F.layer_norm(states[-1], (cfg["hidden_size"],), sd["text_model.final_layer_norm.weight"],
                        sd["text_model.final_layer_norm.bias"], cfg["layer_norm_eps"])
    eos = ids.argmax(-1) if cfg["eos_token_id"] == 2 else (ids == cfg["eos_token_id"]).int().argmax(-1)
    pooled = last[torch.arange(ids.shape[0]), eos]
    out = {"last_hidden_state": last, "pooled": pooled, "hidden_states_m2": states[-2]}
    if "text_projection.weight" in sd:
        out["text_embeds"] = pooled @ sd["text_projection.weight"].T
    return out


def vision(sd, cfg, pixels_nhwc):
    p = "vision_model.embeddings"
    patches = F.conv2d(pixels_nhwc.permute(0, 3, 1, 2), sd[f"{p}.patch_embedding.weight"], stride=cfg["patch_size"])
    patches = patches.flatten(2).transpose(1, 2)
    cls = sd[f"{p}.class_embedding"].expand(pixels_nhwc.shape[0], 1, -1)
    h = torch.cat([cls, patches], dim=1) + sd[f"{p}.position_embedding.weight"]
    d, eps = cfg["hidden_size"], cfg["layer_norm_eps"]
    h = F.layer_norm(h, (d,), sd["vision_model.pre_layrnorm.weight"], sd["vision_model.pre_layrnorm.bias"], eps)
    states = encoder(h, sd, "vision_model", cfg, causal=False)
    last = states[-1]
    pooled = F.layer_norm(last[:, 0], (d,), sd["vision_model.post_layernorm.weight"], sd["vision_model.post_layernorm.bias"], eps)
    return {"last_hidden_state": last, "pooled": pooled, "hidden_states_0": states[0], "hidden_states_m2": states[-2],
            "image_embeds": pooled @ sd["visual_projection.weight"].T}


def text_ids(gen, eos, pad):
    """Three 77-token rows: ids below 900, EOS at different positions, then padding (SD's EOS padding or SDXL's 0)."""
    rows = []
    for length in (5, 40, 76):
        row = torch.randint(1, 900, (77,), generator=gen)
        row[length] = eos
        row[length + 1:] = pad
        rows.append(row)
    return torch.stack(rows)


def main():
    gen = torch.Generator().manual_seed(20261123)
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("tiny-clip-text", "tiny-clip-text-projection", "tiny-clip-vision"):
            folder = os.path.join(tmp, name)
            subprocess.run(["dotnet", "run", "--project", os.path.join(ROOT, "src", "Viper.Cli"), "--", "make-tiny", name,
                            "--out", folder, "--seed", "0"], check=True, stdout=sys.stderr)
            with open(os.path.join(folder, "config.json")) as f:
                cfg = json.load(f)
            sd = safetensors_io.read(os.path.join(folder, "model.safetensors"))
            with torch.no_grad():
                if "vision" in name:
                    inputs = {"pixels": torch.randn(2, cfg["image_size"], cfg["image_size"], 3, generator=gen)}
                    outputs = vision(sd, cfg, inputs["pixels"])
                else:
                    eos = cfg["eos_token_id"] if cfg["eos_token_id"] != 2 else 999
                    inputs = {"input_ids": text_ids(gen, eos, eos if cfg["eos_token_id"] == 2 else 0).to(torch.int32)}
                    outputs = text(sd, cfg, inputs["input_ids"].long())
            safetensors_io.write(os.path.join(OUT, name + ".safetensors"), {**inputs, **outputs},
                                 {"generator": "tools/refs/make_clip_model_refs.py", "checkpoint": f"viper make-tiny {name} --seed 0",
                                  "torch": torch.__version__})
            print(f"wrote {name}", file=sys.stderr)


if __name__ == "__main__":
    main()
