using System.IO.Compression;
using Puzzle.Engine.Checkpoints;

namespace Puzzle.Engine.Tests.Checkpoints;

/// <summary>
/// PyTorch .bin parents: the folders of Fixtures/hf-llama-tiny-bin, which torch.save wrote from hf-llama-tiny (see its
/// make.py), and hf-llama-tiny whole as one pytorch_model.bin, made from the data.pkl torch.save wrote for it with each
/// storage's record filled from the safetensors fixture (17 MB that the repository need not hold).
/// </summary>
public static class TorchBinFixtures
{
    public static string Folder => Path.Combine(AppContext.BaseDirectory, "Fixtures", "hf-llama-tiny-bin");

    /// <summary>Fixture folder <paramref name="name"/> (f16, bf16-sharded, tied-views) copied to <paramref name="to"/>.</summary>
    public static string Copy(string name, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(Path.Combine(Folder, name))) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        return to;
    }

    /// <summary>Replaces <paramref name="folder"/>'s safetensors weights (hf-llama-tiny's, as <see cref="Cli.TestParents.Tiny"/>
    /// copies them) with the same float32 tensors in one pytorch_model.bin, laid out as torch.save lays it out.</summary>
    public static void ToPytorchBin(string folder)
    {
        foreach (var file in Directory.GetFiles(folder, "model*.safetensors*")) File.Delete(file);
        var pickle = File.ReadAllBytes(Path.Combine(Folder, "full-f32.data.pkl"));
        var path = Path.Combine(folder, CheckpointTensors.PickleFileName);
        using var source = CheckpointTensors.Open(Fixtures.HfLlamaTiny);
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        Add(zip, "pytorch_model/data.pkl", pickle);
        foreach (var (name, tensor) in TorchPickle.Parse(pickle, path))
        {
            using var stored = source.ReadStored(name);
            Assert.Equal(tensor.Storage.ElementCount, stored.numel()); // one storage per tensor, as a loaded model has them
            Add(zip, $"pytorch_model/data/{tensor.Storage.Key}", stored.bytes.ToArray());
        }
        Add(zip, "pytorch_model/version", "3\n"u8.ToArray());
    }

    static void Add(ZipArchive zip, string name, byte[] bytes)
    {
        using var stream = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
        stream.Write(bytes);
    }
}
