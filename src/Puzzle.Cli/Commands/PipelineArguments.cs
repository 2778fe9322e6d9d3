using System.CommandLine;
using Puzzle.Engine.Pipeline;

namespace Puzzle.Cli.Commands;

/// <summary>
/// The spec argument, <c>--store</c> and <c>--device</c>: what a pipeline verb opens its session from. A verb lists
/// them among its own arguments and options, the spec first (it is the first positional argument).
/// </summary>
public sealed class PipelineArguments
{
    public Argument<FileInfo> Spec { get; } = PipelineOptions.Spec();
    public Option<DirectoryInfo?> Store { get; } = PipelineOptions.Store();
    public Option<string?> Device { get; } = PipelineOptions.Device();

    /// <summary>The spec as given, loaded and validated, with its store, planned for the given device.</summary>
    public PipelineSession Open(ParseResult parse) => PipelineOptions.Open(parse.GetValue(Spec)!, parse.GetValue(Store), parse.GetValue(Device));
}
