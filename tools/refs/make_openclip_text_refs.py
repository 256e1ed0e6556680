"""Writes tests/fixtures/openclip-text: a tiny OpenCLIP-style text tower (SDXL's text_encoder_2 as transformers'
CLIPTextModelWithProjection holds it: exact gelu, pre-LN blocks, causal attention, final LayerNorm, pooling at the
argmax id because eos_token_id == 2, text_projection without bias) written in plain torch, and the aesthetic-gradients
loss -cos(normalize(text_projection(pooled)), normalize(image)) with its gradient for every text_model parameter
(text_projection is frozen, as the method trains text_model only): autograd in f64 (the reference) and in f32, and
central finite differences in f64 and f32 on sampled coordinates, checked against autograd here.

Run: /usr/bin/python3 tools/refs/make_openclip_text_refs.py
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "openclip-text")
CONFIG = {
    "architectures": ["CLIPTextModelWithProjection"], "model_type": "clip_text_model", "vocab_size": 50, "hidden_size": 20,
    "intermediate_size": 40, "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 12,
    "hidden_act": "gelu", "layer_norm_eps": 1e-5, "projection_dim": 24, "bos_token_id": 48, "eos_token_id": 2, "pad_token_id": 1,
}
IDS = [48, 5, 17, 9, 33, 49, 0, 0, 0, 0, 0, 0]  # BOS … EOS (49, the largest id) then "!" (0) padding, as bigG's tokenizer pads


def params(g):
    c = CONFIG
    d, f, v, n = c["hidden_size"], c["intermediate_size"], c["vocab_size"], c["max_position_embeddings"]
    p = {"text_model.embeddings.token_embedding.weight": torch.randn(v, d, generator=g) * 0.5,
         "text_model.embeddings.position_embedding.weight": torch.randn(n, d, generator=g) * 0.2}
    for i in range(c["num_hidden_layers"]):
        pre = f"text_model.encoder.layers.{i}."
        for name in ["q_proj", "k_proj", "v_proj", "out_proj"]:
            p[pre + f"self_attn.{name}.weight"] = torch.randn(d, d, generator=g) * 0.3
            p[pre + f"self_attn.{name}.bias"] = torch.randn(d, generator=g) * 0.1
        for ln in ["layer_norm1", "layer_norm2"]:
            p[pre + f"{ln}.weight"] = 1 + torch.randn(d, generator=g) * 0.1
            p[pre + f"{ln}.bias"] = torch.randn(d, generator=g) * 0.1
        p[pre + "mlp.fc1.weight"] = torch.randn(f, d, generator=g) * 0.3
        p[pre + "mlp.fc1.bias"] = torch.randn(f, generator=g) * 0.1
        p[pre + "mlp.fc2.weight"] = torch.randn(d, f, generator=g) * 0.3
        p[pre + "mlp.fc2.bias"] = torch.randn(d, generator=g) * 0.1
    p["text_model.final_layer_norm.weight"] = 1 + torch.randn(d, generator=g) * 0.1
    p["text_model.final_layer_norm.bias"] = torch.randn(d, generator=g) * 0.1
    p["text_projection.weight"] = torch.randn(c["projection_dim"], d, generator=g) * 0.3
    return p


def loss_fn(p, ids, image):
    c = CONFIG
    d, h = c["hidden_size"], c["num_attention_heads"]
    hd, t, eps = d // h, len(ids), c["layer_norm_eps"]
    idx = torch.tensor(ids)
    x = p["text_model.embeddings.token_embedding.weight"][idx] + p["text_model.embeddings.position_embedding.weight"][:t]
    mask = torch.full((t, t), float("-inf"), dtype=x.dtype).triu(1)
    for i in range(c["num_hidden_layers"]):
        pre = f"text_model.encoder.layers.{i}."
        r = x
        y = torch.nn.functional.layer_norm(x, (d,), p[pre + "layer_norm1.weight"], p[pre + "layer_norm1.bias"], eps)
        q = (y @ p[pre + "self_attn.q_proj.weight"].T + p[pre + "self_attn.q_proj.bias"]) * hd ** -0.5
        k = y @ p[pre + "self_attn.k_proj.weight"].T + p[pre + "self_attn.k_proj.bias"]
        v = y @ p[pre + "self_attn.v_proj.weight"].T + p[pre + "self_attn.v_proj.bias"]
        q, k, v = (z.view(t, h, hd).transpose(0, 1) for z in (q, k, v))
        a = torch.softmax(q @ k.transpose(1, 2) + mask, dim=-1) @ v
        a = a.transpose(0, 1).reshape(t, d) @ p[pre + "self_attn.out_proj.weight"].T + p[pre + "self_attn.out_proj.bias"]
        x = r + a
        r = x
        y = torch.nn.functional.layer_norm(x, (d,), p[pre + "layer_norm2.weight"], p[pre + "layer_norm2.bias"], eps)
        y = torch.nn.functional.gelu(y @ p[pre + "mlp.fc1.weight"].T + p[pre + "mlp.fc1.bias"])  # exact (erf) gelu
        x = r + y @ p[pre + "mlp.fc2.weight"].T + p[pre + "mlp.fc2.bias"]
    x = torch.nn.functional.layer_norm(x, (d,), p["text_model.final_layer_norm.weight"], p["text_model.final_layer_norm.bias"], eps)
    pooled = x[int(idx.argmax())]  # eos_token_id == 2: transformers' legacy argmax pooling
    text = pooled @ p["text_projection.weight"].T
    return -(text / text.norm()) @ (image / image.norm()), x


def gradients(p, ids, image, dtype):
    q = {k: v.to(dtype).clone().requires_grad_(k.startswith("text_model.")) for k, v in p.items()}
    loss, states = loss_fn(q, ids, image.to(dtype))
    loss.backward()
    return loss.item(), states.detach(), {k: v.grad for k, v in q.items() if v.grad is not None}


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(77)
    p = params(g)
    image = torch.randn(CONFIG["projection_dim"], generator=g)
    loss64, states64, grads64 = gradients(p, IDS, image, torch.float64)
    loss32, _, grads32 = gradients(p, IDS, image, torch.float32)

    # central finite differences on sampled coordinates, in f64 (h 1e-6) and f32 (h 1e-3)
    picks, fd64, fd32 = [], [], []
    for name in sorted(grads64):
        n = p[name].numel()
        for j in sorted({0, n // 2, n - 1} if not name.endswith("token_embedding.weight") else {IDS[1] * CONFIG["hidden_size"] + 3}):
            for dtype, hstep, out in ((torch.float64, 1e-6, fd64), (torch.float32, 1e-3, fd32)):
                plus = {k: v.to(dtype).clone() for k, v in p.items()}
                minus = {k: v.to(dtype).clone() for k, v in p.items()}
                plus[name].view(-1)[j] += hstep
                minus[name].view(-1)[j] -= hstep
                out.append(((loss_fn(plus, IDS, image.to(dtype))[0] - loss_fn(minus, IDS, image.to(dtype))[0]) / (2 * hstep)).item())
            picks.append((name, j))
    worst = max(abs(fd - grads64[name].view(-1)[j].item()) for (name, j), fd in zip(picks, fd64))
    assert worst < 1e-7, f"f64 finite differences disagree with autograd by {worst}"

    safetensors_io.write(os.path.join(OUT, "model.safetensors"), {k: v.float() for k, v in p.items()}, {"format": "pt"})
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
    safetensors_io.write(os.path.join(OUT, "inputs.safetensors"),
                         {"ids": torch.tensor(IDS, dtype=torch.int64), "aesthetic_embedding": image}, {})
    outs = {"loss_f64": torch.tensor([loss64], dtype=torch.float64), "loss_f32": torch.tensor([loss32]),
            "last_hidden_state": states64.float(), "fd_f64": torch.tensor(fd64, dtype=torch.float64), "fd_f32": torch.tensor(fd32)}
    outs.update({f"grad_f64.{k}": v for k, v in grads64.items()})
    outs.update({f"grad_f32.{k}": v for k, v in grads32.items()})
    safetensors_io.write(os.path.join(OUT, "outputs.safetensors"), outs,
                         {"fd_coordinates": json.dumps([[n, j] for n, j in picks]), "fd_f64_worst_vs_autograd": repr(worst)})
    print(f"wrote {OUT}: loss {loss64:.6f}, {len(picks)} finite-difference coordinates (f64 within {worst:.2e} of autograd)", file=sys.stderr)


if __name__ == "__main__":
    main()
