using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Puzzle.Engine.Model;

/// <summary>The decoder stack under Hugging Face's names: <c>model.embed_tokens</c>, <c>model.layers.N</c>, <c>model.norm</c>.</summary>
public sealed class DecoderStack : nn.Module
{
    /// <summary>TorchSharp's <see cref="Embedding"/>, or a <see cref="SharedEmbedding"/> of another model's table.</summary>
    public readonly nn.Module<Tensor, Tensor> embed_tokens;
    public readonly ModuleList<DecoderBlock> layers;
    public readonly RmsNorm norm;

    /// <param name="embeddings">where given, the embedding table itself (not a copy), frozen</param>
    public DecoderStack(ModelConfig config, Device? device = null, ScalarType? dtype = null, Tensor? embeddings = null) : base(nameof(DecoderStack))
    {
        embed_tokens = embeddings is null ? nn.Embedding(config.VocabSize, config.HiddenSize, device: device, dtype: dtype) : new SharedEmbedding(embeddings);
        layers = nn.ModuleList(config.Blocks.Select(b => new DecoderBlock(config, b, device, dtype)).ToArray());
        norm = new RmsNorm(config.HiddenSize, config.RmsNormEps, device, dtype);
        RegisterComponents();
    }

    /// <summary>The embedding table [vocab, hidden].</summary>
    public Parameter EmbeddingWeight => embed_tokens switch
    {
        Embedding own => own.weight!,
        SharedEmbedding shared => shared.weight,
        _ => throw new InvalidOperationException($"unknown embedding module {embed_tokens.GetType().Name}"),
    };
}

/// <summary>
/// A Llama-family causal LM whose layers each have their own block configuration. Parameter names are exactly
/// those of Hugging Face Llama / DeciLM checkpoints, so <c>state_dict()</c> is the checkpoint.
/// </summary>
public sealed class CausalLM : nn.Module
{
    public readonly ModelConfig Config;
    public readonly DecoderStack model;
    public readonly Linear? lm_head;
    readonly RotaryEmbedding _rotary;

    /// <param name="device">where the parameters are made (default: the CPU), in <paramref name="dtype"/> (default: float32):
    /// a model loaded for a GPU never exists in float32 on the host</param>
    /// <param name="embeddingsOf">where given, a model whose embeddings and LM head this one uses as they are: its own
    /// tensors, never copied, frozen (no gradient). A child Heal trains with <c>gkd.train_embeddings: false</c> so holds
    /// nothing of them beside the parent (2.1 GB at 8B in bfloat16); disposing it leaves them to the parent.</param>
    public CausalLM(ModelConfig config, Device? device = null, ScalarType? dtype = null, CausalLM? embeddingsOf = null) : base(nameof(CausalLM))
    {
        config.Validate();
        Config = config;
        if (embeddingsOf is { } source)
        {
            if ((source.Config.VocabSize, source.Config.HiddenSize, source.Config.TieWordEmbeddings) != (config.VocabSize, config.HiddenSize, config.TieWordEmbeddings))
                throw new ArgumentException($"embeddings of {source.Config.VocabSize} x {source.Config.HiddenSize} ({Tying(source.Config)}) cannot serve a model of " +
                                            $"{config.VocabSize} x {config.HiddenSize} ({Tying(config)})", nameof(embeddingsOf));
            if (source.DeviceType != (device?.type ?? DeviceType.CPU) || source.DType != (dtype ?? float32))
                throw new ArgumentException($"embeddings on {source.Device} in {source.DType} cannot serve a model made on {device ?? CPU} in {dtype ?? float32}", nameof(embeddingsOf));
        }
        model = new DecoderStack(config, device, dtype, embeddingsOf?.model.EmbeddingWeight);
        if (!config.TieWordEmbeddings)
            lm_head = embeddingsOf is null ? nn.Linear(config.HiddenSize, config.VocabSize, hasBias: false, device: device, dtype: dtype)
                : nn.Linear(SharedEmbedding.Alias(embeddingsOf.lm_head!.weight!));
        _rotary = new RotaryEmbedding(config);
        RegisterComponents();
    }

    /// <summary>A freshly initialised model for pretraining: N(0, 0.02) weights, unit norms, seeded.</summary>
    public static CausalLM Initialise(ModelConfig config, long seed)
    {
        using var _ = torch.no_grad();
        // a generator of its own: the global one is shared by every job and test running in this process
        using var generator = new Generator((ulong)seed);
        var m = new CausalLM(config);
        foreach (var (name, p) in m.named_parameters())
            if (!name.EndsWith("layernorm.weight") && name != "model.norm.weight") p.normal_(0, 0.02, generator: generator); // not nn.init.normal_: TorchSharp 0.107 draws that from the global generator whatever it is given
        return m;
    }

    public DeviceType DeviceType => model.EmbeddingWeight.device_type;
    public Device Device => model.EmbeddingWeight.device;

    /// <summary>The element type of the weights (and of the activations a forward pass makes).</summary>
    public ScalarType DType => model.EmbeddingWeight.dtype;

    /// <summary>Embeds token ids [B, T].</summary>
    public Tensor Embed(Tensor ids) => model.embed_tokens.forward(ids);

    /// <summary>Runs blocks [from, to) over hidden states x whose first position is <paramref name="start"/>.</summary>
    public Tensor RunBlocks(Tensor x, int from, int to, long start = 0, KvCache? cache = null, IList<Tensor>? outputs = null)
    {
        var (cos, sin) = _rotary.At(start, x.shape[1], x.device, x.dtype);
        using (cos) using (sin)
        {
            for (var i = from; i < to; i++)
            {
                x = RunBlock(i, x, cos, sin, cache);
                outputs?.Add(x);
            }
        }
        return x;
    }

    /// <summary>
    /// Block <paramref name="i"/> over x, its temporaries (norms, projections, the FFN's inner activations) freed as
    /// soon as it returns, not when the caller's dispose scope ends: a pass of a 32-layer 8B parent over 8 × 512 tokens
    /// would otherwise hold every block's, about 0.6 GB each in bfloat16. What a backward pass needs, autograd keeps.
    /// </summary>
    public Tensor RunBlock(int i, Tensor x, Tensor cos, Tensor sin, KvCache? cache = null)
    {
        using var scope = NewDisposeScope();
        var y = model.layers[i].Forward(x, cos, sin, cache, i);
        return ReferenceEquals(y, x) ? y : y.MoveToOuterDisposeScope(); // a block of two no-ops returns its input
    }

    /// <summary>Rotary cos and sin [T, head_dim] for positions start..start+length-1.</summary>
    public (Tensor Cos, Tensor Sin) RotaryAt(long start, long length, Device device, ScalarType dtype) =>
        _rotary.At(start, length, device, dtype);

    /// <summary>Final norm and LM head: logits [B, T, vocab].</summary>
    public Tensor Head(Tensor hidden)
    {
        var h = model.norm.forward(hidden);
        return lm_head is not null ? lm_head.forward(h) : F.linear(h, model.EmbeddingWeight);
    }

    /// <summary>Logits for ids [B, T]; with a cache, continues from its position and extends it.</summary>
    public Tensor Forward(Tensor ids, KvCache? cache = null, IList<Tensor>? layerOutputs = null) => Head(Hidden(ids, cache, layerOutputs));

    /// <summary>Logits [B, vocab] of the last position of ids [B, T] only, extending the cache as <see cref="Forward"/>
    /// does: the LM head runs on one row per sequence instead of T (at a 128k vocabulary, most of a forward pass).</summary>
    public Tensor ForwardLast(Tensor ids, KvCache? cache = null) => Head(Hidden(ids, cache, null)[.., -1]);

    /// <summary>The final hidden states [B, T, d] of ids [B, T], before the final norm: <see cref="Head"/> of them is
    /// <see cref="Forward"/>'s logits.</summary>
    public Tensor Hidden(Tensor ids) => Hidden(ids, null, null);

    /// <summary>The final hidden states [B, T, d] (before the final norm), continuing and extending the cache.</summary>
    Tensor Hidden(Tensor ids, KvCache? cache, IList<Tensor>? layerOutputs)
    {
        var start = cache?.Length ?? 0;
        var x = RunBlocks(Embed(ids), 0, Config.NumLayers, start, cache, layerOutputs);
        cache?.Advance(ids.shape[1]);
        return x;
    }

    /// <summary>Mean next-token cross-entropy of a batch of sequences [B, T+1] (inputs and shifted targets).</summary>
    /// <remarks>Its temporaries live in a dispose scope of their own: a temporary passed straight into a native call
    /// with no scope holding it can be finalized by a collection on another thread while the call still reads it (the
    /// test host crashed in cross_entropy so).</remarks>
    public Tensor Loss(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        var logits = Forward(tokens[.., ..^1]).reshape(-1, Config.VocabSize).to(float32);
        var targets = tokens[.., 1..].reshape(-1);
        return F.cross_entropy(logits, targets).MoveToOuterDisposeScope();
    }

    /// <summary>Greedy decoding with the KV cache: the prompt is prefilled once, then one token per step. Only the last
    /// position goes through the LM head (<see cref="ForwardLast"/>), and each step's tensors are freed when it ends.</summary>
    /// <param name="vocabulary">only ids below it are chosen (null: any row of the head). A checkpoint's embedding may
    /// have more rows than its tokenizer has tokens (padded to a multiple of 64, or paired with a smaller tokenizer, as
    /// the scale check's 1B shape with a 32,000-token tokenizer), and an id the tokenizer lacks cannot be decoded: pass
    /// the tokenizer's <see cref="Tokenization.Tokenizer.VocabSize"/></param>
    public long[] GenerateGreedy(IReadOnlyList<long> prompt, int maxNewTokens, long? stopToken = null, int? vocabulary = null)
    {
        if (vocabulary < 1) throw new ArgumentOutOfRangeException(nameof(vocabulary), vocabulary, "at least one id must be allowed");
        var allowed = Math.Min(vocabulary ?? Config.VocabSize, Config.VocabSize);
        using var _ = torch.no_grad();
        var device = model.EmbeddingWeight.device;
        using var cache = new KvCache(Config, 1, prompt.Count + maxNewTokens, device, DType);
        var generated = new List<long>();
        var next = prompt.ToArray();
        for (var step = 0; step < maxNewTokens; step++)
        {
            using var scope = NewDisposeScope();
            var token = ForwardLast(tensor(next, device: device).unsqueeze(0), cache)[0].narrow(0, 0, allowed).argmax().item<long>();
            generated.Add(token);
            if (token == stopToken) break;
            next = [token];
        }
        return generated.ToArray();
    }

    /// <summary>Fills every parameter from <paramref name="source"/>, one tensor at a time, each copied into place.</summary>
    public void LoadWeights(Checkpoints.ITensorSource source)
    {
        foreach (var (name, p) in named_parameters()) source.ReadInto(name, p);
    }

    /// <summary>Copies every parameter from <paramref name="read"/> (name → tensor), checking shapes.</summary>
    public void LoadWeights(Func<string, Tensor> read)
    {
        using var _ = torch.no_grad();
        foreach (var (name, p) in named_parameters())
        {
            using var source = read(name);
            if (!source.shape.SequenceEqual(p.shape))
                throw new InvalidDataException(
                    $"tensor '{name}': shape [{string.Join(", ", source.shape)}] does not match the model's [{string.Join(", ", p.shape)}]");
            p.copy_(source);
        }
    }

    /// <summary>Parameter count (tied embeddings counted once).</summary>
    public long ParameterCount => parameters().Sum(p => p.numel());

    static string Tying(ModelConfig config) => config.TieWordEmbeddings ? "tied" : "untied";

    /// <summary>The embeddings' and the LM head's weights (one tensor where they are tied).</summary>
    public IReadOnlyList<Parameter> EmbeddingWeights => lm_head is null ? [model.EmbeddingWeight] : [model.EmbeddingWeight, lm_head.weight!];
}
