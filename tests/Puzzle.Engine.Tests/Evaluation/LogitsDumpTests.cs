using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Evaluation;
using Puzzle.Engine.Tests.Cli;

namespace Puzzle.Engine.Tests.Evaluation;

/// <summary><c>puzzle logits</c>: our logits for given ids, what the device check compares with transformers.</summary>
[Collection(nameof(ConsoleCollection))]
public class LogitsDumpTests
{
    static (float[] Logits, long[] Shape) Read(string path)
    {
        using var file = SafeTensorsFile.Open(path);
        using var t = file.Read(LogitsDump.LogitsTensor);
        return (t.data<float>().ToArray(), t.shape);
    }

    static float[] Logits(TempDir dir, long[] ids, string dtype)
    {
        File.WriteAllText(dir["ids.json"], $"[[{string.Join(",", ids)}]]");
        var (exit, stdout, stderr) = CliRunner.Run("logits", "--model", Fixtures.HfLlamaTiny, "--ids", dir["ids.json"],
            "--out", dir[dtype + ".safetensors"], "--dtype", dtype);
        Assert.True(exit == 0, stderr);
        Assert.Contains($"cpu ({dtype})", stdout);
        var (logits, shape) = Read(dir[dtype + ".safetensors"]);
        Assert.Equal([1L, ids.Length, 32000], shape);
        return logits;
    }

    [Fact]
    public void The_logits_of_the_reference_checkpoint_match_transformers_in_float32_and_stay_close_in_bfloat16()
    {
        using var dir = new TempDir();
        var reference = Fixtures.Reference.GetProperty("texts").GetProperty("short").GetProperty("bos");
        var ids = Fixtures.Ids(reference, "ids");
        var f32 = Logits(dir, ids, "float32");
        var first8 = reference.GetProperty("logits_pos0_first8").EnumerateArray().Select(x => x.GetDouble()).ToArray();
        var last8 = reference.GetProperty("logits_last_first8").EnumerateArray().Select(x => x.GetDouble()).ToArray();
        var lastRow = (ids.Length - 1) * 32000;
        for (var i = 0; i < 8; i++)
        {
            Assert.Equal(first8[i], f32[i], 1e-4);
            Assert.Equal(last8[i], f32[lastRow + i], 1e-4);
        }

        // bfloat16 keeps 8 bits of mantissa; through 3 layers of this fixture's large random weights (std 0.25) the worst
        // logit moves by about 7% of the largest (measured: 0.74 of 10.8), and the argmax rarely changes
        var bf16 = Logits(dir, ids, "bfloat16");
        var scale = f32.Max(Math.Abs);
        var worst = f32.Zip(bf16, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst <= 0.1 * scale, $"bfloat16 logits differ by up to {worst} (largest logit {scale})");
        var agree = Enumerable.Range(0, ids.Length).Count(t => ArgMax(f32, t) == ArgMax(bf16, t));
        Assert.True(agree >= 0.9 * ids.Length, $"argmax agrees at {agree} of {ids.Length} positions");
    }

    static int ArgMax(float[] logits, int position)
    {
        var row = logits.AsSpan(position * 32000, 32000);
        var best = 0;
        for (var i = 1; i < row.Length; i++) if (row[i] > row[best]) best = i;
        return best;
    }

    [Fact]
    public void Ragged_or_out_of_vocabulary_ids_are_errors_naming_the_file()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["ragged.json"], "[[1, 2], [3]]");
        var (exit, _, err) = CliRunner.Run("logits", "--model", Fixtures.HfLlamaTiny, "--ids", dir["ragged.json"], "--out", dir["x.safetensors"]);
        Assert.Equal(1, exit);
        Assert.Contains("ragged.json: every sequence must have the same length", err);
        File.WriteAllText(dir["big.json"], "[[1, 99999]]");
        (exit, _, err) = CliRunner.Run("logits", "--model", Fixtures.HfLlamaTiny, "--ids", dir["big.json"], "--out", dir["x.safetensors"]);
        Assert.Equal(1, exit);
        Assert.Contains("token id 99999 is outside", err);
    }
}
