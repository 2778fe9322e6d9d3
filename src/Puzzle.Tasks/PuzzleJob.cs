using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace Puzzle.Tasks;

/// <summary>
/// Runs one pipeline job as a separate <c>puzzle job</c> process; with YieldDuringToolExecution the MSBuild node
/// is free for other work while the job trains.
/// </summary>
public sealed class PuzzleJob : ToolTask
{
    [Required] public string Pipeline { get; set; } = "";
    [Required] public string Cli { get; set; } = "";
    [Required] public string Stage { get; set; } = "";
    [Required] public string JobId { get; set; } = "";
    public string? Key { get; set; }
    public int Threads { get; set; }
    /// <summary>The GPU the job computes on, as CUDA_VISIBLE_DEVICES names it (the job then sees it alone); empty: every GPU.</summary>
    public string? Gpu { get; set; }
    public string? Store { get; set; }
    public string Dotnet { get; set; } = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";

    protected override string ToolName => "dotnet";
    protected override string GenerateFullPathToTool() => Dotnet;

    protected override string GenerateCommandLineCommands()
    {
        var builder = new CommandLineBuilder();
        builder.AppendFileNameIfNotNull(Cli);
        builder.AppendSwitch("job");
        builder.AppendFileNameIfNotNull(Pipeline);
        builder.AppendSwitchIfNotNull("--stage ", Stage);
        builder.AppendSwitchIfNotNull("--id ", JobId);
        builder.AppendSwitchIfNotNull("--key ", Key);
        if (!string.IsNullOrEmpty(Store)) builder.AppendSwitchIfNotNull("--store ", Store);
        if (Threads > 0) builder.AppendSwitchIfNotNull("--threads ", Threads.ToString());
        return builder.ToString();
    }

    public override bool Execute()
    {
        if (!string.IsNullOrEmpty(Gpu)) EnvironmentVariables = [.. EnvironmentVariables ?? [], $"CUDA_VISIBLE_DEVICES={Gpu}"];
        return base.Execute();
    }

    protected override MessageImportance StandardOutputLoggingImportance => MessageImportance.Normal;
}
