using System.Runtime.InteropServices;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Engine.Library;

/// <summary>
/// The parent's residual stream on a fixed set of sequences, stored once per layer so every block-library job of
/// that layer reads its own layer only: <c>x{i}</c> is layer i's input, <c>a{i}</c> its attention's contribution to the
/// residual stream and <c>f{i}</c> its FFN's. Contributions are stored as such, not as differences of streams: in a
/// residual stream they are small next to x, and a difference of two rounded streams would drown them. Raw little-endian float16 (ample range for a residual stream, 4x the precision of bfloat16), [sequences, T, hidden].
/// </summary>
public sealed class ActivationSet
{
    public sealed record Info(int Layers, long Sequences, int SeqLen, int Hidden, string Dtype);
    public const string InfoFile = "activations.json";

    ActivationSet(string directory, Info info) { Directory = directory; Shape = info; }

    public string Directory { get; }
    public Info Shape { get; }
    public long Sequences => Shape.Sequences;
    long SequenceBytes => (long)Shape.SeqLen * Shape.Hidden * 2;

    public static string InputOf(int layer) => $"x{layer}";
    public static string AttentionOf(int layer) => $"a{layer}";
    public static string FfnOf(int layer) => $"f{layer}";

    public static ActivationSet Open(string directory)
    {
        var path = Path.Combine(directory, InfoFile);
        if (!File.Exists(path)) throw new FileNotFoundException($"{directory}: no {InfoFile} (not an activation set)");
        return new ActivationSet(directory, JsonSerializer.Deserialize<Info>(File.ReadAllText(path), PuzzleJson.Options)!);
    }

    /// <summary>Rows [B, T, hidden] of one stream (float32) for the given sequences.</summary>
    /// <remarks>Read straight into a float16 tensor's memory and converted by torch: no large managed arrays, whose
    /// garbage collections would also provoke the Scalar race described in <see cref="Runtime.Scalars"/>.</remarks>
    public Tensor Read(string stream, IReadOnlyList<long> sequences)
    {
        using var handle = File.OpenHandle(Path.Combine(Directory, stream + ".f16"));
        using var half = empty([sequences.Count, Shape.SeqLen, Shape.Hidden], float16);
        var bytes = half.bytes;
        for (var i = 0; i < sequences.Count; i++)
        {
            var slice = bytes.Slice((int)(i * SequenceBytes), (int)SequenceBytes);
            if (RandomAccess.Read(handle, slice, sequences[i] * SequenceBytes) != slice.Length)
                throw new InvalidDataException($"{Directory}/{stream}.f16 is truncated at sequence {sequences[i]}");
        }
        return half.to(float32);
    }

    /// <summary>Writes the streams of a parent run batch by batch.</summary>
    public sealed class Writer : IDisposable
    {
        readonly string _directory;
        readonly Dictionary<string, FileStream> _files = new();
        readonly int _layers, _seqLen, _hidden;
        long _sequences;

        public Writer(string directory, int layers, int seqLen, int hidden)
        {
            (_directory, _layers, _seqLen, _hidden) = (directory, layers, seqLen, hidden);
            System.IO.Directory.CreateDirectory(directory);
        }

        /// <summary>Appends a batch [B, T, hidden] to a stream.</summary>
        public void Append(string stream, Tensor batch)
        {
            if (!_files.TryGetValue(stream, out var file))
                _files[stream] = file = new FileStream(Path.Combine(_directory, stream + ".f16"), FileMode.CreateNew);
            using var values = batch.detach().cpu();
            var peak = values.numel() == 0 ? 0 : values.abs().max().to(float32).item<float>();
            if (peak > 65000)
                throw new InvalidDataException($"activation {stream} reaches {peak:G3}, beyond float16's range (65504): this parent needs float32 activation storage");
            using var half = values.to(float16).contiguous();
            file.Write(half.bytes);
            if (stream == InputOf(0)) _sequences += batch.shape[0];
        }

        public void Dispose()
        {
            foreach (var f in _files.Values) f.Dispose();
            var info = new Info(_layers, _sequences, _seqLen, _hidden, "float16");
            File.WriteAllText(Path.Combine(_directory, InfoFile), JsonSerializer.Serialize(info, PuzzleJson.Options));
        }
    }
}
