#!/usr/bin/python3
"""Reference for the dynn image pipeline: writes JPEGs of several sizes and colour modes with
Pillow, then what Pillow + torchvision's OFA validation transform make of them.

usage: pillow_ref.py OUTDIR

Needs Debian's python3-pil and python3-numpy (cmake/install-deps.sh). torchvision is not needed:
its Resize(int) / CenterCrop / ToTensor / Normalize steps are reproduced below line for line
(torchvision 0.14 transforms/functional.py), with Pillow doing the resize itself.

OUTDIR/manifest.txt lines:
  image NAME.jpg                      -> NAME.rgb (convert('RGB') pixels, HWC uint8)
  eval NAME.jpg R W H                 -> NAME.r<R>.resized (WxH after Resize(S)), NAME.r<R>.crop,
                                         NAME.r<R>.f32 (normalised CHW float32)
  resize NAME.jpg W H                 -> NAME.<W>x<H>.rgb (Image.resize((W, H), BILINEAR) of the RGB image)
"""
import os
import sys

import numpy as np
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def content(w, h, seed):
    """Photo-like content: smooth gradients, blobs, sharp edges and noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, 3))
    for c in range(3):
        fx, fy = rng.uniform(0.5, 6, 2)
        img[..., c] = 128 + 90 * np.sin(2 * np.pi * (fx * x / w + fy * y / h) + rng.uniform(0, 6))
    for _ in range(6):  # discs with hard edges
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(3, max(4, min(w, h) / 3))
        mask = (x - cx) ** 2 + (y - cy) ** 2 < r * r
        img[mask] = rng.uniform(0, 255, 3)
    img += rng.normal(0, 12, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def torchvision_resize_size(w, h, size):
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    return (new_short, new_long) if w <= h else (new_long, new_short)


def eval_transform(img, r):
    s = int(np.ceil(r / 0.875))
    nw, nh = torchvision_resize_size(img.width, img.height, s)
    resized = img if (nw, nh) == img.size else img.resize((nw, nh), Image.BILINEAR)
    top = int(round((resized.height - r) / 2.0))
    left = int(round((resized.width - r) / 2.0))
    crop = resized.crop((left, top, left + r, top + r))
    t = np.asarray(crop, dtype=np.uint8).astype(np.float32) / np.float32(255)
    t = (t - MEAN) / STD
    return resized, crop, np.ascontiguousarray(t.transpose(2, 0, 1), dtype=np.float32)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    cases = [  # name, w, h, mode, save options
        ("rgb_500x375", 500, 375, "RGB", dict(quality=90)),
        ("rgb_375x500", 375, 500, "RGB", dict(quality=75)),
        ("rgb_odd_97x61", 97, 61, "RGB", dict(quality=85)),
        ("rgb_tall_33x200", 33, 200, "RGB", dict(quality=95)),
        ("rgb_small_50x40", 50, 40, "RGB", dict(quality=90)),  # upscaled by every transform
        ("rgb_444_301x257", 301, 257, "RGB", dict(quality=92, subsampling=0)),
        ("rgb_422_255x255", 255, 255, "RGB", dict(quality=88, subsampling=1)),
        ("rgb_progressive_640x427", 640, 427, "RGB", dict(quality=80, progressive=True)),
        ("rgb_exact_224x300", 224, 300, "RGB", dict(quality=90)),  # short side == S for r = 196
        ("gray_320x241", 320, 241, "L", dict(quality=90)),
        ("cmyk_211x300", 211, 300, "CMYK", dict(quality=90)),
        ("rgb_big_1200x801", 1200, 801, "RGB", dict(quality=90)),
    ]
    lines = []
    for i, (name, w, h, mode, opts) in enumerate(cases):
        rgb = Image.fromarray(content(w, h, 1000 + i), "RGB")
        src = rgb.convert(mode) if mode != "RGB" else rgb
        fn = name + ".jpg"
        src.save(os.path.join(out, fn), "JPEG", **opts)
        img = Image.open(os.path.join(out, fn))
        assert img.mode == mode, (fn, img.mode)
        img = img.convert("RGB")
        np.asarray(img, dtype=np.uint8).tofile(os.path.join(out, name + ".rgb"))
        lines.append(f"image {fn}")
        for r in (128, 160, 176, 196, 224):
            resized, crop, t = eval_transform(img, r)
            np.asarray(resized, dtype=np.uint8).tofile(os.path.join(out, f"{name}.r{r}.resized"))
            np.asarray(crop, dtype=np.uint8).tofile(os.path.join(out, f"{name}.r{r}.crop"))
            t.tofile(os.path.join(out, f"{name}.r{r}.f32"))
            lines.append(f"eval {fn} {r} {resized.width} {resized.height}")
        for (rw, rh) in ((w // 3 + 1, h // 2 + 1), (w * 2 + 1, h), (w, h * 3 - 1), (7, 5), (w + 13, h * 2)):
            np.asarray(img.resize((rw, rh), Image.BILINEAR), dtype=np.uint8).tofile(os.path.join(out, f"{name}.{rw}x{rh}.rgb"))
            lines.append(f"resize {fn} {rw} {rh}")
    with open(os.path.join(out, "manifest.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
