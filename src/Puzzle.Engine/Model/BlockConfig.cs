namespace Puzzle.Engine.Model;

public enum AttentionKind { Gqa, Linear, NoOp }

public enum FfnKind { SwiGlu, Linear, NoOp }

/// <summary>One layer's attention: grouped-query attention with <see cref="KvHeads"/> KV heads, one hidden×hidden linear layer, or nothing.</summary>
public sealed record AttentionConfig(AttentionKind Kind, int KvHeads = 0)
{
    public static AttentionConfig Gqa(int kvHeads) => new(AttentionKind.Gqa, kvHeads);
    public static readonly AttentionConfig Linear = new(AttentionKind.Linear);
    public static readonly AttentionConfig NoOp = new(AttentionKind.NoOp);

    public override string ToString() => Kind switch
    {
        AttentionKind.Gqa => $"gqa{KvHeads}",
        AttentionKind.Linear => "linear",
        _ => "no_op",
    };
}

/// <summary>One layer's FFN: SwiGLU of width <see cref="IntermediateSize"/>, one hidden×hidden linear layer, or nothing.</summary>
public sealed record FfnConfig(FfnKind Kind, int IntermediateSize = 0)
{
    public static FfnConfig SwiGlu(int intermediateSize) => new(FfnKind.SwiGlu, intermediateSize);
    public static readonly FfnConfig Linear = new(FfnKind.Linear);
    public static readonly FfnConfig NoOp = new(FfnKind.NoOp);

    public override string ToString() => Kind switch
    {
        FfnKind.SwiGlu => $"swiglu{IntermediateSize}",
        FfnKind.Linear => "linear",
        _ => "no_op",
    };
}

/// <summary>One child block: the layer's attention and FFN choices.</summary>
public sealed record BlockConfig(AttentionConfig Attention, FfnConfig Ffn)
{
    public override string ToString() => $"{Attention}/{Ffn}";
}
