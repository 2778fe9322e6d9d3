using System.Runtime.InteropServices;

namespace Puzzle.Engine.Packaging;

/// <summary>The build and machine facts that decide a model's bits: tool and library versions, OS, CPU.</summary>
public static class BuildFacts
{
    /// <summary>This build of Puzzle.NET: recorded in every manifest, package and model card. The informational version,
    /// which names the commit it was built from (<c>0.1.0+&lt;sha&gt;</c>, <c>.dirty</c> after it for a tree with
    /// uncommitted changes) where the build had one: the assembly version alone is the same for every commit.</summary>
    public static readonly string ToolVersion = InformationalVersion(typeof(BuildFacts).Assembly) ?? typeof(BuildFacts).Assembly.GetName().Version?.ToString() ?? "0";

    public static IReadOnlyDictionary<string, string> Current() => new SortedDictionary<string, string>(StringComparer.Ordinal)
    {
        ["puzzle"] = ToolVersion,
        ["torchsharp"] = Informational(typeof(TorchSharp.torch).Assembly),
        ["libtorch"] = LibTorch(),
        ["ortools"] = Informational(typeof(Google.OrTools.Sat.CpModel).Assembly),
        ["dotnet"] = Environment.Version.ToString(),
        ["os"] = RuntimeInformation.OSDescription,
        ["architecture"] = RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant(),
        ["cpu"] = CpuModel(),
    };

    /// <summary>The libtorch package bundled with this build (PuzzleTorch), from the metadata the build writes.</summary>
    static string LibTorch() =>
        typeof(BuildFacts).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .OfType<System.Reflection.AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "PuzzleLibTorch")?.Value ?? "?";

    /// <summary>A library's version, without the build metadata after '+'.</summary>
    static string Informational(System.Reflection.Assembly assembly) =>
        InformationalVersion(assembly)?.Split('+')[0] ?? assembly.GetName().Version?.ToString() ?? "?";

    static string? InformationalVersion(System.Reflection.Assembly assembly) =>
        assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion;

    /// <summary>libtorch picks its CPU kernels (AVX2, AVX-512) by the processor, so the processor is part of the build.</summary>
    /// <summary>The processor's model name, as /proc/cpuinfo gives it (or the architecture where it cannot be read).</summary>
    public static string Cpu() => CpuModel();

    static string CpuModel()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo"))
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                    if (line.StartsWith("model name", StringComparison.Ordinal) && line.IndexOf(':') is var colon and > 0)
                        return line[(colon + 1)..].Trim();
        }
        catch (IOException) { }
        return "unknown";
    }
}
