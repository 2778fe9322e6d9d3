using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Tests.Runtime;

public class TorchRuntimeTests
{
    static string? PackageCopy()
    {
        var root = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ??
                   Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var path = Path.Combine(root, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        return File.Exists(path) ? path : null;
    }

    [Fact]
    public void The_shipped_library_requires_glibcxx_3_4_32_and_the_patch_makes_it_weak()
    {
        var original = PackageCopy();
        Assert.NotNull(original);
        var bytes = File.ReadAllBytes(original);
        Assert.Equal([TorchRuntime.UnneededGlibcxx], ElfVersionPatch.StrongRequirements(bytes, n => n == TorchRuntime.UnneededGlibcxx));
        Assert.Equal(1, ElfVersionPatch.MakeWeak(bytes, n => n == TorchRuntime.UnneededGlibcxx));
        Assert.Empty(ElfVersionPatch.StrongRequirements(bytes, n => n == TorchRuntime.UnneededGlibcxx));
        // only that one requirement changed: every other GLIBCXX version stays strong
        Assert.NotEmpty(ElfVersionPatch.StrongRequirements(bytes, n => n.StartsWith("GLIBCXX_3.4.2")));
        Assert.Equal(0, ElfVersionPatch.MakeWeak(bytes, n => n == TorchRuntime.UnneededGlibcxx));
    }

    [Fact]
    public void The_copy_next_to_the_app_is_patched_and_torch_loads()
    {
        Fixtures.Torch();
        var local = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.Empty(ElfVersionPatch.StrongRequirements(File.ReadAllBytes(local), n => n == TorchRuntime.UnneededGlibcxx));
        Assert.Equal(6f, TorchSharp.torch.ones(2, 3).sum().item<float>());
    }

    [Fact]
    public void Patching_a_folder_replaces_the_library_whole_once_and_leaves_no_temporary()
    {
        var original = PackageCopy();
        Assert.NotNull(original);
        using var app = new TempDir();
        var library = Path.Combine(app.Path, "libLibTorchSharp.so");
        File.Copy(original, library);

        Assert.Equal([library], TorchRuntime.PatchNativeLibraries(app.Path));
        Assert.Empty(TorchRuntime.PatchNativeLibraries(app.Path)); // patched already: left alone

        var patched = File.ReadAllBytes(library);
        Assert.Equal(new FileInfo(original).Length, patched.Length);
        Assert.Empty(ElfVersionPatch.StrongRequirements(patched, n => n == TorchRuntime.UnneededGlibcxx));
        Assert.Equal(["libLibTorchSharp.so"], Directory.GetFileSystemEntries(app.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void A_file_that_is_not_elf_is_refused()
    {
        Assert.Throws<InvalidDataException>(() => ElfVersionPatch.MakeWeak("not an elf file at all, just text......................................."u8.ToArray(), _ => true));
    }
}
