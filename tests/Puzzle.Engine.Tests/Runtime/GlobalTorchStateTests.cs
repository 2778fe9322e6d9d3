using System.Text.RegularExpressions;
using Puzzle.Engine.Cost;
using Puzzle.Engine.Runtime;
using Puzzle.Engine.Tests.Spec;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Runtime;

/// <summary>
/// Jobs share one process under InProcessJobLauncher (two at a time), and so share torch's global generator and thread
/// count: whatever one job seeds or draws there, another job's draws depend on. So src/ draws only from generators of
/// its own, and sets the thread count only where a process runs one job.
/// </summary>
public partial class GlobalTorchStateTests
{
    /// <summary>Calls that draw random numbers: each must be given a generator.</summary>
    [GeneratedRegex(@"\b(randn|rand|randint|randperm|randn_like|rand_like|randint_like|normal_|uniform_|bernoulli_?|multinomial|dropout\w*|exponential_|geometric_|cauchy_|log_normal_|random_)\s*\(")]
    private static partial Regex Draw();

    /// <summary>Calls on the global state itself, and nn.init (TorchSharp 0.107's ignores the generator it is given).</summary>
    [GeneratedRegex(@"\b(manual_seed|seed|initial_seed|set_rng_state|get_rng_state|set_num_threads|set_num_interop_threads)\s*\(|\bnn\.init\.\w+\s*\(|\btorch\.random\.")]
    private static partial Regex GlobalState();

    /// <summary>Uses that are harmless, each with its reason at the call.</summary>
    static readonly HashSet<(string File, string Call)> Allowed =
    [
        ("src/Puzzle.Engine/Runtime/TorchRuntime.cs", "set_num_threads"), // the CLI's one-job processes, before any work
    ];

    [Fact]
    public void Src_draws_only_from_generators_of_its_own_and_never_touches_the_global_state()
    {
        var found = new List<string>();
        foreach (var path in Directory.EnumerateFiles(Path.Combine(Repository.Root, "src"), "*.cs", SearchOption.AllDirectories))
        {
            var file = Path.GetRelativePath(Repository.Root, path).Replace('\\', '/');
            if (file.Contains("/obj/") || file.Contains("/bin/")) continue;
            var code = WithoutComments(File.ReadAllText(path));
            foreach (Match m in Draw().Matches(code))
                if (!Arguments(code, m.Index + m.Length - 1).Contains("generator:"))
                    found.Add($"{file}:{Line(code, m.Index)}: {m.Groups[1].Value}(…) without a generator:");
            foreach (Match m in GlobalState().Matches(code))
            {
                var call = m.Value.TrimEnd('(', ' ');
                if (!Allowed.Contains((file, call))) found.Add($"{file}:{Line(code, m.Index)}: {call} (torch's process-wide state)");
            }
        }
        Assert.True(found.Count == 0, "shared torch state in src/:\n" + string.Join("\n", found));
    }

    [Fact]
    public async Task Measurements_draw_the_same_inputs_while_another_job_draws_from_the_global_generator()
    {
        Fixtures.Torch();
        var stop = 0;
        // another job of the process, reseeding and drawing from the global generator all the while
        var other = new Thread(() => { while (Volatile.Read(ref stop) == 0) { manual_seed(1); using var x = randn(256); } });
        other.Start();
        try
        {
            long[][] Inputs(int vocab)
            {
                using var generator = new Generator(0);
                var inputs = CostMeter.TokenInputs(vocab, ComputeDevice.Cpu, generator);
                return Enumerable.Range(0, 20).Select(_ => { using var t = inputs([2, 64]); return t.data<long>().ToArray(); }).ToArray();
            }
            var both = await Task.WhenAll(Task.Run(() => Inputs(1000)), Task.Run(() => Inputs(1000)));
            Assert.Equal(both[0], both[1]);
        }
        finally
        {
            Volatile.Write(ref stop, 1);
            other.Join();
        }
    }

    /// <summary>The code with // comments blanked (lengths kept, so indices still give line numbers).</summary>
    static string WithoutComments(string code) =>
        Regex.Replace(code, @"//[^\n]*", c => new string(' ', c.Length));

    /// <summary>The text from an opening parenthesis to the one that closes it.</summary>
    static string Arguments(string code, int open)
    {
        var depth = 0;
        for (var i = open; i < code.Length; i++)
        {
            if (code[i] == '(') depth++;
            else if (code[i] == ')' && --depth == 0) return code[open..(i + 1)];
        }
        return code[open..];
    }

    static int Line(string code, int index) => code.AsSpan(0, index).Count('\n') + 1;
}
