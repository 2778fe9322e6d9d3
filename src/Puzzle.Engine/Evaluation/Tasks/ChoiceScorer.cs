using Puzzle.Engine.Model;
using Puzzle.Engine.Tokenization;
using static TorchSharp.torch;

namespace Puzzle.Engine.Evaluation.Tasks;

/// <summary>A continuation to score: the model reads <see cref="Context"/> (at least one token, BOS included) and is
/// asked how likely <see cref="Continuation"/> is after it.</summary>
public sealed record ContinuationRequest(int[] Context, int[] Continuation);

/// <summary>
/// Multiple-choice scoring as lm-evaluation-harness does it: each choice's log-likelihood is the sum, over its tokens,
/// of log p(token | context and the choice's earlier tokens); the predicted answer is the choice with the highest sum
/// (<c>acc</c>), or with the highest sum per character of the choice's text (<c>acc_norm</c>).
/// </summary>
public static class ChoiceScorer
{
    /// <summary>The string put between a context and a choice (the harness' default <c>target_delimiter</c>).</summary>
    public const string Delimiter = " ";

    public static TaskScore Score(CausalLM model, Tokenizer tokenizer, ChoiceTask task, int batch = 16, Action<int, int>? progress = null)
    {
        var requests = new List<ContinuationRequest>();
        foreach (var (e, i) in task.Examples.Select((e, i) => (e, i)))
            foreach (var choice in e.Choices)
                requests.Add(Encode(tokenizer, e.Context, choice, $"{task.Source}: example {i + 1}"));
        return Summarise(task, LogLikelihoods(model, requests, batch, progress));
    }

    /// <summary>acc and acc_norm from each choice's summed log-likelihood, in the task's order (ties go to the first choice).</summary>
    public static TaskScore Summarise(ChoiceTask task, IReadOnlyList<double> logLikelihoods)
    {
        var expected = task.Examples.Sum(e => e.Choices.Count);
        if (logLikelihoods.Count != expected)
            throw new ArgumentException($"{task.Name}: {logLikelihoods.Count} log-likelihoods for {expected} choices");
        int correct = 0, correctNorm = 0, at = 0;
        foreach (var e in task.Examples)
        {
            int best = 0, bestNorm = 0;
            for (var c = 1; c < e.Choices.Count; c++)
            {
                if (logLikelihoods[at + c] > logLikelihoods[at + best]) best = c;
                if (logLikelihoods[at + c] / e.Choices[c].Length > logLikelihoods[at + bestNorm] / e.Choices[bestNorm].Length) bestNorm = c;
            }
            if (best == e.Gold) correct++;
            if (bestNorm == e.Gold) correctNorm++;
            at += e.Choices.Count;
        }
        var n = task.Examples.Count;
        var choices = n == 0 ? 0 : (int)Math.Round(task.Examples.Average(e => e.Choices.Count));
        return new TaskScore(task.Name, n, choices, n == 0 ? 0 : (double)correct / n, n == 0 ? 0 : (double)correctNorm / n);
    }

    /// <summary>
    /// Tokens of a context and a choice, split as the harness splits them: trailing whitespace of the context moves to
    /// the continuation, the whole text is encoded once, and the continuation is what follows the context's tokens, so
    /// a merge across the boundary is scored as the tokenizer makes it.
    /// </summary>
    public static ContinuationRequest Encode(Tokenizer tokenizer, string context, string choice, string where)
    {
        if (choice.Length == 0) throw new InvalidDataException($"{where}: an empty choice");
        var trimmed = context.TrimEnd();
        var continuation = context[trimmed.Length..] + (context.Length > trimmed.Length || char.IsWhiteSpace(choice[0]) ? "" : Delimiter) + choice;
        var contextIds = tokenizer.Encode(trimmed, addBos: true);
        var whole = tokenizer.Encode(trimmed + continuation, addBos: true);
        if (whole.Length <= contextIds.Length) throw new InvalidDataException($"{where}: the choice '{choice}' encodes to no tokens after the context");
        return new ContinuationRequest(contextIds, whole[contextIds.Length..]);
    }

    /// <summary>
    /// The summed log-likelihood of each request's continuation, in the requests' order. Requests that share their
    /// context (a question's choices) read it once: the context runs alone with a KV cache, which is then repeated
    /// for every choice and continued with the choices together, right-padded (a multiple-choice task's cost is
    /// then about its contexts' tokens once, not once per choice). The other requests run longest first in batches of
    /// <paramref name="batch"/>, right-padded (a causal model's earlier positions never see the padding); a sequence
    /// longer than the model's positions keeps its last tokens, as the harness truncates. Only the rows of the
    /// continuation's positions are normalised, in float32, and summed in float64.
    /// </summary>
    /// <param name="shareContexts">false runs every request whole, context included (the same sums, up to rounding);
    /// null (the default) shares contexts on the CPU, where compute is the cost (2.6x faster there: the foundation
    /// benchmark), and not on a GPU, where a question's two small passes cost their kernel launches and syncs more
    /// than the context's tokens (an H200 scored 46 choices/s sharing contexts, 2026-11-29) and batches of whole
    /// requests keep it busy</param>
    public static double[] LogLikelihoods(CausalLM model, IReadOnlyList<ContinuationRequest> requests, int batch = 16, Action<int, int>? progress = null,
        bool? shareContexts = null)
    {
        var share = shareContexts ?? model.DeviceType == TorchSharp.DeviceType.CPU;
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, "batch must be at least 1");
        var window = model.Config.MaxPositionEmbeddings + 1; // inputs plus the last target
        for (var i = 0; i < requests.Count; i++)
        {
            if (requests[i].Context.Length == 0) throw new ArgumentException($"request {i}: an empty context (a BOS token at least is needed)");
            if (requests[i].Continuation.Length == 0) throw new ArgumentException($"request {i}: an empty continuation");
            if (requests[i].Continuation.Length >= window)
                throw new ArgumentException($"request {i}: a continuation of {requests[i].Continuation.Length} tokens does not fit the model's {window - 1} positions");
        }
        var result = new double[requests.Count];
        var done = 0;
        model.eval();
        using var _ = no_grad();
        // a context shared by two or more requests, none of which needs truncating, is read once
        var shared = share
            ? Enumerable.Range(0, requests.Count).GroupBy(i => string.Join(',', requests[i].Context))
                .Where(g => g.Count() > 1 && g.All(i => requests[i].Context.Length + requests[i].Continuation.Length <= window))
                .Select(g => g.ToArray()).ToList()
            : [];
        foreach (var members in shared)
        {
            ContinueShared(model, requests, members, result);
            progress?.Invoke(done += members.Length, requests.Count);
        }
        var inShared = shared.SelectMany(m => m).ToHashSet();
        var order = Enumerable.Range(0, requests.Count).Where(i => !inShared.Contains(i))
            .OrderByDescending(i => Math.Min(window, requests[i].Context.Length + requests[i].Continuation.Length)).ThenBy(i => i).ToArray();
        for (var start = 0; start < order.Length; start += batch)
        {
            using var scope = NewDisposeScope(); // the batch's ids, logits and every intermediate go at once
            var members = order.AsSpan(start, Math.Min(batch, order.Length - start)).ToArray();
            var sequences = members.Select(i => Truncated(requests[i], window)).ToArray();
            var length = sequences.Max(s => s.Length) - 1;
            var ids = new long[members.Length * length];
            var rows = new List<long>();
            var targets = new List<long>();
            var owner = new List<int>();
            for (var b = 0; b < members.Length; b++)
            {
                var s = sequences[b];
                for (var t = 0; t < s.Length - 1; t++) ids[b * length + t] = s[t];
                var cont = requests[members[b]].Continuation.Length;
                for (var t = s.Length - 1 - cont; t < s.Length - 1; t++) // position t predicts token t + 1
                {
                    rows.Add((long)b * length + t);
                    targets.Add(s[t + 1]);
                    owner.Add(members[b]);
                }
            }
            var logits = model.Forward(tensor(ids, [members.Length, length], int64).to(model.Device));
            Accumulate(model, logits.reshape(-1, logits.shape[^1]), rows, targets, owner, result);
            progress?.Invoke(done += members.Length, requests.Count);
        }
        return result;
    }

    /// <summary>Requests with one context: the context once, with a cache, whose last position's logits (the only ones
    /// computed) score every first token;
    /// then the cache repeated per request and the continuations but their last token together, each position scoring
    /// the next token.</summary>
    static void ContinueShared(CausalLM model, IReadOnlyList<ContinuationRequest> requests, int[] members, double[] result)
    {
        using var scope = NewDisposeScope();
        var context = requests[members[0]].Context;
        var longest = members.Max(i => requests[i].Continuation.Length);
        using var cache = new KvCache(model.Config, 1, context.Length + longest - 1, model.Device, model.DType);
        var last = model.ForwardLast(tensor(context.Select(t => (long)t).ToArray(), [1, context.Length], int64).to(model.Device), cache);
        Accumulate(model, last, members.Select(_ => 0L).ToList(), members.Select(i => (long)requests[i].Continuation[0]).ToList(),
            members.ToList(), result);
        if (longest == 1) return;
        using var repeated = cache.Repeat(members.Length);
        var length = longest - 1;
        var ids = new long[members.Length * length];
        var rows = new List<long>();
        var targets = new List<long>();
        var owner = new List<int>();
        for (var b = 0; b < members.Length; b++)
        {
            var cont = requests[members[b]].Continuation;
            for (var t = 0; t < cont.Length - 1; t++)
            {
                ids[b * length + t] = cont[t];
                rows.Add((long)b * length + t); // position t predicts continuation token t + 1
                targets.Add(cont[t + 1]);
                owner.Add(members[b]);
            }
        }
        var logits = model.Forward(tensor(ids, [members.Length, length], int64).to(model.Device), repeated);
        Accumulate(model, logits.reshape(-1, logits.shape[^1]), rows, targets, owner, result);
    }

    /// <summary>Adds log p(target) of each listed row of <paramref name="logits"/> [rows, vocab] to its owner's sum.</summary>
    static void Accumulate(CausalLM model, Tensor logits, List<long> rows, List<long> targets, List<int> owner, double[] result)
    {
        if (rows.Count == 0) return;
        var picked = logits.index_select(0, tensor(rows.ToArray(), int64).to(model.Device)).to(float32);
        var logProbs = picked.log_softmax(1).gather(1, tensor(targets.ToArray(), int64).to(model.Device).unsqueeze(1)).squeeze(1)
            .to(float64).cpu().data<double>().ToArray();
        for (var k = 0; k < logProbs.Length; k++) result[owner[k]] += logProbs[k];
    }

    static int[] Truncated(ContinuationRequest r, int window)
    {
        var all = r.Context.Concat(r.Continuation).ToArray();
        return all.Length <= window ? all : all[^window..];
    }
}
