using System.Text.Json;
using Courier.Tests.Infrastructure;

namespace Courier.Tests.Cli;

/// <summary>`courier bench` against real peers: what it reports.</summary>
public sealed class CliServiceTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Bench_against_a_handler_answering_500_exits_4_naming_the_status()
    {
        await using var server = await TestServer.StartAsync(
            map: s => s.Map("fail", (_, _) => throw new InvalidOperationException("this handler always fails")));

        var (exit, stdout, stderr) = await ChildProcess.RunAsync(
            Bound, "bench", "--connect", server.Endpoint!, "--service", "fail", "--clients", "1", "--inflight", "2", "--duration", "300ms", "--json");

        Assert.True(exit == 4, $"exit {exit}: {stderr}");
        var line = Assert.Single(stderr.Trim().Split('\n'));
        Assert.StartsWith("courier: error: no request succeeded: ", line, StringComparison.Ordinal);
        Assert.Contains(" answered 500 (", line, StringComparison.Ordinal);
        Assert.DoesNotContain("is anything serving", line, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^errors: [\d,]+ answered 500 ", stdout);
        using var json = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        Assert.Equal(0, json.RootElement.GetProperty("requests").GetInt64());
        Assert.True(json.RootElement.GetProperty("errors").GetInt64() >= 2);
    }
}
