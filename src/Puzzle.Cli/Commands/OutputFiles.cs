using System.CommandLine;

namespace Puzzle.Cli.Commands;

/// <summary>Options that name a file the command writes once its work is done.</summary>
internal static class OutputFiles
{
    /// <summary>Refuses a folder as the file to write when the command line is read, not after the work.</summary>
    public static TOption ToWrite<TOption>(this TOption option) where TOption : Option
    {
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<FileInfo?>() is { } file && Directory.Exists(file.FullName))
                result.AddError($"{option.Name} {file.FullName} is a folder; give the file to write");
        });
        return option;
    }
}
