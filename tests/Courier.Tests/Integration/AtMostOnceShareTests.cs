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
    public Task A_client_flooding_the_server_with_answered_requests_does_not_make_another_clients_repeat_run_again() =>
        // More answered requests than the server remembers, pipelined a thousand at a time.
        AssertVictimsRepeatSurvivesAsync(CourierBody.Text("ok"), AtMostOnce.Capacity + 10_000, window: 1000);

    [Fact]
    public Task A_client_asking_for_more_reply_bytes_than_the_server_keeps_does_not_turn_another_clients_repeat_into_520() =>
        // More reply bytes than the server keeps, 1 MiB each, a few in flight at a time.
        AssertVictimsRepeatSurvivesAsync([new byte[1 << 20]], (int)(AtMostOnce.MaxBytes >> 20) + 16, window: 4);

    /// <summary>
    /// A victim is answered once; another identity (the flooder) is answered <paramref name="floods"/> times with
    /// <paramref name="reply"/>, <paramref name="window"/> in flight; the victim's repeat then gets its remembered reply
    /// (neither run again nor answered 520), and a canary sees no error.
    /// </summary>
    private static async Task AssertVictimsRepeatSurvivesAsync(IReadOnlyList<ReadOnlyMemory<byte>> reply, int floods, int window)
    {
        var runs = 0;
        await using var server = await TestServer.StartAsync(map: s => s
            .Map("pay", (request, _) =>
            {
                var run = Interlocked.Increment(ref runs);
                return ValueTask.FromResult<IReadOnlyList<ReadOnlyMemory<byte>>>(CourierBody.Text($"paid {request.BodyText} (run {run})"));
            })
            .Map("flood", (_, _) => ValueTask.FromResult(reply)));
        await using var canary = await Canary.StartAsync(server.Endpoint!);

        using var victim = TestDealer.Connect(server.Endpoint!);
        Send(victim, 42, "10 EUR");
        Assert.Equal(("200", "paid 10 EUR (run 1)"), Receive(victim));

        using var flooder = TestDealer.Connect(server.Endpoint!);
        for (var sent = 0; sent < floods; sent += window)
        {
            for (var i = 0; i < window; i++)
            {
                Send(flooder, (ulong)(sent + i + 1), "x", "flood", identity: 0x66);
            }

            for (var i = 0; i < window; i++)
            {
                Assert.Equal("200", Receive(flooder).Status);
            }
        }

        // The victim reconnects and repeats: its remembered reply, not a second run and not 520.
        using var again = TestDealer.Connect(server.Endpoint!);
        Send(again, 42, "10 EUR");
        Assert.Equal(("200", "paid 10 EUR (run 1)"), Receive(again));
        Assert.Equal(1, Volatile.Read(ref runs));
        await canary.AssertUnharmedAsync();
    }
}
