using Puzzle.Benchmarks;
using Puzzle.Engine.Runtime;

// Benchmarks write their numbers to benchmarks/results/<name>.json and print a markdown table for the README.
TorchRuntime.EnsureLoaded();
if (args is [TimingNoiseBenchmarks.Worker, ..]) return TimingNoiseBenchmarks.Work(args[1..]); // one process of timing-noise
if (args is [TimingCopiesBenchmarks.Worker, ..]) return TimingCopiesBenchmarks.Work(args[1..]); // one process of timing-copies
if (args is [ThreadsBenchmarks.Worker, ..]) return ThreadsBenchmarks.Work(args[1..]); // one process of threads
if (args is [LoopRuleBenchmarks.Worker, ..]) return LoopRuleBenchmarks.Work(args[1..]); // one process of loop-rule
if (args is [GkdMemoryBenchmarks.Worker, ..]) return GkdMemoryBenchmarks.Work(args[1..]); // one way of gkd-memory
if (args is [GkdStepBenchmarks.Worker, ..]) return GkdStepBenchmarks.Work(args[1..]); // one process of gkd-step
if (args is [HugePagesBenchmarks.Worker, ..]) return HugePagesBenchmarks.Work(args[1..]); // one process of huge-pages
var suites = new Dictionary<string, Func<string[], BenchmarkReport>>
{
    ["bld-defaults"] = BldDefaultsBenchmarks.Run,
    ["costs"] = CostBenchmarks.Run,
    ["foundation"] = FoundationBenchmarks.Run,
    ["frontends"] = FrontEndBenchmarks.Run,
    ["gkd-memory"] = GkdMemoryBenchmarks.Run,
    ["gkd-step"] = GkdStepBenchmarks.Run,
    ["huge-pages"] = HugePagesBenchmarks.Run,
    ["library"] = LibraryBenchmarks.Run,
    ["load"] = LoadBenchmarks.Run,
    ["loop-rule"] = LoopRuleBenchmarks.Run,
    ["main-job"] = MainJobBenchmarks.Run,
    ["metrics"] = MetricsBenchmarks.Run,
    ["parent-budget"] = MainJobBenchmarks.ParentBudget,
    ["search"] = SearchBenchmarks.Run,
    ["ship"] = ShipBenchmarks.Run,
    ["slurm"] = SlurmBenchmarks.Run,
    ["threads"] = ThreadsBenchmarks.Run,
    ["timing-company"] = TimingCompanyBenchmarks.Run,
    ["timing-copies"] = TimingCopiesBenchmarks.Run,
    ["timing-noise"] = TimingNoiseBenchmarks.Run,
};
if (args.Length == 0 || !suites.TryGetValue(args[0], out var suite))
{
    Console.Error.WriteLine($"usage: Puzzle.Benchmarks <{string.Join("|", suites.Keys)}> [options]");
    return 2;
}
var report = suite(args[1..]);
var outDir = Path.Combine(Environment.CurrentDirectory, "benchmarks", "results");
Directory.CreateDirectory(outDir);
var path = Path.Combine(outDir, args[0] + ".json");
report.Write(path);
Console.WriteLine(report.Markdown());
Console.WriteLine($"written: {path}");
return 0;
