using Courier.Broker;
using Courier.Server;
using Courier.Tests.Infrastructure;
using Courier.Transport;
using Courier.Transport.Internal;
using NetMQ;

namespace Courier.Tests.Integration;

/// <summary>
/// A client that asks for large replies and never reads them holds at most <see cref="TransportOptions.MaxPendingBytesPerPeer"/>
/// of the server's or broker's memory: the high-water mark bounds messages (10,000 of them), not bytes, so 1 MiB echoes
/// once could pile up to 10 GiB for one such client.
/// </summary>
public sealed class UnreadReplyBoundTests
{
    private const long Budget = 4 * 1024 * 1024;
    private const int ReplySize = 256 * 1024;
    private const int Requests = 100; // 25 MiB of replies, six times the budget

    // What a reply adds to its body (envelope, delimiter, header), and the one message allowed past the budget.
    private const long Bound = Budget + ReplySize + 1024;

    private static TransportOptions Transport => TransportOptions.Default with { MaxPendingBytesPerPeer = Budget };

    [Fact]
    public async Task Server_holds_at_most_the_budget_for_a_client_that_never_reads_and_keeps_serving()
    {
        var logs = new RecordingLoggerFactory();
        await using var server = await TestServer.StartAsync(o => o with { LoggerFactory = logs, Transport = Transport });
        await using var canary = await Canary.StartAsync(server.Endpoint!);

        await AttackAsync(server.Endpoint!, logs, server.LargestPendingBytesAsync);

        await canary.AssertUnharmedAsync();
    }

    [Fact]
    public async Task Broker_holds_at_most_the_budget_for_a_client_that_never_reads_and_keeps_serving()
    {
        var logs = new RecordingLoggerFactory();
        await using var broker = await TestBroker.StartAsync(o => o with { LoggerFactory = logs, Transport = Transport });
        await using var worker = await TestBroker.StartWorkerAsync(broker.Endpoint!, "w1", handler: CourierServices.Echo);
        await using var canary = await Canary.StartAsync(broker.Endpoint!);

        await AttackAsync(broker.Endpoint!, logs, broker.LargestPendingBytesAsync);

        await canary.AssertUnharmedAsync();
    }

    /// <summary>
    /// A raw DEALER that reads nothing (a one-message receive queue, a small kernel buffer) asks for
    /// <see cref="Requests"/> echoes of <see cref="ReplySize"/> bytes. The most any peer has pending is sampled until the
    /// replies past the budget are refused and logged, and must stay within it; once the attacker leaves, the transport
    /// drops what it held for it and the count returns to zero (libzmq ran every free callback; NetMQ gave every buffer
    /// back).
    /// </summary>
    private static async Task AttackAsync(string endpoint, RecordingLoggerFactory logs, Func<Task<long>> largestPending)
    {
        long largest = 0;
        using (var attacker = RawCourier2.NonReader(endpoint))
        {
            var body = new byte[ReplySize];
            for (var i = 1; i <= Requests; i++)
            {
                attacker.SendMoreFrameEmpty().SendMoreFrame(RawCourier2.Header((ulong)i)).SendFrame(body);
            }

            // Sampled until several replies were refused for the budget (the default burst logs 10 one by one), or
            // until the count passes the bound.
            await Poll.UntilAsync(
                async () =>
                {
                    largest = Math.Max(largest, await largestPending());
                    return largest > Bound || logs.Messages.Count(m => m.Contains("of replies it has not read", StringComparison.Ordinal)) >= 5;
                },
                TimeSpan.FromSeconds(90),
                "replies refused for the client's unread bytes");

            Assert.True(largest <= Bound, $"{largest} bytes pending for one peer, over the bound of {Bound}");
            // That the attack filled the budget shows in the refusals (a reply is refused only when the count says the
            // budget is full), not in the sampled peak: NetMQ moves pending bytes into the kernel's socket buffer fast
            // enough that a poll every few milliseconds can miss the moment the count stood at the budget.
            Assert.True(
                logs.Messages.Count(m => m.Contains("of replies it has not read", StringComparison.Ordinal)) >= 5,
                $"no replies refused for the client's unread bytes (largest pending seen: {largest})");
        }

        await Poll.UntilAsync(async () => await largestPending() == 0, TimeSpan.FromSeconds(30), "the attacker's pending bytes released once it left");
    }
}
