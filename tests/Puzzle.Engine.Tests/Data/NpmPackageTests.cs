using Puzzle.Engine.Data;

namespace Puzzle.Engine.Tests.Data;

public sealed class NpmPackageTests
{
    [Fact]
    public void A_failed_npm_pack_says_what_npm_said_on_one_line_without_addresses_or_its_log()
    {
        const string stderr = """
            npm error code E404
            npm error 404 Not Found - GET https://example.invalid/@stdlib%2fno-such-package
            npm error 404
            npm error 404  The requested resource '@stdlib/no-such-package@1.0.0' could not be found or you do not have permission to access it.
            npm error 404
            npm error A complete log of this run can be found in: /root/.npm/_logs/debug-0.log
            """;

        Assert.Equal("code E404 The requested resource '@stdlib/no-such-package@1.0.0' could not be found or you do not have permission to access it.",
            NpmPackage.Said(stderr));
        Assert.Equal("npm said nothing more", NpmPackage.Said(""));
    }
}
