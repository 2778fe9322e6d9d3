namespace Puzzle.Engine.Cost;

/// <summary>What a timing runs: <paramref name="Prompt"/> tokens per sequence at once (prefill), then
/// <paramref name="Generate"/> tokens one at a time (decode); <paramref name="Warmup"/> untimed runs first, then
/// <paramref name="Repeats"/> timed ones, of which the fastest counts; each step run as <paramref name="Runtime"/> runs it.</summary>
public sealed record TimingScenario(int Prompt, int Generate, int Warmup, int Repeats, TimingRuntime Runtime = TimingRuntime.Eager);
