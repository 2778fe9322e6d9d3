using System.Reflection;
using System.Text.RegularExpressions;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Stages;
using Puzzle.Engine.Tests.Pipeline;

namespace Puzzle.Engine.Tests;

/// <summary>
/// Folders by concern, dependencies inward (issue 16): domain code (everything in the Engine outside Pipeline/) knows
/// nothing of the pipeline, and Pipeline/Stages holds stages and the records of their jobs and outputs, nothing else.
/// </summary>
public class ArchitectureTests
{
    static string Engine => Path.Combine(TestRepo.Source, "src", "Puzzle.Engine");

    [Fact]
    public void Domain_code_does_not_reference_the_pipeline()
    {
        var offenders = PipelineReferences(Engine).ToList();
        Assert.True(offenders.Count == 0, "domain code that reads the pipeline (take an option record or plain values " +
                                          "instead, mapped from the spec in the stage):\n" + string.Join("\n", offenders));
    }

    [Fact]
    public void The_reference_scan_finds_a_using_an_alias_and_a_qualified_name_but_not_a_comment()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(Path.Combine(dir.Path, "Cost"));
        Directory.CreateDirectory(Path.Combine(dir.Path, "Pipeline", "Stages"));
        File.WriteAllText(Path.Combine(dir.Path, "Cost", "A.cs"), "using Puzzle.Engine.Pipeline.Spec;\nnamespace Puzzle.Engine.Cost;\n");
        File.WriteAllText(Path.Combine(dir.Path, "Cost", "B.cs"), "// reads Pipeline.Spec.ScenarioSpec\nusing S = Puzzle.Engine.Pipeline.Spec.ScenarioSpec;\n");
        File.WriteAllText(Path.Combine(dir.Path, "Cost", "C.cs"), "class C { object M() => Pipeline.Stages.DistillStage.LoadLayer(); }\n");
        File.WriteAllText(Path.Combine(dir.Path, "Cost", "D.cs"), "/// <summary>Unlike Pipeline.Spec, this is a comment.</summary>\nclass D;\n");
        File.WriteAllText(Path.Combine(dir.Path, "Pipeline", "Stages", "E.cs"), "using Puzzle.Engine.Pipeline.Spec;\n");

        var found = PipelineReferences(dir.Path).ToList();

        Assert.Equal(3, found.Count);
        Assert.Contains(found, f => f.StartsWith("Cost/A.cs:1:", StringComparison.Ordinal));
        Assert.Contains(found, f => f.StartsWith("Cost/B.cs:2:", StringComparison.Ordinal));
        Assert.Contains(found, f => f.StartsWith("Cost/C.cs:1:", StringComparison.Ordinal));
    }

    [Fact]
    public void Pipeline_stages_holds_only_stages_and_the_records_of_their_jobs_and_outputs()
    {
        var strays = NonStages(typeof(Stage).Assembly.GetTypes()).ToList();
        Assert.True(strays.Count == 0, "types in Pipeline/Stages that are neither a stage nor a record of a stage's job or " +
                                       "output (move each to the folder of its concern, or make it part of its one stage):\n" +
                                       string.Join("\n", strays));
        var elsewhere = Directory.EnumerateFiles(Path.Combine(Engine, "Pipeline", "Stages"), "*.cs")
            .Where(f => !File.ReadLines(f).Contains("namespace Puzzle.Engine.Pipeline.Stages;"))
            .Select(Path.GetFileName).ToList();
        Assert.True(elsewhere.Count == 0, "files in Pipeline/Stages in another namespace: " + string.Join(", ", elsewhere));
    }

    [Fact]
    public void The_stage_check_flags_a_helper_class_and_accepts_a_stage_with_its_records()
    {
        Assert.Equal([typeof(FakeStages.Helper).FullName], NonStages([typeof(FakeStages.Helper), typeof(FakeStages.Stage1), typeof(FakeStages.Job1),
            typeof(FakeStages.Part), typeof(FakeStages.Output1)], typeof(FakeStages.Helper).Namespace!).Select(t => t.Split(' ')[0]));
    }

    /// <summary>Each line of a .cs file outside <c>Pipeline/</c> below <paramref name="root"/> that names the pipeline's
    /// namespace (a using, an alias, a qualified name), comments aside, as <c>folder/file.cs:line: text</c>.</summary>
    static IEnumerable<string> PipelineReferences(string root) =>
        Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
            .Select(f => (File: f, Relative: Path.GetRelativePath(root, f).Replace('\\', '/')))
            .Where(f => !f.Relative.StartsWith("Pipeline/", StringComparison.Ordinal) && !f.Relative.StartsWith("obj/", StringComparison.Ordinal)
                        && !f.Relative.StartsWith("bin/", StringComparison.Ordinal))
            .SelectMany(f => File.ReadLines(f.File).Select((line, i) => (f.Relative, Line: i + 1, Text: line.Trim())))
            .Where(l => !l.Text.StartsWith("//", StringComparison.Ordinal) && PipelineName.IsMatch(l.Text))
            .Select(l => $"{l.Relative}:{l.Line}: {l.Text}");

    static readonly Regex PipelineName = new(@"\bPuzzle\.Engine\.Pipeline\b|(?<![\w.])Pipeline\.(Spec|Stages|Graph|Cache|Outputs|Execution)\b");

    /// <summary>
    /// The top-level types of <paramref name="ns"/> among <paramref name="types"/> that are neither a stage (or the list
    /// of stages) nor a record reachable through properties from a stage's job record or from an output record (a
    /// record a stage reads back with a static <c>Read(jobDirectory)</c>), with what they are.
    /// </summary>
    static IEnumerable<string> NonStages(IEnumerable<Type> types, string ns = "Puzzle.Engine.Pipeline.Stages")
    {
        var all = types.Where(t => !t.IsDefined(typeof(System.Runtime.CompilerServices.CompilerGeneratedAttribute))).ToList();
        var here = all.Where(t => t.Namespace == ns).ToList();
        var roots = new List<Type>();
        foreach (var t in here)
        {
            for (var b = t.BaseType; b is not null; b = b.BaseType)
                if (b.IsGenericType && b.GetGenericTypeDefinition() == typeof(Stage<>)) roots.Add(b.GetGenericArguments()[0]);
            roots.AddRange(t.GetMethods(BindingFlags.Public | BindingFlags.Static)
                .Where(m => m.Name == "Read" && m.GetParameters() is [{ ParameterType: var p }] && p == typeof(string))
                .Select(m => m.ReturnType));
        }
        var reachable = new HashSet<Type>();
        var queue = new Queue<Type>(roots);
        while (queue.TryDequeue(out var t))
        {
            if (t.IsGenericType) foreach (var a in t.GetGenericArguments()) queue.Enqueue(a);
            if (t.IsArray) queue.Enqueue(t.GetElementType()!);
            if (t.Namespace != ns || !reachable.Add(t)) continue;
            foreach (var p in t.GetProperties(BindingFlags.Public | BindingFlags.Instance)) queue.Enqueue(p.PropertyType);
        }
        return here.Where(t => t.DeclaringType is null && !typeof(Stage).IsAssignableFrom(t) && t != typeof(PuzzleStages) && !reachable.Contains(t))
            .Select(t => $"{t.FullName} ({(t.IsAbstract && t.IsSealed ? "static class" : t.IsClass ? "class" : "type")})");
    }
}
