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
    /// <summary>Flags bit 2: the client reads a 503 that names its attempt (every Courier client sets it).</summary>
    private const byte AsksAttempt = 0x04;

    [Fact]
    public async Task A_refusal_naming_an_earlier_attempt_leaves_the_request_where_its_resend_may_run()
    {
        using var server = RawServer.Bind(out var endpoint);
        await using var client = TestServer.Client(endpoint, o => o with { Timeout = TimeSpan.FromSeconds(4), Retries = 5 });
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
        await using var client = TestServer.Client(endpoint, o => o with { Timeout = TimeSpan.FromSeconds(4), Retries = 5 });
        var call = client.RequestAsync("pay", "10 EUR");
        var (first, id) = ResentOnce(server, "courier/5");

        Reply5(server, first, id, "503", "stopping", Header("courier-attempt", "2"));
        var (onRefusing, elsewhere) = ServeElsewhere(server, call, "courier/5", first, TimeSpan.FromSeconds(20));
        Assert.True(onRefusing == 0, "sent again to the peer that refused it");
        Assert.Equal(1, elsewhere);
        Assert.Equal("paid", (await call.WaitAsync(TimeSpan.FromSeconds(5))).BodyText);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_Courier_client_asks_for_the_attempt_in_its_refusals(bool idempotent)
    {
        using var server = RawServer.Bind(out var endpoint);
        await using var client = TestServer.Client(endpoint);
        _ = client.RequestAsync("pay", "10 EUR", Client.CourierRequestOptions.Default with { Idempotent = idempotent });

        var request = Receive(server);
        while (IsNegotiation(request))
        {
            RawServer.AnswerProbe(server, request[0], "courier/5", Before);
            request = Receive(server);
        }

        // Alone ("CURC05", 0x01: flags after id, client and attempt) or a record of a batch (its meta: attempt, flags).
        var flags = BatchFrames.Is(request[2], 0x05) ? BatchFrames.RecordMetas(request[2])[0][1] : request[2][32];
        Assert.Equal(AsksAttempt, flags & AsksAttempt);
        Assert.Equal(idempotent ? 1 : 0, flags & 1);
    }

    [Fact]
    public async Task A_server_that_refuses_a_courier5_request_names_the_attempt_it_refuses()
    {
        var (refused, answered) = await RefusedWhileBusyAsync(asksAttempt: true);
        Assert.Equal("503", Status(refused));
        Assert.Equal("3", ReplyHeader(refused[1], "courier-attempt"));
        Assert.Equal("200", Status(answered));
        Assert.Null(ReplyHeader(answered[1], "courier-attempt"));
    }

    [Fact]
    public async Task A_503_to_a_client_that_did_not_ask_for_the_attempt_keeps_the_short_form()
    {
        // A courier/5 client of someone else's, written when error replies had only the short form.
        var (refused, _) = await RefusedWhileBusyAsync(asksAttempt: false);
        Assert.Equal("503", Status(refused));
        Assert.Equal("CURC02", System.Text.Encoding.ASCII.GetString(refused[1], 0, 6));
    }

    /// <summary>
    /// A server of one handler and no queue, that handler held by request 1: request 2 (attempt 3) is refused 503, busy.
    /// That refusal, then request 1's answer once the handler is let go.
    /// </summary>
    private static async Task<(List<byte[]> Refused, List<byte[]> Answered)> RefusedWhileBusyAsync(bool asksAttempt)
    {
        using var release = new SemaphoreSlim(0);
        await using var server = await StartBusyServerAsync(release);
        using var dealer = new DealerSocket();
        dealer.Connect(server.Endpoint!);

        Send5(dealer, 1, attempt: 1, expected: null);
        await Poll.UntilAsync(() => server.InFlight == 1, TimeSpan.FromSeconds(20), "the first request running");
        Send5(dealer, 2, attempt: 3, expected: null, asksAttempt: asksAttempt);
        var refused = Receive(dealer);
        release.Release();
        return (refused, Receive(dealer));
    }

    [Fact]
    public async Task A_503_to_a_record_of_a_courier5_batch_comes_alone_and_names_its_attempt()
    {
        using var release = new SemaphoreSlim(0);
        await using var server = await StartBusyServerAsync(release);
        using var dealer = TestDealer.Connect(server.Endpoint!);

        // Three records in one batch, as a Courier client packs them: the first takes the one handler, the others are
        // refused, each in a reply of its own that names attempt 1 (what each record's meta says).
        dealer.SendMoreFrameEmpty().SendFrame(BatchFrames.BuildClient5(AsksAttempt, [(1, "pay", "a"), (2, "pay", "b"), (3, "pay", "c")]));
        var refused = new Dictionary<ulong, string?>();
        for (var i = 0; i < 2; i++)
        {
            var frames = Receive(dealer);
            var (id, status) = RawCourier5.IdAndStatus(frames[1]);
            Assert.Equal("503", status);
            refused[id] = ReplyHeader(frames[1], "courier-attempt");
        }

        Assert.Equal(new Dictionary<ulong, string?> { [2] = "1", [3] = "1" }, refused);
        release.Release();
    }

    /// <summary>A server of one handler and no queue, whose handler for 'pay' answers "paid" once let go.</summary>
    private static Task<Server.CourierServer> StartBusyServerAsync(SemaphoreSlim release)
        => TestServer.StartAsync(
            o => o with { MaxConcurrency = 1, MaxQueuedRequests = 0 },
            s => s.Map("pay", async (request, cancellationToken) =>
            {
                await release.WaitAsync(cancellationToken);
                return CourierBody.Text("paid");
            }));

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
        RawCourier5.Send(socket, 2, "waiting", flags: AsksAttempt);
        RawCourier5.Send(socket, 2, "waiting", attempt: 2, flags: AsksAttempt);
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
        // No grace period's end: a request for a service nobody serves would be answered 404 after it.
        await using var broker = await TestBroker.StartAsync(o => o with { MaxQueuedPerService = 1, ServiceGracePeriod = Timeout.InfiniteTimeSpan });
        using var socket = TestDealer.Connect(broker.Endpoint!);

        // No worker serves 'pay': one request waits in its queue, and the other is refused 503, queue full.
        RawCourier5.Send(socket, 1, "first", attempt: 4, flags: AsksAttempt);
        RawCourier5.Send(socket, 2, "second", attempt: 7, flags: AsksAttempt);
        var frames = new List<byte[]>();
        Assert.True(socket.TryReceiveMultipartBytes(TimeSpan.FromSeconds(20), ref frames!), "nothing refused");
        var (id, status) = RawCourier5.IdAndStatus(frames[1]);
        Assert.Equal("503", status);
        Assert.Equal(id == 1 ? "4" : "7", ReplyHeader(frames[1], "courier-attempt"));
    }
}
