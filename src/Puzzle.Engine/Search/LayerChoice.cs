namespace Puzzle.Engine.Search;

/// <summary>The option ids one layer of an architecture uses; <c>Ffn</c> is "" for a layer of whole blocks.</summary>
public sealed record LayerChoice(int Layer, string Attention, string Ffn);
