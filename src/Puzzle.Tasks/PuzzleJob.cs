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

    protected override MessageImportance StandardOutputLoggingImportance => MessageImportance.Normal;
}
