using System.CommandLine;
using System.CommandLine.Invocation;
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
    public static int Run(string[] args) => CliErrors.Run(() =>
    {
        var parse = Build().Parse(args);
        var invocation = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
        // a command line that does not parse (an unknown option, a word for a number) gets its errors and where the usage
        // is, on stderr: the whole help printed after them (60 lines for puzzle run) pushed the error off the screen.
        // A bare `puzzle` still gets the help
        if (parse.Action is not ParseErrorAction shown || args.Length == 0) return parse.Invoke(invocation);
        shown.ShowHelp = false;
        var exit = parse.Invoke(invocation);
        Console.Error.WriteLine($"usage: {CommandPath(parse.CommandResult)} --help");
        return exit;
    });

    /// <summary>The verbs from the root to this one's, as typed: <c>puzzle store du</c>.</summary>
    static string CommandPath(System.CommandLine.Parsing.CommandResult command) =>
        command.Parent is System.CommandLine.Parsing.CommandResult parent
            ? $"{CommandPath(parent)} {command.Command.Name}"
            : "puzzle";
}
