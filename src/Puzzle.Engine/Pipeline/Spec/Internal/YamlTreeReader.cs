using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Puzzle.Engine.Pipeline.Spec.Internal;

/// <summary>
/// Reads YAML text into <see cref="YamlNode"/>s with YamlDotNet's event parser, keeping the start of every key and
/// value and reporting duplicate keys (which a deserializer would silently let the last one win).
/// </summary>
internal sealed partial class YamlTreeReader(SpecErrorList errors)
{
    readonly Dictionary<string, YamlNode> anchors = new(StringComparer.Ordinal);

    /// <summary>The document's root node; null after a syntax error (reported) or for an empty document.</summary>
    public YamlNode? Read(string yaml)
    {
        var scanner = new Scanner(new StringReader(yaml));
        try
        {
            var parser = new Parser(scanner);
            parser.Consume<StreamStart>();
            if (parser.TryConsume<StreamEnd>(out _)) return null;
            parser.Consume<DocumentStart>();
            var root = ReadNode(parser);
            parser.Consume<DocumentEnd>();
            if (parser.Current is DocumentStart next)
            {
                errors.Add(At(next.Start), "a spec holds one YAML document; remove the second '---'");
                return null;
            }
            return root;
        }
        catch (YamlException e)
        {
            var message = Strip(e.Message);
            errors.Add(At(e.Start), "YAML syntax error: " + (message.Length > 0 ? char.ToLowerInvariant(message[0]) + message[1..] : "unreadable YAML"));
            return null;
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet's scanner fails some malformed flow collections with a bare InvalidOperationException (its
            // issue 541), no position in it: the scanner's own position is where it stopped
            errors.Add(At(scanner.CurrentPosition), "YAML syntax error: the text cannot be read as YAML from here on (an unclosed '{' or '[' above?)");
            return null;
        }
    }

    YamlNode ReadNode(IParser parser)
    {
        var current = parser.Current ?? throw new YamlException("unexpected end of the YAML stream");
        parser.MoveNext();
        switch (current)
        {
            case AnchorAlias alias:
                if (anchors.TryGetValue(alias.Value.Value, out var target)) return target;
                throw new YamlException(alias.Start, alias.End, $"unknown alias '*{alias.Value.Value}'");
            case Scalar s:
                var plain = s.Style == ScalarStyle.Plain && (s.Tag.IsEmpty || s.Tag.Value != "tag:yaml.org,2002:str");
                return Remember(s.Anchor, new YamlScalar(At(s.Start), s.Value, plain));
            case SequenceStart seq:
                var items = new List<YamlNode>();
                while (!parser.TryConsume<SequenceEnd>(out _)) items.Add(ReadNode(parser));
                return Remember(seq.Anchor, new YamlSequence(At(seq.Start), items));
            case MappingStart map:
                return Remember(map.Anchor, ReadMapping(parser, At(map.Start)));
            default:
                throw new YamlException(current.Start, current.End, $"unexpected {current.GetType().Name}");
        }
    }

    YamlMapping ReadMapping(IParser parser, SourcePosition start)
    {
        var entries = new List<KeyValuePair<YamlScalar, YamlNode>>();
        var seen = new Dictionary<string, SourcePosition>(StringComparer.Ordinal);
        while (!parser.TryConsume<MappingEnd>(out _))
        {
            var keyNode = ReadNode(parser);
            var value = ReadNode(parser);
            if (keyNode is not YamlScalar key || key.IsNull)
            {
                errors.Add(keyNode.Start, $"a key must be a plain name, found {keyNode.Describe()}");
                continue;
            }
            if (seen.TryGetValue(key.Value, out var first))
            {
                errors.Add(key.Start, $"duplicate key '{key.Value}' (first at {first})");
                continue;
            }
            seen[key.Value] = key.Start;
            entries.Add(new(key, value));
        }
        return new YamlMapping(start, entries);
    }

    YamlNode Remember(YamlDotNet.Core.AnchorName anchor, YamlNode node)
    {
        if (!anchor.IsEmpty) anchors[anchor.Value] = node;
        return node;
    }

    static SourcePosition At(Mark mark) => new((int)mark.Line, (int)mark.Column);

    // YamlException's message starts with "(Line: 3, Col: 5, Idx: 40) - (Line: 3, Col: 6, Idx: 41): "; the position
    // is reported separately.
    static string Strip(string message) => Positions().Replace(message, "");

    [GeneratedRegex(@"^\(Line: \d+, Col: \d+, Idx: \d+\) - \(Line: \d+, Col: \d+, Idx: \d+\): ")]
    private static partial Regex Positions();
}
