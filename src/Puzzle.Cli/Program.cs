using System.CommandLine;
using Puzzle.Cli;
using Puzzle.Cli.Commands;

var root = new RootCommand("Puzzle: distillation-based NAS that turns a Llama-family parent into a faster child.")
{
    EvalCommand.Create(),
    ParentCommand.Create(),
};
return CliErrors.Run(() => root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false }));
