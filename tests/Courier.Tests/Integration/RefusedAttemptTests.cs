using Courier.Server;
using Courier.Tests.Infrastructure;
using NetMQ;
using NetMQ.Sockets;
using static Courier.Tests.Infrastructure.RawCourier;

namespace Courier.Tests.Integration;

/// <summary>
/// A 503 to a courier/5 request names the attempt it refuses (<c>courier-attempt</c>, docs/protocol.md §8). A client
/// that sent the request again on the same connection before the refusal came learns whether it refuses the copy out
/// there now, or an earlier one while the later may still run (refused as it was queued, say, just before the resend
/// came in). Before, replies named no attempt, and the client sent such a request elsewhere too: it could run twice.
/// </summary>
public sealed class RefusedAttemptTests
{
    [Fact]
    public async Task A_refusal_naming_an_earlier_attempt_leaves_the_request_where_its_resend_may_run()
    {
        using var server = RawServer.Bind(out var endpoint);
        await using var client = TestServer.Client(endpoint, o => o with { Timeout = TimeSpan.FromSeconds(2), Retries = 5 });
        var call = client.RequestAsync("pay", "10 EUR");
        var (first, id) = ResentOnce(server, "courier/5");

        // The first attempt's refusal, after the resend went out: the request stays here, waiting for the resend's answer.
        // The next the peer hears is the probe at the resend's timeout, on this connection, not a connection elsewhere.
        Reply5(server, first, id, "503", "busy", Header("courier-attempt", "1"));
        await StaysForTheResendsAnswerAsync(server, first, id, call);
    }

    [Fact]
    public async Task A_refusal_naming_the_attempt_out_now_sends_the_request_elsewhere()
    {
        using var server = RawServer.Bind(out var endpoint);
        await using var client = TestServer.Client(endpoint, o => o with { Timeout = TimeSpan.FromSeconds(2), Retries = 5 });
        var call = client.RequestAsync("pay", "10 EUR");
        var (first, id) = ResentOnce(server, "courier/5");

        Reply5(server, first, id, "503", "stopping", Header("courier-attempt", "2"));
        var (onRefusing, elsewhere) = ServeElsewhere(server, call, "courier/5", first, TimeSpan.FromSeconds(20));
        Assert.True(onRefusing == 0, "sent again to the peer that refused it");
        Assert.Equal(1, elsewhere);
        Assert.Equal("paid", (await call.WaitAsync(TimeSpan.FromSeconds(5))).BodyText);
    }

    [Fact]
    public async Task A_server_that_refuses_a_courier5_request_names_the_attempt_it_refuses()
    {
        var (refused, answered) = await RefusedWhileBusyAsync(idempotent: false);
        Assert.Equal("503", Status(refused));
        Assert.Equal("3", ReplyHeader(refused[1], "courier-attempt"));
        Assert.Equal("200", Status(answered));
        Assert.Null(ReplyHeader(answered[1], "courier-attempt"));
    }

    [Fact]
    public async Task A_503_to_an_idempotent_request_keeps_the_short_form()
    {
        var (refused, _) = await RefusedWhileBusyAsync(idempotent: true);
        Assert.Equal("503", Status(refused));
        Assert.Equal("CURC02", System.Text.Encoding.ASCII.GetString(refused[1], 0, 6));
    }

    /// <summary>
    /// A server of one handler and no queue, that handler held by request 1: request 2 (attempt 3) is refused 503, busy.
    /// That refusal, then request 1's answer once the handler is let go.
    /// </summary>
    private static async Task<(List<byte[]> Refused, List<byte[]> Answered)> RefusedWhileBusyAsync(bool idempotent)
    {
        using var release = new SemaphoreSlim(0);
        await using var server = await TestServer.StartAsync(
            o => o with { MaxConcurrency = 1, MaxQueuedRequests = 0 },
            s => s.Map("pay", async (request, cancellationToken) =>
            {
                await release.WaitAsync(cancellationToken);
                return CourierBody.Text("paid");
            }));
        using var dealer = new DealerSocket();
        dealer.Connect(server.Endpoint!);

        Send5(dealer, 1, attempt: 1, expected: null);
        await Poll.UntilAsync(() => server.InFlight == 1, TimeSpan.FromSeconds(20), "the first request running");
        Send5(dealer, 2, attempt: 3, expected: null, idempotent: idempotent);
        var refused = Receive(dealer);
        release.Release();
        return (refused, Receive(dealer));
    }

    [Fact]
    public async Task A_503_for_a_request_a_repeat_joined_names_the_repeats_attempt()
    {
        await using var server = await TestServer.StartAsync(
            o => o with { MaxConcurrency = 1, DrainTimeout = TimeSpan.FromMilliseconds(300) },
            s => s.Map("pay", async (request, token) =>
            {
                await Task.Delay(Timeout.Infinite, token); // outlives the drain: cancelled by the stop
                return CourierBody.Text("never");
            }));
        using var socket = TestDealer.Connect(server.Endpoint!);
        RawCourier5.Send(socket, 1, "running");
        await Poll.UntilAsync(() => server.InFlight == 1, TimeSpan.FromSeconds(20), "the first request holding the one handler");

        // Request 2 waits for the handler; its resend (attempt 2) joins it. When the stop's drain runs out it never ran,
        // and its one 503 answers the copy that came last, which is the attempt the client has out there now.
        RawCourier5.Send(socket, 2, "waiting");
        RawCourier5.Send(socket, 2, "waiting", attempt: 2);
        RawCourier5.Send(socket, 3, "pay", "mmi.service"); // read after both: a connection's messages are read in order
        Assert.Equal("200", RawCourier5.Receive(socket).Status);
        await server.StopAsync();

        var replies = new Dictionary<ulong, byte[]>();
        var frames = new List<byte[]>();
        while (socket.TryReceiveMultipartBytes(TimeSpan.FromSeconds(5), ref frames!))
        {
            var (id, _) = RawCourier5.IdAndStatus(frames[1]);
            Assert.True(replies.TryAdd(id, frames[1]), $"request {id} answered twice");
        }

        Assert.Equal("503", RawCourier5.IdAndStatus(replies[2]).Status);
        Assert.Equal("2", ReplyHeader(replies[2], "courier-attempt"));
        Assert.Equal("520", RawCourier5.IdAndStatus(replies[1]).Status); // it ran, cut short: no 503, no attempt named
        Assert.Null(ReplyHeader(replies[1], "courier-attempt"));
    }

    [Fact]
    public async Task A_brokers_503_for_a_full_queue_names_the_attempt_it_refuses()
    {
        await using var broker = await TestBroker.StartAsync(o => o with { MaxQueuedPerService = 1 });
        using var socket = TestDealer.Connect(broker.Endpoint!);

        // No worker serves 'pay': one request waits in its queue, and the other is refused 503, queue full.
        RawCourier5.Send(socket, 1, "first", attempt: 4);
        RawCourier5.Send(socket, 2, "second", attempt: 7);
        var frames = new List<byte[]>();
        Assert.True(socket.TryReceiveMultipartBytes(TimeSpan.FromSeconds(20), ref frames!), "nothing refused");
        var (id, status) = RawCourier5.IdAndStatus(frames[1]);
        Assert.Equal("503", status);
        Assert.Equal(id == 1 ? "4" : "7", ReplyHeader(frames[1], "courier-attempt"));
    }
}
