"""Writes the torch.save fixtures of tests/fixtures/torch with Debian's PyTorch (python3-torch): state dicts as
Lightning and the original Stable Diffusion checkpoints save them, an A1111 textual-inversion embedding saved with an
nn.Parameter, and files that would run code if unpickled (they must be refused by name). The expected tensors are
written beside them as safetensors so the reader is checked against torch's own bytes.

Run: /usr/bin/python3 tools/refs/make_torch_files.py
"""
import collections
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "torch")


class Evil:
    """Pickles as a call of os.system: a file that runs a command when torch.load(weights_only=False) reads it."""

    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/viper-pwned",))


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(30)
    state = collections.OrderedDict()
    state["model.diffusion_model.a.weight"] = torch.randn(3, 4, generator=g)
    state["model.diffusion_model.b.weight"] = torch.randn(2, 3, generator=g).half()
    fused = torch.randn(6, 2, generator=g)
    state["model.diffusion_model.c.in_proj_weight"] = fused
    state["model.diffusion_model.c.first_rows"] = fused[2:4]  # a view: offset into a shared storage
    state["model.diffusion_model.d.scalar"] = torch.tensor(1.5)
    state["model.diffusion_model.e.param"] = torch.nn.Parameter(torch.randn(2, 2, generator=g))
    torch.save({"state_dict": state, "global_step": 470000, "epoch": 3}, os.path.join(OUT, "state_dict.ckpt"))
    # the rows view is saved as torch stores it (offset into the fused storage); its expected bytes are the rows
    expected = {k: v.detach().contiguous() for k, v in state.items()}
    safetensors_io.write(os.path.join(OUT, "state_dict_expected.safetensors"), expected, {})

    # a module's own state_dict(): an OrderedDict with a _metadata attribute (pickled with BUILD), saved at the root
    linear = torch.nn.Linear(4, 3)
    torch.manual_seed(31)
    torch.nn.init.normal_(linear.weight)
    torch.save(linear.state_dict(), os.path.join(OUT, "module_state_dict.pt"))
    safetensors_io.write(os.path.join(OUT, "module_state_dict_expected.safetensors"), {k: v.detach() for k, v in linear.state_dict().items()}, {})

    torch.save({"state_dict": state, "callback": Evil()}, os.path.join(OUT, "evil_state_dict.ckpt"))
    torch.save({"string_to_token": {"*": 265}, "string_to_param": {"*": Evil()}, "name": "evil"}, os.path.join(OUT, "evil_embedding.pt"))

    param = torch.nn.Parameter(torch.randn(2, 8, generator=g))
    torch.save({"string_to_token": {"*": 265}, "string_to_param": {"*": param}, "name": "param-style", "step": 100},
               os.path.join(OUT, "param-style.pt"))
    safetensors_io.write(os.path.join(OUT, "param-style_expected.safetensors"), {"emb_params": param.detach()}, {})
    print(f"wrote {len(os.listdir(OUT))} files to {os.path.normpath(OUT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
