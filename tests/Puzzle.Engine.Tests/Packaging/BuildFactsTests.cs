using System.Diagnostics;
using System.Reflection;
using Puzzle.Engine.Packaging;
using Puzzle.Engine.Tests.Spec;

namespace Puzzle.Engine.Tests.Packaging;

/// <summary>What a package's provenance records of the build that made it: which code, which libraries.</summary>
public sealed class BuildFactsTests
{
    [Fact]
    public void The_tool_version_names_the_commit_the_build_records()
    {
        // the assembly version (0.1.0.0) is the same for every commit: two packages from different code read alike
        var informational = typeof(BuildFacts).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;

        Assert.Equal(informational, BuildFacts.ToolVersion);
        Assert.Equal(informational, BuildFacts.Current()["puzzle"]);
    }

    [Fact]
    public void The_build_facts_name_libtorch_and_or_tools()
    {
        var facts = BuildFacts.Current();

        Assert.Matches(@"^(libtorch-cpu-linux-x64|TorchSharp-cuda-linux) \d+\.\d+\.\d+|^external", facts["libtorch"]);
        var ortools = typeof(Google.OrTools.Sat.CpModel).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;
        Assert.Equal(ortools.Split('+')[0], facts["ortools"]);
        Assert.Matches(@"^\d+\.\d+\.\d+$", facts["ortools"]);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void A_build_from_a_tree_with_uncommitted_changes_is_marked_dirty()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["Directory.Build.props"],
            $"<Project><Import Project=\"{Path.Combine(Repository.Root, "Directory.Build.props")}\" /></Project>");
        File.WriteAllText(dir["x.csproj"], "<Project Sdk=\"Microsoft.NET.Sdk\" />");
        File.WriteAllText(dir["tracked.txt"], "one\n");
        foreach (var args in new[] { "init -q", "add -A", "-c user.name=t -c user.email=t@t commit -q -m one" }) Run(dir.Path, "git", args);
        var commit = Run(dir.Path, "git", "rev-parse HEAD").Trim();

        Assert.Matches($@"^\d+\.\d+\.\d+\+{commit}$", InformationalVersion(dir.Path));
        File.WriteAllText(dir["tracked.txt"], "two\n");
        Assert.Matches($@"^\d+\.\d+\.\d+\+{commit}\.dirty$", InformationalVersion(dir.Path));
    }

    static string InformationalVersion(string project) =>
        Run(project, "dotnet", "msbuild x.csproj -nologo -t:GetAssemblyAttributes -getProperty:InformationalVersion").Trim();

    static string Run(string directory, string file, string arguments)
    {
        var start = new ProcessStartInfo(file, arguments) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{file} {arguments}: exit {process.ExitCode}\n{stdout}\n{stderr.Result}");
        return stdout;
    }
}
