using System.Buffers;
using System.Runtime.InteropServices;
using Courier.Client;
using Courier.Tests.Infrastructure;
using Courier.Transport;
using Courier.Transport.Internal;
using Courier.Transport.Internal.Native;

namespace Courier.Tests.Integration;

/// <summary>
/// <see cref="CourierClientOptions.LendLargeReplies"/>: large reply frames reach the caller as libzmq received them and
/// go back when the reply is disposed; without it, and for small frames, the caller gets arrays of its own.
/// </summary>
public sealed class LentReplyTests
{
    private const int Threshold = LargeBodyTests.Threshold;

    private static byte[] Random(int size, int seed) => LargeBodyTests.Random(size, seed);

    private static bool Lent(ReadOnlyMemory<byte> body) => MemoryMarshal.TryGetMemoryManager<byte, MemoryManager<byte>>(body, out _);

    [Fact]
    public async Task A_client_lending_large_replies_hands_them_over_uncopied_until_the_reply_is_disposed()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = TestServer.Client(server.Endpoint!, o => o with { LendLargeReplies = true, Timeout = TimeSpan.FromSeconds(30) });
        var small = Random(Threshold - 1, 1);
        var large = Random(1 << 20, 2);

        var smallReply = await client.RequestAsync("echo", small);
        var largeReply = await client.RequestAsync("echo", large);

        Assert.True(small.AsSpan().SequenceEqual(smallReply.Body.Span));
        Assert.True(large.AsSpan().SequenceEqual(largeReply.Body.Span));
        Assert.False(Lent(smallReply.Body), "a small frame is copied: cheaper than lending it");
        var native = TransportResolver.AutoMeans == TransportImplementation.Native;
        Assert.Equal(native, Lent(largeReply.Body));

        var body = largeReply.Body;
        smallReply.Dispose();
        largeReply.Dispose();
        largeReply.Dispose(); // twice is harmless

        Assert.True(small.AsSpan().SequenceEqual(smallReply.Body.Span), "a reply's own array outlives its Dispose");
        if (native)
        {
            Assert.Throws<ObjectDisposedException>(() => body.Span.ToArray());
        }
        else
        {
            Assert.True(large.AsSpan().SequenceEqual(body.Span), "the managed transport copies every frame");
        }
    }

    [Fact]
    public async Task Lent_replies_through_a_broker_arrive_intact_while_many_are_in_flight()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var worker = await TestBroker.StartWorkerAsync(broker.Endpoint!, "w", handler: (request, _) => ValueTask.FromResult(request.Frames));
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { LendLargeReplies = true, Timeout = TimeSpan.FromSeconds(30) });
        await TestBroker.WaitForWorkersAsync(client, "echo", 1);

        var requests = Enumerable.Range(0, 32).Select(i => Random(Threshold + (i * 4_000), 100 + i)).ToArray();
        var replies = await Task.WhenAll(requests.Select(body => client.RequestAsync("echo", body)));

        try
        {
            for (var i = 0; i < requests.Length; i++)
            {
                Assert.True(requests[i].AsSpan().SequenceEqual(replies[i].Body.Span), $"reply {i} ({requests[i].Length} bytes) came back changed");
                if (requests[i].Length > Protocol.Internal.Batch.LargeMaxBodyLength)
                {
                    // Never batched: lent where libzmq received it. Smaller ones may come in a courier/7 batch, copied out.
                    Assert.Equal(TransportResolver.AutoMeans == TransportImplementation.Native, Lent(replies[i].Body));
                }
            }
        }
        finally
        {
            foreach (var reply in replies)
            {
                reply.Dispose(); // also when an assertion failed: the test run goes on in this process
            }
        }
    }

    [Fact]
    public async Task Without_lending_a_large_reply_is_an_array_of_the_callers_own()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = TestServer.Client(server.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(30) });
        var large = Random(Threshold * 4, 3);

        var reply = await client.RequestAsync("echo", large);
        reply.Dispose();

        Assert.False(Lent(reply.Body));
        Assert.True(large.AsSpan().SequenceEqual(reply.Body.Span));
    }
}

/// <summary>
/// What lent replies hold of native memory (process-wide counts, so the collection runs alone): the caller's until it
/// disposes the reply, and nothing of a reply that came after its caller gave up.
/// </summary>
[Collection(NativeMemoryTests.Name)]
public sealed class LentReplyMemoryTests
{
    private const int Large = 64 * 1024;

    /// <summary>Large received frames not yet given back: libzmq's (a listener's, or a client's on libzmq) and Courier's own DEALER's.</summary>
    private static long LentFrames => NativeFrame.Live + Courier.Transport.Internal.Zmtp.PooledFrame.Live;

    [SkippableFact]
    public async Task A_lent_reply_holds_its_native_frame_until_disposed_and_a_late_one_after_a_cancel_holds_nothing()
    {
        Skip.If(TestTransport.IsManaged, "NetMQ hands over no native frames");
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var body = LargeBodyTests.Random(Large, 7);
        await using var server = await TestServer.StartAsync(map: s => s
            .Map("large", (_, _) => ValueTask.FromResult<IReadOnlyList<ReadOnlyMemory<byte>>>([body]))
            .Map("late", async (_, _) =>
            {
                started.TrySetResult();
                await release.Task; // deliberately deaf to its token: it answers after the caller gave up
                return [body];
            }));
        await using var client = TestServer.Client(server.Endpoint!, o => o with { LendLargeReplies = true, Retries = 0, Timeout = TimeSpan.FromSeconds(30) });
        var before = LentFrames;

        var reply = await client.RequestAsync("large", "x");
        Assert.Equal(before + 1, LentFrames);
        reply.Dispose();
        Assert.Equal(before, LentFrames);

        using var cancel = new CancellationTokenSource();
        var abandoned = client.RequestAsync("late", "x", cancel.Token);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
        release.SetResult();

        // The late reply arrives for a request the client forgot; it is dropped, at the latest at the next receive.
        await Poll.UntilAsync(async () =>
        {
            using var next = await client.RequestAsync("large", "x");
            return LentFrames <= before + 1; // this very reply is the one frame still lent
        }, what: $"the late reply's frame given back ({LentFrames - before} lent)");
        Assert.Equal(before, LentFrames);
    }
}
