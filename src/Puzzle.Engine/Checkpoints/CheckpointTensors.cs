using System.Text.Json;
using TorchSharp;

namespace Puzzle.Engine.Checkpoints;

/// <summary>
/// The tensors of a Hugging Face model folder: <c>model.safetensors</c>, or shards listed in
/// <c>model.safetensors.index.json</c>; failing those, PyTorch's <c>pytorch_model.bin</c> or the shards of
/// <c>pytorch_model.bin.index.json</c>, as transformers saved weights before safetensors (Llama-2-era fine-tunes such as
/// Vicuna ship only these). Opening reads headers only; reading a tensor touches only its own bytes, so a job that needs
/// one block reads one block.
/// </summary>
public sealed class CheckpointTensors : ITensorSource, IDisposable
{
    public const string SingleFileName = "model.safetensors";
    public const string IndexFileName = "model.safetensors.index.json";
    public const string PickleFileName = "pytorch_model.bin";
    public const string PickleIndexFileName = "pytorch_model.bin.index.json";

    /// <summary>The weights a folder may hold, in the order transformers looks for them: safetensors wins where both are.</summary>
    static readonly (string Single, string Index, Func<string, ITensorFile> Open)[] Formats =
    [
        (SingleFileName, IndexFileName, SafeTensorsFile.Open),
        (PickleFileName, PickleIndexFileName, PickleTensorsFile.Open),
    ];

    readonly Dictionary<string, ITensorFile> _fileOf;
    readonly List<ITensorFile> _files;

    CheckpointTensors(string directory, Dictionary<string, ITensorFile> fileOf, List<ITensorFile> files, string? unreadIndex = null)
    {
        Directory = directory;
        UnreadIndex = unreadIndex;
        _fileOf = fileOf;
        _files = files;
        Names = fileOf.Keys.ToArray();
    }

    public string Directory { get; }

    public IReadOnlyCollection<string> Names { get; }

    /// <summary>The index beside a single file (<c>model.safetensors</c>, <c>pytorch_model.bin</c>), which is not read:
    /// where both are, transformers reads the single file, and so does this. Errors about a missing tensor name it,
    /// since the tensor may be in its shards.</summary>
    public string? UnreadIndex { get; }

    /// <summary>The files opened, one per shard.</summary>
    public IReadOnlyList<ITensorFile> Files => _files;

    /// <summary>Opens the tensors of <paramref name="directory"/>; throws <see cref="CheckpointException"/> naming what is missing or wrong.</summary>
    public static CheckpointTensors Open(string directory)
    {
        foreach (var (singleName, indexName, open) in Formats)
        {
            var single = Path.Combine(directory, singleName);
            var index = Path.Combine(directory, indexName);
            if (File.Exists(single))
            {
                var file = open(single);
                return new CheckpointTensors(directory, file.Names.ToDictionary(n => n, _ => file, StringComparer.Ordinal), [file],
                    File.Exists(index) ? index : null);
            }
            if (File.Exists(index)) return OpenSharded(directory, index, open);
        }
        throw new CheckpointException($"{directory}: none of {SingleFileName}, {IndexFileName}, {PickleFileName} or {PickleIndexFileName} is there; " +
                                      "this is not a Hugging Face checkpoint folder, or its weights are missing");
    }

    /// <summary>
    /// Opens every shard the index names. A shard's tensors the index does not list are the checkpoint's too, as
    /// transformers and vLLM read every tensor of each shard they open; a tensor in two shards is refused, since which
    /// copy a loader ends with depends on the order it reads them.
    /// </summary>
    static CheckpointTensors OpenSharded(string directory, string indexPath, Func<string, ITensorFile> open)
    {
        var weightMap = ReadWeightMap(indexPath);
        if (weightMap.Count == 0)
            throw new CheckpointException($"{indexPath}: field 'weight_map' lists no tensors; it must name the shard of each of the model's tensors");
        var shards = new Dictionary<string, ITensorFile>(StringComparer.Ordinal);
        try
        {
            var fileOf = new Dictionary<string, ITensorFile>(StringComparer.Ordinal);
            foreach (var (tensor, shardName) in weightMap)
            {
                if (!shards.TryGetValue(shardName, out var shard))
                {
                    var shardPath = Path.Combine(directory, shardName);
                    if (!File.Exists(shardPath))
                        throw new CheckpointException($"{indexPath}: tensor '{tensor}' is in shard '{shardName}', which is missing from {directory}");
                    shard = open(shardPath);
                    shards.Add(shardName, shard);
                }
                if (!shard.Contains(tensor))
                    throw new CheckpointException($"{shard.Path}: tensor '{tensor}' is listed for this shard in {Path.GetFileName(indexPath)} but the shard does not contain it");
                fileOf.Add(tensor, shard);
            }
            foreach (var shard in shards.Values)
                foreach (var tensor in shard.Names)
                {
                    if (!fileOf.TryGetValue(tensor, out var other)) fileOf.Add(tensor, shard);
                    else if (other != shard)
                        throw new CheckpointException($"{shard.Path}: tensor '{tensor}' is also in {Path.GetFileName(other.Path)}" +
                                                      (weightMap.ContainsKey(tensor) ? $", where {Path.GetFileName(indexPath)} places it" : "") +
                                                      "; a tensor in two shards is ambiguous (a loader keeps whichever copy it reads last): remove one of them");
                }
            return new CheckpointTensors(directory, fileOf, shards.Values.ToList());
        }
        catch
        {
            foreach (var shard in shards.Values) shard.Dispose();
            throw;
        }
    }

    /// <summary>The index's weight_map, tensor → shard file name, in the file's order. A tensor named twice (JSON allows
    /// a repeated key) is refused where the two name different shards.</summary>
    static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        JsonDocument document;
        try { document = JsonDocument.Parse(File.ReadAllBytes(indexPath)); }
        catch (JsonException e) { throw new CheckpointException($"{indexPath}: not valid JSON ({JsonErrors.Describe(e)})", e); }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object ||
                !document.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new CheckpointException($"{indexPath}: field 'weight_map' is missing or not an object");
            var entries = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var item in map.EnumerateObject())
            {
                if (item.Value.ValueKind != JsonValueKind.String)
                    throw new CheckpointException($"{indexPath}: field 'weight_map.{item.Name}' must be a shard file name, got {item.Value.ValueKind}");
                var shard = item.Value.GetString()!;
                // a shard must sit in the checkpoint folder: an index must not reach files elsewhere
                if (shard.Length == 0 || shard != Path.GetFileName(shard) || shard is "." or "..")
                    throw new CheckpointException($"{indexPath}: field 'weight_map.{item.Name}' names '{shard}', which is not a file name in the checkpoint folder");
                if (entries.TryGetValue(item.Name, out var first) && first != shard)
                    throw new CheckpointException($"{indexPath}: field 'weight_map.{item.Name}' is given twice, as '{first}' and as '{shard}'; a tensor has one shard");
                entries[item.Name] = shard;
            }
            return entries;
        }
    }

    public bool Contains(string name) => _fileOf.ContainsKey(name);

    public TensorInfo Info(string name) => FileOf(name).Info(name);

    public torch.Tensor Read(string name) => FileOf(name).Read(name);

    public torch.Tensor ReadStored(string name) => FileOf(name).ReadStored(name);

    public void ReadInto(string name, torch.Tensor target) => FileOf(name).ReadInto(name, target);

    /// <summary>The file that holds <paramref name="name"/>.</summary>
    public ITensorFile FileOf(string name) =>
        _fileOf.TryGetValue(name, out var file)
            ? file
            : throw new CheckpointException($"{Directory}: tensor '{name}' is not in this checkpoint");

    /// <summary>Tensor data bytes read from all files so far.</summary>
    internal long DataBytesRead => _files.Sum(f => f.DataBytesRead);

    public void Dispose()
    {
        foreach (var file in _files) file.Dispose();
    }
}
