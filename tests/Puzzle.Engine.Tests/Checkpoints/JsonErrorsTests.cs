using System.Text.Json;
using Puzzle.Engine.Checkpoints;

namespace Puzzle.Engine.Tests.Checkpoints;

public sealed class JsonErrorsTests
{
    [Fact]
    public void A_json_error_names_its_line_and_column_from_1_without_dotnets_suffix()
    {
        var e = Assert.ThrowsAny<JsonException>(() => JsonDocument.Parse("{\n  \"a\": 1,\n  \"b\": x\n}"));
        Assert.Matches(@"^line 3, column 8: 'x' is an invalid start of a value\.$", JsonErrors.Describe(e));
        Assert.Matches(@"^column 8: 'x' is an invalid start of a value\.$", JsonErrors.Describe(e, oneLine: true));

        var config = Assert.Throws<CheckpointException>(() => HfConfig.Parse("{\"architectures\": [\"LlamaForCausalLM\"],\n garbage}", "m/config.json"));
        Assert.StartsWith("m/config.json: not valid JSON (line 2, column 2: ", config.Message);
        Assert.DoesNotContain("BytePositionInLine", config.Message);
    }
}
