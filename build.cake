// Puzzle's Cake front end: one Cake task per pipeline stage, created from the Engine's stage graph.
//   dotnet tool restore && dotnet cake --target=Parent [--pipeline=pipelines/ci.yaml]
//   dotnet cake --tree          the task tree        dotnet cake --dryrun --target=X   what would run, nothing runs
//   --no-build                  use the CLI as last built (otherwise it is built in Release when a file it is built
//                               from changed since this script last built it)
//   --device=cuda               compute on the GPU instead of the spec's device; --torch=cuda|external: where the
//                               CLI's libtorch comes from (README, "GPU")
//   --rerun=Measure             run these stages again although cached, and everything after them (comma-separated
//                               or repeated)
// How the jobs run, as `puzzle run` takes them (the CLI checks them, before anything runs; a dry run runs nothing):
//   --jobs=2                    parallel jobs (default: the spec's executor.jobs)
//   --threads-per-job=4         torch threads per job (default: the cores divided between the jobs)
//   --executor=local|slurm      where jobs run (default: the spec's executor.kind)
//   --in-process                run jobs on threads of the CLI's process instead of child processes
// Any other argument (--job=2, --pipline=x.yaml) is an error that names it, as is one of these without its value
// (a bare --rerun); Cake's own switches (--verbosity, --dryrun, --tree, --description, --exclusive, ...) and settings
// (--settings_KEY=...) are Cake's.
// No stage logic lives here: every task calls the `puzzle` CLI, which calls the Engine.
#load "build/puzzle.cake"

// every argument this script reads, with what its value must be (null: a switch); any other is an error, before anything runs
ScriptArguments.Check(Context, new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
{
    ["target"] = "a stage name (e.g. --target=Search)", ["pipeline"] = "a spec file (e.g. --pipeline=pipelines/ci.yaml)",
    ["configuration"] = "a configuration (Release or Debug)", ["no-build"] = null, ["store"] = "a folder (e.g. --store=.puzzle)",
    ["device"] = "a device (cpu or cuda)", ["torch"] = "where libtorch comes from (cpu, cuda or external)",
    ["rerun"] = "a stage name (e.g. --rerun=Measure)",
    ["jobs"] = "a count (e.g. --jobs=2)", ["threads-per-job"] = "a count (e.g. --threads-per-job=4)",
    ["executor"] = "an executor (local or slurm)", ["in-process"] = null,
});
var target = Argument("target", "Default");   // Default: every stage
if (string.Equals(target, "Default", StringComparison.OrdinalIgnoreCase)) target = "Default";   // Cake's names ignore case
var pipeline = Argument("pipeline", "pipelines/default.yaml");
var configuration = Argument("configuration", "Release");
var build = !HasArgument("no-build");   // --no-build: use the CLI as last built
var store = Argument<string>("store", null);   // cache store (default: .puzzle/ beside pipelines/)
var device = Argument<string>("device", null);   // cpu | cuda (default: the spec's device)
var torch = Argument<string>("torch", null);     // cpu | cuda | external (default: cpu, the PuzzleTorch build switch)
// stages to run again although cached, with what follows them: --rerun=A,B or --rerun=A --rerun=B, as the CLI takes them
var rerun = string.Join(",", Arguments<string>("rerun", Array.Empty<string>()));
// how the jobs run: passed to `puzzle run` as given, each with the CLI's meaning
var runOptions = ScriptArguments.ForCli(Context, "jobs", "threads-per-job", "executor", "in-process");

var puzzle = new PuzzleCli(Context, configuration, build, store, device, torch);
var graph = puzzle.Graph(pipeline);
// a mistyped target gets the CLI's "did you mean" rather than Cake's bare "not found"
if (target != "Default" && !graph.Stages.Any(s => string.Equals(s.Name, target, StringComparison.OrdinalIgnoreCase))) puzzle.UnknownTarget(pipeline, target);

// Cake's --tree prints every path through the graph (Fetch appeared 894 times). Nothing runs for --tree, so there each
// stage hangs under one reader only (the last in pipeline order), a spanning tree that shows every stage once.
var treeOnly = System.Environment.GetCommandLineArgs().Contains("--tree");
var parentOf = graph.Stages.SelectMany(s => s.Upstream.Select(u => (Upstream: u, Reader: s.Name)))
    .GroupBy(e => e.Upstream).ToDictionary(g => g.Key, g => g.Last().Reader);
foreach (var stage in graph.Stages)
{
    var task = Task(stage.Name)
        .Description($"{stage.Description} ({stage.Jobs.Count} job{(stage.Jobs.Count == 1 ? "" : "s")})")
        .Does(() => puzzle.Report(stage.Name));
    foreach (var upstream in stage.Upstream.Where(u => !treeOnly || parentOf[u] == stage.Name)) task.IsDependentOn(upstream);
}
var all = Task("Default").Description("every stage of the pipeline");
foreach (var stage in graph.Stages.Where(s => !treeOnly || !parentOf.ContainsKey(s.Name))) all.IsDependentOn(stage.Name);

Information($"pipeline {graph.Pipeline} ({pipeline}), store {graph.Store}");
// Cake runs no task (nor Setup) in a dry run, so say here which jobs the target would run and why.
var dryRun = System.Environment.GetCommandLineArgs().Any(a => a is "--dryrun" or "--noop" or "--whatif");
if (dryRun) puzzle.PrintWouldRun(pipeline, target, rerun);

// the whole target runs once, before its tasks; Cake 7 runs Setup in a dry run too (it ran every job), so not there
Setup(context => { if (!dryRun) puzzle.RunTarget(pipeline, target, rerun, runOptions); });
Teardown(context => puzzle.PrintSummary());

RunTarget(target);
