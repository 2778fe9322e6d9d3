#!/usr/bin/env python3
"""Second half of examples/gpu/device-check.sh: compares Puzzle's logits with Hugging Face transformers' on the same
tokens, and gathers the pipeline run's timings and metrics, into one results JSON.

Reference: transformers (LlamaForCausalLM) where it is installed; otherwise an independent PyTorch Llama written
here from the Llama definition (RMSNorm, RoPE with llama3 scaling, GQA, SwiGLU), so the script also runs on a machine
without transformers (the project's CPU check). Our logits come from `puzzle logits`. Needs torch; nothing else.
"""
import argparse
import glob
import json
import math
import os
import platform
import random
import struct
import subprocess
import sys
import time
import traceback

import torch

FP32_TOLERANCE = 1e-4   # max |ours - reference| / max |reference|, same dtype on both sides
BF16_TOLERANCE = 1e-2


def log(message, file=None):
    line = f"[{time.strftime('%H:%M:%S')}] {message}"
    print(line, flush=True)
    if file:
        with open(file, "a") as f:
            f.write(line + "\n")


# --- checkpoints --------------------------------------------------------------------------------------------------

def read_safetensors(path):
    """name -> float32 tensor, without the safetensors package (F32, F16, BF16)."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    tensors = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        start, end = e["data_offsets"]
        raw = bytearray(data[8 + n + start:8 + n + end])
        if e["dtype"] == "F32":
            t = torch.frombuffer(raw, dtype=torch.float32)
        elif e["dtype"] == "F16":
            t = torch.frombuffer(raw, dtype=torch.float16).float()
        elif e["dtype"] == "BF16":
            t = (torch.frombuffer(raw, dtype=torch.int16).to(torch.int32) << 16).view(torch.float32)
        else:
            raise ValueError(f"{path}: tensor {name} has dtype {e['dtype']}, not F32/F16/BF16")
        tensors[name] = t.reshape(e["shape"]).clone()
    return tensors


def read_checkpoint(model_dir):
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        files = sorted(set(json.load(open(index))["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    weights = {}
    for f in files:
        weights.update(read_safetensors(os.path.join(model_dir, f)))
    return weights


def read_logits(path):
    return read_safetensors(path)["logits"]


# --- the independent reference (used where transformers is not installed) -------------------------------------------

def rope_settings(cfg):
    params = cfg.get("rope_parameters") or {}
    theta = cfg.get("rope_theta") or params.get("rope_theta") or 10000.0
    scaling = cfg.get("rope_scaling") or (params if params.get("rope_type") == "llama3" else None)
    return float(theta), scaling


def inv_freq(head_dim, theta, scaling):
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    if scaling and scaling.get("rope_type", scaling.get("type")) == "llama3":
        factor, low, high = scaling["factor"], scaling["low_freq_factor"], scaling["high_freq_factor"]
        original = scaling["original_max_position_embeddings"]
        low_wavelen, high_wavelen = original / low, original / high
        wavelen = 2 * math.pi / inv
        scaled = torch.where(wavelen > low_wavelen, inv / factor, inv)
        smooth = (original / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = (wavelen >= high_wavelen) & (wavelen <= low_wavelen)
        inv = torch.where(medium, smoothed, scaled)
    return inv


class ReferenceLlama:
    """Llama as transformers defines it, in plain torch: the weights of a Hugging Face folder, any device and dtype."""

    def __init__(self, model_dir, device, dtype):
        self.cfg = json.load(open(os.path.join(model_dir, "config.json")))
        self.w = {k: v.to(device=device, dtype=dtype) for k, v in read_checkpoint(model_dir).items()}
        self.device, self.dtype = device, dtype

    def rms(self, x, weight):
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.cfg.get("rms_norm_eps", 1e-6))
        return weight * h.to(x.dtype)

    def __call__(self, ids):
        c, w = self.cfg, self.w
        heads, kv = c["num_attention_heads"], c.get("num_key_value_heads") or c["num_attention_heads"]
        hd = c.get("head_dim") or c["hidden_size"] // heads
        b, t = ids.shape
        theta, scaling = rope_settings(c)
        freqs = torch.outer(torch.arange(t, dtype=torch.int64).float(), inv_freq(hd, theta, scaling))
        emb = torch.cat([freqs, freqs], -1).to(self.device)
        cos, sin = emb.cos().to(self.dtype), emb.sin().to(self.dtype)

        def rotate(x):
            half = x.shape[-1] // 2
            return x * cos + torch.cat([-x[..., half:], x[..., :half]], -1) * sin

        mask = torch.full((t, t), float("-inf"), device=self.device).triu(1)
        x = w["model.embed_tokens.weight"][ids.to(self.device)]
        for i in range(c["num_hidden_layers"]):
            p = f"model.layers.{i}."
            h = self.rms(x, w[p + "input_layernorm.weight"])
            q = (h @ w[p + "self_attn.q_proj.weight"].T).view(b, t, heads, hd).transpose(1, 2)
            k = (h @ w[p + "self_attn.k_proj.weight"].T).view(b, t, kv, hd).transpose(1, 2)
            v = (h @ w[p + "self_attn.v_proj.weight"].T).view(b, t, kv, hd).transpose(1, 2)
            q, k = rotate(q), rotate(k)
            k, v = k.repeat_interleave(heads // kv, 1), v.repeat_interleave(heads // kv, 1)
            scores = (q @ k.transpose(-1, -2)).float() / math.sqrt(hd) + mask
            o = (torch.softmax(scores, -1).to(self.dtype) @ v).transpose(1, 2).reshape(b, t, heads * hd)
            x = x + o @ w[p + "self_attn.o_proj.weight"].T
            h = self.rms(x, w[p + "post_attention_layernorm.weight"])
            gate, up = h @ w[p + "mlp.gate_proj.weight"].T, h @ w[p + "mlp.up_proj.weight"].T
            x = x + (torch.nn.functional.silu(gate) * up) @ w[p + "mlp.down_proj.weight"].T
        x = self.rms(x, w["model.norm.weight"])
        head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
        return (x @ head.T).float().cpu()


def transformers_version():
    try:
        import transformers
        return transformers.__version__
    except Exception:
        return None


def reference_logits(model_dir, ids, device, dtype):
    """(logits, name of the implementation)."""
    if transformers_version():
        from transformers import AutoModelForCausalLM
        try:
            model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
        except TypeError:
            model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=dtype)
        model.to(device).eval()
        with torch.no_grad():
            out = model(input_ids=ids.to(device), use_cache=False).logits.float().cpu()
        del model
        return out, f"transformers {transformers_version()}"
    with torch.no_grad():
        return ReferenceLlama(model_dir, device, dtype)(ids), "independent torch Llama (transformers not installed)"


# --- comparisons ----------------------------------------------------------------------------------------------------

def ours_logits(puzzle, model_dir, ids_file, device, dtype, scratch, log_file):
    out = os.path.join(scratch, f"ours-{os.path.basename(model_dir.rstrip('/'))}-{device}-{dtype}.safetensors")
    start = time.time()
    run = subprocess.run([puzzle, "logits", "--model", model_dir, "--ids", ids_file, "--out", out, "--device", device,
                          "--dtype", dtype], capture_output=True, text=True, timeout=600)
    seconds = time.time() - start
    if run.returncode != 0:
        raise RuntimeError(f"puzzle logits --device {device} --dtype {dtype} failed (exit {run.returncode}): "
                           f"{(run.stderr or run.stdout).strip()[-2000:]}")
    log(run.stdout.strip() + f" ({seconds:.1f} s)", log_file)
    return read_logits(out)


def compare(ours, ref):
    diff = (ours - ref).abs()
    scale = ref.abs().max().item()
    return {
        "max_abs": diff.max().item(),
        "mean_abs": diff.mean().item(),
        "max_rel": diff.max().item() / max(scale, 1e-30),
        "rms_rel": (diff.pow(2).mean().sqrt() / ref.pow(2).mean().sqrt().clamp_min(1e-30)).item(),
        "ref_max_abs": scale,
        "argmax_agreement": (ours.argmax(-1) == ref.argmax(-1)).float().mean().item(),
    }


def check_model(name, model_dir, puzzle, pairs, scratch, log_file):
    """pairs: (our device, our dtype, reference device, reference dtype, tolerance or None for information only)."""
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    rng = random.Random(0)
    ids = [[rng.randrange(cfg["vocab_size"]) for _ in range(48)] for _ in range(2)]
    ids_file = os.path.join(scratch, f"ids-{name}.json")
    json.dump(ids, open(ids_file, "w"))
    ids_t = torch.tensor(ids, dtype=torch.int64)
    results, cache = [], {}
    for dev, dt, ref_dev, ref_dt, tol in pairs:
        entry = {"model": name, "ours": f"{dev}/{dt}", "reference": f"{ref_dev}/{ref_dt}", "tolerance": tol}
        try:
            if (dev, dt) not in cache:
                cache[(dev, dt)] = ours_logits(puzzle, model_dir, ids_file, dev, dt, scratch, log_file)
            key = ("ref", ref_dev, ref_dt)
            if key not in cache:
                cache[key] = reference_logits(model_dir, ids_t, ref_dev, getattr(torch, ref_dt))
            ref, impl = cache[key]
            entry["reference_impl"] = impl
            entry.update(compare(cache[(dev, dt)], ref))
            entry["pass"] = None if tol is None else entry["max_rel"] <= tol
            log(f"{name}: ours {dev}/{dt} vs {impl.split(' (')[0]} {ref_dev}/{ref_dt}: max abs {entry['max_abs']:.3g}, "
                f"max rel {entry['max_rel']:.3g} (tolerance {tol}), argmax agreement {entry['argmax_agreement']:.4f}", log_file)
        except Exception as e:
            entry["pass"] = False
            entry["error"] = f"{type(e).__name__}: {e}"
            log(f"{name}: ours {dev}/{dt} vs {ref_dev}/{ref_dt}: ERROR {entry['error']}", log_file)
            traceback.print_exc()
        results.append(entry)
    return results


def make_hf_random(directory, log_file):
    """A Llama made and saved by transformers itself (GQA, llama3 RoPE scaling, tied embeddings): reading a checkpoint
    transformers wrote, not only one we wrote."""
    from transformers import LlamaConfig, LlamaForCausalLM
    common = dict(vocab_size=1024, hidden_size=128, intermediate_size=352, num_hidden_layers=3, num_attention_heads=8,
                  num_key_value_heads=2, max_position_embeddings=256, tie_word_embeddings=True, initializer_range=0.05,
                  rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2)
    rope = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
            "original_max_position_embeddings": 32}
    try:
        config = LlamaConfig(**common, rope_parameters={**rope, "rope_theta": 500000.0})
    except TypeError:
        config = LlamaConfig(**common, rope_theta=500000.0, rope_scaling=rope)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(directory)
    log(f"transformers saved a random Llama to {directory}: {sorted(os.listdir(directory))}", log_file)


# --- the pipeline run -----------------------------------------------------------------------------------------------

def pipeline_summary(store, pipeline, exit_code, wall):
    summary = {"exit": exit_code, "wall_seconds": wall}
    record_path = os.path.join(store, "runs", pipeline, "last.json")
    if not os.path.exists(record_path):
        summary["error"] = f"no run record at {record_path}"
        return summary, None
    record = json.load(open(record_path))
    jobs = record.get("jobs", [])
    summary["run_seconds"] = record.get("seconds")
    summary["outcomes"] = {o: sum(1 for j in jobs if j["outcome"] == o) for o in sorted({j["outcome"] for j in jobs})}
    stages = {}
    for j in jobs:
        s = stages.setdefault(j["stage"], {"jobs": 0, "ran": 0, "seconds": 0.0})
        s["jobs"] += 1
        if j["outcome"] == "Ran":
            s["ran"] += 1
            s["seconds"] = round(s["seconds"] + j["seconds"], 3)
    summary["stages"] = stages
    summary["failed"] = [{"job": f"{j['stage']}/{j['job']}", "log": j.get("log"), "reason": j.get("reason")}
                         for j in jobs if j["outcome"] in ("Failed", "Skipped", "Cancelled")]
    metrics, parent_dir = {}, None
    for j in jobs:
        entry = os.path.join(store, "cache", j["key"][:2], j["key"])
        manifest = os.path.join(entry, "manifest.json")
        if not os.path.exists(manifest):
            continue
        m = json.load(open(manifest)).get("metrics", {})
        keep = {k: m[k] for k in ("device", "heldout_loss", "heldout_top1", "train_tokens_per_s", "loss", "perplexity",
                                  "top1", "init_nmse", "final_nmse", "tokens_per_s", "prefill_seconds",
                                  "decode_seconds_per_token", "parameter_bytes", "kv_bytes_per_token") if k in m}
        if keep:
            metrics[f"{j['stage']}/{j['job']}"] = keep
        if j["stage"] == "Parent":
            pointer = os.path.join(entry, "parent.json")
            parent_dir = json.load(open(pointer))["path"] if os.path.exists(pointer) else os.path.join(entry, "model")
    summary["metrics"] = metrics
    return summary, parent_dir


def main():
    a = argparse.ArgumentParser(description=__doc__)
    a.add_argument("--puzzle", required=True, help="the puzzle executable")
    a.add_argument("--device", choices=["cuda", "cpu"], required=True)
    a.add_argument("--store", required=True, help="the pipeline run's store")
    a.add_argument("--pipeline", default="ci")
    a.add_argument("--pipeline-exit", type=int, default=0)
    a.add_argument("--pipeline-seconds", type=float, default=0)
    a.add_argument("--extra-model", action="append", default=[], help="NAME=DIR: another Llama folder to compare")
    a.add_argument("--scratch", required=True)
    a.add_argument("--out", required=True, help="results JSON")
    a.add_argument("--log", help="append the log here too")
    args = a.parse_args()
    os.makedirs(args.scratch, exist_ok=True)

    results = {
        "mode": args.device, "host": platform.node(), "python": sys.version.split()[0], "torch": torch.__version__,
        "transformers": transformers_version(), "cuda_available": torch.cuda.is_available(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "tolerances": {"float32": FP32_TOLERANCE, "bfloat16": BF16_TOLERANCE,
                       "measure": "max |ours - reference| / max |reference| over all logits"},
    }
    summary, parent_dir = pipeline_summary(args.store, args.pipeline, args.pipeline_exit, args.pipeline_seconds)
    results["pipeline"] = summary
    log(f"pipeline: exit {args.pipeline_exit}, outcomes {summary.get('outcomes')}, parent {parent_dir}", args.log)

    if args.device == "cuda":
        pairs = [("cuda", "bfloat16", "cuda", "bfloat16", BF16_TOLERANCE),
                 ("cuda", "float32", "cuda", "float32", FP32_TOLERANCE),
                 ("cpu", "float32", "cpu", "float32", FP32_TOLERANCE),
                 ("cuda", "bfloat16", "cuda", "float32", None)]
    else:
        pairs = [("cpu", "float32", "cpu", "float32", FP32_TOLERANCE),
                 ("cpu", "bfloat16", "cpu", "bfloat16", None),
                 ("cpu", "bfloat16", "cpu", "float32", None)]
    models = []
    if parent_dir and os.path.exists(os.path.join(parent_dir, "config.json")):
        models.append(("ci-parent", parent_dir))
    else:
        results.setdefault("errors", []).append("the pipeline published no parent checkpoint to compare")
    if transformers_version() and args.device == "cuda":
        hf_dir = os.path.join(args.scratch, "hf-random-llama")
        try:
            make_hf_random(hf_dir, args.log)
            models.append(("hf-random-llama", hf_dir))
        except Exception as e:
            results.setdefault("errors", []).append(f"making a transformers Llama failed: {type(e).__name__}: {e}")
            traceback.print_exc()
    for spec in args.extra_model:
        name, _, directory = spec.partition("=")
        models.append((name, directory))

    results["logits"] = []
    for name, directory in models:
        results["logits"].extend(check_model(name, directory, args.puzzle, pairs, args.scratch, args.log))

    checked = [r for r in results["logits"] if r.get("tolerance") is not None]
    results["logits_ok"] = bool(checked) and all(r.get("pass") for r in checked)
    results["pipeline_ok"] = args.pipeline_exit == 0
    results["ok"] = results["logits_ok"] and results["pipeline_ok"] and not results.get("errors")
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)
    log(f"results: {args.out}: pipeline {'ok' if results['pipeline_ok'] else 'FAILED'}, "
        f"logits {'ok' if results['logits_ok'] else 'FAILED'}", args.log)
    return 0 if results["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
