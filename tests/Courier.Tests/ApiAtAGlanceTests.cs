using System.Text.RegularExpressions;
using Courier.Client;
using Courier.Protocol;
using Courier.Server;
using Courier.Tests.Infrastructure;

namespace Courier.Tests;

/// <summary>Keeps README's "API at a glance" compiling and true: the README must show this code, and it must run.</summary>
public sealed partial class ApiAtAGlanceTests
{
    [Fact]
    public async Task Readme_snippet_runs()
    {
        // The snippet binds a port it names; the reservation makes it one nothing else can take meanwhile.
        using var port = PortReservation.Any();
        var endpoint = port.Endpoint;
        var output = new StringWriter();
        // <api-at-a-glance>
        // A server: hosts async handlers (plus built-in echo and whoami), runs them concurrently.
        await using var server = new CourierServer(CourierServerOptions.Default with { Endpoint = endpoint })
            .Map("greet", (request, cancellationToken) => ValueTask.FromResult(CourierBody.Text($"hello, {request.BodyText}")));
        await server.StartAsync();

        // A client: thread-safe, many requests in flight on one connection, timeouts and retries built in.
        await using var client = new CourierClient(CourierClientOptions.Default with
        {
            Endpoints = [endpoint],
            Timeout = TimeSpan.FromSeconds(2.5),
            Retries = 3,
        });

        var reply = await client.RequestAsync("greet", "world");
        output.WriteLine(reply.BodyText); // hello, world

        try
        {
            await client.RequestAsync("nosuch", "x");
        }
        catch (CourierRemoteException ex) when (ex.StatusCode == CourierStatus.NotFound)
        {
            output.WriteLine(ex.Message); // Service 'nosuch' answered 404: no service 'nosuch' here
        }
        // </api-at-a-glance>

        Assert.Equal(["hello, world", "Service 'nosuch' answered 404: no service 'nosuch' here"], output.ToString().Trim().Split(Environment.NewLine));
    }

    [Fact]
    public void Readme_shows_the_snippet_as_it_is_here()
    {
        var source = File.ReadAllText(Path.Combine(Repo.Root, "tests", "Courier.Tests", "ApiAtAGlanceTests.cs"));
        var snippet = Snippet().Match(source).Groups[1].Value;
        var readme = File.ReadAllText(Path.Combine(Repo.Root, "README.md"));

        Assert.Contains(Normalize(snippet.Replace("output.WriteLine", "Console.WriteLine", StringComparison.Ordinal)), Normalize(readme), StringComparison.Ordinal);
    }

    private static string Normalize(string code) => string.Join('\n', code.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0));

    [GeneratedRegex(@"// <api-at-a-glance>\s*\n(.*?)// </api-at-a-glance>", RegexOptions.Singleline)]
    private static partial Regex Snippet();
}
