// Helpers for build.cake: check its arguments, build the CLI once, read the stage graph, run the target once, summarise
// what ran.
// The CLI's JSON is read into the Engine's own records of the front-end contract, compiled here from their source (the
// Engine assembly is what this script builds, so it cannot be referenced): nothing is parsed by hand, and nothing is read
// inside the store (the run's record comes from `puzzle run --summary FILE`).
#load "../src/Puzzle.Engine/PuzzleJson.cs"
#load "../src/Puzzle.Engine/Pipeline/Graph/GraphDocument.cs"
#load "../src/Puzzle.Engine/Pipeline/Execution/JobState.cs"
#load "../src/Puzzle.Engine/Pipeline/Execution/StatusDocument.cs"
#load "../src/Puzzle.Engine/Pipeline/Execution/RunSummary.cs"
// the Engine's "did you mean", for a misspelt argument
#load "../src/Puzzle.Engine/Pipeline/Spelling.cs"

/// <summary>
/// The script's arguments: Cake hands a script every argument it does not take itself, and a script reads only those it
/// asks for, so a misspelt one (--job=2, --pipline=x.yaml) ran the default silently. Checked before anything runs.
/// </summary>
public static class ScriptArguments
{
    /// <summary>Cake's own switches (Cake takes them before the script; listed for the error and its "did you mean").</summary>
    static readonly string[] CakeSwitches =
    [
        "verbosity", "dryrun", "noop", "whatif", "tree", "description", "exclusive", "debug", "bootstrap", "skip-bootstrap",
        "info", "version", "help", "invalidate-script-cache", "no-report",
    ];

    /// <summary>
    /// Fails for an argument that is neither one of <paramref name="known"/> (the name and what its value must be, null
    /// for a switch) nor Cake's (its configuration, --settings_KEY, --paths_KEY and --nuget_KEY, and what it passes on
    /// itself), naming it with the closest known name; and for a known one given without the value it needs (a bare
    /// --rerun, or --rerun "", ran as if there were no --rerun, where `puzzle run --rerun ""` is an error; Cake itself
    /// refuses --rerun= as "Expected an option value").
    /// </summary>
    public static void Check(ICakeContext context, IReadOnlyDictionary<string, string> known)
    {
        var names = new Dictionary<string, string>(known, StringComparer.OrdinalIgnoreCase);
        foreach (var (name, values) in context.Arguments.GetArguments())
        {
            if (names.TryGetValue(name, out var needs))
            {
                if (needs != null && values.Any(string.IsNullOrWhiteSpace)) throw new Exception($"--{name} needs {needs}");
                continue;
            }
            if (IsCakes(name)) continue;
            var close = Spelling.Suggest(name, known.Keys.Concat(CakeSwitches));
            throw new Exception($"unknown argument {AsGiven(name)}{(close == null ? "" : $" (did you mean --{close}?)")}; " +
                                $"this script takes {string.Join(", ", known.Keys.Select(k => "--" + k))}; " +
                                $"Cake takes {string.Join(", ", CakeSwitches.Select(s => "--" + s))} and its settings as --settings_KEY, --paths_KEY, --nuget_KEY");
        }
    }

    /// <summary>Cake's configuration given as an argument (--settings_skipverification=true), or what Cake adds itself
    /// (--no-report as Settings_NoReport, --invalidate-script-cache).</summary>
    static bool IsCakes(string name) =>
        string.Equals(name, "invalidate-script-cache", StringComparison.OrdinalIgnoreCase)
        || new[] { "settings_", "paths_", "nuget_" }.Any(p => name.Length > p.Length && name.StartsWith(p, StringComparison.OrdinalIgnoreCase));

    /// <summary>The argument as it was typed: Cake drops the dashes, and -t=Search is not --t=Search.</summary>
    static string AsGiven(string name) =>
        System.Environment.GetCommandLineArgs().Any(a => a.Equals("-" + name, StringComparison.OrdinalIgnoreCase) || a.StartsWith($"-{name}=", StringComparison.OrdinalIgnoreCase))
            ? "-" + name : "--" + name;

    /// <summary>
    /// The `puzzle run` options <paramref name="names"/> as given to this script, each as often as given (--jobs=2:
    /// --jobs 2; a switch given bare, --in-process: --in-process), for the CLI to check and apply as its own.
    /// </summary>
    public static IReadOnlyList<string> ForCli(ICakeContext context, params string[] names) =>
        names.SelectMany(n => context.Arguments.GetArguments(n).SelectMany(v => string.IsNullOrEmpty(v) ? new[] { "--" + n } : new[] { "--" + n, v })).ToList();
}

public sealed class PuzzleCli
{
    readonly ICakeContext _context;
    readonly string _dll;
    readonly List<JobRecord> _jobs = new();

    readonly string _store;
    readonly string _device;

    public PuzzleCli(ICakeContext context, string configuration, bool build, string store, string device = null, string torch = null)
    {
        _store = store == null ? null : context.MakeAbsolute(context.Directory(store)).FullPath;
        _device = device;
        _context = context;
        var project = context.MakeAbsolute(context.File("src/Puzzle.Cli/Puzzle.Cli.csproj"));
        _dll = context.MakeAbsolute(context.File($"src/Puzzle.Cli/bin/{configuration}/net10.0/puzzle.dll")).FullPath;
        // MSBuild's own up-to-date check still costs seconds (restore, evaluation of every project): skip it when no
        // build input changed since the last build this front end made (a stamp of every input's path, size and time)
        var stamp = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(_dll), ".cake-build-inputs");
        var inputs = BuildInputs(context, configuration, torch);
        // the CLI's own time is in the stamp too: a build by other means (another torch switch) rebuilds here once
        string Stamp() => inputs + "|" + System.IO.File.GetLastWriteTimeUtc(_dll).Ticks;
        var upToDate = System.IO.File.Exists(_dll) && System.IO.File.Exists(stamp) && System.IO.File.ReadAllText(stamp) == Stamp();
        if ((build && !upToDate) || !System.IO.File.Exists(_dll))
        {
            context.DotNetBuild(project.FullPath, new DotNetBuildSettings
            {
                Configuration = configuration, NoLogo = true, Verbosity = DotNetVerbosity.Quiet,
                MSBuildSettings = torch == null ? null : new DotNetMSBuildSettings().WithProperty("PuzzleTorch", torch),
            });
            System.IO.File.WriteAllText(stamp, Stamp());
        }
    }

    /// <summary>A fingerprint of what the CLI is built from: every file under src/ (outputs aside) and the root build
    /// files, by path, size and last write time, with the configuration and the torch switch.</summary>
    static string BuildInputs(ICakeContext context, string configuration, string torch)
    {
        var root = context.MakeAbsolute(context.Directory(".")).FullPath;
        var files = System.IO.Directory.EnumerateFiles(System.IO.Path.Combine(root, "src"), "*", System.IO.SearchOption.AllDirectories)
            .Where(f => !f.Contains("/bin/") && !f.Contains("/obj/"))
            .Concat(new[] { "Directory.Build.props", "Directory.Packages.props", "global.json" }.Select(f => System.IO.Path.Combine(root, f)))
            .Where(System.IO.File.Exists)
            .OrderBy(f => f, StringComparer.Ordinal);
        var text = new System.Text.StringBuilder($"{configuration}|{torch}\n");
        foreach (var f in files)
        {
            var info = new System.IO.FileInfo(f);
            text.Append(f.Substring(root.Length)).Append('|').Append(info.Length).Append('|').Append(info.LastWriteTimeUtc.Ticks).Append('\n');
        }
        using var sha = System.Security.Cryptography.SHA256.Create();
        return Convert.ToHexString(sha.ComputeHash(System.Text.Encoding.UTF8.GetBytes(text.ToString())));
    }

    (int Exit, string Output) Capture(params string[] args)
    {
        var settings = new ProcessSettings { Arguments = Args(args), RedirectStandardOutput = true };
        var exit = _context.StartProcess("dotnet", settings, out var lines);
        return (exit, string.Join("\n", lines));
    }

    ProcessArgumentBuilder Args(IEnumerable<string> args)
    {
        var builder = new ProcessArgumentBuilder().AppendQuoted(_dll);
        foreach (var a in args) builder.AppendQuoted(a);
        if (_store != null) builder.Append("--store").AppendQuoted(_store);
        if (_device != null) builder.Append("--device").AppendQuoted(_device);
        return builder;
    }

    public GraphDocument Graph(string pipeline)
    {
        var (exit, output) = Capture("graph", pipeline, "--json");
        if (exit != 0) throw new Exception($"puzzle graph {pipeline} failed (exit {exit}); see the error above");
        return GraphDocument.Parse(output, $"puzzle graph {pipeline} --json");
    }

    /// <summary>Fails for a target that names no stage, after the CLI has said which one was meant (on stderr).</summary>
    public void UnknownTarget(string pipeline, string target)
    {
        Capture("graph", pipeline, "--target", target);
        throw new Exception($"--target={target}: {pipeline} has no such stage (nor is it Default)");
    }

    /// <summary>The record of the one `puzzle run` this script makes, once it made it.</summary>
    RunSummary _run;

    /// <summary>
    /// Runs <paramref name="target"/> with one `puzzle run` call (from Cake's Setup, so its time is Setup's in Cake's
    /// task table, not the first stage's): independent stages run side by side and the CLI starts once.
    /// <paramref name="options"/> are `puzzle run`'s own, how the jobs run (--jobs 2, --executor slurm), which the CLI
    /// checks before anything runs.
    /// </summary>
    public void RunTarget(string pipeline, string target, string rerun = null, IReadOnlyList<string> options = null)
    {
        var record = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"puzzle-cake-{Guid.NewGuid():N}.json");
        var args = (target == "Default" ? new[] { "run", pipeline, "--summary", record } : new[] { "run", pipeline, "--target", target, "--summary", record })
            .Concat(string.IsNullOrEmpty(rerun) ? Array.Empty<string>() : new[] { "--rerun", rerun })
            .Concat(options ?? Array.Empty<string>()).ToArray();
        var exit = _context.StartProcess("dotnet", new ProcessSettings { Arguments = Args(args) });
        if (!System.IO.File.Exists(record)) throw new Exception($"puzzle run failed (exit {exit}) and recorded no run: see the error above");
        try { _run = RunSummary.Parse(System.IO.File.ReadAllText(record), record); }
        finally { System.IO.File.Delete(record); }
        if (exit != 0 && _run.Succeeded) throw new Exception($"puzzle run exited {exit}: see the error above");
    }

    /// <summary>
    /// The Cake task of <paramref name="stage"/>: reports its stage's jobs from the run's record and fails if one of
    /// them failed or could not run.
    /// </summary>
    public void Report(string stage)
    {
        if (_run == null) throw new Exception($"stage {stage}: the pipeline did not run (Setup did not reach `puzzle run`)");
        var mine = _run.Jobs.Where(j => j.Stage == stage).ToList();
        _jobs.AddRange(mine);
        var failed = mine.Where(j => j.Outcome is JobOutcome.Failed or JobOutcome.Skipped or JobOutcome.Cancelled).Select(j => j.Job).ToList();
        if (failed.Count > 0) throw new Exception($"stage {stage}: {string.Join(", ", failed)} failed or could not run: see the job logs named above");
    }

    /// <summary>What a run of <paramref name="target"/> with <paramref name="rerun"/> would run, from `puzzle status
    /// --json` (with its --rerun: the jobs the rerun builds again show as stale); a status that fails (a stage --rerun
    /// misnames) fails the dry run, as it would fail the run.</summary>
    public void PrintWouldRun(string pipeline, string target, string rerun = null)
    {
        var args = (target == "Default" ? new[] { "status", pipeline, "--json" } : new[] { "status", pipeline, "--target", target, "--json" })
            .Concat(string.IsNullOrEmpty(rerun) ? Array.Empty<string>() : new[] { "--rerun", rerun }).ToArray();
        var (exit, output) = Capture(args);
        if (exit != 0) throw new Exception($"puzzle status {pipeline} failed (exit {exit}); see the error above");
        _context.Information($"dry run of {target}: jobs that would run");
        foreach (var j in StatusDocument.Parse(output, $"puzzle status {pipeline} --json").Jobs)
        {
            var cached = j.State == JobState.Cached;
            _context.Information($"  {(cached ? "cached" : "RUN   ")} {j.Stage}/{j.Job}{(cached ? "" : $"  ({j.State.ToString().ToLowerInvariant()}: {j.Reason})")}");
        }
    }

    public void PrintSummary()
    {
        if (_jobs.Count == 0) return;
        _context.Information("");
        _context.Information("jobs:");
        foreach (var j in _jobs)
            _context.Information($"  {j.Outcome.ToString().ToLowerInvariant(),-8} {j.Stage}/{j.Job}{(j.Outcome != JobOutcome.Ran ? "" : j.Reason != null ? $"  ({j.Reason})" : $"  {j.Seconds:F1} s")}");
        _context.Information($"{_jobs.Count(j => j.Outcome == JobOutcome.Ran)} ran, {_jobs.Count(j => j.Outcome == JobOutcome.Cached)} cached, " +
                             $"{_jobs.Count(j => j.Outcome == JobOutcome.Failed)} failed, {_jobs.Count(j => j.Outcome == JobOutcome.Skipped)} skipped" +
                             (_jobs.Any(j => j.Outcome == JobOutcome.Cancelled) ? $", {_jobs.Count(j => j.Outcome == JobOutcome.Cancelled)} cancelled" : ""));
    }
}
