using Puzzle.Engine.Data;
using Puzzle.Engine.Tokenization;
using TorchSharp;

namespace Puzzle.Engine.Evaluation;

/// <summary>
/// Text files cut into evaluation windows as the data stage packs them (documents with BOS, separated by EOS, in
/// windows of <c>seq_len + 1</c> tokens), streamed one batch at a time, with one difference: the tokens left after the
/// last whole window are evaluated as a shorter last window instead of being dropped, so a text shorter than one
/// window is still evaluated.
/// </summary>
public sealed class TextWindows(Tokenizer tokenizer, IReadOnlyList<string> files, int seqLen)
{
    /// <summary>Tokens of the shorter last window (inputs and target), once the batches have been read; 0 if none.</summary>
    public int TailTokens { get; private set; }

    /// <summary>Batches of at most <paramref name="batch"/> windows [B, seq_len + 1], then the shorter last window
    /// alone [1, n] (n ≥ 2); at most <paramref name="maxWindows"/> windows in all.</summary>
    public IEnumerable<torch.Tensor> Batches(int batch, long? maxWindows = null)
    {
        if (tokenizer.BosId is null || tokenizer.EosId is not { } eos)
            throw new InvalidOperationException($"{tokenizer.Path}: evaluating text needs a tokenizer with BOS and EOS tokens");
        var window = seqLen + 1;
        var pending = new List<long>(window * batch);
        long windows = 0;
        var full = new List<long>();
        // at the cap, stop reading but still give the windows of the batch begun (a cap that is no multiple of the batch)
        foreach (var doc in files.SelectMany(file => DocumentReader.Read(file)).TakeWhile(_ => !(windows >= maxWindows)))
        {
            if (doc.Text.Length == 0) continue;
            foreach (var id in tokenizer.Encode(doc.Text, addBos: true)) pending.Add(id);
            pending.Add(eos);
            while (pending.Count >= window && !(windows >= maxWindows))
            {
                full.AddRange(pending.GetRange(0, window));
                pending.RemoveRange(0, window);
                windows++;
                if (full.Count == window * batch)
                {
                    yield return torch.tensor(full.ToArray(), [batch, window]);
                    full.Clear();
                }
            }
        }
        if (full.Count > 0) yield return torch.tensor(full.ToArray(), [full.Count / window, window]);
        if (pending.Count >= 2 && !(windows >= maxWindows))
        {
            TailTokens = pending.Count;
            yield return torch.tensor(pending.ToArray(), [1, pending.Count]);
        }
    }
}
