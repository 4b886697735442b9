using Courier.Client;
using Courier.Server;
using Courier.Serving.Internal;
using Courier.Tests.Infrastructure;

namespace Courier.Tests.Integration;

/// <summary>
/// An attack on at-most-once's memory: requests that are not idempotent, to a service whose replies are large, each
/// remembered for a repeat. Without a byte bound 100,000 such replies would be kept for 60 s; with it the process keeps
/// at most <see cref="AtMostOnce.MaxBytes"/> of them, and a canary client sees no error meanwhile.
/// </summary>
public sealed class RememberedReplyBoundTests
{
    private const int ReplySize = 1 << 20;
    private const int Requests = 100; // 100 MiB of replies: over the 64 MiB bound

    private static readonly byte[] Large = new byte[ReplySize - 1024];

    private static ValueTask<IReadOnlyList<ReadOnlyMemory<byte>>> LargeReply(CourierRequest request, CancellationToken cancellationToken)
        => ValueTask.FromResult<IReadOnlyList<ReadOnlyMemory<byte>>>([Large]);

    [Fact]
    public async Task A_server_remembers_no_more_reply_bytes_than_its_bound_however_many_large_replies_it_sends()
    {
        await using var server = await TestServer.StartAsync(map: s => s.Map("large", LargeReply, idempotent: false));
        await using var canary = await Canary.StartAsync(server.Endpoint!);
        await using var attacker = TestServer.Client(server.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(30) });

        await SendAsync(attacker);

        var remembered = await server.RememberedBytesAsync();
        Assert.InRange(remembered, (long)AtMostOnce.MaxBytes / 2, AtMostOnce.MaxBytes);
        await canary.AssertUnharmedAsync();
    }

    [Fact]
    public async Task A_broker_remembers_no_more_reply_bytes_than_its_bound_however_many_large_replies_pass_it()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var echo = await TestBroker.StartWorkerAsync(broker.Endpoint!, "echo", handler: (request, _) => ValueTask.FromResult(request.Frames));
        await using var worker = await TestBroker.StartWorkerAsync(broker.Endpoint!, "large", service: "large", handler: LargeReply);
        await using var attacker = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(30) });
        await TestBroker.WaitForWorkersAsync(attacker, "large", 1);
        await TestBroker.WaitForWorkersAsync(attacker, "echo", 1);
        await using var canary = await Canary.StartAsync(broker.Endpoint!);

        await SendAsync(attacker);

        var remembered = await broker.RememberedBytesAsync();
        Assert.InRange(remembered, (long)AtMostOnce.MaxBytes / 2, AtMostOnce.MaxBytes);
        await canary.AssertUnharmedAsync();
    }

    private static async Task SendAsync(CourierClient attacker)
    {
        // Ten at a time: each reply is remembered (the service is not idempotent, the client courier/5).
        for (var i = 0; i < Requests; i += 10)
        {
            var replies = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => attacker.RequestAsync("large", "x")));
            Assert.All(replies, reply => Assert.Equal(Large.Length, reply.Body.Length));
        }
    }
}
