using Courier.Server;
using Courier.Serving.Internal;
using Courier.Tests.Infrastructure;
using static Courier.Tests.Infrastructure.RawCourier5;

namespace Courier.Tests.Integration;

/// <summary>
/// Attacks on at-most-once's memory: one client answered more times than the server remembers answers
/// (<see cref="AtMostOnce.Capacity"/>) within the window, or with more bytes of replies than it keeps
/// (<see cref="AtMostOnce.MaxBytes"/>). It pushes out only its own oldest answers or bodies, so another client's repeat
/// still gets its remembered reply, does not run again and is not answered 520; a canary client sees no error meanwhile.
/// </summary>
public sealed class AtMostOnceShareTests
{
    [Fact]
    public async Task A_client_flooding_the_server_with_answered_requests_does_not_make_another_clients_repeat_run_again()
    {
        var runs = 0;
        await using var server = await TestServer.StartAsync(map: s => s
            .Map("pay", (request, _) =>
            {
                var run = Interlocked.Increment(ref runs);
                return ValueTask.FromResult<IReadOnlyList<ReadOnlyMemory<byte>>>(CourierBody.Text($"paid {request.BodyText} (run {run})"));
            })
            .Map("flood", (_, _) => ValueTask.FromResult<IReadOnlyList<ReadOnlyMemory<byte>>>(CourierBody.Text("ok"))));
        await using var canary = await Canary.StartAsync(server.Endpoint!);

        using var victim = Connect(server.Endpoint!);
        Send(victim, 42, "10 EUR");
        Assert.Equal(("200", "paid 10 EUR (run 1)"), Receive(victim));

        // More answered requests than the server remembers, pipelined a thousand at a time, from another identity.
        using var flooder = Connect(server.Endpoint!);
        const int Window = 1000;
        for (var sent = 0; sent < AtMostOnce.Capacity + (10 * Window); sent += Window)
        {
            for (var i = 0; i < Window; i++)
            {
                Send(flooder, (ulong)(sent + i + 1), "x", "flood", identity: 0x66);
            }

            for (var i = 0; i < Window; i++)
            {
                Assert.Equal("200", Receive(flooder).Status);
            }
        }

        // The victim reconnects and repeats: its remembered reply, not a second run.
        using var again = Connect(server.Endpoint!);
        Send(again, 42, "10 EUR");
        Assert.Equal(("200", "paid 10 EUR (run 1)"), Receive(again));
        Assert.Equal(1, Volatile.Read(ref runs));
        await canary.AssertUnharmedAsync();
    }

    [Fact]
    public async Task A_client_asking_for_more_reply_bytes_than_the_server_keeps_does_not_turn_another_clients_repeat_into_520()
    {
        var runs = 0;
        var large = new byte[1 << 20];
        await using var server = await TestServer.StartAsync(map: s => s
            .Map("pay", (request, _) =>
            {
                var run = Interlocked.Increment(ref runs);
                return ValueTask.FromResult<IReadOnlyList<ReadOnlyMemory<byte>>>(CourierBody.Text($"paid {request.BodyText} (run {run})"));
            })
            .Map("large", (_, _) => ValueTask.FromResult<IReadOnlyList<ReadOnlyMemory<byte>>>([large])));
        await using var canary = await Canary.StartAsync(server.Endpoint!);

        using var victim = Connect(server.Endpoint!);
        Send(victim, 42, "10 EUR");
        Assert.Equal(("200", "paid 10 EUR (run 1)"), Receive(victim));

        // More reply bytes than the server keeps (1 MiB each), a few in flight at a time, from another identity.
        using var flooder = Connect(server.Endpoint!);
        var replies = (int)(AtMostOnce.MaxBytes / large.Length) + 16;
        const int Window = 4;
        for (var sent = 0; sent < replies; sent += Window)
        {
            for (var i = 0; i < Window; i++)
            {
                Send(flooder, (ulong)(sent + i + 1), "x", "large", identity: 0x66);
            }

            for (var i = 0; i < Window; i++)
            {
                Assert.Equal("200", Receive(flooder).Status);
            }
        }

        // The victim reconnects and repeats: its remembered reply, not 520 (answered, reply no longer kept).
        using var again = Connect(server.Endpoint!);
        Send(again, 42, "10 EUR");
        Assert.Equal(("200", "paid 10 EUR (run 1)"), Receive(again));
        Assert.Equal(1, Volatile.Read(ref runs));
        await canary.AssertUnharmedAsync();
    }
}
