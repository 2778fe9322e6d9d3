using System.Buffers.Binary;
using System.Diagnostics;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Model;
using Puzzle.Engine.Parents;
using TorchSharp;

namespace Puzzle.Benchmarks;

/// <summary>
/// Checkpoint reading and writing: a bfloat16 checkpoint of Llama-3.2-1B's width (hidden 2048, FFN 8192, 32/8 heads,
/// vocabulary 128,256) with <c>layers</c> layers (default 4, about 1 GB), read tensor by tensor as float32 the former way
/// (bytes converted element by element in .NET, one chunk at a time), as float32 through libtorch, as stored, loaded
/// into a float32 model, and written again in bfloat16 both ways. Page cache warm; fastest of three.
/// </summary>
public static class LoadBenchmarks
{
    public static BenchmarkReport Run(string[] args)
    {
        var layers = args.Length > 0 ? int.Parse(args[0]) : 4;
        var report = new BenchmarkReport("load");
        var root = Path.Combine(Path.GetTempPath(), "puzzle-bench-load");
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        try
        {
            var config = ModelConfig.Llama(128256, 2048, layers, heads: 32, kvHeads: 8, intermediate: 8192, tie: true);
            var dir = Path.Combine(root, "parent");
            using (var model = CausalLM.Initialise(config, 0))
                Checkpoint.Save(dir, config, model.state_dict(), dtype: TensorDType.BF16);
            var (_, tensors) = Checkpoint.Open(dir);
            using (tensors)
            {
                var names = tensors.Names.ToList();
                var bytes = names.Sum(n => tensors.Info(n).ElementCount * 2);
                var note = $"{layers} layers, {bytes / 1e9:F2} GB of bf16";
                report.Add("checkpoint size", bytes / 1e9, "GB", note);
                foreach (var n in names) tensors.ReadStored(n).Dispose(); // page cache warm
                double Rate(Action read) => bytes / 1e9 / Measure.FastestSeconds(read);
                var former = Rate(() => { foreach (var n in names) FormerRead(tensors, n).Dispose(); });
                var asFloat = Rate(() => { foreach (var n in names) tensors.Read(n).Dispose(); });
                var stored = Rate(() => { foreach (var n in names) tensors.ReadStored(n).Dispose(); });
                var load = Rate(() => ParentModel.Load(dir).Dispose());
                report.Add("read as float32, converted in .NET (the former reader)", former, "GB/s", note);
                report.Add("read as float32 through libtorch", asFloat, "GB/s", $"{asFloat / former:F1}x the former reader");
                report.Add("read as stored (bf16)", stored, "GB/s", $"{stored / former:F1}x the former reader");
                report.Add("ParentModel.Load into a float32 CPU model", load, "GB/s", "checkpoint bytes per second");

                using var model2 = ParentModel.Load(dir);
                var state = model2.state_dict();
                var outPath = Path.Combine(root, "out.safetensors");
                var formerWrite = Rate(() => FormerWrite(outPath, state));
                var write = Rate(() => SafeTensorsWriter.Write(outPath, state, TensorDType.BF16));
                report.Add("write float32 weights as bf16, converted in .NET (the former writer)", formerWrite, "GB/s of bf16", note);
                report.Add("write float32 weights as bf16 through libtorch", write, "GB/s of bf16", $"{write / formerWrite:F1}x the former writer");
            }
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
        return report;
    }

    /// <summary>The reader before 2026-11-29: 4M elements at a time into a byte array, widened in a .NET loop into a
    /// new float array, made a tensor and copied into place.</summary>
    static torch.Tensor FormerRead(CheckpointTensors tensors, string name)
    {
        const int chunk = 1 << 22;
        var file = tensors.FileOf(name);
        using var stored = file.ReadStored(name); // the bytes; the former reader read them from disk in chunks
        var shorts = stored.bytes.ToArray();
        var result = torch.empty(stored.shape, torch.ScalarType.Float32);
        using var flat = result.view(-1);
        for (long start = 0; start < stored.numel(); start += chunk)
        {
            var count = (int)Math.Min(chunk, stored.numel() - start);
            var values = new float[count];
            for (var i = 0; i < count; i++) values[i] = BitConverter.UInt32BitsToSingle((uint)BinaryPrimitives.ReadUInt16LittleEndian(shorts.AsSpan((int)(2 * (start + i)))) << 16);
            using var source = torch.tensor(values);
            using var target = flat.narrow(0, start, count);
            target.copy_(source);
        }
        return result;
    }

    /// <summary>The writer before 2026-11-29: float32 values copied out 4M at a time and rounded in a .NET loop.</summary>
    static void FormerWrite(string path, IReadOnlyDictionary<string, torch.Tensor> tensors)
    {
        const int chunk = 1 << 22;
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        foreach (var (_, tensor) in tensors.OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            using var flat = tensor.detach().to(torch.ScalarType.Float32).contiguous().reshape(-1);
            var bytes = new byte[Math.Min(flat.numel(), chunk) * 2];
            for (long start = 0; start < flat.numel(); start += chunk)
            {
                var n = (int)Math.Min(chunk, flat.numel() - start);
                using var part = flat.narrow(0, start, n);
                var values = part.data<float>().ToArray();
                for (var i = 0; i < n; i++)
                {
                    var bits = BitConverter.SingleToUInt32Bits(values[i]);
                    bits += 0x7FFFu + ((bits >> 16) & 1u);
                    BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2 * i), (ushort)(bits >> 16));
                }
                stream.Write(bytes.AsSpan(0, n * 2));
            }
        }
        stream.Flush(flushToDisk: true);
    }
}
