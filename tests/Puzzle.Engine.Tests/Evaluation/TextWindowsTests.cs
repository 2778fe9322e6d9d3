using Puzzle.Engine.Evaluation;
using Puzzle.Engine.Tokenization;

namespace Puzzle.Engine.Tests.Evaluation;

public sealed class TextWindowsTests : IDisposable
{
    const int SeqLen = 2; // windows of 3 tokens
    readonly TempDir _dir = new();
    readonly Tokenizer _tokenizer = Tokenizer.Load(Path.Combine(Fixtures.HfLlamaTiny, "tokenizer.json"));

    public void Dispose()
    {
        _tokenizer.Dispose();
        _dir.Dispose();
    }

    /// <summary>A text file of one document, and its token stream as windows are cut from it (BOS ... EOS).</summary>
    (string File, long[] Stream) Text()
    {
        var text = Fixtures.Reference.GetProperty("texts").GetProperty("short").GetProperty("text").GetString()!;
        File.WriteAllText(_dir["text.txt"], text);
        var stream = _tokenizer.Encode(text, addBos: true).Select(id => (long)id).Append(_tokenizer.EosId!.Value).ToArray();
        Assert.True(stream.Length >= 13 * (SeqLen + 1), $"the fixture text gives {stream.Length} tokens");
        return (_dir["text.txt"], stream);
    }

    static List<long[,]> Read(IEnumerable<TorchSharp.torch.Tensor> batches) => batches.Select(b =>
    {
        using (b)
        {
            var (rows, columns) = ((int)b.shape[0], (int)b.shape[1]);
            var values = b.data<long>().ToArray();
            var result = new long[rows, columns];
            for (var i = 0; i < rows; i++)
                for (var j = 0; j < columns; j++) result[i, j] = values[i * columns + j];
            return result;
        }
    }).ToList();

    [Theory]
    [InlineData(4, new[] { 4 })]       // fewer than one batch: was nothing at all
    [InlineData(10, new[] { 8, 2 })]   // a batch and part of one: the part was dropped
    [InlineData(12, new[] { 8, 4 })]
    public void At_most_max_windows_are_given_the_last_batch_begun_included(int max, int[] rows)
    {
        var (file, stream) = Text();

        var batches = Read(new TextWindows(_tokenizer, [file], SeqLen).Batches(8, max));

        Assert.Equal(rows, batches.Select(b => b.GetLength(0)));
        var window = 0;
        foreach (var batch in batches)
            for (var i = 0; i < batch.GetLength(0); i++, window++)
                for (var j = 0; j <= SeqLen; j++)
                    Assert.Equal(stream[window * (SeqLen + 1) + j], batch[i, j]);
    }

    [Fact]
    public void Without_a_cap_every_whole_window_is_given_then_the_shorter_last_one()
    {
        var (file, stream) = Text();
        var windows = new TextWindows(_tokenizer, [file], SeqLen);

        var batches = Read(windows.Batches(8));

        var whole = stream.Length / (SeqLen + 1);
        var tail = stream.Length % (SeqLen + 1);
        Assert.Equal(whole + (tail >= 2 ? 1 : 0), batches.Sum(b => b.GetLength(0)));
        Assert.Equal(tail >= 2 ? tail : 0, windows.TailTokens);
        Assert.Equal(stream.TakeLast(tail >= 2 ? tail : 0), tail >= 2 ? Enumerable.Range(0, tail).Select(j => batches[^1][0, j]) : []);
    }
}
