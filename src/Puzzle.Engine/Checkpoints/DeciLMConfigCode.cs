namespace Puzzle.Engine.Checkpoints;

/// <summary>
/// The configuration code a nemotron-nas folder carries: <c>configuration_decilm.py</c>, which its config.json names in
/// <c>auto_map</c>, so that transformers builds the config (with <c>trust_remote_code</c>) and vLLM's own
/// <c>DeciLMForCausalLM</c> finds each layer's block as the objects it reads. Without it no loader that goes through
/// transformers knows the model type <c>nemotron-nas</c>. Written for this project (no model code: transformers has no
/// DeciLM model), kept as an embedded resource.
/// </summary>
public static class DeciLMConfigCode
{
    public const string FileName = "configuration_decilm.py";
    public const string AutoConfig = "configuration_decilm.DeciLMConfig";

    public static string Text { get; } = Read();

    static string Read()
    {
        using var stream = typeof(DeciLMConfigCode).Assembly.GetManifestResourceStream(FileName)
                           ?? throw new InvalidOperationException($"{FileName} is not embedded in {typeof(DeciLMConfigCode).Assembly.GetName().Name}");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
