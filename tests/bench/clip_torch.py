"""PyTorch reference for CLIP ViT-B/32 image embedding in loupe-models: transformers'
CLIPVisionModelWithProjection with random weights (the speed does not depend on them),
the Pillow CLIPImageProcessor preprocessing (alpha composited on white first, as Loupe
does), and L2-normalised image_embeds.

usage:
  python clip_torch.py make MODEL_DIR
      writes random ViT-B/32 weights (seed 0) as MODEL_DIR/model.safetensors, with the
      CLIPConfig and preprocessor_config.json of openai/clip-vit-base-patch32, for both
      sides to load.
  python clip_torch.py run MODEL_DIR FOLDER BATCH [OUT.tsv]
      prints images/s over the folder's PNG/JPEG files (decoding and preprocessing
      included) on 2 threads, and with OUT writes each image's path and embedding.
"""
import os
import sys
import time

import numpy as np
import safetensors.torch
import torch
from PIL import Image
from transformers import CLIPConfig, CLIPVisionModelWithProjection

try:
    from transformers import CLIPImageProcessorPil as PilProcessor
except ImportError:  # transformers 4: the Pillow processor is CLIPImageProcessor
    from transformers import CLIPImageProcessor as PilProcessor


def config():
    # CLIPConfig's defaults are ViT-B/32's (openai/clip-vit-base-patch32).
    return CLIPConfig()


def make(model_dir):
    os.makedirs(model_dir, exist_ok=True)
    torch.manual_seed(0)
    cfg = config()
    vision = cfg.vision_config
    vision.projection_dim = cfg.projection_dim
    model = CLIPVisionModelWithProjection(vision).eval()
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    safetensors.torch.save_file(tensors, os.path.join(model_dir, "model.safetensors"))
    cfg.to_json_file(os.path.join(model_dir, "config.json"))
    PilProcessor().save_pretrained(model_dir)


def on_white(image):
    """loupe_core::pixels::on_white: (c*a + 255*(255-a) + 127) / 255 in integers."""
    if image.mode not in ("RGBA", "LA", "PA") and "transparency" not in image.info:
        return image.convert("RGB")
    rgba = np.asarray(image.convert("RGBA")).astype(np.uint32)
    a = rgba[..., 3:4]
    flat = (rgba[..., :3] * a + 255 * (255 - a) + 127) // 255
    return Image.fromarray(flat.astype(np.uint8), "RGB")


def load(path):
    image = Image.open(path)
    image.load()
    return on_white(image)


def run(model_dir, folder, batch, out):
    torch.set_num_threads(2)
    torch.set_grad_enabled(False)
    cfg = config()
    vision = cfg.vision_config
    vision.projection_dim = cfg.projection_dim
    model = CLIPVisionModelWithProjection(vision).eval()
    model.load_state_dict(safetensors.torch.load_file(os.path.join(model_dir, "model.safetensors")))
    processor = PilProcessor.from_pretrained(model_dir)
    files = sorted(os.path.join(r, f) for r, _, fs in os.walk(folder) for f in fs
                   if f.lower().endswith((".png", ".jpg", ".jpeg")))
    model(pixel_values=processor(images=[load(files[0])], return_tensors="pt")["pixel_values"])  # warm-up
    rows = []
    prep = forward = 0.0
    start = time.perf_counter()
    for i in range(0, len(files), batch):
        t = time.perf_counter()
        pixels = processor(images=[load(f) for f in files[i:i + batch]], return_tensors="pt")["pixel_values"]
        prep += time.perf_counter() - t
        t = time.perf_counter()
        embeds = model(pixel_values=pixels).image_embeds
        rows.append(torch.nn.functional.normalize(embeds, dim=-1))
        forward += time.perf_counter() - t
    took = time.perf_counter() - start
    print(f"pytorch {torch.__version__} ({torch.get_num_threads()} threads) clip vit-b/32: {len(files)} images, "
          f"batch {batch}: {len(files) / took:.1f} images/s (decode+preprocess {prep:.2f} s, "
          f"forward {forward:.2f} s, total {took:.2f} s)")
    if out:
        embeddings = torch.cat(rows).numpy()
        with open(out, "w") as f:
            for path, row in zip(files, embeddings):
                f.write(path + "\t" + " ".join(f"{v:.7g}" for v in row) + "\n")


def main():
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        run(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] if len(sys.argv) > 5 else None)


if __name__ == "__main__":
    main()
