#!/usr/bin/env python3
"""Writes tests/fixtures/images/*.png and tests/fixtures/clip/preprocess.safetensors.

Run with Debian's Pillow and NumPy:  /usr/bin/python3 tools/refs/make_clip_image_refs.py
For every test image: "resized_<name>" — Pillow's Image.resize((w, h), BICUBIC, reducing_gap=None) as uint8
(H, W, 3), the size transformers' CLIPImageProcessor picks (shortest side 224, long side int(224·long/short));
"pixels_<name>" — the processor's output as NHWC float32 (224, 224, 3): centre crop at floor((size − 224)/2),
×(1/255) in float64 then float32, (x − mean)/std in float32 (transformers 4.42 image_transforms.py).
RGBA images are first composited over opaque white with Image.alpha_composite.
"""
import os

import numpy as np
import PIL
import torch
from PIL import Image

import safetensors_io

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGES = os.path.join(HERE, "..", "..", "tests", "fixtures", "images")
OUT = os.path.join(HERE, "..", "..", "tests", "fixtures", "clip", "preprocess.safetensors")
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)


def make_images(rng):
    """Smooth gradients plus noise and hard edges, so both the filter's support and its rounding are exercised."""
    def picture(w, h, channels):
        y, x = np.mgrid[0:h, 0:w]
        base = np.stack([(x * 255 // max(w - 1, 1)), (y * 255 // max(h - 1, 1)), ((x + y) * 7) % 256], axis=-1)
        base = base + rng.integers(-40, 41, size=(h, w, 3))
        base[(x // 17 + y // 13) % 2 == 0] //= 2
        rgb = np.clip(base, 0, 255).astype(np.uint8)
        if channels == 4:
            alpha = ((x * 3 + y * 5) % 256).astype(np.uint8)
            return np.concatenate([rgb, alpha[..., None]], axis=-1)
        return rgb
    return {
        "landscape_320x240": picture(320, 240, 3),
        "portrait_201x307": picture(201, 307, 3),
        "upscale_150x120": picture(150, 120, 3),
        "exact_224x224": picture(224, 224, 3),
        "rgba_260x260": picture(260, 260, 4),
    }


def preprocess(image):
    w, h = image.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = 224, int(224 * long / short)
    size = (new_short, new_long) if w <= h else (new_long, new_short)
    resized = image.resize(size, resample=Image.BICUBIC, reducing_gap=None)
    array = np.asarray(resized)
    top, left = (array.shape[0] - 224) // 2, (array.shape[1] - 224) // 2
    crop = array[top:top + 224, left:left + 224]
    scaled = (crop.astype(np.float64) * (1 / 255)).astype(np.float32)
    return array, (scaled - MEAN) / STD


def main():
    os.makedirs(IMAGES, exist_ok=True)
    rng = np.random.default_rng(20261123)
    tensors = {}
    for name, pixels in make_images(rng).items():
        path = os.path.join(IMAGES, name + ".png")
        Image.fromarray(pixels).save(path)
        image = Image.open(path)
        if image.mode == "RGBA":
            image = Image.alpha_composite(Image.new("RGBA", image.size, (255, 255, 255, 255)), image)
        resized, normalised = preprocess(image.convert("RGB"))
        tensors["resized_" + name] = torch.from_numpy(resized.copy())
        tensors["pixels_" + name] = torch.from_numpy(normalised.astype(np.float32))
    safetensors_io.write(OUT, tensors, {"generator": "tools/refs/make_clip_image_refs.py", "pillow": PIL.__version__})
    print(f"wrote {len(tensors) // 2} images and {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
