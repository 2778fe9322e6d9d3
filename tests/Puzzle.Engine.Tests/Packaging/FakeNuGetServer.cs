using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using NuGet.Packaging;

namespace Puzzle.Engine.Tests.Packaging;

/// <summary>
/// A NuGet v3 server on loopback, just enough of the protocol for push, delete and read-back: the service index,
/// PackagePublish/2.0.0 (PUT multipart, DELETE, X-NuGet-ApiKey) and PackageBaseAddress/3.0.0 (flat container).
/// Refuses a version it already has with 409, as public servers do.
/// </summary>
public sealed class FakeNuGetServer : IDisposable
{
    readonly HttpListener _listener = new();
    readonly CancellationTokenSource _stop = new();
    readonly Task _loop;

    public FakeNuGetServer(string apiKey)
    {
        ApiKey = apiKey;
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        BaseUrl = $"http://127.0.0.1:{port}/";
        _listener.Prefixes.Add(BaseUrl);
        _listener.Start();
        _loop = Task.Run(Serve);
    }

    public string ApiKey { get; }
    public string BaseUrl { get; }
    public string IndexUrl => BaseUrl + "v3/index.json";
    /// <summary>"id/version" (lowercase) → package bytes.</summary>
    public ConcurrentDictionary<string, byte[]> Packages { get; } = new();
    public ConcurrentQueue<string> Requests { get; } = new();

    async Task Serve()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync(); }
            catch (Exception) when (_stop.IsCancellationRequested) { return; }
            catch (HttpListenerException) { return; }
            try { Handle(context); }
            catch (Exception e)
            {
                context.Response.StatusCode = 500;
                Write(context.Response, e.Message);
            }
        }
    }

    void Handle(HttpListenerContext context)
    {
        var request = context.Request;
        var response = context.Response;
        var path = request.Url!.AbsolutePath;
        Requests.Enqueue($"{request.HttpMethod} {path}");
        if (request.HttpMethod == "GET" && path == "/v3/index.json")
        {
            Write(response, $$"""
                {"version": "3.0.0", "resources": [
                  {"@id": "{{BaseUrl}}api/v2/package", "@type": "PackagePublish/2.0.0"},
                  {"@id": "{{BaseUrl}}flat/", "@type": "PackageBaseAddress/3.0.0"}]}
                """, "application/json");
            return;
        }
        if (request.HttpMethod == "GET" && path.StartsWith("/flat/", StringComparison.Ordinal))
        {
            var parts = path["/flat/".Length..].Split('/');
            if (parts.Length == 2 && parts[1] == "index.json")
            {
                var versions = Packages.Keys.Where(k => k.StartsWith(parts[0] + "/", StringComparison.Ordinal)).Select(k => $"\"{k.Split('/')[1]}\"");
                if (!versions.Any()) { response.StatusCode = 404; response.Close(); return; }
                Write(response, $"{{\"versions\": [{string.Join(",", versions)}]}}", "application/json");
                return;
            }
            if (parts.Length == 3 && Packages.TryGetValue($"{parts[0]}/{parts[1]}", out var bytes))
            {
                response.ContentType = "application/octet-stream";
                response.OutputStream.Write(bytes);
                response.Close();
                return;
            }
            response.StatusCode = 404;
            response.Close();
            return;
        }
        if (path.StartsWith("/api/v2/package", StringComparison.Ordinal))
        {
            if (request.Headers["X-NuGet-ApiKey"] != ApiKey)
            {
                response.StatusCode = 403;
                response.StatusDescription = "Forbidden: invalid API key";
                response.Close();
                return;
            }
            if (request.HttpMethod == "PUT")
            {
                var package = FilePart(request);
                using var reader = new PackageArchiveReader(new MemoryStream(package));
                var identity = reader.GetIdentity();
                var key = $"{identity.Id.ToLowerInvariant()}/{identity.Version.ToNormalizedString().ToLowerInvariant()}";
                if (!Packages.TryAdd(key, package))
                {
                    response.StatusCode = 409;
                    response.StatusDescription = "Conflict: this version already exists";
                    response.Close();
                    return;
                }
                response.StatusCode = 201;
                response.Close();
                return;
            }
            if (request.HttpMethod == "DELETE")
            {
                var parts = path["/api/v2/package/".Length..].Split('/');
                response.StatusCode = Packages.TryRemove($"{parts[0].ToLowerInvariant()}/{parts[1].ToLowerInvariant()}", out _) ? 204 : 404;
                response.Close();
                return;
            }
        }
        response.StatusCode = 404;
        response.Close();
    }

    /// <summary>The one file of a multipart/form-data body.</summary>
    static byte[] FilePart(HttpListenerRequest request)
    {
        using var body = new MemoryStream();
        request.InputStream.CopyTo(body);
        var bytes = body.ToArray();
        var boundary = Encoding.ASCII.GetBytes("--" + request.ContentType!.Split("boundary=")[1].Trim('"'));
        var start = bytes.AsSpan().IndexOf(boundary) + boundary.Length;
        start += bytes.AsSpan(start).IndexOf("\r\n\r\n"u8) + 4;
        var end = start + bytes.AsSpan(start).IndexOf([.. "\r\n"u8, .. boundary]);
        return bytes[start..end];
    }

    static void Write(HttpListenerResponse response, string text, string type = "text/plain")
    {
        response.ContentType = type;
        response.OutputStream.Write(Encoding.UTF8.GetBytes(text));
        response.Close();
    }

    public void Dispose()
    {
        if (_stop.IsCancellationRequested) return;
        _stop.Cancel();
        _listener.Stop();
        _listener.Close();
        try { _loop.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
    }
}
