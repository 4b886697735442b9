using System.Text.Json;
using Courier.Tests.Infrastructure;

namespace Courier.Tests.Cli;

/// <summary>`courier bench` and `courier worker` against real peers: what they report and what they serve.</summary>
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

    [Fact]
    public async Task Worker_serves_any_service_name_with_the_reply_it_is_given()
    {
        // Liveness of 10 s, not the tests' 5: a heartbeat late on a loaded machine made the worker reconnect while it held the
        // request, which its caller then rightly got as an unknown outcome. These tests are about the CLI, not liveness.
        await using var broker = await TestBroker.StartAsync(o => o with { HeartbeatLiveness = 20 });
        await using var worker = ChildProcess.Start(
            "worker", "--connect", broker.Endpoint!, "--service", "anyname", "--reply", "echo", "--heartbeat", "500ms", "--liveness", "20");
        await worker.WaitForOutputAsync("serving anyname (echo)");
        await using var client = TestServer.Client(broker.Endpoint!);
        await TestBroker.WaitForWorkersAsync(client, "anyname", 1);

        var reply = await client.RequestAsync("anyname", "hello through the broker");

        Assert.Equal("hello through the broker", reply.BodyText);
    }

    [Fact]
    public async Task Worker_answers_whoami_under_any_service_name()
    {
        await using var broker = await TestBroker.StartAsync(o => o with { HeartbeatLiveness = 20 });
        await using var worker = ChildProcess.Start(
            "worker", "--connect", broker.Endpoint!, "--service", "who-is-it", "--reply", "whoami", "--name", "cli-named", "--heartbeat", "500ms", "--liveness", "20");
        await worker.WaitForOutputAsync("serving who-is-it (whoami)");
        await using var client = TestServer.Client(broker.Endpoint!);
        await TestBroker.WaitForWorkersAsync(client, "who-is-it", 1);

        var (exit, stdout, stderr) = await ChildProcess.RunAsync(Bound, "request", "--connect", broker.Endpoint!, "--service", "who-is-it", "--timeout", "5s");

        Assert.True(exit == 0, stderr);
        Assert.Equal("cli-named", stdout.Trim());
    }
}
