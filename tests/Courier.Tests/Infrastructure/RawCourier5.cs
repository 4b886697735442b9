using System.Text;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Infrastructure;

/// <summary>
/// courier/5 requests written by hand from docs/protocol.md §8, on a plain DEALER: a test chooses the client identity
/// and the request id, so it can repeat a request exactly as a client that reconnected would.
/// </summary>
internal static class RawCourier5
{
    /// <summary>
    /// A request of the client whose 16 identity bytes are all <paramref name="identity"/>, saying it is
    /// <paramref name="attempt"/>, with <paramref name="flags"/> (bit 2: a 503 should name its attempt).
    /// </summary>
    public static void Send(DealerSocket socket, ulong id, string body, string service = "pay", byte identity = 0x77, byte attempt = 1, byte flags = 0)
    {
        var frame = new byte[38 + service.Length];
        "CURC05"u8.CopyTo(frame);
        frame[6] = 0x01;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(7), id);
        frame.AsSpan(15, 16).Fill(identity);
        frame[31] = attempt;
        frame[32] = flags;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(33), 30_000);
        frame[37] = (byte)service.Length;
        Encoding.ASCII.GetBytes(service).CopyTo(frame.AsSpan(38));
        socket.SendMoreFrameEmpty().SendMoreFrame(frame).SendFrame(body);
    }

    /// <summary>A CANCEL for request <paramref name="id"/> of the client whose 16 identity bytes are all <paramref name="identity"/>.</summary>
    public static void SendCancel(DealerSocket socket, ulong id, byte identity = 0x77)
    {
        var frame = new byte[31];
        "CURC05"u8.CopyTo(frame);
        frame[6] = 0x03;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(7), id);
        frame.AsSpan(15, 16).Fill(identity);
        socket.SendMoreFrameEmpty().SendFrame(frame);
    }

    /// <summary>The next reply's status and body.</summary>
    public static (string Status, string Body) Receive(DealerSocket socket)
    {
        var frames = new List<byte[]>();
        Assert.True(socket.TryReceiveMultipartBytes(TimeSpan.FromSeconds(20), ref frames!));
        return (IdAndStatus(frames[1]).Status, Encoding.UTF8.GetString(frames[2]));
    }

    /// <summary>
    /// A reply header's request id and status, in either form a courier/5 client reads: <c>"CURC02"</c> (a reply
    /// without headers) or <c>"CURC05"</c>, 0x02 (one with headers, as a 503 that names its attempt).
    /// </summary>
    public static (ulong Id, string Status) IdAndStatus(byte[] header)
    {
        var at = header.AsSpan().StartsWith("CURC05"u8) ? 7 : 6;
        return (System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(header.AsSpan(at)), Encoding.ASCII.GetString(header, at + 8, 3));
    }
}
