using Courier.Protocol;
using Courier.Server;
using Courier.Tests.Infrastructure;
using Courier.Transport;
using Courier.Transport.Internal;

namespace Courier.Tests.Integration;

/// <summary>
/// Large bodies on the native transport stay in the buffers libzmq received them in: a broker passes them on without a
/// copy, and a worker lends them to its handler until the reply is sent (docs/performance.md, "Large messages").
/// </summary>
public sealed class LargeBodyTests
{
    internal const int Threshold = Transport.Internal.Native.NativeFrame.Minimum;

    /// <summary>A body of <paramref name="size"/> bytes from a seeded generator: any change to it in transit shows.</summary>
    internal static byte[] Random(int size, int seed)
    {
        var body = new byte[size];
        new Random(seed).NextBytes(body);
        return body;
    }

    [Fact]
    public async Task Bodies_around_the_lending_threshold_cross_the_broker_and_back_intact()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var a = await TestBroker.StartWorkerAsync(broker.Endpoint!, "a", handler: Echo);
        await using var b = await TestBroker.StartWorkerAsync(broker.Endpoint!, "b", handler: Echo);
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(30) });
        await TestBroker.WaitForWorkersAsync(client, "echo", 2);

        int[] sizes = [0, 1, Threshold - 1, Threshold, Threshold + 1, 100_000, 1 << 20];
        var requests = sizes.SelectMany(size => Enumerable.Range(0, 8).Select(i => Random(size, (size * 31) + i))).ToArray();
        var replies = await Task.WhenAll(requests.Select(body => client.RequestAsync("echo", body)));

        for (var i = 0; i < requests.Length; i++)
        {
            Assert.True(requests[i].AsSpan().SequenceEqual(replies[i].Body.Span), $"request {i} ({requests[i].Length} bytes) came back changed");
        }
    }

    [Fact]
    public async Task Large_requests_held_by_a_worker_killed_with_SIGKILL_are_served_intact_by_another()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(30), Retries = 0 });
        await using var doomed = ChildProcess.Start("worker", "--connect", broker.Endpoint!, "--name", "doomed", "--delay", "60s", "--heartbeat", "500ms");
        await TestBroker.WaitForWorkersAsync(client, "echo", 1);

        // The broker holds each body (received as it came, not copied) until its reply: the second worker gets the same bytes.
        var requests = Enumerable.Range(0, 6).Select(i => Random(300_000 + i, i)).ToArray();
        var pending = requests.Select(body => client.RequestAsync("echo", body)).ToArray();
        await Poll.UntilAsync(async () => (await TestBroker.StatsAsync(client, "echo")).InFlight == requests.Length, what: "the doomed worker holds every request");
        doomed.Signal("KILL");
        await using var healthy = await TestBroker.StartWorkerAsync(broker.Endpoint!, "healthy", handler: Echo);

        var replies = await Task.WhenAll(pending).WaitAsync(TimeSpan.FromSeconds(60));
        for (var i = 0; i < requests.Length; i++)
        {
            Assert.True(requests[i].AsSpan().SequenceEqual(replies[i].Body.Span), $"request {i} came back changed");
        }
    }

    [Fact]
    public async Task A_large_body_a_handler_keeps_past_its_reply_throws_on_the_native_transport_instead_of_reading_freed_memory()
    {
        var kept = new List<ReadOnlyMemory<byte>>();
        CourierHandler keeping = (request, _) =>
        {
            lock (kept)
            {
                kept.Add(request.Body);
            }

            return ValueTask.FromResult(request.Frames);
        };
        await using var broker = await TestBroker.StartAsync();
        await using var worker = await TestBroker.StartWorkerAsync(broker.Endpoint!, "keeper", handler: keeping);
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(30) });
        await TestBroker.WaitForWorkersAsync(client, "echo", 1);

        var small = Random(Threshold - 1, 1);
        var large = Random(Threshold, 2);
        var smallReply = await client.RequestAsync("echo", small);
        var largeReply = await client.RequestAsync("echo", large);
        Assert.True(small.AsSpan().SequenceEqual(smallReply.Body.Span));
        Assert.True(large.AsSpan().SequenceEqual(largeReply.Body.Span));

        // The worker gives a lent frame back just after sending the reply the client has already read.
        ReadOnlyMemory<byte> keptSmall, keptLarge;
        lock (kept)
        {
            (keptSmall, keptLarge) = (kept[0], kept[1]);
        }

        Assert.True(small.AsSpan().SequenceEqual(keptSmall.Span), "a small body is the handler's own copy");
        if (TransportResolver.AutoMeans == TransportImplementation.Native)
        {
            await Poll.UntilAsync(() => Throws(keptLarge), what: "the lent frame given back");
        }
        else
        {
            Assert.True(large.AsSpan().SequenceEqual(keptLarge.Span), "the managed transport copies every body");
        }
    }

    [Fact]
    public async Task A_server_lends_large_bodies_too_and_remembers_a_copy_of_a_reply_that_was_one()
    {
        var kept = new List<ReadOnlyMemory<byte>>();
        await using var server = await TestServer.StartAsync(map: s => s.Map("keep", (request, _) =>
        {
            lock (kept)
            {
                kept.Add(request.Body);
            }

            return ValueTask.FromResult(request.Frames);
        }, idempotent: false));
        await using var client = TestServer.Client(server.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(30) });

        // Not idempotent: the server's at-most-once ledger remembers each reply, here the request's own (lent) body. Past
        // courier/7's batched bodies, so that each comes alone and is lent.
        var bodies = Enumerable.Range(0, 4).Select(i => Random(Protocol.Internal.Batch.LargeMaxBodyLength + 1 + i, 10 + i)).ToArray();
        var replies = await Task.WhenAll(bodies.Select(body => client.RequestAsync("keep", body)));
        for (var i = 0; i < bodies.Length; i++)
        {
            Assert.True(bodies[i].AsSpan().SequenceEqual(replies[i].Body.Span), $"request {i} came back changed");
        }

        ReadOnlyMemory<byte>[] keptBodies;
        lock (kept)
        {
            keptBodies = [.. kept];
        }

        if (TransportResolver.AutoMeans == TransportImplementation.Native)
        {
            await Poll.UntilAsync(() => keptBodies.All(Throws), what: "every lent frame given back");
        }
        else
        {
            Assert.All(keptBodies, body => Assert.True(bodies.Single(b => b.Length == body.Length).AsSpan().SequenceEqual(body.Span)));
        }
    }

    [Fact]
    public void What_is_remembered_of_lent_frames_is_a_copy_that_outlives_them()
    {
        var lent = new TestFrame([1, 2, 3]);
        ReadOnlyMemory<byte> own = new byte[] { 9 };
        var owned = LentFrames.Owned([own, lent.Memory]);

        ((IDisposable)lent).Dispose();

        Assert.Equal([9], owned[0].ToArray());
        Assert.True(owned[0].Equals(own), "a frame of its own is kept as it is");
        Assert.Equal([1, 2, 3], owned[1].ToArray());
        Assert.Throws<ObjectDisposedException>(() => lent.Memory.Span.ToArray());
    }

    [Fact]
    public async Task A_handler_replying_with_a_large_body_it_kept_from_an_earlier_request_gets_a_clean_500_and_the_connection_serves_on()
    {
        ReadOnlyMemory<byte> cached = default;
        var calls = 0;
        CourierHandler stale = (request, _) =>
        {
            // The first request's body is kept past its request (on the native transport, given back by then) and is
            // the second's reply; every other request is echoed.
            var call = Interlocked.Increment(ref calls);
            if (call == 1)
            {
                cached = request.Body;
            }

            return ValueTask.FromResult(call == 2 ? [cached] : request.Frames);
        };
        await using var broker = await TestBroker.StartAsync();
        await using var worker = await TestBroker.StartWorkerAsync(broker.Endpoint!, "stale", concurrency: 1, handler: stale);
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(30), Retries = 0 });
        await TestBroker.WaitForWorkersAsync(client, "echo", 1);
        var first = Random(Threshold * 2, 5);
        var firstReply = await client.RequestAsync("echo", first);
        Assert.Equal(first, firstReply.Body.ToArray());

        var second = client.RequestAsync("echo", Random(Threshold * 2, 6));
        if (TransportResolver.AutoMeans == TransportImplementation.Native)
        {
            // Refused before any frame of it reached libzmq: no half reply glued to the error.
            var error = await Assert.ThrowsAsync<CourierRemoteException>(() => second);
            Assert.Equal(CourierStatus.ServerError, error.StatusCode);
        }
        else
        {
            var secondReply = await second;
            Assert.Equal(first, secondReply.Body.ToArray()); // the managed transport copies every body
        }

        // The connection and the worker serve on, and their framing is intact.
        var third = Random(Threshold * 2, 7);
        var thirdReply = await client.RequestAsync("echo", third);
        Assert.Equal(third, thirdReply.Body.ToArray());
    }

    private static bool Throws(ReadOnlyMemory<byte> memory)
    {
        try
        {
            _ = memory.Span[0];
            return false;
        }
        catch (ObjectDisposedException)
        {
            return true;
        }
    }

    private static ValueTask<IReadOnlyList<ReadOnlyMemory<byte>>> Echo(CourierRequest request, CancellationToken cancellationToken)
        => ValueTask.FromResult(request.Frames);
}
