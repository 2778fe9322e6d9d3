namespace Puzzle.Engine.Packaging;

/// <summary>
/// Where a package is published: a folder feed, or a NuGet v3 server (its service index URL) with an API key. Plain
/// http is accepted only for a server on this machine (a test server, a local proxy).
/// </summary>
public sealed record FeedTarget
{
    FeedTarget(string source, string? apiKey, bool isFolder)
    {
        Source = source;
        ApiKey = apiKey;
        IsFolder = isFolder;
    }

    public string Source { get; }
    public bool IsFolder { get; }
    internal string? ApiKey { get; }

    public static FeedTarget Folder(string path) => new(Path.GetFullPath(path), null, true);

    /// <exception cref="ArgumentException">Not an https URL (or http on loopback), or no API key.</exception>
    public static FeedTarget Server(string serviceIndex, string apiKey)
    {
        if (!Uri.TryCreate(serviceIndex, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http"))
            throw new ArgumentException($"'{serviceIndex}' is not an http(s) URL of a NuGet v3 service index");
        if (uri.Scheme == "http" && !uri.IsLoopback)
            throw new ArgumentException($"'{serviceIndex}' is plain http; the API key would cross the network unencrypted: use https");
        if (string.IsNullOrEmpty(apiKey)) throw new ArgumentException($"publishing to {serviceIndex} needs an API key");
        return new FeedTarget(serviceIndex, apiKey, false);
    }

    internal bool IsLoopbackHttp => !IsFolder && new Uri(Source).Scheme == "http";

    /// <summary>Never prints the key.</summary>
    public override string ToString() => Source;
}
