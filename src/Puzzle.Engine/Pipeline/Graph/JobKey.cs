using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Puzzle.Engine.Pipeline.Graph;

/// <summary>
/// A job's cache key: SHA-256 of a canonical encoding of the stage, its version constant, the config fields it reads,
/// the keys of its inputs and its seed. Nothing else (paths, times, hosts) enters the key.
/// </summary>
public static class JobKey
{
    public static string Compute(string stage, int version, JsonObject config, IReadOnlyDictionary<string, string> inputKeys, long seed)
    {
        var canonical = new JsonObject
        {
            ["config"] = Canonical(config),
            ["inputs"] = new JsonObject(inputKeys.OrderBy(p => p.Key, StringComparer.Ordinal)
                .Select(p => KeyValuePair.Create(p.Key, (JsonNode?)JsonValue.Create(p.Value)))),
            ["seed"] = seed,
            ["stage"] = stage,
            ["version"] = version,
        };
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical.ToJsonString())));
    }

    /// <summary>A deep copy with object keys sorted, so equal configurations encode to equal bytes.</summary>
    public static JsonNode? Canonical(JsonNode? node) => node switch
    {
        JsonObject o => new JsonObject(o.OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => KeyValuePair.Create(p.Key, Canonical(p.Value)))),
        JsonArray a => new JsonArray(a.Select(Canonical).ToArray()),
        null => null,
        _ => JsonNode.Parse(node.ToJsonString()),
    };

    public static JsonObject Canonical(JsonObject o) => (JsonObject)Canonical((JsonNode)o)!;
}
