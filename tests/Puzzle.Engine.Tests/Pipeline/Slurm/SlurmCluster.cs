using System.Diagnostics;
using Puzzle.Engine.Pipeline.Execution;

namespace Puzzle.Engine.Tests.Pipeline.Slurm;

[CollectionDefinition(nameof(SlurmCollection))]
public sealed class SlurmCollection : ICollectionFixture<SlurmCluster>;

/// <summary>
/// A real single-node Slurm cluster on localhost (munge, slurmctld, slurmd with two fake GPUs), from
/// <c>.ci/slurm-cluster</c>: started (and installed) here when it is not running, and then stopped after the tests.
/// Without it every test of the collection fails with the reason: none passes silently.
/// </summary>
public sealed class SlurmCluster : IDisposable
{
    static string Script => Path.Combine(TestRepo.Source, ".ci", "slurm-cluster");

    readonly bool _started;
    readonly Lazy<string> _upstream;
    SlurmRepo? _upstreamRepo;

    public SlurmCluster()
    {
        _upstream = new Lazy<string>(BuildUpstream);
        var running = Run("status").Exit == 0;
        var up = Run("up"); // on a running cluster: nothing, or its daemons restarted under the script's changed config
        if (up.Exit != 0)
            throw new InvalidOperationException(
                $"the Slurm executor's tests need a Slurm cluster and `.ci/slurm-cluster up` failed (exit {up.Exit}; it needs root and " +
                $"Debian's slurm-wlm and munge): {up.Output}");
        _started = !running;
    }

    /// <summary>
    /// A store with <c>pipelines/ci.yaml</c>'s jobs up to Parent, built through Slurm once for the collection;
    /// tests copy it and run what comes after.
    /// </summary>
    public string Upstream => _upstream.Value;

    string BuildUpstream()
    {
        var repo = _upstreamRepo = new SlurmRepo();
        var session = repo.Open();
        using var launcher = repo.Launcher(session, TextWriter.Null);
        var summary = session.RunAsync("Parent", launcher, TextWriter.Null).GetAwaiter().GetResult();
        if (!summary.Succeeded)
            throw new InvalidOperationException("ci.yaml up to Parent failed on Slurm: " + string.Join("\n",
                summary.Where(JobOutcome.Failed).Select(j => $"{j.Stage}/{j.Job}: {File.ReadAllText(j.Log!)}")));
        return repo.Store;
    }

    public void Dispose()
    {
        _upstreamRepo?.Dispose();
        if (_started) Run("down");
    }

    static (int Exit, string Output) Run(string verb)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Script);
        start.ArgumentList.Add(verb);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            return (-1, $".ci/slurm-cluster {verb} did not finish in 5 minutes");
        }
        return (process.ExitCode, (error.Result + output.Result).Trim());
    }
}
