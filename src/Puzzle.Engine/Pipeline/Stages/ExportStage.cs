using System.Text.Json;
using System.Text.Json.Nodes;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Export;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Pipeline.Spec.Internal;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>
/// Export: each healed child as a Hugging Face folder a serving engine loads (<see cref="ChildExporter"/>), with a
/// model card quoting the report; one job per search rank. A rank the search did not fill exports nothing and says why.
/// </summary>
public sealed class ExportStage : Stage<ExportStage.ExportJob>
{
    public override string Name => "Export";
    public override int Version => 12; // 12: configuration_decilm.py gives intermediate_size, null in config.json, the widest block's width (transformers 5 validates it as an int); 11: config.json's pad_token_id, the parent's; 10: the parent's tokenizer.model, added_tokens.json and additional_chat_templates/, its files copied byte for byte; 9: config.json's rope_theta written as a float (500000.0); 8: the card's puzzle eval command reads windows of data.seq_len; 7: the report's timing and training warnings in the card; 6: the parent's chat_template.jinja and special_tokens_map.json, rope_scaling's factors written as floats; 5: the parent's generation_config.json; 4: typed job config; 3: the cost model named in the card; 2: the card's front matter, loading snippet and pipeline key (the Report job's)
    public override IReadOnlyList<string> Upstream => ["Parent", "Heal", "Report"];
    public override string Description => "export each child as a Hugging Face folder (llama or nemotron-nas) with a model card";
    public const string ModelFolder = "model", ExportFile = "export.json";

    public override string? ArtifactFolder(JobPlan job) => Path.Combine("export", job.Id);

    /// <summary>One child to export: the export settings, and what its model card says of the pipeline (its name, the
    /// parent, the scenario and constraints as the spec writes them).</summary>
    public sealed record ExportJob([property: SpecPath("name")] string Pipeline, string Model, [property: SpecPath("export")] ExportSpec Export, string Parent,
        [property: SpecPath("scenario")] ScenarioSpec Scenario, [property: SpecPath("constraints")] ConstraintsSpec Constraints,
        [property: SpecPath("data.seq_len")] int SeqLen);

    /// <summary>export.json: what an Export job wrote (or why it wrote nothing).</summary>
    public sealed record ExportRecord(string Model)
    {
        public string? Skipped { get; init; }
        public string? Format { get; init; }
        public string? Dtype { get; init; }
        public string? Runtime { get; init; }
        public long? Parameters { get; init; }
        public long? WeightBytes { get; init; }
        public int? Layers { get; init; }
        /// <summary>"servable", or why vLLM cannot serve it.</summary>
        public string? Vllm { get; init; }
    }

    public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned)
    {
        var report = planned["Report"].Single();
        return Enumerable.Range(1, spec.Search.Solutions).Select(rank =>
        {
            var id = $"child{rank}";
            // an unset dtype is keyed as the one it ships: the compute dtype (a CPU spec's key as when float32 was the default)
            var export = spec.Export with { Dtype = spec.Export.Dtype ?? ExportSpec.Computed(spec.Device, spec.Dtype) };
            var config = new ExportJob(spec.Name, id, export, spec.Parent.Path ?? "pretrained here", spec.Scenario, spec.Constraints, spec.Data.SeqLen);
            return Job(id, config, new Dictionary<string, JobPlan>
            {
                ["parent"] = planned["Parent"].Single(),
                ["heal"] = planned["Heal"].Single(j => j.Id == id),
                ["report"] = report,
            });
        }).ToList();
    }

    protected override void Run(ExportJob job, JobContext context)
    {
        var id = job.Model;
        if (HealStage.HealReport.Read(context.Input("heal")).Skipped is { } skipped)
        {
            Write(context, new ExportRecord(id) { Skipped = skipped });
            context.Metrics["skipped"] = skipped;
            context.Log.WriteLine($"{id}: nothing to export ({skipped})");
            return;
        }
        var reportFile = Path.Combine(context.Input("report"), ReportStage.JsonFile);
        var report = PipelineReport.Read(reportFile);
        var scenario = report.Scenario;
        var card = new ModelCardContext
        {
            Pipeline = job.Pipeline, Model = id, PipelineKey = context.Job.Inputs["report"].Key, Parent = job.Parent,
            License = job.Export.License, BaseModel = job.Export.BaseModel, MeasuredOn = scenario.MeasuredOnDevice, CostModel = scenario.CostModel, WeightsKey = context.Job.Inputs["heal"].Key,
            WeightsJob = context.Job.Inputs["heal"].Name, Report = report.Models, Goals = report.Goals, TimingWarnings = report.TimingWarnings,
            TrainingWarnings = report.TrainingWarnings, SeqLen = job.SeqLen,
            Scenario = (JsonObject)SpecJson.ToNode(job.Scenario)!, Constraints = (JsonObject)SpecJson.ToNode(job.Constraints)!,
            Tool = Packaging.BuildFacts.ToolVersion,
        };
        var result = ChildExporter.Export(Path.Combine(context.Input("heal"), HealStage.ModelFolder), context.Output(ModelFolder), job.Export.Options(), card,
            parentDirectory: ParentStage.ModelDirectory(context));
        var vllm = RuntimeSupport.Problems(result.Config, ExportRuntime.Vllm);
        Write(context, new ExportRecord(id)
        {
            Format = result.Format == CheckpointFormat.Llama ? "llama" : "nemotron-nas", Dtype = result.DType.TorchName(),
            Runtime = RuntimeSupport.Name(job.Export.Runtime), Parameters = result.Parameters, WeightBytes = result.WeightBytes,
            Layers = result.Config.NumLayers, Vllm = vllm.Count == 0 ? "servable" : string.Join("; ", vllm),
        });
        context.Metrics["parameters"] = result.Parameters;
        context.Metrics["weight_bytes"] = result.WeightBytes;
        context.Metrics["export_seconds"] = result.Seconds;
        context.Log.WriteLine($"{id}: {(result.Format == CheckpointFormat.Llama ? "llama" : "nemotron-nas")}, {result.DType.TorchName()}, " +
                              $"{result.Parameters:N0} parameters in {result.Seconds:F2} s");
    }

    /// <summary>The export record of an Export job's published folder.</summary>
    public static ExportRecord Read(string jobDirectory) => RecordFile.Read<ExportRecord>(Path.Combine(jobDirectory, ExportFile));

    static void Write(JobContext context, ExportRecord record) => RecordFile.Write(context.Output(ExportFile), record);
}
