using System.Collections.Concurrent;
using Courier.Client;
using Courier.Tests.Infrastructure;

namespace Courier.Tests.Integration;

/// <summary>Each request's attempts are its own: a slow or refused request never costs the others on its connection.</summary>
public sealed class RequestAttemptTests
{
    [Fact]
    public async Task A_request_slower_than_the_timeout_is_retried_alone_and_the_healthy_requests_beside_it_run_once()
    {
        var runs = new ConcurrentDictionary<string, int>();
        await using var server = await TestServer.StartAsync(map: s => s.Map("work", async (r, ct) =>
        {
            runs.AddOrUpdate(r.BodyText, 1, (_, n) => n + 1);
            // The slow one outlasts two attempt timeouts; the others finish well within one, however loaded the machine.
            await Task.Delay(r.BodyText == "slow" ? TimeSpan.FromSeconds(5) : TimeSpan.FromMilliseconds(300), ct);
            return r.Frames;
        }));
        await using var client = TestServer.Client(server.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(2), Retries = 3 });

        var slow = client.RequestAsync("work", "slow");
        var healthy = Enumerable.Range(0, 100).Select(i => client.RequestAsync("work", $"h{i}")).ToArray();

        var replies = await Task.WhenAll(healthy).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal("slow", (await slow.WaitAsync(TimeSpan.FromSeconds(60))).BodyText);
        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"h{i}"), replies.Select(r => r.BodyText));
        Assert.All(Enumerable.Range(0, 100), i => Assert.Equal(1, runs[$"h{i}"]));
        // Resent alone, with the same id, on the same connection: at most once per attempt even without a peer that
        // recognises the repeat.
        Assert.InRange(runs["slow"], 1, 4);
    }

    [Fact]
    public async Task A_request_refused_by_a_stopping_server_is_retried_on_another_endpoint_and_succeeds()
    {
        var release = new TaskCompletionSource();
        using var log = new RecordingLoggerFactory();
        var stopping = await TestServer.StartAsync(o => o with { Name = "stopping", LoggerFactory = log }, s => s.Map("hold", async (r, ct) =>
        {
            await release.Task.WaitAsync(ct);
            return r.Frames;
        }));
        await using var other = await TestServer.StartAsync(o => o with { Name = "other" });
        await using var client = TestServer.Client(stopping.Endpoint!, o => o with { Endpoints = [stopping.Endpoint!, other.Endpoint!], Retries = 3 });
        await using var direct = TestServer.Client(stopping.Endpoint!);
        var seen = new HashSet<string>();
        await Poll.UntilAsync(
            async () =>
            {
                seen.UnionWith((await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => client.RequestAsync("whoami", "")))).Select(r => r.BodyText));
                return seen.Count == 2;
            },
            what: "the client spreads over both servers");
        var held = direct.RequestAsync("hold", "x");
        await Poll.UntilAsync(() => stopping.InFlight == 1, what: "a request held by the server about to stop");
        var stop = stopping.StopAsync();
        await Poll.UntilAsync(() => log.Contains(" stopping: "), what: "the drain begun");

        // Spread over both endpoints, half would reach the stopping server first: its 503 sends them to the other.
        var replies = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => client.RequestAsync("whoami", ""))).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.All(replies, r => Assert.Equal("other", r.BodyText));
        release.SetResult();
        Assert.Equal("x", (await held).BodyText);
        await stop;
        await stopping.DisposeAsync();
    }
}
