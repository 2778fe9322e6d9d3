using System.CommandLine;
using Puzzle.Cli.Commands;

namespace Puzzle.Cli;

/// <summary>The <c>puzzle</c> command line: verbs are thin wrappers over one Engine operation each.</summary>
public static class PuzzleApp
{
    public static RootCommand Build() => new("Puzzle: distillation-based NAS that turns a Llama-family parent into a faster child.")
    {
        RunCommand.Create(),
        StatusCommand.Create(),
        SearchCommand.Create(),
        GraphCommand.Create(),
        EvalCommand.Create(),
        LogitsCommand.Create(),
        ReportCommand.Create(),
        VerifyCommand.Create(),
        JobCommand.Create(),
        InitCommand.Create(),
        ShowCommand.Create(),
        LogCommand.Create(),
        StoreCommand.Create(),
        GcCommand.Create(),
        ForgetCommand.Create(),
    };

    /// <summary>Runs the command line; input errors print one line on stderr and return 1.</summary>
    public static int Run(string[] args) =>
        CliErrors.Run(() => Build().Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false }));
}
