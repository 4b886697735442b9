using System.Buffers.Binary;
using System.Text;
using Courier.Client;
using Courier.Protocol;
using Courier.Server;
using Courier.Tests.Infrastructure;
using NetMQ;
using NetMQ.Sockets;

using static Courier.Tests.Infrastructure.RawCourier;

namespace Courier.Tests.Integration;

/// <summary>
/// libzmq redials a dropped connection by itself, and the client may not notice: the peer it reaches then may be a
/// restarted one (or another behind a proxy) that has no memory of what was sent before (docs/protocol.md §2, Negotiation;
/// Delivery guarantees).
/// </summary>
public sealed class PeerIncarnationTests
{
    private static readonly byte[] After = [2, 2, 2, 2, 2, 2, 2, 2];

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_request_outstanding_when_its_peer_restarts_is_sent_again_only_if_idempotent(bool idempotent)
    {
        var first = RawServer.Bind(out var endpoint);
        await using var client = TestServer.Client(endpoint, o => o with { Timeout = TimeSpan.FromSeconds(1), Retries = 5 });
        var call = client.RequestAsync("pay", "10 EUR", CourierRequestOptions.Default with { Idempotent = idempotent });

        var request = Receive(first);
        while (IsNegotiation(request))
        {
            // Answered as often as asked (a transport may send it again as its connection completes).
            RawServer.AnswerProbe(first, request[0], "courier/3", Before);
            request = Receive(first);
        }

        Assert.Equal("pay", Encoding.ASCII.GetString(request[2].AsSpan(14)));

        // The peer restarts on the same port, having run the request or not: nobody can say.
        first.Dispose();
        using var second = new RouterSocket();
        second.Options.Linger = TimeSpan.Zero;
        await Poll.UntilAsync(() =>
        {
            try
            {
                second.Bind(endpoint); // once the first socket has let the port go
                return true;
            }
            catch (AddressAlreadyInUseException)
            {
                return false;
            }
        }, what: "the port free again");

        // At the attempt's timeout the client probes the connection (redialled by libzmq meanwhile): the new peer
        // answers as another incarnation.
        var liveness = Receive(second);
        var seen = new List<string>();
        while (!IsProbe(liveness))
        {
            seen.Add(Encoding.ASCII.GetString(liveness[2].AsSpan(14)));
            liveness = Receive(second);
        }

        var answer = new byte[17];
        liveness[2].AsSpan(0, 14).CopyTo(answer);
        "200"u8.CopyTo(answer.AsSpan(14));
        second.SendMultipartMessage(new NetMQMessage([new NetMQFrame(liveness[0]), NetMQFrame.Empty, new NetMQFrame(answer), new NetMQFrame("courier/3"u8.ToArray()), new NetMQFrame(After)]));

        if (idempotent)
        {
            // Safe to repeat: it goes to the new peer (on a fresh connection: the redialled one is retired), which answers it.
            var again = Receive(second);
            while (IsProbe(again) || IsNegotiation(again))
            {
                if (IsNegotiation(again))
                {
                    RawServer.AnswerProbe(second, again[0], "courier/3", After);
                }

                again = Receive(second);
            }

            var reply = new byte[17];
            again[2].AsSpan(0, 14).CopyTo(reply);
            "200"u8.CopyTo(reply.AsSpan(14));
            second.SendMultipartMessage(new NetMQMessage([new NetMQFrame(again[0]), NetMQFrame.Empty, new NetMQFrame(reply), new NetMQFrame("paid"u8.ToArray())]));
            Assert.Equal("paid", (await call.WaitAsync(TimeSpan.FromSeconds(20))).BodyText);
            return;
        }

        // At most once: never sent to the new peer, and its caller told that it may or may not have run.
        await Assert.ThrowsAsync<CourierOutcomeUnknownException>(() => call.WaitAsync(TimeSpan.FromSeconds(20)));
        var frames = new List<byte[]>();
        while (second.TryReceiveMultipartBytes(TimeSpan.FromSeconds(1), ref frames!))
        {
            if (!IsProbe(frames) && !IsNegotiation(frames))
            {
                seen.Add(Encoding.ASCII.GetString(frames[2].AsSpan(14)));
            }
        }

        Assert.Empty(seen);
    }

    [Fact]
    public async Task An_at_most_once_resend_held_for_a_probe_names_the_incarnation_that_answered_it()
    {
        using var server = RawServer.Bind(out var endpoint);
        await using var client = TestServer.Client(endpoint, o => o with { Timeout = TimeSpan.FromSeconds(3), Retries = 5 });
        // A caller's courier-incarnation (passed on from a request a handler got, say) is never sent: only the client's own.
        var call = client.RequestAsync("pay", "10 EUR", CourierRequestOptions.Default with { Headers = new CourierHeaders().Add("courier-incarnation", "0123456789abcdef") });

        var request = Receive(server);
        while (IsNegotiation(request))
        {
            RawServer.AnswerProbe(server, request[0], "courier/5", Before);
            request = Receive(server);
        }

        Assert.Null(ExpectedIncarnation(request[2])); // a first attempt names none

        // Unanswered: at the attempt's timeout the client probes; the same incarnation answers, and the resend names it.
        AnswerNextProbe(server, Before);
        var resend = Receive(server);
        while (IsProbe(resend))
        {
            resend = Receive(server);
        }

        Assert.Equal(Convert.ToHexStringLower(Before), ExpectedIncarnation(resend[2]));
        var reply = new byte[17];
        "CURC02"u8.CopyTo(reply);
        resend[2].AsSpan(7, 8).CopyTo(reply.AsSpan(6));
        "200"u8.CopyTo(reply.AsSpan(14));
        server.SendMultipartMessage(new NetMQMessage([new NetMQFrame(resend[0]), NetMQFrame.Empty, new NetMQFrame(reply), new NetMQFrame("paid"u8.ToArray())]));
        Assert.Equal("paid", (await call.WaitAsync(TimeSpan.FromSeconds(20))).BodyText);
    }

    [Fact]
    public async Task A_held_resend_refused_in_the_turn_that_releases_it_never_leaves_on_the_refusing_connection()
    {
        // courier/3: each copy of a request is run and answered, so that a refusal coming after a resend is the first
        // copy's (below), and whichever way the two messages fall, the request may go out once more, not twice.
        using var server = RawServer.Bind(out var endpoint);
        await using var client = TestServer.Client(endpoint, o => o with { Timeout = TimeSpan.FromSeconds(2), Retries = 5 });
        var call = client.RequestAsync("pay", "10 EUR");
        var (first, id) = FirstAttempt(server, "courier/3");

        // Unanswered: at the attempt's timeout the client probes and holds the resend for the answer. The answer (the
        // same incarnation: the resend is packed) and a 503 for the first attempt (the request detached, to be tried
        // elsewhere) come back to back, so that the client reads both in one turn, before the packed resend leaves.
        AnswerNextProbe(server, Before, "courier/3");
        Reply(server, first, id, "503", "busy");

        // Tried elsewhere, it never leaves on the refusing connection too, where it could run as well. (Should the two
        // fall in two turns, the resend leaves first, and the refusal, the first copy's, moves nothing.)
        var (onRefusing, elsewhere) = ServeElsewhere(server, call, "courier/3", first, TimeSpan.FromSeconds(30));
        Assert.True(onRefusing == 0 || elsewhere == 0, $"sent again on the refusing connection ({onRefusing}) and elsewhere ({elsewhere})");
        Assert.True(call.IsCompleted, "the call never ended");
    }

    [Fact]
    public async Task A_refusal_that_comes_after_a_resend_to_a_courier3_peer_does_not_send_the_request_elsewhere_too()
    {
        using var server = RawServer.Bind(out var endpoint);
        await using var client = TestServer.Client(endpoint, o => o with { Timeout = TimeSpan.FromSeconds(2), Retries = 5 });
        var call = client.RequestAsync("pay", "10 EUR");
        var (first, id) = ResentOnce(server, "courier/3");

        // Only now a 503. A courier/3 peer runs and answers each copy, and a reply names no attempt: the first copy's,
        // say, while the resend may still run here. So the request is not sent elsewhere as well: the next the peer hears
        // is the probe at the resend's timeout, on this connection.
        Reply(server, first, id, "503", "busy");
        await StaysForTheResendsAnswerAsync(server, first, id, call);
    }

    [Fact]
    public async Task A_refusal_that_comes_after_a_resend_to_a_courier5_peer_sends_the_request_elsewhere()
    {
        using var server = RawServer.Bind(out var endpoint);
        await using var client = TestServer.Client(endpoint, o => o with { Timeout = TimeSpan.FromSeconds(2), Retries = 5 });
        var call = client.RequestAsync("pay", "10 EUR");
        var (first, id) = ResentOnce(server, "courier/5");

        // From courier/5 on the resend joined the run in progress, and its one reply answers both copies: a 503 (a stopping
        // peer refusing what still waited for a handler) means neither ran, and the request goes on at once, elsewhere.
        Reply(server, first, id, "503", "stopping");
        var (onRefusing, _) = ServeElsewhere(server, call, "courier/5", first, TimeSpan.FromSeconds(20));
        Assert.True(onRefusing == 0, "sent again to the peer that refused it");
        Assert.Equal("paid", (await call.WaitAsync(TimeSpan.FromSeconds(5))).BodyText);
    }

    [Fact]
    public async Task An_at_most_once_request_whose_headers_leave_no_room_for_the_incarnation_is_not_resent_unchecked()
    {
        using var server = RawServer.Bind(out var endpoint);
        await using var client = TestServer.Client(endpoint, o => o with { Timeout = TimeSpan.FromSeconds(3), Retries = 5 });
        var full = new CourierHeaders();
        for (var i = 0; i < CourierHeaders.MaxCount; i++)
        {
            full.Add("k" + i, "v");
        }

        var call = client.RequestAsync("pay", "10 EUR", CourierRequestOptions.Default with { Headers = full });
        var request = Receive(server);
        while (IsNegotiation(request))
        {
            RawServer.AnswerProbe(server, request[0], "courier/5", Before);
            request = Receive(server);
        }

        // Unanswered; the probe at its timeout is answered by the same incarnation, but a 65th entry would pass the bound.
        AnswerNextProbe(server, Before);

        var error = await Assert.ThrowsAsync<CourierOutcomeUnknownException>(() => call.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains("no room", error.Message, StringComparison.Ordinal);
        var frames = new List<byte[]>();
        while (server.TryReceiveMultipartBytes(TimeSpan.FromSeconds(1), ref frames!))
        {
            Assert.True(IsProbe(frames) || IsNegotiation(frames), "a resend went out");
        }
    }

    [Theory]
    [InlineData("server")]
    [InlineData("broker")]
    public async Task A_resend_naming_another_incarnation_is_answered_520_and_never_runs(string topology)
    {
        var runs = 0;
        CourierHandler pay = (_, _) =>
        {
            Interlocked.Increment(ref runs);
            return ValueTask.FromResult(CourierBody.Text("paid"));
        };
        await using var server = topology == "server" ? await TestServer.StartAsync(map: s => s.Map("pay", pay)) : null;
        await using var broker = topology == "broker" ? await TestBroker.StartAsync() : null;
        await using var worker = broker is null ? null : await TestBroker.StartWorkerAsync(broker.Endpoint!, "w", service: "pay", handler: pay);
        using var dealer = TestDealer.Connect(server?.Endpoint ?? broker!.Endpoint!);

        // Its own incarnation, as any client learns it: the 8/MMI version query's answer.
        dealer.SendMultipartMessage(new NetMQMessage([NetMQFrame.Empty, new NetMQFrame("MDPC01"u8.ToArray()), new NetMQFrame("mmi.courier"u8.ToArray()), new NetMQFrame("courier/5"u8.ToArray())]));
        var own = Receive(dealer)[^1];
        Assert.Equal(8, own.Length);
        var other = (byte[])own.Clone();
        other[7] ^= 1;
        if (worker is not null)
        {
            await Poll.UntilAsync(() =>
            {
                Send5(dealer, 1, attempt: 1, expected: null);
                return Status(Receive(dealer)) == "200";
            }, what: "the worker registered");
        }

        var before = Volatile.Read(ref runs);
        Send5(dealer, 7, attempt: 2, expected: other);
        var refused = Receive(dealer);
        Assert.Equal("520", Status(refused));
        Assert.Contains("another incarnation", Encoding.UTF8.GetString(refused[^1]), StringComparison.Ordinal);

        Send5(dealer, 8, attempt: 2, expected: own);
        Assert.Equal("200", Status(Receive(dealer)));
        Assert.Equal(before + 1, Volatile.Read(ref runs)); // request 8 ran; request 7 never did

        // What the peer remembers comes first: a repeat of request 8 naming another incarnation gets its reply, not 520.
        Send5(dealer, 8, attempt: 3, expected: other);
        Assert.Equal("200", Status(Receive(dealer)));
        // An idempotent request may run again anywhere: not checked.
        Send5(dealer, 9, attempt: 2, expected: other, idempotent: true);
        Assert.Equal("200", Status(Receive(dealer)));
        Assert.Equal(before + 2, Volatile.Read(ref runs));
    }

    /// <summary>The <c>courier-incarnation</c> value of a courier/5 request's header frame, or null.</summary>
    private static string? ExpectedIncarnation(byte[] frame)
    {
        Assert.Equal("CURC05", Encoding.ASCII.GetString(frame, 0, 6));
        var at = 38 + frame[37];
        while (at < frame.Length)
        {
            var key = Encoding.ASCII.GetString(frame, at + 1, frame[at]);
            var length = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(at + 1 + frame[at]));
            var value = Encoding.UTF8.GetString(frame, at + 3 + frame[at], length);
            if (key == "courier-incarnation")
            {
                return value;
            }

            at += 3 + frame[at] + length;
        }

        return null;
    }

}
