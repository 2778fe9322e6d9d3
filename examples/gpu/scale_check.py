#!/usr/bin/env python3
"""Python half of examples/gpu/scale-check.sh: builds Llama-shaped parents with random weights (transformers, bfloat16,
sharded safetensors), times bare PyTorch training steps of the block variants BLD trains, and gathers the pipeline's
manifests, phase times and GPU memory into one results JSON (merged into --out, so phases can add to it in turn).

  scale_check.py bare --device cuda                 bare bf16 training steps of each variant shape (1B and 8B)
  scale_check.py build --shape 1b --to DIR --tokenizer FILE
  scale_check.py collect --store DIR --phases TSV --gpumem CSV
"""
import argparse
import calendar
import json
import math
import os
import shutil
import sys
import time

SHAPES = {
    # Llama-3.2-1B and Llama-3.1-8B: hidden, FFN, layers, heads, KV heads, tied embeddings
    "1b": dict(hidden=2048, ffn=8192, layers=16, heads=32, kv=8, tied=True),
    "8b": dict(hidden=4096, ffn=14336, layers=32, heads=32, kv=8, tied=False),
    # for rehearsing the script on a CPU
    "tiny": dict(hidden=256, ffn=1024, layers=4, heads=8, kv=4, tied=True, vocab=32768),
}
VOCAB = 128256
BATCH, SEQ = 8, 512


def log(args, message):
    line = f"[{time.strftime('%H:%M:%S')}] {message}"
    print(line, flush=True)
    with open(args.log, "a") as f:
        f.write(line + "\n")


def merge(path, key, value):
    data = json.load(open(path)) if os.path.exists(path) else {}
    data[key] = value
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2)
    os.replace(tmp, path)


# --- bare training steps ------------------------------------------------------------------------------------------

def bare(args):
    """Seconds per bare bf16 training step (frozen parent subblock forward, variant forward + backward, fused AdamW) of
    each variant shape BLD trains, batch 8 x 512, and the parent's whole forward pass."""
    import torch
    import torch.nn.functional as F
    dev = torch.device(args.device)
    dtype = torch.bfloat16 if args.device == "cuda" else torch.float32
    results = {}

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def rms(x, w):
        v = x.float().pow(2).mean(-1, keepdim=True)
        return (x.float() * torch.rsqrt(v + 1e-5)).to(x.dtype) * w

    def ffn_params(h, width):
        return [torch.randn(width, h, device=dev, dtype=dtype) * 0.02 for _ in range(2)] + [torch.randn(h, width, device=dev, dtype=dtype) * 0.02]

    def ffn(x, p, norm):
        g, u, d = p
        y = rms(x, norm)
        return F.linear(F.silu(F.linear(y, g)) * F.linear(y, u), d)

    def attn_params(h, heads, kv):
        hd = h // heads
        return [torch.randn(heads * hd, h, device=dev, dtype=dtype) * 0.02, torch.randn(kv * hd, h, device=dev, dtype=dtype) * 0.02,
                torch.randn(kv * hd, h, device=dev, dtype=dtype) * 0.02, torch.randn(h, heads * hd, device=dev, dtype=dtype) * 0.02]

    def attention(x, p, norm, heads, kv, cos, sin):
        q, k, v, o = p
        b, t, h = x.shape
        hd = h // heads
        y = rms(x, norm)
        qs = F.linear(y, q).view(b, t, heads, hd).transpose(1, 2)
        ks = F.linear(y, k).view(b, t, kv, hd).transpose(1, 2)
        vs = F.linear(y, v).view(b, t, kv, hd).transpose(1, 2)

        def rope(z):
            z1, z2 = z[..., : hd // 2], z[..., hd // 2:]
            return z * cos + torch.cat((-z2, z1), -1) * sin
        qs, ks = rope(qs), rope(ks)
        if hasattr(F, "scaled_dot_product_attention"):
            ks, vs = ks.repeat_interleave(heads // kv, 1), vs.repeat_interleave(heads // kv, 1)
            out = F.scaled_dot_product_attention(qs, ks, vs, is_causal=True)
        else:  # an old PyTorch (rehearsing on a CPU)
            ks, vs = ks.repeat_interleave(heads // kv, 1), vs.repeat_interleave(heads // kv, 1)
            scores = (qs @ ks.transpose(-1, -2)) / math.sqrt(hd)
            scores = scores.masked_fill(torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1), float("-inf"))
            out = scores.softmax(-1) @ vs
        return F.linear(out.transpose(1, 2).reshape(b, t, heads * hd), o)

    def nmse(a, b):
        a, b = a.float(), b.float()
        return (a - b).pow(2).mean() / b.pow(2).mean()

    def time_steps(step):
        # on a CPU (rehearsing the script) a few steps, so that the phase ends within its limit there too
        n, warmup = (20, 5) if dev.type == "cuda" else (3, 1)
        for _ in range(warmup):
            step()
        sync()
        start = time.perf_counter()
        for _ in range(n):
            step()
        sync()
        return (time.perf_counter() - start) / n

    for name in args.shapes.split():
        s = SHAPES[name]
        h, heads, kv = s["hidden"], s["heads"], s["kv"]
        hd = h // heads
        pos = torch.arange(SEQ, device=dev, dtype=torch.float32)
        inv = 1.0 / (500000.0 ** (torch.arange(0, hd, 2, device=dev, dtype=torch.float32) / hd))
        ang = torch.cat((torch.outer(pos, inv),) * 2, -1)
        cos, sin = ang.cos().to(dtype), ang.sin().to(dtype)
        x = torch.randn(BATCH, SEQ, h, device=dev, dtype=dtype)
        norm = torch.ones(h, device=dev, dtype=dtype)
        parent_ffn = ffn_params(h, s["ffn"])
        parent_attn = attn_params(h, heads, kv)
        for kind, arg in [("ffn", 0.5), ("ffn", 0.25), ("attention", 4), ("attention", 2)]:
            if kind == "ffn":
                p = [t.clone().requires_grad_() for t in ffn_params(h, int(s["ffn"] * arg))]

                def fwd(z, p=p):
                    return ffn(z, p, norm)

                def teacher(z):
                    return ffn(z, parent_ffn, norm)
            else:
                p = [t.clone().requires_grad_() for t in attn_params(h, heads, arg)]

                def fwd(z, p=p, arg=arg):
                    return attention(z, p, norm, heads, arg, cos, sin)

                def teacher(z):
                    return attention(z, parent_attn, norm, heads, kv, cos, sin)
            opt = torch.optim.AdamW(p, lr=1e-4, **({"fused": True} if dev.type == "cuda" else {}))

            def step(fwd=fwd, teacher=teacher, opt=opt):
                with torch.no_grad():
                    target = teacher(x)
                loss = nmse(fwd(x), target)
                loss.backward()
                opt.step()
                opt.zero_grad(set_to_none=True)
            seconds = time_steps(step)
            key = f"{name}.{kind}.{'ratio' if kind == 'ffn' else 'kv'}{arg}"
            results[key] = {"step_s": seconds, "tokens_per_s": BATCH * SEQ / seconds}
            log(args, f"bare {key}: {seconds * 1e3:.2f} ms per step, {BATCH * SEQ / seconds:,.0f} tokens/s")
            merge(args.out, "bare_steps", results)  # after each variant: a phase cut short keeps what it timed
            del opt, p
        if dev.type == "cuda":
            torch.cuda.empty_cache()


# --- parents ------------------------------------------------------------------------------------------------------

def build(args):
    """A parent of the shape, random weights, saved by transformers in bfloat16 as safetensors shards."""
    import torch
    s = SHAPES[args.shape]
    start = time.perf_counter()
    rope = {"rope_type": "llama3", "factor": 8.0 if args.shape == "8b" else 32.0, "low_freq_factor": 1.0,
            "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}
    vocab = s.get("vocab", VOCAB)
    common = dict(vocab_size=vocab, hidden_size=s["hidden"], intermediate_size=s["ffn"], num_hidden_layers=s["layers"],
                  num_attention_heads=s["heads"], num_key_value_heads=s["kv"], max_position_embeddings=131072,
                  rms_norm_eps=1e-5, tie_word_embeddings=s["tied"], bos_token_id=1, eos_token_id=2)
    made_by = "transformers"
    try:
        import transformers
        try:
            config = transformers.LlamaConfig(**common, rope_parameters={"rope_theta": 500000.0, **rope})
        except TypeError:
            config = transformers.LlamaConfig(**common, rope_theta=500000.0, rope_scaling=rope)
        with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
            model = transformers.LlamaForCausalLM(config).to(torch.bfloat16)
        model.save_pretrained(args.to, max_shard_size="2GB", safe_serialization=True)
        made_by += " " + transformers.__version__
        params = sum(p.numel() for p in model.parameters())
        del model
    except ImportError:
        made_by = "torch (transformers is not installed)"
        params = write_plain(args.to, s, rope, common)
    shutil.copy(args.tokenizer, os.path.join(args.to, "tokenizer.json"))
    size = sum(os.path.getsize(os.path.join(args.to, f)) for f in os.listdir(args.to))
    seconds = time.perf_counter() - start
    log(args, f"parent {args.shape}: {params / 1e9:.2f}B parameters, {size / 1e9:.2f} GB, by {made_by}, in {seconds:.0f} s")
    merge(args.out, f"parent_{args.shape}", {"parameters": params, "bytes": size, "made_by": made_by, "seconds": seconds})


def write_plain(directory, s, rope, common):
    """The same checkpoint without transformers (for rehearsing the script on a machine without it)."""
    import torch
    VOCAB = common["vocab_size"]
    os.makedirs(directory, exist_ok=True)
    h, hd = s["hidden"], s["hidden"] // s["heads"]
    tensors = {"model.embed_tokens.weight": (VOCAB, h), "model.norm.weight": (h,)}
    for i in range(s["layers"]):
        p = f"model.layers.{i}."
        tensors.update({p + "self_attn.q_proj.weight": (s["heads"] * hd, h), p + "self_attn.k_proj.weight": (s["kv"] * hd, h),
                        p + "self_attn.v_proj.weight": (s["kv"] * hd, h), p + "self_attn.o_proj.weight": (h, s["heads"] * hd),
                        p + "mlp.gate_proj.weight": (s["ffn"], h), p + "mlp.up_proj.weight": (s["ffn"], h),
                        p + "mlp.down_proj.weight": (h, s["ffn"]), p + "input_layernorm.weight": (h,),
                        p + "post_attention_layernorm.weight": (h,)})
    if not s["tied"]:
        tensors["lm_head.weight"] = (VOCAB, h)
    header, offset, blobs = {}, 0, []
    for name, shape in tensors.items():
        t = torch.ones(shape) if len(shape) == 1 else torch.randn(shape) * 0.02
        raw = (t.to(torch.float32).view(torch.int32) >> 16).to(torch.int16).numpy().tobytes()  # bfloat16 by truncation
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    head = json.dumps(header).encode()
    head += b" " * ((8 - len(head) % 8) % 8)
    with open(os.path.join(directory, "model.safetensors"), "wb") as f:
        f.write(len(head).to_bytes(8, "little") + head)
        for b in blobs:
            f.write(b)
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu", "torch_dtype": "bfloat16",
              "rope_theta": 500000.0, "rope_scaling": rope, "head_dim": hd, **common}
    json.dump(config, open(os.path.join(directory, "config.json"), "w"), indent=2)
    return sum(math.prod(shape) for shape in tensors.values())  # a tied head has no tensor of its own here


# --- results ------------------------------------------------------------------------------------------------------

def collect(args):
    phases = []
    for line in open(args.phases):
        name, start, end, rc = line.rstrip("\n").split("\t")
        phases.append({"phase": name, "start": float(start), "end": float(end), "seconds": float(end) - float(start), "exit": rc})
    samples = []
    if os.path.exists(args.gpumem):
        for line in open(args.gpumem):
            try:
                stamp, used = [x.strip() for x in line.split(",")]
                samples.append((calendar.timegm(time.strptime(stamp.split(".")[0], "%Y/%m/%d %H:%M:%S")) + float("0." + stamp.split(".")[1]), float(used)))
            except (ValueError, IndexError):
                pass
    def peak(start, end):
        inside = [u for t, u in samples if start - 0.5 <= t <= end + 0.5]
        return max(inside) if inside else None
    for p in phases:
        p["peak_gpu_mib"] = peak(p["start"], p["end"])

    jobs = []
    cache = os.path.join(args.store, "cache")
    for root, _, files in os.walk(cache):
        if "manifest.json" in files:
            m = json.load(open(os.path.join(root, "manifest.json")))
            keep = {k: v for k, v in (m.get("metrics") or {}).items() if not isinstance(v, (list, dict)) or k in ("initialiser_nmse", "phase_seconds")}
            jobs.append({"stage": m["stage"], "job": m["job"], "seconds": m.get("seconds"), "metrics": keep, "dir": root,
                         "started": m.get("startedUtc") or m.get("started_utc"),
                         "train_embeddings": ((m.get("config") or {}).get("gkd") or {}).get("train_embeddings")})
    # bytes on disk: a file the store shares between entries (a hard link: the exported child's weights are the healed
    # ones) counts once, in the job that was built first
    seen = set()
    def disk(path):
        st = os.stat(path)
        if st.st_nlink > 1:
            if (st.st_dev, st.st_ino) in seen:
                return 0
            seen.add((st.st_dev, st.st_ino))
        return st.st_size
    for j in sorted(jobs, key=lambda j: (j.get("started") or "", j["dir"])):
        j["bytes"] = sum(disk(os.path.join(r, f)) for r, _, fs in os.walk(j.pop("dir")) for f in fs)
    # the device's memory in use while a job ran is that job's when it ran alone (the 8B specs run one job at a time;
    # the 1B specs two per GPU, executor.jobs_per_gpu): "alone" says which, counting the jobs of other processes
    spans = {(j["stage"], j["metrics"].get("built_with") or j["job"]): (started(j), started(j) + (j["seconds"] or 0))
             for j in jobs if j.get("started")}
    for j in jobs:
        if not j.get("started"):
            j["peak_gpu_mib"] = None
            continue
        begin, end = started(j), started(j) + (j["seconds"] or 0)
        j["peak_gpu_mib"] = peak(begin, end)
        me = (j["stage"], j["metrics"].get("built_with") or j["job"])
        j["alone"] = not any(b < end and begin < e for k, (b, e) in spans.items() if k != me)
    stages, groups_seen = {}, set()
    for j in jobs:
        s = stages.setdefault(j["stage"], {"jobs": 0, "seconds": 0.0, "bytes": 0, "peak_rss_bytes": 0, "peak_gpu_mib": 0})
        s["jobs"] += 1
        group = (j["stage"], j["metrics"].get("built_with") or j["job"], j.get("started"))
        if group not in groups_seen:  # jobs built together record the group's time: count it once
            groups_seen.add(group)
            s["seconds"] += j["seconds"] or 0
        s["bytes"] += j["bytes"]
        s["peak_rss_bytes"] = max(s["peak_rss_bytes"], j["metrics"].get("peak_rss_bytes") or 0)
        s["peak_gpu_mib"] = max(s["peak_gpu_mib"], j.get("peak_gpu_mib") or 0)
    results = {"phases": phases, "stages": stages, "store_bytes": sum(j["bytes"] for j in jobs), "jobs": jobs}

    # BLD against bare steps: the bare steps' time for the steps every variant of a group took, over the group's
    # training loop (which also runs the parent); jobs that started after the first 8B phase are the 8B shape's
    bare_steps = (json.load(open(args.out)) if os.path.exists(args.out) else {}).get("bare_steps", {})
    first8b = min((p["start"] for p in phases if p["phase"].endswith("-8b")), default=float("inf"))
    small = "tiny" if any(p["phase"].endswith("-tiny") for p in phases) else "1b"
    groups = {}
    for j in jobs:
        if j["stage"] != "Distill" or not j["metrics"].get("train_seconds"):
            continue
        m = j["metrics"]
        shape = "8b" if started(j) >= first8b else small
        j["shape"] = shape
        # the memory Distill planned with (Library/BldMemory) beside what the group's process used
        g = groups.setdefault((shape, m.get("built_with") or j["job"]), {"shape": shape, "variants": 0, "bare_s": 0.0,
                                                                        "train_seconds": m["train_seconds"],
                                                                        "estimated_gpu_gb": (m.get("estimated_gpu_bytes") or 0) / 1e9 or None,
                                                                        "peak_gpu_gb": (m.get("peak_gpu_bytes") or 0) / 1e9 or None,
                                                                        "peak_gpu_process_gb": (m.get("peak_gpu_process_bytes") or 0) / 1e9 or None,
                                                                        "alone": j.get("alone")})
        steps = m.get("tokens_per_s", 0) * m["train_seconds"] / (BATCH * SEQ)
        bare_key = shape + "." + j["job"].split(".", 1)[1]
        g["variants"] += 1
        g["bare_s"] += steps * bare_steps.get(bare_key, {}).get("step_s", float("nan"))
    for g in groups.values():
        g["efficiency"] = g["bare_s"] / g["train_seconds"]
    results["bld_groups"] = list(groups.values())
    results["distill"] = [{"job": j["job"], "init_nmse": j["metrics"].get("init_nmse"), "final_nmse": j["metrics"].get("final_nmse"),
                           "last_nmse": j["metrics"].get("last_nmse"), "best_step": j["metrics"].get("best_step"),
                           "train_seconds": j["metrics"].get("train_seconds"), "tokens_per_s": j["metrics"].get("tokens_per_s"),
                           "trained_together": j["metrics"].get("trained_together")} for j in jobs if j["stage"] == "Distill"]
    results["score"] = [{"job": j["job"], "parent_seconds": j["metrics"].get("parent_seconds"),
                         "variant_seconds": j["metrics"].get("variant_seconds"), "seconds": j["seconds"]} for j in jobs if j["stage"] == "Score"]
    results["heal"] = [{"job": j["job"], "seconds": j["seconds"], "peak_gpu_mib": j.get("peak_gpu_mib"), "train_embeddings": j.get("train_embeddings"),
                        **{k: j["metrics"].get(k) for k in ("tokens_per_s", "peak_gpu_bytes", "peak_gpu_process_bytes", "estimated_gpu_bytes", "peak_rss_bytes",
                                                            "estimated_rss_bytes", "kl_before", "kl_after", "trained_together")}}
                       for j in jobs if j["stage"] == "Heal"]
    # every Measure job's costs (eager or CUDA graphs: its cost_model says which), per shape, in ms
    results["measure"] = []
    for root, _, files in os.walk(cache):
        if "manifest.json" in files and "costs.json" in files:
            record = json.load(open(os.path.join(root, "costs.json")))
            costs = record.get("costs") or {}
            results["measure"].append({"cost_model": record.get("cost_model"), "batch": record.get("batch"),
                                       "size_curve": record.get("curve"), "costs_ms": {
                name: {"prefill": c.get("prefill_seconds", 0) * 1e3, "decode_per_token": c.get("decode_seconds_per_token", 0) * 1e3}
                for name, c in costs.items()}})
    # each report's predicted against measured speedups (the cost issue's +-10% goal) and its verdicts
    results["speed"] = []
    for root, _, files in os.walk(cache):
        if "manifest.json" in files and "report.json" in files:
            report = json.load(open(os.path.join(root, "report.json")))
            points = [p for curve in report.get("curves") or [] for p in curve.get("points") or []]
            models = [{"model": p["model"], "predicted": p["speedup"]["predicted"], "measured": p["speedup"]["measured"],
                       "error": p["speedup"]["predicted"] / p["speedup"]["measured"] - 1}
                      for p in points if (p.get("speedup") or {}).get("measured")]
            results["speed"].append({"pipeline": report.get("pipeline"), "models": models,
                                     "within_10pct": sum(abs(m["error"]) <= 0.10 for m in models), "of": len(models),
                                     "goals": report.get("goals"), "closed_loop": report.get("closed_loop")})
    if not results["speed"]:
        # no report (a job before Report failed): the Speed job's measured speedups against the Search's and the
        # Sweep's predictions, from the newest of each output in the store
        results["speed"] = speed_without_report(cache)
    results["goals"] = goals(results, small, first8b)
    merge(args.out, "collected", results)
    print(json.dumps({"stages": stages, "store_bytes": results["store_bytes"], "phases": phases,
                      "speed": [{k: r[k] for k in ("pipeline", "within_10pct", "of")} for r in results["speed"]],
                      "goals": results["goals"]}, indent=1))


def speed_without_report(cache):
    """Predicted against measured speedups read from speeds.json (Speed), architectures.json (Search: child1, child2,
    ... and the baselines) and sweep.json (each method at each further target), where no report was written."""
    newest = {}
    sweeps = []
    for root, _, files in os.walk(cache):
        if "manifest.json" not in files:
            continue
        for name in ("speeds.json", "architectures.json"):
            if name in files:
                path = os.path.join(root, name)
                if name not in newest or os.path.getmtime(path) > os.path.getmtime(newest[name]):
                    newest[name] = path
        if "sweep.json" in files:
            sweeps.append(json.load(open(os.path.join(root, "sweep.json"))))
    if "speeds.json" not in newest or "architectures.json" not in newest:
        return []
    measured = json.load(open(newest["speeds.json"])).get("models") or {}
    search = json.load(open(newest["architectures.json"]))
    predicted = {f"child{i + 1}": a["predicted"]["speedup"] for i, a in enumerate(search.get("architectures") or [])}
    predicted.update({name: b["predicted"]["speedup"] for name, b in (search.get("baselines") or {}).items() if b.get("predicted")})
    predicted.update({f"{w['method']}.x{w['target']:g}": w["predicted_speedup"] for w in sweeps if w.get("predicted_speedup")})
    models = [{"model": name, "predicted": predicted[name], "measured": m["speedup"]["scenario"],
               "error": predicted[name] / m["speedup"]["scenario"] - 1}
              for name, m in sorted(measured.items()) if name in predicted and (m.get("speedup") or {}).get("scenario")]
    return [{"pipeline": None, "source": "speeds.json, architectures.json and sweep.json (no report)", "models": models,
             "within_10pct": sum(abs(m["error"]) <= 0.10 for m in models), "of": len(models)}]


def goals(results, small, first8b):
    """The scale and cost issues' goals, read off what was collected: each with its value, its limit and whether it
    was met (None where the run did not get that far)."""
    phases = {}
    for p in results["phases"]:
        q = phases.get(p["phase"])
        # a resumed call (SCALE_RESUME=1) ran the phase again where the call before ran out of time: both calls' time
        # counts (an upper bound: the job cut off in the first call starts again in the second)
        phases[p["phase"]] = p if q is None else dict(p, start=q["start"], seconds=q["seconds"] + p["seconds"],
                                                      calls=q.get("calls", 1) + 1)
    jobs = [j for j in results["jobs"] if started(j) < first8b]  # the small shape's pipeline (the 8B phases come after)

    def goal(value, limit, at_most=True):
        met = None if value is None else (value <= limit if at_most else value >= limit)
        return {"value": value, "limit": limit, "met": met}

    pipeline = phases.get(f"pipeline-{small}")
    # when the CUDA-graph Measure job ran first, alone, the pipeline reused it: parent to Publish took both phases
    graphs = phases.get(f"graphs-{small}")
    pipeline_seconds = None
    if pipeline and pipeline["exit"] == "0":
        pipeline_seconds = pipeline["seconds"] + (graphs["seconds"] if graphs and graphs["exit"] == "0" else 0)
    ratios = [j["metrics"]["variant_seconds"] / j["metrics"]["parent_seconds"] for j in jobs
              if j["stage"] == "Score" and j["metrics"].get("parent_seconds") and "variant_seconds" in j["metrics"]]
    efficiencies = [g["efficiency"] for g in results["bld_groups"] if g["shape"] == small and g["efficiency"] == g["efficiency"]]
    def peak_gb(j):
        return max(j.get("peak_gpu_mib") or 0, (j["metrics"].get("peak_gpu_bytes") or 0) / 2**20) * 2**20 / 1e9
    # a job's own peak: its process's device memory (NVML, peak_gpu_process_bytes) where the driver listed the process,
    # else the device's memory in use where the job ran alone; where it shared the GPU (executor.jobs_per_gpu: 2) the
    # device's is an upper bound (its and the other jobs')
    own = [j["metrics"]["peak_gpu_process_bytes"] / 1e9 for j in jobs if j["metrics"].get("peak_gpu_process_bytes")]
    alone = [peak_gb(j) for j in jobs if not j["metrics"].get("peak_gpu_process_bytes") and j.get("alone") and peak_gb(j) > 0]
    shared = [peak_gb(j) for j in jobs if not j["metrics"].get("peak_gpu_process_bytes") and not j.get("alone") and peak_gb(j) > 0]
    largest = max(own + alone + shared, default=0)
    peak = goal(largest or None, 40)
    if peak["met"] is False and max(own + alone, default=0) <= 40:
        peak["met"] = None  # only jobs that shared the GPU read above the limit: their own peaks are not known
    peak.update({"own_max": max(own, default=None), "own_jobs": len(own),
                 "alone_max": max(alone, default=None), "alone_jobs": len(alone),
                 "shared_max": max(shared, default=None), "shared_jobs": len(shared)})
    speed = next((r for r in results["speed"] if (r["pipeline"] and small in r["pipeline"]) or r.get("source")), None)
    return {
        "pipeline_seconds": dict(goal(pipeline_seconds, 480), calls=pipeline.get("calls", 1) if pipeline else None),
        "store_gb": goal(sum(j["bytes"] for j in jobs) / 1e9 if jobs else None, 10),
        "bld_over_bare_step": goal(min(efficiencies) if efficiencies else None, 0.5, at_most=False),
        "score_variant_over_parent_forward": goal(max(ratios) if ratios else None, 2),
        "peak_gpu_gb_any_job": peak,
        "speedups_within_10pct": goal(speed["within_10pct"] if speed else None, speed["of"] if speed else None, at_most=False),
        "phases_8b": {name: {"exit": p["exit"], "seconds": p["seconds"], "peak_gpu_mib": p["peak_gpu_mib"]}
                      for name, p in phases.items() if name.endswith("-8b")},
    }


def started(job):
    """A manifest's start time as epoch seconds (UTC)."""
    text = (job.get("started") or "")[:19]
    try:
        return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return 0


def autoconfig(args):
    """Each nemotron-nas folder the pipeline exported, loaded as vLLM loads its configuration (transformers' AutoConfig
    with trust_remote_code, through the configuration_decilm.py its auto_map names), and each block read as vLLM's
    nemotron_nas.py reads it: whether the exported configuration code works with the real transformers."""
    found = []
    for root, _, files in os.walk(args.to):
        if "config.json" in files and json.load(open(os.path.join(root, "config.json"))).get("model_type") == "nemotron-nas":
            found.append(root)
    checked = []
    for folder in sorted(found):
        entry = {"folder": os.path.relpath(folder, args.to)}
        try:
            from transformers import AutoConfig
            config = AutoConfig.from_pretrained(folder, trust_remote_code=True)
            blocks = []
            for b in config.block_configs:
                attention = "no_op" if b.attention.no_op else "linear" if b.attention.replace_with_linear \
                    else config.num_attention_heads // b.attention.n_heads_in_group
                ffn = "no_op" if b.ffn.no_op else "linear" if b.ffn.replace_with_linear \
                    else ("ffn_mult" if hasattr(b.ffn, "ffn_mult") else b.ffn.intermediate_size)
                blocks.append([attention, ffn])
            entry.update(ok=True, config_class=type(config).__name__, blocks=blocks,
                         rope_parameters=getattr(config, "rope_parameters", None))
        except Exception as e:  # what failed is the finding
            entry.update(ok=False, error=f"{type(e).__name__}: {e}")
        checked.append(entry)
        log(args, f"autoconfig {entry['folder']}: {'ok' if entry['ok'] else entry['error']}")
    merge(args.out, "autoconfig", checked)


def rope(args):
    """Each RoPE scaling case of rope-scaling.json (tests/Puzzle.Engine.Tests/Fixtures/rope-scaling/reference.json, the
    values the .NET RotaryEmbedding is tested against, written from transformers' formulas transcribed into plain torch)
    computed by the real transformers' LlamaRotaryEmbedding: whether that transcription is transformers' computation."""
    import torch
    try:
        from transformers import LlamaConfig
        from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding
    except ImportError as e:  # a rehearsal on a CPU without transformers
        log(args, f"rope: {e}")
        merge(args.out, "rope", [{"ok": False, "error": f"{type(e).__name__}: {e}"}])
        return
    cases = json.load(open(args.to))
    checked = []
    for name, case in cases.items():
        entry = {"case": name}
        try:
            config = LlamaConfig(hidden_size=4 * case["head_dim"], num_attention_heads=4, num_key_value_heads=2, head_dim=case["head_dim"],
                                 max_position_embeddings=case["max_position_embeddings"], rope_theta=case["rope_theta"],
                                 rope_scaling=dict(case["rope_scaling"]))
            embedding = LlamaRotaryEmbedding(config=config)
            ours = torch.tensor(case["inv_freq"], dtype=torch.float32)
            theirs = embedding.inv_freq.float().cpu()
            position = torch.tensor([[300]])
            cos, sin = embedding(torch.zeros(1, 1, 4 * case["head_dim"]), position)
            entry.update(ok=True, inv_freq_max_rel_diff=float(((theirs - ours).abs() / ours.abs()).max()),
                         attention=[case["attention"], float(embedding.attention_scaling)],
                         cos300_max_diff=float((cos[0, 0] - torch.tensor(case["cos300"])).abs().max()),
                         sin300_max_diff=float((sin[0, 0] - torch.tensor(case["sin300"])).abs().max()))
        except Exception as e:  # what failed is the finding
            entry.update(ok=False, error=f"{type(e).__name__}: {e}")
        checked.append(entry)
        log(args, f"rope {name}: {entry}")
    merge(args.out, "rope", checked)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("verb", choices=["bare", "build", "collect", "autoconfig", "rope"])
    ap.add_argument("--work")
    ap.add_argument("--out", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--shape", choices=list(SHAPES))
    ap.add_argument("--shapes", default="1b 8b")
    ap.add_argument("--to")
    ap.add_argument("--tokenizer")
    ap.add_argument("--store")
    ap.add_argument("--phases")
    ap.add_argument("--gpumem")
    args = ap.parse_args()
    {"bare": bare, "build": build, "collect": collect, "autoconfig": autoconfig, "rope": rope}[args.verb](args)


if __name__ == "__main__":
    sys.exit(main())
