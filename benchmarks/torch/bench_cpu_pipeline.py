#!/usr/bin/env python3
"""Times the ViPer stages of shapes.json cpu_pipeline in plain PyTorch (CPU, f32, NCHW as diffusers runs) on the same
pipeline folders the C# benchmarks load (written by `viper make-tiny`), and writes a JSON of medians in ms.

The forwards are sd_reference.py's UNet and VAE decoder (checked against diffusers' vectors before timing) and
tools/refs/make_clip_model_refs.py's CLIP text encoder. Per stage, the same work as Viper.Benchmarks.PipelineBenchmarks:
text = the encoder on 4 × 77 tokens; unet_step = the UNet on the batch of 4 + eq. 3 guidance + Euler update;
vae_decode = one latent; image = text + `steps` Euler steps + decode (scheduler arithmetic as diffusers' Euler).
One warm-up and five timed runs (three where a case sets "iterations": 3) (bench_cpu_ops.median_ms), like the C# side.

Usage: bench_cpu_pipeline.py --pipelines DIR --threads N --out torch.json
"""
import argparse
import json
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "refs"))
import make_clip_model_refs  # noqa: E402
import safetensors_io  # noqa: E402
import sd_reference  # noqa: E402
from bench_cpu_ops import median_ms  # noqa: E402


def count_flops(fn):
    """2·MACs of the convolutions, linears and matrix products one run of fn performs (the same for both columns)."""
    total = [0.0]
    conv2d, linear, matmul = F.conv2d, F.linear, torch.Tensor.__matmul__

    def counted_conv(x, w, b=None, stride=1, padding=0, *rest):
        y = conv2d(x, w, b, stride, padding, *rest)
        total[0] += 2.0 * y.numel() * w.shape[1] * w.shape[2] * w.shape[3]
        return y

    def counted_linear(x, w, b=None):
        total[0] += 2.0 * x.numel() // x.shape[-1] * w.shape[0] * w.shape[1]
        return linear(x, w, b)

    def counted_matmul(a, b):
        y = matmul(a, b)
        total[0] += 2.0 * y.numel() * a.shape[-1]
        return y

    F.conv2d, F.linear, torch.Tensor.__matmul__ = counted_conv, counted_linear, counted_matmul
    try:
        fn()
    finally:
        F.conv2d, F.linear, torch.Tensor.__matmul__ = conv2d, linear, matmul
    return total[0]


def component(folder, name, weights):
    with open(os.path.join(folder, name, "config.json")) as f:
        cfg = json.load(f)
    return safetensors_io.read(os.path.join(folder, name, weights)), cfg


def euler_sigmas(steps):
    """EulerDiscreteScheduler, scaled_linear betas, leading spacing with steps_offset 1 (SD1.5's config)."""
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float32) ** 2
    alphas = torch.cumprod(1 - betas, 0)
    sigmas_all = ((1 - alphas) / alphas) ** 0.5
    timesteps = (torch.arange(0, steps) * (1000 // steps)).flip(0) + 1
    sigmas = torch.cat([sigmas_all[timesteps], torch.zeros(1)])
    return timesteps, sigmas


def stages(folder, case):
    side = case["size"] // 8
    gen = torch.Generator().manual_seed(1)
    text_sd, text_cfg = component(folder, "text_encoder", "model.safetensors")
    unet_sd, unet_cfg = component(folder, "unet", "diffusion_pytorch_model.safetensors")
    vae_sd, vae_cfg = component(folder, "vae", "diffusion_pytorch_model.safetensors")
    ids = torch.randint(0, text_cfg["vocab_size"], (4, 77), generator=gen)
    latents = torch.randn(1, 4, side, side, generator=gen)
    context = torch.randn(4, 77, unet_cfg["cross_attention_dim"], generator=gen)
    w, beta = 5.0, 0.85

    def encode():
        return make_clip_model_refs.text(text_sd, text_cfg, ids)

    def guided(x, t, ctx):
        eps = sd_reference.unet(unet_sd, unet_cfg, x.repeat(4, 1, 1, 1), t, ctx)
        u, c, plus, minus = eps.chunk(4)
        return u + w * (c + beta * plus - u - beta * minus)

    def unet_step():
        x = latents.clone()
        return x + (-0.05) * guided(x, torch.tensor([500]), context)

    def vae_decode():
        return sd_reference.vae_decode(vae_sd, vae_cfg, latents)

    def image():
        e_p, e_neg, e_plus, e_minus = encode()["last_hidden_state"].chunk(4)
        ctx = torch.cat([e_neg + beta * e_minus, e_p + beta * e_plus, e_plus, e_minus])
        timesteps, sigmas = euler_sigmas(case["steps"])
        x = torch.randn(1, 4, side, side, generator=torch.Generator().manual_seed(7)) * (sigmas.max() ** 2 + 1) ** 0.5
        for i, t in enumerate(timesteps):
            eps = guided(x / (sigmas[i] ** 2 + 1) ** 0.5, t.reshape(1), ctx)
            x = x + (sigmas[i + 1] - sigmas[i]) * eps
        return sd_reference.vae_decode(vae_sd, vae_cfg, x / vae_cfg.get("scaling_factor", 0.18215))

    return {"text": encode, "unet_step": unet_step, "vae_decode": vae_decode, "image": image}[case["stage"]]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pipelines", required=True)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sd_reference.check(os.environ.get("VIPER_SHARED", os.path.join(HERE, "..", "..", "..", "shared")))
    with open(os.path.join(HERE, "..", "shapes.json")) as f:
        cases = json.load(f)["cpu_pipeline"]
    results, flops = {}, {}
    with torch.no_grad():
        for case in cases:
            run = stages(os.path.join(args.pipelines, case["pipeline"]), case)
            flops[case["name"]] = count_flops(run)
            results[case["name"]] = median_ms(run, warmup=1, iterations=case.get("iterations", 5))
            print(f"{case['name']}: {results[case['name']]:.1f} ms, {flops[case['name']] / 1e9:.1f} GFLOP", flush=True)
    with open(args.out, "w") as f:
        json.dump({"torch": torch.__version__, "threads": args.threads, "cases": results, "flops": flops}, f, indent=2)


if __name__ == "__main__":
    main()
