using System.Text;
using System.Text.RegularExpressions;

namespace Puzzle.Engine.Pipeline.Execution.Slurm;

/// <summary>
/// The batch script every array task runs: it reads its line of the array's task list (stage, job id, key, log) and runs
/// <c>puzzle job</c> for it into the shared store, appending the output and the exit code to the job's log.
/// </summary>
public static partial class SlurmTaskScript
{
    public const string ExitLine = "== exit code ";

    /// <param name="jobArguments">passed to every <c>puzzle job</c> (e.g. <c>--device cuda</c>), so tasks plan the keys the run planned</param>
    public static string Text(IReadOnlyList<string> command, string specPath, string storeRoot, string runId, IReadOnlyList<string>? jobArguments = null)
    {
        var cli = string.Join(" ", command.Select(Quote));
        var extra = string.Concat((jobArguments ?? []).Select(a => " " + Quote(a)));
        return $$"""
            #!/bin/bash
            # Written by Puzzle for one run on Slurm: array task i runs the pipeline job on line i+1 of the task list ($1).
            set -u
            IFS=$'\t' read -r stage id key log < <(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" "$1")
            threads=${SLURM_CPUS_PER_TASK:-1}
            echo "== slurm job ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID} on $(hostname) at $(date -u +%Y-%m-%dT%H:%M:%SZ), $threads cpu(s)${CUDA_VISIBLE_DEVICES:+, gpus $CUDA_VISIBLE_DEVICES}" >>"$log"
            export {{JobRunner.RunIdVariable}}={{Quote(runId)}} OMP_NUM_THREADS="$threads"
            {{cli}} job {{Quote(specPath)}} --stage "$stage" --id "$id" --key "$key" --threads "$threads" --store {{Quote(storeRoot)}}{{extra}} >>"$log" 2>&1
            code=$?
            echo "{{ExitLine}}$code" >>"$log"
            exit $code

            """;
    }

    /// <summary>One line per task: stage, job id, key and log path, tab-separated.</summary>
    public static string TaskList(IEnumerable<(string Stage, string Id, string Key, string Log)> tasks)
    {
        var text = new StringBuilder();
        foreach (var (stage, id, key, log) in tasks)
        {
            string[] fields = [stage, id, key, log];
            if (fields.Any(f => f.IndexOfAny(['\t', '\n', '\r']) >= 0))
                throw new ArgumentException($"{stage}/{id}: a job's stage, id and log path cannot hold tabs or line breaks on Slurm");
            text.Append(string.Join('\t', fields)).Append('\n');
        }
        return text.ToString();
    }

    /// <summary>The exit code the last attempt logged, or null if it never got that far (killed, cancelled, lost).</summary>
    public static int? ExitCode(string logPath)
    {
        if (!File.Exists(logPath)) return null;
        var last = File.ReadLines(logPath).LastOrDefault(l => l.StartsWith("== ", StringComparison.Ordinal) && !l.StartsWith(SlurmJobLauncher.NotePrefix, StringComparison.Ordinal));
        return last is not null && ExitPattern().Match(last) is { Success: true } m ? int.Parse(m.Groups[1].Value) : null;
    }

    /// <summary>The exit code on the log's last line, where the task script's last line is, or null while the task has
    /// not written it (pending, running, killed). Reads only the end of the log.</summary>
    public static int? FinalExit(string logPath)
    {
        using var file = new FileStream(logPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var tail = new byte[(int)Math.Min(file.Length, 64)];
        file.Seek(-tail.Length, SeekOrigin.End);
        file.ReadExactly(tail);
        var text = Encoding.UTF8.GetString(tail).TrimEnd('\n');
        var last = text[(text.LastIndexOf('\n') + 1)..];
        return ExitPattern().Match(last) is { Success: true } m ? int.Parse(m.Groups[1].Value) : null;
    }

    static string Quote(string text) => "'" + text.Replace("'", "'\\''") + "'";

    [GeneratedRegex(@"^== exit code (\d+)$")]
    private static partial Regex ExitPattern();
}
