using System.Collections.Concurrent;
using System.Diagnostics;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Pipeline.Execution;

/// <summary>
/// Runs each job as its own <c>puzzle job</c> process (so a crash or SIGKILL takes down one job, not the run),
/// with its output in the job's log file, and its standard input a channel for its thread count (<see cref="SetThreads"/>).
/// </summary>
/// <param name="command">how to start the CLI, e.g. ["dotnet", ".../puzzle.dll"] or [".../puzzle"]</param>
/// <param name="progress">where jobs' progress lines (tokens/s, loss) are echoed, prefixed by the job</param>
/// <param name="jobArguments">arguments every job gets, e.g. <c>--device cuda</c>: the overrides the launcher planned with,
/// so that the job plans the same key</param>
/// <param name="environment">variables a stage's job processes get besides this process's (<see cref="PipelineSession.JobEnvironment"/>)</param>
public sealed class ProcessJobLauncher(IReadOnlyList<string> command, string specPath, string storeRoot, TextWriter? progress = null,
    IReadOnlyList<string>? jobArguments = null, Func<Stage, IReadOnlyDictionary<string, string>>? environment = null) : IJobLauncher
{
    readonly ConcurrentDictionary<JobPlan, StreamWriter> _inputs = new();

    public async Task<int> LaunchAsync(JobPlan job, string runId, string logPath, int threads, CancellationToken cancel, string? gpu = null)
    {
        var start = new ProcessStartInfo(command[0])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
        };
        foreach (var a in command.Skip(1)) start.ArgumentList.Add(a);
        foreach (var a in new[] { "job", specPath, "--stage", job.Stage.Name, "--id", job.Id, "--key", job.Key,
                     "--threads", threads.ToString(), "--store", storeRoot }.Concat(jobArguments ?? []))
            start.ArgumentList.Add(a);
        foreach (var (name, value) in environment?.Invoke(job.Stage) ?? new Dictionary<string, string>()) start.Environment[name] = value;
        start.Environment["OMP_NUM_THREADS"] = threads.ToString();
        start.Environment[TorchRuntime.ThreadsInputVariable] = "1";
        start.Environment[JobRunner.RunIdVariable] = runId;
        if (gpu is not null) start.Environment["CUDA_VISIBLE_DEVICES"] = gpu;
        Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
        await using var log = new StreamWriter(logPath, append: false) { AutoFlush = true };
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {command[0]}");
        var gate = new object();
        void Write(string? line)
        {
            if (line is null) return;
            lock (gate) log.WriteLine(line);
            if (progress is not null && Training.ProgressLine.IsProgress(line)) progress.WriteLine($"  {job.Name}: {line}");
        }
        process.OutputDataReceived += (_, e) => Write(e.Data);
        process.ErrorDataReceived += (_, e) => Write(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _inputs[job] = process.StandardInput;
        try { await process.WaitForExitAsync(cancel); }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        finally
        {
            if (_inputs.TryRemove(job, out var input)) Close(input);
        }
        return process.ExitCode;
    }

    /// <summary>Closes a job's input. A count it could not take (the job had stopped reading) stays in the writer's buffer,
    /// and the flush on closing fails as the write did ("Pipe is broken"): it is dropped, and the pipe is closed all the
    /// same. Once made the run's error, a job that had ended well failed its whole run.</summary>
    static void Close(StreamWriter input)
    {
        lock (input)
        {
            try { input.Dispose(); }
            catch (IOException) { /* the job ended without reading its last count: nothing is lost */ }
        }
    }

    public bool SetThreads(JobPlan job, int threads)
    {
        if (!_inputs.TryGetValue(job, out var input)) return false;
        try
        {
            lock (input)
            {
                input.WriteLine($"threads {threads}");
                input.Flush();
            }
            return true;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException) { return false; } // it has just ended
    }
}
