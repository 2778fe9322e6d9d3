namespace Puzzle.Engine.Export;

/// <summary>The Hugging Face layout the child is exported in.</summary>
public enum ExportFormat
{
    /// <summary>llama when every layer keeps the parent's block kinds, else nemotron-nas.</summary>
    Auto,
    /// <summary>A plain LlamaForCausalLM (uniform layers only).</summary>
    Llama,
    /// <summary>DeciLM / Nemotron-NAS heterogeneous layers (YAML: nemotron_nas or nemotron-nas).</summary>
    NemotronNas,
}
