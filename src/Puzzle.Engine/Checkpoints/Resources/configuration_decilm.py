# Written by Puzzle.NET beside a nemotron-nas config.json, which names it in "auto_map". Loaders that build the
# configuration through transformers with trust_remote_code=True (vLLM, whose own DeciLMForCausalLM then runs the
# model) get each layer's block as objects, read the way vLLM's nemotron_nas.py reads them:
#   block_configs[i].attention: no_op, replace_with_linear, n_heads_in_group
#   block_configs[i].ffn:       no_op, replace_with_linear, intermediate_size (the exact width)
# The FFN block has no ffn_mult attribute, so a loader that prefers ffn_mult (rounding the width up to a multiple of
# 256) takes the exact width instead; ffn_mult stays in config.json, and in to_dict(), for loaders that read it there.
# Only the configuration is here: transformers has no DeciLM model of its own.
from transformers import LlamaConfig


class _Section:
    """One block's attention or FFN settings, as attributes."""

    def __init__(self, **fields):
        self.__dict__.update(fields)

    def to_dict(self):
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    def __repr__(self):
        return f"{type(self).__name__}({self.to_dict()})"


class AttentionConfig(_Section):
    pass


_ABSENT = object()


class FFNConfig(_Section):
    def __init__(self, **fields):
        self._ffn_mult = fields.pop("ffn_mult", _ABSENT)  # kept out of the attributes (see above)
        super().__init__(**fields)

    def to_dict(self):
        given = {} if self._ffn_mult is _ABSENT else {"ffn_mult": self._ffn_mult}
        return {**given, **super().to_dict()}


class BlockConfig:
    def __init__(self, attention=None, ffn=None, **_):
        self.attention = attention if isinstance(attention, AttentionConfig) else AttentionConfig(**(attention or {}))
        self.ffn = ffn if isinstance(ffn, FFNConfig) else FFNConfig(**(ffn or {}))

    def to_dict(self):
        return {"attention": self.attention.to_dict(), "ffn": self.ffn.to_dict()}

    def __repr__(self):
        return f"BlockConfig({self.to_dict()})"


class DeciLMConfig(LlamaConfig):
    model_type = "nemotron-nas"

    def __init__(self, block_configs=None, **kwargs):
        self.block_configs = [b if isinstance(b, BlockConfig) else BlockConfig(**b) for b in (block_configs or [])]
        if kwargs.get("intermediate_size") is None:
            # null in config.json, as in NVIDIA's Nemotron configs: each block has its own width. transformers 5's
            # LlamaConfig validates the field as an int, so it gets the widest block's (0 when no block has an FFN);
            # loaders read the blocks' widths, never this one.
            widths = [b.ffn.intermediate_size for b in self.block_configs if getattr(b.ffn, "intermediate_size", None)]
            kwargs["intermediate_size"] = max(widths, default=0)
        super().__init__(**kwargs)

    def to_dict(self):
        result = super().to_dict()
        result["block_configs"] = [b.to_dict() for b in self.block_configs]
        return result
