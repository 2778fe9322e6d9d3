# Writes reference.json: RoPE inverse frequencies, attention factor and cos/sin at position 300 for each rope_scaling
# kind, computed as transformers' modeling_rope_utils (5.x) and its Llama rotary embedding compute them, transcribed into
# plain torch so it runs without transformers: `python3 reference.py > reference.json` (torch 1.13 on a CPU wrote it).
# RopeScalingReferenceTests reads each case's config fields into a config.json and checks RotaryEmbedding against it.
import math, json, torch

def default(theta, dim):
    return 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))

def yarn(theta, dim, max_pos, p):
    factor = p["factor"]
    attention_factor = p.get("attention_factor")
    mscale = p.get("mscale"); mscale_all_dim = p.get("mscale_all_dim")
    if "original_max_position_embeddings" in p:
        original = p["original_max_position_embeddings"]; factor = max_pos / original
    else:
        original = max_pos
    def get_mscale(scale, m=1):
        if scale <= 1: return 1.0
        return 0.1 * m * math.log(scale) + 1.0
    if attention_factor is None:
        if mscale and mscale_all_dim:
            attention_factor = float(get_mscale(factor, mscale) / get_mscale(factor, mscale_all_dim))
        else:
            attention_factor = get_mscale(factor)
    beta_fast = p.get("beta_fast") or 32
    beta_slow = p.get("beta_slow") or 1
    def cdim(rot): return (dim * math.log(original / (rot * 2 * math.pi))) / (2 * math.log(theta))
    low, high = cdim(beta_fast), cdim(beta_slow)
    if p.get("truncate", True): low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high: high += 0.001
    ramp = torch.clamp((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low), 0, 1)
    pos = theta ** (torch.arange(0, dim, 2).float() / dim)
    ex = 1.0 / pos; inter = 1.0 / (factor * pos)
    ef = 1 - ramp
    return inter * (1 - ef) + ex * ef, attention_factor

cases = {
  "linear": (10000.0, 16, 2048, {"rope_type": "linear", "factor": 4.0}),
  "dynamic": (10000.0, 16, 2048, {"rope_type": "dynamic", "factor": 2.0}),
  "yarn_original": (10000.0, 16, 65536, {"rope_type": "yarn", "factor": 16.0, "original_max_position_embeddings": 4096}),
  "yarn_settings": (500000.0, 16, 2048, {"rope_type": "yarn", "factor": 4.0, "beta_fast": 16.0, "beta_slow": 2.0, "truncate": False, "mscale": 1.0, "mscale_all_dim": 0.5}),
  "yarn_attention": (10000.0, 16, 512, {"rope_type": "yarn", "factor": 8.0, "attention_factor": 1.25}),
}
out = {}
for name, (theta, dim, max_pos, p) in cases.items():
    if p["rope_type"] == "linear": f, a = default(theta, dim) / p["factor"], 1.0
    elif p["rope_type"] == "dynamic": f, a = default(theta, dim), 1.0
    else: f, a = yarn(theta, dim, max_pos, p)
    pos = torch.tensor([[300.0]])
    emb = torch.cat([pos * f, pos * f], -1)
    out[name] = {"rope_theta": theta, "head_dim": dim, "max_position_embeddings": max_pos, "rope_scaling": p,
                 "inv_freq": [float(x) for x in f], "attention": a, "cos300": [float(x) for x in (emb.cos() * a)[0]], "sin300": [float(x) for x in (emb.sin() * a)[0]]}
print(json.dumps(out, indent=1))
