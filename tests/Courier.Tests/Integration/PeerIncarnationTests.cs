using System.Buffers.Binary;
using System.Text;
using Courier.Client;
using Courier.Protocol;
using Courier.Server;
using Courier.Tests.Infrastructure;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Integration;

/// <summary>
/// libzmq redials a dropped connection by itself, and the client may not notice: the peer it reaches then may be a
/// restarted one (or another behind a proxy) that has no memory of what was sent before (docs/protocol.md §2, Negotiation;
/// Delivery guarantees).
/// </summary>
public sealed class PeerIncarnationTests
{
    private static readonly byte[] Before = [1, 1, 1, 1, 1, 1, 1, 1];
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
        var next = Receive(server);
        Assert.True(next[0].AsSpan().SequenceEqual(first) && IsProbe(next), "the request went elsewhere after the refusal");

        Reply(server, first, id, "200", "paid");
        Assert.Equal("paid", (await call.WaitAsync(TimeSpan.FromSeconds(20))).BodyText);
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

    /// <summary>
    /// Until <paramref name="call"/> ends (or <paramref name="within"/> passes): fresh connections negotiated as
    /// <paramref name="version"/> and their requests answered "paid"; what comes on <paramref name="refusing"/> counted,
    /// never answered (its probes neither). How many of the request's copies came there, and elsewhere.
    /// </summary>
    private static (int OnRefusing, int Elsewhere) ServeElsewhere(RouterSocket server, Task call, string version, byte[] refusing, TimeSpan within)
    {
        var (onRefusing, elsewhere) = (0, 0);
        var frames = new List<byte[]>();
        var until = DateTime.UtcNow + within;
        while (!call.IsCompleted && DateTime.UtcNow < until)
        {
            if (!server.TryReceiveMultipartBytes(TimeSpan.FromMilliseconds(100), ref frames!) || IsProbe(frames))
            {
                continue;
            }

            if (IsNegotiation(frames))
            {
                RawServer.AnswerProbe(server, frames[0], version, Before);
            }
            else if (frames[0].AsSpan().SequenceEqual(refusing))
            {
                onRefusing++;
            }
            else
            {
                elsewhere++;
                Reply(server, frames[0], IdOf(frames), "200", "paid");
            }
        }

        return (onRefusing, elsewhere);
    }

    /// <summary>
    /// <see cref="FirstAttempt"/>, left unanswered; the probe at the attempt's timeout answered by the same incarnation,
    /// and the resend that follows on the same connection received.
    /// </summary>
    private static (byte[] Identity, ulong Id) ResentOnce(RouterSocket server, string version)
    {
        var (identity, id) = FirstAttempt(server, version);
        AnswerNextProbe(server, Before, version);
        var resend = Receive(server);
        while (IsProbe(resend))
        {
            resend = Receive(server);
        }

        Assert.Equal(id, IdOf(resend));
        Assert.Equal(identity, resend[0]);
        return (identity, id);
    }

    /// <summary>Answers the negotiation as <paramref name="version"/> of <see cref="Before"/>; the client's connection and the id of its first request.</summary>
    private static (byte[] Identity, ulong Id) FirstAttempt(RouterSocket server, string version)
    {
        var request = Receive(server);
        while (IsNegotiation(request))
        {
            RawServer.AnswerProbe(server, request[0], version, Before);
            request = Receive(server);
        }

        return (request[0], IdOf(request));
    }

    /// <summary>The id of a courier/5 request (after "CURC05" and its kind) or a courier/3 one (after "CURC02").</summary>
    private static ulong IdOf(List<byte[]> request) => BinaryPrimitives.ReadUInt64BigEndian(request[2].AsSpan(request[2].AsSpan().StartsWith("CURC05"u8) ? 7 : 6));

    private static void Reply(RouterSocket server, byte[] identity, ulong id, string status, string body)
    {
        var header = new byte[17];
        "CURC02"u8.CopyTo(header);
        BinaryPrimitives.WriteUInt64BigEndian(header.AsSpan(6), id);
        Encoding.ASCII.GetBytes(status).CopyTo(header, 14);
        server.SendMultipartMessage(new NetMQMessage([new NetMQFrame(identity), NetMQFrame.Empty, new NetMQFrame(header), new NetMQFrame(Encoding.ASCII.GetBytes(body))]));
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

    /// <summary>A courier/5 request for 'pay' (docs/protocol.md §8), at-most-once, naming <paramref name="expected"/> in <c>courier-incarnation</c>.</summary>
    private static void Send5(DealerSocket dealer, ulong id, byte attempt, byte[]? expected, bool idempotent = false)
    {
        var headers = expected is null ? [] : Header("courier-incarnation", Convert.ToHexStringLower(expected));
        var frame = new byte[38 + 3 + headers.Length];
        "CURC05"u8.CopyTo(frame);
        frame[6] = 0x01;
        BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(7), id);
        frame.AsSpan(15, 16).Fill(0x42);
        frame[31] = attempt;
        frame[32] = idempotent ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(33), 30_000);
        frame[37] = 3;
        "pay"u8.CopyTo(frame.AsSpan(38));
        headers.CopyTo(frame, 41);
        dealer.SendMultipartMessage(new NetMQMessage([NetMQFrame.Empty, new NetMQFrame(frame), new NetMQFrame("10 EUR"u8.ToArray())]));
    }

    private static byte[] Header(string key, string value)
    {
        var entry = new byte[3 + key.Length + value.Length];
        entry[0] = (byte)key.Length;
        Encoding.ASCII.GetBytes(key).CopyTo(entry, 1);
        BinaryPrimitives.WriteUInt16BigEndian(entry.AsSpan(1 + key.Length), (ushort)value.Length);
        Encoding.ASCII.GetBytes(value).CopyTo(entry, 3 + key.Length);
        return entry;
    }

    /// <summary>The status of a reply to a courier/5 request: after "CURC02" and the id, or "CURC05", 0x02 and the id.</summary>
    private static string Status(List<byte[]> reply)
        => Encoding.ASCII.GetString(reply[1], reply[1].AsSpan(0, 6).SequenceEqual("CURC05"u8) ? 15 : 14, 3);

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

    /// <summary>Skips what comes before the client's next liveness probe, and answers it as courier/5 of <paramref name="incarnation"/>.</summary>
    private static void AnswerNextProbe(RouterSocket server, byte[] incarnation, string version = "courier/5")
    {
        var probe = Receive(server);
        while (!IsProbe(probe))
        {
            probe = Receive(server);
        }

        RawServer.AnswerLiveness(server, probe, version, incarnation);
    }

    private static bool IsNegotiation(List<byte[]> frames) => frames.Count >= 3 && frames[2].AsSpan().SequenceEqual("MDPC01"u8);

    private static bool IsProbe(List<byte[]> frames)
        => frames.Count >= 3 && frames[2].Length >= 14 && BinaryPrimitives.ReadUInt64BigEndian(frames[2].AsSpan(6)) >= 1UL << 63;

    private static List<byte[]> Receive(NetMQSocket socket)
    {
        var frames = new List<byte[]>();
        Assert.True(socket.TryReceiveMultipartBytes(TimeSpan.FromSeconds(20), ref frames!), "nothing received");
        return frames;
    }
}
