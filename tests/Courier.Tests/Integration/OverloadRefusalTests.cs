using System.Collections.Concurrent;
using Courier.Client;
using Courier.Client.Internal;
using Courier.Server;
using Courier.Tests.Infrastructure;

namespace Courier.Tests.Integration;

/// <summary>
/// A live server with a full queue refuses (503) what it cannot take and runs what it took. The client retires a
/// connection that refused, so that behind a proxy a fresh one may reach another server; the retired one is kept for
/// the answers it still holds. Under a steady overload every refusal retires the connection of the moment, each holding
/// what the server took on it.
/// </summary>
public sealed class OverloadRefusalTests
{
    [Fact]
    public async Task A_steady_overload_refuses_requests_but_never_gives_up_one_the_server_took()
    {
        // One request at a time, 20 ms each, 64 more queued: ~1.3 s of work taken, each piece on the connection of the
        // moment it came. Past 32 retiring connections the client gave the oldest up as lost, and its requests failed
        // "outcome unknown" (not idempotent) though the server was alive and ran them.
        var logs = new RecordingLoggerFactory();
        var ran = new ConcurrentDictionary<string, int>();
        await using var server = await TestServer.StartAsync(
            o => o with { MaxConcurrency = 1, MaxQueuedRequests = 64 },
            s => s.Map("slow", async (request, cancellationToken) =>
            {
                ran.AddOrUpdate(request.BodyText, 1, (_, n) => n + 1);
                await Task.Delay(20, cancellationToken);
                return request.Frames;
            }));
        await using var client = TestServer.Client(server.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(60), Retries = 0, LoggerFactory = logs });

        var calls = new List<Task<(string Body, Exception? Error)>>();
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(6);
        for (var i = 0; DateTime.UtcNow < until; i++)
        {
            var body = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            calls.Add(Outcome(body, client.RequestAsync("slow", body)));
            await Task.Delay(2);
        }

        var outcomes = await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(120));

        var unknown = outcomes.Where(o => o.Error is CourierOutcomeUnknownException).ToArray();
        Assert.True(unknown.Length == 0, $"{unknown.Length} of {outcomes.Length} given up: {unknown.FirstOrDefault().Error?.Message}");
        Assert.All(outcomes.Where(o => o.Error is not null), o => Assert.Equal(503, Assert.IsType<CourierRemoteException>(o.Error).StatusCode));
        Assert.All(ran, r => Assert.Equal(1, r.Value));
        var answered = outcomes.Where(o => o.Error is null).Select(o => o.Body).ToHashSet();
        Assert.True(answered.Count > ConnectionPool.MaxRetiring, $"{answered.Count} answered");
        Assert.Equal(ran.Keys.Order(), answered.Order()); // each one the server ran was answered
    }

    [Fact]
    public async Task A_request_refused_by_a_busy_endpoint_is_retried_at_another_endpoint_that_can_take_it()
    {
        // A takes one request and refuses the rest (503); B takes them all and holds them, so it always has more out than
        // A's connections, and the least loaded pick prefers A for every new request. A refused request's retry prefers
        // another endpoint than the one that refused: each request A refuses is run at B, once, and no caller sees the
        // 503 (Retries = 0: only the refusals an attempt allows, one per endpoint and two). Before, a retry avoided only
        // the connection that refused, and A's next connection could refuse it again until the attempt's were used up.
        const int Requests = 40;
        using var releaseA = new SemaphoreSlim(0);
        using var releaseB = new SemaphoreSlim(0);
        var ranA = new ConcurrentDictionary<string, int>();
        var ranB = new ConcurrentDictionary<string, int>();
        // "held": counts each body it runs in ran, and answers it once release lets it.
        static Action<CourierServer> Held(ConcurrentDictionary<string, int> ran, SemaphoreSlim release)
            => s => s.Map("held", async (request, cancellationToken) =>
            {
                ran.AddOrUpdate(request.BodyText, 1, (_, n) => n + 1);
                await release.WaitAsync(cancellationToken);
                return request.Frames;
            });

        await using var a = await TestServer.StartAsync(o => o with { MaxConcurrency = 1, MaxQueuedRequests = 0 }, Held(ranA, releaseA));
        await using var b = await TestServer.StartAsync(map: Held(ranB, releaseB));
        await using var client = TestServer.Client(a.Endpoint!, o => o with
        {
            Endpoints = [a.Endpoint!, b.Endpoint!],
            Timeout = TimeSpan.FromSeconds(60),
            Retries = 0,
        });

        var calls = new List<Task<(string Body, Exception? Error)>>();
        for (var i = 0; i < Requests; i++)
        {
            var body = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            calls.Add(Outcome(body, client.RequestAsync("held", body)));
            await Task.Delay(5);
        }

        // Every request placed (one at A, the rest at B), or one given up: the 503 of a retry that went back to A.
        await Poll.UntilAsync(() => ranA.Count + ranB.Count == Requests || calls.Any(c => c.IsCompleted), TimeSpan.FromSeconds(60), "every request placed");
        releaseA.Release(Requests);
        releaseB.Release(Requests);
        var outcomes = await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(60));

        var failed = outcomes.Where(o => o.Error is not null).ToArray();
        Assert.True(failed.Length == 0, $"{failed.Length} of {Requests} failed: {failed.FirstOrDefault().Error?.Message}");
        Assert.Single(ranA);
        Assert.Equal(Requests - 1, ranB.Count);
        Assert.All(ranA.Concat(ranB), r => Assert.Equal(1, r.Value));
        Assert.Empty(ranA.Keys.Intersect(ranB.Keys));
    }

    private static async Task<(string Body, Exception? Error)> Outcome(string body, Task<CourierReply> call)
    {
        try
        {
            await call;
            return (body, null);
        }
        catch (CourierException ex)
        {
            return (body, ex);
        }
    }
}
