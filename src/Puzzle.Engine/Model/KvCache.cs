using static TorchSharp.torch;

namespace Puzzle.Engine.Model;

/// <summary>
/// Preallocated key/value cache for incremental decoding. Each layer holds [B, kv_heads, capacity, head_dim]
/// for its own KV head count; linear and no-op attention layers hold nothing.
/// </summary>
public sealed class KvCache : IDisposable
{
    readonly Tensor?[] _keys;
    readonly Tensor?[] _values;

    public KvCache(ModelConfig config, long batch, long capacity, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        Capacity = capacity;
        _keys = new Tensor?[config.NumLayers];
        _values = new Tensor?[config.NumLayers];
        for (var i = 0; i < config.NumLayers; i++)
        {
            var a = config.Blocks[i].Attention;
            if (a.Kind != AttentionKind.Gqa) continue;
            _keys[i] = zeros([batch, a.KvHeads, capacity, config.HeadDim], dtype: dtype, device: device);
            _values[i] = zeros([batch, a.KvHeads, capacity, config.HeadDim], dtype: dtype, device: device);
        }
    }

    KvCache(Tensor?[] keys, Tensor?[] values, long capacity, long length)
    {
        (_keys, _values, Capacity, Length) = (keys, values, capacity, length);
    }

    public long Capacity { get; }

    /// <summary>Number of positions already cached (the next token's position).</summary>
    public long Length { get; private set; }

    /// <summary>Bytes held by the cache for all layers.</summary>
    public long Bytes => _keys.Concat(_values).Where(t => t is not null).Sum(t => t!.NumberOfElements * t.ElementSize);

    /// <summary>Writes k, v ([B, kv, T, D]) at the current position of layer <paramref name="layer"/>; returns the keys and values so far.</summary>
    internal (Tensor Keys, Tensor Values) Append(int layer, Tensor k, Tensor v)
    {
        var keys = _keys[layer] ?? throw new InvalidOperationException($"layer {layer} has no KV cache");
        var values = _values[layer]!;
        var end = Length + k.shape[2];
        if (end > Capacity) throw new InvalidOperationException($"KV cache capacity {Capacity} exceeded ({end} positions)");
        keys.narrow(2, Length, k.shape[2]).copy_(k);
        values.narrow(2, Length, v.shape[2]).copy_(v);
        return (keys.narrow(2, 0, end), values.narrow(2, 0, end));
    }

    /// <summary>Called once per forward pass, after every layer appended <paramref name="tokens"/> positions.</summary>
    internal void Advance(long tokens) => Length += tokens;

    /// <summary>A new cache with each row of this one repeated <paramref name="times"/> times (rows r·times ..
    /// r·times + times − 1 hold row r), at this one's length and capacity: one prefix, computed once, continued several ways.</summary>
    public KvCache Repeat(long times)
    {
        if (times < 1) throw new ArgumentOutOfRangeException(nameof(times), times, "at least once");
        return new KvCache(_keys.Select(t => t?.repeat_interleave(times, 0)).ToArray(), _values.Select(t => t?.repeat_interleave(times, 0)).ToArray(),
            Capacity, Length);
    }

    public void Dispose()
    {
        foreach (var t in _keys.Concat(_values)) t?.Dispose();
    }
}
