namespace Puzzle.Engine.Packaging;

/// <summary>
/// What a rebuild of a package from the same spec, from an empty store, on the same build (Puzzle.NET, TorchSharp and
/// libtorch, processor) does not reproduce bit for bit. Everything else does, whatever executor.jobs and the thread
/// counts were: tokenizer, data, every trained weight, scores, the search given the same costs, the exported model.
/// </summary>
public static class Reproducibility
{
    /// <summary>What of a pipeline decides the notes: whether Search's closed loop times children, whether the parent
    /// was pretrained here, whether anything computes on CUDA.</summary>
    public sealed record Facts(bool ClosedLoopTimes, bool Pretrained, bool Cuda);

    public static IReadOnlyList<string> NotBitIdentical(Facts facts, IEnumerable<ProvenanceJob> jobs)
    {
        var stages = jobs.Select(j => j.Stage).ToHashSet(StringComparer.Ordinal);
        var notes = new List<string>();
        if (stages.Contains("Measure"))
            notes.Add("Measure: latencies are wall-clock measurements and differ on every run. Search picks by them, so where two " +
                      "architectures cost nearly the same a rebuild may pick the other" +
                      (facts.ClosedLoopTimes ? ", and its closed loop times the child it chooses" : "") +
                      "; with the same Measure and Search entries (a shared store) the child and its weights are bit-identical.");
        if (stages.Contains("Speed"))
            notes.Add("Speed: prefill and decode tokens/s are measurements; report.json, provenance metrics and the model card quote " +
                      "them, so those files (and the package's bytes) differ on a rebuild while the weights do not.");
        if (stages.Contains("Data"))
            notes.Add("Data: dataset.json names its sources and tokenizer by path, and fetched text and a trained tokenizer lie in the " +
                      "store: with the store somewhere else those paths differ (their hashes and the tokens do not).");
        if (stages.Contains("Parent") && facts.Pretrained)
            notes.Add("Parent: parent_report.json records the pretraining time and tokens/s.");
        if (stages.Contains("Heal")) notes.Add("Heal: heal.json records the GKD time and tokens/s, and report.json quotes each model's GKD tokens/s.");
        if (facts.Cuda)
            notes.Add("CUDA: GPU kernels (cuBLAS matmuls, attention) round differently across GPU models and CUDA/cuDNN versions and " +
                      "some are nondeterministic; results made on a GPU are reproducible only approximately, never bit for bit against a CPU build.");
        notes.Add("CPU: libtorch chooses its kernels by the processor's instruction set (AVX2, AVX-512), so another processor model " +
                  "may round differently; each job's cpu records the processor it ran on (build.cpu the Pack job's).");
        return notes;
    }
}
