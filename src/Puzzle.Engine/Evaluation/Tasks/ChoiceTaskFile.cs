using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Puzzle.Engine.Evaluation.Tasks;

/// <summary>
/// Multiple-choice tasks as JSON lines, in the shape lm-evaluation-harness' multiple-choice tasks take after their
/// <c>process_docs</c> (HellaSwag's): one object per line, <c>{"query": "...", "choices": ["...", ...], "gold": 0}</c>.
/// Common aliases are read too: the context as <c>context</c>, <c>ctx</c>, <c>question</c> or <c>prompt</c>; the
/// choices as <c>endings</c> or <c>options</c>, or ARC's <c>{"text": [...], "label": [...]}</c>; the gold index as
/// <c>label</c> or <c>answer</c> (an integer or a string of digits), or ARC's <c>answerKey</c> naming one of the labels.
/// Blank lines are skipped. Every bad line is an error naming the file, the line and the field.
/// </summary>
public static class ChoiceTaskFile
{
    static readonly string[] ContextFields = ["query", "context", "ctx", "question", "prompt"];
    static readonly string[] ChoicesFields = ["choices", "endings", "options"];
    static readonly string[] GoldFields = ["gold", "label", "answer", "answerKey"];

    public static ChoiceTask Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: task file not found", path);
        var examples = new List<ChoiceExample>();
        foreach (var (text, line) in Data.DocumentReader.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(text)) continue;
            examples.Add(Parse(text, $"{path}:{line}"));
        }
        if (examples.Count == 0) throw new InvalidDataException($"{path}: no examples (one JSON object per line expected)");
        return new ChoiceTask(NameOf(path), path, examples);
    }

    /// <summary>The task's name: the file's name without <c>.jsonl</c>.</summary>
    public static string NameOf(string path) => Path.GetFileNameWithoutExtension(path);

    /// <summary>Writes <paramref name="task"/> in the primary shape (<c>query</c>, <c>choices</c>, <c>gold</c>).</summary>
    public static void Write(string path, ChoiceTask task)
    {
        var text = new StringBuilder();
        foreach (var e in task.Examples)
            text.Append(new JsonObject
            {
                ["query"] = e.Context, ["choices"] = new JsonArray(e.Choices.Select(c => (JsonNode)c).ToArray()), ["gold"] = e.Gold,
            }.ToJsonString()).Append('\n');
        Checkpoints.AtomicFile.WriteAllText(path, text.ToString());
    }

    static ChoiceExample Parse(string text, string where)
    {
        JsonNode? node;
        try { node = JsonNode.Parse(text); }
        catch (JsonException e) { throw new InvalidDataException($"{where}: not a JSON object ({JsonErrors.Describe(e, oneLine: true)})", e); }
        if (node is not JsonObject o) throw new InvalidDataException($"{where}: not a JSON object");

        var (contextField, contextNode) = Find(o, ContextFields, where, "the context");
        if (contextNode is not JsonValue cv || !cv.TryGetValue<string>(out var context))
            throw new InvalidDataException($"{where}: field '{contextField}' must be a string");

        var (choicesField, choicesNode) = Find(o, ChoicesFields, where, "the choices");
        JsonArray? labels = null;
        if (choicesNode is JsonObject arc) // ARC: {"text": [...], "label": ["A", "B", ...]}
        {
            labels = arc["label"] as JsonArray;
            choicesNode = arc["text"];
            choicesField += ".text";
        }
        if (choicesNode is not JsonArray array || array.Count < 2)
            throw new InvalidDataException($"{where}: field '{choicesField}' must be a list of at least two strings");
        var choices = new List<string>();
        for (var i = 0; i < array.Count; i++)
        {
            if (array[i] is not JsonValue v || !v.TryGetValue<string>(out var choice) || choice.Length == 0)
                throw new InvalidDataException($"{where}: field '{choicesField}[{i}]' must be a non-empty string");
            choices.Add(choice);
        }

        var (goldField, goldNode) = Find(o, GoldFields, where, "the gold index");
        var gold = Gold(goldNode, labels);
        if (gold is not { } g)
            throw new InvalidDataException($"{where}: field '{goldField}' must be an integer index into the {choices.Count} choices" +
                                           (labels is null ? "" : " or one of the choice labels"));
        if (g < 0 || g >= choices.Count)
            throw new InvalidDataException($"{where}: field '{goldField}' is {g}, outside the {choices.Count} choices (0..{choices.Count - 1})");
        return new ChoiceExample(context, choices, g);
    }

    static (string Field, JsonNode? Node) Find(JsonObject o, string[] names, string where, string what)
    {
        foreach (var name in names)
            if (o.ContainsKey(name)) return (name, o[name]);
        throw new InvalidDataException($"{where}: no field for {what} (expected '{names[0]}', or one of {string.Join(", ", names.Skip(1).Select(n => $"'{n}'"))})");
    }

    static int? Gold(JsonNode? node, JsonArray? labels)
    {
        if (node is not JsonValue v) return null;
        if (v.TryGetValue<int>(out var i)) return i;
        if (v.TryGetValue<long>(out _)) return int.MaxValue; // out of range, said as such
        if (!v.TryGetValue<string>(out var s)) return null;
        if (labels is not null)
            for (var k = 0; k < labels.Count; k++)
                if (labels[k] is JsonValue l && l.TryGetValue<string>(out var label) && label == s) return k;
        return int.TryParse(s, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : null;
    }
}
