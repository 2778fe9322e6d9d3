using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Model;

namespace Puzzle.Engine.Export;

/// <summary>
/// The exported folder's <c>README.md</c> (a Hugging Face model card): what the model is, its layers one by one, the
/// report's numbers beside the parent's and the baselines', the scenario it was searched for, how to serve it, and the
/// pipeline key that reproduces it.
/// </summary>
public static class ModelCard
{
    public const string FileName = "README.md";

    public static string Render(ModelConfig config, CheckpointFormat format, TensorDType dtype, ExportRuntime runtime, ModelCardContext context)
    {
        var card = new StringBuilder();
        var nas = format == CheckpointFormat.NemotronNas;
        FrontMatter(card, nas, context);
        card.AppendLine($"# {context.Pipeline}: {context.Model}");
        card.AppendLine();
        var parameters = CheckpointValidator.ExpectedShapes(config).Values.Sum(s => s.Aggregate(1L, (a, b) => a * b));
        card.AppendLine($"A {(nas ? "heterogeneous" : "homogeneous")} Llama-family model made by Puzzle.NET {context.Tool} with NVIDIA's Puzzle method " +
                        "(distillation-based neural architecture search, arXiv 2411.19146): per-layer block variants trained by blockwise local " +
                        "distillation, a mixed-integer search under the scenario's constraints, then global distillation from the parent.");
        card.AppendLine();
        card.AppendLine($"- format: {(nas ? "`nemotron-nas` (`DeciLMForCausalLM`, per-layer `block_configs`)" : "`llama` (`LlamaForCausalLM`)")}");
        card.AppendLine($"- weights: {dtype.TorchName()}, {parameters.ToString("N0", CultureInfo.InvariantCulture)} parameters, {config.NumLayers} layers, hidden {config.HiddenSize}, {config.NumAttentionHeads} query heads, vocabulary {config.VocabSize}");
        card.AppendLine($"- runtime: {Serving(config, format, runtime)}");
        card.AppendLine($"- parent: {context.Parent ?? "?"}{(context.BaseModel is { } b ? $" (`{b}`)" : "")}");
        card.AppendLine($"- license: {(context.License is { } l ? $"`{l}`" : "not set: the parent's license applies; set `export.license` in the pipeline spec")}");
        card.AppendLine();
        Loading(card, config, nas, context.SeqLen);
        Results(card, context);
        TrainingWarnings(card, context);
        Tasks(card, context);
        Scenario(card, context);
        Architecture(card, config);
        card.AppendLine("## Provenance");
        card.AppendLine();
        card.AppendLine($"- pipeline: `{context.Pipeline}`");
        if (context.PipelineKey is { } key)
            card.AppendLine($"- pipeline key: `{key}` (the Report job's key: it hashes every setting and input behind the models compared here; " +
                            "report.html and `puzzle verify` show the same key)");
        if (context.WeightsKey is { } weights) card.AppendLine($"- weights: `{context.WeightsJob ?? "?"}` `{weights}`");
        card.AppendLine("- the pipeline spec and a manifest of every job key, file hash and metric travel with the NuGet package (`puzzle/`)");
        return card.ToString();
    }

    /// <summary>
    /// The Hub's front matter. <c>library_name: transformers</c> only for plain Llama: transformers has no
    /// <c>DeciLMForCausalLM</c>, and this export ships the configuration code only (<see cref="DeciLMConfigCode"/>).
    /// </summary>
    static void FrontMatter(StringBuilder card, bool nas, ModelCardContext context)
    {
        card.AppendLine("---");
        if (!nas) card.AppendLine("library_name: transformers");
        card.AppendLine($"license: {context.License ?? "other"}");
        if (context.BaseModel is { } baseModel)
        {
            card.AppendLine($"base_model: {baseModel}");
            card.AppendLine("base_model_relation: finetune");
        }
        card.AppendLine("pipeline_tag: text-generation");
        card.AppendLine("tags:");
        foreach (var tag in new[] { "puzzle", "neural-architecture-search", "distillation", nas ? "nemotron-nas" : "llama" }) card.AppendLine($"- {tag}");
        card.AppendLine("---");
        card.AppendLine();
    }

    static void Loading(StringBuilder card, ModelConfig config, bool nas, int? seqLen)
    {
        card.AppendLine("## Loading");
        card.AppendLine();
        if (!nas)
        {
            card.AppendLine("```python");
            card.AppendLine("from transformers import AutoModelForCausalLM, AutoTokenizer");
            card.AppendLine("model = AutoModelForCausalLM.from_pretrained(\"path/to/this/folder\")");
            card.AppendLine("tokenizer = AutoTokenizer.from_pretrained(\"path/to/this/folder\")");
            card.AppendLine("```");
        }
        else if (RuntimeSupport.Problems(config, ExportRuntime.Vllm).Count == 0)
        {
            card.AppendLine("vLLM serves it with its own `DeciLMForCausalLM`; `configuration_decilm.py` beside config.json (its `auto_map`) " +
                            "builds the configuration, so trust_remote_code is needed. transformers alone has no DeciLM model to load it into:");
            card.AppendLine();
            card.AppendLine("```python");
            card.AppendLine("from vllm import LLM");
            card.AppendLine("llm = LLM(model=\"path/to/this/folder\", trust_remote_code=True)");
            card.AppendLine("print(llm.generate(\"Call me Ishmael.\")[0].outputs[0].text)");
            card.AppendLine("```");
        }
        else card.AppendLine("transformers has no DeciLM model to load this folder into, and vLLM has no path for its linear blocks.");
        card.AppendLine();
        // in windows of the length it was trained and evaluated at: max_position_embeddings may declare more (a parent
        // pretrained by the pipeline has room for four times data.seq_len), and puzzle eval's default window reads up to 256
        card.AppendLine($"Puzzle.NET loads it too: `puzzle eval --model path/to/this/folder --data text.txt{(seqLen is { } n ? $" --seq-len {n}" : "")}`" +
                        (seqLen is { } m ? $" (windows of the {m} tokens it was trained and evaluated at)" : "") + ", or from .NET, " +
                        "`PackagedModel.Load(\"<package id>\")` on the NuGet package it ships in.");
        card.AppendLine();
    }

    static string Serving(ModelConfig config, CheckpointFormat format, ExportRuntime runtime)
    {
        if (format == CheckpointFormat.Llama) return "any Llama loader (transformers, vLLM, TensorRT-LLM, SGLang, llama.cpp converters)";
        var vllm = RuntimeSupport.Problems(config, ExportRuntime.Vllm);
        var text = vllm.Count == 0
            ? "vLLM, TensorRT-LLM and SGLang serve `DeciLMForCausalLM`"
            : "needs NVIDIA's DeciLM modelling code (remote code) or TensorRT-LLM: not vLLM (" + string.Join("; ", vllm) + ")";
        return text + (runtime == ExportRuntime.Vllm ? "; exported with `export.runtime: vllm`" : "") +
               ". config.json's `auto_map` names `configuration_decilm.py` beside it, which builds the configuration for loaders " +
               "that go through transformers (with `trust_remote_code`); it holds no model code";
    }

    static void Results(StringBuilder card, ModelCardContext context)
    {
        if (context.Report.Count == 0) return;
        card.AppendLine("## Results");
        card.AppendLine();
        card.AppendLine("Held-out text the pipeline never trained on; speeds measured in the scenario below, every model in the same process on the same device" +
                        (context.MeasuredOn is { } on ? $" ({on})" : "") + ". " +
                        "KL and agreement are against the parent; retention is top-1 accuracy relative to the parent's. The whole-request speedup " +
                        "(prefill plus every generated token, the scenario's tokens per second against the parent's) is what the throughput constraint bounds." +
                        (context.CostModel is { } costs ? $" Predicted speedups: {costs}." : ""));
        card.AppendLine();
        card.AppendLine("| model | kind | top-1 | loss | KL | agreement | retention | prefill tok/s | decode tok/s | speedup predicted | whole request | prefill | decode |");
        card.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var e in context.Report)
        {
            var name = e.Name == context.Model ? $"**{e.Name}** (this model)" : e.Name;
            card.AppendLine($"| {name} | {e.Kind} | {Percent(e.Top1)} | {Fixed(e.Loss, 4)} | {Fixed(e.Kl, 4)} | {Percent(e.Agreement)} | {Percent(e.Retention)} | " +
                            $"{Fixed(e.PrefillTokensPerS, 0)} | {Fixed(e.DecodeTokensPerS, 0)} | {Times(e.Speedup?.Predicted)} | {Times(e.Speedup?.Scenario)} | {Times(e.Speedup?.Prefill)} | {Times(e.Speedup?.Decode)} |");
        }
        card.AppendLine();
        if (context.TimingWarnings.Count > 0)
        {
            // the report's caveat on every speedup above travels with them
            card.AppendLine("Timings that disagree (the report's warnings):");
            card.AppendLine();
            foreach (var w in context.TimingWarnings) card.AppendLine($"- {w}");
            card.AppendLine();
        }
        if (context.Goals is { Child: { } child, BeatsBaselines.Count: > 0 } goals)
        {
            // the baselines' own rows ran at other measured speeds: the fair verdict reads each baseline at the child's speed
            card.AppendLine($"At equal measured speed ({child}'s {Times(goals.MeasuredSpeedup)}, each baseline read off its curve of quality against measured speedup):");
            card.AppendLine();
            foreach (var (name, b) in goals.BeatsBaselines)
                card.AppendLine(b.Beats is null ? $"- {name}: not compared ({b.Rule})"
                    : $"- {name}: KL {Fixed(b.Kl, 4)}, agreement {Percent(b.Agreement)}, retention {Percent(b.Retention)}; {child} " +
                      $"{(b.Beats == true ? "beats it" : "does not beat it")} (lower KL: {(b.KlLower == true ? "yes" : "no")}, higher agreement: " +
                      $"{(b.AgreementHigher == true ? "yes" : "no")}); {b.Rule}");
            card.AppendLine();
        }
    }

    /// <summary>The report's training warnings, as report.html lists them: the card says above that the model was trained
    /// by blockwise and global distillation, and a model whose training was undone by the held-out guard was not.</summary>
    static void TrainingWarnings(StringBuilder card, ModelCardContext context)
    {
        if (context.TrainingWarnings.Count == 0) return;
        card.AppendLine("## Training that did not help");
        card.AppendLine();
        card.AppendLine("Training made these block variants and models worse on held-out text; each published its starting weights (the best it saw):");
        card.AppendLine();
        foreach (var warning in context.TrainingWarnings) card.AppendLine($"- {warning}");
        card.AppendLine();
    }

    /// <summary>Multiple-choice task accuracy per model, as the report has it: the measure the paper's retention is.</summary>
    static void Tasks(StringBuilder card, ModelCardContext context)
    {
        var names = Reporting.TaskRetention.Names(context.Report);
        if (names.Count == 0) return;
        card.AppendLine("## Multiple-choice tasks");
        card.AppendLine();
        card.AppendLine("Each choice scored by the summed log-likelihood of its tokens after the context: acc picks the highest sum, acc_norm the " +
                        "highest sum per character of the choice (lm-evaluation-harness' acc and acc_norm); retention is acc relative to the parent's.");
        card.AppendLine();
        card.AppendLine("| model | task | questions | chance | acc | acc_norm | retention |");
        card.AppendLine("|---|---|---:|---:|---:|---:|---:|");
        foreach (var e in context.Report)
            foreach (var n in names)
                if (e.Task(n) is { } t)
                    card.AppendLine($"| {(e.Name == context.Model ? $"**{e.Name}** (this model)" : e.Name)} | {n} | {t.Examples} | " +
                                    $"{Percent(t.Chance)} | {Percent(t.Accuracy)} | {Percent(t.AccuracyNorm)} | {Percent(t.Retention)} |");
        card.AppendLine();
    }

    static void Scenario(StringBuilder card, ModelCardContext context)
    {
        if (context.Scenario is null && context.Constraints is null) return;
        card.AppendLine("## Scenario");
        card.AppendLine();
        card.AppendLine("What the search optimised for (the spec's `scenario` and `constraints`):");
        card.AppendLine();
        foreach (var (section, json) in new[] { ("scenario", context.Scenario), ("constraints", context.Constraints) })
            if (json is not null)
                foreach (var (field, value) in json.Where(p => p.Value is not null))
                    card.AppendLine($"- {section}.{field}: {value!.ToJsonString()}");
        card.AppendLine();
    }

    static void Architecture(StringBuilder card, ModelConfig config)
    {
        card.AppendLine("## Architecture");
        card.AppendLine();
        card.AppendLine("| layer | attention | KV heads | FFN | FFN width | parameters |");
        card.AppendLine("|---:|---|---:|---|---:|---:|");
        var shapes = CheckpointValidator.ExpectedShapes(config);
        for (var i = 0; i < config.NumLayers; i++)
        {
            var b = config.Blocks[i];
            var prefix = $"model.layers.{i}.";
            var layerParams = shapes.Where(p => p.Key.StartsWith(prefix, StringComparison.Ordinal)).Sum(p => p.Value.Aggregate(1L, (x, y) => x * y));
            var attention = b.Attention.Kind switch { AttentionKind.Gqa => "GQA", AttentionKind.Linear => "linear", _ => "no-op" };
            var ffn = b.Ffn.Kind switch { FfnKind.SwiGlu => "SwiGLU", FfnKind.Linear => "linear", _ => "no-op" };
            card.AppendLine($"| {i} | {attention} | {(b.Attention.Kind == AttentionKind.Gqa ? b.Attention.KvHeads : "—")} | {ffn} | " +
                            $"{(b.Ffn.Kind == FfnKind.SwiGlu ? b.Ffn.IntermediateSize : "—")} | {layerParams.ToString("N0", CultureInfo.InvariantCulture)} |");
        }
        card.AppendLine();
    }

    static string Percent(double? v) => v is { } x ? (100 * x).ToString("0.00", CultureInfo.InvariantCulture) + "%" : "—";
    static string Fixed(double? v, int digits) => v is { } x ? x.ToString("N" + digits, CultureInfo.InvariantCulture) : "—";
    static string Times(double? v) => v is { } x ? x.ToString("0.00", CultureInfo.InvariantCulture) + "×" : "—";
}
