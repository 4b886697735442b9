using System.Buffers.Binary;
using System.Text;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Infrastructure;

/// <summary>
/// A Courier peer's side of the wire by hand (a raw ROUTER or DEALER of the test's): negotiations answered as a chosen
/// version, requests read and answered, courier/5 requests written, for tests of what a client or server does with
/// what no well-behaved peer would send in that order.
/// </summary>
public static class RawCourier
{
    /// <summary>The peer incarnation these helpers answer as.</summary>
    public static readonly byte[] Before = [1, 1, 1, 1, 1, 1, 1, 1];

    /// <summary>
    /// Until <paramref name="call"/> ends (or <paramref name="within"/> passes): fresh connections negotiated as
    /// <paramref name="version"/> and their requests answered "paid"; what comes on <paramref name="refusing"/> counted,
    /// never answered (its probes neither). How many of the request's copies came there, and elsewhere.
    /// </summary>
    public static (int OnRefusing, int Elsewhere) ServeElsewhere(RouterSocket server, Task call, string version, byte[] refusing, TimeSpan within)
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
    public static (byte[] Identity, ulong Id) ResentOnce(RouterSocket server, string version)
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
    public static (byte[] Identity, ulong Id) FirstAttempt(RouterSocket server, string version)
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
    public static ulong IdOf(List<byte[]> request) => BinaryPrimitives.ReadUInt64BigEndian(request[2].AsSpan(request[2].AsSpan().StartsWith("CURC05"u8) ? 7 : 6));

    public static void Reply(RouterSocket server, byte[] identity, ulong id, string status, string body)
    {
        var header = new byte[17];
        "CURC02"u8.CopyTo(header);
        BinaryPrimitives.WriteUInt64BigEndian(header.AsSpan(6), id);
        Encoding.ASCII.GetBytes(status).CopyTo(header, 14);
        server.SendMultipartMessage(new NetMQMessage([new NetMQFrame(identity), NetMQFrame.Empty, new NetMQFrame(header), new NetMQFrame(Encoding.ASCII.GetBytes(body))]));
    }

    /// <summary>A courier/5 request for 'pay' (docs/protocol.md §8), at-most-once, naming <paramref name="expected"/> in <c>courier-incarnation</c>.</summary>
    public static void Send5(DealerSocket dealer, ulong id, byte attempt, byte[]? expected, bool idempotent = false, bool asksAttempt = false)
    {
        var headers = expected is null ? [] : Header("courier-incarnation", Convert.ToHexStringLower(expected));
        var frame = new byte[38 + 3 + headers.Length];
        "CURC05"u8.CopyTo(frame);
        frame[6] = 0x01;
        BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(7), id);
        frame.AsSpan(15, 16).Fill(0x42);
        frame[31] = attempt;
        frame[32] = (byte)((idempotent ? 1 : 0) | (asksAttempt ? 4 : 0));
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(33), 30_000);
        frame[37] = 3;
        "pay"u8.CopyTo(frame.AsSpan(38));
        headers.CopyTo(frame, 41);
        dealer.SendMultipartMessage(new NetMQMessage([NetMQFrame.Empty, new NetMQFrame(frame), new NetMQFrame("10 EUR"u8.ToArray())]));
    }

    public static byte[] Header(string key, string value)
    {
        var entry = new byte[3 + key.Length + value.Length];
        entry[0] = (byte)key.Length;
        Encoding.ASCII.GetBytes(key).CopyTo(entry, 1);
        BinaryPrimitives.WriteUInt16BigEndian(entry.AsSpan(1 + key.Length), (ushort)value.Length);
        Encoding.ASCII.GetBytes(value).CopyTo(entry, 3 + key.Length);
        return entry;
    }

    /// <summary>The status of a reply to a courier/5 request: after "CURC02" and the id, or "CURC05", 0x02 and the id.</summary>
    public static string Status(List<byte[]> reply) => RawCourier5.IdAndStatus(reply[1]).Status;

    /// <summary>Skips what comes before the client's next liveness probe, and answers it as courier/5 of <paramref name="incarnation"/>.</summary>
    public static void AnswerNextProbe(RouterSocket server, byte[] incarnation, string version = "courier/5")
    {
        var probe = Receive(server);
        while (!IsProbe(probe))
        {
            probe = Receive(server);
        }

        RawServer.AnswerLiveness(server, probe, version, incarnation);
    }

    public static bool IsNegotiation(List<byte[]> frames) => frames.Count >= 3 && frames[2].AsSpan().SequenceEqual("MDPC01"u8);

    public static bool IsProbe(List<byte[]> frames)
        => frames.Count >= 3 && frames[2].Length >= 14 && BinaryPrimitives.ReadUInt64BigEndian(frames[2].AsSpan(6)) >= 1UL << 63;

    public static List<byte[]> Receive(NetMQSocket socket)
    {
        var frames = new List<byte[]>();
        Assert.True(socket.TryReceiveMultipartBytes(TimeSpan.FromSeconds(20), ref frames!), "nothing received");
        return frames;
    }

    /// <summary>A courier/5 reply with headers (<c>"CURC05"</c>, 0x02, the id, the status, the header block), then <paramref name="body"/>.</summary>
    public static void Reply5(RouterSocket server, byte[] identity, ulong id, string status, string body, byte[] headers)
    {
        var header = new byte[18 + headers.Length];
        "CURC05"u8.CopyTo(header);
        header[6] = 0x02;
        BinaryPrimitives.WriteUInt64BigEndian(header.AsSpan(7), id);
        Encoding.ASCII.GetBytes(status).CopyTo(header, 15);
        headers.CopyTo(header, 18);
        server.SendMultipartMessage(new NetMQMessage([new NetMQFrame(identity), NetMQFrame.Empty, new NetMQFrame(header), new NetMQFrame(Encoding.ASCII.GetBytes(body))]));
    }

    /// <summary>The value of header <paramref name="key"/> in a courier/5 reply's header frame (after its 18 fixed bytes); null when absent, or not such a reply.</summary>
    public static string? ReplyHeader(byte[] frame, string key)
        => frame.Length >= 18 && frame.AsSpan(0, 6).SequenceEqual("CURC05"u8)
            && Protocol.CourierHeaders.Decode(frame.AsSpan(18)).TryGetValue(key, out var value)
            ? value
            : null;

    /// <summary>
    /// After a refusal the client should not act on: the next the peer hears on <paramref name="connection"/> is the probe
    /// at the resend's timeout (nothing elsewhere), and the answer "paid" sent then ends <paramref name="call"/> with it.
    /// </summary>
    public static async Task StaysForTheResendsAnswerAsync(RouterSocket server, byte[] connection, ulong id, Task<Client.CourierReply> call)
    {
        var next = Receive(server);
        Assert.True(next[0].AsSpan().SequenceEqual(connection) && IsProbe(next), "the request went elsewhere after the refusal");

        Reply(server, connection, id, "200", "paid");
        Assert.Equal("paid", (await call.WaitAsync(TimeSpan.FromSeconds(20))).BodyText);
    }
}
