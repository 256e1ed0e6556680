#!/usr/bin/env python3
"""Plain-PyTorch Stable Diffusion 1.x/2.x UNet and VAE decoder on a diffusers state dict — the PyTorch side of the
pipeline benchmarks (no diffusers here). Written from diffusers 0.29's unet_2d_condition.py, unet_2d_blocks.py,
resnet.py, transformer_2d.py, attention.py, attention_processor.py and autoencoders/vae.py; NCHW, as diffusers runs.

`python3 sd_reference.py --check` runs both networks on ../shared/refs/sd15 (vectors made by diffusers itself) and
fails unless they agree within 1e-4, and unless every tensor of the checkpoints was used — so the timings in
RESULTS.md are of the same computation the engine does.
"""
import argparse
import math
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "refs"))
import safetensors_io  # noqa: E402


class Weights(dict):
    """A state dict that remembers which tensors the forward read."""

    def __init__(self, tensors):
        super().__init__(tensors)
        self.used = set()

    def __getitem__(self, key):
        self.used.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        return self[key] if key in self else default

    def unused(self):
        return sorted(set(self.keys()) - self.used)


def per_block(value, i):
    return value[i] if isinstance(value, list) else value


def group_norm(x, sd, p, groups, eps, silu=False):
    y = F.group_norm(x, groups, sd[f"{p}.weight"], sd[f"{p}.bias"], eps)
    return F.silu(y) if silu else y


def conv(x, sd, p, stride=1, padding=None):
    w = sd[f"{p}.weight"]
    return F.conv2d(x, w, sd.get(f"{p}.bias"), stride, w.shape[-1] // 2 if padding is None else padding)


def linear(x, sd, p):
    return F.linear(x, sd[f"{p}.weight"], sd.get(f"{p}.bias"))


def resnet(x, temb, sd, p, groups, eps):
    h = conv(group_norm(x, sd, f"{p}.norm1", groups, eps, silu=True), sd, f"{p}.conv1")
    if temb is not None:
        h = h + linear(F.silu(temb), sd, f"{p}.time_emb_proj")[:, :, None, None]
    h = conv(group_norm(h, sd, f"{p}.norm2", groups, eps, silu=True), sd, f"{p}.conv2")
    shortcut = conv(x, sd, f"{p}.conv_shortcut") if f"{p}.conv_shortcut.weight" in sd else x
    return shortcut + h


def attention(x, context, sd, p, heads):
    b, t, c = x.shape
    q, k, v = linear(x, sd, f"{p}.to_q"), linear(context, sd, f"{p}.to_k"), linear(context, sd, f"{p}.to_v")
    split = lambda y: y.view(b, -1, heads, c // heads).transpose(1, 2)
    w = (split(q) @ split(k).transpose(-1, -2)) * (c // heads) ** -0.5
    o = (w.softmax(-1) @ split(v)).transpose(1, 2).reshape(b, t, c)
    return linear(o, sd, f"{p}.to_out.0")


def transformer(x, context, sd, p, heads, groups, linear_projection):
    b, c, h, w = x.shape
    tokens = lambda y: y.permute(0, 2, 3, 1).reshape(b, h * w, -1)
    normed = group_norm(x, sd, f"{p}.norm", groups, 1e-6)
    hidden = linear(tokens(normed), sd, f"{p}.proj_in") if linear_projection else tokens(conv(normed, sd, f"{p}.proj_in"))
    k = 0
    while f"{p}.transformer_blocks.{k}.norm1.weight" in sd:
        q = f"{p}.transformer_blocks.{k}"
        ln = lambda y, n: F.layer_norm(y, (y.shape[-1],), sd[f"{q}.{n}.weight"], sd[f"{q}.{n}.bias"], 1e-5)
        n1 = ln(hidden, "norm1")
        hidden = hidden + attention(n1, n1, sd, f"{q}.attn1", heads)
        hidden = hidden + attention(ln(hidden, "norm2"), context, sd, f"{q}.attn2", heads)
        value, gate = linear(ln(hidden, "norm3"), sd, f"{q}.ff.net.0.proj").chunk(2, dim=-1)
        hidden = hidden + linear(value * F.gelu(gate), sd, f"{q}.ff.net.2")
        k += 1
    if linear_projection:
        out = linear(hidden, sd, f"{p}.proj_out").reshape(b, h, w, c).permute(0, 3, 1, 2)
    else:
        out = conv(hidden.reshape(b, h, w, c).permute(0, 3, 1, 2), sd, f"{p}.proj_out")
    return out + x


def timestep_proj(timesteps, dim, flip_sin_to_cos, shift):
    half = dim // 2
    exponent = -math.log(10000) * torch.arange(half, dtype=torch.float32) / (half - shift)
    emb = timesteps[:, None].float() * torch.exp(exponent)[None, :]
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
    return torch.cat([emb[:, half:], emb[:, :half]], dim=-1) if flip_sin_to_cos else emb


def unet(sd, cfg, sample, timesteps, context):
    """UNet2DConditionModel.forward for SD1.x/2.x layouts (no added conditioning)."""
    channels, layers = cfg["block_out_channels"], cfg["layers_per_block"]
    groups, eps = cfg["norm_num_groups"], cfg["norm_eps"]
    heads_of = cfg.get("num_attention_heads") or cfg["attention_head_dim"]
    linear_projection = cfg.get("use_linear_projection", False)
    t = timestep_proj(timesteps.expand(sample.shape[0]), channels[0], cfg.get("flip_sin_to_cos", True), cfg.get("freq_shift", 0))
    temb = linear(F.silu(linear(t, sd, "time_embedding.linear_1")), sd, "time_embedding.linear_2")
    h = conv(sample, sd, "conv_in")
    skips = [h]
    for i, kind in enumerate(cfg["down_block_types"]):
        for j in range(layers):
            h = resnet(h, temb, sd, f"down_blocks.{i}.resnets.{j}", groups, eps)
            if kind == "CrossAttnDownBlock2D":
                h = transformer(h, context, sd, f"down_blocks.{i}.attentions.{j}", per_block(heads_of, i), groups, linear_projection)
            skips.append(h)
        if i < len(channels) - 1:
            h = conv(h, sd, f"down_blocks.{i}.downsamplers.0.conv", stride=2, padding=1)
            skips.append(h)
    h = resnet(h, temb, sd, "mid_block.resnets.0", groups, eps)
    h = transformer(h, context, sd, "mid_block.attentions.0", per_block(heads_of, len(channels) - 1), groups, linear_projection)
    h = resnet(h, temb, sd, "mid_block.resnets.1", groups, eps)
    reversed_heads = list(reversed(heads_of)) if isinstance(heads_of, list) else heads_of
    for i, kind in enumerate(cfg["up_block_types"]):
        for j in range(layers + 1):
            h = resnet(torch.cat([h, skips.pop()], dim=1), temb, sd, f"up_blocks.{i}.resnets.{j}", groups, eps)
            if kind == "CrossAttnUpBlock2D":
                h = transformer(h, context, sd, f"up_blocks.{i}.attentions.{j}", per_block(reversed_heads, i), groups, linear_projection)
        if i < len(channels) - 1:
            h = conv(F.interpolate(h, scale_factor=2.0, mode="nearest"), sd, f"up_blocks.{i}.upsamplers.0.conv")
    return conv(group_norm(h, sd, "conv_norm_out", groups, eps, silu=True), sd, "conv_out")


def vae_attention(x, sd, p, groups):
    b, c, h, w = x.shape
    tokens = group_norm(x, sd, f"{p}.group_norm", groups, 1e-6).permute(0, 2, 3, 1).reshape(b, h * w, c)
    return attention(tokens, tokens, sd, p, 1).reshape(b, h, w, c).permute(0, 3, 1, 2) + x


def vae_decode(sd, cfg, latents):
    """AutoencoderKL.decode (post_quant_conv, then the Decoder) of raw latents (already divided by scaling_factor)."""
    groups, layers, levels = cfg["norm_num_groups"], cfg["layers_per_block"], len(cfg["block_out_channels"])
    h = conv(conv(latents, sd, "post_quant_conv"), sd, "decoder.conv_in")
    h = resnet(h, None, sd, "decoder.mid_block.resnets.0", groups, 1e-6)
    h = vae_attention(h, sd, "decoder.mid_block.attentions.0", groups)
    h = resnet(h, None, sd, "decoder.mid_block.resnets.1", groups, 1e-6)
    for i in range(levels):
        for j in range(layers + 1):
            h = resnet(h, None, sd, f"decoder.up_blocks.{i}.resnets.{j}", groups, 1e-6)
        if i < levels - 1:
            h = conv(F.interpolate(h, scale_factor=2.0, mode="nearest"), sd, f"decoder.up_blocks.{i}.upsamplers.0.conv")
    return conv(group_norm(h, sd, "decoder.conv_norm_out", groups, 1e-6, silu=True), sd, "decoder.conv_out")


def check(shared):
    import json
    refs = os.path.join(shared, "refs", "sd15")
    with open(os.path.join(refs, "unet", "config.json")) as f:
        cfg = json.load(f)
    sd = Weights(safetensors_io.read(os.path.join(refs, "unet", "diffusion_pytorch_model.safetensors")))
    inputs = safetensors_io.read(os.path.join(refs, "unet", "inputs.safetensors"))
    outputs = safetensors_io.read(os.path.join(refs, "unet", "outputs.safetensors"))
    worst = 0.0
    with torch.no_grad():
        for t in inputs["timesteps"].tolist():
            out = unet(sd, cfg, inputs["sample"], torch.tensor([t]), inputs["encoder_hidden_states"])
            worst = max(worst, (out - outputs[f"noise_pred_t{t}"]).abs().max().item())
        assert not sd.unused(), f"unet tensors never read: {sd.unused()[:5]}"
        with open(os.path.join(refs, "vae", "config.json")) as f:
            vcfg = json.load(f)
        vsd = Weights(safetensors_io.read(os.path.join(refs, "vae", "diffusion_pytorch_model.safetensors")))
        vin = safetensors_io.read(os.path.join(refs, "vae", "inputs.safetensors"))
        decoded = vae_decode(vsd, vcfg, vin["latents"])
        vae_error = (decoded - safetensors_io.read(os.path.join(refs, "vae", "outputs.safetensors"))["decoded"]).abs().max().item()
    decoder_unused = [k for k in vsd.unused() if not k.startswith(("encoder.", "quant_conv."))]
    assert not decoder_unused, f"vae decoder tensors never read: {decoder_unused[:5]}"
    print(f"sd_reference: unet max |err| {worst:.2e}, vae decode max |err| {vae_error:.2e} against diffusers (../shared/refs/sd15)")
    assert worst < 1e-4 and vae_error < 1e-4, "plain-PyTorch SD reference disagrees with diffusers"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--shared", default=os.environ.get("VIPER_SHARED", os.path.join(HERE, "..", "..", "..", "shared")))
    args = parser.parse_args()
    if args.check:
        check(args.shared)
