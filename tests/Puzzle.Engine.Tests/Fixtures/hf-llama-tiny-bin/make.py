# Writes this folder's PyTorch .bin checkpoints from ../hf-llama-tiny (safetensors, read here without the safetensors
# package) with torch.save, as transformers' save_pretrained wrote them before safetensors: `/usr/bin/python3 make.py`
# (Debian's python3-torch 1.13 on a CPU wrote them). To stay small, the models keep the first VOCAB rows of the
# embeddings and the head; every other tensor is the fixture's, rounded to the folder's dtype.
#   f16/            float16, one pytorch_model.bin, with a rotary inv_freq buffer as Llama-2-era checkpoints carry
#   bf16-sharded/   bfloat16, two shards and pytorch_model.bin.index.json, each shard a plain dict (as transformers' shards)
#   tied-views/     float32, layer 0 only, tie_word_embeddings: lm_head.weight shares the embedding's storage, q/k/v
#                   are views into one fused storage (offsets), gate/up into another, o_proj is a transposed
#                   (non-contiguous) view and down_proj a column slice of a wider storage
#   full-f32.data.pkl  data.pkl of torch.save(state dict) of the whole fixture (float32, 32k vocabulary, the
#                   OrderedDict with _metadata that Module.state_dict() gives); the tests fill its storages from the
#                   safetensors fixture, so a full-size .bin is had without 17 MB in the repository
#   errors/legacy.bin   the pre-1.6 format (_use_new_zipfile_serialization=False)
#   errors/global.bin   a state dict that also holds an object whose pickle calls os.system
#   errors/int64.bin    a state dict with an int64 tensor beside a float one
#   errors/cycle.bin    a state dict whose _metadata holds a list that contains itself
import collections, io, json, os, shutil, zipfile
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "..", "hf-llama-tiny")
VOCAB = 128


def read_safetensors(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        assert e["dtype"] == "F32", e["dtype"]
        begin, end = e["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[begin:end], dtype="<f4").reshape(e["shape"]).copy())
    return out


def fixture():
    index = json.load(open(os.path.join(SOURCE, "model.safetensors.index.json")))
    tensors = {}
    for shard in sorted(set(index["weight_map"].values())):
        tensors.update(read_safetensors(os.path.join(SOURCE, shard)))
    return tensors


def write_config(folder, dtype, **changes):
    config = json.load(open(os.path.join(SOURCE, "config.json")))
    config.update(vocab_size=VOCAB, dtype=dtype, **changes)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    shutil.copy(os.path.join(SOURCE, "generation_config.json"), folder)


def small(tensors, dtype):
    """The fixture with VOCAB rows of embeddings and head, each tensor in its own storage, as a loaded model has them."""
    out = collections.OrderedDict()
    for name in sorted(tensors, key=order):
        t = tensors[name]
        if name in ("model.embed_tokens.weight", "lm_head.weight"):
            t = t[:VOCAB]
        out[name] = t.to(dtype).clone()
    return out


def order(name):
    """Module order: embeddings, layers by number, norm, head (as Module.state_dict() lists them)."""
    if name.startswith("model.layers."):
        return (1, int(name.split(".")[2]), name)
    return {"model.embed_tokens.weight": (0, 0, ""), "model.norm.weight": (2, 0, ""), "lm_head.weight": (3, 0, "")}[name] + (name,)


def f16(tensors):
    folder = os.path.join(HERE, "f16")
    write_config(folder, "float16")
    sd = small(tensors, torch.float16)
    # transformers before 4.31 saved the rotary buffer with the weights; loaders ignore it
    dim = 16
    inv_freq = 1.0 / (500000.0 ** (torch.arange(0, dim, 2).float() / dim))
    for layer in range(3):
        sd[f"model.layers.{layer}.self_attn.rotary_emb.inv_freq"] = inv_freq.clone()
    torch.save(sd, os.path.join(folder, "pytorch_model.bin"))


def bf16_sharded(tensors):
    folder = os.path.join(HERE, "bf16-sharded")
    write_config(folder, "bfloat16")
    sd = small(tensors, torch.bfloat16)
    names = list(sd)
    first = [n for n in names if n == "model.embed_tokens.weight" or n.startswith("model.layers.0.") or n.startswith("model.layers.1.")]
    shards = {"pytorch_model-00001-of-00002.bin": first, "pytorch_model-00002-of-00002.bin": [n for n in names if n not in first]}
    weight_map = {}
    for file, members in shards.items():
        torch.save({n: sd[n] for n in members}, os.path.join(folder, file))
        weight_map.update({n: file for n in members})
    total = sum(t.numel() * t.element_size() for t in sd.values())
    with open(os.path.join(folder, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
        f.write("\n")


def tied_views(tensors):
    folder = os.path.join(HERE, "tied-views")
    write_config(folder, "float32", num_hidden_layers=1, tie_word_embeddings=True)
    t = {n: v for n, v in tensors.items() if not n.startswith("model.layers.") or n.startswith("model.layers.0.")}
    p = "model.layers.0."
    sd = collections.OrderedDict()
    sd["model.embed_tokens.weight"] = t["model.embed_tokens.weight"][:VOCAB].clone()
    q, k, v = (t[p + f"self_attn.{x}_proj.weight"] for x in "qkv")
    qkv = torch.cat([q, k, v])  # one storage: q at offset 0, k and v after it
    sd[p + "self_attn.q_proj.weight"], sd[p + "self_attn.k_proj.weight"], sd[p + "self_attn.v_proj.weight"] = qkv.split([q.shape[0], k.shape[0], v.shape[0]])
    sd[p + "self_attn.o_proj.weight"] = t[p + "self_attn.o_proj.weight"].t().contiguous().t()  # stride (1, 64)
    gate_up = torch.cat([t[p + "mlp.gate_proj.weight"], t[p + "mlp.up_proj.weight"]])
    sd[p + "mlp.gate_proj.weight"], sd[p + "mlp.up_proj.weight"] = gate_up.chunk(2)
    down = t[p + "mlp.down_proj.weight"]
    wide = torch.cat([down, torch.full((down.shape[0], 5), 7.0)], dim=1)  # a storage wider than the tensor
    sd[p + "mlp.down_proj.weight"] = wide[:, : down.shape[1]]
    sd[p + "input_layernorm.weight"] = t[p + "input_layernorm.weight"].clone()
    sd[p + "post_attention_layernorm.weight"] = t[p + "post_attention_layernorm.weight"].clone()
    sd["model.norm.weight"] = t["model.norm.weight"].clone()
    sd["lm_head.weight"] = sd["model.embed_tokens.weight"]  # tied: the same tensor, one storage
    assert not sd[p + "self_attn.o_proj.weight"].is_contiguous() and not sd[p + "mlp.down_proj.weight"].is_contiguous()
    assert sd[p + "self_attn.v_proj.weight"].storage_offset() > 0
    torch.save(sd, os.path.join(folder, "pytorch_model.bin"))


def full_pickle(tensors):
    sd = collections.OrderedDict((n, tensors[n]) for n in sorted(tensors, key=order))
    # what Module.state_dict() attaches: each module's version, by its prefix
    sd._metadata = collections.OrderedDict([("", {"version": 1}), ("model", {"version": 1}), ("lm_head", {"version": 1})])
    buffer = io.BytesIO()
    torch.save(sd, buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as z:
        pkl = [n for n in z.namelist() if n.endswith("/data.pkl")]
        assert len(pkl) == 1, z.namelist()
        with open(os.path.join(HERE, "full-f32.data.pkl"), "wb") as f:
            f.write(z.read(pkl[0]))


class CallsSystem:
    def __reduce__(self):
        return (os.system, ("true",))


def errors():
    folder = os.path.join(HERE, "errors")
    os.makedirs(folder, exist_ok=True)
    torch.save({"w": torch.ones(2)}, os.path.join(folder, "legacy.bin"), _use_new_zipfile_serialization=False)
    torch.save({"w": torch.ones(2), "x": CallsSystem()}, os.path.join(folder, "global.bin"))
    torch.save({"w": torch.ones(2), "model.position_ids": torch.arange(4)}, os.path.join(folder, "int64.bin"))
    cycle = collections.OrderedDict(w=torch.ones(2))
    loop = []
    loop.append(loop)
    cycle._metadata = collections.OrderedDict([("", {"version": 1, "loop": loop})])
    torch.save(cycle, os.path.join(folder, "cycle.bin"))


if __name__ == "__main__":
    torch.manual_seed(0)
    tensors = fixture()
    f16(tensors)
    bf16_sharded(tensors)
    tied_views(tensors)
    full_pickle(tensors)
    errors()
    for root, _, files in sorted(os.walk(HERE)):
        for f in sorted(files):
            print(os.path.relpath(os.path.join(root, f), HERE), os.path.getsize(os.path.join(root, f)))
