using System.Collections.Concurrent;
using Courier.Client;
using Courier.Tests.Infrastructure;
using Microsoft.Extensions.Logging;

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
    [Fact]
    public async Task On_a_connection_made_without_asking_the_first_probe_answer_is_not_taken_for_a_restarted_peer()
    {
        // ClientProtocol.Courier asks the peer nothing when it connects, so the first incarnation it hears of comes with
        // the liveness probe of an expired attempt. Taken for a change, it failed every at-most-once request sent there
        // before the probe with "outcome unknown" while the same live server ran them.
        var slowRuns = 0;
        var resent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var log = new RecordingLoggerFactory();
        await using var server = await TestServer.StartAsync(map: s => s
            .Map("slow", async (r, ct) =>
            {
                // The second run is the expired attempt's resend, which leaves with the probe.
                if (Interlocked.Increment(ref slowRuns) == 2)
                {
                    resent.TrySetResult();
                }

                await Task.Delay(TimeSpan.FromSeconds(4), ct);
                return r.Frames;
            })
            .Map("beside", async (r, ct) =>
            {
                // Answered only after the probe's answer has had time to reach the client.
                await resent.Task.WaitAsync(ct);
                await Task.Delay(TimeSpan.FromMilliseconds(500), ct);
                return r.Frames;
            }));
        await using var client = TestServer.Client(server.Endpoint!, o => o with
        {
            Protocol = ClientProtocol.Courier,
            Timeout = TimeSpan.FromSeconds(2),
            Retries = 3,
            LoggerFactory = log,
        });

        var slow = client.RequestAsync("slow", "s");
        await Poll.UntilAsync(() => Volatile.Read(ref slowRuns) == 1, what: "the slow request running");
        var beside = client.RequestAsync("beside", "b");

        Assert.Equal("b", (await beside.WaitAsync(TimeSpan.FromSeconds(60))).BodyText);
        Assert.Equal("s", (await slow.WaitAsync(TimeSpan.FromSeconds(60))).BodyText);
        Assert.False(log.Contains("another incarnation"), log.AtLeast(LogLevel.Information));
    }

    [Theory]
    [InlineData("timeout")]
    [InlineData("deadline")]
    public async Task A_timeout_or_deadline_of_TimeSpan_MaxValue_means_no_limit_not_one_already_past(string which)
    {
        // A timestamp plus TimeSpan.MaxValue overflowed: the attempt's or the request's end lay in the past, and the first
        // tick failed the request with a timeout.
        await using var server = await TestServer.StartAsync(map: s => s.Map("work", async (r, ct) =>
        {
            await Task.Delay(TimeSpan.FromMilliseconds(700), ct); // past a few of the client's ticks
            return r.Frames;
        }));
        await using var client = TestServer.Client(server.Endpoint!, o => which == "timeout" ? o with { Timeout = TimeSpan.MaxValue } : o);
        var options = which == "deadline" ? CourierRequestOptions.Default with { Deadline = TimeSpan.MaxValue } : CourierRequestOptions.Default;

        var reply = await client.RequestAsync("work", "x", options).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal("x", reply.BodyText);
    }
}
